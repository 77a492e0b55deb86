#!/usr/bin/env bash
# Three images of the sample application under the sample supervisor (examples/rebuild/
# supervisor.sh), each with the hotpatch agent on its own loopback port; then a group rollout:
# canary first, a wave of two, a re-run with nothing to do, a change whose canary fails its
# health check (rolled back, the others untouched), and `status --group`. Everything it starts
# it stops.
#
#   examples/fleet/fleet-demo.sh        (needs what examples/demo.sh needs)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@" || printf '\033[2m(exit %s)\033[0m\n' "$?"; }

cargo build --release -q
HP="$ROOT/target/release/hotpatch"
IMAGE="$(smalltalk-agent/testvm/build-test-image.sh)"
WORK="$(mktemp -d /tmp/hotpatch-fleet.XXXXXX)"
export FLEET_TOKEN="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
cleanup() {
  for n in 1 2 3; do APP_DIR="$WORK/app-$n" "$ROOT/examples/rebuild/supervisor.sh" stop >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# The project: the sample app's sources and this directory's hotpatch.toml, ports made free.
cp -r examples/sample-app "$WORK/project"
AGENT="$("$HP" export --format st smalltalk-agent/src/Hotpatch-Agent; "$HP" export --format st smalltalk-agent/src/Hotpatch-Agent-Squeak)"
sed -e 's#source = "../sample-app/src"#source = "src"#' examples/fleet/hotpatch.toml > "$WORK/project/hotpatch.toml"
for n in 1 2 3; do
  port=$((7100 + n))
  for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break; port=$((20000 + RANDOM % 40000)); done
  sed -i "s#127.0.0.1:710$n/#127.0.0.1:$port/#" "$WORK/project/hotpatch.toml"
  mkdir -p "$WORK/app-$n"
  cp "$IMAGE" "$WORK/app-$n/app.image"
  { printf '%s\n' "$AGENT"; printf "\nHpAgent startOn: %s token: '%s'!\n" "$port" "$FLEET_TOKEN"; } > "$WORK/app-$n/start.st"
  say "starting app-$n on 127.0.0.1:$port under the supervisor"
  APP_DIR="$WORK/app-$n" "$ROOT/examples/rebuild/supervisor.sh" start
done
cd "$WORK/project"
for _ in $(seq 1 300); do "$HP" status --group prod >/dev/null 2>&1 && break; sleep 0.2; done

say "every image answers"
run "$HP" status --group prod
say "roll the application out: canary app-1, then app-2 and app-3 together"
run "$HP" push --group prod
say "again: nothing to do"
run "$HP" push --group prod
say "a change that breaks the health check: the canary is rolled back, the others untouched"
sed -i "s/^\t\^ 'Hello, ' , aName sampleShout/\t^ ''/" src/Sample-Core/SampleApp.class.st
run "$HP" push --group prod
say "the same, as a deploy job sees it (--json, exit 8: not every target is on the new code)"
run "$HP" push --group prod --json
