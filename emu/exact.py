"""Exact inputs: decimal strings, hex floats, Fractions, Decimals and integers of any size.

A value float64 cannot hold is never rounded to float64 first (that would round twice: typed
``1.00000000000000000001`` would reach the target as 1.0). ``emu.quantize`` takes such values
(lists or object arrays of ``str``, ``Fraction``, ``Decimal``, ``int``, ``float``) and rounds
each exactly once with the one rounding core, in three steps:

1. ``approximate``: every element's correctly rounded float64 ``x`` (Python's and numpy's
   parsers round correctly), cheap and vectorised;
2. ``suspects``: the elements whose exact value ``d`` might round differently from ``x`` in
   this target. Every decision of a rounding (nearest, directed, and the stochastic threshold
   T with r random bits) changes only at multiples of ``2**c``, c = (target LSB exponent at x)
   - g, g = r for stochastic modes and 1 otherwise. When float64's ulp at x is at most 2**c,
   those points lie on float64's grid, and ``|d - x| <= ulp/2``; so unless x is itself such a
   point, d and x lie in the same open cell and round alike. Zeros and infinities (possible
   underflow/overflow of the parse) are suspects too;
3. the suspects are parsed exactly (``exact_value``) and, unless their value is a float64
   after all, rounded by ``round_rational``: (sign, 64-bit significand, exponent, sticky)
   into ``kernels.core.round_pack`` (floats), or, for fixed point of any width, the decision
   on the low bit of the integer part (rounding on a uniform grid commutes with shifts by an
   even number of LSBs) and then the exact integer placed with the format's overflow policy.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

import numpy as np

from .codes import KIND_FIXED, OVF_SAT, OVF_WRAP, RNE, SR
from .formats import FloatFormat, Format

NUMBER_SYNTAX = "a decimal (1.5, -2e-3, 1_000), inf, infinity, nan, or a hex float (0x1.8p3)"
_HEX = re.compile(r"\s*([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?\s*\Z")
# Values beyond 2**FAR (or below 2**-FAR) round alike in every format and mode: every format
# lies inside float64's range and r <= 32, and a fixed format's LSB is at most 2**1074 with
# width <= 64, so a decimal with exponent >= FAR / 3 is a multiple of 2**(1074 + 64): it wraps
# to 0 and saturates like any huge value. Such values are replaced by +-2**+-FAR before any
# big-integer work (``1e999999999`` must not build a 3-gigabit integer).
FAR = 4000
_S8 = (KIND_FIXED, 8, 0, 1, 0, 0, 0, -1, -1)  # s8.0, where fixed-point decisions are taken
_GUARD = 40  # bits of the discarded fraction kept for the decision (>= r + 1 for r <= 32)
_M64 = (1 << 64) - 1
_NUMERIC = (int, float, Fraction, Decimal, np.integer, np.floating)


def _signed_zero(neg: bool) -> float:
    return -0.0 if neg else 0.0


def _far(neg: bool, huge: bool) -> Fraction:
    v = Fraction(2) ** (FAR if huge else -FAR)
    return -v if neg else v


def decimal_value(d: Decimal) -> float | Fraction:
    """Exact value of a Decimal: Fraction if finite and nonzero, else a float (+-0, inf, nan)."""
    if d.is_nan():
        return math.copysign(math.nan, -1.0 if d.is_signed() else 1.0)
    if d.is_infinite():
        return -math.inf if d.is_signed() else math.inf
    if d.is_zero():
        return _signed_zero(d.is_signed())
    exp = d.as_tuple().exponent
    if exp > FAR // 3:
        return _far(d.is_signed(), True)
    if d.adjusted() < -FAR // 3:
        return _far(d.is_signed(), False)
    return Fraction(*d.as_integer_ratio())


def parse_number(token: str) -> float | Fraction:
    """Exact value of a number token (NUMBER_SYNTAX): a Fraction if finite and nonzero, else a
    float (+-0.0, +-inf, nan). ValueError naming the token if it is not a number."""
    m = _HEX.match(token)
    if m and (m.group(2) or m.group(3)):
        sign, ip, fp, ex = m.groups()
        neg = sign == "-"
        fp = fp or ""
        mant = int(ip + fp, 16)
        try:
            e = int(ex or 0) - 4 * len(fp)
        except ValueError:  # an exponent of more than 4300 digits
            raise ValueError(f"{token!r}: exponent too long") from None
        if mant == 0:
            return _signed_zero(neg)
        if e > FAR:
            return _far(neg, True)
        if e + mant.bit_length() < -FAR:
            return _far(neg, False)
        v = mant * Fraction(2) ** e
        return -v if neg else v
    try:
        float(token)  # the accepted syntax is Python's float() (plus hex floats above)
        d = Decimal(token.strip())
    except (ValueError, InvalidOperation):
        raise ValueError(f"{token!r} is not a number ({NUMBER_SYNTAX})") from None
    return decimal_value(d)


def exact_value(v) -> float | Fraction:
    """Exact value of one element: str/bytes tokens, Fraction, Decimal, int, float."""
    if isinstance(v, bool | np.bool_):
        raise TypeError("booleans are not numbers here; pass 0/1 or floats")
    if isinstance(v, bytes):
        v = v.decode("ascii", "replace")
    if isinstance(v, str):
        return parse_number(v)
    if isinstance(v, Decimal):
        return decimal_value(v)
    if isinstance(v, float | np.floating):
        return float(v)
    if isinstance(v, int | np.integer | Fraction):
        f = Fraction(v) if not isinstance(v, np.integer) else Fraction(int(v))
        return f if f else 0.0
    raise TypeError(f"{type(v).__name__} is not a number")


def _approx_one(v, i: int) -> float:
    """Correctly rounded float64 of one element (inf beyond float64's range)."""
    if isinstance(v, bool | np.bool_) or not isinstance(v, _NUMERIC + (str, bytes)):
        raise TypeError(f"element {i} is {type(v).__name__}: quantize takes numbers (float, int, "
                        "Fraction, Decimal) or numeric strings")
    if isinstance(v, bytes):
        v = v.decode("ascii", "replace")
    try:
        return float(v)
    except OverflowError:  # a huge int or Fraction
        return math.inf if v > 0 else -math.inf
    except ValueError:
        pass
    m = _HEX.match(v)
    if m and (m.group(2) or m.group(3)):
        try:
            return float.fromhex(v.strip())
        except OverflowError:
            return -math.inf if m.group(1) == "-" else math.inf
        except ValueError:
            pass
    raise ValueError(f"element {i}: {v!r} is not a number ({NUMBER_SYNTAX})")


def approximate(elems: np.ndarray) -> np.ndarray:
    """Correctly rounded float64 of every element of an object (or str) array, same shape.
    TypeError/ValueError naming the first element that is not a number."""
    flat = elems.reshape(-1)
    if flat.dtype == object:
        kinds = set(map(type, flat.tolist()))
        if any(issubclass(k, bool | np.bool_) or not issubclass(k, _NUMERIC + (str, bytes))
               for k in kinds):
            for i, v in enumerate(flat.tolist()):
                _approx_one(v, i)  # raises for the first bad element
    try:
        out = flat.astype(np.float64)
    except (ValueError, TypeError, OverflowError):
        out = np.array([_approx_one(v, i) for i, v in enumerate(flat.tolist())], np.float64)
    return out.reshape(elems.shape)


def suspects(x: np.ndarray, fmt: Format, mode: int, rbits: int) -> np.ndarray:
    """Flat indices of the float64 approximations x whose exact values may round differently
    in ``fmt`` under ``mode`` with ``rbits`` random bits (see the module doc)."""
    x = x.reshape(-1)
    fin = np.isfinite(x) & (x != 0)
    mask = ~fin & ~np.isnan(x)  # zeros and infinities: underflowed or overflowed parses
    xf = x[fin]
    ev = np.frexp(xf)[1].astype(np.int64) - 1  # 2**ev <= |x| < 2**(ev+1)
    u = np.maximum(ev, -1022) - 52  # float64's ulp exponent at x
    if isinstance(fmt, FloatFormat):
        q = np.maximum(ev, fmt.emin) - fmt.man_bits
    else:
        q = np.full(ev.shape, -fmt.frac, np.int64)
    c = q - (rbits if mode >= SR else 1)
    k = c - u
    m = np.ldexp(xf, -u)  # the integer significand of x on its ulp grid (exact)
    on_point = np.fmod(m, np.ldexp(1.0, np.clip(k, 0, 60))) == 0
    mask[fin] = (k < 0) | on_point
    return np.flatnonzero(mask)


def _core(neg: bool, sig: int, exp: int, sticky: int, desc: tuple, mode: int, ovf: int,
          rbits: int, rword: int, eoff: int, direction: int, compare: bool) -> int:
    from .kernels.core import round_pack  # loads numba: only when a value needs the core

    return int(round_pack(neg, np.uint64(sig), np.int64(exp), sticky, desc, mode, ovf, rbits, rword,
                          eoff, direction, compare))


def round_rational(v: Fraction, fmt: Format, mode: int, ovf: int, rbits: int = 1, rword: int = 0,
                   eoff: int = 0, direction: int = 0, compare: bool = False) -> int:
    """Code of the exact nonzero rational ``v`` rounded once into ``fmt`` (kernel mode and
    overflow codes; the stochastic word, offset and direction of this element)."""
    neg = v < 0
    n, d = abs(v.numerator), v.denominator
    sr = (int(rbits), int(rword), int(eoff), int(direction), bool(compare))
    if isinstance(fmt, FloatFormat):
        ev = n.bit_length() - d.bit_length()
        if (n << max(-ev, 0)) < (d << max(ev, 0)):
            ev -= 1  # now 2**ev <= n/d < 2**(ev+1)
        if abs(ev) > FAR:  # far beyond every format: overflows / underflows alike
            return _core(neg, 1 << 63, (FAR if ev > 0 else -FAR) - 63, 0, fmt.descriptor, mode, ovf,
                         *sr)
        s = 63 - ev  # a 64-bit significand: >= 34 bits below the LSB of any format (M <= 29)
        q, r = divmod(n << s, d) if s >= 0 else divmod(n, d << -s)
        return _core(neg, q, ev - 63, int(r != 0), fmt.descriptor, mode, ovf, *sr)
    # Fixed point, any width: v / LSB = K + f. Decide "up" on 2 + (K & 1) + f in s8.0 (same
    # parity, same discarded bits), then place the exact integer K + up in the format.
    f = fmt.frac
    num, den = (n << f, d) if f >= 0 else (n, d << -f)
    k, r = divmod(num, den)
    t, r2 = divmod(r << _GUARD, den)
    low = 2 | (k & 1)
    small = _core(neg, (low << _GUARD) | t, -_GUARD, int(r2 != 0), _S8, mode, OVF_SAT, *sr)
    up = abs(small - 256 if small >= 128 else small) - low
    total = k + up
    exp = -f
    if total >> 64:  # only the low bits matter under wrap; anything this big saturates
        if ovf == OVF_WRAP:
            total &= _M64
        else:
            extra = total.bit_length() - 64
            total, exp = total >> extra, exp + extra
    return _core(neg, total, exp, 0, fmt.descriptor, RNE, ovf, 1, 0, 0, 0, False)
