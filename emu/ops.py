"""Conversions on Registers: validation and dispatch to the kernels (no arithmetic here)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from . import exact, parallel, paths, profiles
from .codes import OVF_SAT
from .defaults import current_context
from .formats import E8M0, FixedFormat, FloatFormat, Format, ScaleFormat
from .formats import format as parse_format
from .interop import host_array
from .kernels import convert as kconvert
from .registers import Registers, code_dtype
from .rounding import Rounding, as_rounding
from .sources import NO_DRAWS, Draws, with_words
from .validate import optional_integer

# Host arrays are codes of host formats (see emu.kernels.convert): dtype -> descriptor.
_HOST = {
    np.dtype(np.float64): kconvert.F64,
    np.dtype(np.float32): kconvert.F32,
    np.dtype(np.float16): FloatFormat(5, 10, 15, "ieee").descriptor,
    np.dtype(np.int64): FixedFormat(64, 0, True).descriptor,
    np.dtype(np.uint64): FixedFormat(64, 0, False).descriptor,
}


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
         what: str, host: np.ndarray | None = None, sr: Draws | None = None,
         threads: int | None = None) -> np.ndarray:
    flat = src_codes.reshape(-1)
    out = np.empty(flat.shape, code_dtype(dst.bits))
    host_flat = None if host is None or host.dtype.kind != "f" else host.reshape(-1)
    ranges = parallel.blocks(flat.size, parallel.resolve(threads))

    def block(a: int, b: int) -> int:  # elementwise: any split gives the same codes
        hb = None if host_flat is None else host_flat[a:b]
        srb = None if sr is None else sr.block(a, b)
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
    """One block, by the path emu.paths chooses; the first bad element or -1."""
    return paths.convert(flat, src_desc, out, dst_desc, mode, ovf, host_flat, *(sr or NO_DRAWS))


def _is_nan(code, desc) -> bool:
    cls, *_ = kconvert.split_code(code, desc)
    return cls == kconvert.CLS_NAN


def _rounding(fmt, rounding, saturate, overflow, sr_bits, eps, form) -> Rounding:
    return as_rounding(rounding, saturate=saturate, overflow=overflow, sr_bits=sr_bits, eps=eps,
                       form=form, fmt=fmt)


def quantize(x, fmt: Format | str, rounding: str | Rounding = "rne", *,
             saturate: bool | None = None, overflow: str | None = None, rng=None,
             sr_bits: int | None = None, eps: float | None = None, direction=None,
             form: str | None = None, threads: int | None = None,
             return_words: bool = False, profile: str | profiles.Profile | None = None
             ) -> Registers:
    """Round values to ``fmt`` once, exactly as hardware would (block formats: emu.front).

    ``e8m0`` (the MX scale) rounds through ``_quantize_scale`` (docs/semantics.md §14.1).

    ``x``: float16/32/64 or integer arrays (every value exact, int64/uint64 included), Python
    numbers, or exact values float64 cannot hold: ``Fraction``, ``Decimal``, ints of any size,
    and number strings (decimals such as ``"1.00000000000000000001"``, ``"inf"``, hex floats
    such as ``"0x1.8p3"``), alone, in lists or in object/str arrays. Each is rounded once from
    its exact value (see emu.exact), never via float64.
    ``saturate`` (floats, default False: overflow gives Inf, or NaN where the format has no Inf)
    and ``overflow`` (fixed: "wrap" | "sat" | "sat_sym", default "sat") set the overflow policy.
    ``rounding``: a mode name or an emu.Rounding (which carries the options below; keyword
    options given as well override it). Stochastic modes (sr, sr_eps, signed_sr_eps, sr_equal)
    take ``rng`` (an emu.LFSR, emu.AmdPrng, emu.ReplaySource or any emu.RandomSource; one draw
    per element, the source's state advances), ``sr_bits`` r (default 8), ``form`` ("carry" |
    "compare"), ``eps`` for the biased modes, and ``direction`` (-1/0/+1 per element) for
    signed_sr_eps. ``return_words=True`` returns ``(registers, words)``: the random words the
    call consumed, one per element in C order. ``threads``: see emu.parallel (the codes never
    depend on it). ``profile``: a vendor's conventions (``"ocp"``, the default, ``"nvidia"``,
    ``"amd"``, ``"riscv"`` or an emu.Profile; else the context's): NaN encoding, AMD's SR
    operand (docs/semantics.md §3.5). For ``nvidia``, float64 inputs (and Python numbers and
    exact values) take CUDA's double path, every other input its float path.
    """
    if isinstance(x, Registers):
        raise TypeError("quantize takes values; to round registers into another format use "
                        "emu.convert")
    if isinstance(parse_format(fmt), ScaleFormat):
        if overflow is not None:
            raise ValueError("e8m0 takes no overflow= (saturate= sets its overflow, §14.1)")
        if profiles.resolve(profile, current_context().profile).name != "ocp":
            raise ValueError("e8m0 has no vendor profile (its codes are OCP MX's)")
        return _quantize_scale(x, rounding, saturate=saturate, rng=rng, sr_bits=sr_bits, eps=eps,
                               direction=direction, form=form, threads=threads,
                               return_words=return_words)
    x = host_array(x)  # ml_dtypes arrays (bfloat16, float8, ...) as exact numpy floats
    fmt = parse_format(fmt)
    rnd = _rounding(fmt, rounding, saturate, overflow, sr_bits, eps, form)
    mode, ovf = rnd.mode_code, rnd.overflow_code(fmt)
    threads = optional_integer(threads, "threads", 1)
    prof = profiles.resolve(profile, current_context().profile)
    arr = _numeric(x)
    elems = None
    if arr is None:  # exact values: float64 approximations now, the exact path below
        elems = np.array(x, dtype=object) if not isinstance(x, np.ndarray) else x
        arr = exact.approximate(elems)
    codes, desc, host = _host_codes(arr)
    # NO_DRAWS unless stochastic; the profile may read the source's words its own way
    # lazy (made block by block where used) unless this call must hand them back or read them
    drawn, consumed = profiles.draws(prof, rnd, fmt, codes.shape, rng, direction, threads,
                                     lazy=not return_words and elems is None)
    sr = drawn if rnd.stochastic else None
    rationals = []
    if elems is not None:
        host = host.copy()
        flat, items = host.reshape(-1), elems.reshape(-1)
        for i in exact.suspects(host, fmt, mode, sr.rbits if sr else 1).tolist():
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
        word, eoff, d = sr.element(i) if sr else (0, 0, 0)
        flat_out[i] = exact.round_rational(v, fmt, mode, ovf, sr.rbits if sr else 1, word, eoff, d,
                                           bool(sr and sr.compare))
    host_flat = host.reshape(-1)
    profiles.finish_conversion(prof, flat_out, fmt, ovf == OVF_SAT,
                               lambda idx: host_flat[idx].astype(np.float64), desc == kconvert.F64)
    return with_words(Registers._wrap(out, fmt), consumed if sr else None, return_words)


def _quantize_scale(x, rounding="rne", *, saturate: bool | None = None, **options) -> Registers:
    """Round values into e8m0 (docs/semantics.md §14.1): the rounding core rounds into a
    power-of-two format of ample range (e9m0, bias 255), then E8M0's range applies: a value
    whose rounding lies below 2**-127 gives 2**-127 (code 0; E8M0 has no zero), one above
    2**127 (+Inf included) NaN, or 0xFE with ``saturate=True``; zero, negative values, NaN and
    -Inf give NaN. Exact inputs (strings, Fractions) round from their exact values."""
    wide = FloatFormat(9, 0, 255, "fn")
    res = quantize(x, wide, rounding, saturate=True, **options)
    regs, words = res if options.get("return_words") else (res, None)
    # which inputs are positive (+Inf included): rounded up into e9m0, a positive value is a
    # positive nonzero code, whatever its size; zero is +0, NaN the NaN code, negatives signed
    up = quantize(x, wide, "rup", saturate=True)._codes.astype(np.int64)
    positive = (up < 0x1FF) & (up > 0)  # sign bit 0x200 clear, neither +0 nor NaN (0x1ff)
    field_ = regs._codes.astype(np.int64) & 0x1FF
    code = np.where(field_ - 128 > 254, 0xFE if saturate else 0xFF, np.clip(field_ - 128, 0, 254))
    code = np.where(positive, code, 0xFF)
    out = Registers._wrap(code.astype(np.uint8), E8M0)
    return (out, words) if words is not None else out


def _is_float64(v: Fraction, x: float) -> bool:
    """Is the exact value v the float64 x?"""
    return bool(np.isfinite(x)) and Fraction(float(x)) == v


def convert(r: Registers, fmt: Format | str, rounding: str | Rounding = "rne", *,
            saturate: bool | None = None, overflow: str | None = None, rng=None,
            sr_bits: int | None = None, eps: float | None = None, direction=None,
            form: str | None = None, threads: int | None = None,
            return_words: bool = False, profile: str | profiles.Profile | None = None
            ) -> Registers:
    """Convert registers to another format with one rounding (fixed <-> float included);
    ``rounding``, stochastic options, ``return_words``, ``threads`` and ``profile`` as in
    ``quantize`` (registers take CUDA's float path)."""
    if not isinstance(r, Registers):
        raise TypeError(f"convert takes Registers, not {type(r).__name__}; use emu.quantize")
    fmt = parse_format(fmt)
    if isinstance(fmt, ScaleFormat) or isinstance(r.format, ScaleFormat):
        # e8m0 has no conversion kernel: its values (powers of two) and those of every float
        # format (and fixed point up to 53 bits) are exact float64s, so convert is quantize
        if isinstance(r.format, FixedFormat) and r.format.width > 53:
            raise ValueError(f"convert {r.format.name} -> {fmt.name}: wider than 53 bits")
        return quantize(r.to_float(), fmt, rounding, saturate=saturate, overflow=overflow,
                        rng=rng, sr_bits=sr_bits, eps=eps, direction=direction, form=form,
                        threads=threads, return_words=return_words, profile=profile)
    rnd = _rounding(fmt, rounding, saturate, overflow, sr_bits, eps, form)
    threads = optional_integer(threads, "threads", 1)
    prof = profiles.resolve(profile, current_context().profile)
    drawn, consumed = profiles.draws(prof, rnd, fmt, r._codes.shape, rng, direction, threads,
                                     lazy=not return_words)
    sr = drawn if rnd.stochastic else None
    ovf = rnd.overflow_code(fmt)
    out = _run(r._codes, r.format.descriptor, fmt, rnd.mode_code, ovf, "register", None, sr,
               threads)
    src = r._codes.reshape(-1)
    profiles.finish_conversion(prof, out.reshape(-1), fmt, ovf == OVF_SAT,
                               lambda idx: paths.decode(src[idx], r.format.descriptor), False)
    return with_words(Registers._wrap(out, fmt), consumed if sr else None, return_words)


def decode(r: Registers, threads: int | None = None) -> np.ndarray:
    """Registers -> float64: a conversion into the host float64 format under rne."""
    return paths.decode(r._codes, r.format.descriptor, optional_integer(threads, "threads", 1))
