"""The one training engine: how parameters move (the update rule) and what a step reports.

``run_gd`` (the PL problems) and the models of ``emu.train.linear`` both move their parameters
with ``PrecisionPolicy.apply`` (docs/semantics.md §11):

  scheme="update"    x <- round(x - t*g): the exact value rounded once (emu.train.update), t = lr
                     as given (a float), g the gradient (registers, or float64 for run_gd)
  scheme="every_op"  g <- round_grad(g) when it is float64; s = round_step(t*g) with t = lr
                     rounded rne into x's format; x <- round_update(x - s)

signed_sr_eps takes d = -sign(g) for the update and -d for the step (a larger step moves further
downhill). One random source feeds every stochastic rounding in that order, parameter by
parameter. The step's statistics are returned, never kept on the side.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..arith import mul, sub
from ..blockformats import is_block_format
from ..formats import FloatFormat, ScaleFormat, code_dtype
from ..formats import format as parse_format
from ..front import quantize
from ..registers import Registers
from ..rounding import Rounding, canonical, fitting, takes_direction, takes_eps
from ..validate import integer, real
from .update import exact_update

SCHEMES = ("update", "every_op")
LR = 0.5  # the one default step size (TrainConfig, emu train --lr, sweep files)


def training_rounding(mode: str, eps: float = 0.0, sr_bits: int = 8) -> Rounding:
    """How training rounds with ``mode``: saturating (floats to max finite, fixed point clamps),
    with r and eps where the mode takes them. (A Rounding is a frozen value: one is built per
    distinct argument triple and shared, not rebuilt every step.)"""
    try:
        return _training_rounding(mode, eps, sr_bits)
    except TypeError:  # an unhashable argument: built (and checked) as it is
        return _build_rounding(mode, eps, sr_bits)


def _build_rounding(mode, eps, sr_bits) -> Rounding:
    return Rounding(mode, **fitting(mode, saturate=True, overflow="sat", bits=sr_bits, eps=eps))


# typed: 0 and 0.0 (or 8 and True) hash alike but are kept apart
_training_rounding = lru_cache(maxsize=256, typed=True)(_build_rounding)


TABLE_BITS = 16  # formats of up to this many bits decode through a table of every code's value


@lru_cache(maxsize=64)
def _decode_table(fmt) -> np.ndarray | None:
    """to_float of every code of ``fmt`` (None where a format cannot decode them all)."""
    try:
        table = Registers(np.arange(1 << fmt.bits, dtype=code_dtype(fmt.bits)), fmt).to_float()
    except (TypeError, ValueError):
        return None
    table.flags.writeable = False
    return table


def decoded(r: Registers) -> np.ndarray:
    """``r.to_float()`` (a new float64 array), cheaper for a step's small arrays: formats of up
    to TABLE_BITS bits look every code up in a table of ``to_float`` of every code of the
    format, made once per format (the same values: decoding is a function of the code); IEEE
    binary32 (fp32) finite codes decode by moving their fields (_decode_binary32)."""
    fmt = r.format
    if fmt.bits <= TABLE_BITS and not isinstance(fmt, ScaleFormat):
        table = _decode_table(fmt)
        if table is not None:
            return table[r.codes]
    elif _is_binary32(fmt):
        out = _decode_binary32(r.codes)
        if out is not None:
            return out
    return r.to_float()


def _is_binary32(fmt) -> bool:
    return (isinstance(fmt, FloatFormat) and fmt.family == "ieee"
            and (fmt.exp_bits, fmt.man_bits, fmt.bias) == (8, 23, 127))


def _decode_binary32(codes: np.ndarray) -> np.ndarray | None:
    """IEEE binary32 codes as float64, exactly, in integer arithmetic (no float32 arithmetic,
    so no flush-to-zero mode can touch a subnormal): a normal's fields move into float64's, a
    subnormal is its significand times 2^-149 (both exact in float64). None where a code is Inf
    or NaN (to_float decodes those)."""
    c = codes.astype(np.uint64)
    e = (c >> np.uint64(23)) & np.uint64(0xFF)
    if np.any(e == np.uint64(0xFF)):
        return None
    m = c & np.uint64(0x7FFFFF)
    sign = c >> np.uint64(31)
    out = ((sign << np.uint64(63)) | ((e + np.uint64(1023 - 127)) << np.uint64(52))
           | (m << np.uint64(29))).view(np.float64)
    sub = e == 0
    if np.any(sub):
        v = m[sub].astype(np.float64) * 2.0 ** -149
        out[sub] = np.where(sign[sub] != 0, -v, v)
    return out


def rounding_kwargs(mode: str, eps: float, rng, sr_bits: int, direction=None) -> dict:
    """Keyword arguments for quantize/arith/exact_update in training: ``rounding`` (a Rounding)
    and, where the mode takes them, the random source and the direction."""
    rnd = training_rounding(mode, eps, sr_bits)
    kw: dict = {"rounding": rnd}
    if rnd.stochastic:
        kw["rng"] = rng
    if rnd.needs_direction:
        kw["direction"] = direction
    return kw


@dataclass(frozen=True)
class StepStats:
    """What one update did: the share of parameter codes it left unchanged, and the gradient
    shrinkage of Yun (arXiv 2508.07142), g_hat = (x - x_new) / lr being the step actually taken:

      shrinkage          q = <g_hat, g*> / |g*|^2, g* the full-precision (float64) gradient at
                         the same weights: everything the low-precision datapath loses, the
                         gradient's own rounding included (docs/semantics.md §11.1)
      datapath_shrinkage <g_hat, g> / |g|^2 against the gradient the datapath computed (what the
                         update alone loses)

    Each is NaN where its gradient is 0 (no direction to shrink)."""

    stagnant_share: float
    shrinkage: float
    datapath_shrinkage: float


def projection(steps: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """<step, g> / |g|^2 of every column (one run each; rows: all parameters together), each
    column scaled by 1 / max|g| first so neither sum overflows (the ratio is unchanged). NaN
    where g = 0 or is not finite."""
    scale = np.max(np.abs(grads), axis=0, initial=0.0)
    ok = (scale > 0) & np.isfinite(scale)
    s = np.where(ok, scale, 1.0)
    g, st = grads / s, steps / s
    gg = np.sum(g * g, axis=0)
    return np.divide(np.sum(st * g, axis=0), gg, out=np.full(gg.shape, np.nan), where=ok)


@dataclass(frozen=True)
class PrecisionPolicy:
    """The update rule: the parameters' format and the rounding of each operation of a step
    (checked here, once, for run_gd and for the models).

    ``fmt``: the parameters (and g and s in the every-op scheme); ``update``: the stored update
    x - t*g, the exact value rounded once (signed_sr_eps takes d = -sign(g)); ``step``:
    s = fl(t*g) (every_op); ``grad``: the gradient into its format (run_gd's float64 gradient
    under every_op; the models' gradient datapath); ``eps`` for sr_eps / signed_sr_eps;
    ``sr_bits`` r for every stochastic rounding."""

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
        modes = [canonical(m) for m in (self.update, self.grad, self.step)]  # unknown: the list
        if takes_direction(modes[1]):
            raise ValueError("gradient rounding signed_sr_eps: a gradient has no descent direction "
                             "to favour; use sr_eps for gradients (2202.12276) and signed_sr_eps "
                             "for the update")
        integer(self.sr_bits, "sr_bits", 1)
        real(self.eps, "eps")
        if not 0 <= self.eps < 1:
            raise ValueError(f"eps = {self.eps!r}: needs a number in [0, 1)")
        if self.eps and not any(takes_eps(m) for m in modes):
            raise ValueError(f"eps = {self.eps!r} applies to sr_eps / signed_sr_eps, and no rounding "
                             "here is one of them")
        if is_block_format(self.fmt):
            raise ValueError(f"fmt = {self.fmt!r}: the update rounds into the parameters' registers, "
                             "an element format; a block format names the operands of products "
                             f"(emu.train.linear.TrainConfig(weights={self.fmt!r}) keeps a master "
                             "copy, fp32 by default, and quantizes it per product): give the master "
                             "copy's format here")
        parse_format(self.fmt)

    def kwargs(self, mode: str, rng, direction=None) -> dict:
        return rounding_kwargs(mode, self.eps, rng, self.sr_bits, direction)

    def move(self, x: Registers, g, gv: np.ndarray, lr: float, rng) -> Registers:
        """One parameter's new value from its gradient ``g`` (Registers, or float64 values) whose
        values are ``gv``."""
        fmt = x.format
        # the direction d = -sign(g): only signed_sr_eps takes it (kwargs passes it to no other
        # mode), so it is computed only where the update or the step rounds that way
        directed = takes_direction(self.update) or (self.scheme == "every_op"
                                                     and takes_direction(self.step))
        d = -np.sign(gv).astype(np.int8) if directed else None
        if self.scheme == "update":
            return exact_update(x, lr, g, **self.kwargs(self.update, rng, d))
        if not isinstance(g, Registers):
            g = quantize(gv, fmt, **self.kwargs(self.grad, rng))
        t = quantize(np.full(x.shape, lr), fmt, **self.kwargs("rne", None))
        # signed_sr_eps for s = t*g favours the larger step, the way g points (-d): x - s then
        # moves further downhill
        s = mul(t, g, out=fmt, **self.kwargs(self.step, rng, None if d is None else -d))
        return sub(x, s, out=fmt, **self.kwargs(self.update, rng, d))

    def apply(self, params: list[Registers], grads: list, lr: float, rng,
              exact_grads: list | None = None) -> tuple[list[Registers], StepStats]:
        """Move every parameter (in order, so the random words keep their order); the new
        parameters and the step's statistics. ``exact_grads``: the float64 gradient at the same
        weights, for the shrinkage q (default: ``grads``, exact when they are float64)."""
        new, _, stats = self.apply_decoded(params, grads, lr, rng, exact_grads)
        return new, stats

    def apply_decoded(self, params: list[Registers], grads: list, lr: float, rng,
                      exact_grads: list | None = None, values: list | None = None
                      ) -> tuple[list[Registers], list[np.ndarray], StepStats]:
        """``apply``, also returning the new parameters' decoded values (``to_float``), which the
        step's statistics decode anyway. ``values``: the parameters' decoded values if the caller
        holds them already (each exactly ``params[i].to_float()``), so they are not decoded
        again."""
        exact_grads = grads if exact_grads is None else exact_grads
        values = [None] * len(params) if values is None else values
        new, new_values, same, total, steps, used, exact = [], [], 0, 0, [], [], []
        for x, g, ge, xv in zip(params, grads, exact_grads, values, strict=True):
            gv = decoded(g) if isinstance(g, Registers) else np.asarray(g, np.float64)
            ge = decoded(ge) if isinstance(ge, Registers) else np.asarray(ge, np.float64)
            x2 = self.move(x, g, gv, lr, rng)
            x2v = decoded(x2)
            same += int(np.count_nonzero(x2.codes == x.codes))
            total += x.size
            steps.append((((decoded(x) if xv is None else xv) - x2v) / lr).ravel())  # g_hat
            used.append(gv.ravel())
            exact.append(ge.ravel())
            new.append(x2)
            new_values.append(x2v)
        g_hat = np.concatenate(steps)[:, None]  # all parameters: one column

        def q(grads_: list[np.ndarray]) -> float:
            return float(projection(g_hat, np.concatenate(grads_)[:, None])[0])

        return new, new_values, StepStats(same / total, q(exact), q(used))
