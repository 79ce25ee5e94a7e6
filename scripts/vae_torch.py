#!/usr/bin/python3
"""Train PyTorch's own MNIST VAE example on the CPU and time its epochs.

The reference point for `harmonium ae train --kind vae --layers 400 --code 20
--batch 128 --optimizer adam --lr 0.001`: a line-for-line replica of
pytorch/examples vae/main.py, without torchvision:

  encoder  fc1 Linear(784, 400), ReLU; fc21 and fc22 Linear(400, 20) give
           the mean mu and the log-variance logvar of q(z|x)
  sample   z = mu + eps * exp(0.5 * logvar), eps ~ N(0, 1), at training and
           at test time alike (one sample per image)
  decoder  fc3 Linear(20, 400), ReLU, fc4 Linear(400, 784), sigmoid
  loss     binary cross-entropy summed over pixels and minibatch, plus the
           KL divergence -0.5 * sum(1 + logvar - mu^2 - exp(logvar))
  training Adam (lr 1e-3, PyTorch's betas), minibatch 128, the training set
           reshuffled each epoch (the last minibatch is partial), pixels / 255
           used as Bernoulli means (not binarised), PyTorch's default
           initialisation.

train_loss is the summed loss over the epoch / 60,000, as the example prints;
test_loss is the summed loss over the 10,000 test images / 10,000 (nats per
image), after each epoch, in minibatches of --batch, as the example computes
it. The epoch time covers the shuffle, the minibatch gathering, forward,
backward and the optimiser steps; loading and the test pass are not timed.

--iwae K adds, after training, the importance-sampled estimate of the test
log-likelihood (the IWAE bound with K samples of q(z|x) per image,
log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x), by logsumexp) on the first
--iwae-n test images, as "iwae_log_likelihood" (mean nats per image).
p(x|z) is the Bernoulli likelihood of the continuous pixel values, as in the
loss (computed from the logits, so without the loss's clamp of log at -100).

Run with Debian's Python, which has python3-torch:
    /usr/bin/python3 scripts/vae_torch.py [DATA_DIR] [--epochs 10] [--threads N] [--iwae K]
Prints one JSON line with the losses and timings; progress goes to stderr.
With --threads other than 1 the script sets OMP_WAIT_POLICY=PASSIVE unless
it is set (libgomp's spinning fights for the cores on a busy machine).
"""

import argparse
import json
import math
import os
import sys
import time

import torchside

NAME = "vae_torch.py"

# Rows (images x importance samples) put through the network at once by --iwae.
IWAE_CHUNK_ROWS = 100000


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", nargs="?", default=torchside.DEFAULT_DATA, help="folder with the MNIST IDX files (default %(default)s)")
    p.add_argument("--epochs", type=int, default=10, help="training epochs (default %(default)s)")
    p.add_argument("--batch", type=int, default=128, help="minibatch size (default %(default)s)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate (default %(default)s)")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave the default)")
    p.add_argument("--seed", type=int, default=1, help="torch.manual_seed (default %(default)s)")
    p.add_argument("--iwae", type=int, default=0, metavar="K",
                   help="after training, estimate the test log-likelihood with K importance samples per image (0: off)")
    p.add_argument("--iwae-n", type=int, default=1000, metavar="N",
                   help="test images (the first N) for --iwae (default %(default)s)")
    a = p.parse_args()
    torchside.require_positive(p, a, ("epochs", "batch", "iwae_n"))
    if not a.lr > 0:
        p.error("--lr must be positive")
    if a.threads < 0:
        p.error("--threads must not be negative")
    if a.iwae < 0:
        p.error("--iwae must not be negative")
    return a


ARGS = parse_args()
np, torch = torchside.import_torch(NAME, ARGS.threads)  # sets the thread variables first
from torch import nn  # noqa: E402 (after import_torch)
from torch.nn import functional as F  # noqa: E402


def read_images(path):
    """The images of an IDX file as float32 rows of pixel / 255; they must be 28x28."""
    return torchside.read_images(path, NAME, size=(28, 28), user="the example's VAE")


class VAE(nn.Module):
    """pytorch/examples vae/main.py's model."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode_logits(self, z):
        return self.fc4(F.relu(self.fc3(z)))

    def decode(self, z):
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    """Reconstruction + KL divergence summed over all elements and the batch, as the example's."""
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def test_loss(model, X, batch):
    """The example's test(): the summed single-sample loss over X / len(X)."""
    model.eval()
    total = 0.0
    with torch.no_grad():
        for lo in range(0, X.shape[0], batch):
            data = X[lo:lo + batch]
            recon, mu, logvar = model(data)
            total += loss_function(recon, data, mu, logvar).item()
    return total / X.shape[0]


def iwae_log_likelihood(model, X, k):
    """Mean over the rows of X of log (1/k) sum_j p(x|z_j) p(z_j) / q(z_j|x), z_j ~ q(z|x)."""
    model.eval()
    per_chunk = max(1, IWAE_CHUNK_ROWS // k)  # images per chunk
    per_draw = min(k, IWAE_CHUNK_ROWS)  # samples of one image per pass when k is larger than a chunk
    total = 0.0
    with torch.no_grad():
        for lo in range(0, X.shape[0], per_chunk):
            x = X[lo:lo + per_chunk]
            n = x.shape[0]
            mu, logvar = model.encode(x)
            std = torch.exp(0.5 * logvar)
            logw = torch.empty(n, k)
            for s in range(0, k, per_draw):
                m = min(per_draw, k - s)
                eps = torch.randn(n, m, mu.shape[1])
                z = mu.unsqueeze(1) + eps * std.unsqueeze(1)  # n x m x 20
                logits = model.decode_logits(z.reshape(n * m, -1))
                xr = x.unsqueeze(1).expand(n, m, x.shape[1]).reshape(n * m, -1)
                log_px = -F.binary_cross_entropy_with_logits(logits, xr, reduction="none").sum(1).view(n, m)
                # log p(z) - log q(z|x): the 2 pi terms cancel, and (z - mu) / std = eps.
                log_pz = -0.5 * z.pow(2).sum(2)
                log_qz = -0.5 * eps.pow(2).sum(2) - 0.5 * logvar.sum(1, keepdim=True)
                logw[:, s:s + m] = log_px + log_pz - log_qz
            ll = torch.logsumexp(logw.double(), dim=1) - math.log(k)
            total += ll.sum().item()
    return total / X.shape[0]


def main():
    a = ARGS
    t0 = time.perf_counter()
    x_train = read_images(torchside.find_idx(a.data, "train-images-idx3-ubyte", NAME))
    x_test = read_images(torchside.find_idx(a.data, "t10k-images-idx3-ubyte", NAME))
    print("loaded %d training and %d test images in %.1f s" % (x_train.shape[0], x_test.shape[0], time.perf_counter() - t0),
          file=sys.stderr)

    torch.manual_seed(a.seed)
    X, XT = torch.from_numpy(x_train), torch.from_numpy(x_test)
    n = X.shape[0]
    model = VAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=a.lr)
    epochs = []
    for epoch in range(1, a.epochs + 1):
        model.train()
        start = time.perf_counter()
        perm = torch.randperm(n)
        train_loss = 0.0
        for lo in range(0, n, a.batch):
            data = X.index_select(0, perm[lo:lo + a.batch])
            optimizer.zero_grad()
            recon, mu, logvar = model(data)
            loss = loss_function(recon, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
        secs = time.perf_counter() - start
        tl = test_loss(model, XT, a.batch)
        epochs.append({"epoch": epoch, "train_loss": train_loss / n, "test_loss": tl, "seconds": secs})
        print("epoch %d: %.3f s, average loss %.4f, test loss %.4f" % (epoch, secs, train_loss / n, tl), file=sys.stderr)

    out = {
        "framework": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "epochs": epochs, "best_epoch_seconds": min(e["seconds"] for e in epochs),
        "final_test_loss": epochs[-1]["test_loss"],
        "batch": a.batch, "lr": a.lr, "seed": a.seed, "train_images": n, "test_images": XT.shape[0],
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }
    if a.iwae:
        m = min(a.iwae_n, XT.shape[0])
        t0 = time.perf_counter()
        ll = iwae_log_likelihood(model, XT[:m], a.iwae)
        print("IWAE log-likelihood, %d samples on %d test images: %.4f (%.1f s)" % (a.iwae, m, ll, time.perf_counter() - t0),
              file=sys.stderr)
        out.update({"iwae_log_likelihood": ll, "iwae_samples": a.iwae, "iwae_images": m})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
