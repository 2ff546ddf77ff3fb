"""Full-batch gradient descent whose iterate lives in emulated registers."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..arith import mul, sub
from ..formats import FixedFormat
from ..formats import format as parse_format
from ..lfsr import LFSR
from ..ops import quantize
from ..rounding import canonical, mode_code

SCHEMES = ("update", "every_op")


@dataclass(frozen=True)
class PrecisionPolicy:
    """Format of the iterate (and of g and s in the every-op scheme) and the rounding per op.

    ``update``: rounding of the stored update x - t*g (signed_sr_eps takes d = -sign(g)).
    ``grad`` / ``step``: roundings of g = fl(grad) and s = fl(t*g) (every-op scheme only).
    """

    fmt: str = "s16.8"
    scheme: str = "update"
    update: str = "rne"
    grad: str = "rne"
    step: str = "rne"
    eps: float = 0.0
    sr_bits: int = 8

    def __post_init__(self):
        if self.scheme not in SCHEMES:
            raise ValueError(f"unknown scheme {self.scheme!r}; valid: {', '.join(SCHEMES)}")
        for m in (self.update, self.grad, self.step):
            mode_code(m)
        parse_format(self.fmt)


@dataclass
class GDResult:
    x: np.ndarray                      # final iterate (decoded)
    loss: list[float] = field(default_factory=list)  # f(x_k) - f*, k = 0..steps
    stagnant: list[float] = field(default_factory=list)  # share of components that did not move
    shrinkage: list[float] = field(default_factory=list)  # q_k = <g_hat, g> / |g|^2 (Yun 2025)


def rounding_kwargs(fmt, mode: str, eps: float, rng, sr_bits: int, direction=None) -> dict:
    """Keyword arguments for quantize/arith in the training engine: saturate (floats) or sat
    (fixed), and for stochastic modes the random source, r, eps and the direction."""
    kw = {"overflow": "sat"} if isinstance(fmt, FixedFormat) else {"saturate": True}
    mode = canonical(mode)  # any case, or an ap_fixed name
    if mode_code(mode) >= 10:
        kw.update(rng=rng, sr_bits=sr_bits)
        if mode in ("sr_eps", "signed_sr_eps"):
            kw["eps"] = eps
        if mode == "signed_sr_eps":
            kw["direction"] = direction
    return kw


def run_gd(problem, x0, lr: float, steps: int, policy: PrecisionPolicy, seed: int = 1,
           lanes: int = 1) -> GDResult:
    """Run ``steps`` iterations of GD with step size ``lr`` from ``x0`` under ``policy``.

    One LFSR (32-bit default, ``seed``) feeds every stochastic rounding, consumed in a fixed
    order per step (g, then s, then the update), so runs are reproducible bit for bit.
    """
    fmt = parse_format(policy.fmt)
    rng = LFSR(seed=seed, lanes=lanes)
    r = policy.sr_bits
    x = quantize(np.asarray(x0, np.float64), fmt, "rne", **rounding_kwargs(fmt, "rne", 0, None, r))
    res = GDResult(x=x.to_float())
    res.loss.append(problem.loss(x.to_float()) - problem.f_star)
    t_reg = quantize(np.full(x.shape, lr), fmt, "rne", **rounding_kwargs(fmt, "rne", 0, None, r))
    for _ in range(steps):
        xv = x.to_float()
        g = problem.grad(xv)
        d = -np.sign(g).astype(np.int8)
        if policy.scheme == "update":
            new = quantize(xv - lr * g, fmt, policy.update,
                           **rounding_kwargs(fmt, policy.update, policy.eps, rng, r, d))
            g_hat = (xv - new.to_float()) / lr
        else:
            g_reg = quantize(g, fmt, policy.grad, **rounding_kwargs(fmt, policy.grad, policy.eps, rng, r))
            # signed_sr_eps for s = t*g favours the larger step, the way g points (-d): w - s
            # then moves further downhill
            s_reg = mul(t_reg, g_reg, out=fmt, rounding=policy.step,
                        **rounding_kwargs(fmt, policy.step, policy.eps, rng, r, -d))
            new = sub(x, s_reg, out=fmt, rounding=policy.update,
                      **rounding_kwargs(fmt, policy.update, policy.eps, rng, r, d))
            g_hat = (xv - new.to_float()) / lr
        res.stagnant.append(float(np.mean(new.codes == x.codes)))
        gg = float(g @ g)
        res.shrinkage.append(float(g_hat @ g) / gg if gg > 0 else 1.0)
        x = new
        res.loss.append(problem.loss(x.to_float()) - problem.f_star)
    res.x = x.to_float()
    return res
