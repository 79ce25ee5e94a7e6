"""What the PyTorch side-by-side scripts share: threads, imports, MNIST files.

vae_torch.py, nn_torch.py and pytorch_cd1.py time PyTorch beside harmonium.
They are run as `/usr/bin/python3 scripts/X.py`, so the scripts folder is
sys.path[0] and `import torchside` finds this module. Each passes its own
file name as `script`, which starts every message it exits with.

Order matters: OpenBLAS, libgomp and MKL read their thread variables when
they are loaded, which happens when numpy or torch is first imported. A
script therefore parses its arguments (--help works without torch) and
then calls import_torch, which sets the variables (set_threads) before it
imports. This module imports neither numpy nor torch when it is imported;
read_images and read_labels import numpy when they are called, after
import_torch has.
"""

import gzip
import os
import struct
import sys

# The scripts' default MNIST folder: ../shared/data/mnist beside the repository.
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "mnist"))

# The variables set_threads sets by default.
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

IMAGE_MAGIC = 2051  # IDX, unsigned bytes, 3 dimensions
LABEL_MAGIC = 2049  # IDX, unsigned bytes, 1 dimension


def require_positive(parser, args, names):
    """parser.error unless each of the args attributes names is positive (--name, - for _)."""
    for k in names:
        if getattr(args, k) <= 0:
            parser.error("--%s must be positive" % k.replace("_", "-"))


def set_threads(threads, variables=THREAD_VARS):
    """Set the thread environment for --threads; import_torch calls it.

    threads > 0 sets each of variables to it (0 leaves them as inherited).
    Unless threads is 1, OMP_WAIT_POLICY becomes PASSIVE if it is not set:
    with several threads, libgomp's default of spinning while idle steals
    the cores from OpenBLAS's threads during the products (on a loaded
    2-core machine a CD-1 epoch went from 3.6 s to over 50 s); passive
    waiting is PyTorch's best setting here. An explicit OMP_WAIT_POLICY wins.
    """
    for mod in ("numpy", "torch"):
        if mod in sys.modules:
            raise RuntimeError("torchside.set_threads: %s is already imported, so its threads are fixed" % mod)
    if threads:
        for var in variables:
            os.environ[var] = str(threads)
    if threads != 1:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def import_torch(script, threads, variables=THREAD_VARS):
    """set_threads(threads, variables), then import numpy and torch; return (numpy, torch).

    If either is missing, exit naming Debian's packages and /usr/bin/python3
    (a pyenv or venv python3 on PATH does not see them). threads > 0 is also
    passed to torch.set_num_threads (0 leaves torch's default).
    """
    set_threads(threads, variables)
    try:
        import numpy
        import torch
    except ImportError as e:
        sys.exit("%s: %s (%s)\ninstall Debian's PyTorch: apt-get install -y python3-torch python3-numpy, "
                 "and run this script with /usr/bin/python3" % (script, e, sys.executable))
    if threads:
        torch.set_num_threads(threads)
    return numpy, torch


def find_idx(folder, stem, script):
    """The path of the IDX file stem in folder, raw or gzipped (stem.gz); exits if neither is there."""
    for name in (stem, stem + ".gz"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return path
    sys.exit("%s: no %s or %s.gz in %s" % (script, stem, stem, folder))


def _read_idx(path, script, magic, dims, what):
    """The bytes of an IDX file (gunzipped if path ends in .gz), its sizes and the data's offset.

    Exits unless the file is long enough for a header of the magic number and
    dims sizes, and the magic number is magic.
    """
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    head = 4 * (1 + dims)
    if len(raw) < head:
        sys.exit("%s: %s is too short for an IDX %s file" % (script, path, what))
    fields = struct.unpack(">%dI" % (1 + dims), raw[:head])
    if fields[0] != magic:
        sys.exit("%s: %s is not an IDX %s file (magic %d)" % (script, path, what, fields[0]))
    return raw, fields[1:], head


def read_images(path, script, size=None, user=None):
    """The images of an IDX image file as float32 rows of pixel / 255.

    Exits if the file is shorter than its header says. size (rows, cols), if
    given, is the image size the caller takes: a file with another number of
    pixels per image exits, naming user.
    """
    raw, (n, rows, cols), head = _read_idx(path, script, IMAGE_MAGIC, 3, "image")
    if size is not None and rows * cols != size[0] * size[1]:
        sys.exit("%s: %s has %dx%d images; %s takes %dx%d" % (script, path, rows, cols, user, size[0], size[1]))
    if len(raw) < head + n * rows * cols:
        sys.exit("%s: %s is truncated" % (script, path))
    import numpy as np  # here, not at the top: see the module's docstring
    x = np.frombuffer(raw, dtype=np.uint8, count=n * rows * cols, offset=head)
    return x.reshape(n, rows * cols).astype(np.float32) / np.float32(255)


def read_labels(path, script):
    """The labels of an IDX label file as an int64 vector; exits if the file is shorter than its header says."""
    raw, (n,), head = _read_idx(path, script, LABEL_MAGIC, 1, "label")
    if len(raw) < head + n:
        sys.exit("%s: %s is truncated" % (script, path))
    import numpy as np  # here, not at the top: see the module's docstring
    return np.frombuffer(raw, dtype=np.uint8, count=n, offset=head).astype(np.int64)
