#!/usr/bin/env bash
# Installs the ansible-core the hotpatch module is tested with, from PyPI, into a virtual
# environment of its own (default: target/ansible in this repository), and prints the path of
# its ansible-playbook. Does nothing when that version is there already. tests/ansible.rs looks
# for ansible-playbook there (or on PATH, or in $HOTPATCH_ANSIBLE_PLAYBOOK).
#
#   examples/ansible/install-ansible-core.sh [DIR]
#
# Needs python3 with venv (Debian: apt-get install python3-venv).
set -euo pipefail
version=2.19.14   # the newest ansible-core that runs on Python 3.11 (Debian 12's python3)
repo="$(cd "$(dirname "$0")/../.." && pwd)"
dir="${1:-$repo/target/ansible}"

installed="$("$dir/bin/python3" -c 'import ansible.release; print(ansible.release.__version__)' 2>/dev/null || true)"
if [ "$installed" = "$version" ] && [ -x "$dir/bin/ansible-playbook" ]; then
  echo "$dir/bin/ansible-playbook"
  exit 0
fi
echo "installing ansible-core $version into $dir" >&2
python3 -m venv "$dir"
"$dir/bin/python3" -m pip install --quiet --disable-pip-version-check "ansible-core==$version" >&2
"$dir/bin/ansible-playbook" --version >&2
echo "$dir/bin/ansible-playbook"
