#!/usr/bin/python3
"""Time plain CD-1 epochs of a Bernoulli RBM in PyTorch (CPU, float32).

The reference point for `harmonium bench`: the same algorithm, sizes and
epoch definition, written the way PyTorch runs fastest (no autograd,
preallocated buffers, in-place and out= operations), so the comparison is
against PyTorch at its best rather than a naive port.

The algorithm matches rbm/train.go with bench's settings (CD-1, lr 0.1, no
momentum, no weight decay, probabilities for the reconstruction):

    per epoch: reshuffle the rows; for each minibatch v0 of 100 rows
      h0p = sigmoid(v0 W + c);  h0s ~ Bernoulli(h0p)
      vr  = sigmoid(h0s W' + b)                (probabilities, not samples)
      hp  = sigmoid(vr W + c)                  (probabilities)
      b  += lr/n * colsum(v0 - vr)
      c  += lr/n * colsum(h0p - hp)
      W  += lr/n * [v0; vr]' [h0p; -hp]        (= v0'h0p - vr'hp, one GEMM)
    reconstruction error = mean over the epoch's samples of sum (v0 - vr)^2

Initialisation as rbm.NewInit: W ~ N(0, 0.01^2), b = logit of the pixel
means (clipped to [0.001, 0.999]), c = 0. The epoch time covers the
shuffle, the minibatch gathering and the updates, as harmonium's does;
loading the data is not timed.

Run with Debian's Python, which has python3-torch:
    /usr/bin/python3 scripts/pytorch_cd1.py [DATA_DIR] [--epochs 3] [--threads N]
DATA_DIR holds the MNIST IDX files (train-images-idx3-ubyte, optionally
.gz); default ../shared/data/mnist relative to the repository root.
Prints one JSON line with the timings; progress goes to stderr.
With --threads other than 1 the script sets OMP_WAIT_POLICY=PASSIVE unless
it is set (libgomp's spinning fights OpenBLAS's threads for the cores).
ATEN_CPU_CAPABILITY=avx2 (or default, avx512) sets PyTorch's element-wise
kernels; OPENBLAS_CORETYPE=Haswell sets OpenBLAS's GEMM kernels (PyTorch's
Debian build does its matrix products through the system OpenBLAS).
"""

import argparse
import ctypes
import json
import os
import statistics
import sys
import time

import torchside

NAME = "pytorch_cd1.py"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", nargs="?", default=torchside.DEFAULT_DATA, help="folder with the MNIST IDX files (default %(default)s)")
    p.add_argument("--epochs", type=int, default=3, help="epochs to time (default %(default)s)")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads and OpenBLAS threads (0: leave the defaults)")
    p.add_argument("--hidden", type=int, default=500)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--rows", type=int, default=60000, help="samples per epoch: the data is repeated or cut to this many")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--sampler", choices=["rand", "bernoulli"], default="rand",
                   help="hidden sampling: rand = torch.rand + comparison (default), bernoulli = Tensor.bernoulli_")
    a = p.parse_args()
    torchside.require_positive(p, a, ("epochs", "hidden", "batch", "rows"))
    if a.threads < 0:
        p.error("--threads must not be negative")
    return a


ARGS = parse_args()
# OpenBLAS and libgomp read their thread variables when torch loads them, so
# import_torch sets them first. This script has always left MKL_NUM_THREADS alone.
np, torch = torchside.import_torch(NAME, ARGS.threads, ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"))


def openblas():
    """The OpenBLAS that torch's BLAS calls go to, or None."""
    try:
        return ctypes.CDLL("libopenblas.so.0")
    except OSError:
        return None


def cpu_capability():
    try:
        return torch.backends.cpu.get_cpu_capability()
    except AttributeError:
        pass
    # Older torch (Debian 12 has 1.13): the build summary names it.
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage:" in line:
            return line.split(":", 1)[1].strip()
    return None


def main():
    a = ARGS
    ob = openblas()
    if a.threads and ob is not None and hasattr(ob, "openblas_set_num_threads"):
        ob.openblas_set_num_threads(ctypes.c_int(a.threads))  # torch's own count: import_torch
    corename = None
    if ob is not None and hasattr(ob, "openblas_get_corename"):
        ob.openblas_get_corename.restype = ctypes.c_char_p
        corename = ob.openblas_get_corename().decode()
    ob_threads = None
    if ob is not None and hasattr(ob, "openblas_get_num_threads"):
        ob_threads = ob.openblas_get_num_threads()

    t0 = time.perf_counter()
    x_np = torchside.read_images(torchside.find_idx(a.data, "train-images-idx3-ubyte", NAME), NAME)
    reps = -(-a.rows // x_np.shape[0])
    x_np = np.ascontiguousarray(np.tile(x_np, (reps, 1))[: a.rows])
    print("loaded %d x %d in %.1f s" % (x_np.shape + (time.perf_counter() - t0,)), file=sys.stderr)

    torch.manual_seed(a.seed)
    X = torch.from_numpy(x_np)
    n, nv = X.shape
    nh, bs = a.hidden, min(a.batch, n)

    with torch.no_grad():
        W = torch.randn(nv, nh) * 0.01
        p = X.mean(0).clamp_(0.001, 0.999)
        b = torch.log(p / (1 - p))
        c = torch.zeros(nh)

        def buffers(m):
            vst, hst = torch.empty(2 * m, nv), torch.empty(2 * m, nh)
            return dict(vst=vst, hst=hst, v0=vst[:m], vr=vst[m:], h0p=hst[:m], hp=hst[m:],
                        h0s=torch.empty(m, nh), u=torch.empty(m, nh), mask=torch.empty(m, nh, dtype=torch.bool),
                        dv=torch.empty(m, nv), dh=torch.empty(m, nh))
        bufs = {}
        gb, gc = torch.empty(nv), torch.empty(nh)
        perm = torch.empty(n, dtype=torch.int64)
        Wt = W.t()  # a view: the products pass the transpose flag to BLAS

        secs, errs = [], []
        for epoch in range(a.epochs):
            start = time.perf_counter()
            torch.randperm(n, out=perm)
            err = 0.0
            for lo in range(0, n, bs):
                hi = min(lo + bs, n)
                m = hi - lo
                B = bufs.get(m) or bufs.setdefault(m, buffers(m))
                v0, vr, h0p, hp, h0s = B["v0"], B["vr"], B["h0p"], B["hp"], B["h0s"]
                scale = a.lr / m
                torch.index_select(X, 0, perm[lo:hi], out=v0)

                # Positive phase: h0p = p(h|v0), h0s ~ h0p.
                torch.addmm(c, v0, W, out=h0p)
                h0p.sigmoid_()
                if a.sampler == "rand":
                    torch.rand(m, nh, out=B["u"])
                    torch.lt(B["u"], h0p, out=B["mask"])
                    h0s.copy_(B["mask"])
                else:
                    h0s.bernoulli_(h0p)

                # Reconstruction p(v|h0) and the negative hidden probabilities.
                torch.addmm(b, h0s, Wt, out=vr)
                vr.sigmoid_()
                torch.addmm(c, vr, W, out=hp)
                hp.sigmoid_()

                # Bias updates and the reconstruction error.
                dv = torch.sub(v0, vr, out=B["dv"])
                flat = dv.view(-1)
                err += torch.dot(flat, flat).item()
                b.add_(torch.sum(dv, 0, out=gb), alpha=scale)
                c.add_(torch.sum(torch.sub(h0p, hp, out=B["dh"]), 0, out=gc), alpha=scale)

                # W += scale * (v0'h0p - vr'hp) as one GEMM over the stacked halves.
                hp.neg_()
                W.addmm_(B["vst"].t(), B["hst"], alpha=scale)
            secs.append(time.perf_counter() - start)
            errs.append(err / n)
            if not torch.isfinite(W).all():
                sys.exit(NAME + ": training diverged")
            print("epoch %d: %.3f s, reconstruction error %.3f" % (epoch + 1, secs[-1], errs[-1]), file=sys.stderr)

    srt = sorted(secs)
    print(json.dumps({
        "impl": "pytorch",
        "threads": torch.get_num_threads(),
        "openblas_threads": ob_threads,
        "seconds_per_epoch": [round(s, 4) for s in secs],
        "best": round(srt[0], 4),
        "median": round(statistics.median(secs), 4),
        "recon_error": [round(e, 3) for e in errs],
        "torch": torch.__version__,
        "cpu_capability": cpu_capability(),
        "openblas_core": corename,
        "sampler": a.sampler,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "gflop_per_epoch": round(10 * n * nv * nh / 1e9, 1),
    }))
    print("reconstruction error after %d epochs: %.3f (sum of squares per sample)" % (a.epochs, errs[-1]))


if __name__ == "__main__":
    main()
