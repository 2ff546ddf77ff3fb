"""Data sets: the 8x8 digits shipped with emu, synthetic problems with a known optimum, MNIST-layout
IDX files (MNIST, Fashion-MNIST), and user data from .npz / .csv files. No downloads, ever.

``load_split(spec)`` gives a training set and a held-out test set (or None); ``load(spec)`` the
training set alone. The splits are fixed (docs/semantics.md §11):

  digits          a permutation from numpy default_rng(0) of the 1,797 samples: the first
                  1,438 (80%, rounded) train, the last 359 test
  least_squares,  the test set is drawn from the same model (the same w*) with numpy
  logistic        default_rng((seed, 1)) instead of the training set's default_rng(seed)
  mnist:DIR,      train-* files train, t10k-* files test (no t10k files: no test set)
  fashion-mnist
  FILE.npz        arrays X, y train; X_test, y_test (optional) test
  FILE.csv        training data only
"""

from __future__ import annotations

import gzip
import math
import os
import re
import warnings
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..validate import optional_integer

DATA_DIR = Path(__file__).parent / "data"
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist
DIGITS_SPLIT_SEED = 0      # numpy default_rng seed of the digits' permutation
DIGITS_TRAIN_SHARE = 0.8   # the first 80% of that permutation train, the rest test
TEST_STREAM = 1            # synthetic test sets: default_rng((seed, TEST_STREAM))
NAMES = ("digits", "least_squares", "logistic", "fashion-mnist")


@dataclass
class Dataset:
    X: np.ndarray          # (n, d) float64 features
    y: np.ndarray          # (n,) int labels (classification) or float targets (regression)
    name: str
    n_classes: int = 0     # 0 for regression

    def __len__(self) -> int:
        return len(self.X)

    def first(self, n: int) -> Dataset:
        """The first ``n`` samples (the class count kept)."""
        return replace(self, X=self.X[:n], y=self.y[:n], name=f"{self.name}[:{n}]")


def digits() -> Dataset:
    """The UCI 8x8 digits (1,797 samples; see data/DIGITS_LICENSE.md), pixels scaled to [0, 1],
    all of them in file order (``digits_split`` for the train/test split)."""
    with gzip.open(DATA_DIR / "digits.csv.gz", "rt") as f:
        raw = np.loadtxt(f, delimiter=",")
    return Dataset(raw[:, :-1] / 16.0, raw[:, -1].astype(np.int64), "digits", 10)


def digits_split() -> tuple[Dataset, Dataset]:
    """The digits' fixed split: perm = numpy default_rng(0).permutation(1797); samples perm[:1438]
    (80%, rounded) train, perm[1438:] (359) test."""
    d = digits()
    perm = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(d))
    k = round(DIGITS_TRAIN_SHARE * len(d))
    return (Dataset(d.X[perm[:k]], d.y[perm[:k]], "digits-train", 10),
            Dataset(d.X[perm[k:]], d.y[perm[k:]], "digits-test", 10))


def _least_squares(n: int, d: int, cond: float, seed: int, n_test: int):
    rng = np.random.default_rng(seed)
    q1, _ = np.linalg.qr(rng.standard_normal((n, d)))
    q2, _ = np.linalg.qr(rng.standard_normal((d, d)))
    s = np.geomspace(1.0, 1.0 / cond, d) * np.sqrt(n)
    X = (q1 * s) @ q2
    w = rng.uniform(-1, 1, d)
    name = f"least_squares(cond={cond})"
    if not n_test:
        return Dataset(X, X @ w, name), None
    # held out: rows z diag(s) q2 / sqrt(n), z standard normal (X's rows q1_i diag(s) q2 have
    # that covariance), from the test stream; the same w*
    z = np.random.default_rng((seed, TEST_STREAM)).standard_normal((n_test, d))
    Xt = (z * s / np.sqrt(n)) @ q2
    return Dataset(X, X @ w, name), Dataset(Xt, Xt @ w, name + "-test")


def synthetic_least_squares(n: int = 256, d: int = 8, cond: float = 10.0, seed: int = 0) -> Dataset:
    """y = X w* + noise-free, X with singular values spread geometrically over [1, cond]
    (so the PL constant is known: mu = 1/cond^2 relative to L = 1 for f = |Xw - y|^2 / (2 n'))."""
    return _least_squares(n, d, cond, seed, 0)[0]


def _logistic(n: int, d: int, seed: int, n_test: int):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.uniform(-1, 1, d)
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ w))).astype(np.int64)
    if not n_test:
        return Dataset(X, y, "logistic", 2), None
    rt = np.random.default_rng((seed, TEST_STREAM))  # the same w*, fresh samples
    Xt = rt.standard_normal((n_test, d))
    yt = (rt.random(n_test) < 1 / (1 + np.exp(-Xt @ w))).astype(np.int64)
    return Dataset(X, y, "logistic", 2), Dataset(Xt, yt, "logistic-test", 2)


def synthetic_logistic(n: int = 512, d: int = 8, seed: int = 0) -> Dataset:
    """X standard normal, y ~ Bernoulli(sigmoid(X w*)), w* uniform in [-1, 1]^d."""
    return _logistic(n, d, seed, 0)[0]


def load(spec: str) -> Dataset:
    """The training set of ``load_split(spec)``."""
    return load_split(spec)[0]


def load_split(spec: str, train_size: int | None = None,
               test_size: int | None = None) -> tuple[Dataset, Dataset | None]:
    """(training set, test set or None) of 'digits', 'least_squares', 'logistic',
    'fashion-mnist', 'mnist:DIR' (local IDX files), or a path to .npz (arrays X and y, optionally
    X_test and y_test) / .csv (label in the last column; no test set); the splits are the
    module's. ``train_size`` / ``test_size``: only the first N samples of each (for quick runs).
    Errors name the file or option and the problem."""
    train_size = optional_integer(train_size, "train_size", 1)
    test_size = optional_integer(test_size, "test_size", 1)
    if spec == "fashion-mnist":
        if not (FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").exists():
            raise ValueError(f"fashion-mnist: not found in {FASHION_MNIST_DIR}; install it with "
                             "apt-get install dataset-fashion-mnist, or give mnist:DIR")
        train, test = mnist_split(FASHION_MNIST_DIR, train_size, test_size, "fashion-mnist")
    elif spec.startswith("mnist:"):
        directory = spec[len("mnist:"):]
        if not directory.strip():
            raise ValueError(f"data = {spec!r}: mnist: needs a directory (mnist:DIR, e.g. "
                             "mnist:~/mnist)")
        train, test = mnist_split(Path(directory).expanduser(), train_size, test_size)
    else:
        train, test = _split(spec)
    for ds, n, opt in ((train, train_size, "train_size"), (test, test_size, "test_size")):
        if n is not None and ds is None:
            raise ValueError(f"{opt} = {n}: {spec} has no test set")
        if n is not None and n > len(ds):
            raise ValueError(f"{opt} = {n}: {ds.name} has only {len(ds)} samples")
    return (train.first(train_size) if train_size and train_size < len(train) else train,
            test.first(test_size) if test_size and test_size < len(test) else test)


def _split(spec: str) -> tuple[Dataset, Dataset | None]:
    if spec == "digits":
        return digits_split()
    if spec == "least_squares":
        return _least_squares(256, 8, 10.0, 0, 256)
    if spec == "logistic":
        return _logistic(512, 8, 0, 512)
    if not spec.strip():
        raise ValueError(f"data = {spec!r}: needs a name or a file; use {', '.join(NAMES)}, "
                         "mnist:DIR, or a .npz/.csv file")
    path = Path(spec).expanduser()
    if not path.exists():
        raise ValueError(f"unknown data {spec!r}: use {', '.join(NAMES)}, mnist:DIR, or a "
                         ".npz/.csv file")
    if path.suffix == ".npz":
        return _npz(path)
    if path.suffix == ".csv":
        return _csv(path), None
    raise ValueError(f"{path}: unsupported file type (use .npz or .csv)")


def _csv(path: Path) -> Dataset:
    """A CSV of numbers, one sample a row, the label (or target) last; errors in emu's words."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # numpy's "input contained no data"
            raw = np.loadtxt(path, delimiter=",", ndmin=2)
    except OSError as err:
        raise ValueError(f"{path}: {err.strerror or err}") from None
    except ValueError as err:
        m = re.match(r"the number of columns changed from (\d+) to (\d+) at row (\d+)", str(err))
        if m:
            raise ValueError(f"{path}: row {m[3]} has {m[2]} columns, the rows before it {m[1]} "
                             "(every row: the features, then the label)") from None
        raise ValueError(f"{path}: {str(err).split('; use', 1)[0]}") from None
    if raw.size == 0:
        raise ValueError(f"{path}: no data (an empty file? every row: the features, then the "
                         "label)")
    if raw.shape[1] < 2:
        raise ValueError(f"{path}: {raw.shape[1]} column; needs the features, then the label "
                         "(2 columns or more)")
    return dataset(raw[:, :-1], raw[:, -1], path.name, str(path))



def _npz(path: Path) -> tuple[Dataset, Dataset | None]:
    """X and y, and X_test and y_test when the archive has them."""
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise ValueError(f"{path}: not an .npz archive (a single array? save X and y with "
                             "numpy.savez)")
        with z:
            if "X" not in z or "y" not in z:
                raise ValueError(f"{path}: needs arrays named X and y (has {', '.join(z.files)})")
            if ("X_test" in z) != ("y_test" in z):
                raise ValueError(f"{path}: a test set needs both X_test and y_test (has "
                                 f"{', '.join(z.files)})")
            arrays = {k: z[k] for k in ("X", "y", "X_test", "y_test") if k in z}
    except (OSError, EOFError, zipfile.BadZipFile, ValueError) as err:
        if str(err).startswith(str(path)):
            raise
        raise ValueError(f"{path}: not a readable .npz file ({err})") from None
    train = dataset(arrays["X"], arrays["y"], path.name, str(path))
    if "X_test" not in arrays:
        return train, None
    test = dataset(arrays["X_test"], arrays["y_test"], f"{path.name}-test",
                   f"{path} (X_test, y_test)")
    return _matched(train, test, str(path))


def _matched(train: Dataset, test: Dataset, where: str) -> tuple[Dataset, Dataset]:
    """A train/test pair with the same features and the same kind of targets; classifiers get
    the class count of both together."""
    if train.X.shape[1] != test.X.shape[1]:
        raise ValueError(f"{where}: X has {train.X.shape[1]} features but X_test "
                         f"{test.X.shape[1]}")
    for ds, name in ((train, "y"), (test, "y_test")):
        other = test if ds is train else train
        if other.n_classes and not ds.n_classes and np.all(np.mod(ds.y, 1) == 0):
            raise ValueError(f"{where}: {name} holds label {int(ds.y.min())}; class labels are "
                             "whole numbers >= 0")
    if bool(train.n_classes) != bool(test.n_classes):
        kind = {True: "class labels", False: "regression targets"}
        raise ValueError(f"{where}: y holds {kind[bool(train.n_classes)]} but y_test "
                         f"{kind[bool(test.n_classes)]}")
    c = max(train.n_classes, test.n_classes)
    return replace(train, n_classes=c), replace(test, n_classes=c)


MAX_CLASSES = 4096


def dataset(X, y, name: str, where: str, n_classes: int | None = None) -> Dataset:
    """A checked Dataset: X an (n, d) array of finite numbers, y (n,) finite numbers; integer
    labels >= 0 make a classification problem with max(y) + 1 classes (at most MAX_CLASSES, or
    exactly ``n_classes``), any other targets a regression. Errors name ``where``."""
    X, y = np.asarray(X), np.asarray(y)
    for arr, what in ((X, "X"), (y, "y")):
        if arr.dtype.kind not in "fiu":
            raise ValueError(f"{where}: {what} must hold numbers, not {arr.dtype}")
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y) or not len(y) or not X.shape[1]:
        raise ValueError(f"{where}: X must be (n, d) and y (n,) with n, d >= 1, got {X.shape} and "
                         f"{y.shape}")
    X, y = X.astype(np.float64), y.astype(np.float64)
    for arr, what in ((X, "X"), (y, "y")):
        bad = np.flatnonzero(~np.isfinite(arr.reshape(-1)))
        if bad.size:
            raise ValueError(f"{where}: {what} holds a non-finite value (NaN or Inf) at flat index "
                             f"{bad[0]}")
    whole = bool(np.all(np.mod(y, 1) == 0))
    is_int = whole and y.min() >= 0
    if n_classes is not None:
        if not is_int or y.max() >= n_classes:
            found = ("a fraction" if not whole else
                     f"{int(y.min())}" if y.min() < 0 else f"{int(y.max())}")
            raise ValueError(f"{where}: labels must be whole numbers 0..{n_classes - 1} (found "
                             f"{found})")
    elif is_int:
        n_classes = int(y.max()) + 1
        if n_classes > MAX_CLASSES:
            raise ValueError(f"{where}: label {int(y.max())} implies {n_classes} classes (at most "
                             f"{MAX_CLASSES}); regression targets should not all be whole numbers")
    else:
        n_classes = 0
    return Dataset(X, y.astype(np.int64) if n_classes else y, name, n_classes)


IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


IDX_CHUNK = 1 << 24  # bytes per read: memory follows the data actually there, not a header's claim


def _read_upto(f, n: int) -> bytes:
    """Up to ``n`` bytes of ``f``, read in chunks (a header claiming terabytes costs nothing
    until the bytes are really there)."""
    parts, got = [], 0
    while got < n:
        part = f.read(min(IDX_CHUNK, n - got))
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def read_idx(path: Path, limit: int | None = None) -> np.ndarray:
    """An IDX file (MNIST's format; optionally .gz): magic 0x0000, dtype byte, ndim, big-endian
    int32 dimensions, then the data; ``limit``: only the first ``limit`` items (read no
    further). The data the header claims is checked against the file (its size, or for .gz
    what decompresses) before it is used. Errors name the file."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            head = f.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0:
                raise ValueError(f"{path}: not an IDX file (bad magic number)")
            if head[2] not in IDX_DTYPES:
                raise ValueError(f"{path}: unknown IDX data type {head[2]:#x}")
            dtype = np.dtype(IDX_DTYPES[head[2]])
            raw_dims = f.read(4 * head[3])
            dims = [int.from_bytes(raw_dims[4 * i: 4 * i + 4], "big") for i in range(head[3])]
            if len(raw_dims) < 4 * head[3] or not dims:
                raise ValueError(f"{path}: IDX header cut short or without dimensions")
            if limit is not None and limit > dims[0]:
                raise ValueError(f"{path}: {limit} items asked for, the file has {dims[0]}")
            claimed = list(dims)
            if limit is not None:
                dims[0] = limit
            want = math.prod(dims) * dtype.itemsize
            if opener is open:  # a plain file's size says at once whether the data is there
                have = os.fstat(f.fileno()).st_size - 4 - 4 * head[3]
                if have < want:
                    raise ValueError(_short(path, claimed, dims, want, max(have, 0)))
            raw = _read_upto(f, want if limit is not None else want + 1)
    except OSError as err:  # gzip's BadGzipFile and EOFError of a cut .gz are OSError / EOFError
        raise ValueError(f"{path}: {err.strerror or err}") from None
    except EOFError as err:
        raise ValueError(f"{path}: truncated ({err})") from None
    if len(raw) < want:
        raise ValueError(_short(path, claimed, dims, want, len(raw)))
    if len(raw) > want:
        raise ValueError(f"{path}: more data than the header's dimensions {claimed} hold "
                         f"({want} bytes)")
    return np.frombuffer(raw, dtype=dtype).reshape(dims)


def _short(path: Path, claimed: list[int], dims: list[int], want: int, have: int) -> str:
    what = f"dimensions {claimed}" + (f" (the first {dims[0]} items: {want:,} bytes)"
                                      if dims != claimed else f" ({want:,} bytes of data)")
    return f"{path}: the IDX header claims {what}, the file holds only {have:,} bytes of data"


def _idx_paths(d: Path, prefix: str) -> list[Path | None]:
    """d/{prefix}-images-idx3-ubyte[.gz] and d/{prefix}-labels-idx1-ubyte[.gz] (None: absent)."""
    found = []
    for stem in (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"):
        found.append(next((d / n for n in (stem, stem + ".gz") if (d / n).exists()), None))
    return found


def mnist(directory: str | Path, split: str = "train", limit: int | None = None,
          name: str = "mnist") -> Dataset:
    """MNIST-layout IDX files in ``directory`` (split "train": train-images-idx3-ubyte[.gz] and
    train-labels-idx1-ubyte[.gz]; "test": t10k-*), pixels scaled to [0, 1]; ``limit``: the
    first ``limit`` images only. Nothing is downloaded."""
    d = Path(directory)
    prefix = "train" if split == "train" else "t10k"
    paths = _idx_paths(d, prefix)
    for p, kind in zip(paths, ("images-idx3", "labels-idx1"), strict=True):
        if p is None:
            raise ValueError(f"{d}: no {prefix}-{kind}-ubyte[.gz] (MNIST IDX files are not "
                             "downloaded by emu)")
    X, y = (read_idx(p, limit) for p in paths)
    if len(X) != len(y):
        raise ValueError(f"{d}: {len(X)} images but {len(y)} labels")
    return dataset(X.reshape(len(X), -1) / 255.0, y,
                   f"{name}-{split}" + (f"[:{limit}]" if limit else ""), str(d), n_classes=10)


def mnist_split(directory: str | Path, train_size: int | None = None,
                test_size: int | None = None, name: str = "mnist") -> tuple[Dataset, Dataset | None]:
    """(train-*, t10k-*) of an MNIST-layout directory, each limited to its first N images when
    given; no t10k files: no test set."""
    d = Path(directory)
    train = mnist(d, "train", train_size, name)
    if _idx_paths(d, "t10k") == [None, None]:
        return train, None
    return train, mnist(d, "test", test_size, name)
