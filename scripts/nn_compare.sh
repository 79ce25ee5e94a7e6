#!/usr/bin/env bash
# nn_compare.sh: seconds per training epoch of harmonium's neural networks
# beside PyTorch's (CPU, float32), measured in one go so that both see the
# same machine load.
#
# Both time the same thing for each architecture in ARCHS: the network of
# `harmonium nn train --arch A` with its recipe's settings (Adam, dropout,
# max-norm for mlp), minibatch BATCH, one epoch = 60,000 MNIST training
# images reshuffled; data loading untimed. harmonium runs
# `bench --arch A --json`; PyTorch runs scripts/nn_torch.py at each thread
# count in THREADS; the best thread count is the one that counts. The runs
# alternate (harmonium, PyTorch 1 thread, 2 threads) for ROUNDS rounds; each
# side's figure is its best epoch over all rounds.
#
# Usage: scripts/nn_compare.sh [--data DIR] [--archs "mlp:800,800 cnn"]
#            [--epochs N] [--rounds N] [--threads "1 2"] [--batch B] [--rows N]
# or the same through the environment (DATA, ARCHS, EPOCHS, ROUNDS, THREADS,
# BATCH, ROWS, PYTHON=/usr/bin/python3, TORCH_ENV="K=V ...", HARMONIUM_ENV="K=V ...").
# --rows cuts (or repeats) the epoch to N samples, for a quicker look; the
# table then gives seconds per N samples.
#
# Kernels: on an AVX-512 CPU harmonium picks OpenBLAS's SkylakeX kernels
# itself; PyTorch is given the same (OPENBLAS_CORETYPE=SkylakeX) and
# ATEN_CPU_CAPABILITY=avx512 unless TORCH_ENV sets them, so that it runs at
# its best. Its convolutions go through oneDNN (mkldnn) when available.
#
# Needs Go, OpenBLAS and Debian's PyTorch:
#   apt-get install -y python3-torch python3-numpy   (then use /usr/bin/python3)
set -euo pipefail

cd "$(dirname "$0")/.."

DATA=${DATA:-../shared/data/mnist}
ARCHS=${ARCHS:-"mlp:800,800 cnn"}
EPOCHS=${EPOCHS:-1}
ROUNDS=${ROUNDS:-1}
THREADS=${THREADS:-"1 2"}
BATCH=${BATCH:-100}
ROWS=${ROWS:-60000}
PYTHON=${PYTHON:-/usr/bin/python3}
TORCH_ENV=${TORCH_ENV:-}
HARMONIUM_ENV=${HARMONIUM_ENV:-}

die() { echo "nn_compare.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	--data) DATA=$2; shift 2 ;;
	--archs) ARCHS=$2; shift 2 ;;
	--epochs) EPOCHS=$2; shift 2 ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--threads) THREADS=$2; shift 2 ;;
	--batch) BATCH=$2; shift 2 ;;
	--rows) ROWS=$2; shift 2 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done

[ -d "$DATA" ] || die "no MNIST folder $DATA (pass --data DIR)"
"$PYTHON" -c 'import torch, numpy' 2>/dev/null || die "PyTorch (or numpy) is not importable by $PYTHON (apt-get install -y python3-torch python3-numpy; PYTHON=/usr/bin/python3)"

has() { case " $2 " in *" $1="*) return 0 ;; esac; return 1; }
if grep -qw avx512f /proc/cpuinfo && grep -qw avx512bw /proc/cpuinfo && grep -qw avx512dq /proc/cpuinfo && grep -qw avx512vl /proc/cpuinfo; then
	has OPENBLAS_CORETYPE "$TORCH_ENV" || TORCH_ENV="$TORCH_ENV OPENBLAS_CORETYPE=SkylakeX"
	has ATEN_CPU_CAPABILITY "$TORCH_ENV" || TORCH_ENV="$TORCH_ENV ATEN_CPU_CAPABILITY=avx512"
fi
TORCH_ENV=$(echo $TORCH_ENV)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "building harmonium..." >&2
go build -o "$tmp/harmonium" ./cmd/harmonium || die "go build failed"

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') ($(nproc) CPUs)"
echo "AVX flags: $(grep -o 'avx[^ ]*' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "harmonium extra env: ${HARMONIUM_ENV:-(none)}; PyTorch extra env: ${TORCH_ENV:-(none)}"
echo "epoch: $ROWS MNIST training samples, minibatch $BATCH; best of $ROUNDS round(s) of $EPOCHS epoch(s)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

results=$tmp/results
for arch in $ARCHS; do
	for round in $(seq 1 "$ROUNDS"); do
		echo "$arch round $round/$ROUNDS: harmonium" >&2
		# shellcheck disable=SC2086
		out=$(env $HARMONIUM_ENV "$tmp/harmonium" bench --data "$DATA" --arch "$arch" --epochs "$EPOCHS" --batch "$BATCH" --rows "$ROWS" --json) || die "harmonium bench failed"
		line=$(printf '%s\n' "$out" | grep '^{' | tail -1)
		printf '%s\tharmonium\t-\t%s\n' "$arch" "$line" >>"$results"
		for t in $THREADS; do
			echo "$arch round $round/$ROUNDS: PyTorch, $t thread(s)" >&2
			# shellcheck disable=SC2086
			out=$(env $TORCH_ENV "$PYTHON" scripts/nn_torch.py "$DATA" --arch "$arch" --epochs "$EPOCHS" --batch "$BATCH" --rows "$ROWS" --threads "$t") || die "nn_torch.py failed"
			line=$(printf '%s\n' "$out" | grep '^{' | tail -1)
			printf '%s\tpytorch\t%s\t%s\n' "$arch" "$t" "$line" >>"$results"
		done
	done
done

"$PYTHON" - "$results" <<'PY'
import json, sys
rows = [ln.rstrip("\n").split("\t", 3) for ln in open(sys.argv[1])]
archs = []
for a, *_ in rows:
    if a not in archs:
        archs.append(a)
print("| architecture | harmonium s/epoch | PyTorch s/epoch by threads | PyTorch best | harmonium/PyTorch |")
print("|---|---|---|---|---|")
for a in archs:
    h = min(json.loads(js)["best"] for arch, impl, _, js in rows if arch == a and impl == "harmonium")
    per_t = {}
    for arch, impl, t, js in rows:
        if arch == a and impl == "pytorch":
            per_t[t] = min(per_t.get(t, float("inf")), json.loads(js)["best"])
    bt = min(per_t, key=per_t.get)
    by = ", ".join("%s: %.2f" % kv for kv in sorted(per_t.items()))
    print("| %s | %.2f | %s | %.2f (%s thread%s) | %.2f |" % (a, h, by, per_t[bt], bt, "" if bt == "1" else "s", h / per_t[bt]))
PY
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
