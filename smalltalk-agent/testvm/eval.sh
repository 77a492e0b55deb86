#!/usr/bin/env bash
# Evaluate Smalltalk expressions in a fresh copy of the test image and print the results.
#   eval.sh IMAGE 'expr1' ['expr2' ...]      (one expression per argument)
#   eval.sh IMAGE - < exprs.txt              (one expression per line)
# Output: one line per expression: EXPR<TAB>=> printString (or ERROR: message).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ $# -ge 2 ] || { echo "usage: eval.sh IMAGE EXPR... | eval.sh IMAGE - < FILE" >&2; exit 2; }
IMAGE="$(realpath "$1")"; shift
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
cp "$IMAGE" "$TMP/probe.image"
if [ "$1" = - ]; then cat > "$TMP/exprs.txt"; else printf '%s\n' "$@" > "$TMP/exprs.txt"; fi
timeout "${EVAL_TIMEOUT:-60}" "$HERE/run-image.sh" "$TMP/probe.image" "$HERE/probe.st" "$TMP/exprs.txt" "$TMP/out.txt" >/dev/null 2>&1 || true
if [ ! -f "$TMP/out.txt" ]; then echo "eval.sh: no output (timeout?)" >&2; cat "$TMP"/*.log >&2 2>/dev/null; exit 1; fi
cat "$TMP/out.txt"
if [ -n "${EVAL_SHOW_LOG:-}" ]; then cat "$TMP/out.txt.log" 2>/dev/null || true; fi
