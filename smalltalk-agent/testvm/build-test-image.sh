#!/usr/bin/env bash
# Build the hotpatch test image from Debian's Scratch.image (see README.md).
#
#   build-test-image.sh [OUT_DIR]      (default OUT_DIR: <repo>/target/testvm)
#
# Produces OUT_DIR/hotpatch-test.image and prints its path. Idempotent: if the image is
# already there and was built from the same inputs it is kept (FORCE=1 rebuilds).
# The one-time bootstrap drives the Scratch UI under a private Xvfb with xdotool: developer
# mode -> Squeak world menu -> workspace -> file in boot.st, which installs the start-up hook
# and saves the derived image. Everything it starts it stops; time limits and retries keep it
# usable in CI (root, no stdin, no display).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
OUT_DIR="${1:-$REPO_ROOT/target/testvm}"
ATTEMPTS="${HOTPATCH_BUILD_ATTEMPTS:-3}"
SRC_IMAGE="${SCRATCH_IMAGE:-/usr/share/scratch/Scratch.image}"

die() { echo "build-test-image: $*" >&2; exit 1; }
log() { echo "build-test-image: $*" >&2; }

# ---- prerequisites -------------------------------------------------------------------
VM="${SQUEAK_VM:-$(find /usr/lib/squeak -name squeakvm -type f 2>/dev/null | sort | tail -n 1 || true)}"
missing=()
[ -n "$VM" ] && [ -x "$VM" ] || missing+=(squeak-vm)
[ -f "$SRC_IMAGE" ] || missing+=(scratch)
command -v Xvfb >/dev/null 2>&1 || missing+=(xvfb)
command -v xdotool >/dev/null 2>&1 || missing+=(xdotool)
if [ ${#missing[@]} -gt 0 ]; then
  die "missing: ${missing[*]}. Install with:
  apt-get update && apt-get install -y --no-install-recommends squeak-vm scratch xvfb xdotool"
fi

# ---- idempotence ---------------------------------------------------------------------
OUT_IMAGE="$OUT_DIR/hotpatch-test.image"
STAMP_FILE="$OUT_DIR/hotpatch-test.stamp"
stamp="$( { sha256sum "$SRC_IMAGE" "$HERE/boot.st" "$HERE/build-test-image.sh" | cut -d' ' -f1; echo "$VM"; } | sha256sum | cut -d' ' -f1)"
if [ "${FORCE:-0}" != 1 ] && [ -s "$OUT_IMAGE" ] && [ -f "$STAMP_FILE" ] && [ "$(cat "$STAMP_FILE")" = "$stamp" ]; then
  log "up to date"
  echo "$OUT_IMAGE"
  exit 0
fi
mkdir -p "$OUT_DIR"

# ---- helpers -------------------------------------------------------------------------
WORK=""
XVFB_PID=""
VM_PID=""
cleanup() {
  if [ -n "$VM_PID" ]; then kill "$VM_PID" 2>/dev/null || true; wait "$VM_PID" 2>/dev/null || true; fi
  if [ -n "$XVFB_PID" ]; then kill "$XVFB_PID" 2>/dev/null || true; wait "$XVFB_PID" 2>/dev/null || true; fi
  VM_PID=""; XVFB_PID=""
}
on_exit() { local rc=$?; cleanup; if [ -n "$WORK" ]; then rm -rf "$WORK"; fi; exit "$rc"; }
trap on_exit EXIT

free_display() {
  local n
  for n in $(seq 87 140); do
    if [ ! -e "/tmp/.X$n-lock" ] && [ ! -e "/tmp/.X11-unix/X$n" ]; then echo "$n"; return 0; fi
  done
  return 1
}

# press and release with a pause: Morphic polls the mouse and misses instant clicks
click() { # x y [modifier]
  xdotool mousemove "$1" "$2"; sleep 0.4
  if [ -n "${3:-}" ]; then xdotool keydown "$3"; sleep 0.2; fi
  xdotool mousedown 1; sleep 0.4; xdotool mouseup 1
  if [ -n "${3:-}" ]; then sleep 0.2; xdotool keyup "$3"; fi
  sleep "${STEP_PAUSE:-1.5}"
}

# HOTPATCH_BUILD_DEBUG=DIR saves screenshots of each GUI step there (needs imagemagick)
shot() {
  [ -n "${HOTPATCH_BUILD_DEBUG:-}" ] && command -v import >/dev/null 2>&1 || return 0
  mkdir -p "$HOTPATCH_BUILD_DEBUG"; import -window root "$HOTPATCH_BUILD_DEBUG/$1.png" 2>/dev/null || true
}

wait_for() { # seconds command...
  local t=$1; shift
  local end=$((SECONDS + t))
  while [ $SECONDS -lt $end ]; do "$@" && return 0; sleep 0.5; done
  return 1
}

verify_image() { # image -> 0 if it files in a script headless and writes the marker
  local img=$1 dir marker
  dir="$(dirname "$img")"
  marker="$dir/verify.out"
  rm -f "$marker"
  cat > "$dir/verify.st" <<EOF
| f | f := FileStream newFileNamed: '$marker'. f nextPutAll: 'hotpatch-verify-ok'. f close!
HotpatchBoot quit!
EOF
  timeout 60 "$VM" -vm-display-null -vm-sound-null "$img" "$dir/verify.st" </dev/null >/dev/null 2>&1 || true
  grep -q hotpatch-verify-ok "$marker" 2>/dev/null
}

attempt() { # n
  local n=$1 disp boot
  WORK="$(mktemp -d /tmp/hpboot.XXXXXX)"
  cp "$SRC_IMAGE" "$WORK/Scratch.image"
  boot="$WORK/boot.st"
  sed "s#@OUT_IMAGE@#$WORK/hotpatch-test.image#g" "$HERE/boot.st" > "$boot"

  disp="$(free_display)" || { log "no free X display number"; return 1; }
  Xvfb ":$disp" -screen 0 1024x768x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
  XVFB_PID=$!
  export DISPLAY=":$disp"
  if ! wait_for 20 xdotool getdisplaygeometry >/dev/null 2>&1; then
    log "attempt $n: Xvfb did not start: $(tail -n 3 "$WORK/xvfb.log")"; return 1
  fi

  (cd "$WORK" && HOME="$WORK" exec "$VM" -vm-sound-null "$WORK/Scratch.image" </dev/null >"$WORK/vm.log" 2>&1) &
  VM_PID=$!
  if ! wait_for 30 sh -c 'xdotool search --onlyvisible --name . >/dev/null 2>&1'; then
    log "attempt $n: no Squeak window appeared"; return 1
  fi
  # let Scratch finish its start-up (it opens a 'primitive has failed' notifier for the
  # null sound device; that is harmless and gets deleted with the rest of the world)
  sleep "${STARTUP_WAIT:-10}"

  shot "$n-0-started"
  click 45 18 shift        # shift-click the R of the SCRATCH logo: developer menu
  shot "$n-1-devmenu"
  click 100 23             # "turn fill screen off": the Squeak desktop shows at the bottom
  shot "$n-2-fillscreenoff"
  click 300 745            # world menu on the desktop strip
  shot "$n-3-worldmenu"
  click 318 600            # "open..."
  shot "$n-4-openmenu"
  click 350 636            # "workspace": opens at the top left, or at (412,141) when the
                           # sound notifier occupies the top left
  click 600 300            # focus the workspace text (inside it in both placements)
  shot "$n-5-workspace"
  xdotool type --delay 25 "(FileStream readOnlyFileNamed: '$boot') fileIn"
  sleep 0.5
  xdotool key alt+a; sleep 0.5   # select all
  xdotool key alt+d              # do it
  sleep 3
  shot "$n-6-doit"

  # boot.st saves the image in a background process and quits the VM
  local end=$((SECONDS + 90))
  while [ $SECONDS -lt $end ] && kill -0 "$VM_PID" 2>/dev/null; do sleep 1; done
  if kill -0 "$VM_PID" 2>/dev/null; then
    shot "$n-7-timeout"
    [ -n "${HOTPATCH_BUILD_DEBUG:-}" ] && cp -r "$WORK" "$HOTPATCH_BUILD_DEBUG/work-$n" 2>/dev/null || true
    log "attempt $n: VM did not quit after the bootstrap (GUI step missed?)"; return 1
  fi
  wait "$VM_PID" 2>/dev/null || true
  VM_PID=""
  if [ ! -s "$WORK/hotpatch-test.image" ]; then
    log "attempt $n: no image was saved"; return 1
  fi
  if ! verify_image "$WORK/hotpatch-test.image"; then
    [ -n "${HOTPATCH_BUILD_DEBUG:-}" ] && cp -r "$WORK" "$HOTPATCH_BUILD_DEBUG/work-$n" 2>/dev/null || true
    log "attempt $n: saved image failed the headless file-in check"; return 1
  fi
  return 0
}

ok=0
for n in $(seq 1 "$ATTEMPTS"); do
  if attempt "$n"; then ok=1; break; fi
  cleanup
  if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
  WORK=""
  # slower pacing on retries
  STEP_PAUSE=2.5; STARTUP_WAIT=15
done
cleanup
[ "$ok" = 1 ] || die "failed after $ATTEMPTS attempts (Xvfb/xdotool bootstrap of the Scratch image)"

# hotpatch.log from the verification run is not part of the product
cp "$WORK/hotpatch-test.image" "$OUT_IMAGE.tmp"
mv -f "$OUT_IMAGE.tmp" "$OUT_IMAGE"
echo "$stamp" > "$STAMP_FILE"
echo "$OUT_IMAGE"
