"""The update x - t*g of the ``update`` scheme, computed exactly and rounded once.

The old update rounded ``x - lr*g`` evaluated in float64: the product and the difference were
rounded first, so a tie could be broken (or hidden) and an SR threshold moved before the one
rounding the docs promise. Here ``emu.kernels.update`` computes the exact value from the codes
and hands each element over as a float64 *proxy* that every rounding treats like the exact value
(the value itself when it lies on the grid of decisions, else a point strictly inside the same
grid cell: a sticky bit); ``emu.quantize`` then rounds it once, drawing one random word per
element in C order, exactly as it would for the value. An element without a float64 proxy (its
exact value needs more than 53 bits at the decision grid: r near 32 with fp32-wide targets,
fixed formats wider than ~50 bits) goes to quantize as the exact Fraction (emu.exact's path).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .. import parallel
from ..front import quantize
from ..kernels import update as kernel
from ..kernels.convert import F64
from ..registers import Registers
from ..rounding import Rounding, as_rounding
from ..validate import optional_integer


def _operand(v, shape: tuple, name: str) -> tuple[np.ndarray, tuple, object]:
    """Codes (uint64, flat: one element, or one per element of ``shape``), their format
    descriptor, and a function giving a code's exact value (a Fraction)."""
    if isinstance(v, Registers):
        codes, desc, fmt = v.codes, v.format.descriptor, v.format

        def value(code) -> Fraction:
            return fmt.code_value(int(code))
    else:
        arr = np.asarray(v)
        if arr.dtype.kind != "f":
            raise TypeError(f"{name} must be Registers or floats (float16/32/64, exact in float64), "
                            f"not {arr.dtype}")
        codes, desc = np.ascontiguousarray(arr, dtype=np.float64).view(np.uint64), F64

        def value(code) -> Fraction:
            return Fraction(float(np.uint64(code).view(np.float64)))
    if codes.size != 1:
        try:
            codes = np.broadcast_to(codes, shape)
        except ValueError:
            raise ValueError(f"{name} shape {codes.shape} does not broadcast to {shape}") from None
    return np.ascontiguousarray(codes, dtype=np.uint64).reshape(-1), desc, value


def exact_update(x: Registers, t, g, rounding: str | Rounding = "rne", *, saturate: bool | None = None,
                 overflow: str | None = None, rng=None, sr_bits: int | None = None,
                 eps: float | None = None, direction=None, form: str | None = None,
                 threads: int | None = None) -> Registers:
    """x - t*g rounded once into x's format from its exact value (docs/semantics.md §11).

    ``x``: Registers; ``t`` (the step) and ``g`` (the gradient): Registers of any format, or
    floats (a scalar or an array broadcasting to x's shape), each taken at its exact value.
    The rounding options are quantize's (one random word per element, C order); specials follow
    fma(-t, g, x) and an exact zero gets the sign of an exact zero sum (§3).
    """
    if not isinstance(x, Registers):
        raise TypeError(f"x must be Registers, not {type(x).__name__}")
    fmt, shape = x.format, x.shape
    rnd = as_rounding(rounding, saturate=saturate, overflow=overflow, sr_bits=sr_bits, eps=eps,
                      form=form, fmt=fmt)  # validated once, here
    threads = optional_integer(threads, "threads", 1)
    gbits = rnd.bits or 1
    xc = np.ascontiguousarray(x.codes, dtype=np.uint64).reshape(-1)
    tc, tf, t_value = _operand(t, shape, "t")
    gc, gf, g_value = _operand(g, shape, "g")
    if gc.size != xc.size:  # one g for every element
        gc = np.ascontiguousarray(np.broadcast_to(gc, xc.shape))
    mode = rnd.mode_code
    bits = np.empty(xc.size, np.uint64)
    status = np.empty(xc.size, np.uint8)

    def block(a: int, b: int) -> None:
        kernel.update_proxies(xc[a:b], fmt.descriptor, tc if tc.size == 1 else tc[a:b], tf,
                              gc[a:b], gf, fmt.descriptor, gbits, mode, bits[a:b], status[a:b])

    parallel.run(block, parallel.blocks(xc.size, parallel.resolve(threads)))
    values = out = bits.view(np.float64)
    exact = np.flatnonzero(status == kernel.EXACT)
    if exact.size:  # rounded from the exact rational (emu.exact), in the same call: same words
        values = out.astype(object)
        for i in exact.tolist():
            values[i] = fmt.code_value(int(xc[i])) - t_value(tc[i if tc.size > 1 else 0]) * \
                g_value(gc[i])
    return quantize(values.reshape(shape), fmt, rnd, rng=rng, direction=direction, threads=threads)
