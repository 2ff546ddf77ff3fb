"""Elementwise register arithmetic: add, sub, mul, fma, neg, abs, minimum, maximum, comparisons.

Every result is the exact result rounded once into the output format (DESIGN Part B,
"Arithmetic"). Default output formats: for fixed point the exact full-precision format (a sum of
s(a).(fa) and s(b).(fb) needs max(fa, fb) fraction bits and enough integer bits for the whole
range; a product s(a+b).(fa+fb)); for floats the operands' common format (mixed float formats
need an explicit ``out=``). Rounding, overflow and the random source come from the arguments,
else from the innermost ``emu.context(...)``, else rne / non-saturating / sat.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from . import parallel, paths, profiles
from .codes import OVF_SAT
from .defaults import Context, context, current_context, rounding_for  # noqa: F401 - re-exported
from .formats import FixedFormat, FloatFormat, Format
from .formats import format as parse_format
from .kernels import arith as k
from .registers import Registers, code_dtype
from .rounding import Rounding
from .sources import with_words
from .validate import optional_integer

MAX_EXACT_FIXED_WIDTH = 62  # exact fixed-point intermediates are kept in 64-bit integers


# --- exact fixed-point result formats -----------------------------------------------------------
def _fixed_range(f: FixedFormat) -> tuple[Fraction, Fraction]:
    return f.min, f.max


def _fixed_holding(lo: Fraction, hi: Fraction, frac: int, what: str) -> FixedFormat:
    """Smallest fixed format with ``frac`` fraction bits holding every value in [lo, hi]."""
    scale = Fraction(2) ** frac
    ilo, ihi = lo * scale, hi * scale
    assert ilo.denominator == 1 and ihi.denominator == 1
    ilo, ihi = int(ilo), int(ihi)
    if ilo < 0:
        width = max((-ilo - 1).bit_length(), ihi.bit_length()) + 1
        signed = True
    else:
        width = max(ihi.bit_length(), 1)
        signed = False
    if width > MAX_EXACT_FIXED_WIDTH:
        raise ValueError(
            f"the exact result of {what} needs {width} bits (max {MAX_EXACT_FIXED_WIDTH}); "
            "use narrower operands"
        )
    return FixedFormat(max(width, 2) if signed else width, frac, signed)


def exact_fixed_format(op: str, *fmts: FixedFormat) -> FixedFormat:
    """The exact full-precision format of ``op`` on fixed-point operands."""
    rs = [_fixed_range(f) for f in fmts]
    if op in ("add", "sub", "min", "max"):
        (alo, ahi), (blo, bhi) = rs
        frac = max(fmts[0].frac, fmts[1].frac)
        lo, hi = {"add": (alo + blo, ahi + bhi), "sub": (alo - bhi, ahi - blo),
                  "min": (min(alo, blo), min(ahi, bhi)), "max": (max(alo, blo), max(ahi, bhi))}[op]
    elif op in ("mul", "fma"):
        (alo, ahi), (blo, bhi) = rs[:2]
        prods = [alo * blo, alo * bhi, ahi * blo, ahi * bhi]
        lo, hi = min(prods), max(prods)
        frac = fmts[0].frac + fmts[1].frac
        if op == "fma":
            clo, chi = rs[2]
            lo, hi, frac = lo + clo, hi + chi, max(frac, fmts[2].frac)
    elif op == "neg":
        lo, hi = -rs[0][1], -rs[0][0]
        frac = fmts[0].frac
    elif op == "abs":
        lo, hi = Fraction(0), max(abs(rs[0][0]), rs[0][1])
        frac = fmts[0].frac
    else:  # pragma: no cover
        raise ValueError(op)
    return _fixed_holding(lo, hi, frac, op)


def _check_operands(op: str, *regs) -> None:
    for r in regs:
        if not isinstance(r, Registers):
            raise TypeError(f"{op} takes Registers, not {type(r).__name__}; use emu.quantize first")
    kinds = {isinstance(r.format, FloatFormat) for r in regs}
    if len(kinds) > 1:
        raise ValueError(f"{op}: cannot mix float and fixed-point operands "
                         f"({', '.join(r.format.name for r in regs)}); convert one first")
    if op in ("mul", "fma") and isinstance(regs[0].format, FixedFormat) \
            and regs[0].format.width + regs[1].format.width > 64:
        # the kernels form the exact product in 64 bits (as matmul, which refuses the same)
        raise ValueError(f"{op}: fixed-point products wider than 64 bits are not supported "
                         f"({regs[0].format.name} x {regs[1].format.name})")


def _out_format(op: str, out, regs) -> Format:
    if out is not None:
        return parse_format(out)
    fmts = [r.format for r in regs]
    if isinstance(fmts[0], FixedFormat):
        return exact_fixed_format(op, *fmts)
    if all(f == fmts[0] for f in fmts):
        return fmts[0]
    raise ValueError(f"{op}: operands have different float formats "
                     f"({', '.join(f.name for f in fmts)}); pass out= to say where to round")


def _settings(dst: Format, rounding, saturate, overflow, rng, sr_bits, eps,
              form) -> tuple[Rounding, object]:
    """The call's Rounding (its arguments, else the context's; ``saturate`` for a float
    ``dst``, ``overflow`` for a fixed one) and random source (its own, else the context's for
    a stochastic mode; an rng given to a deterministic mode is refused)."""
    rnd = rounding_for(rounding, saturate=saturate, overflow=overflow, sr_bits=sr_bits, eps=eps,
                       form=form, fmt=dst)
    return rnd, rng if rng is not None or not rnd.stochastic else current_context().rng


_OPS = {"add": k.OP_ADD, "sub": k.OP_SUB, "mul": k.OP_MUL, "min": k.OP_MIN, "max": k.OP_MAX}


def _u64(codes: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(codes.reshape(-1), dtype=np.uint64)


def _at(arr: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """arr[idx] for per-element arrays that may be empty (a deterministic call's words)."""
    return arr[idx] if arr.size else arr


def _binary(op: str, a: Registers, b: Registers, out, rounding, saturate, overflow, rng, sr_bits,
            eps, direction, form, threads=None, return_words=False, profile=None) -> Registers:
    _check_operands(op, a, b)
    threads = optional_integer(threads, "threads", 1)
    dst = _out_format(op, out, (a, b))
    rnd, rng = _settings(dst, rounding, saturate, overflow, rng, sr_bits, eps, form)
    mode, ovf = rnd.mode_code, rnd.overflow_code(dst)
    prof = profiles.resolve(profile, current_context().profile)
    ca, cb = np.broadcast_arrays(a._codes, b._codes)
    shape = ca.shape
    fa_, fb_ = (np.ascontiguousarray(x).reshape(-1) for x in (ca, cb))
    res = np.empty(fa_.size, code_dtype(dst.bits))
    sr, consumed = profiles.draws(prof, rnd, dst, shape, rng, direction, threads)
    rbits, rwords, eoff, dirs, compare = sr[:5]  # never lazy here: the words are an array

    def run(idx, out_, overflow_, compute=paths.binary) -> int:  # elements idx (slice or array)
        return compute(_OPS[op], fa_[idx], a.format.descriptor, fb_[idx], b.format.descriptor,
                       out_, dst.descriptor, mode, overflow_, rbits, _at(rwords, idx), eoff,
                       _at(dirs, idx), compare)

    ranges = parallel.blocks(fa_.size, parallel.resolve(threads))
    # elementwise: any split gives the same codes
    bad = parallel.first_bad(parallel.run(lambda s, e: run(slice(s, e), res[s:e], ovf), ranges),
                             ranges)
    if bad >= 0:
        raise ValueError(f"{op}: result element {bad} is not representable in {dst.name} "
                         "(NaN without a NaN code, Inf under wrap, or an exact sum too wide to "
                         "wrap: use overflow='sat' or a float target)")
    profiles.finish_arithmetic(prof, res, dst, ovf == OVF_SAT, lambda idx: _nan_when_saturating(
        lambda i, o, v: run(i, o, v, paths.core_binary), idx, dst))
    return with_words(Registers._wrap(res.reshape(shape), dst), consumed, return_words)


def _nan_when_saturating(core, idx: np.ndarray, dst: Format) -> np.ndarray:
    """Which elements idx are NaN results (a NaN operand or an invalid operation), not
    overflows: those the core, run again saturating (an overflow gives ±max), leaves NaN."""
    again = np.empty(idx.size, np.uint64)
    core(idx, again, OVF_SAT)
    return dst.nan_mask(again)


def _doc(fn):
    fn.__doc__ = (fn.__doc__ or "") + """

    ``out``: output format (default: see module doc). ``rounding``: any mode name or an
    emu.Rounding; stochastic modes take ``rng``, ``sr_bits``, ``eps``, ``direction``, ``form``
    as in ``emu.quantize`` (one draw per output element; ``return_words=True`` also returns the
    words). ``saturate`` (float out) / ``overflow`` (fixed out). ``threads``: see emu.parallel
    (results never depend on it). ``profile``: a vendor's conventions for NaN results and SR
    operands (docs/semantics.md §3.5; default: the context's, else ocp)."""
    return fn


@_doc
def add(a, b, out=None, rounding=None, *, saturate=None, overflow=None, rng=None, sr_bits=None,
        eps=None, direction=None, form=None, threads=None, return_words=False,
        profile=None) -> Registers:
    """a + b, rounded once."""
    return _binary("add", a, b, out, rounding, saturate, overflow, rng, sr_bits, eps, direction,
                   form, threads, return_words, profile)


@_doc
def sub(a, b, out=None, rounding=None, *, saturate=None, overflow=None, rng=None, sr_bits=None,
        eps=None, direction=None, form=None, threads=None, return_words=False,
        profile=None) -> Registers:
    """a - b, rounded once."""
    return _binary("sub", a, b, out, rounding, saturate, overflow, rng, sr_bits, eps, direction,
                   form, threads, return_words, profile)


@_doc
def mul(a, b, out=None, rounding=None, *, saturate=None, overflow=None, rng=None, sr_bits=None,
        eps=None, direction=None, form=None, threads=None, return_words=False,
        profile=None) -> Registers:
    """a * b, rounded once."""
    return _binary("mul", a, b, out, rounding, saturate, overflow, rng, sr_bits, eps, direction,
                   form, threads, return_words, profile)


@_doc
def minimum(a, b, out=None, rounding=None, *, saturate=None, overflow=None,
            threads=None, profile=None) -> Registers:
    """Elementwise minimum (IEEE 754-2019 minimum: NaN propagates, -0 < +0)."""
    return _binary("min", a, b, out, rounding, saturate, overflow, None, None, None, None, None,
                   threads, False, profile)


@_doc
def maximum(a, b, out=None, rounding=None, *, saturate=None, overflow=None,
            threads=None, profile=None) -> Registers:
    """Elementwise maximum (IEEE 754-2019 maximum: NaN propagates, +0 > -0)."""
    return _binary("max", a, b, out, rounding, saturate, overflow, None, None, None, None, None,
                   threads, False, profile)


@_doc
def fma(a, b, c, out=None, rounding=None, *, saturate=None, overflow=None, rng=None, sr_bits=None,
        eps=None, direction=None, form=None, threads=None, return_words=False,
        profile=None) -> Registers:
    """a * b + c with a single rounding."""
    _check_operands("fma", a, b, c)
    threads = optional_integer(threads, "threads", 1)
    dst = _out_format("fma", out, (a, b, c))
    rnd, rng = _settings(dst, rounding, saturate, overflow, rng, sr_bits, eps, form)
    mode, ovf = rnd.mode_code, rnd.overflow_code(dst)
    prof = profiles.resolve(profile, current_context().profile)
    ca, cb, cc = (_u64(x) for x in np.broadcast_arrays(a._codes, b._codes, c._codes))
    shape = np.broadcast_shapes(a.shape, b.shape, c.shape)
    sr, consumed = profiles.draws(prof, rnd, dst, shape, rng, direction, threads)
    rbits, rwords, eoff, dirs, compare = sr[:5]  # never lazy here: the words are an array
    wide = np.empty(ca.size, np.uint64)

    def run(idx, out_, overflow_) -> int:  # elements idx (a slice or an index array)
        return k.fma_codes(ca[idx], a.format.descriptor, cb[idx], b.format.descriptor, cc[idx],
                           c.format.descriptor, out_, dst.descriptor, mode, overflow_, rbits,
                           _at(rwords, idx), eoff, _at(dirs, idx), compare)

    ranges = parallel.blocks(ca.size, parallel.resolve(threads))
    bad = parallel.first_bad(parallel.run(lambda s, e: run(slice(s, e), wide[s:e], ovf), ranges),
                             ranges)
    res = wide.astype(code_dtype(dst.bits))
    if bad >= 0:
        raise ValueError(f"fma: result element {bad} is not representable in {dst.name}")
    profiles.finish_arithmetic(prof, res, dst, ovf == OVF_SAT,
                               lambda idx: _nan_when_saturating(run, idx, dst))
    return with_words(Registers._wrap(res.reshape(shape), dst), consumed, return_words)


def _zero_like(a: Registers) -> Registers:
    return Registers._wrap(np.zeros(a.shape, a._codes.dtype), a.format)


def neg(a: Registers, out=None, rounding=None, *, saturate=None, overflow=None,
        profile=None) -> Registers:
    """-a. Floats: the sign bit flips (no rounding; NaN keeps its payload; fnuz 0 stays 0) when
    ``out`` is a's format; fixed point: 0 - a exactly, into the exact format by default.
    ``profile`` applies to the conversion into ``out`` only (a sign flip is not an operation
    that makes a NaN, as RISC-V's fsgnjn)."""
    _check_operands("neg", a)
    if isinstance(a.format, FloatFormat):
        f, codes = a.format, a._codes
        flipped = codes ^ codes.dtype.type(f.sign_bit)
        if f.layout == "fnuz":  # no -0, and 0x80 is the NaN: both stay
            flipped = np.where((codes & (f.sign_bit - 1)) == 0, codes, flipped)
        r = Registers._wrap(flipped.astype(codes.dtype), f)
        return r if out is None else _convert(r, out, rounding, saturate, None, profile)
    dst = parse_format(out) if out is not None else exact_fixed_format("neg", a.format)
    return sub(_zero_like(a), a, out=dst, rounding=rounding, overflow=overflow)


def abs_(a: Registers, out=None, rounding=None, *, saturate=None, overflow=None,
         profile=None) -> Registers:
    """|a|. Floats: the sign bit clears (NaN included, fnuz NaN stays); fixed point exact.
    ``profile`` as in ``neg``."""
    _check_operands("abs", a)
    if isinstance(a.format, FloatFormat):
        f, codes = a.format, a._codes
        cleared = codes & codes.dtype.type(f.sign_bit - 1)
        if f.layout == "fnuz":
            cleared = np.where(codes == f.sign_bit, codes, cleared)
        r = Registers._wrap(cleared.astype(codes.dtype), f)
        return r if out is None else _convert(r, out, rounding, saturate, None, profile)
    dst = parse_format(out) if out is not None else exact_fixed_format("abs", a.format)
    w = a.format.width
    negative = ((a._codes >> (w - 1)) & 1).astype(bool) if a.format.signed else np.zeros(a.shape, bool)
    pos = sub(a, _zero_like(a), out=dst, rounding=rounding, overflow=overflow)
    negd = sub(_zero_like(a), a, out=dst, rounding=rounding, overflow=overflow)
    return Registers._wrap(np.where(negative, negd._codes, pos._codes), dst)


def _convert(r, out, rounding, saturate, overflow, profile=None):
    from .ops import convert

    return convert(r, out, rounding_for(rounding, saturate=saturate, overflow=overflow),
                   profile=profile)


_CMP = {"eq": k.CMP_EQ, "ne": k.CMP_NE, "lt": k.CMP_LT, "le": k.CMP_LE, "gt": k.CMP_GT,
        "ge": k.CMP_GE}


def compare(a: Registers, b: Registers, predicate: str) -> np.ndarray:
    """Exact value comparison (any formats of one kind): eq, ne, lt, le, gt, ge -> bool array.
    NaN is unordered (only ne is True); -0 == +0."""
    _check_operands(predicate, a, b)
    if predicate not in _CMP:
        raise ValueError(f"unknown predicate {predicate!r}; valid: {', '.join(_CMP)}")
    ca, cb = (np.ascontiguousarray(x) for x in np.broadcast_arrays(a._codes, b._codes))
    res = np.empty(ca.size, np.bool_)
    k.compare_codes(_u64(ca), a.format.descriptor, _u64(cb), b.format.descriptor, _CMP[predicate],
                    res)
    return res.reshape(ca.shape)


def eq(a, b): return compare(a, b, "eq")  # noqa: E704
def ne(a, b): return compare(a, b, "ne")  # noqa: E704
def lt(a, b): return compare(a, b, "lt")  # noqa: E704
def le(a, b): return compare(a, b, "le")  # noqa: E704
def gt(a, b): return compare(a, b, "gt")  # noqa: E704
def ge(a, b): return compare(a, b, "ge")  # noqa: E704
