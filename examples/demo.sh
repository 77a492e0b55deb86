#!/usr/bin/env bash
# The hotpatch demo: start a real Squeak VM (Debian's squeak-vm on the Scratch-derived test image)
# with the hotpatch agent, push the sample application into it, change a method while it runs,
# and roll the change back. Everything runs on loopback; everything it starts it stops.
#
#   examples/demo.sh            (needs: squeak-vm scratch xvfb xdotool, a Rust toolchain)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

packages=(squeak-vm scratch xvfb xdotool)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "demo: missing Debian packages: ${missing[*]}" >&2
    echo "demo: install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }

say "building hotpatch (the first build compiles about 200 crates: minutes on a small machine; cargo shows its progress)"
cargo build --release --bin hotpatch
say "building the test image (once per machine, about a minute)"
HP="$ROOT/target/release/hotpatch"
IMAGE="$(smalltalk-agent/testvm/build-test-image.sh)"

WORK="$(mktemp -d /tmp/hotpatch-demo.XXXXXX)"
VM_PID=""
cleanup() {
  # The VM dies of the signal: its status is not the demo's.
  if [ -n "$VM_PID" ]; then kill "$VM_PID" 2>/dev/null || true; wait "$VM_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# A free loopback port: one nothing answers on (bash's /dev/tcp, no other tool needed).
PORT=""
for _ in $(seq 1 50); do
  candidate=$((20000 + RANDOM % 40000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then PORT=$candidate; break; fi
done
[ -n "$PORT" ] || { echo "demo: no free port found" >&2; exit 1; }
export HOTPATCH_TOKEN="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
cp "$IMAGE" "$WORK/demo.image"
{
  "$HP" export --format st smalltalk-agent/src/Hotpatch-Agent
  "$HP" export --format st smalltalk-agent/src/Hotpatch-Agent-Squeak
  printf "\nHpAgent startOn: %s token: '%s'!\n" "$PORT" "$HOTPATCH_TOKEN"
} > "$WORK/start.st"

say "starting the image with the agent on 127.0.0.1:$PORT"
smalltalk-agent/testvm/run-image.sh "$WORK/demo.image" "$WORK/start.st" > "$WORK/vm.out" 2>&1 &
VM_PID=$!

cp -r examples/sample-app "$WORK/app"
sed -i "s|ws://127.0.0.1:7071/|ws://127.0.0.1:$PORT/|" "$WORK/app/hotpatch.toml"
cd "$WORK/app"
for _ in $(seq 1 120); do
  "$HP" status >/dev/null 2>&1 && break
  kill -0 "$VM_PID" 2>/dev/null || { echo "demo: the VM stopped:"; cat "$WORK/vm.out"; exit 1; }
  sleep 0.5
done
run "$HP" status

say "the image does not have the sample app yet: diff (exit 1 = differences)"
run "$HP" diff --stat || true
say "push it"
run "$HP" push
run "$HP" eval "SampleApp default counter increment; increment; count"
run "$HP" eval "SampleApp default greet: 'world'"

say "edit a method in the sources, while the application keeps running"
sed -i "s/'Hello, '/'Howdy, '/" src/Sample-Core/SampleApp.class.st
run "$HP" diff || true
run "$HP" push
run "$HP" eval "SampleApp default greet: 'world'"
run "$HP" eval "SampleApp default counter count"

say "a broken method is refused and nothing changes"
sed -i "s/count := count + 1./count := count + ./" src/Sample-Core/SampleCounter.class.st
run "$HP" push || true
sed -i "s/count := count + ./count := count + 1./" src/Sample-Core/SampleCounter.class.st

say "roll the last push back"
run "$HP" rollback
run "$HP" eval "SampleApp default greet: 'world'"
say "done"
