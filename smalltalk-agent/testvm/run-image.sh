#!/usr/bin/env bash
# Run a hotpatch test image headless, filing in SCRIPT.st at start-up.
#
#   run-image.sh IMAGE SCRIPT.st [extra args...]
#
# The image (built by build-test-image.sh) files in the document argument in a new process
# (see boot.st: HotpatchBoot startUp). Extra args are visible to the script as
# `Smalltalk getSystemAttribute: 3`, 4, ... . Errors go to hotpatch.log beside the image
# unless the script calls `HotpatchBoot logTo: '/abs/path'`. The script must end the VM itself
# (`HotpatchBoot quit`, `HotpatchBoot saveAndQuit`); the caller should also use a timeout.
# exec: the caller's pid is the VM's pid.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: run-image.sh IMAGE SCRIPT.st [extra args...]" >&2; exit 2
fi
IMAGE="$(realpath "$1")"; SCRIPT="$(realpath "$2")"; shift 2
[ -f "$IMAGE" ] || { echo "run-image: no image $IMAGE" >&2; exit 2; }
[ -f "$SCRIPT" ] || { echo "run-image: no script $SCRIPT" >&2; exit 2; }
case "$SCRIPT" in *.st) ;; *) echo "run-image: script must end in .st" >&2; exit 2 ;; esac
VM="${SQUEAK_VM:-$(find /usr/lib/squeak -name squeakvm -type f 2>/dev/null | sort | tail -n 1)}"
[ -x "$VM" ] || { echo "run-image: squeakvm not found (apt-get install -y squeak-vm)" >&2; exit 2; }
# relative paths inside the image resolve against the image's directory, so pass absolute ones
exec "$VM" -vm-display-null -vm-sound-null "$IMAGE" "$SCRIPT" "$@"
