"""Data sets: the 8x8 digits shipped with emu, synthetic problems with a known optimum, and user
data from .npz / .csv files. No downloads, ever."""

from __future__ import annotations

import gzip
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).parent / "data"


@dataclass
class Dataset:
    X: np.ndarray          # (n, d) float64 features
    y: np.ndarray          # (n,) int labels (classification) or float targets (regression)
    name: str
    n_classes: int = 0     # 0 for regression

    def __len__(self) -> int:
        return len(self.X)


def digits() -> Dataset:
    """The UCI 8x8 digits (1,797 samples; see data/DIGITS_LICENSE.md), pixels scaled to [0, 1]."""
    with gzip.open(DATA_DIR / "digits.csv.gz", "rt") as f:
        raw = np.loadtxt(f, delimiter=",")
    return Dataset(raw[:, :-1] / 16.0, raw[:, -1].astype(np.int64), "digits", 10)


def synthetic_least_squares(n: int = 256, d: int = 8, cond: float = 10.0, seed: int = 0) -> Dataset:
    """y = X w* + noise-free, X with singular values spread geometrically over [1, cond]
    (so the PL constant is known: mu = 1/cond^2 relative to L = 1 for f = |Xw - y|^2 / (2 n'))."""
    rng = np.random.default_rng(seed)
    q1, _ = np.linalg.qr(rng.standard_normal((n, d)))
    q2, _ = np.linalg.qr(rng.standard_normal((d, d)))
    s = np.geomspace(1.0, 1.0 / cond, d) * np.sqrt(n)
    X = (q1 * s) @ q2
    w = rng.uniform(-1, 1, d)
    return Dataset(X, X @ w, f"least_squares(cond={cond})")


def synthetic_logistic(n: int = 512, d: int = 8, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.uniform(-1, 1, d)
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ w))).astype(np.int64)
    return Dataset(X, y, "logistic", 2)


def load(spec: str) -> Dataset:
    """'digits', 'least_squares', 'logistic', 'mnist:DIR' (local IDX files), or a path to .npz
    (arrays X and y) / .csv (label in the last column). Errors name the file and the problem."""
    if spec == "digits":
        return digits()
    if spec == "least_squares":
        return synthetic_least_squares()
    if spec == "logistic":
        return synthetic_logistic()
    if spec.startswith("mnist:"):
        return mnist(spec[len("mnist:"):])
    path = Path(spec)
    if not path.exists():
        raise ValueError(f"unknown data {spec!r}: use digits, least_squares, logistic, or a "
                         ".npz/.csv file")
    if path.suffix == ".npz":
        try:
            z = np.load(path, allow_pickle=False)
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise ValueError(f"{path}: not an .npz archive (a single array? save X and y with "
                                 "numpy.savez)")
            with z:
                if "X" not in z or "y" not in z:
                    raise ValueError(f"{path}: needs arrays named X and y (has {', '.join(z.files)})")
                X, y = z["X"], z["y"]
        except (OSError, EOFError, zipfile.BadZipFile, ValueError) as err:
            if str(err).startswith(str(path)):
                raise
            raise ValueError(f"{path}: not a readable .npz file ({err})") from None
    elif path.suffix == ".csv":
        try:
            raw = np.loadtxt(path, delimiter=",", ndmin=2)
        except (OSError, ValueError) as err:
            raise ValueError(f"{path}: {err}") from None
        X, y = raw[:, :-1], raw[:, -1]
    else:
        raise ValueError(f"{path}: unsupported file type (use .npz or .csv)")
    return dataset(X, y, path.name, str(path))


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
    is_int = bool(np.all(np.mod(y, 1) == 0)) and y.min() >= 0
    if n_classes is not None:
        if not is_int or y.max() >= n_classes:
            raise ValueError(f"{where}: labels must be whole numbers 0..{n_classes - 1} (found "
                             f"{y.max() if is_int else 'a fraction'})")
    elif is_int:
        n_classes = int(y.max()) + 1
        if n_classes > MAX_CLASSES:
            raise ValueError(f"{where}: label {int(y.max())} implies {n_classes} classes (at most "
                             f"{MAX_CLASSES}); regression targets should not all be whole numbers")
    else:
        n_classes = 0
    return Dataset(X, y.astype(np.int64) if n_classes else y, name, n_classes)


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST's format; optionally .gz): magic 0x0000, dtype byte, ndim, big-endian
    int32 dimensions, then the data. Errors name the file."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except OSError as err:
        raise ValueError(f"{path}: {err.strerror or err}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if raw[2] not in dtypes:
        raise ValueError(f"{path}: unknown IDX data type {raw[2]:#x}")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=dtypes[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {data.size} values for dimensions {dims}")
    return data.reshape(dims)


def mnist(directory: str | Path, split: str = "train") -> Dataset:
    """MNIST from the user's local IDX files (train-images-idx3-ubyte[.gz] and
    train-labels-idx1-ubyte[.gz], or t10k-*); nothing is downloaded."""
    d = Path(directory)
    prefix = "train" if split == "train" else "t10k"

    def find(stem):
        for name in (stem, stem + ".gz"):
            if (d / name).exists():
                return d / name
        raise ValueError(f"{d}: no {stem}[.gz] (MNIST IDX files are not downloaded by emu)")

    X = read_idx(find(f"{prefix}-images-idx3-ubyte"))
    y = read_idx(find(f"{prefix}-labels-idx1-ubyte"))
    if len(X) != len(y):
        raise ValueError(f"{d}: {len(X)} images but {len(y)} labels")
    return dataset(X.reshape(len(X), -1) / 255.0, y, f"mnist-{split}", str(d), n_classes=10)
