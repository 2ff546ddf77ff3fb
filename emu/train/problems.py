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
