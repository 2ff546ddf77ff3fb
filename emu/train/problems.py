"""Test problems with a known optimum: the PL quadratic of SEEDS.md (and its L, mu)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
