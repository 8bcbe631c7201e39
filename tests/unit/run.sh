#!/bin/sh
# Runs the plugins' Python unit tests (stdlib unittest) on the ansible-core
# first on PATH and PYTHONPATH, with ansible-playbook's interpreter. They
# import the collection as ansible-test units does, so this puts the tree
# at ansible_collections/zerodowntime/rolling in a temporary directory, the
# collections path of ansible's collection finder, installed first: it takes
# over ansible_collections.* once anything imports ansible.plugins.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
python=$(sed -n '1s/^#! *//p' "$(command -v ansible-playbook)" | awk '{print ($1 ~ /\/env$/) ? $2 : $1}')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/ansible_collections/zerodowntime"
ln -s "$root" "$tmp/ansible_collections/zerodowntime/rolling"
cd "$tmp"
PYTHONPATH="$tmp${PYTHONPATH:+:$PYTHONPATH}" "$python" -c 'from ansible.release import __version__ as v; print("ansible-core", v)'
for dir in plugin_utils callback; do
	ANSIBLE_COLLECTIONS_PATH=$tmp PYTHONPATH="$tmp${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1 "$python" -c '
import sys, unittest
import ansible.plugins.loader  # installs the collection finder
unittest.main(module=None, argv=sys.argv)' discover \
		-s "ansible_collections/zerodowntime/rolling/tests/unit/plugins/$dir" -t . "$@"
done
