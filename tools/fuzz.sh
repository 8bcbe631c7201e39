#!/bin/sh
# Runs every Go fuzz target of the repository for FUZZTIME (default 3s) each.
#
# Go 1.26's fuzz coordinator can fail a target with a bare "context deadline
# exceeded" when -fuzztime runs out while a worker is mid-call (go.dev/issue/75804,
# fixed in Go 1.27): no input failed, and none is written to testdata/fuzz. Such a
# run is tried once more; any other failure, or the same one twice, fails.
set -u
fuzztime=${FUZZTIME:-3s}
go=${GO:-go}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# Each target as package-dir:FuzzName.
targets=$(grep -r --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*' modules tests |
	sed 's|/[^/]*_test\.go:func |:|' | sort -u)
for t in $targets; do
	p=${t%%:*}
	f=${t#*:}
	for try in 1 2; do
		echo "fuzz $p $f"
		if "$go" test -run '^$' -fuzz "^$f\$" -fuzztime "$fuzztime" "./$p" >"$out" 2>&1; then
			cat "$out"
			break
		fi
		cat "$out"
		if [ "$try" = 1 ] && grep -q '^    context deadline exceeded$' "$out" && ! grep -q 'Failing input written' "$out"; then
			echo "fuzz $p $f: Go's fuzz coordinator stopped with 'context deadline exceeded' and no failing input (go.dev/issue/75804); once more"
			continue
		fi
		exit 1
	done
done
