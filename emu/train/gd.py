"""Full-batch gradient descent whose iterate lives in emulated registers (the PL problems), on
the one training engine (emu.train.engine): one run (``run_gd``) or many at once (``gd_runs``:
column j of the iterate is run j, lane j of the LFSR bank its random source)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..formats import format as parse_format
from ..front import quantize
from ..lfsr import LFSR
from .engine import SCHEMES, PrecisionPolicy, decoded, projection, rounding_kwargs  # noqa: F401
from .operands import is_block, train_format


@dataclass
class GDResult:
    x: np.ndarray                      # final iterate (decoded)
    loss: list[float] = field(default_factory=list)  # f(x_k) - f*, k = 0..steps
    stagnant: list[float] = field(default_factory=list)  # share of components that did not move
    shrinkage: list[float] = field(default_factory=list)  # q_k against g* (semantics §11.1)


@dataclass
class Runs:
    """Many runs, one per column: ``loss[k, j]`` = f(x_k) - f* (k = 0..steps); for each step
    k = 1..steps ``stagnant[k-1, j]`` and ``shrinkage[k-1, j]`` (q against the float64
    gradient, docs/semantics.md §11.1); ``x`` the final iterates, decoded (d x runs)."""

    loss: np.ndarray
    stagnant: np.ndarray
    shrinkage: np.ndarray
    x: np.ndarray


def gd_runs(problem, x0, lr: float, steps: int, policy: PrecisionPolicy, rng,
            grad_rounding: tuple[str, str, float] | None = None) -> Runs:
    """Gradient descent for every column of ``x0`` (d x runs) at once; ``problem`` is one
    problem for all columns (then stateless: its gradient a function of x alone) or a list, one
    per column (a problem that draws samples needs its own). Every step computes each column's
    gradient in float64 from its decoded iterate, optionally rounds it (``grad_rounding``:
    (format, mode, eps), drawing before the update's words; a block format (mxfp4, ...) blocks
    each run's gradient vector along its one axis, axis 0, NVFP4 without its per-tensor scale,
    which would couple the runs; the float64 gradient stays the
    reference of q) and moves the iterate by the engine's update rule, all stochastic rounding
    drawn from ``rng``. With ``LFSR(seeds=[s_1, ..., s_m])`` lane j serves exactly column j's
    elements in order (element (i, j) of a C-order d x m array uses lane j), so column j is bit
    for bit the single run ``run_gd(..., seed=s_j)``."""
    x0 = np.asarray(x0, np.float64)
    m = x0.shape[1]
    probs = _per_run(problem, m)
    x = quantize(x0, parse_format(policy.fmt), **rounding_kwargs("rne", 0, None, 8))
    xv = decoded(x)
    loss = np.empty((steps + 1, m))
    stagnant = np.empty((steps, m))
    shrinkage = np.empty((steps, m))
    loss[0] = _losses(probs, xv)
    gfmt = train_format(grad_rounding[0], "gradient format") if grad_rounding else None
    blocked = {"axis": 0} if is_block(gfmt) else {}
    for k in range(steps):
        g = _grads(probs, xv)
        gd = g
        if gfmt is not None:
            gd = quantize(g, gfmt, **rounding_kwargs(grad_rounding[1], grad_rounding[2], rng,
                                                     policy.sr_bits), **blocked)
            gd = gd.to_float() if is_block(gfmt) else decoded(gd)
        (x2,), (x2v,), _ = policy.apply_decoded([x], [gd], lr, rng, [g], [xv])
        stagnant[k] = np.mean(x2.codes == x.codes, axis=0)
        shrinkage[k] = projection((xv - x2v) / lr, g)  # q per run against the float64 g
        x, xv = x2, x2v
        loss[k + 1] = _losses(probs, xv)
    return Runs(loss, stagnant, shrinkage, xv)


def gd64_runs(problem, x0, lr: float, steps: int) -> np.ndarray:
    """The float64 reference of ``gd_runs``: x <- x - lr * grad f(x) on host floats, no
    registers, for every column of ``x0``; f(x_k) - f* per step k = 0..steps (rows) and run."""
    x = np.array(x0, np.float64)
    probs = _per_run(problem, x.shape[1])
    loss = np.empty((steps + 1, x.shape[1]))
    loss[0] = _losses(probs, x)
    for k in range(steps):
        x = x - lr * _grads(probs, x)
        loss[k + 1] = _losses(probs, x)
    return loss


def _per_run(problem, m: int) -> list:
    probs = problem if isinstance(problem, list | tuple) else [problem] * m
    if len(probs) != m:
        raise ValueError(f"{len(probs)} problems for {m} runs")
    return probs


def _losses(probs: list, x: np.ndarray) -> list[float]:
    return [p.loss(x[:, j]) - p.f_star for j, p in enumerate(probs)]


def _grads(probs: list, x: np.ndarray) -> np.ndarray:
    return np.stack([p.grad(x[:, j]) for j, p in enumerate(probs)], axis=1)


def run_gd(problem, x0, lr: float, steps: int, policy: PrecisionPolicy, seed: int = 1,
           lanes: int = 1) -> GDResult:
    """Run ``steps`` iterations of GD with step size ``lr`` from ``x0`` under ``policy``.

    The gradient is computed in float64 from the decoded iterate and moved by the engine's
    update rule. One LFSR (32-bit default, ``seed``, ``lanes``) feeds every stochastic
    rounding, consumed in a fixed order per step (g, then s, then the update), so runs repeat
    bit for bit. (``gd_runs`` with one column.)
    """
    r = gd_runs(problem, np.asarray(x0, np.float64)[:, None], lr, steps, policy,
                LFSR(seed=seed, lanes=lanes))
    return GDResult(r.x[:, 0], r.loss[:, 0].tolist(), r.stagnant[:, 0].tolist(),
                    r.shrinkage[:, 0].tolist())
