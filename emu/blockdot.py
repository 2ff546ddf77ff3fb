"""Matmul and dot products of block-scaled registers (docs/semantics.md §14.4).

``emu.matmul(a, b, ...)`` on BlockRegisters: A (M, K) in blocks along K (axis 1), B (K, N) in
blocks along K (axis 0), the same block size and scale format (element formats may differ, as
MX allows e4m3 x e5m2). Two structures:

* ``block_sum="exact"`` (default; OCP MX §6.1's structure, an MX dot unit with a full-width block
  adder): each block's sum of element products is exact, multiplied exactly by the two scales,
  and the K/k block terms go through the accumulator model (``order`` sequential, with optional
  ``chunk``/``promote``, pairwise or exact; ``acc``, ``acc_rounding`` incl. SR).
* ``block_sum="products"``: every scaled product is a term of emu.matmul's model (every order,
  truncating included, product rounding, SR): the operands become exact carrier registers
  (``emu.blocks.carrier``) and emu.matmul runs unchanged.

NVFP4's per-tensor scales multiply the accumulated result as cuBLAS's alpha: alpha =
fp32(t_A * t_B), then one rounding of alpha x acc into ``out`` (or the accumulator's format).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from . import exact, parallel
from .blocks import BlockRegisters, carrier, scale_values
from .codes import RDN
from .formats import FloatFormat, ScaleFormat
from .formats import format as parse_format
from .kernels import accumulate as kacc
from .kernels import blockdot as kbd
from .linalg import ORDERS, _round_fraction, _rounding, _row_blocks
from .linalg import matmul as matmul_registers
from .ops import convert, quantize
from .registers import Registers, code_dtype
from .rounding import takes_eps
from .sources import NO_DRAWS, draws
from .validate import flag, optional_integer

BLOCK_SUMS = ("exact", "products")
_ALL_EXACT_PATH = False  # tests set it to compute every output on the rational path
PRODUCTS_OPTIONS = {"products", "product_rounding", "align_bits", "group", "eps", "direction"}


def _check(a: BlockRegisters, b: BlockRegisters) -> None:
    for r in (a, b):
        if not isinstance(r, BlockRegisters):
            raise TypeError(f"block matmul takes BlockRegisters for both operands, not "
                            f"{type(r).__name__}")
    if a.codes.ndim != 2 or b.codes.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul shapes {a.shape} and {b.shape} do not chain (need (M, K) @ (K, N))")
    if a.axis != 1 or b.axis != 0:
        raise ValueError(f"block matmul needs A blocked along K (axis 1) and B along K (axis 0); "
                         f"got axis {a.axis} and {b.axis} (quantize with axis=1 / axis=0)")
    fa, fb = a.format, b.format
    if fa.block_size != fb.block_size or fa.scale != fb.scale:
        raise ValueError(f"{fa.name} and {fb.name} do not share a block size and scale format")


def carried(r: BlockRegisters) -> Registers:
    """The values scale x element (without the tensor scale) as exact carrier registers."""
    fmt = carrier(r.format)
    with np.errstate(invalid="ignore"):  # Inf x a zero scale: NaN
        v = r.elements.to_float() * r.scale_values() / r.tensor_scale
    return quantize(v, fmt, "rne")  # exact: every value is a carrier value


def matmul(a: BlockRegisters, b: BlockRegisters, acc="fp32", out=None, *,
           block_sum: str = "exact", order: str = "sequential",
           acc_rounding="rne", out_rounding="rne", chunk: int | None = None, promote=None,
           promote_rounding="rne", acc_saturate: bool | None = None,
           acc_overflow: str | None = None, saturate: bool | None = None,
           overflow: str | None = None, rng=None, sr_bits: int | None = None,
           form: str | None = None, threads: int | None = None, return_words: bool = False,
           **products_options) -> Registers:
    """C = A @ B on block registers (module doc); the result is Registers of ``out`` (default:
    the accumulator's format, or ``promote``'s with ``chunk``). Options as emu.matmul's;
    ``products``, ``product_rounding``, ``align_bits``, ``group``, ``eps``, ``direction`` apply
    to ``block_sum="products"``. Words: one per block term, (i, j, b) in C order, then the
    output's (exact), or emu.matmul's order (products)."""
    _check(a, b)
    unknown = set(products_options) - PRODUCTS_OPTIONS
    if unknown:
        raise TypeError(f"matmul() got unexpected keyword argument(s) {', '.join(sorted(unknown))}")
    if block_sum not in BLOCK_SUMS:
        raise ValueError(f"unknown block_sum {block_sum!r}; valid: {', '.join(BLOCK_SUMS)}")
    alpha = float(np.float32(a.tensor_scale) * np.float32(b.tensor_scale))
    common = dict(order=order, acc_rounding=acc_rounding, chunk=chunk, promote=promote,
                  promote_rounding=promote_rounding, acc_saturate=acc_saturate,
                  acc_overflow=acc_overflow, rng=rng, sr_bits=sr_bits, form=form, threads=threads)
    if block_sum == "products":
        res = matmul_registers(carried(a), carried(b), acc, None if alpha != 1.0 else out,
                               out_rounding=out_rounding, saturate=saturate, overflow=overflow,
                               return_words=True, **common, **products_options)
    else:
        if products_options:
            raise ValueError(f"{', '.join(sorted(products_options))}: options of "
                             "block_sum='products' (the exact block sum has no product rounding)")
        res = _exact_blocks(a, b, acc, None if alpha != 1.0 else out, out_rounding, saturate,
                            overflow, **common)
    result, words = res
    if alpha != 1.0:
        from .arith import mul

        target = parse_format(out) if out is not None else result.format
        alpha_reg = quantize(np.full(result.shape, alpha), "fp32")
        result, w = mul(result, alpha_reg, target, out_rounding, saturate=saturate,
                        overflow=overflow, rng=rng, sr_bits=sr_bits, form=form, threads=threads,
                        return_words=True)
        words = np.concatenate([words, w])
    return (result, words) if flag(return_words, "return_words") else result


def dot(a: BlockRegisters, b: BlockRegisters, acc="fp32", out=None, **kw):
    """The MX dot product of two 1-D block vectors (OCP MX §6.1-6.2), as a 0-d register."""
    for r in (a, b):
        if not isinstance(r, BlockRegisters):
            raise TypeError(f"dot of block registers takes BlockRegisters for both operands, not "
                            f"{type(r).__name__}")
    if a.codes.ndim != 1 or b.codes.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"block dot takes two 1-D BlockRegisters of equal length, not shapes "
                         f"{a.shape} and {b.shape}")
    a2 = BlockRegisters._wrap(a._codes[None, :], a._scales[None, :], a.format, 1, a.tensor_scale)
    b2 = BlockRegisters._wrap(b._codes[:, None], b._scales[:, None], b.format, 0, b.tensor_scale)
    r = matmul(a2, b2, acc, out, **kw)
    if kw.get("return_words"):
        return r[0].reshape(()), r[1]
    return r.reshape(())


def _exact_blocks(a, b, acc, out, out_rounding, saturate, overflow, *, order, acc_rounding, chunk,
                  promote, promote_rounding, acc_saturate, acc_overflow, rng, sr_bits, form,
                  threads):
    if order not in ("sequential", "pairwise", "exact"):
        raise ValueError(f"order={order!r} with block_sum='exact': valid orders are sequential, "
                         "pairwise and exact (the truncating tensor-core model aligns products: "
                         "use block_sum='products')")
    threads = optional_integer(threads, "threads", 1)
    chunk = optional_integer(chunk, "chunk", 0) or 0
    acc_fmt = parse_format(acc)
    if isinstance(acc_fmt, ScaleFormat):
        raise ValueError("e8m0 cannot accumulate")
    arnd = _rounding(acc_rounding, acc_fmt, "acc_rounding", saturate=acc_saturate,
                     overflow=acc_overflow, sr_bits=sr_bits, form=form)
    promo = parse_format(promote) if promote is not None else acc_fmt
    if chunk and promote is None:
        raise ValueError("chunk=N needs promote= (the wider accumulator)")
    promo_rnd = _rounding(promote_rounding, promo, "promote_rounding")
    if promo_rnd.stochastic:
        raise ValueError("promote_rounding must be deterministic")
    if arnd.stochastic and order != "sequential":
        raise ValueError("stochastic accumulation is defined for order='sequential'")
    if takes_eps(arnd):
        raise ValueError("accumulators take sr or sr_equal (biased modes need a direction)")
    if out is not None:
        out_fmt = parse_format(out)
        ornd = _rounding(out_rounding, out_fmt, "out_rounding", saturate=saturate,
                         overflow=overflow, sr_bits=sr_bits, form=form)
    m, kk = a.shape
    n = b.shape[1]
    nb = a._scales.shape[1]
    arw = draws(arnd, (m, n, nb), rng, threads=threads).words if arnd.stochastic else NO_DRAWS.words
    ak = arnd.kernel(acc_fmt)
    pk = promo_rnd.kernel(promo)
    sfmt = a.format.scale
    pow2 = isinstance(sfmt, ScaleFormat)
    sdesc = (0,) * 9 if pow2 else sfmt.descriptor
    A = np.ascontiguousarray(a._codes, dtype=np.uint64)
    B = np.ascontiguousarray(b._codes, dtype=np.uint64)
    SA = np.ascontiguousarray(a._scales, dtype=np.uint64)
    SB = np.ascontiguousarray(b._scales, dtype=np.uint64)
    res = np.empty((m, n), np.uint64)
    wide = np.zeros((m, n), np.bool_)
    k = a.format.block_size

    def block(i0: int, i1: int) -> int:
        w0, w1 = i0 * n * nb, i1 * n * nb
        bad = kbd.block_matmul(A[i0:i1], a.format.element.descriptor, SA[i0:i1], B,
                               b.format.element.descriptor, SB, sdesc, pow2, k,
                               acc_fmt.descriptor, ak.mode, ak.overflow, arw[w0:w1], ak.rbits,
                               ak.compare, kacc.ORDER_SEQ if order == "sequential" else
                               ORDERS[order], chunk, promo.descriptor, pk.mode, pk.overflow,
                               res[i0:i1], wide[i0:i1])
        return bad if bad < 0 else i0 * n + bad

    bad = next((x for x in parallel.run(block, _row_blocks(m, n * kk, threads)) if x >= 0), -1)
    if bad >= 0:
        raise ValueError(f"matmul: output element {bad} is not representable in the accumulator "
                         f"{acc_fmt.name} (NaN without a NaN code, or Inf under wrap)")
    final_fmt = promo if chunk else acc_fmt
    if _ALL_EXACT_PATH:  # tests: the rational path must agree with the kernel everywhere
        wide[:] = True
    for i, j in np.argwhere(wide).tolist():
        res[i, j] = _exact_output(a, b, i, j, order, chunk, acc_fmt, ak, promo, pk, arw, nb)
    result = Registers._wrap(res.astype(code_dtype(final_fmt.bits), copy=False), final_fmt)
    used = [arw]
    if out is not None:
        result, words = convert(result, out_fmt, ornd, rng=rng if ornd.stochastic else None,
                                threads=threads, return_words=True)
        used.append(words)
    return result, np.concatenate(used)


def _term(a, b, i: int, j: int, blk: int):
    """The exact block term as a Fraction (the wide path: only finite blocks get here)."""
    k = a.format.block_size
    sl = slice(blk * k, min(blk * k + k, a.shape[1]))
    xa = Registers._wrap(a._codes[i, sl], a.format.element).to_exact()
    xb = Registers._wrap(b._codes[sl, j], b.format.element).to_exact()
    sa = Fraction(float(scale_values(a._scales[i, blk], a.format.scale)))
    sb = Fraction(float(scale_values(b._scales[blk, j], b.format.scale)))
    return sa * sb * sum((x * y for x, y in zip(xa.tolist(), xb.tolist(), strict=True)), Fraction(0))


def _exact_output(a, b, i, j, order, chunk, acc_fmt, ak, promo, pk, arw, nb) -> int:
    """One output whose block sums (or exact total) need more than 62 bits, with rationals and
    the reduction of emu.kernels.accumulate step by step (an accumulator overflowing to Inf
    stays Inf, +Inf + -Inf is the invalid NaN, as the kernel's specials). A wide block's products
    are all finite; an output that also holds a NaN/Inf block is refused rather than
    approximated."""
    terms = []
    for blk in range(nb):
        s = scale_values(np.array([a._scales[i, blk], b._scales[blk, j]]), a.format.scale)
        va = Registers._wrap(a._codes[i, blk * a.format.block_size:][:a.format.block_size],
                             a.format.element).to_float()
        vb = Registers._wrap(b._codes[blk * b.format.block_size:, j][:b.format.block_size],
                             b.format.element).to_float()
        if not (np.isfinite(s).all() and np.isfinite(va).all() and np.isfinite(vb).all()):
            raise ValueError(f"matmul output ({i}, {j}): a block sum needs more than 62 bits and "
                             "another block holds NaN or Inf; emu does not model this mix")
        terms.append(_term(a, b, i, j, blk))

    def rnd(v, fmt=acc_fmt, kr=ak, word: int = 0) -> int:
        if isinstance(v, float):  # an accumulator that overflowed to Inf stays Inf (or NaN)
            return _round_fraction(v, fmt, kr.mode, kr.overflow)
        return _round(v, fmt, kr.mode, kr.overflow, kr, word, kr.mode == RDN)

    def value(code: int, fmt=acc_fmt):
        return fmt.code_value(code)  # a Fraction, or float inf/nan (Fraction + inf is inf)

    if order == "exact":
        return rnd(sum(terms, Fraction(0)))
    if order == "pairwise":
        level = [rnd(t) for t in terms]
        while len(level) > 1:
            pairs = [rnd(value(level[2 * t]) + value(level[2 * t + 1])) for t in range(len(level) // 2)]
            level = pairs + ([level[-1]] if len(level) % 2 else [])
        return level[0] if level else 0
    code, pcode, acc_v, promo_v = 0, 0, Fraction(0), Fraction(0)
    base = (i * b.shape[1] + j) * nb
    for t, term in enumerate(terms):
        code = rnd(acc_v + term, word=int(arw[base + t]) if arw.size else 0)
        acc_v = value(code)
        if chunk and ((t + 1) % chunk == 0 or t == nb - 1):
            pcode = rnd(promo_v + acc_v, promo, pk)
            promo_v, acc_v, code = value(pcode, promo), Fraction(0), 0
    return pcode if chunk else code


def _round(v: Fraction, fmt, mode, ovf, ak, word, negative_zero: bool) -> int:
    if v == 0:
        return (fmt.sign_bit if negative_zero and isinstance(fmt, FloatFormat)
                and fmt.has_negative_zero else 0)
    return exact.round_rational(v, fmt, mode, ovf, ak.rbits, word, 0, 0, ak.compare)
