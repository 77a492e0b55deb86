#!/usr/bin/env bash
# A minimal supervisor for a headless Smalltalk image running the hotpatch agent: starts the VM
# in the background, keeps its pid in a pidfile, stops and restarts it. Use it as the `restart`
# command of a rebuild (`restart = "examples/rebuild/supervisor.sh restart"`) on a machine
# without systemd or monit, or as monit's start/stop program.
#
#   supervisor.sh start|stop|restart|status
#
# Settings (environment):
#   APP_DIR       directory of the application (default: this script's directory)
#   APP_IMAGE     the image (default: $APP_DIR/app.image)
#   APP_SCRIPT    the start script given to the VM (default: $APP_DIR/start.st, which runs
#                 `HpAgent startFromConfig`; the agent then reads hotpatch-agent.conf beside the
#                 image: port=, token=)
#   VM            the VM (default: Debian's squeakvm); VM_ARGS (default: headless, no sound)
set -euo pipefail

APP_DIR="${APP_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
APP_IMAGE="${APP_IMAGE:-$APP_DIR/app.image}"
APP_SCRIPT="${APP_SCRIPT:-$APP_DIR/start.st}"
VM="${VM:-$(find /usr/lib/squeak -name squeakvm -type f 2>/dev/null | sort | tail -n 1)}"
VM_ARGS="${VM_ARGS:--vm-display-null -vm-sound-null}"
PIDFILE="$APP_DIR/app.pid"
LOG="$APP_DIR/app.out"

# A VM that exited but was not reaped yet (its parent, an earlier restart, is gone) is a zombie:
# `kill -0` still succeeds on it, so look at its state too.
alive() { kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != "Z" ]; }
running() { [ -f "$PIDFILE" ] && alive "$(cat "$PIDFILE")"; }

start() {
  if running; then echo "already running (pid $(cat "$PIDFILE"))"; return 0; fi
  [ -x "$VM" ] || { echo "supervisor: no VM at '$VM' (set VM=)" >&2; return 1; }
  [ -f "$APP_IMAGE" ] || { echo "supervisor: no image at $APP_IMAGE" >&2; return 1; }
  cd "$APP_DIR"
  # setsid: the VM outlives this script and the deploy job that ran it
  # shellcheck disable=SC2086
  setsid "$VM" $VM_ARGS "$APP_IMAGE" "$APP_SCRIPT" </dev/null >>"$LOG" 2>&1 &
  echo $! > "$PIDFILE"
  echo "started pid $!"
}

stop() {
  running || { rm -f "$PIDFILE"; return 0; }
  local pid; pid="$(cat "$PIDFILE")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.05; done
  alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PIDFILE"
  echo "stopped pid $pid"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) if running; then echo "running (pid $(cat "$PIDFILE"))"; else echo "stopped"; exit 3; fi ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
