#!/usr/bin/env bash
# vae_compare.sh: harmonium's variational autoencoder beside PyTorch's own
# VAE example (pytorch/examples vae/main.py), on the CPU, measured in one go
# so that both see the same machine load.
#
# Both train the same model the same way: 784-400-20 encoder (mean and
# log-variance), one reparameterised sample of z per image, 20-400-784
# sigmoid decoder, loss = binary cross-entropy of the pixel values / 255
# (summed over pixels) + KL divergence; Adam lr 0.001, minibatch 128, the
# 60,000 MNIST training images reshuffled each epoch, EPOCHS epochs; data
# loading and the test pass untimed. harmonium runs
#   bin/harmonium ae train --kind vae --layers 400 --code 20 ... --json
#   bin/harmonium ae eval --model M --data DATA --samples 0 --json   (test loss = -elbo)
# and PyTorch runs scripts/vae_torch.py at each thread count in THREADS; the
# best thread count (shortest epoch) is the one that counts. The table gives
# each side's best epoch time and final test loss (nats per test image), the
# ratio of the epoch times (harmonium / PyTorch; target <= 1, goal 0.65) and
# the difference of the test losses (harmonium - PyTorch; target <= +1 nat).
#
# Usage: scripts/vae_compare.sh [--data DIR] [--epochs N] [--threads "1 2"]
#            [--iwae K] [--iwae-n N] [--json]
# or the same through the environment (DATA, EPOCHS, THREADS, IWAE, IWAE_N,
# PYTHON=/usr/bin/python3, TORCH_ENV="K=V ...", HARMONIUM_ENV="K=V ...").
# --iwae K adds importance-sampled test log-likelihoods with K samples per
# image on the first --iwae-n test images (default 1000): harmonium's
# `ae eval --samples K --limit N --json` ("log_likelihood") and vae_torch.py's --iwae K.
# --json prints the whole result as one JSON object on stdout (the header
# then goes to stderr). HARMONIUM=path runs that binary instead of building
# bin/harmonium.
#
# Kernels: on an AVX-512 CPU harmonium picks OpenBLAS's SkylakeX kernels
# itself; PyTorch is given the same (OPENBLAS_CORETYPE=SkylakeX) and
# ATEN_CPU_CAPABILITY=avx512 unless TORCH_ENV sets them, so that it runs at
# its best.
#
# Needs Go, OpenBLAS and Debian's PyTorch:
#   apt-get install -y python3-torch python3-numpy   (then use /usr/bin/python3)
set -euo pipefail

cd "$(dirname "$0")/.."

DATA=${DATA:-../shared/data/mnist}
EPOCHS=${EPOCHS:-10}
THREADS=${THREADS:-"1 2"}
IWAE=${IWAE:-0}
IWAE_N=${IWAE_N:-1000}
PYTHON=${PYTHON:-/usr/bin/python3}
TORCH_ENV=${TORCH_ENV:-}
HARMONIUM_ENV=${HARMONIUM_ENV:-}
HARMONIUM=${HARMONIUM:-}
JSON=0

die() { echo "vae_compare.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	--data) DATA=$2; shift 2 ;;
	--epochs) EPOCHS=$2; shift 2 ;;
	--threads) THREADS=$2; shift 2 ;;
	--iwae) IWAE=$2; shift 2 ;;
	--iwae-n) IWAE_N=$2; shift 2 ;;
	--json) JSON=1; shift ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done

case $EPOCHS in ''|*[!0-9]*|0) die "--epochs must be a positive integer" ;; esac
case $IWAE in ''|*[!0-9]*) die "--iwae must be a non-negative integer" ;; esac
case $IWAE_N in ''|*[!0-9]*|0) die "--iwae-n must be a positive integer" ;; esac
[ -n "${THREADS// /}" ] || die "--threads needs at least one thread count"
[ -d "$DATA" ] || die "no MNIST folder $DATA (pass --data DIR)"
"$PYTHON" -c 'import torch, numpy' 2>/dev/null || die "PyTorch (or numpy) is not importable by $PYTHON (apt-get install -y python3-torch python3-numpy; PYTHON=/usr/bin/python3)"

has() { case " $2 " in *" $1="*) return 0 ;; esac; return 1; }
if grep -qw avx512f /proc/cpuinfo && grep -qw avx512bw /proc/cpuinfo && grep -qw avx512dq /proc/cpuinfo && grep -qw avx512vl /proc/cpuinfo; then
	has OPENBLAS_CORETYPE "$TORCH_ENV" || TORCH_ENV="$TORCH_ENV OPENBLAS_CORETYPE=SkylakeX"
	has ATEN_CPU_CAPABILITY "$TORCH_ENV" || TORCH_ENV="$TORCH_ENV ATEN_CPU_CAPABILITY=avx512"
fi
read -r -a torch_env <<<"$TORCH_ENV"
read -r -a harmonium_env <<<"$HARMONIUM_ENV"
TORCH_ENV=${torch_env[*]}

# say: the header, on stdout, or on stderr when stdout is for --json.
say() { if [ "$JSON" = 1 ]; then echo "$@" >&2; else echo "$@"; fi; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "$HARMONIUM" ]; then
	echo "building harmonium..." >&2
	go build -o bin/harmonium ./cmd/harmonium || die "go build failed"
	HARMONIUM=bin/harmonium
fi

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
avx=$(grep -o 'avx[^ ]*' /proc/cpuinfo | sort -u | tr '\n' ' ' | sed 's/ $//')
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
say "CPU: $cpu ($(nproc) CPUs)"
say "AVX flags: ${avx:-(none)}"
say "harmonium extra env: ${HARMONIUM_ENV:-(none)}; PyTorch extra env: ${TORCH_ENV:-(none)}"
say "VAE 784-400-20, Adam lr 0.001, minibatch 128, $EPOCHS epoch(s) of 60,000 MNIST training images"
say "load average at start: $load_start"
say

echo "harmonium: ae train, $EPOCHS epoch(s)" >&2
env ${harmonium_env[@]+"${harmonium_env[@]}"} "$HARMONIUM" ae train --kind vae --data "$DATA" --layers 400 --code 20 \
	--epochs "$EPOCHS" --batch 128 --optimizer adam --lr 0.001 --seed 1 --quiet --json \
	--out "$tmp/vae.safetensors" >"$tmp/h_train.json" || die "harmonium ae train failed"
echo "harmonium: ae eval" >&2
env ${harmonium_env[@]+"${harmonium_env[@]}"} "$HARMONIUM" ae eval --model "$tmp/vae.safetensors" --data "$DATA" --samples 0 --json \
	>"$tmp/h_eval.json" || die "harmonium ae eval failed"
if [ "$IWAE" -gt 0 ]; then
	echo "harmonium: ae eval --samples $IWAE" >&2
	env ${harmonium_env[@]+"${harmonium_env[@]}"} "$HARMONIUM" ae eval --model "$tmp/vae.safetensors" --data "$DATA" \
		--samples "$IWAE" --limit "$IWAE_N" --json >"$tmp/h_iwae.json" || die "harmonium ae eval --samples $IWAE failed"
fi

iwae_args=()
[ "$IWAE" -gt 0 ] && iwae_args=(--iwae "$IWAE" --iwae-n "$IWAE_N")
torch_files=()
for t in $THREADS; do
	echo "PyTorch: vae_torch.py, $t thread(s), $EPOCHS epoch(s)" >&2
	env ${torch_env[@]+"${torch_env[@]}"} "$PYTHON" scripts/vae_torch.py "$DATA" --epochs "$EPOCHS" --batch 128 --lr 0.001 \
		--seed 1 --threads "$t" ${iwae_args[@]+"${iwae_args[@]}"} >"$tmp/torch_$t.json" || die "vae_torch.py failed"
	torch_files+=("$tmp/torch_$t.json")
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

"$PYTHON" - "$JSON" "$tmp" "$IWAE" "$EPOCHS" "$cpu" "$avx" "$HARMONIUM_ENV" "$TORCH_ENV" "$load_start" "$load_end" \
	"${torch_files[@]}" <<'PY'
import json, os, sys

as_json, tmp, iwae, epochs, cpu, avx, h_env, t_env, load_start, load_end = sys.argv[1:11]
iwae, epochs = int(iwae), int(epochs)
torch_files = sys.argv[11:]


def load(path, what):
    """The JSON object a command printed: its whole output, or else its last line that is one."""
    text = open(path).read().strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                pass
    sys.exit("vae_compare.sh: %s printed no JSON object:\n%s" % (what, text[-2000:]))


def need(obj, key, what):
    if key not in obj:
        sys.exit("vae_compare.sh: %s printed no %r: %s" % (what, key, json.dumps(obj)[:2000]))
    return obj[key]


h_train = load(os.path.join(tmp, "h_train.json"), "harmonium ae train")
h_eval = load(os.path.join(tmp, "h_eval.json"), "harmonium ae eval")
h_epochs = need(h_train, "epochs", "harmonium ae train")
h = {
    "train": h_train, "eval": h_eval,
    "best_epoch_seconds": min(e["seconds"] for e in h_epochs),
    "final_train_loss": h_epochs[-1].get("loss"),
    "final_test_loss": -need(h_eval, "elbo", "harmonium ae eval"),
}
if iwae:
    h_iwae = load(os.path.join(tmp, "h_iwae.json"), "harmonium ae eval --samples")
    h["iwae_eval"] = h_iwae
    h["iwae_log_likelihood"] = need(h_iwae, "log_likelihood", "harmonium ae eval --samples")

torch_runs = [load(f, "vae_torch.py") for f in torch_files]
best = min(torch_runs, key=lambda r: r["best_epoch_seconds"])
ratio = h["best_epoch_seconds"] / best["best_epoch_seconds"]
diff = h["final_test_loss"] - best["final_test_loss"]
result = {
    "cpu": cpu, "avx_flags": avx.split(), "harmonium_env": h_env, "torch_env": t_env, "epochs": epochs,
    "load_average_start": load_start, "load_average_end": load_end,
    "harmonium": h, "pytorch": torch_runs, "pytorch_best_threads": best["threads"],
    "time_ratio": ratio, "test_loss_difference": diff,
    "targets": {"time_ratio": 1.0, "time_ratio_goal": 0.65, "test_loss_difference": 1.0},
    "time_ok": ratio <= 1.0, "loss_ok": diff <= 1.0,
}
if iwae:
    result["iwae_samples"] = iwae
    result["log_likelihood_difference"] = h["iwae_log_likelihood"] - best["iwae_log_likelihood"]
if as_json == "1":
    print(json.dumps(result))
    sys.exit(0)


def f2(v):
    return "-" if v is None else "%.2f" % v


head = "| side | threads | best epoch s | final train loss | final test loss (nats/image) |"
rule = "|---|---|---|---|---|"
if iwae:
    head += " IWAE log-likelihood (K=%d) |" % iwae
    rule += "---|"
print(head)
print(rule)
rows = [("harmonium", "-", h)] + [("PyTorch", str(r["threads"]), r) for r in torch_runs]
for side, threads, r in rows:
    train = r.get("final_train_loss")
    if train is None and r.get("epochs"):
        train = r["epochs"][-1].get("train_loss")
    line = "| %s | %s | %.3f | %s | %.2f |" % (side, threads, r["best_epoch_seconds"], f2(train), r["final_test_loss"])
    if iwae:
        n = r.get("iwae_images") if side == "PyTorch" else r["iwae_eval"].get("images")
        line += " %.2f%s |" % (r["iwae_log_likelihood"], "" if n is None else " (%s test images)" % n)
    print(line)
print()
bt = best["threads"]
print("harmonium / PyTorch (%d thread%s) epoch time: %.2f (target <= 1, goal 0.65): %s"
      % (bt, "" if bt == 1 else "s", ratio, "ok" if ratio <= 1 else "NOT MET"))
print("test loss harmonium - PyTorch: %+.2f nats/image (target <= +1): %s" % (diff, "ok" if diff <= 1 else "NOT MET"))
if iwae:
    print("IWAE log-likelihood harmonium - PyTorch: %+.2f nats/image (higher is better)" % result["log_likelihood_difference"])
PY
if [ "$JSON" = 1 ]; then echo "load average at end: $load_end" >&2; else echo "load average at end: $load_end"; fi
