#!/bin/sh
# Runs ansible-test sanity on the collection, as far as it runs offline.
#
# ansible-test wants the collection at ansible_collections/NAMESPACE/NAME, so the
# repository's files (tracked, and new ones not ignored) are copied to such a
# directory first. Its tests that install pinned Python packages from PyPI in a
# virtual environment cannot run without internet; five of them run here with
# Debian's packages and ansible-test's own settings instead, and the others are
# covered by the Go tests:
#   yamllint          ansible-test's yamllinter.py (YAML files and the module
#                     docs' YAML) with Debian's yamllint
#   pep8              pycodestyle with ansible-test's line length and ignores
#   pylint            Debian's pylint with ansible-test's collection config and
#                     its own checkers
#   runtime-metadata  ansible-test's checker of meta/runtime.yml, with Debian's
#                     voluptuous
#   validate-modules  ansible-test's validator of the module doc stubs, with
#                     Debian's jinja2, yaml and voluptuous; the options they
#                     document are also checked against each module's Go
#                     argument spec by modules/internal/ansible/doccheck
#   ansible-doc       tests/integration/collection (ansible-doc of every module
#                     and the role)
#   import            the action plugins run in every ansible-playbook test
# Not run: changelog (antsibull-changelog, not packaged), pslint (no
# PowerShell here).
set -eu
python=/usr/bin/python3
sanity_root=$($python -c 'import ansible_test, os; print(os.path.join(os.path.dirname(ansible_test.__file__), "_util/controller/sanity"))')
pyversion=$($python -c 'import sys; print("%d.%d" % sys.version_info[:2])')

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dst=$tmp/ansible_collections/zerodowntime/rolling
mkdir -p "$dst"
git ls-files -co --exclude-standard -z | tar --null --ignore-failed-read -T - -cf - | tar -C "$dst" -xf -
cd "$dst"

status=0
ansible-test sanity --local --python "$pyversion" --color no \
	--skip-test ansible-doc --skip-test changelog --skip-test import \
	--skip-test pep8 --skip-test pylint --skip-test pslint \
	--skip-test runtime-metadata --skip-test validate-modules --skip-test yamllint ||
	status=1

echo 'Running sanity test "yamllint" (Debian yamllint, ansible-test yamllinter.py)'
# The module docs are YAML inside the doc stubs: the linter reads those too.
yaml_out=$(find . \( -name '*.yml' -o -name '*.yaml' -o -path './plugins/*.py' \) -type f -print |
	sed 's|^\./||' | $python "$sanity_root/yamllint/yamllinter.py")
if ! printf '%s' "$yaml_out" | $python -c '
import json, sys
messages = json.load(sys.stdin)["messages"]
for m in messages:
    print("ERROR: %(path)s:%(line)s:%(column)s: %(code)s: %(message)s" % m)
sys.exit(1 if messages else 0)
'; then
	status=1
fi

echo 'Running sanity test "runtime-metadata" (Debian voluptuous)'
# It prints one line per problem and exits 0 either way.
meta_out=$(echo meta/runtime.yml | $python "$sanity_root/code-smell/runtime-metadata.py" 2>&1)
if [ -n "$meta_out" ]; then
	printf 'ERROR: %s\n' "$meta_out"
	status=1
fi

echo 'Running sanity test "validate-modules" (Debian jinja2, yaml and voluptuous)'
# ansible-core 2.19's validate-modules also needs antsibull-docs-parser, which
# Debian does not package: under 2.19 it is skipped (it runs under 2.14).
if ! $python -c 'import antsibull_docs_parser' 2>/dev/null && grep -q antsibull_docs_parser "$sanity_root/validate-modules/validate_modules/main.py"; then
	echo 'Skipped: this ansible-test needs antsibull-docs-parser, which is not installed'
else
# The ignores are ansible-test's file for this ansible-core, applied here as it
# would apply them.
core=$($python -c 'from ansible.release import __version__ as v; print(".".join(v.split(".")[:2]))')
version=$(sed -n 's/^version: *//p' galaxy.yml)
# shellcheck disable=SC2046 # one argument per module; the paths hold no spaces
if ! ANSIBLE_COLLECTIONS_PATH=$tmp $python "$sanity_root/validate-modules/validate.py" --format json --arg-spec \
	--collection ansible_collections/zerodowntime/rolling --collection-version "$version" \
	$(find plugins/modules -name '*.py' ! -name '__init__.py' -type f) |
	$python -c '
import json, sys
ignored = set()
try:
    with open(sys.argv[1]) as f:
        for line in f:
            line = line.split("#", 1)[0].split()
            if len(line) == 2 and line[1].startswith("validate-modules:"):
                ignored.add((line[0], line[1].split(":", 1)[1]))
except FileNotFoundError:
    pass
failed = False
for path, result in sorted(json.load(sys.stdin).items()):
    for e in result["errors"] + result["warnings"]:
        if (path, e["code"]) not in ignored:
            print("ERROR: %s:%s:%s: %s: %s" % (path, e["line"], e["column"], e["code"], e["msg"]))
            failed = True
sys.exit(1 if failed else 0)
' "tests/sanity/ignore-$core.txt"; then
	status=1
fi
fi

pyfiles=$(find . -name '*.py' -type f)

echo 'Running sanity test "pylint" (Debian pylint, ansible-test config and plugins)'
# ansible-test's own plugins for this ansible-core: 2.14 has "deprecated",
# written for pylint 2; 2.19 has "deprecated_calls" and others, written for
# the pylint 3.3 it pins, which Debian 12 does not have: under 2.19 it is
# skipped (it runs under 2.14).
if [ ! -f "$sanity_root/pylint/plugins/deprecated.py" ]; then
	echo "Skipped: this ansible-test's pylint plugins need pylint 3; Debian's is $($python -m pylint --version 2>/dev/null | sed -n 1p)"
else
# ansible-test pins pylint 2.15; Debian's is 2.16. Its plugins read where
# each plugin type lives from ANSIBLE_TEST_<TYPE>_PATH, present or not.
plugin_paths=
for type in action become cache callback cliconf connection doc_fragments filter httpapi \
	inventory lookup module_utils modules netconf plugin_utils shell strategy terminal test vars; do
	plugin_paths="$plugin_paths ANSIBLE_TEST_$(echo "$type" | tr '[:lower:]' '[:upper:]')_PATH=$dst/plugins/$type/"
done
pylint_dir=$sanity_root/pylint
# shellcheck disable=SC2086 # one argument per file or variable; no spaces
env $plugin_paths PYTHONPATH="$pylint_dir/plugins:$tmp" PYLINTHOME="$tmp/pylint" \
	$python -m pylint --reports n --score n --max-line-length 160 --max-complexity 20 \
	--rcfile "$pylint_dir/config/collection.cfg" \
	--load-plugins deprecated,string_format,unwanted,pylint.extensions.mccabe \
	--collection-name zerodowntime.rolling --collection-version "$version" \
	$pyfiles || status=1
fi

echo 'Running sanity test "pep8" (Debian pycodestyle, ansible-test settings)'
ignore=$(grep -v '^#' "$sanity_root/pep8/current-ignore.txt" | grep . | paste -sd, -)
# shellcheck disable=SC2086 # one argument per file; the paths hold no spaces
$python -m pycodestyle --max-line-length 160 --config /dev/null --ignore "$ignore" $pyfiles || status=1

exit $status
