#!/usr/bin/env bash
# Push each Tonel file as it is saved, for editors without a save hook.
#   examples/editor-hooks/push-on-save.sh [SOURCE_DIR]     (needs inotify-tools)
# Run it from inside the project (where hotpatch.toml is found) with the token exported.
set -euo pipefail
dir="${1:-src}"
command -v inotifywait >/dev/null || { echo "push-on-save: install inotify-tools" >&2; exit 1; }
# close_write and moved_to: editors either write in place or write a temp file and rename it.
inotifywait -m -r -q -e close_write -e moved_to --format '%w%f' "$dir" |
  while read -r file; do
    case "$file" in
      *.class.st|*.extension.st|*.trait.st)
        echo "== $(date +%T) $file"
        hotpatch push "$file" || echo "(hotpatch exit $?)"
        ;;
    esac
  done
