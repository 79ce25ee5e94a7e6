#!/usr/bin/env bash
# compare_pytorch.sh: seconds per CD-1 epoch, harmonium vs PyTorch (CPU,
# float32), measured in one go so that both see the same machine load.
#
# Both time the same thing: a 784-500 Bernoulli RBM, plain CD-1 (lr 0.1, no
# momentum, no weight decay), minibatch 100, one epoch = 60,000 MNIST
# training images reshuffled; data loading untimed. harmonium runs
# `bench --json`; PyTorch runs scripts/pytorch_cd1.py (no autograd,
# preallocated buffers, in-place ops) at each thread count in THREADS, and
# the best thread count is the one that counts. The runs alternate
# (harmonium, PyTorch 1 thread, PyTorch 2 threads, ...) for ROUNDS rounds;
# each side's figure is its best epoch over all rounds, and the last line
# gives each round's ratio and their median.
#
# Usage: scripts/compare_pytorch.sh [--data DIR] [--epochs N] [--rounds N]
#            [--threads "1 2"] [--harmonium-env "K=V ..."] [--torch-env "K=V ..."]
#            [--avx2] [--torch-as-installed]
# or the same through the environment:
#   DATA=../shared/data/mnist EPOCHS=3 ROUNDS=3 THREADS="1 2"
#   HARMONIUM_ENV="..."   extra environment for harmonium only
#   TORCH_ENV="..."       extra environment for the PyTorch script only
#   TORCH_NATIVE=1        0 = --torch-as-installed (see below)
#   PYTHON=/usr/bin/python3   the Python that has torch
#   BUILD_RETRIES=0       retries, a minute apart, if `go build` fails
#
# Kernels. Both sides do their matrix products with the system OpenBLAS,
# whose kernels OPENBLAS_CORETYPE picks (Haswell = AVX2, SkylakeX =
# AVX-512); the element-wise work is harmonium's own kernels
# (HARMONIUM_KERNELS) and PyTorch's ATen kernels (ATEN_CPU_CAPABILITY =
# default, avx2 or avx512).
#  * harmonium, on an AVX-512 CPU, replaces an inherited OPENBLAS_CORETYPE
#    naming older kernels by SkylakeX unless HARMONIUM_OPENBLAS_CORETYPE is
#    set; so this script turns an OPENBLAS_CORETYPE=X in HARMONIUM_ENV into
#    HARMONIUM_OPENBLAS_CORETYPE=X as well, so that it takes effect.
#  * PyTorch at its best (the default, TORCH_NATIVE=1): on an AVX-512 CPU the
#    script gives PyTorch what harmonium picks for itself, the SkylakeX
#    OpenBLAS kernels, and ATEN_CPU_CAPABILITY=avx512 (Debian's torch 1.13
#    falls back to AVX2 on some AMD CPUs), unless TORCH_ENV sets them.
#    --torch-as-installed (TORCH_NATIVE=0) runs PyTorch in the inherited
#    environment instead.
# Imitating an AVX2-only CPU on an AVX-512 machine (what --avx2 sets):
#   HARMONIUM_ENV="HARMONIUM_KERNELS=avx2 OPENBLAS_CORETYPE=Haswell" \
#   TORCH_ENV="ATEN_CPU_CAPABILITY=avx2 OPENBLAS_CORETYPE=Haswell" \
#       scripts/compare_pytorch.sh
# The header of the output shows the inherited and the extra environment.
#
# Needs Go, OpenBLAS (libopenblas0) and Debian's PyTorch:
#   apt-get install -y python3-torch python3-numpy   (then use /usr/bin/python3)
set -euo pipefail

cd "$(dirname "$0")/.."

DATA=${DATA:-../shared/data/mnist}
EPOCHS=${EPOCHS:-3}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-"1 2"}
HARMONIUM_ENV=${HARMONIUM_ENV:-}
TORCH_ENV=${TORCH_ENV:-}
PYTHON=${PYTHON:-/usr/bin/python3}
BUILD_RETRIES=${BUILD_RETRIES:-0}
TORCH_NATIVE=${TORCH_NATIVE:-1}

die() { echo "compare_pytorch.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	--data) DATA=$2; shift 2 ;;
	--epochs) EPOCHS=$2; shift 2 ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--threads) THREADS=$2; shift 2 ;;
	--harmonium-env) HARMONIUM_ENV=$2; shift 2 ;;
	--torch-env) TORCH_ENV=$2; shift 2 ;;
	--avx2)
		HARMONIUM_ENV="$HARMONIUM_ENV HARMONIUM_KERNELS=avx2 OPENBLAS_CORETYPE=Haswell"
		TORCH_ENV="$TORCH_ENV ATEN_CPU_CAPABILITY=avx2 OPENBLAS_CORETYPE=Haswell"
		shift ;;
	--torch-as-installed) TORCH_NATIVE=0; shift ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done

[ -d "$DATA" ] || die "no MNIST folder $DATA (pass --data DIR)"
[ -x "$PYTHON" ] || die "$PYTHON not found; install Debian's PyTorch: apt-get install -y python3-torch python3-numpy"
if ! "$PYTHON" -c 'import torch, numpy' 2>/dev/null; then
	die "PyTorch (or numpy) is not importable by $PYTHON.
  Install Debian's build:  apt-get update && apt-get install -y python3-torch python3-numpy
  and run with PYTHON=/usr/bin/python3 (a pyenv/venv python3 on PATH will not see it)."
fi

# has VAR "K=V ..." reports whether the word list sets VAR.
has() { case " $2 " in *" $1="*) return 0 ;; esac; return 1; }
if has OPENBLAS_CORETYPE "$HARMONIUM_ENV" && ! has HARMONIUM_OPENBLAS_CORETYPE "$HARMONIUM_ENV"; then
	core=$(printf '%s\n' $HARMONIUM_ENV | sed -n 's/^OPENBLAS_CORETYPE=//p' | tail -1)
	HARMONIUM_ENV="$HARMONIUM_ENV HARMONIUM_OPENBLAS_CORETYPE=$core"
fi
avx512=0
if grep -qw avx512f /proc/cpuinfo && grep -qw avx512bw /proc/cpuinfo && grep -qw avx512dq /proc/cpuinfo && grep -qw avx512vl /proc/cpuinfo; then
	avx512=1
fi
if [ "$TORCH_NATIVE" = 1 ] && [ "$avx512" = 1 ]; then
	if ! has OPENBLAS_CORETYPE "$TORCH_ENV"; then
		case $(printf '%s' "${OPENBLAS_CORETYPE:-}" | tr 'A-Z' 'a-z') in
		skylakex|cooperlake|sapphirerapids) ;;
		*) TORCH_ENV="$TORCH_ENV OPENBLAS_CORETYPE=SkylakeX" ;;
		esac
	fi
	has ATEN_CPU_CAPABILITY "$TORCH_ENV" || TORCH_ENV="$TORCH_ENV ATEN_CPU_CAPABILITY=avx512"
fi
HARMONIUM_ENV=$(echo $HARMONIUM_ENV)
TORCH_ENV=$(echo $TORCH_ENV)

echo "building harmonium..." >&2
tries=0
until go build -o bin/harmonium ./cmd/harmonium; do
	tries=$((tries + 1))
	[ "$tries" -le "$BUILD_RETRIES" ] || die "go build failed"
	echo "go build failed; retrying in 60 s ($tries/$BUILD_RETRIES)" >&2
	sleep 60
done

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') ($(nproc) CPUs)"
echo "AVX flags: $(grep -o 'avx[^ ]*' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "inherited environment: $(env | grep -E '^(OPENBLAS_|OMP_|ATEN_|HARMONIUM_|GOMAXPROCS)' | sort | tr '\n' ' ')"
echo "harmonium extra env: ${HARMONIUM_ENV:-(none)}; PyTorch extra env: ${TORCH_ENV:-(none)}"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

results=$(mktemp)
trap 'rm -f "$results"' EXIT

for round in $(seq 1 "$ROUNDS"); do
	echo "round $round/$ROUNDS: harmonium" >&2
	# shellcheck disable=SC2086 # HARMONIUM_ENV is a list of K=V words
	out=$(env $HARMONIUM_ENV ./bin/harmonium bench --data "$DATA" --epochs "$EPOCHS" --json) || die "harmonium bench failed"
	line=$(printf '%s\n' "$out" | grep '^{' | tail -1)
	[ -n "$line" ] || die "harmonium printed no JSON: $out"
	printf 'harmonium\t-\t%s\n' "$line" >>"$results"
	for t in $THREADS; do
		echo "round $round/$ROUNDS: PyTorch, $t thread(s)" >&2
		# shellcheck disable=SC2086
		out=$(env $TORCH_ENV "$PYTHON" scripts/pytorch_cd1.py "$DATA" --epochs "$EPOCHS" --threads "$t") || die "pytorch_cd1.py failed"
		line=$(printf '%s\n' "$out" | grep '^{' | tail -1)
		[ -n "$line" ] || die "pytorch_cd1.py printed no JSON: $out"
		printf 'pytorch\t%s\t%s\n' "$t" "$line" >>"$results"
	done
done

"$PYTHON" - "$results" <<'EOF'
import json, sys
rows = []
for ln in open(sys.argv[1]):
    impl, threads, js = ln.rstrip("\n").split("\t", 2)
    rows.append((impl, threads, json.loads(js)))

print("runs (s/epoch):")
for impl, threads, r in rows:
    if impl == "harmonium":
        info = "%s; kernels %s" % (r.get("backend"), r.get("kernels"))
    else:
        info = "torch %s, capability %s, OpenBLAS %s, OMP_WAIT_POLICY %s, recon error %s" % (
            r["torch"], r["cpu_capability"], r["openblas_core"], r.get("omp_wait_policy"), r["recon_error"][-1])
    label = impl if impl == "harmonium" else "pytorch %st" % threads
    print("  %-12s %s  best %.3f  median %.3f  (%s)" % (
        label, " ".join("%.3f" % s for s in r["seconds_per_epoch"]), r["best"], r["median"], info))

h = min(r["best"] for i, _, r in rows if i == "harmonium")
per_t = {}
for i, t, r in rows:
    if i == "pytorch":
        per_t[t] = min(per_t.get(t, float("inf")), r["best"])
bt = min(per_t, key=per_t.get)
p = per_t[bt]
print()
print("PyTorch best by threads: " + ", ".join("%s: %.3f s" % kv for kv in per_t.items()))
print()
print("| harmonium best s/epoch | PyTorch best s/epoch | harmonium/PyTorch |")
print("|---|---|---|")
print("| %.3f | %.3f (%s thread%s) | %.2f |" % (h, p, bt, "" if bt == "1" else "s", h / p))

# Each round's ratio (harmonium's best epoch over PyTorch's best at any
# thread count in the same round): machine load that changes between
# rounds affects both sides of a round alike.
rounds = []
for i, t, r in rows:
    if i == "harmonium":
        rounds.append([r["best"], float("inf")])
    elif rounds:
        rounds[-1][1] = min(rounds[-1][1], r["best"])
ratios = sorted(hr / pr for hr, pr in rounds)
mid = len(ratios) // 2
med = ratios[mid] if len(ratios) % 2 else (ratios[mid - 1] + ratios[mid]) / 2
print()
print("per round harmonium/PyTorch: %s; median %.2f" % (" ".join("%.2f" % x for x in (hr / pr for hr, pr in rounds)), med))
EOF
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
