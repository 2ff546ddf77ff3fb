"""Test problems with a known optimum: the PL quadratic of SEEDS.md (and its L, mu), Rosenbrock,
Himmelblau, least squares on a synthetic set, and a stream of linear-regression samples."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import synthetic_least_squares


@dataclass(frozen=True)
class Quadratic:
    """f(x) = 1/2 sum_i lambda_i (x_i - xstar_i)^2: L = max lambda, mu = min lambda, f* = 0."""

    lambdas: tuple[float, ...]
    xstar: tuple[float, ...]

    def loss(self, x: np.ndarray) -> float:
        d = np.asarray(x, np.float64) - np.array(self.xstar)
        return float(0.5 * np.sum(np.array(self.lambdas) * d * d))

    def grad(self, x: np.ndarray) -> np.ndarray:
        return np.array(self.lambdas) * (np.asarray(x, np.float64) - np.array(self.xstar))

    @property
    def L(self) -> float:
        return max(self.lambdas)

    @property
    def mu(self) -> float:
        return min(self.lambdas)

    f_star = 0.0


SEEDS_QUADRATIC = Quadratic(lambdas=(1.0, 0.1), xstar=(0.3, 0.7))


@dataclass(frozen=True)
class Rosenbrock:
    """f(x, y) = (a - x)^2 + b (y - x^2)^2, minimum 0 at (a, a^2); PL near the minimum."""

    a: float = 1.0
    b: float = 100.0
    f_star = 0.0

    def loss(self, v: np.ndarray) -> float:
        x, y = np.asarray(v, np.float64)
        return float((self.a - x) ** 2 + self.b * (y - x * x) ** 2)

    def grad(self, v: np.ndarray) -> np.ndarray:
        x, y = np.asarray(v, np.float64)
        return np.array([-2 * (self.a - x) - 4 * self.b * x * (y - x * x), 2 * self.b * (y - x * x)])


@dataclass(frozen=True)
class Himmelblau:
    """f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2, four minima with f* = 0 (e.g. (3, 2))."""

    f_star = 0.0

    def loss(self, v: np.ndarray) -> float:
        x, y = np.asarray(v, np.float64)
        return float((x * x + y - 11) ** 2 + (x + y * y - 7) ** 2)

    def grad(self, v: np.ndarray) -> np.ndarray:
        x, y = np.asarray(v, np.float64)
        a, b = x * x + y - 11, x + y * y - 7
        return np.array([4 * x * a + 2 * b, 2 * a + 4 * y * b])


class StochasticLinearRegression:
    """Least squares on a stream of samples (Li & De Sa 2019's LP-SGD setting): each ``grad``
    call draws one sample (x, y) from the problem's own seeded numpy Generator and returns the
    stochastic gradient x (x.w - y) of 1/2 (x.w - y)^2 (``batch`` > 1: the mean over that many
    samples), so SGD on it is ``run_gd`` with the samples in a fixed, seeded order.

    Features x in R^d, y = x.w* + noise, noise ~ N(0, noise^2), w* ~ U[-1, 1]^d drawn once from
    ``wstar_seed`` (the same optimum for every run seed). Two generators with the same second
    moment, E[x x^T] = (k/d) I, and the same |x|_2^2 = k for every sample:

      sparse (dense=False)  k distinct positions chosen uniformly, each entry +-1 (random sign);
                            |x|_1 = k whatever d
      dense  (dense=True)   every entry +-sqrt(k/d) (random signs); |x|_1 = sqrt(k d)

    so both have the same step-size scale (L = k per sample, mu = k/d for the expected loss) and
    differ only in the l1 size of a gradient, the quantity Li & De Sa's dimension-free bounds
    depend on. ``loss`` is the full expected loss f(w) = (k/(2d)) |w - w*|^2 + noise^2/2,
    ``f_star`` = noise^2/2. Samples are drawn ``block`` at a time (the stream depends only on
    ``seed``, ``block`` and the generator's parameters, never on the iterate)."""

    def __init__(self, d: int, k: int = 2, dense: bool = False, noise: float = 0.05,
                 seed: int = 1, wstar_seed: int = 0, batch: int = 1, block: int = 512):
        if not 1 <= k <= d:
            raise ValueError(f"k = {k!r}: needs 1 <= k <= d = {d}")
        self.d, self.k, self.dense, self.noise, self.batch = d, k, dense, noise, batch
        self.wstar = np.random.default_rng(wstar_seed).uniform(-1.0, 1.0, d)
        self.f_star = 0.5 * noise * noise
        self._rng = np.random.default_rng(seed)
        self._block = block
        self._X = np.empty((0, d))
        self._y = np.empty(0)
        self._next = 0

    @property
    def L(self) -> float:
        return float(self.k)

    @property
    def mu(self) -> float:
        return self.k / self.d

    def _refill(self) -> None:
        n, d, k, rng = self._block, self.d, self.k, self._rng
        signs = rng.integers(0, 2, (n, d if self.dense else k)) * 2.0 - 1.0
        if self.dense:
            X = signs * np.sqrt(k / d)
        else:
            X = np.zeros((n, d))
            pos = rng.random((n, d)).argpartition(k - 1, axis=1)[:, :k]  # a uniform k-subset
            np.put_along_axis(X, pos, signs, axis=1)
        self._X, self._y, self._next = X, X @ self.wstar + rng.standard_normal(n) * self.noise, 0

    def samples(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The next n samples of the stream: X (n, d) and y (n,)."""
        xs, ys = [], []
        while n:
            if self._next == len(self._X):
                self._refill()
            take = min(n, len(self._X) - self._next)
            xs.append(self._X[self._next:self._next + take])
            ys.append(self._y[self._next:self._next + take])
            self._next += take
            n -= take
        return np.concatenate(xs), np.concatenate(ys)

    def loss(self, w: np.ndarray) -> float:
        dw = np.asarray(w, np.float64) - self.wstar
        return float(0.5 * self.k / self.d * (dw @ dw)) + self.f_star

    def grad(self, w: np.ndarray) -> np.ndarray:
        """The mean of x (x.w - y) over the next ``batch`` samples."""
        w = np.asarray(w, np.float64)
        if self.batch == 1:
            if self._next == len(self._X):
                self._refill()
            x, y = self._X[self._next], self._y[self._next]
            self._next += 1
            return x * (x @ w - y)
        X, y = self.samples(self.batch)
        return X.T @ (X @ w - y) / self.batch


@dataclass(frozen=True)
class LeastSquares:
    """f(w) = |X w - y|^2 / (2 n) on emu.train.data.synthetic_least_squares (noise free, so
    f* = 0; singular values of X / sqrt(n) spread over [1/cond, 1]: L = 1, mu = 1/cond^2)."""

    X: np.ndarray
    y: np.ndarray
    f_star = 0.0

    @classmethod
    def make(cls, d: int = 8, cond: float = 10.0) -> LeastSquares:
        data = synthetic_least_squares(d=d, cond=cond)
        return cls(data.X, data.y)

    def loss(self, w: np.ndarray) -> float:
        r = self.X @ np.asarray(w, np.float64) - self.y
        return float(r @ r / (2 * len(self.y)))

    def grad(self, w: np.ndarray) -> np.ndarray:
        return self.X.T @ (self.X @ np.asarray(w, np.float64) - self.y) / len(self.y)
