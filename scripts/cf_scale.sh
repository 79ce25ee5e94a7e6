#!/usr/bin/env bash
# cf_scale.sh: one epoch of cf.Train (user- and item-based, 100 hidden units,
# CD-1) on synthetic MovieLens-shaped ratings of several sizes, each in a
# process of its own, and a table of the epoch time and peak memory.
#
#   scripts/cf_scale.sh              # 1M, 5M and 25M ratings
#   scripts/cf_scale.sh 1M 5M        # some of them
#   ORIENT=item scripts/cf_scale.sh  # one orientation (user or item)
#
# Sizes: 1M = 6,480 users x 2,480 items, 5M = 32,400 x 12,400 and 25M =
# 162,000 x 62,000 (MovieLens 25M: 162,541 users, 62,423 movies); any other
# N is N ratings with users and items in the 25M proportions.
#
# Columns: gen s (cf.Synthetic), setup s (indexing, baseline, weights),
# epoch s (EpochStats.Duration: the CD-1 pass and the train RMSE), cpu s
# (user+system seconds of the process during Train: on a machine shared with
# other work the epoch's wall time can be well above cpu/cores) and peak RSS
# (VmHWM of the process: ratings, model and all). The load average is shown
# before and after each run because wall times depend on it.
set -euo pipefail
cd "$(dirname "$0")/.."

sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(1M 5M 25M)
orients=(user item)
[ -n "${ORIENT:-}" ] && orients=("$ORIENT")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/cf.test" ./cf

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.1f GB", $2/1048576}' /proc/meminfo 2>/dev/null), GOMAXPROCS=${GOMAXPROCS:-default}"
echo "avx flags: $(grep -o 'avx[^ ]*' /proc/cpuinfo 2>/dev/null | sort -u | tr '\n' ' ')"
echo "go: $(go version)"
printf '\n%-8s %-6s %8s %8s %7s %7s %8s %8s %9s  %s\n' ratings based users items gen_s setup_s epoch_s cpu_s peak_MB "load before/after"

for size in "${sizes[@]}"; do
	case $size in
	1M) spec="1000000,6480,2480" ;;
	5M) spec="5000000,32400,12400" ;;
	25M) spec="25000000,162000,62000" ;;
	*)
		n=$size
		case $n in *M) n=$((${n%M} * 1000000)) ;; *K) n=$((${n%K} * 1000)) ;; esac
		spec="$n,$((n * 162 / 25000)),$((n * 62 / 25000))"
		;;
	esac
	for o in "${orients[@]}"; do
		before=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo ?)
		line=$(CF_SCALE="$spec,$o" "$tmp/cf.test" -test.run '^TestScale$' -test.count 1 | grep '^SCALE' || true)
		after=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo ?)
		if [ -z "$line" ]; then
			echo "$size $o: failed" >&2
			continue
		fi
		get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
		printf '%-8s %-6s %8s %8s %7s %7s %8s %8s %9s  %s/%s\n' "$size" "$o" "$(get users)" "$(get items)" \
			"$(get gen_s)" "$(get setup_s)" "$(get epoch_s)" "$(get cpu_s)" "$(get rss_mb)" "$before" "$after"
	done
done
