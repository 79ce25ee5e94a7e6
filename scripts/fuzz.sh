#!/usr/bin/env bash
# Runs every Go fuzz target of the module for FUZZTIME each (default 20s).
# Targets are found with 'go test -list', so new ones are picked up
# without editing this script. A crasher is saved under the package's
# testdata/fuzz/ by Go and fails the run.
#
# Go minimizes every input that reaches new code, for up to a minute by
# default, and runs nothing new meanwhile: with targets that write each
# input to a file, one early find used to take the rest of a short run
# (FuzzIDXImages, 20 s: 2,793 inputs and 1 new find; minimizing for at
# most FUZZMINTIME, default 2s: 33,880 inputs and 25 finds).
#
# Go 1.26's fuzz coordinator can end a duration-bounded run with a bare
# "context deadline exceeded" and no failing input (go.dev/issue/75804,
# fixed in Go 1.27). Such a run is reported as a flake, not a failure:
# only a run that writes a new failing input, or fails any other way, fails.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${FUZZTIME:-20s}
mintime=${FUZZMINTIME:-2s}
go=${GO:-go}
n=0 flakes=0
for pkg in $($go list ./...); do
	dir=$($go list -f '{{.Dir}}' "$pkg")
	for target in $($go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "fuzz $pkg $target for $time"
		corpus="$dir/testdata/fuzz/$target"
		before=$(ls "$corpus" 2>/dev/null | sort || true)
		log=$(mktemp)
		if $go test -run '^$' -fuzz "^${target}\$" -fuzztime "$time" -fuzzminimizetime "$mintime" "$pkg" 2>&1 | tee "$log"; then
			:
		else
			after=$(ls "$corpus" 2>/dev/null | sort || true)
			if [ "$before" = "$after" ] && grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
				echo "note: $target ended with Go's fuzz-deadline race (go.dev/issue/75804), no failing input: counted as a flake"
				flakes=$((flakes + 1))
			else
				rm -f "$log"
				exit 1
			fi
		fi
		rm -f "$log"
		n=$((n + 1))
	done
done
echo "fuzzed $n targets for $time each ($flakes ended by the Go fuzz-deadline race)"
