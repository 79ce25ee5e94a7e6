#!/usr/bin/env bash
# Runs every Go fuzz target of the module for FUZZTIME each (default 20s).
# Targets are found with 'go test -list', so new ones are picked up
# without editing this script. A crasher is saved under the package's
# testdata/fuzz/ by Go and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${FUZZTIME:-20s}
go=${GO:-go}
n=0
for pkg in $($go list ./...); do
	for target in $($go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "fuzz $pkg $target for $time"
		$go test -run '^$' -fuzz "^${target}\$" -fuzztime "$time" "$pkg"
		n=$((n + 1))
	done
done
echo "fuzzed $n targets for $time each"
