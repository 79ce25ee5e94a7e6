#!/usr/bin/python3
"""Time training epochs of harmonium's nn recipes in PyTorch (CPU, float32).

The reference point for `harmonium bench --arch mlp:800,800|cnn`: the same
architecture, initialisation scheme, optimiser, regularisation, minibatch
size and epoch definition, as `harmonium nn train` uses by default:

  mlp:H1,H2,...  dropout 0.2 on the input; per hidden size a Linear layer,
                 ReLU and dropout 0.5; a Linear output layer. Adam (lr 0.001,
                 PyTorch's betas), max-norm 3.5 on every unit's incoming
                 weights after each step.
  cnn            Conv2d(1, 32, 5, padding 2), ReLU, MaxPool2d(2),
                 Conv2d(32, 64, 5, padding 2), ReLU, MaxPool2d(2), Flatten,
                 Linear(3136, 1024), ReLU, Dropout(0.5), Linear(1024, 10).
                 Adam (lr 0.001).

One epoch = the MNIST training images (repeated or cut to --rows)
reshuffled and run in minibatches of --batch: forward, softmax cross-entropy,
backward, optimiser step (and max-norm). The epoch time covers the shuffle
and the minibatch gathering, as harmonium's does; loading is not timed.

Run with Debian's Python, which has python3-torch:
    /usr/bin/python3 scripts/nn_torch.py [DATA_DIR] --arch cnn [--epochs 1] [--threads N]
Prints one JSON line with the timings; progress goes to stderr.
With --threads other than 1 the script sets OMP_WAIT_POLICY=PASSIVE unless
it is set (libgomp's spinning fights for the cores on a busy machine).
"""

import argparse
import json
import os
import statistics
import sys
import time

import torchside

NAME = "nn_torch.py"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", nargs="?", default=torchside.DEFAULT_DATA, help="folder with the MNIST IDX files (default %(default)s)")
    p.add_argument("--arch", default="cnn", help="mlp:H1,H2,... or cnn (default %(default)s)")
    p.add_argument("--epochs", type=int, default=1, help="epochs to time (default %(default)s)")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave the default)")
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--rows", type=int, default=60000, help="samples per epoch: the data is repeated or cut to this many")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    torchside.require_positive(p, a, ("epochs", "batch", "rows"))
    if a.threads < 0:
        p.error("--threads must not be negative")
    if a.arch != "cnn" and not a.arch.startswith("mlp:"):
        p.error("--arch must be mlp:H1,H2,... or cnn")
    return a


ARGS = parse_args()
np, torch = torchside.import_torch(NAME, ARGS.threads)  # sets the thread variables first
from torch import nn  # noqa: E402 (after import_torch)


def build(arch, classes):
    """The network and the max-norm bound (0: none)."""
    if arch == "cnn":
        net = nn.Sequential(
            nn.Unflatten(1, (1, 28, 28)),
            nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 1024), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(1024, classes))
        return net, 0.0
    sizes = [int(h) for h in arch.split(":", 1)[1].split(",") if h.strip()]
    layers, n = [nn.Dropout(0.2)], 784
    for h in sizes:
        layers += [nn.Linear(n, h), nn.ReLU(), nn.Dropout(0.5)]
        n = h
    layers.append(nn.Linear(n, classes))
    return nn.Sequential(*layers), 3.5


def init(net):
    """He initialisation for the ReLU layers and Xavier for the output, as harmonium's recipes."""
    mods = [m for m in net if isinstance(m, (nn.Linear, nn.Conv2d))]
    for i, m in enumerate(mods):
        if i == len(mods) - 1:
            nn.init.xavier_uniform_(m.weight)
        else:
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        nn.init.zeros_(m.bias)


def main():
    a = ARGS
    t0 = time.perf_counter()
    x_np = torchside.read_images(torchside.find_idx(a.data, "train-images-idx3-ubyte", NAME), NAME)
    y_np = torchside.read_labels(torchside.find_idx(a.data, "train-labels-idx1-ubyte", NAME), NAME)
    reps = -(-a.rows // x_np.shape[0])
    x_np = np.ascontiguousarray(np.tile(x_np, (reps, 1))[: a.rows])
    y_np = np.ascontiguousarray(np.tile(y_np, reps)[: a.rows])
    print("loaded %d x %d in %.1f s" % (x_np.shape + (time.perf_counter() - t0,)), file=sys.stderr)

    torch.manual_seed(a.seed)
    X, Y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    n = X.shape[0]
    net, max_norm = build(a.arch, int(Y.max()) + 1)
    init(net)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    loss_fn = nn.CrossEntropyLoss()
    weights = [m.weight for m in net if isinstance(m, nn.Linear)]
    secs, losses = [], []
    for epoch in range(a.epochs):
        start = time.perf_counter()
        perm = torch.randperm(n)
        total = 0.0
        for lo in range(0, n, a.batch):
            idx = perm[lo:lo + a.batch]
            xb, yb = X.index_select(0, idx), Y.index_select(0, idx)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(xb), yb)
            loss.backward()
            opt.step()
            if max_norm > 0:
                with torch.no_grad():
                    for w in weights:  # rows of a Linear weight are the units' incoming weights
                        w.copy_(torch.renorm(w, 2, 0, max_norm))
            total += loss.item() * len(idx)
        secs.append(time.perf_counter() - start)
        losses.append(total / n)
        print("epoch %d: %.3f s, loss %.4f" % (epoch + 1, secs[-1], losses[-1]), file=sys.stderr)
    print(json.dumps({
        "arch": a.arch, "threads": torch.get_num_threads(), "seconds_per_epoch": secs, "best": min(secs),
        "median": statistics.median(secs), "loss": losses, "batch": a.batch, "rows": n, "torch": torch.__version__,
        "mkldnn": torch.backends.mkldnn.is_available(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }))


if __name__ == "__main__":
    main()
