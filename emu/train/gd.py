"""Full-batch gradient descent whose iterate lives in emulated registers (the PL problems), on
the one training engine (emu.train.engine)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..formats import format as parse_format
from ..lfsr import LFSR
from ..ops import quantize
from .engine import SCHEMES, PrecisionPolicy, rounding_kwargs  # noqa: F401 - re-exported


@dataclass
class GDResult:
    x: np.ndarray                      # final iterate (decoded)
    loss: list[float] = field(default_factory=list)  # f(x_k) - f*, k = 0..steps
    stagnant: list[float] = field(default_factory=list)  # share of components that did not move
    shrinkage: list[float] = field(default_factory=list)  # q_k = <g_hat, g> / |g|^2 (Yun 2025)


def run_gd(problem, x0, lr: float, steps: int, policy: PrecisionPolicy, seed: int = 1,
           lanes: int = 1) -> GDResult:
    """Run ``steps`` iterations of GD with step size ``lr`` from ``x0`` under ``policy``.

    The gradient is computed in float64 from the decoded iterate and moved by the engine's
    update rule. One LFSR (32-bit default, ``seed``) feeds every stochastic rounding, consumed
    in a fixed order per step (g, then s, then the update), so runs repeat bit for bit.
    """
    fmt = parse_format(policy.fmt)
    rng = LFSR(seed=seed, lanes=lanes)
    x = quantize(np.asarray(x0, np.float64), fmt, **rounding_kwargs("rne", 0, None, 8))
    res = GDResult(x=x.to_float())
    res.loss.append(problem.loss(x.to_float()) - problem.f_star)
    for _ in range(steps):
        (x,), stats = policy.apply([x], [problem.grad(x.to_float())], lr, rng)
        res.stagnant.append(stats.stagnant_share)
        res.shrinkage.append(stats.shrinkage)
        res.loss.append(problem.loss(x.to_float()) - problem.f_star)
    res.x = x.to_float()
    return res
