#!/usr/bin/env bash
# A deploy job that rolls the checked-out sources across the `prod` group and acts on the exit
# code (README, "Exit codes"). The JSON report says which target is on which code.
#
#   FLEET_TOKEN=… examples/fleet/deploy.sh [GROUP]
set -uo pipefail
group="${1:-prod}"
report="$(mktemp)"
hotpatch push --group "$group" --json > "$report"
code=$?
case $code in
  0) echo "deploy: every target of $group is on the new code" ;;
  2) echo "deploy: configuration or source error, nothing was sent" >&2 ;;
  3) echo "deploy: a change cannot go live; rebuild the images (hotpatch rebuild --target …)" >&2 ;;
  5) echo "deploy: a target is unreachable, nothing was changed; safe to retry" >&2 ;;
  8) echo "deploy: stopped; targets that are not on the new code:" >&2
     # jq is optional: without it, print the whole report.
     if command -v jq >/dev/null; then
       jq -r '.targets[] | select(.state != "patched" and .state != "up_to_date")
              | "  \(.name): \(.state) \(.error // "")"' "$report" >&2
       jq -r '"reason: \(.reason)"' "$report" >&2
     else cat "$report" >&2; fi ;;
  *) echo "deploy: hotpatch exited $code" >&2 ;;
esac
rm -f "$report"
exit $code
