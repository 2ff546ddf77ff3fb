"""Slow, obviously correct model of docs/semantics.md, in exact rational arithmetic.

Nothing here shares code with the kernels: values are ``fractions.Fraction``, neighbours on the
target grid are found by exact division, and codes are built from their definition. The kernels
are tested against this model.
"""

from __future__ import annotations

import math
from fractions import Fraction

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


# --- arithmetic, from the values ------------------------------------------------------------
def _signbit(fmt, code: int) -> bool:
    return bool(code >> (fmt.bits - 1)) if hasattr(fmt, "exp_bits") else False


def _nan(neg: bool) -> float:
    return math.copysign(math.nan, -1.0 if neg else 1.0)


def exact_binary(op: str, fa, ca: int, fb, cb: int, mode: str):
    """Exact result of a op b as Fraction (with a -0 marker) or float nan/inf, per Part B and
    IEEE 754 6.3 for the sign of exact zeros. Returns (value, neg_zero)."""
    va, vb = decode(fa, ca), decode(fb, cb)
    sa, sb = _signbit(fa, ca), _signbit(fb, cb)
    if isinstance(va, float) and math.isnan(va):
        return _nan(sa), False
    if isinstance(vb, float) and math.isnan(vb):
        return _nan(sb), False
    if op == "sub":
        vb, sb_eff = -vb, not sb
    else:
        sb_eff = sb
    if op == "mul":
        inf_a, inf_b = isinstance(va, float), isinstance(vb, float)
        if inf_a or inf_b:
            if (not inf_a and va == 0) or (not inf_b and vb == 0):
                return _nan(False), False
            return (-math.inf if sa != sb else math.inf), False
        r = va * vb
        return r, r == 0 and sa != sb
    return add_values(va, sa, vb, sb_eff, mode)


def add_values(va, sa: bool, vb, sb: bool, mode: str):
    """Exact a + b of reference values (Fraction with sign flags for zeros, or float nan/inf):
    Part B specials, IEEE 754 6.3 zero signs. Returns (value, neg_zero)."""
    for v in (va, vb):
        if isinstance(v, float) and math.isnan(v):
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


def round_exact(value, neg_zero: bool, fmt, mode: str, **kw) -> int:
    if isinstance(value, Fraction) and value == 0 and neg_zero:
        return round_value(-0.0, fmt, mode, **kw)
    return round_value(value, fmt, mode, **kw)


def binary(op: str, fa, ca: int, fb, cb: int, dst, mode: str = "rne", **kw) -> int:
    v, nz = exact_binary(op, fa, ca, fb, cb, mode)
    return round_exact(v, nz, dst, mode, **kw)
