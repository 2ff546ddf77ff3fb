"""Conversions on Registers: validation and dispatch to the kernels (no arithmetic here)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from . import parallel
from .formats import FixedFormat, FloatFormat, Format
from .formats import format as parse_format
from .kernels import convert as kconvert
from .kernels import fast
from .kernels.core import SIGNED_SR_EPS, SR, SR_EPS, SR_MAX_BITS
from .registers import Registers, code_dtype
from .rounding import mode_code, overflow_code

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


def _host_codes(x) -> tuple[np.ndarray, tuple, np.ndarray]:
    arr = np.asarray(x)
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
    r = 8 if sr_bits is None else sr_bits
    if not isinstance(r, int) or not 1 <= r <= SR_MAX_BITS:
        raise ValueError(f"sr_bits={sr_bits!r} out of range; valid: 1..{SR_MAX_BITS}")
    if form not in ("carry", "compare"):
        raise ValueError(f"unknown SR form {form!r}; valid: carry, compare")
    eoff = 0
    if mode in (SR_EPS, SIGNED_SR_EPS):
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
    rwords = np.ascontiguousarray(rng.random_words(n, r, threads), dtype=np.uint64)
    return r, rwords, eoff, dirs, form == "compare"


def _is_nan(code, desc) -> bool:
    cls, *_ = kconvert.split_code(code, desc)
    return cls == kconvert.CLS_NAN


def quantize(x, fmt: Format | str, rounding: str = "rne", *, saturate: bool | None = None,
             overflow: str | None = None, rng=None, sr_bits: int | None = None,
             eps: float | None = None, direction=None, form: str = "carry",
             threads: int | None = None) -> Registers:
    """Round float (or integer) values to ``fmt`` once, exactly as hardware would.

    ``saturate`` (floats, default False: overflow gives Inf, or NaN where the format has no Inf)
    and ``overflow`` (fixed: "wrap" | "sat" | "sat_sym", default "sat") set the overflow policy.
    Stochastic modes (sr, sr_eps, signed_sr_eps, sr_equal) take ``rng`` (an emu.LFSR or
    emu.AmdPrng; one draw per element, the source's state advances), ``sr_bits`` r (default 8),
    ``form`` ("carry" | "compare"), ``eps`` for the biased modes, and ``direction`` (-1/0/+1 per
    element) for signed_sr_eps. ``threads``: see emu.parallel (the codes never depend on it).
    """
    fmt = parse_format(fmt)
    mode = mode_code(rounding)
    ovf = overflow_code(fmt, saturate, overflow)
    codes, desc, host = _host_codes(x)
    sr = _stochastic(mode, codes.shape, rng, sr_bits, eps, direction, form, threads)
    return Registers(_run(codes, desc, fmt, mode, ovf, "input", host, sr, threads), fmt)


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
    sr = _stochastic(mode, r.codes.shape, rng, sr_bits, eps, direction, form, threads)
    return Registers(_run(r.codes, r.format.descriptor, fmt, mode, ovf, "register", None, sr,
                          threads), fmt)


def decode(r: Registers, threads: int | None = None) -> np.ndarray:
    """Registers -> float64: a conversion into the host float64 format under rne."""
    out = _run(r.codes, r.format.descriptor, _F64_FORMAT, 0, 0, "register", threads=threads)
    return out.view(np.float64)


class _HostFloat64:
    """The host float64 format as a conversion target (e11m52 is wider than emu's FloatFormat)."""

    name = "float64"
    bits = 64
    descriptor = kconvert.F64


_F64_FORMAT = _HostFloat64()
