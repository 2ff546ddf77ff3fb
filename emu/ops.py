"""Conversions on Registers: validation and dispatch to the kernels (no arithmetic here)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from . import exact, parallel
from .formats import FixedFormat, FloatFormat, Format
from .formats import format as parse_format
from .kernels import convert as kconvert
from .kernels import fast
from .kernels.core import SIGNED_SR_EPS, SR, SR_EPS, SR_MAX_BITS
from .lfsr import check_source, source_words
from .registers import Registers, code_dtype
from .rounding import mode_code, overflow_code
from .validate import integer, optional_integer, real

# Host arrays are codes of host formats (see emu.kernels.convert): dtype -> descriptor.
_HOST = {
    np.dtype(np.float64): kconvert.F64,
    np.dtype(np.float32): kconvert.F32,
    np.dtype(np.float16): FloatFormat(5, 10, 15, "ieee").descriptor,
    np.dtype(np.int64): FixedFormat(64, 0, True).descriptor,
    np.dtype(np.uint64): FixedFormat(64, 0, False).descriptor,
}
_EMPTY_U64 = np.empty(0, np.uint64)
_EMPTY_I8 = np.empty(0, np.int8)
_EMPTY_U8 = np.empty(0, np.uint8)


_FLOATS = (float, np.float64, np.float32, np.float16)
_INTS = (int, np.integer)


def _numeric(x) -> np.ndarray | None:
    """``x`` as an array of a host dtype when that holds every value exactly, else None (the
    exact path: strings, Fractions, Decimals, ints beyond 64 bits, ints > 2**53 among floats)."""
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "OUS":
            return None
        return x
    if isinstance(x, str | bytes | np.str_ | np.bytes_):
        return None
    if isinstance(x, bool | np.bool_ | np.generic) or isinstance(x, float):
        return np.asarray(x)
    if isinstance(x, int):
        return np.asarray(x) if -(1 << 63) <= x < (1 << 64) else None
    if isinstance(x, str | bytes | Fraction) or not hasattr(x, "__len__"):
        return None
    obj = np.array(x, dtype=object)  # a nested sequence: look at what it holds
    flat = obj.reshape(-1).tolist()
    kinds = set(map(type, flat))
    if kinds <= set(_FLOATS):
        return obj.astype(np.float64)
    if all(issubclass(k, _INTS) and not issubclass(k, bool | np.bool_) for k in kinds):
        if all(-(1 << 63) <= v < (1 << 63) for v in flat):
            return obj.astype(np.int64)
        if all(0 <= v < (1 << 64) for v in flat):
            return obj.astype(np.uint64)
        return None
    if all(k in _FLOATS or (issubclass(k, _INTS) and not issubclass(k, bool | np.bool_))
           for k in kinds):
        if all(isinstance(v, _FLOATS) or -(1 << 53) <= v <= (1 << 53) for v in flat):
            return obj.astype(np.float64)  # every int is exact in float64
    return None


def _host_codes(arr: np.ndarray) -> tuple[np.ndarray, tuple, np.ndarray]:
    """Host values as codes of a host format: (codes view, descriptor, contiguous values)."""
    if arr.dtype.kind == "b" or arr.dtype.kind not in "fiu":
        raise TypeError(f"quantize takes float or integer values, not {arr.dtype}")
    if arr.dtype.kind in "iu" and arr.dtype not in _HOST:
        arr = arr.astype(np.int64 if arr.dtype.kind == "i" else np.uint64)
    if arr.dtype not in _HOST:
        raise TypeError(f"unsupported input dtype {arr.dtype}; use float16/32/64 or integers")
    desc = _HOST[arr.dtype]
    view = {2: np.uint16, 4: np.uint32, 8: np.uint64}[arr.dtype.itemsize]
    arr = np.ascontiguousarray(arr).reshape(arr.shape)  # keeps 0-d scalars 0-d
    return arr.view(view), desc, arr


def _run(src_codes: np.ndarray, src_desc: tuple, dst: Format, mode: int, ovf: int,
         what: str, host: np.ndarray | None = None, sr: tuple | None = None,
         threads: int | None = None) -> np.ndarray:
    flat = src_codes.reshape(-1)
    out = np.empty(flat.shape, code_dtype(dst.bits))
    host_flat = None if host is None or host.dtype.kind != "f" else host.reshape(-1)
    ranges = parallel.blocks(flat.size, parallel.resolve(threads))

    def block(a: int, b: int) -> int:  # elementwise: any split gives the same codes
        hb = None if host_flat is None else host_flat[a:b]
        srb = None if sr is None else (sr[0], sr[1][a:b], sr[2], sr[3][a:b], sr[4])
        return _convert_block(flat[a:b], src_desc, out[a:b], dst.descriptor, mode, ovf, hb, srb)

    bad = parallel.first_bad(parallel.run(block, ranges), ranges)
    if bad >= 0:
        raise ValueError(
            f"{what} element {bad} is not representable in {dst.name}: "
            + ("NaN has no code in this format" if _is_nan(flat[bad], src_desc)
               else "an infinite value cannot wrap; use overflow='sat'")
        )
    return out.reshape(src_codes.shape)


def _convert_block(flat, src_desc, out, dst_desc, mode, ovf, host_flat, sr) -> int:
    """One block: a fast path when one applies, else the core; the first bad element or -1."""
    if sr is not None:
        if mode == SR and fast.convert_sr(flat, src_desc, out, dst_desc, ovf, sr[0], sr[1], sr[4]):
            return -1
        return _core(flat, src_desc, out, dst_desc, mode, ovf, sr)
    if fast.convert(flat, src_desc, out, dst_desc, mode, ovf, host_flat):
        return -1
    return _core(flat, src_desc, out, dst_desc, mode, ovf, None)


def _core(flat, src_desc, out, dst_desc, mode, ovf, sr) -> int:
    """The rounding core over uint64 codes (one compiled kernel for every format pair)."""
    rbits, rwords, eoff, dirs, compare = sr if sr else (1, _EMPTY_U64, 0, _EMPTY_I8, False)
    wide = np.empty(flat.size, np.uint64)
    bad = kconvert.convert_codes(np.ascontiguousarray(flat, dtype=np.uint64), src_desc, wide,
                                 dst_desc, mode, ovf, rbits, rwords, eoff, dirs, compare,
                                 _EMPTY_U8)
    out[:] = wide
    return bad


def _stochastic(mode: int, shape: tuple, rng, sr_bits, eps, direction, form,
                threads: int | None = None) -> tuple | None:
    """Random words and offsets for a stochastic mode (DESIGN Part B): one draw per element."""
    if mode < SR:
        for name, v in (("rng", rng), ("sr_bits", sr_bits), ("eps", eps), ("direction", direction)):
            if v is not None:
                raise ValueError(f"{name}= only applies to stochastic rounding modes")
        return None
    if rng is None:
        raise ValueError("stochastic rounding needs a random source: rng=emu.LFSR(...)")
    check_source(rng)
    r = integer(8 if sr_bits is None else sr_bits, "sr_bits", 1, SR_MAX_BITS)
    if form not in ("carry", "compare"):
        raise ValueError(f"unknown SR form {form!r}; valid: carry, compare")
    eoff = 0
    if mode in (SR_EPS, SIGNED_SR_EPS):
        if eps is not None:
            eps = real(eps, "eps")
        if eps is None or not 0 <= eps < 1:
            raise ValueError(f"eps={eps!r}: the biased modes need eps in [0, 1)")
        eoff = round(Fraction(eps) * 2**r)  # E = round(eps * 2^r), ties to even
    elif eps is not None:
        raise ValueError("eps= only applies to sr_eps and signed_sr_eps")
    n = int(np.prod(shape))
    dirs = _EMPTY_I8
    if mode == SIGNED_SR_EPS:
        if direction is None:
            raise ValueError("signed_sr_eps needs direction= (-1, 0 or +1 per element)")
        d = np.asarray(direction)
        try:
            d = np.broadcast_to(d, shape)
        except ValueError:
            raise ValueError(f"direction shape {d.shape} does not broadcast to {shape}") from None
        if not np.isin(d, (-1, 0, 1)).all():
            raise ValueError("direction values must be -1, 0 or +1")
        dirs = np.ascontiguousarray(d, dtype=np.int8).reshape(-1)
    elif direction is not None:
        raise ValueError("direction= only applies to signed_sr_eps")
    return r, source_words(rng, n, r, threads), eoff, dirs, form == "compare"


def _is_nan(code, desc) -> bool:
    cls, *_ = kconvert.split_code(code, desc)
    return cls == kconvert.CLS_NAN


def quantize(x, fmt: Format | str, rounding: str = "rne", *, saturate: bool | None = None,
             overflow: str | None = None, rng=None, sr_bits: int | None = None,
             eps: float | None = None, direction=None, form: str = "carry",
             threads: int | None = None) -> Registers:
    """Round values to ``fmt`` once, exactly as hardware would.

    ``x``: float16/32/64 or integer arrays (every value exact, int64/uint64 included), Python
    numbers, or exact values float64 cannot hold: ``Fraction``, ``Decimal``, ints of any size,
    and number strings (decimals such as ``"1.00000000000000000001"``, ``"inf"``, hex floats
    such as ``"0x1.8p3"``), alone, in lists or in object/str arrays. Each is rounded once from
    its exact value (see emu.exact), never via float64.
    ``saturate`` (floats, default False: overflow gives Inf, or NaN where the format has no Inf)
    and ``overflow`` (fixed: "wrap" | "sat" | "sat_sym", default "sat") set the overflow policy.
    Stochastic modes (sr, sr_eps, signed_sr_eps, sr_equal) take ``rng`` (an emu.LFSR or
    emu.AmdPrng, or any emu.lfsr.RandomSource; one draw per element, the source's state
    advances), ``sr_bits`` r (default 8), ``form`` ("carry" | "compare"), ``eps`` for the biased
    modes, and ``direction`` (-1/0/+1 per element) for signed_sr_eps. ``threads``: see
    emu.parallel (the codes never depend on it).
    """
    fmt = parse_format(fmt)
    mode = mode_code(rounding)
    ovf = overflow_code(fmt, saturate, overflow)
    threads = optional_integer(threads, "threads", 1)
    arr = _numeric(x)
    elems = None
    if arr is None:  # exact values: float64 approximations now, the exact path below
        elems = np.array(x, dtype=object) if not isinstance(x, np.ndarray) else x
        arr = exact.approximate(elems)
    codes, desc, host = _host_codes(arr)
    sr = _stochastic(mode, codes.shape, rng, sr_bits, eps, direction, form, threads)
    rationals = []
    if elems is not None:
        host = host.copy()
        flat, items = host.reshape(-1), elems.reshape(-1)
        for i in exact.suspects(host, fmt, mode, sr[0] if sr else 1).tolist():
            v = exact.exact_value(items[i])
            if isinstance(v, Fraction) and not _is_float64(v, flat[i]):
                rationals.append((i, v))
                flat[i] = 0.0  # its code comes from round_rational
            else:
                flat[i] = float(v)
        codes = host.view(np.uint64)
    out = _run(codes, desc, fmt, mode, ovf, "input", host, sr, threads)
    flat_out = out.reshape(-1)
    for i, v in rationals:
        word, eoff, d = (int(sr[1][i]), sr[2], int(sr[3][i]) if sr[3].size else 0) if sr else (0, 0, 0)
        flat_out[i] = exact.round_rational(v, fmt, mode, ovf, sr[0] if sr else 1, word, eoff, d,
                                           bool(sr and sr[4]))
    return Registers._wrap(out, fmt)


def _is_float64(v: Fraction, x: float) -> bool:
    """Is the exact value v the float64 x?"""
    return bool(np.isfinite(x)) and Fraction(float(x)) == v


def convert(r: Registers, fmt: Format | str, rounding: str = "rne", *,
            saturate: bool | None = None, overflow: str | None = None, rng=None,
            sr_bits: int | None = None, eps: float | None = None, direction=None,
            form: str = "carry", threads: int | None = None) -> Registers:
    """Convert registers to another format with one rounding (fixed <-> float included);
    stochastic options and ``threads`` as in ``quantize``."""
    if not isinstance(r, Registers):
        raise TypeError(f"convert takes Registers, not {type(r).__name__}; use emu.quantize")
    fmt = parse_format(fmt)
    mode = mode_code(rounding)
    ovf = overflow_code(fmt, saturate, overflow)
    threads = optional_integer(threads, "threads", 1)
    sr = _stochastic(mode, r._codes.shape, rng, sr_bits, eps, direction, form, threads)
    return Registers._wrap(_run(r._codes, r.format.descriptor, fmt, mode, ovf, "register", None, sr,
                                threads), fmt)


def decode(r: Registers, threads: int | None = None) -> np.ndarray:
    """Registers -> float64: a conversion into the host float64 format under rne."""
    out = _run(r._codes, r.format.descriptor, _F64_FORMAT, 0, 0, "register",
               threads=optional_integer(threads, "threads", 1))
    return out.view(np.float64)


class _HostFloat64:
    """The host float64 format as a conversion target (e11m52 is wider than emu's FloatFormat)."""

    name = "float64"
    bits = 64
    descriptor = kconvert.F64


_F64_FORMAT = _HostFloat64()
