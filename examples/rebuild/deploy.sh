#!/usr/bin/env bash
# Deploy job: push the sources in the current checkout to the live image; when a change cannot
# go live (or the image is not running), rebuild it from the base and restart the application.
# The JSON outcome is kept as an artifact; the exit code tells the job how it went:
#   0 pushed or rebuilt   2 configuration/sources (a bad URL, host key or certificate too)
#   4 refused (compile errors)   5 unreachable and the application not confirmed down (retry)
#   6 rebuild failed, the previous image is still running
#
#   HOTPATCH_TOKEN=... examples/rebuild/deploy.sh [TARGET]
set -uo pipefail

target="${1:-${HOTPATCH_TARGET:-}}"
out="${DEPLOY_REPORT:-hotpatch-deploy.json}"
args=(push --rebuild --json --yes)
[ -n "$target" ] && args+=(--target "$target")

hotpatch "${args[@]}" >"$out"
code=$?
case $code in
  0) echo "deploy: ok ($(grep -m1 '"outcome"' "$out" | tr -d ' ,'))" ;;
  6) echo "deploy: rebuild FAILED; the previous image is still running. See $out" >&2 ;;
  *) echo "deploy: failed (exit $code). See $out" >&2 ;;
esac
exit $code
