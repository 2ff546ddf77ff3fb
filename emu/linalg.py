"""Dot products and matrix products with hardware accumulator models.

``emu.matmul(a, b, acc="fp32", out=None, order="sequential", ...)``: products exact (default) or
rounded once into ``products``; accumulation into ``acc`` with ``acc_rounding`` in a documented
order (see emu.kernels.accumulate): ``sequential`` (k ascending, optionally promoted every
``chunk`` terms into ``promote``), ``pairwise``, ``exact`` (one rounding), ``truncating`` (FP8
tensor-core model: ``align_bits`` N = 13 as reported for Hopper, ``group`` products per step).
The accumulator value is then converted into ``out`` (default: the accumulator's format) with
``out_rounding``. A float and a fixed-point operand multiply by value (one is promoted
losslessly to the accumulator's kind, see ``promoted``). Stochastic roundings draw one word per
rounding: products first, as an (M, N, K) array in C order, then the accumulator's roundings in
the same order, then the output.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

import numpy as np

from . import exact, parallel, paths
from .formats import FixedFormat, FloatFormat, exact_fixed_of, exact_float_format
from .formats import format as parse_format
from .kernels import accumulate as kacc
from .ops import convert
from .registers import Registers, code_dtype
from .rounding import KernelRounding, Rounding, as_rounding, fitting, takes_eps
from .sources import NO_DRAWS, draws
from .validate import flag, integer, optional_integer

ORDERS = {"sequential": kacc.ORDER_SEQ, "pairwise": kacc.ORDER_PAIRWISE,
          "exact": kacc.ORDER_EXACT, "truncating": kacc.ORDER_TRUNC}


def mac_accumulator(a_fmt, b_fmt, guard_bits: int) -> FixedFormat:
    """Accumulator of a fixed-point MAC: the full-width product format plus ``guard_bits``
    integer bits, so sums of up to 2**guard_bits products cannot overflow. The product of a
    wa-bit and a wb-bit code needs wa + wb bits, signed or not: (-2**(wa-1)) * (-2**(wb-1)) =
    2**(wa+wb-2) does not fit wa + wb - 1 signed bits."""
    a_fmt, b_fmt = parse_format(a_fmt), parse_format(b_fmt)
    guard_bits = integer(guard_bits, "guard_bits", 0)
    if not isinstance(a_fmt, FixedFormat) or not isinstance(b_fmt, FixedFormat):
        raise ValueError(f"mac_accumulator takes fixed-point formats, not {a_fmt.name} and {b_fmt.name}")
    signed = a_fmt.signed or b_fmt.signed
    width = a_fmt.width + b_fmt.width + guard_bits
    return FixedFormat(width, a_fmt.frac + b_fmt.frac, signed)


def _exact_fits_int64(fa, fb, kk: int) -> bool:
    def span(f):
        if isinstance(f, FloatFormat):
            return f.emin - f.man_bits, f.emax + 1
        return -f.frac, f.width - f.frac

    (la, ha), (lb, hb) = span(fa), span(fb)
    return (ha + hb) - (la + lb) + max(kk, 1).bit_length() + 1 <= 62


class _Plan(NamedTuple):
    """One matmul's accumulation model, as the kernel takes it (emu.kernels.accumulate)."""

    exact_products: bool
    products: object  # format of the rounded products (the accumulator's when exact)
    product_rounding: KernelRounding
    acc: object
    acc_rounding: KernelRounding
    order: int
    chunk: int
    promote: object
    promote_rounding: KernelRounding
    align_bits: int
    group: int

    def run(self, A: np.ndarray, fa, B: np.ndarray, fb, product_words: np.ndarray,
            acc_words: np.ndarray, out: np.ndarray) -> int:
        """The core over uint64 codes A (rows) and B; the first bad output or -1."""
        p, ac, pr = self.product_rounding, self.acc_rounding, self.promote_rounding
        rbits = ac.rbits if ac.stochastic else p.rbits
        return kacc.matmul_core(A, fa.descriptor, B, fb.descriptor, self.exact_products,
                                self.products.descriptor, p.mode, p.overflow, product_words,
                                self.acc.descriptor, ac.mode, ac.overflow, acc_words, self.order,
                                self.chunk, self.promote.descriptor, pr.mode, pr.overflow,
                                self.align_bits, self.group, rbits, ac.compare or p.compare, out)


def _rounding(rounding, fmt, what: str, **options) -> Rounding:
    """A matmul rounding (a name or an emu.Rounding) with the shared SR options applied where
    they fit its mode."""
    mode = rounding.mode if isinstance(rounding, Rounding) else rounding
    if not isinstance(mode, str):
        raise TypeError(f"{what} must be a mode name or an emu.Rounding, not {type(rounding).__name__}")
    return as_rounding(rounding, fmt=fmt, **fitting(mode, **options))


def matmul(a: Registers, b: Registers, acc="fp32", out=None, *, products=None,
           product_rounding: str | Rounding = "rne", acc_rounding: str | Rounding = "rne",
           out_rounding: str | Rounding = "rne", order: str = "sequential",
           chunk: int | None = None, promote=None, promote_rounding: str | Rounding = "rne",
           align_bits: int = 13, group: int = 32, acc_saturate: bool | None = None,
           acc_overflow: str | None = None, saturate: bool | None = None,
           overflow: str | None = None, rng=None, sr_bits: int | None = None,
           form: str | None = None, eps=None, direction=None, threads: int | None = None,
           return_words: bool = False) -> Registers:
    """C = A @ B on registers (A: (M, K), B: (K, N)); see the module doc for the model
    (emu.matmul takes block registers too: emu.front).
    Each ``*_rounding`` is a mode name or an emu.Rounding; ``sr_bits`` and ``form`` apply to
    every stochastic one given by name (products and accumulator share r and the form: the
    kernel draws one word per rounding). ``eps`` and ``direction`` belong to the output rounding
    (``out_rounding`` sr_eps / signed_sr_eps; direction broadcasts to the (M, N) result).
    ``return_words=True`` also returns the random words consumed, in draw order.
    ``threads`` split the output rows into blocks (each output is summed by one thread in the
    documented order, so results never depend on the thread count)."""
    for r in (a, b):
        if not isinstance(r, Registers):
            raise TypeError(f"matmul takes Registers, not {type(r).__name__}")
    if a.codes.ndim != 2 or b.codes.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul shapes {a.shape} and {b.shape} do not chain (need (M, K) @ (K, N))")
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}; valid: {', '.join(ORDERS)}")
    threads = optional_integer(threads, "threads", 1)
    chunk = optional_integer(chunk, "chunk", 0) or 0
    align_bits = integer(align_bits, "align_bits", 1)
    group = integer(group, "group", 1)
    acc_fmt = parse_format(acc)
    if isinstance(a.format, FloatFormat) != isinstance(b.format, FloatFormat):
        a, b = (promoted(r, acc_fmt, threads) for r in (a, b))
    if isinstance(a.format, FixedFormat) and a.format.width + b.format.width > 64:
        raise ValueError("fixed-point products wider than 64 bits are not supported")
    m, kk = a.shape
    n = b.shape[1]
    sr_opts = {"sr_bits": sr_bits, "form": form}
    arnd = _rounding(acc_rounding, acc_fmt, "acc_rounding", saturate=acc_saturate,
                     overflow=acc_overflow, **sr_opts)
    exact_products = products is None
    pfmt = parse_format(products) if products is not None else acc_fmt
    prnd = _rounding(product_rounding, pfmt, "product_rounding", **sr_opts)
    promo = parse_format(promote) if promote is not None else acc_fmt
    if chunk and promote is None:
        raise ValueError("chunk=N needs promote= (the wider accumulator)")
    promo_rnd = _rounding(promote_rounding, promo, "promote_rounding")
    products_sr = prnd.stochastic and not exact_products
    if (arnd.stochastic or products_sr) and order != "sequential":
        raise ValueError("stochastic accumulation is defined for order='sequential'")
    if promo_rnd.stochastic:
        raise ValueError("promote_rounding must be deterministic")
    if takes_eps(arnd):
        raise ValueError("accumulators take sr or sr_equal (biased modes need a direction)")
    if products_sr and arnd.stochastic and (prnd.bits, prnd.form) != (arnd.bits, arnd.form):
        raise ValueError(f"product_rounding {prnd} and acc_rounding {arnd} must share r and the SR "
                         "form (one random word per rounding)")
    if out is not None:  # checked before any work or any word is drawn
        out_fmt = parse_format(out)
        ornd = _rounding(out_rounding, out_fmt, "out_rounding", saturate=saturate,
                         overflow=overflow, sr_bits=sr_bits if sr_bits is not None else (
                             arnd.bits if arnd.stochastic else prnd.bits if products_sr else None),
                         form=form, eps=eps)
        if not ornd.stochastic and (eps is not None or direction is not None):
            raise ValueError("eps= and direction= apply to a stochastic out_rounding (sr_eps, "
                             "signed_sr_eps)")
    prw = draws(prnd, (m, n, kk), rng, threads=threads).words if products_sr else NO_DRAWS.words
    arw = draws(arnd, (m, n, kk), rng, threads=threads).words if arnd.stochastic else NO_DRAWS.words
    plan = _Plan(exact_products, pfmt, prnd.kernel(pfmt) if not exact_products else
                 Rounding().kernel(pfmt), acc_fmt, arnd.kernel(acc_fmt), ORDERS[order], chunk,
                 promo, promo_rnd.kernel(promo), align_bits, group)

    rows = _row_blocks(m, n * kk, threads)
    res = paths.matmul(a._codes, a.format, b._codes, b.format, acc_fmt, plan.acc_rounding.mode,
                       plan.acc_rounding.overflow, plan.order, chunk, exact_products, rows)
    if res is None:  # the core, with codes as uint64 (one compiled kernel for every format)
        A = np.ascontiguousarray(a._codes, dtype=np.uint64)
        B = np.ascontiguousarray(b._codes, dtype=np.uint64)
        res = np.empty((m, n), np.uint64)
        if order == "exact" and not _exact_fits_int64(a.format, b.format, kk):
            bad = _exact_bigint(a, b, acc_fmt, plan.acc_rounding.mode, plan.acc_rounding.overflow, res)
        else:
            def block(i0: int, i1: int) -> int:
                w0, w1 = i0 * n * kk, i1 * n * kk  # words of these rows, (i, j, k) C order
                bad = plan.run(A[i0:i1], a.format, B, b.format, prw[w0:w1], arw[w0:w1], res[i0:i1])
                return bad if bad < 0 else i0 * n + bad

            bad = next((x for x in parallel.run(block, rows) if x >= 0), -1)  # blocks in order
        if bad >= 0:
            raise ValueError(f"matmul: output element {bad} is not representable in the "
                             f"accumulator {acc_fmt.name} (NaN without a NaN code, or Inf under wrap)")
    final_fmt = promo if chunk else acc_fmt
    result = Registers._wrap(res.astype(code_dtype(final_fmt.bits), copy=False), final_fmt)
    used = [prw, arw]
    if out is not None:
        result, words = convert(result, out_fmt, ornd, rng=rng if ornd.stochastic else None,
                                direction=direction, threads=threads, return_words=True)
        used.append(words)
    return (result, np.concatenate(used)) if flag(return_words, "return_words") else result


def promoted(r: Registers, acc_fmt, threads: int | None) -> Registers:
    """An operand of a float x fixed matmul in the accumulator's kind, losslessly: a fixed
    operand as its exact float format (float accumulators), a float one as its exact fixed
    format (fixed accumulators; it must hold no NaN or Inf). The products, and so the result,
    are those of the values (docs/semantics.md §9)."""
    if isinstance(r.format, FloatFormat) == isinstance(acc_fmt, FloatFormat):
        return r
    what = f"matmul: operand format {r.format.name} with accumulator {acc_fmt.name}"
    try:
        fmt = exact_float_format(r.format) if isinstance(r.format, FixedFormat) \
            else exact_fixed_of(r.format)
    except ValueError as err:
        raise ValueError(f"{what} is promoted to the accumulator's kind, but {err}") from None
    if isinstance(fmt, FixedFormat) and not np.isfinite(r.to_float()).all():
        raise ValueError(f"{what}: the operand holds NaN or Inf, which fixed point ({fmt.name}) "
                         "cannot hold")
    return convert(r, fmt, "rne", threads=threads)  # exact: every value has its code


def _row_blocks(m: int, work_per_row: int, threads: int | None) -> list[tuple[int, int]]:
    """Output-row blocks, each worth at least ~2**16 multiply-accumulates."""
    return parallel.blocks(m, parallel.resolve(threads),
                           max(1, parallel.MIN_BLOCK // max(work_per_row, 1)))


def _exact_bigint(a, b, acc_fmt, amode, aovf, res) -> int:
    """order='exact' when the exact sum does not fit 64 bits: Python integers, one rounding.
    Specials as in the kernels: the first NaN operand's sign, invalid NaN with sign 0."""
    va, vb = a.to_exact(), b.to_exact()
    sign_a = (a._codes >> (a.format.bits - 1)) & 1
    sign_b = (b._codes >> (b.format.bits - 1)) & 1
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            e = i * b.shape[1] + j
            total, nan_sign, infs = Fraction(0), None, set()
            for k in range(a.shape[1]):
                x, y = va[i, k], vb[k, j]
                if nan_sign is None and isinstance(x, float) and x != x:
                    nan_sign = bool(sign_a[i, k])
                elif nan_sign is None and isinstance(y, float) and y != y:
                    nan_sign = bool(sign_b[k, j])
                elif isinstance(x, float) or isinstance(y, float):
                    if x == 0 or y == 0:
                        nan_sign = False if nan_sign is None else nan_sign  # 0 x Inf
                    else:
                        infs.add((x > 0) == (y > 0))
                elif nan_sign is None:
                    total += x * y
            if nan_sign is None and len(infs) == 2:
                nan_sign = False  # +Inf + -Inf
            if nan_sign is not None:
                if acc_fmt.nan_code is None:
                    return e
                neg = nan_sign and acc_fmt.layout != "fnuz"
                res[i, j] = acc_fmt.nan_code | (acc_fmt.sign_bit if neg else 0)
            elif infs:
                res[i, j] = _round_fraction(float("inf") if infs.pop() else float("-inf"),
                                            acc_fmt, amode, aovf)
            else:
                res[i, j] = _round_fraction(total, acc_fmt, amode, aovf)
    return -1


def _round_fraction(v, fmt, mode, ovf) -> int:
    """Round an exact Fraction (or +-inf) with the core; an exact zero sum is +0."""
    if isinstance(v, float):
        from .ops import quantize

        return int(quantize(np.array([v]), fmt, "rne", **({"saturate": bool(ovf)} if isinstance(
            fmt, FloatFormat) else {"overflow": "sat"})).codes[0])
    return exact.round_rational(v, fmt, mode, ovf) if v else 0


def dot(a: Registers, b: Registers, acc="fp32", out=None, **kw) -> Registers:
    """Dot product over the last axis of ``a`` with the vector ``b`` (same model as matmul)."""
    if not isinstance(a, Registers) or not isinstance(b, Registers):
        raise TypeError("dot takes Registers")
    if b.codes.ndim != 1 or a.shape[-1] != b.shape[0]:
        raise ValueError(f"dot shapes {a.shape} and {b.shape}: need (..., K) and (K,)")
    lead = a.shape[:-1]
    r = matmul(a.reshape(-1, a.shape[-1]), b.reshape(-1, 1), acc, out, **kw)
    if kw.get("return_words"):
        r, words = r
        return (r.reshape(lead) if lead else r.reshape(())), words
    return r.reshape(lead) if lead else r.reshape(())
