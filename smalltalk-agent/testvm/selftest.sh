#!/usr/bin/env bash
# End-to-end check of the test VM: build (or reuse) the image, run echo-server.st in it
# headless, connect from bash over 127.0.0.1, send a line, expect it echoed back.
# Exit 0 only if the echo came back.   Usage: selftest.sh [OUT_DIR]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
IMAGE="$("$HERE/build-test-image.sh" "$@")"
TMP="$(mktemp -d)"
VM_PID=""
cleanup() { rc=$?; if [ -n "$VM_PID" ]; then kill "$VM_PID" 2>/dev/null || true; fi; rm -rf "$TMP"; exit "$rc"; }
trap cleanup EXIT
cp "$IMAGE" "$TMP/selftest.image"
if command -v python3 >/dev/null 2>&1; then
  PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
else
  PORT=$((20000 + RANDOM % 40000))
fi
"$HERE/run-image.sh" "$TMP/selftest.image" "$HERE/echo-server.st" "$PORT" "$TMP/ready" "$TMP/server.log" &
VM_PID=$!
for _ in $(seq 1 100); do [ -s "$TMP/ready" ] && break; sleep 0.2; done
if [ ! -s "$TMP/ready" ]; then
  echo "selftest: FAIL: server never listened"; cat "$TMP/server.log" 2>/dev/null; exit 1
fi
msg="hello hotpatch $$"
reply=""
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf '%s\n' "$msg" >&3
IFS= read -r -t 10 reply <&3 || true
exec 3<&- 3>&-
for _ in $(seq 1 50); do kill -0 "$VM_PID" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$VM_PID" 2>/dev/null; then echo "selftest: VM did not quit by itself"; fi
if [ "$reply" = "echo: $msg" ]; then
  echo "selftest: OK: '$reply' (port $PORT)"
  exit 0
fi
echo "selftest: FAIL: got '$reply'"; cat "$TMP/server.log" 2>/dev/null; exit 1
