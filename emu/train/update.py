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
from ..codes import SR_MAX_BITS
from ..kernels import update as kernel
from ..kernels.convert import F64
from ..ops import quantize
from ..registers import Registers
from ..rounding import is_stochastic, mode_code
from ..validate import integer, optional_integer


def _operand(v, shape: tuple, name: str) -> tuple[np.ndarray, tuple, object]:
    """Codes (uint64, flat; one element when v is a scalar), their format descriptor, and a
    function giving element i's exact value."""
    if isinstance(v, Registers):
        codes = np.ascontiguousarray(np.broadcast_to(v.codes, shape) if v.codes.size > 1 else v.codes,
                                     dtype=np.uint64).reshape(-1)
        fmt = v.format
        return codes, fmt.descriptor, lambda i: fmt.code_value(int(codes[i if codes.size > 1 else 0]))
    arr = np.asarray(v)
    if arr.dtype.kind != "f":
        raise TypeError(f"{name} must be Registers or floats (float16/32/64, exact in float64), "
                        f"not {arr.dtype}")
    arr = arr.astype(np.float64)  # exact for every float dtype
    if arr.size != 1:
        try:
            arr = np.broadcast_to(arr, shape)
        except ValueError:
            raise ValueError(f"{name} shape {arr.shape} does not broadcast to {shape}") from None
    flat = np.ascontiguousarray(arr).reshape(-1)
    return flat.view(np.uint64), F64, lambda i: Fraction(float(flat[i if flat.size > 1 else 0]))


def exact_update(x: Registers, t, g, rounding: str = "rne", *, saturate: bool | None = None,
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
    if not isinstance(rounding, str):
        raise TypeError(f"rounding must be a mode name, not {type(rounding).__name__}")
    threads = optional_integer(threads, "threads", 1)
    gbits = 1
    if is_stochastic(rounding):
        gbits = integer(8 if sr_bits is None else sr_bits, "sr_bits", 1, SR_MAX_BITS)
    fmt, shape = x.format, x.shape
    xc = np.ascontiguousarray(x.codes, dtype=np.uint64).reshape(-1)
    tc, tf, t_value = _operand(t, shape, "t")
    gc, gf, g_value = _operand(g, shape, "g")
    if gc.size != xc.size:
        gc = np.ascontiguousarray(np.broadcast_to(gc, xc.shape))
    mode = mode_code(rounding)
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
            values[i] = fmt.code_value(int(xc[i])) - t_value(i) * g_value(i)
    opts = {"saturate": saturate, "overflow": overflow, "rng": rng, "sr_bits": sr_bits, "eps": eps,
            "direction": direction, "form": form, "threads": threads}
    return quantize(values.reshape(shape), fmt, rounding,
                    **{key: v for key, v in opts.items() if v is not None})
