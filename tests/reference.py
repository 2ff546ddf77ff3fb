"""Slow, obviously correct model of docs/semantics.md, in exact rational arithmetic, and the
slow twin of every computing name of emu's public API.

Nothing here shares code with the kernels: values are ``fractions.Fraction``, neighbours on the
target grid are found by exact division, codes are built from their definition, and every
accumulation order is the loop the docs write down. Only format *values* come from emu.formats
(names are parsed by ``emu.format``; their defining fields are read here).

Two layers:
- values: ``round_value`` (one rounding of an exact value), ``decode``, ``operand``,
  ``add_values`` / ``mul_values`` / ``fma_values`` (exact results with the specials and zero
  signs of sections 3 and 8), the accumulation orders of section 9 (``sequential``,
  ``pairwise``, ``exact_sum``, ``truncating``) and ``lfsr_draws`` (section 7.2, bit-serial);
- vendor profiles (section 3.5): ``profile_code`` re-encodes a result as a profile says, and
  ``amd_fnuz_sr``, ``amd_ocp_sr`` and ``cuda_fp8`` model the vendors' own conversion algorithms
  bit by bit on integers, as their sources state them (so the profiles are checked against the
  vendors, not only against this file's reading of section 3.5);
- the API twins, name for name: ``quantize``, ``convert``, ``add``, ``sub``, ``mul``, ``fma``,
  ``neg``, ``abs_``, ``minimum``, ``maximum``, ``compare``/``eq``/.../``ge``, ``dot``,
  ``matmul``, ``mac_accumulator``, ``LFSR``, ``AmdPrng``. They take emu's arguments, with
  three differences: operands are emu.Registers of which only ``.codes`` and ``.format`` are
  read; random words are passed in as ``words=`` (a flat sequence, in the order emu draws them)
  instead of ``rng=``; and the result is what ``emu.X(...).codes.tolist()`` gives (nested lists
  of int codes in the result's shape; bools for comparisons). ``bad=c`` puts c where the target
  cannot hold an element's result (default: raise Unrepresentable). There is no ``emu.context``
  here: unset modes are ``rne``, unset policies non-saturating / ``sat``.
"""

from __future__ import annotations

import functools
import math
import struct
from decimal import Decimal
from fractions import Fraction

import numpy as np

from emu.formats import FixedFormat
from emu.formats import format as parse_format

NAN = float("nan")
INF = float("inf")

NEAREST = {"rne", "rna", "rnz", "rnu", "rnd"}
DIRECTED = {"rtz", "rdn", "rup", "raz", "rto"}
STOCHASTIC = {"sr", "sr_eps", "signed_sr_eps", "sr_equal"}


class FloatSpec:
    """A float format given by its definition (independent of emu.formats)."""

    def __init__(self, e: int, m: int, bias: int, family: str):
        self.e, self.m, self.bias = e, m, bias
        self.family = "fn" if (family == "ieee" and m == 0) else family
        self.bits = 1 + e + m
        self.emin = 1 - bias
        self.sign = 1 << (self.bits - 1)

    @classmethod
    def of(cls, fmt) -> FloatSpec:
        return cls(fmt.exp_bits, fmt.man_bits, fmt.bias, fmt.family)

    def is_nan(self, code: int) -> bool:
        mag = code & (self.sign - 1)
        top = (1 << self.e) - 1
        if self.family == "ieee":
            return mag >> self.m == top and mag & ((1 << self.m) - 1) != 0
        if self.family == "fn":
            return mag == self.sign - 1
        if self.family == "fnuz":
            return code == self.sign
        return False

    def is_inf(self, code: int) -> bool:
        mag = code & (self.sign - 1)
        return self.family == "ieee" and mag == ((1 << self.e) - 1) << self.m

    def decode(self, code: int):
        """Exact value: Fraction, or float nan / +-inf. -0 is returned as Fraction(0)."""
        if self.is_nan(code):
            return NAN
        neg = code >> (self.bits - 1)
        if self.is_inf(code):
            return -INF if neg else INF
        exp_field = (code >> self.m) & ((1 << self.e) - 1)
        frac = code & ((1 << self.m) - 1)
        if exp_field == 0:
            mag = Fraction(frac, 1 << self.m) * Fraction(2) ** self.emin
        else:
            mag = (1 + Fraction(frac, 1 << self.m)) * Fraction(2) ** (exp_field - self.bias)
        return -mag if neg else mag

    def max_finite(self) -> Fraction:
        """Largest finite value, from the family's definition of its special codes."""
        top = (1 << self.e) - 1
        ones = (1 << self.m) - 1
        if self.family == "ieee":
            code = ((top - 1) << self.m) | ones
        elif self.family == "fn":
            code = (self.sign - 1) - 1  # all ones is NaN; one below it
        else:
            code = self.sign - 1
        return self.decode(code)

    def encode_magnitude(self, mag: Fraction) -> int:
        """Code of a representable nonnegative value (asserts it is representable)."""
        if mag == 0:
            return 0
        e = floor_log2(mag)
        if e < self.emin:
            n = mag / Fraction(2) ** (self.emin - self.m)
            assert n.denominator == 1 and n < (1 << self.m)
            return int(n)
        n = mag / Fraction(2) ** (e - self.m)
        assert n.denominator == 1 and (1 << self.m) <= n < (2 << self.m)
        return ((e + self.bias) << self.m) | (int(n) - (1 << self.m))

    def nan(self, neg: bool) -> int | None:
        if self.family == "ieee":
            return (((1 << self.e) - 1) << self.m) | (1 << (self.m - 1)) | (self.sign if neg else 0)
        if self.family == "fn":
            return (self.sign - 1) | (self.sign if neg else 0)
        if self.family == "fnuz":
            return self.sign
        return None

    def inf(self, neg: bool) -> int | None:
        if self.family != "ieee":
            return None
        return (((1 << self.e) - 1) << self.m) | (self.sign if neg else 0)


class FixedSpec:
    def __init__(self, width: int, frac: int, signed: bool):
        self.width, self.frac, self.signed = width, frac, signed
        self.bits = width
        self.lo = -(1 << (width - 1)) if signed else 0
        self.hi = (1 << (width - 1)) - 1 if signed else (1 << width) - 1

    @classmethod
    def of(cls, fmt) -> FixedSpec:
        return cls(fmt.width, fmt.frac, fmt.signed)

    def decode(self, code: int) -> Fraction:
        k = code - (1 << self.width) if self.signed and code >> (self.width - 1) else code
        return Fraction(k) / Fraction(2) ** self.frac


def spec(fmt):
    return FloatSpec.of(fmt) if hasattr(fmt, "exp_bits") else FixedSpec.of(fmt)


def floor_log2(x: Fraction) -> int:
    """Largest e with 2**e <= x, for x > 0, exactly."""
    e = x.numerator.bit_length() - x.denominator.bit_length()
    while Fraction(2) ** e > x:
        e -= 1
    while Fraction(2) ** (e + 1) <= x:
        e += 1
    return e


def to_fraction(x: float):
    """Host float -> exact Fraction, or the float itself for nan/inf."""
    if math.isnan(x) or math.isinf(x):
        return x
    return Fraction(x)


class Unrepresentable(ValueError):
    pass


def choose(mode: str, v: Fraction, lo: Fraction, hi: Fraction, lo_even: bool, *,
           rbits: int = 0, rword: int = 0, eoff: int = 0, direction: int = 0,
           compare: bool = False, favour_hi_eps: bool = True) -> Fraction:
    """Pick lo or hi (lo < v < hi, consecutive grid points) for the *signed* value v.

    For floats the caller passes magnitudes (lo = truncated magnitude) and maps the sign into
    the mode (see round_float); for fixed point, signed values with lo = floor.
    """
    if mode in NEAREST:
        mid = (lo + hi) / 2
        if v < mid:
            return lo
        if v > mid:
            return hi
        tie_to = {"rne": lo if lo_even else hi, "rna": hi if v > 0 else lo,
                  "rnz": lo if v > 0 else hi, "rnu": hi, "rnd": lo}
        return tie_to[mode]
    if mode == "rto":
        return hi if lo_even else lo
    if mode == "rdn":
        return lo
    if mode == "rup":
        return hi
    if mode == "rtz":
        return lo if v > 0 else hi
    if mode == "raz":
        return hi if v > 0 else lo
    # stochastic, docs/semantics.md §6: T = floor(f * 2**r), f = (v - lo) / (hi - lo)
    f = (v - lo) / (hi - lo)
    t = math.floor(f * 2**rbits)
    if mode == "sr_equal":
        return hi if (rword >> (rbits - 1)) & 1 else lo
    s = 0
    if mode == "sr_eps":
        s = 1 if favour_hi_eps else -1
    elif mode == "signed_sr_eps":
        s = direction  # favoured neighbour toward direction * infinity
    if compare:
        return hi if rword < t + s * eoff else lo
    return hi if t + rword + s * eoff >= 2**rbits else lo


def round_float(x, fs: FloatSpec, mode: str, saturate: bool, **sr) -> int:
    """Reference conversion of a value (Fraction, or float nan/+-inf; ``neg_zero`` for -0)."""
    neg_zero = sr.pop("neg_zero", False)
    if isinstance(x, float) and math.isnan(x):
        code = fs.nan(math.copysign(1, x) < 0)
        if code is None:
            raise Unrepresentable("NaN")
        return code
    if isinstance(x, float):  # infinity
        neg = x < 0
        if saturate or fs.family == "finite":
            return fs.encode_magnitude(fs.max_finite()) | (fs.sign if neg else 0)
        code = fs.inf(neg)
        return code if code is not None else fs.nan(neg)
    neg = x < 0 or (x == 0 and neg_zero)
    mag = abs(x)
    sign_code = fs.sign if neg else 0
    if mag == 0:
        return 0 if fs.family == "fnuz" else sign_code
    e = floor_log2(mag)
    ulp = Fraction(2) ** (max(e, fs.emin) - fs.m)
    lo = (mag // ulp) * ulp
    if lo == mag:
        res = mag
    else:
        hi = lo + ulp
        # map the signed modes onto magnitudes: toward +inf for a negative value is toward lo
        flip = {"rdn": "rup", "rup": "rdn", "rnu": "rnd", "rnd": "rnu"}
        m = flip.get(mode, mode) if neg else mode
        lo_code_even = _lo_even_float(fs, lo)
        d = sr.get("direction", 0)
        res = choose(m, mag, lo, hi, lo_code_even, **{**sr, "direction": -d if neg else d})
    maxv = fs.max_finite()
    if res > maxv:
        toward_zero = mode in ("rtz", "rto") or (mode == "rdn" and not neg) or (mode == "rup" and neg)
        if saturate or fs.family == "finite" or toward_zero:
            res = maxv
        else:
            code = fs.inf(neg)
            return code if code is not None else fs.nan(neg)
    code = fs.encode_magnitude(res)
    if code == 0 and fs.family == "fnuz":
        return 0
    return code | sign_code


def _lo_even_float(fs: FloatSpec, lo: Fraction) -> bool:
    """Is the (unbounded-exponent) code of lo even? For M >= 1 that is the significand's LSB;
    for M = 0 the code's LSB is the exponent field's."""
    if lo == 0:
        return True
    e = floor_log2(lo)
    if e < fs.emin:
        return int(lo / Fraction(2) ** (fs.emin - fs.m)) % 2 == 0
    if fs.m == 0:
        return (e + fs.bias) % 2 == 0
    return int(lo / Fraction(2) ** (e - fs.m)) % 2 == 0


def round_fixed(x, fx: FixedSpec, mode: str, overflow: str, **sr) -> int:
    sr.pop("neg_zero", None)
    if isinstance(x, float) and math.isnan(x):
        raise Unrepresentable("NaN")
    if isinstance(x, float):
        if overflow == "wrap":
            raise Unrepresentable("Inf under wrap")
        k = fx.hi if x > 0 else (fx.lo if overflow == "sat" else (-fx.hi if fx.signed else 0))
        return k % (1 << fx.width)
    grid = Fraction(2) ** -fx.frac
    q = x / grid
    k_lo = math.floor(q)
    if k_lo == q:
        k = k_lo
    else:
        favour_hi = x > 0  # sr_eps: the neighbour farther from zero
        k = int(choose(mode, q, Fraction(k_lo), Fraction(k_lo + 1), k_lo % 2 == 0,
                       favour_hi_eps=favour_hi, **sr))
    if overflow == "wrap":
        return k % (1 << fx.width)
    lo = fx.lo if overflow == "sat" else (-fx.hi if fx.signed else 0)
    return min(max(k, lo), fx.hi) % (1 << fx.width)


def round_value(x, fmt, mode: str = "rne", *, saturate: bool = False, overflow: str = "sat",
                **sr) -> int:
    """Reference code of value x (Fraction, int, host float) in emu format ``fmt``."""
    neg_zero = isinstance(x, float) and x == 0 and math.copysign(1, x) < 0
    if isinstance(x, float):
        x = to_fraction(x)
    elif isinstance(x, int):
        x = Fraction(x)
    s = spec(fmt)
    if isinstance(s, FloatSpec):
        return round_float(x, s, mode, saturate, neg_zero=neg_zero, **sr)
    return round_fixed(x, s, mode, overflow, **sr)


def decode(fmt, code: int):
    return spec(fmt).decode(code)


# --- LFSR, bit-serial, straight from docs/semantics.md §7.2 -------------------------------------------
def lfsr_draws(width, poly, config, shifts, state, n, reverse=False, invert=False):
    """Return (words, final state). One bit at a time, Python ints, no shared code."""
    mask = (1 << width) - 1

    def rev(x, k):
        return int(format(x, f"0{k}b")[::-1], 2)

    s = rev(state, width) if reverse else state
    words = []
    for _ in range(n):
        bits = []
        for _ in range(shifts):
            if config == "fibonacci":
                taps = (poly >> 1) | (1 << (width - 1))
                fb = bin(s & taps).count("1") % 2
                s = ((s << 1) & mask) | fb
            else:
                fb = (s >> (width - 1)) & 1
                s = ((s << 1) & mask) ^ ((poly | 1) if fb else 0)
            bits.append(fb)  # first computed bit becomes the MSB
        w = int("".join(map(str, bits)), 2)
        if reverse:
            w = rev(w, shifts)
        if invert:
            w ^= (1 << shifts) - 1
        words.append(w)
    return words, (rev(s, width) if reverse else s)


# --- values: operands, exact sums and products (sections 3 and 8) -----------------------------
# A value is a pair (v, neg_zero): v a Fraction, or a float nan (its sign is the NaN's sign) or
# +-inf; neg_zero marks -0 (v == 0 with the sign bit set).
def _is_float(fmt) -> bool:
    return hasattr(fmt, "exp_bits")


def _isnan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _nan(neg: bool) -> float:
    return math.copysign(math.nan, -1.0 if neg else 1.0)


def _signbit(fmt, code: int) -> bool:
    return bool(code >> (fmt.bits - 1)) if _is_float(fmt) else False


@functools.lru_cache(maxsize=1 << 17)
def operand(fmt, code: int):
    """The value of a code: (Fraction or signed nan / +-inf, neg_zero). Cached: values are
    immutable, and all-pairs tests decode each code many times."""
    v = decode(fmt, code)
    neg = _signbit(fmt, code)
    if _isnan(v):
        return _nan(neg), False
    return v, bool(v == 0 and neg)


def negate(value):
    """-x of a value; a NaN keeps its sign (sub does not flip a NaN subtrahend, section 3.3)."""
    v, nz = value
    if _isnan(v):
        return value
    return -v, bool(v == 0 and not nz)


def add_values(va, sa: bool, vb, sb: bool, mode: str):
    """Exact a + b (a first): the first NaN's sign, Inf - Inf the invalid NaN (sign 0), and the
    sign of an exact zero sum by section 3.4. ``sa``/``sb`` mark -0. Returns (value, neg_zero)."""
    for v in (va, vb):
        if _isnan(v):
            return v, False
    if isinstance(va, float) or isinstance(vb, float):  # an infinity
        if isinstance(va, float) and isinstance(vb, float) and (va > 0) != (vb > 0):
            return _nan(False), False
        return (va if isinstance(va, float) else vb), False
    r = va + vb
    if r == 0:
        if va == 0 and vb == 0 and sa == sb:
            return r, sa
        return r, mode == "rdn"
    return r, False


def mul_values(a, b):
    """Exact a * b: the first NaN's sign, 0 x Inf the invalid NaN, zeros with the xor sign."""
    va, vb = a[0], b[0]
    for v in (va, vb):
        if _isnan(v):
            return v, False
    neg = _negative(a) != _negative(b)
    if isinstance(va, float) or isinstance(vb, float):
        if va == 0 or vb == 0:
            return _nan(False), False
        return (-INF if neg else INF), False
    r = va * vb
    return r, bool(r == 0 and neg)


def _negative(value) -> bool:
    v, nz = value
    return nz or v < 0


def fma_values(a, b, c, mode: str):
    """Exact a * b + c: a NaN operand first (a, then b, then c), then the invalid operations
    (0 x Inf; an Inf product plus the opposite Inf), then the exact sum (section 3)."""
    for v, _ in (a, b, c):
        if _isnan(v):
            return v, False
    return add_values(*mul_values(a, b), *c, mode)


def _minmax(op: str, a, b):
    """IEEE 754-2019 minimum / maximum of two values: NaN first, -0 < +0."""
    for v, _ in (a, b):
        if _isnan(v):
            return v, False
    (va, za), (vb, zb) = a, b
    if va == vb:
        if va == 0:
            return Fraction(0), (za or zb) if op == "minimum" else (za and zb)
        return a
    return a if (va < vb) == (op == "minimum") else b


def round_exact(value, neg_zero: bool, fmt, mode: str, **kw) -> int:
    """Round an exact value (v, neg_zero) once into fmt: the code."""
    if isinstance(value, Fraction) and value == 0 and neg_zero:
        return round_value(-0.0, fmt, mode, **kw)
    return round_value(value, fmt, mode, **kw)


# --- arguments as emu takes them ---------------------------------------------------------------
AP_FIXED = {"ap_rnd": "rnu", "ap_rnd_zero": "rnz", "ap_rnd_min_inf": "rnd", "ap_rnd_inf": "rna",
            "ap_rnd_conv": "rne", "ap_trn": "rdn", "ap_trn_zero": "rtz"}  # section 4's table


def _mode(name) -> str:
    m = str(name).lower()
    m = AP_FIXED.get(m, m)
    if m not in NEAREST | DIRECTED | STOCHASTIC:
        raise ValueError(f"unknown rounding mode {name!r}")
    return m


def _format(fmt):
    return parse_format(fmt) if isinstance(fmt, str) else fmt


def _policy(fmt, saturate=None, overflow=None) -> dict:
    """Section 5: floats take saturate (default False), fixed targets overflow (default sat)."""
    if _is_float(fmt):
        if overflow is not None:
            raise ValueError("overflow= is for fixed-point targets")
        return {"saturate": bool(saturate)}
    if saturate is not None:
        raise ValueError("saturate= is for float targets")
    return {"overflow": overflow or "sat"}


def _sr(mode: str, n: int, shape, words, sr_bits, eps, direction, form) -> list[dict]:
    """Per-element stochastic arguments of section 6: word R, r, E = round(eps * 2^r) (ties to
    even, from eps's exact binary value), direction d, form."""
    if mode not in STOCHASTIC:
        if words is not None or eps is not None or direction is not None:
            raise ValueError("words, eps and direction belong to stochastic modes")
        return [{}] * n
    words = [int(w) for w in words]
    if len(words) != n:
        raise ValueError(f"{n} elements need {n} random words, got {len(words)}")
    r = 8 if sr_bits is None else sr_bits
    if any(not 0 <= w < 1 << r for w in words):
        raise ValueError(f"random words must be r = {r} bits")
    eoff = 0
    if mode in ("sr_eps", "signed_sr_eps"):
        eoff = round(Fraction(eps) * 2**r)
    dirs = [0] * n
    if mode == "signed_sr_eps":
        dirs = [int(d) for d in np.broadcast_to(np.asarray(direction), shape).reshape(-1).tolist()]
    return [{"rbits": r, "rword": w, "eoff": eoff, "direction": d, "compare": form == "compare"}
            for w, d in zip(words, dirs, strict=True)]


def _shaped(flat: list, shape):
    """A flat C-order list as ``ndarray.tolist()`` of that shape gives it."""
    return np.array(flat, dtype=object).reshape(shape).tolist()


_BAD = object()  # an element whose result could not be held at an earlier step


def _each(n: int, element, bad) -> list:
    """[element(i) for i < n], with ``bad`` where the target cannot hold the result."""
    out = []
    for i in range(n):
        try:
            out.append(element(i))
        except Unrepresentable:
            if bad is None:
                raise
            out.append(bad)
    return out


def _operands(regs):
    """Broadcast register operands: (shape, flat list of values per operand, formats)."""
    fmts = [r.format for r in regs]
    if len({_is_float(f) for f in fmts}) > 1:
        raise ValueError("cannot mix float and fixed-point operands")
    arrays = np.broadcast_arrays(*(np.asarray(r.codes) for r in regs))
    values = [[operand(f, int(c)) for c in x.reshape(-1).tolist()]
              for f, x in zip(fmts, arrays, strict=True)]
    return arrays[0].shape, values, fmts


def _exact_input(x):
    """A host input as round_value takes it: floats as they are (-0, nan, inf included), every
    other number (int, Fraction, Decimal, decimal string) as its exact Fraction."""
    if isinstance(x, float):
        return x
    if isinstance(x, str):
        s = x.strip().lower().replace("_", "")
        if s.lstrip("+-") in ("inf", "infinity", "nan"):
            return float(s)
        return Fraction(s)
    if isinstance(x, Decimal) and not x.is_finite():
        return float(x)
    return Fraction(x)


# --- vendor profiles (section 3.5) -------------------------------------------------------------
# Formats by their defining fields (e, m, bias, family), as FloatSpec holds them.
OCP_E4M3, OCP_E5M2 = (4, 3, 7, "fn"), (5, 2, 15, "ieee")
FNUZ_E4M3, FNUZ_E5M2 = (4, 3, 8, "fnuz"), (5, 2, 16, "fnuz")


def _profile_name(profile) -> str:
    """A profile given as emu takes it (None, a name, an emu.Profile), by its name."""
    name = "ocp" if profile is None else getattr(profile, "name", profile)
    if name.lower() not in ("ocp", "nvidia", "amd", "riscv"):
        raise ValueError(f"unknown profile {profile!r}")
    return name.lower()


def _fields(fs: FloatSpec) -> tuple:
    return fs.e, fs.m, fs.bias, fs.family


def double_bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def profile_code(code: int, value, fmt, profile, *, path: str, saturate: bool = False,
                 overflow=None) -> int:
    """Section 3.5: the code ``profile`` gives an element that emu's own rules (ocp) encode as
    ``code``; ``value`` is its exact input or result (a float NaN keeps sign and payload);
    ``path``: "double" (a float64 input), "float" (any other input) or "arith" (a result).
    - riscv: every NaN code is the positive canonical NaN;
    - nvidia, into OCP e4m3 / e5m2: a NaN value (not an overflow) is 0x7f, except on the double
      path: 0x7f (e4m3) or 0x7e | bit 50 of the double (e5m2), with the double's sign;
    - amd: an infinite input into an fnuz format is the NaN 0x80 also when saturating."""
    name = _profile_name(profile)
    if name == "ocp" or not _is_float(fmt):
        return code
    fs = FloatSpec.of(fmt)
    if name == "riscv":
        return fs.nan(False) if fs.is_nan(code) else code
    if name == "nvidia" and _fields(fs) in (OCP_E4M3, OCP_E5M2) and _isnan(value):
        if path != "double":
            return 0x7F
        bits = double_bits(value)
        return (bits >> 63) << 7 | (0x7F if fs.m == 3 else 0x7E | (bits >> 50) & 1)
    if (name == "amd" and path != "arith" and saturate and fs.family == "fnuz"
            and isinstance(value, float) and math.isinf(value)):
        return fs.nan(False)
    return code


def _vendor_words(profile, fmt, mode: str, words, sr_bits, form):
    """Section 3.5, AMD: into the four FP8 formats the random operand is 32 bits and r = 23 - M;
    R is its low r bits (FNUZ) or its high r bits (OCP). Other cases: the words as given."""
    if _profile_name(profile) != "amd" or mode not in STOCHASTIC or not _is_float(fmt):
        return words
    fs = FloatSpec.of(fmt)
    if _fields(fs) not in (OCP_E4M3, OCP_E5M2, FNUZ_E4M3, FNUZ_E5M2):
        return words
    r = 23 - fs.m
    if mode != "sr" or form != "carry" or sr_bits != r:
        raise ValueError(f"AMD's FP8 conversion is sr, carry form, r = {r}")
    assert all(0 <= w < 1 << 32 for w in words)
    if fs.family == "fnuz":
        return [w % (1 << r) for w in words]
    return [w >> (32 - r) for w in words]


def amd_fnuz_sr(bits: int, rng: int, fmt, clip: bool) -> int:
    """MI300 float32 -> FP8 FNUZ with stochastic rounding, as AMD's software model states it (HIP
    amd_detail/amd_hip_fp8.h ``cast_to_f8``, from rocBLAS rocblas_hip_f8_impl.h), on integers:
    the 24-bit significand is aligned to the FP8 exponent (shifted right into the subnormal
    range, the bits shifted out lost), the low 23 - M bits of ``rng`` are added to the 23 - M
    bits below the kept mantissa, a carry moves the exponent up, and the rest is truncated. NaN
    and Inf give 0x80; beyond max, ``clip`` gives ±max and no clip the code with the all-ones
    exponent and a zero mantissa (what the model returns; a finite value in FNUZ). A shift by
    64 or more is undefined in C++; here it is the mathematical shift (giving 0)."""
    we, wm = fmt.exp_bits, fmt.man_bits
    sign, e, m = bits >> 31, (bits >> 23) & 0xFF, bits & 0x7FFFFF
    if e == 0xFF:
        return 0x80
    bias = 1 << (we - 1)  # fnuz
    den = 1 - bias  # exponent of the FP8 subnormals
    if e == 0:
        act = -126
        diff = den - act
    else:
        act = e - 127
        diff = den - act if act <= den else 0
        m |= 1 << 23
    m >>= diff
    f8e = act + diff + bias - (0 if m >> 23 & 1 else 1)
    drop = 23 - wm
    m += rng & ((1 << drop) - 1)
    if f8e == 0:
        f8e = 1 if m >> 23 & 1 else 0
    elif m >> 24 & 1:
        m >>= 1
        f8e += 1
    m >>= drop
    top = (1 << we) - 1
    if f8e > top:
        if not clip:
            return sign << 7 | top << wm
        f8e, m = top, (1 << wm) - 1
    if f8e == 0 and m == 0:
        return 0
    return sign << 7 | f8e << wm | m & ((1 << wm) - 1)


def amd_ocp_sr(bits: int, seed: int, fmt) -> int:
    """gfx950 float32 -> OCP FP8 with stochastic rounding, as AMD's host model states it (HIP
    amd_detail/amd_hip_ocp_host.hpp ``from_float_sr``, saturating as the header calls it), on
    integers: ``seed >> (9 + M)`` (its top 23 - M bits) is added to the 23-bit mantissa, aligned
    to the subnormal exponent first below the smallest normal, and the sum truncated. NaN keeps
    its sign (0x7f / 0x7e); Inf and every overflow give the model's "saturated" code: ±0x7b in
    e5m2, but ±0x7f (a NaN) in e4m3."""
    we, wm, bias = fmt.exp_bits, fmt.man_bits, fmt.bias
    sign, e, m = bits >> 31, (bits >> 23) & 0xFF, bits & 0x7FFFFF
    sat = sign << 7 | (0x7F if wm == 3 else 0x7B)
    if e == 0xFF:
        return sign << 7 | (0x7F if wm == 3 else 0x7E) if m else sat
    if bits & 0x7FFFFFFF == 0:
        return sign << 7
    max_exp = 8 if wm == 3 else 15  # the largest binade's exponent
    min_exp = 1 - bias
    exp = (e if e else 1) - 127
    if exp > max_exp:
        return sat
    subnormal = exp < min_exp
    if subnormal:
        diff = min_exp - exp
        m = 0 if diff >= 32 else (m | 1 << 23) >> diff
        exp = 0
    m += seed >> (9 + wm)
    if m >= 1 << 23:
        exp += 1
    m = (m >> (23 - wm)) & ((1 << wm) - 1)
    if exp > max_exp:
        return sat
    code = sign << 7 | ((exp if subnormal else exp + bias) & ((1 << we) - 1)) << wm | m
    fs = FloatSpec.of(fmt)
    if not (fs.is_nan(code) or fs.is_inf(code)):
        return code
    return sign << 7 if m == 0 and exp == 0 else sat


def cuda_fp8(x: float, fmt, satfinite: bool) -> int:
    """NVIDIA __nv_cvt_double_to_fp8 (CUDA 12.2.1 cuda_fp8.hpp, host path) of a float64 ``x``,
    on the double's bits: |x| <= half the smallest subnormal is 0; NaN is 0x7f (e4m3) or
    0x7e | bit 50 (e5m2); above max + ulp/2 (e5m2: from max + ulp/2 on) max with
    __NV_SATFINITE, else 0x7f (e4m3) / 0x7c (e5m2); otherwise the double's significand is cut
    to the FP8 width and rounded to nearest even; the sign is ORed in last. Its float path
    (__nv_cvt_float_to_fp8) first replaces a float32 NaN by 0x7fffffff, then converts the
    double."""
    bits = double_bits(x)
    wm = fmt.man_bits
    sign = (bits >> 63) << 7
    absx = bits & ((1 << 63) - 1)
    fs = FloatSpec.of(fmt)
    tiny = fs.decode(1) / 2
    maxv = fs.max_finite()
    half_ulp = Fraction(2) ** (floor_log2(maxv) - wm - 1)
    if absx > 0x7FF0000000000000:
        res = 0x7F if wm == 3 else 0x7E | (bits >> 50) & 1
    elif absx == 0x7FF0000000000000 or abs(Fraction(x)) > maxv + half_ulp or (
            wm == 2 and abs(Fraction(x)) == maxv + half_ulp):
        res = fs.encode_magnitude(maxv) if satfinite else (0x7F if wm == 3 else 0x7C)
    elif abs(Fraction(x)) <= tiny:
        res = 0
    else:
        mag = abs(Fraction(x))  # round the magnitude to nearest even on the FP8 grid
        ulp = Fraction(2) ** (max(floor_log2(mag), fs.emin) - wm)
        lo = (mag // ulp) * ulp
        rem = mag - lo
        up = rem > ulp / 2 or (rem == ulp / 2 and int(lo / ulp) % 2 == 1)
        res = fs.encode_magnitude(lo + ulp if up else lo)
    return res | sign


def cuda_fp8_float(bits32: int, fmt, satfinite: bool) -> int:
    """__nv_cvt_float_to_fp8 of a float32 given by its bits (host path)."""
    if bits32 & 0x7FFFFFFF > 0x7F800000:
        bits32 = 0x7FFFFFFF  # "Canonical NaN": positive, every mantissa bit set
    return cuda_fp8(float(np.array(bits32, np.uint32).view(np.float32)), fmt, satfinite)


# --- API twins: conversions ----------------------------------------------------------------------
def quantize(x, fmt, rounding="rne", *, saturate=None, overflow=None, words=None, sr_bits=None,
             eps=None, direction=None, form="carry", bad=None, profile=None, axis=-1,
             scale_rule="floor", tensor_scale=None):
    """Every value of x rounded once into fmt (sections 4-6); words: one per element, C order.
    ``profile`` (section 3.5): float64 and exact inputs take CUDA's double path, float32 and
    narrower floats its float path. A block format's name (section 14) is block_quantize's
    (scale codes, element codes), nvfp4 nvfp4_quantize's."""
    if isinstance(fmt, str) and fmt in MX_FORMATS:
        elem, k = MX_FORMATS[fmt]
        return block_quantize(x, elem, k, rounding, axis=axis, scale_rule=scale_rule,
                              saturate=saturate, overflow=overflow, words=words, sr_bits=sr_bits,
                              eps=eps, direction=direction, form=form)
    if fmt == "nvfp4":
        return nvfp4_quantize(x, rounding, axis=axis, tensor_scale=tensor_scale, words=words,
                              sr_bits=sr_bits, form=form)
    fmt, mode = _format(fmt), _mode(rounding)
    arr = np.asarray(x)
    items = arr.reshape(-1).tolist()
    policy = _policy(fmt, saturate, overflow)
    words = _vendor_words(profile, fmt, mode, words, sr_bits, form)
    sr = _sr(mode, len(items), arr.shape, words, sr_bits, eps, direction, form)
    path = "float" if arr.dtype.kind in "fV" and arr.dtype != np.float64 else "double"

    def element(i):
        v = _exact_input(items[i])
        return profile_code(round_value(v, fmt, mode, **policy, **sr[i]), v, fmt, profile,
                            path=path, **policy)

    return _shaped(_each(len(items), element, bad), arr.shape)


def convert(r, fmt, rounding="rne", *, saturate=None, overflow=None, words=None, sr_bits=None,
            eps=None, direction=None, form="carry", bad=None, profile=None):
    """Registers decoded exactly and rounded once into fmt (CUDA's float path, section 3.5)."""
    shape, (vals,), _ = _operands([r])
    return _shaped(_round_all(vals, shape, fmt, rounding, saturate, overflow, words, sr_bits, eps,
                              direction, form, bad, profile, "float"), shape)


def _round_all(vals, shape, fmt, rounding, saturate, overflow, words, sr_bits, eps, direction,
               form, bad, profile=None, path="float") -> list:
    fmt, mode = _format(fmt), _mode(rounding)
    policy = _policy(fmt, saturate, overflow)
    words = _vendor_words(profile, fmt, mode, words, sr_bits, form)
    sr = _sr(mode, len(vals), shape, words, sr_bits, eps, direction, form)

    def element(i):
        if vals[i][0] is _BAD:
            raise Unrepresentable("an earlier step")
        code = round_exact(*vals[i], fmt, mode, **policy, **sr[i])
        return profile_code(code, vals[i][0], fmt, profile, path=path, **policy)

    return _each(len(vals), element, bad)


# --- API twins: elementwise arithmetic (section 8) -----------------------------------------------
def exact_fixed_format(op: str, *fmts):
    """Default fixed-point output of op (section 8): the smallest format holding every exact
    result, at max(Fa, Fb) (add, sub, minimum, maximum), Fa + Fb (mul), max(Fa + Fb, Fc) (fma)
    or Fa (neg, abs_) fraction bits."""
    rng = [(Fraction(s.lo, 2**s.frac), Fraction(s.hi, 2**s.frac)) for s in map(FixedSpec.of, fmts)]
    fr = [f.frac for f in fmts]
    if op in ("mul", "fma"):
        ends = [x * y for x in rng[0] for y in rng[1]]
        lo, hi, frac = min(ends), max(ends), fr[0] + fr[1]
        if op == "fma":
            lo, hi, frac = lo + rng[2][0], hi + rng[2][1], max(frac, fr[2])
    elif op in ("neg", "abs_"):
        (alo, ahi), frac = rng[0], fr[0]
        lo, hi = (-ahi, -alo) if op == "neg" else (max(alo, 0), max(-alo, ahi))
    else:
        (alo, ahi), (blo, bhi) = rng
        frac = max(fr)
        lo, hi = {"add": (alo + blo, ahi + bhi), "sub": (alo - bhi, ahi - blo),
                  "minimum": (min(alo, blo), min(ahi, bhi)),
                  "maximum": (max(alo, blo), max(ahi, bhi))}[op]
    ilo, ihi = int(lo * 2**frac), int(hi * 2**frac)
    if ilo < 0:
        width, signed = max(max((-ilo - 1).bit_length(), ihi.bit_length()) + 1, 2), True
    else:
        width, signed = max(ihi.bit_length(), 1), False
    if width > 62:
        raise ValueError(f"the exact result of {op} needs {width} bits (more than 62)")
    return FixedFormat(width, frac, signed)


def _out_format(op: str, out, fmts):
    if out is not None:
        return _format(out)
    if not _is_float(fmts[0]):
        return exact_fixed_format(op, *fmts)
    if any(f != fmts[0] for f in fmts):
        raise ValueError(f"{op}: different float formats need out=")
    return fmts[0]


def _elementwise(op: str, exact, regs, out, rounding, saturate, overflow, words=None,
                 sr_bits=None, eps=None, direction=None, form="carry", bad=None, profile=None):
    """exact(*operand values, mode) per element of the broadcast operands, rounded once."""
    shape, vals, fmts = _operands(regs)
    dst, mode = _out_format(op, out, fmts), _mode(rounding)
    results = [exact(*xs, mode) for xs in zip(*vals, strict=True)]
    return _shaped(_round_all(results, shape, dst, mode, saturate, overflow, words, sr_bits, eps,
                              direction, form, bad, profile, "arith"), shape)


def add(a, b, out=None, rounding="rne", *, saturate=None, overflow=None, words=None,
        sr_bits=None, eps=None, direction=None, form="carry", bad=None, profile=None):
    """a + b, rounded once."""
    return _elementwise("add", lambda x, y, m: add_values(*x, *y, m), (a, b), out, rounding,
                        saturate, overflow, words, sr_bits, eps, direction, form, bad, profile)


def sub(a, b, out=None, rounding="rne", *, saturate=None, overflow=None, words=None,
        sr_bits=None, eps=None, direction=None, form="carry", bad=None, profile=None):
    """a - b, rounded once (a NaN b keeps its sign)."""
    return _elementwise("sub", lambda x, y, m: add_values(*x, *negate(y), m), (a, b), out,
                        rounding, saturate, overflow, words, sr_bits, eps, direction, form, bad,
                        profile)


def mul(a, b, out=None, rounding="rne", *, saturate=None, overflow=None, words=None,
        sr_bits=None, eps=None, direction=None, form="carry", bad=None, profile=None):
    """a * b, rounded once."""
    return _elementwise("mul", lambda x, y, m: mul_values(x, y), (a, b), out, rounding,
                        saturate, overflow, words, sr_bits, eps, direction, form, bad, profile)


def fma(a, b, c, out=None, rounding="rne", *, saturate=None, overflow=None, words=None,
        sr_bits=None, eps=None, direction=None, form="carry", bad=None, profile=None):
    """a * b + c, rounded once."""
    return _elementwise("fma", fma_values, (a, b, c), out, rounding, saturate, overflow, words,
                        sr_bits, eps, direction, form, bad, profile)


def minimum(a, b, out=None, rounding="rne", *, saturate=None, overflow=None, bad=None,
            profile=None):
    """IEEE 754-2019 minimum, the chosen operand rounded into the output."""
    return _elementwise("minimum", lambda x, y, m: _minmax("minimum", x, y), (a, b), out,
                        rounding, saturate, overflow, bad=bad, profile=profile)


def maximum(a, b, out=None, rounding="rne", *, saturate=None, overflow=None, bad=None,
            profile=None):
    """IEEE 754-2019 maximum, the chosen operand rounded into the output."""
    return _elementwise("maximum", lambda x, y, m: _minmax("maximum", x, y), (a, b), out,
                        rounding, saturate, overflow, bad=bad, profile=profile)


def _sign_op(op: str, a, out, rounding, saturate, overflow, bad, profile=None):
    """neg / abs_ (section 8): floats change the sign bit alone (fnuz: zero and NaN stay), then
    convert with out=; fixed point rounds -a / |a| into out (default: the exact format)."""
    f = a.format
    if not _is_float(f):
        flip = negate if op == "neg" else (lambda x: (abs(x[0]), False))
        return _elementwise(op, lambda x, m: flip(x), (a,), out, rounding, None, overflow,
                            bad=bad)
    fs = FloatSpec.of(f)
    codes = np.asarray(a.codes)

    def sign_op(c: int) -> int:
        if fs.family == "fnuz" and (c & (fs.sign - 1) == 0):
            return c  # no -0, and the sign bit alone is the NaN
        return c ^ fs.sign if op == "neg" else c & (fs.sign - 1)

    flipped = [sign_op(int(c)) for c in codes.reshape(-1).tolist()]
    if out is None:
        return _shaped(flipped, codes.shape)
    return _shaped(_round_all([operand(f, c) for c in flipped], codes.shape, out, rounding,
                              saturate, overflow, None, None, None, None, "carry", bad, profile),
                   codes.shape)


def neg(a, out=None, rounding="rne", *, saturate=None, overflow=None, bad=None, profile=None):
    """-a (a profile applies to the conversion into out= only: section 3.5)."""
    return _sign_op("neg", a, out, rounding, saturate, overflow, bad, profile)


def abs_(a, out=None, rounding="rne", *, saturate=None, overflow=None, bad=None, profile=None):
    """|a|."""
    return _sign_op("abs_", a, out, rounding, saturate, overflow, bad, profile)


PREDICATES = {"eq": lambda x, y: x == y, "ne": lambda x, y: x != y, "lt": lambda x, y: x < y,
              "le": lambda x, y: x <= y, "gt": lambda x, y: x > y, "ge": lambda x, y: x >= y}


def compare(a, b, predicate: str):
    """Exact comparison of values (section 3.3): NaN is unordered (only ne holds), -0 == +0."""
    shape, (xs, ys), _ = _operands((a, b))
    test = PREDICATES[predicate]
    flat = [predicate == "ne" if _isnan(x) or _isnan(y) else bool(test(x, y))
            for (x, _), (y, _) in zip(xs, ys, strict=True)]
    return _shaped(flat, shape)


def _predicate(name: str):
    def test(a, b):
        return compare(a, b, name)

    test.__name__ = test.__qualname__ = name
    return test


eq, ne, lt, le, gt, ge = map(_predicate, PREDICATES)


# --- accumulation orders (section 9), on exact terms (value, neg_zero) ------------------------
def sequential(terms, acc, mode="rne", *, words=None, sr_bits=8, form="carry", chunk=None,
               promote=None, promote_rounding="rne", **policy) -> int:
    """acc = +0; for k ascending: acc = round_acc(acc + p_k) (one word per addition when
    stochastic). With chunk N: after every N terms and after the last, pacc = round_P(pacc +
    acc) (P's default overflow) and acc restarts at +0; the result is pacc, a code of P."""
    acc = _format(acc)
    code = pcode = 0
    for k, term in enumerate(terms):
        sr = {}
        if mode in STOCHASTIC:
            if mode not in ("sr", "sr_equal"):
                raise ValueError("accumulators take sr or sr_equal")
            sr = {"rbits": sr_bits, "rword": int(words[k]), "compare": form == "compare"}
        code = round_exact(*add_values(*operand(acc, code), *term, mode), acc, mode, **policy,
                           **sr)
        if chunk and ((k + 1) % chunk == 0 or k == len(terms) - 1):
            promo = _format(promote)
            pm = _mode(promote_rounding)
            pcode = round_exact(*add_values(*operand(promo, pcode), *operand(acc, code), pm),
                                promo, pm, **_policy(promo))
            code = 0
    return pcode if chunk else code


def pairwise(terms, acc, mode="rne", **policy) -> int:
    """Leaves round_acc(+0 + p_k); each level adds adjacent pairs (2t, 2t+1), an odd last
    element moving up unchanged; K = 0 gives +0."""
    acc = _format(acc)
    buf = [round_exact(*add_values(Fraction(0), False, *t, mode), acc, mode, **policy)
           for t in terms]
    while len(buf) > 1:
        nxt = [round_exact(*add_values(*operand(acc, buf[2 * t]), *operand(acc, buf[2 * t + 1]),
                                       mode), acc, mode, **policy) for t in range(len(buf) // 2)]
        buf = nxt + buf[len(buf) - len(buf) % 2:]
    return buf[0] if buf else 0


def _special_sum(terms):
    """The specials of an n-ary sum (section 9): the first NaN in order, +Inf with -Inf the
    invalid NaN, else an Inf's sign; None when every term is finite."""
    for v, _ in terms:
        if _isnan(v):
            return v
    infs = {v > 0 for v, _ in terms if isinstance(v, float)}
    if len(infs) == 2:
        return _nan(False)
    return (INF if infs.pop() else -INF) if infs else None


def exact_sum(terms, acc, mode="rne", **policy) -> int:
    """One rounding of the exact sum. A zero sum is -0 when every term is a -0, or when nonzero
    terms cancel under rdn (section 13.3 states this for sums that fit 64 bits)."""
    acc = _format(acc)
    special = _special_sum(terms)
    if special is not None:
        return round_exact(special, False, acc, mode, **policy)
    total = sum((v for v, _ in terms), Fraction(0))
    if total != 0:
        return round_exact(total, False, acc, mode, **policy)
    if all(v == 0 for v, _ in terms):
        nz = bool(terms) and all(z for _, z in terms)
    else:
        nz = mode == "rdn"
    return round_exact(total, nz, acc, mode, **policy)


def truncating(terms, acc, align_bits=13, group=32, **policy) -> int:
    """FP8 tensor-core model: per group of G products together with the running acc (first),
    E = the largest leading-bit exponent of the nonzero terms, every term truncated toward zero
    to a multiple of 2^(E - align_bits), summed exactly, rounded toward zero into acc; a group
    of zeros gives +0. A special among the group's terms or acc decides as in exact_sum."""
    acc = _format(acc)
    code = 0
    for g0 in range(0, len(terms), group):
        grp = [operand(acc, code)] + list(terms[g0:g0 + group])
        special = _special_sum(grp)
        if special is not None:
            code = round_exact(special, False, acc, "rtz", **policy)
            continue
        nonzero = [abs(v) for v, _ in grp if v != 0]
        if not nonzero:
            code = 0
            continue
        unit = Fraction(2) ** (max(floor_log2(v) for v in nonzero) - align_bits)
        total = sum((math.trunc(v / unit) * unit for v, _ in grp), Fraction(0))
        code = round_exact(total, False, acc, "rtz", **policy)
    return code


# --- API twins: dot products and matmul (section 9) ----------------------------------------------
def mac_accumulator(a_fmt, b_fmt, guard_bits: int):
    """The fixed MAC accumulator: Wa + Wb + guard_bits wide, Fa + Fb fraction bits, signed if
    either operand is."""
    a, b = _format(a_fmt), _format(b_fmt)
    return FixedFormat(a.width + b.width + guard_bits, a.frac + b.frac, a.signed or b.signed)


def reduce_terms(terms, order, accf, amode, acc_policy, words, r, form, chunk, promote,
                 promote_rounding, align_bits=13, group=32) -> int:
    """One output's exact terms reduced into accf in ``order`` (section 9), as matmul and
    block_matmul take them; ``words``: the accumulator's, one per term."""
    if order == "sequential":
        return sequential(terms, accf, amode, words=words, sr_bits=r, form=form, chunk=chunk,
                          promote=promote, promote_rounding=promote_rounding, **acc_policy)
    if amode in STOCHASTIC:
        raise ValueError("stochastic accumulation is defined for order='sequential'")
    if order == "pairwise":
        return pairwise(terms, accf, amode, **acc_policy)
    if order == "exact":
        return exact_sum(terms, accf, amode, **acc_policy)
    if order == "truncating":
        return truncating(terms, accf, align_bits, group, **acc_policy)
    raise ValueError(f"unknown order {order!r}")


def matmul(a, b, acc="fp32", out=None, *, products=None, product_rounding="rne",
           acc_rounding="rne", out_rounding="rne", order="sequential", chunk=None, promote=None,
           promote_rounding="rne", align_bits=13, group=32, acc_saturate=None, acc_overflow=None,
           saturate=None, overflow=None, words=None, sr_bits=None, form="carry", eps=None,
           direction=None, bad=None, block_sum="exact"):
    """C = A @ B (section 9): products (exact, or rounded once into ``products``), reduced in
    ``order`` into ``acc``, then converted into ``out``. ``words``: every random word, in emu's
    order: product roundings (M*N*K, (i, j, k) C order), accumulator roundings (M*N*K, same
    order), output conversion (M*N). Block registers (with .scales): block_matmul (section 14)."""
    if hasattr(a, "scales"):
        return block_matmul(a, b, acc, out, block_sum=block_sum, order=order,
                            acc_rounding=acc_rounding, out_rounding=out_rounding, chunk=chunk,
                            promote=promote, promote_rounding=promote_rounding,
                            acc_saturate=acc_saturate, acc_overflow=acc_overflow,
                            saturate=saturate, overflow=overflow, words=words, sr_bits=sr_bits,
                            form=form)
    ca, cb = np.asarray(a.codes), np.asarray(b.codes)  # a float and a fixed operand: by value
    (m, kk), n = ca.shape, cb.shape[1]
    accf, pmode, amode = _format(acc), _mode(product_rounding), _mode(acc_rounding)
    pfmt = _format(products) if products is not None else None
    r = 8 if sr_bits is None else sr_bits
    words = [int(w) for w in words] if words is not None else []
    n_p = m * n * kk if pfmt is not None and pmode in STOCHASTIC else 0
    n_a = m * n * kk if amode in STOCHASTIC else 0
    pw, aw, ow = words[:n_p], words[n_p:n_p + n_a], words[n_p + n_a:]
    acc_policy = _policy(accf, acc_saturate, acc_overflow)

    def product(i, j, k):
        p = mul_values(operand(a.format, int(ca[i, k])), operand(b.format, int(cb[k, j])))
        if pfmt is None:
            return p
        sr = _sr(pmode, 1, (), [pw[(i * n + j) * kk + k]] if n_p else None, r, None, None,
                 form)[0]
        return operand(pfmt, round_exact(*p, pfmt, pmode, **_policy(pfmt), **sr))

    def output(e):
        i, j = divmod(e, n)
        terms = [product(i, j, k) for k in range(kk)]
        return reduce_terms(terms, order, accf, amode, acc_policy, aw[e * kk:(e + 1) * kk], r,
                            form, chunk, promote, promote_rounding, align_bits, group)

    codes = _each(m * n, output, bad if out is None else _BAD)
    if out is None:
        return _shaped(codes, (m, n))
    final = _format(promote) if chunk else accf
    vals = [(_BAD, False) if c is _BAD else operand(final, c) for c in codes]
    omode = _mode(out_rounding)
    return _shaped(_round_all(vals, (m, n), out, omode, saturate, overflow,
                              ow if omode in STOCHASTIC else None, r, eps, direction, form, bad),
                   (m, n))


def dot(a, b, acc="fp32", out=None, **kw):
    """Dot product over the last axis of a with the vector b: matmul of a's rows with b."""
    ca, cb = np.asarray(a.codes), np.asarray(b.codes)
    lead = ca.shape[:-1]
    rows = _Codes(ca.reshape(-1, ca.shape[-1]), a.format)
    flat = matmul(rows, _Codes(cb.reshape(-1, 1), b.format), acc, out, **kw)
    return _shaped([row[0] for row in flat], lead)


class _Codes:
    """Codes and their format: the two things the twins read of an operand."""

    def __init__(self, codes, fmt):
        self.codes, self.format = codes, fmt


# --- API twins: random sources (section 7) -------------------------------------------------------
GOLDEN = 0x9E3779B97F4A7C15
M64 = (1 << 64) - 1


def splitmix64(x: int) -> int:
    x = (x + GOLDEN) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def lane_seeds(seed: int, lanes: int, width: int) -> list[int]:
    """Section 7.4: lane 0 is seed; lane k >= 1 the low W bits of splitmix64(seed + k GOLDEN),
    or 1 if those are 0."""
    return [seed] + [splitmix64((seed + k * GOLDEN) & M64) & ((1 << width) - 1) or 1
                     for k in range(1, lanes)]


class LFSR:
    """A bank of verilog-lfsr lanes (sections 7.2-7.4): element j of a call uses lane j mod L,
    every call starts at lane 0, lane states persist. The default poly is known only for
    W = 32 (x^32 + x^22 + x^2 + x + 1); pass poly= for other widths."""

    def __init__(self, width=32, poly=None, config="fibonacci", shifts=None, seed=1, lanes=1,
                 seeds=None, reverse=False, invert=False):
        if poly is None:
            if width != 32:
                raise ValueError("the reference knows the default poly of width 32 only")
            poly = 0x00400007
        self.width, self.poly, self.config, self.shifts = width, poly, config, shifts
        self.reverse, self.invert = reverse, invert
        self.states = tuple(seeds) if seeds is not None else tuple(lane_seeds(seed, lanes, width))

    def _words(self, n: int, d: int) -> list[int]:
        lanes, out, states = len(self.states), [0] * n, list(self.states)
        for lane, state in enumerate(self.states):
            idx = range(lane, n, lanes)
            ws, states[lane] = lfsr_draws(self.width, self.poly, self.config, d, state, len(idx),
                                          self.reverse, self.invert)
            for j, w in zip(idx, ws, strict=True):
                out[j] = w
        self.states = tuple(states)
        return out

    def draw(self, n: int, shifts=None) -> list[int]:
        """n words of D bits (D = shifts, else the source's shifts, else W)."""
        return self._words(n, shifts or self.shifts or self.width)

    def random_words(self, n: int, bits: int) -> list[int]:
        """The r-bit words of stochastic rounding: R = w >> (D - r), D = shifts or r."""
        d = self.shifts or bits
        if d < bits:
            raise ValueError(f"{d} shifts per draw cannot supply {bits} bits")
        return [w >> (d - bits) for w in self._words(n, d)]


class AmdPrng:
    """AMD V_PRNG_B32 (section 7.5): s = ((s << 1) mod 2^32) ^ (0xC5 if s >> 31 else 0) per
    draw, the output the new state; lanes and seeds as the LFSR's with W = 32."""

    def __init__(self, seed=1, lanes=1, seeds=None):
        self.states = tuple(seeds) if seeds is not None else tuple(lane_seeds(seed, lanes, 32))

    def draw(self, n: int) -> list[int]:
        out, states = [0] * n, list(self.states)
        for j in range(n):
            s = states[j % len(states)]
            s = ((s << 1) & 0xFFFFFFFF) ^ (0xC5 if s >> 31 else 0)
            states[j % len(states)] = out[j] = s
        self.states = tuple(states)
        return out

    def random_words(self, n: int, bits: int) -> list[int]:
        return [w >> (32 - bits) for w in self.draw(n)]


# --- block-scaled formats: OCP MX v1.0 and NVFP4 (docs/semantics.md §14) -----------------------
# From the definitions of the OCP Microscaling Formats (MX) Specification v1.0: §5.1-5.2 (a block
# is k elements P_i sharing one scale X; element i's value is X * P_i, and a NaN X makes every
# value of the block NaN, whatever P_i), §5.4.1 (E8M0: an 8-bit unsigned exponent, bias 127,
# values 2^-127 .. 2^127, 0xFF NaN; no sign, zero or Inf), §6.1 (Dot(A, B) = X(A) X(B)
# sum_i P_i(A) P_i(B)) and §6.3 (conversion: X = 2^(floor(log2(max_i |V_i|)) - emax_elem), then
# P_i = V_i / X quantized to the element format, normal numbers beyond its range clamped to its
# largest one). NVFP4 from NVIDIA's recipe as emu.blocks.quantize's docstring states it. Nothing
# here calls emu.blocks or emu.blockdot: values are Fractions, codes come from their definition.
MX_FORMATS = {"mxfp8_e4m3": ("e4m3", 32), "mxfp8_e5m2": ("e5m2", 32), "mxfp6_e3m2": ("e3m2", 32),
              "mxfp6_e2m3": ("e2m3", 32), "mxfp4": ("e2m1", 32), "mxint8": ("s8.6", 32)}
NVFP4 = ("e2m1", 16, "e4m3")  # element, block size, scale format
E8M0_NAN = 0xFF
SCALE_RULES = ("floor", "ceil", "rceil")
FP32 = FloatSpec(8, 23, 127, "ieee")


def e8m0_decode(code: int):
    """E8M0 (§5.4.1): 2^(code - 127) for 0..254, NaN for 0xFF."""
    if not 0 <= code <= 0xFF:
        raise ValueError(f"{code:#x} is not an 8-bit code")
    return NAN if code == E8M0_NAN else Fraction(2) ** (code - 127)


def e8m0_round(x, mode: str = "rne", *, saturate: bool = False, **sr) -> int:
    """One rounding of x (a host float or a Fraction) into E8M0 as emu documents it (§14.1): the
    exact value rounded on the powers of two with an unbounded exponent (neighbours 2^e and
    2^(e+1); "even" is an even code, i.e. an even exponent field e + 127), then the range: a result
    below 2^-127 gives 2^-127 (code 0: E8M0 has no zero), one above 2^127 the NaN 0xFF (0xFE with
    ``saturate``); zero, negative values, NaN and -Inf give NaN, +Inf NaN (0xFE with saturate)."""
    if isinstance(x, float):
        if math.isnan(x) or x <= 0 or x == -INF:
            return E8M0_NAN
        if x == INF:
            return 0xFE if saturate else E8M0_NAN
        x = Fraction(x)
    if x <= 0:
        return E8M0_NAN
    e = floor_log2(x)
    lo = Fraction(2) ** e
    r = e
    if x != lo:
        r = e if choose(mode, x, lo, 2 * lo, (e + 127) % 2 == 0, **sr) == lo else e + 1
    if r < -127:
        return 0
    if r > 127:
        return 0xFE if saturate else E8M0_NAN
    return r + 127


def e8m0_quantize(x, rounding="rne", *, saturate=False, words=None, sr_bits=None, eps=None,
                  direction=None, form="carry"):
    """Twin of emu.quantize(x, "e8m0", ...): nested lists of codes (one word per element)."""
    mode = _mode(rounding)
    arr = np.asarray(x)
    items = arr.reshape(-1).tolist()
    sr = _sr(mode, len(items), arr.shape, words, sr_bits, eps, direction, form)
    return _shaped([e8m0_round(v, mode, saturate=bool(saturate), **sr[i])
                    for i, v in enumerate(items)], arr.shape)


def element_max(fmt) -> Fraction:
    """The largest finite value of an element format (float: its largest normal; fixed point:
    its largest code's value, MXINT8's 1 63/64)."""
    s = spec(_format(fmt))
    return s.max_finite() if isinstance(s, FloatSpec) else Fraction(s.hi, 2 ** s.frac)


def element_emax(fmt) -> int:
    """emax_elem of §6.3: the exponent of the element format's largest normal number."""
    return floor_log2(element_max(fmt))


def fp32_round(v) -> Fraction | float:
    """v (a Fraction) rounded to nearest even binary32, non-saturating: a Fraction or +-inf."""
    return FP32.decode(round_float(Fraction(v), FP32, "rne", False))


def mx_shared_exponent(amax: Fraction, fmt, rule: str = "floor") -> int:
    """The shared exponent s (X = 2^s) of a finite block with largest magnitude amax, clamped to
    E8M0's [-127, 127]: ``floor`` (§6.3) floor(log2 amax) - emax_elem; ``ceil`` the smallest s
    with amax / 2^s <= the element's max; ``rceil`` q = fp32(fp32(amax) / fp32(max)) rounded up
    to a power of two (q = 0: the smallest scale; q = Inf: the largest). An all-zero block (amax
    = 0) gets -127, the smallest scale."""
    if amax == 0:
        return -127
    mx = element_max(fmt)
    if rule == "floor":
        s = floor_log2(amax) - element_emax(fmt)
    elif rule in ("ceil", "rceil"):
        if rule == "ceil":
            q = amax / mx
        else:
            a32 = fp32_round(amax)
            q = a32 if a32 == INF else fp32_round(a32 / fp32_round(mx))
        if q == INF:
            s = 127
        elif q == 0:
            s = -127
        else:
            s = floor_log2(q)
            s += q > Fraction(2) ** s
    else:
        raise ValueError(f"unknown scale rule {rule!r}")
    return max(-127, min(127, s))


def block_quantize(x, element, block_size=32, rounding="rne", *, axis=-1, scale_rule="floor",
                   saturate=None, overflow=None, words=None, sr_bits=None, eps=None,
                   direction=None, form="carry"):
    """Twin of emu.quantize(x, <an MX block format>): (scale codes, element codes) as nested
    lists, the scales of x's shape with ceil(n / k) blocks along ``axis`` (a last partial block
    holds the n mod k remaining elements). Per block: a NaN or Inf element gives the NaN scale
    0xFF and +0 for every element (emu's documented choice: §6.3 gives no rule for them); else
    s = mx_shared_exponent(amax, element, scale_rule) and each V_i / 2^s rounded once, from its
    exact value, into the element format with ``rounding``: floats saturate (the spec's clamp)
    unless saturate=False, fixed point takes ``overflow`` (default sat). ``words``: one per
    element in x's C order, not in block order. x: a float array."""
    elem, mode = _format(element), _mode(rounding)
    arr = np.asarray(x)
    if arr.dtype.kind != "f":
        raise TypeError("block_quantize takes a float array")
    shape, k = arr.shape, int(block_size)
    ax = axis % arr.ndim
    items = arr.reshape(-1).tolist()
    sr = _sr(mode, len(items), shape, words, sr_bits, eps, direction, form)
    if _is_float(elem):
        if overflow is not None:
            raise ValueError("overflow= is for fixed-point elements")
        policy = {"saturate": True if saturate is None else bool(saturate)}
    else:
        if saturate is not None:
            raise ValueError("saturate= is for float elements")
        policy = {"overflow": overflow or "sat"}
    index = np.moveaxis(np.arange(arr.size).reshape(shape), ax, -1)
    n = shape[ax]
    nb = -(-n // k)
    scales = np.zeros(index.shape[:-1] + (nb,), dtype=object)
    codes = [0] * arr.size
    for pos in np.ndindex(index.shape[:-1]):
        row = index[pos].tolist()
        for blk in range(nb):
            members = row[blk * k:blk * k + k]
            vals = [items[i] for i in members]
            if any(math.isnan(v) or math.isinf(v) for v in vals):
                scales[pos + (blk,)] = E8M0_NAN
                continue  # elements stay +0 (code 0)
            s = mx_shared_exponent(max(abs(Fraction(v)) for v in vals), elem, scale_rule)
            scales[pos + (blk,)] = s + 127
            for i in members:
                v = items[i]
                q = v if v == 0 else Fraction(v) / Fraction(2) ** s  # a zero keeps its sign
                codes[i] = round_value(q, elem, mode, **policy, **sr[i])
    return np.moveaxis(scales, -1, ax).tolist(), _shaped(codes, shape)


def nvfp4_quantize(x, rounding="rne", *, axis=-1, tensor_scale=None, words=None, sr_bits=None,
                   form="carry"):
    """Twin of emu.quantize(x, "nvfp4", ...): (scale codes, element codes, tensor scale), with
    NVIDIA's recipe computed step by step in numpy float32 (each operation one IEEE rounding to
    nearest even) and this file's e4m3 / e2m1 rounding: t = 1 (None), the given fp32 value, or
    for "amax" fp32(amax / fp32(448 * 6)) over every finite element (1 where that is 0 or
    underflows); per block of 16: scale = e4m3 rne satfinite of fp32(fp32(amax / 6) / t); element
    input fp32(fp32(x) / fp32(scale * t)), rounded into e2m1 with ``rounding``. A block holding
    NaN or Inf (after x's rounding to float32) gets the NaN scale 0x7f and +0 elements, a block
    whose scale is 0 +0 elements."""
    f32 = np.float32
    elem, sfmt, k = _format(NVFP4[0]), _format(NVFP4[2]), NVFP4[1]
    mode = _mode(rounding)
    arr = np.asarray(x, dtype=np.float64)
    shape = arr.shape
    ax = axis % arr.ndim
    with np.errstate(over="ignore", invalid="ignore"):  # beyond float32: +-inf, as the recipe
        x32 = arr.astype(f32).reshape(-1)
    items = arr.reshape(-1).tolist()
    sr = _sr(mode, len(items), shape, words, sr_bits, None, None, form)
    index = np.moveaxis(np.arange(arr.size).reshape(shape), ax, -1)
    nb = -(-shape[ax] // k)
    blocks = [(pos, blk, index[pos].tolist()[blk * k:blk * k + k])
              for pos in np.ndindex(index.shape[:-1]) for blk in range(nb)]
    # the recipe's inputs are the float32 values: a float64 beyond float32's range is +-Inf
    special = {(pos, blk): any(not math.isfinite(float(x32[i])) for i in members)
               for pos, blk, members in blocks}
    amax32 = {(pos, blk): max((abs(x32[i]) for i in members), default=f32(0))
              for pos, blk, members in blocks if not special[(pos, blk)]}
    if tensor_scale is None:
        t = f32(1)
    elif isinstance(tensor_scale, str):
        assert tensor_scale == "amax"  # over every finite element, NaN/Inf blocks' too
        top = max((abs(v) for v in x32.tolist() if math.isfinite(v)), default=0.0)
        top = f32(top)
        with np.errstate(all="ignore"):
            t = top / (f32(448) * f32(6)) if top > 0 else f32(1)
        if not (np.isfinite(t) and t > 0):
            t = f32(1)
    else:
        t = f32(tensor_scale)
    scales = np.zeros(index.shape[:-1] + (nb,), dtype=object)
    codes = [0] * arr.size
    for pos, blk, members in blocks:
        if special[(pos, blk)]:
            scales[pos + (blk,)] = FloatSpec.of(sfmt).nan(False)
            continue
        with np.errstate(all="ignore"):
            s32 = (amax32[(pos, blk)] / f32(6)) / t
        sc = round_value(float(s32), sfmt, "rne", saturate=True)
        scales[pos + (blk,)] = sc
        sv = f32(decode(sfmt, sc))
        if sv == 0:
            continue
        with np.errstate(all="ignore"):
            denom = sv * t
            for i in members:
                y = x32[i] / denom
                codes[i] = round_value(float(y), elem, mode, saturate=True, **sr[i])
    return np.moveaxis(scales, -1, ax).tolist(), _shaped(codes, shape), float(t)


def block_scale_value(fmt, code: int):
    """A block scale's value: E8M0 (§5.4.1), or a float scale format's code (NVFP4's e4m3)."""
    if getattr(fmt, "name", fmt) == "e8m0":
        return e8m0_decode(code)
    return decode(_format(fmt), code)


def block_term(a_vals, b_vals, xa, xb, mode: str = "rne"):
    """The exact value (v, neg_zero) of one block's term X_A X_B sum_i P_A,i P_B,i (§6.1): a NaN
    scale makes it NaN (+, the block's values are all NaN, §5.2); else the element products'
    specials as an n-ary sum (first NaN; +Inf with -Inf the invalid NaN; an Inf) times the scale
    product (Inf x a zero scale: the invalid NaN); a zero value's sign as exact_sum gives it
    (every product a -0: -0; nonzero products that cancel, or a zero scale: -0 only under rdn).
    The elements a last partial block lacks are not terms."""
    if _isnan(xa) or _isnan(xb):
        return _nan(False), False
    prods = [mul_values(p, q) for p, q in zip(a_vals, b_vals, strict=True)]
    scale = xa * xb
    special = _special_sum(prods)
    if special is not None:
        return mul_values((special, False), (scale, False))
    total = sum((v for v, _ in prods), Fraction(0)) * scale
    if total != 0:
        return total, False
    if all(v == 0 for v, _ in prods):
        return Fraction(0), bool(prods) and all(z for _, z in prods)
    return Fraction(0), mode == "rdn"


def block_matmul(a, b, acc="fp32", out=None, *, block_sum="exact", order="sequential",
                 acc_rounding="rne", out_rounding="rne", chunk=None, promote=None,
                 promote_rounding="rne", acc_saturate=None, acc_overflow=None, saturate=None,
                 overflow=None, words=None, sr_bits=None, form="carry"):
    """Twin of emu.matmul on block registers (A (M, K) blocked along K = axis 1, B (K, N) along
    axis 0; reads .codes, .scales, .format.element / .block_size / .scale and .tensor_scale).
    ``block_sum="exact"``: per output the block terms (block_term), b ascending, reduced in
    ``order`` (sequential with chunk/promote, pairwise, exact) into ``acc``; ``"products"``:
    every scaled product (X_A P_A)(X_B P_B) is a term of matmul's model (sequential, pairwise,
    exact, truncating), a NaN scale making its elements NaN. Then the output: with tensor scales
    t_A t_B != 1, alpha = fp32(t_A t_B) and one rounding of alpha x acc into ``out`` (or the
    accumulator's format); else the accumulator converted into ``out``. ``words``: the
    accumulator's (one per term, (i, j, term) C order), then the output's (M*N)."""
    ca, cb = np.asarray(a.codes), np.asarray(b.codes)
    sa, sb = np.asarray(a.scales), np.asarray(b.scales)
    (m, kk), n = ca.shape, cb.shape[1]
    k = a.format.block_size
    nb = -(-kk // k)
    accf, amode, omode = _format(acc), _mode(acc_rounding), _mode(out_rounding)
    r = 8 if sr_bits is None else sr_bits
    words = [int(w) for w in words] if words is not None else []
    nterms = nb if block_sum == "exact" else kk
    n_a = m * n * nterms if amode in STOCHASTIC else 0
    aw, ow = words[:n_a], words[n_a:]
    acc_policy = _policy(accf, acc_saturate, acc_overflow)
    ea = [[operand(a.format.element, int(c)) for c in row] for row in ca.tolist()]
    eb = [[operand(b.format.element, int(c)) for c in row] for row in cb.tolist()]
    xa = [[block_scale_value(a.format.scale, int(c)) for c in row] for row in sa.tolist()]
    xb = [[block_scale_value(b.format.scale, int(c)) for c in row] for row in sb.tolist()]

    def terms(i, j):
        if block_sum == "exact":
            return [block_term(ea[i][q * k:q * k + k], [eb[p][j] for p in range(q * k, min(q * k + k, kk))],
                               xa[i][q], xb[q][j], amode) for q in range(nb)]
        if block_sum != "products":
            raise ValueError(f"unknown block_sum {block_sum!r}")
        return [mul_values(mul_values(ea[i][p], (xa[i][p // k], False)),
                           mul_values(eb[p][j], (xb[p // k][j], False))) for p in range(kk)]

    def output(e):
        i, j = divmod(e, n)
        if order == "truncating" and block_sum != "products":
            raise ValueError(f"order {order!r} with block_sum={block_sum!r}")
        return reduce_terms(terms(i, j), order, accf, amode, acc_policy,
                            aw[e * nterms:(e + 1) * nterms], r, form, chunk, promote,
                            promote_rounding)

    codes = [output(e) for e in range(m * n)]
    final = _format(promote) if chunk else accf
    alpha = fp32_round(Fraction(a.tensor_scale) * Fraction(b.tensor_scale))
    if alpha == 1 and out is None:
        return _shaped(codes, (m, n))
    target = _format(out) if out is not None else final
    if alpha == 1:
        vals = [operand(final, c) for c in codes]
    else:
        vals = [mul_values(operand(final, c), (alpha, False)) for c in codes]
    return _shaped(_round_all(vals, (m, n), target, omode, saturate, overflow,
                              ow if omode in STOCHASTIC else None, r, None, None, form, None),
                   (m, n))
