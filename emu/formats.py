"""Number formats: fixed point and small floating point, their properties and names.

A format is plain immutable data. Kernels never see these objects: they get ``fmt.descriptor``, a
tuple of integers (see ``emu.kernels.core``), so one compiled kernel serves every format.
DESIGN.md Part B, "Formats", is the normative description implemented here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property

from .codes import (
    FAM_FINITE,
    FAM_FN,
    FAM_FNUZ,
    FAM_IEEE,
    KIND_FIXED,
    KIND_FLOAT,
)
from .validate import flag, integer

FAMILIES = {"ieee": FAM_IEEE, "fn": FAM_FN, "fnuz": FAM_FNUZ, "finite": FAM_FINITE}

# float64 decodes every code exactly only while the format's exponent range fits float64's.
MAX_EXP_BITS = 11
MAX_FLOAT_BITS = 32
MAX_FIXED_WIDTH = 64


# The named formats as (exp_bits, man_bits, bias, family): an alias names exactly this format.
NAMED_SPECS: dict[str, tuple[int, int, int, str]] = {
    "e4m3": (4, 3, 7, "fn"), "e5m2": (5, 2, 15, "ieee"), "e4m3fnuz": (4, 3, 8, "fnuz"),
    "e5m2fnuz": (5, 2, 16, "fnuz"), "e2m1": (2, 1, 1, "finite"), "e2m3": (2, 3, 1, "finite"),
    "e3m2": (3, 2, 3, "finite"), "fp16": (5, 10, 15, "ieee"), "bf16": (8, 7, 127, "ieee"),
    "fp32": (8, 23, 127, "ieee"),
}


def _pow2(k: int) -> Fraction:
    return Fraction(2) ** k


def default_bias(exp_bits: int, family: str) -> int:
    """2**(X-1) - 1, and 2**(X-1) for fnuz (one more binade, no -0)."""
    return 2 ** (exp_bits - 1) - (0 if family == "fnuz" else 1)


def default_family(exp_bits: int, man_bits: int) -> str:
    """Family of ``eXmY`` without a suffix: a named format's (e4m3 is OCP fn; e2m1, e2m3 and
    e3m2 are the MX finite elements), else ieee."""
    named = NAMED_SPECS.get(f"e{exp_bits}m{man_bits}")
    return named[3] if named else "ieee"


def float_name(exp_bits: int, man_bits: int, bias: int, family: str) -> str:
    """The canonical name, which ``format`` parses back to the same format: ``eXmY``, then the
    family unless it is the default for eXmY, then ``b<bias>`` unless the bias is the family's
    default. E.g. e4m3 (OCP fn), e4m3ieee, e5m2b10, e4m3fnuzb-3; ``e8m0`` names the MX scale
    format (``ScaleFormat``), so the signed float spells its family: e8m0ieee."""
    name = f"e{exp_bits}m{man_bits}"
    if family != default_family(exp_bits, man_bits) or name in SCALE_NAMES:
        name += family
    if bias != default_bias(exp_bits, family):
        name += f"b{bias}"
    return name


def _check_name(fmt, canonical: str) -> None:
    """Set the canonical name, or keep an explicit one that names this very format (an alias
    such as fp16); any other name would parse back to a different format."""
    name = fmt.name
    if not name:
        object.__setattr__(fmt, "name", canonical)
        return
    spec = (fmt.exp_bits, fmt.man_bits, fmt.bias, fmt.family) if isinstance(fmt, FloatFormat) else None
    if name != canonical and (spec is None or NAMED_SPECS.get(name) != spec):
        raise ValueError(f"name={name!r} does not name this format (it would parse back to a "
                         f"different one); its name is {canonical!r}, or leave name= out")


@dataclass(frozen=True)
class FloatFormat:
    """A binary floating-point format: sign bit, ``exp_bits`` exponent, ``man_bits`` mantissa.

    Hidden bit and subnormals always. ``family`` fixes the special codes (DESIGN Part B):
    ``ieee`` (Inf and NaNs at the all-ones exponent), ``fn`` (no Inf, NaN = all-ones code),
    ``fnuz`` (no Inf, no -0, NaN = 0x80...), ``finite`` (no Inf, no NaN, always saturates).
    With ``man_bits == 0`` (a logarithmic quantizer) the ieee family has no room for both Inf
    and NaN; emu gives it the ``fn`` layout (the all-ones exponent is NaN, no Inf).
    ``name`` is derived (``float_name``: e.g. ``FloatFormat(4, 3)`` is ``e4m3ieee``, because
    ``e4m3`` is OCP fn) so that ``emu.format(f.name) == f``; an explicit ``name=`` must be that
    name or a named alias of this very format (``fp16``), else ValueError.
    """

    exp_bits: int
    man_bits: int
    bias: int | None = None
    family: str = "ieee"
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.family, str) or self.family not in FAMILIES:
            raise ValueError(
                f"unknown float family {self.family!r}; valid: {', '.join(FAMILIES)}"
            )
        exp_bits = integer(self.exp_bits, "exp_bits")
        man_bits = integer(self.man_bits, "man_bits")
        object.__setattr__(self, "exp_bits", exp_bits)
        object.__setattr__(self, "man_bits", man_bits)
        if not 2 <= exp_bits <= MAX_EXP_BITS:
            raise ValueError(
                f"exp_bits={exp_bits} out of range; valid: 2..{MAX_EXP_BITS} "
                "(wider exponents do not decode exactly to float64)"
            )
        if man_bits < 0 or 1 + exp_bits + man_bits > MAX_FLOAT_BITS:
            raise ValueError(
                f"man_bits={man_bits} out of range; valid: 0..{MAX_FLOAT_BITS - 1 - exp_bits}"
                f" for exp_bits={exp_bits} (at most {MAX_FLOAT_BITS} bits in all)"
            )
        if self.bias is None:
            object.__setattr__(self, "bias", default_bias(exp_bits, self.family))
        else:
            object.__setattr__(self, "bias", integer(self.bias, "bias"))
        # Every value must be an exact float64: smallest subnormal >= 2^-1074, largest < 2^1024.
        if self.emin - man_bits < -1074 or self.emax > 1023:
            raise ValueError(
                f"bias={self.bias} puts the exponent range [{self.emin - man_bits}, {self.emax}]"
                " outside float64's [-1074, 1023]"
            )
        canonical = float_name(exp_bits, man_bits, self.bias, self.family)
        _check_name(self, canonical)

    # --- layout ---------------------------------------------------------------------------
    @property
    def bits(self) -> int:
        return 1 + self.exp_bits + self.man_bits

    @property
    def layout(self) -> str:
        """The family as laid out: ieee with no mantissa bits behaves as fn (see class doc)."""
        if self.family == "ieee" and self.man_bits == 0:
            return "fn"
        return self.family

    @property
    def sign_bit(self) -> int:
        return 1 << (self.bits - 1)

    @property
    def emin(self) -> int:
        """Unbiased exponent of the smallest normal number."""
        return 1 - self.bias

    @property
    def max_code(self) -> int:
        """Magnitude code of the largest finite value."""
        all_ones = (1 << (self.bits - 1)) - 1
        if self.layout == "ieee":
            return (((1 << self.exp_bits) - 1) << self.man_bits) - 1
        if self.layout == "fn":
            return all_ones - 1
        return all_ones  # fnuz, finite

    @property
    def emax(self) -> int:
        return (self.max_code >> self.man_bits) - self.bias

    @property
    def inf_code(self) -> int | None:
        """Code of +Inf, or None when the family has no infinity."""
        if self.layout == "ieee":
            return ((1 << self.exp_bits) - 1) << self.man_bits
        return None

    @property
    def nan_code(self) -> int | None:
        """Canonical positive NaN code (negative NaN adds the sign bit, except fnuz)."""
        if self.layout == "ieee":
            return self.inf_code | (1 << (self.man_bits - 1))
        if self.layout == "fn":
            return (1 << (self.bits - 1)) - 1
        if self.layout == "fnuz":
            return self.sign_bit
        return None

    @property
    def has_negative_zero(self) -> bool:
        return self.layout != "fnuz"

    def nan_ranges(self) -> list[tuple[int, int]]:
        """Every code that decodes to NaN, as inclusive (lo, hi) code ranges, the positive ones
        first (docs/semantics.md §2.2): ieee, the all-ones exponent with a nonzero mantissa; fn,
        the all-ones magnitude; fnuz, the sign bit alone; finite, none."""
        if self.layout == "ieee":
            lo, hi = self.inf_code + 1, self.sign_bit - 1
            return [(lo, hi), (lo | self.sign_bit, hi | self.sign_bit)]
        if self.layout == "fn":
            neg = self.nan_code | self.sign_bit
            return [(self.nan_code, self.nan_code), (neg, neg)]
        if self.layout == "fnuz":
            return [(self.sign_bit, self.sign_bit)]
        return []

    def is_nan_code(self, code: int) -> bool:
        return any(lo <= code <= hi for lo, hi in self.nan_ranges())

    def nan_mask(self, codes):
        """Which of ``codes`` (an integer array) decode to NaN: a bool array of its shape."""
        import numpy as np  # here, not at the top: the CLI's help reads formats without numpy

        codes = np.asarray(codes)
        mask = np.zeros(codes.shape, bool)
        for lo, hi in self.nan_ranges():
            mask |= (codes >= lo) & (codes <= hi)
        return mask

    def is_inf_code(self, code: int) -> bool:
        return self.inf_code is not None and code & (self.sign_bit - 1) == self.inf_code

    # --- values ---------------------------------------------------------------------------
    def code_value(self, code: int) -> Fraction | float:
        """Exact value of a code: a Fraction, or float inf/nan."""
        if not 0 <= code < (1 << self.bits):
            raise ValueError(f"code {code:#x} does not fit {self.bits}-bit format {self.name}")
        if self.is_nan_code(code):
            return float("nan")
        neg = bool(code & self.sign_bit)
        if self.is_inf_code(code):
            return float("-inf") if neg else float("inf")
        e = (code >> self.man_bits) & ((1 << self.exp_bits) - 1)
        m = code & ((1 << self.man_bits) - 1)
        if e == 0:
            mag = m * _pow2(self.emin - self.man_bits)
        else:
            mag = ((1 << self.man_bits) + m) * _pow2(e - self.bias - self.man_bits)
        return -mag if neg else mag

    @property
    def max(self) -> Fraction:
        return self.code_value(self.max_code)

    @property
    def min_normal(self) -> Fraction:
        return _pow2(self.emin)

    @property
    def min_subnormal(self) -> Fraction:
        return _pow2(self.emin - self.man_bits)

    @property
    def finite_codes(self) -> int:
        """Number of codes that encode finite values (both zeros counted)."""
        per_sign = self.max_code + 1
        return 2 * per_sign - (0 if self.has_negative_zero else 1)

    @property
    def finite_values(self) -> int:
        """Number of distinct finite values (+0 and -0 are one value)."""
        return 2 * self.max_code + 1

    @cached_property  # a frozen value: computed once (every kernel call passes it)
    def descriptor(self) -> tuple:
        nan = -1 if self.nan_code is None else self.nan_code
        inf = -1 if self.inf_code is None else self.inf_code
        return (
            KIND_FLOAT, self.bits, self.man_bits, self.exp_bits, self.bias,
            FAMILIES[self.layout], self.max_code, nan, inf,
        )

    def properties(self) -> dict:
        """Everything a user asks about a format, as JSON-friendly values."""
        hexw = (self.bits + 3) // 4

        def h(c: int | None) -> str | None:
            return None if c is None else f"0x{c:0{hexw}x}"

        neg_nan = None
        if self.nan_code is not None:
            neg_nan = self.nan_code if self.layout == "fnuz" else self.nan_code | self.sign_bit
        ranges = self.nan_ranges()
        return {
            "name": self.name,
            "kind": "float",
            "family": self.family,
            "bits": self.bits,
            "exp_bits": self.exp_bits,
            "man_bits": self.man_bits,
            "bias": self.bias,
            "max": float(self.max),
            "min_normal": float(self.min_normal),
            "min_subnormal": float(self.min_subnormal),
            "inf_codes": [h(self.inf_code), h(self.inf_code | self.sign_bit)]
            if self.inf_code is not None else [],
            "nan_codes": [h(lo) if lo == hi else f"{h(lo)}..{h(hi)}" for lo, hi in ranges],
            "nan_count": sum(hi - lo + 1 for lo, hi in ranges),
            "canonical_nan": [h(self.nan_code), h(neg_nan)] if self.nan_code is not None else [],
            "finite_codes": self.finite_codes,
            "finite_values": self.finite_values,
        }

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class FixedFormat:
    """Fixed point: a ``width``-bit integer code ``c`` (two's complement if ``signed``) with value
    ``c * 2**-frac``. ``frac`` may be negative or exceed ``width``. The name is ``sW.F`` /
    ``uW.F`` (an explicit ``name=`` must be exactly that)."""

    width: int
    frac: int
    signed: bool = True
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        width = integer(self.width, "width", 1, MAX_FIXED_WIDTH)
        frac = integer(self.frac, "frac")
        signed = flag(self.signed, "signed")
        object.__setattr__(self, "width", width)
        object.__setattr__(self, "frac", frac)
        object.__setattr__(self, "signed", signed)
        if signed and width < 2:
            raise ValueError("a signed fixed-point format needs width >= 2")
        if not -1074 <= frac <= 1074 or not -1023 < width - frac < 1024:
            raise ValueError(f"frac={frac} puts the format outside float64's exponent range")
        _check_name(self, f"{'s' if signed else 'u'}{width}.{frac}")

    @property
    def bits(self) -> int:
        return self.width

    @property
    def min_code_int(self) -> int:
        """Smallest integer value of the code (interpreted as two's complement if signed)."""
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_code_int(self) -> int:
        return (1 << (self.width - (1 if self.signed else 0))) - 1

    @property
    def resolution(self) -> Fraction:
        return _pow2(-self.frac)

    @property
    def max(self) -> Fraction:
        return self.max_code_int * self.resolution

    @property
    def min(self) -> Fraction:
        return self.min_code_int * self.resolution

    def code_int(self, code: int) -> int:
        """The integer a code stands for (sign-extended when signed)."""
        if not 0 <= code < (1 << self.width):
            raise ValueError(f"code {code:#x} does not fit {self.width}-bit format {self.name}")
        if self.signed and code >> (self.width - 1):
            return code - (1 << self.width)
        return code

    def code_value(self, code: int) -> Fraction:
        return self.code_int(code) * self.resolution

    @property
    def descriptor(self) -> tuple:
        return (KIND_FIXED, self.width, self.frac, int(self.signed), 0, 0, 0, -1, -1)

    def properties(self) -> dict:
        return {
            "name": self.name,
            "kind": "fixed",
            "signed": self.signed,
            "bits": self.width,
            "frac": self.frac,
            "resolution": float(self.resolution),
            "min": float(self.min),
            "max": float(self.max),
            "finite_codes": 1 << self.width,
            "finite_values": 1 << self.width,
        }

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class ScaleFormat:
    """OCP MX's E8M0 scale (docs/semantics.md §14.1): 8 unsigned exponent bits, bias 127, no
    sign, no mantissa, no zero, no Inf; code c is 2**(c - 127) for c in 0..254 and 0xFF is NaN.
    It is a register format (codes, decoding, ``emu.quantize``) and the scale of the MX block
    formats; there is no arithmetic on it. ``name`` is ``e8m0``."""

    name: str = field(default="e8m0", compare=False)

    def __post_init__(self) -> None:
        if self.name != "e8m0":
            raise ValueError(f"name={self.name!r} does not name this format; its name is 'e8m0'")

    bits = 8
    exp_bits = 8
    man_bits = 0
    bias = 127
    family = "scale"
    sign_bit = 0
    max_code = 0xFE
    nan_code = 0xFF
    inf_code = None
    has_negative_zero = False
    emin = -127
    emax = 127

    @property
    def descriptor(self) -> tuple:
        raise ValueError("e8m0 is the MX scale format: it decodes (Registers.to_float), quantizes "
                         "(emu.quantize) and scales blocks (emu.block_format), but takes no "
                         "arithmetic or conversion kernel")

    def nan_ranges(self) -> list[tuple[int, int]]:
        return [(0xFF, 0xFF)]

    def is_nan_code(self, code: int) -> bool:
        return code == 0xFF

    def nan_mask(self, codes):
        import numpy as np

        return np.asarray(codes) == 0xFF

    def is_inf_code(self, code: int) -> bool:
        return False

    def code_value(self, code: int) -> Fraction | float:
        if not 0 <= code < 256:
            raise ValueError(f"code {code:#x} does not fit 8-bit format e8m0")
        return float("nan") if code == 0xFF else _pow2(code - 127)

    def decode(self, codes):
        """Scale codes as float64 values (2**(c - 127), NaN for 0xFF), exactly."""
        import numpy as np

        codes = np.asarray(codes)
        return np.where(codes == 0xFF, np.nan, np.ldexp(1.0, codes.astype(np.int64) - 127))

    @property
    def max(self) -> Fraction:
        return _pow2(127)

    @property
    def min(self) -> Fraction:
        return _pow2(-127)

    def properties(self) -> dict:
        return {
            "name": "e8m0", "kind": "scale", "family": "scale", "bits": 8, "exp_bits": 8,
            "man_bits": 0, "bias": 127, "max": float(self.max), "min": float(self.min),
            "inf_codes": [], "nan_codes": ["0xff"], "nan_count": 1, "canonical_nan": ["0xff"],
            "finite_codes": 255, "finite_values": 255,
        }

    def __str__(self) -> str:
        return self.name


E8M0 = ScaleFormat()
SCALE_NAMES = ("e8m0",)

# The named block formats (emu.blockformats): (element, block size, scale). OCP MX v1.0 §5.2
# Table 1; NVFP4 from NVIDIA's Blackwell documentation. Kept here with the other names, so that
# a block format's name given as a register format gets an error saying what it is.
NAMED_BLOCKS: dict[str, tuple[str, int, str]] = {
    "mxfp8_e4m3": ("e4m3", 32, "e8m0"), "mxfp8_e5m2": ("e5m2", 32, "e8m0"),
    "mxfp6_e3m2": ("e3m2", 32, "e8m0"), "mxfp6_e2m3": ("e2m3", 32, "e8m0"),
    "mxfp4": ("e2m1", 32, "e8m0"), "mxint8": ("s8.6", 32, "e8m0"),
    "nvfp4": ("e2m1", 16, "e4m3"),
}
BLOCK_ALIASES = {"mxfp8": "mxfp8_e4m3", "mxfp6": "mxfp6_e3m2", "mxfp4_e2m1": "mxfp4"}
GENERIC_BLOCK_RE = re.compile(r"^(.+)x(\d+)_(.+)$")  # <element>x<k>_<scale>

Format = FloatFormat | FixedFormat


def exact_float_format(fmt: FixedFormat) -> FloatFormat:
    """The smallest-exponent float format holding every value of a fixed-point format exactly.

    Values are k * 2**-F with |k| < 2**(W-1) (signed; k = -2**(W-1) is a power of two) or
    k < 2**W (unsigned): M = W - 2 (signed) or W - 1 mantissa bits, and a bias that puts the
    subnormal quantum at 2**-F (emin - M = -F). k < 2**M are the subnormals, k < 2**(M+1) the
    exponent emin, and -2**(W-1) = -2**(M+1) * 2**-F the exponent emin + 1: two exponent bits
    in the ieee layout (the all-ones field, 3, stays special and is never produced)."""
    man = fmt.width - (2 if fmt.signed else 1)
    if 3 + man > MAX_FLOAT_BITS:
        raise ValueError(f"{fmt.name} has no exact float format: it needs {3 + man} bits, more "
                         f"than {MAX_FLOAT_BITS}")
    return FloatFormat(2, man, bias=1 - man + fmt.frac)


def exact_fixed_of(fmt: FloatFormat) -> FixedFormat:
    """The narrowest signed fixed-point format holding every finite value of a float format
    exactly: F = M - emin (its smallest subnormal is 2**-F) and W the bits of max * 2**F plus
    a sign bit."""
    frac = fmt.man_bits - fmt.emin
    width = int(fmt.max * _pow2(frac)).bit_length() + 1
    if width > MAX_FIXED_WIDTH:
        raise ValueError(f"{fmt.name} has no exact fixed-point format: it needs s{width}.{frac}, "
                         f"wider than {MAX_FIXED_WIDTH} bits")
    return FixedFormat(width, frac)

NAMED_FORMATS: dict[str, Format | ScaleFormat] = {
    **{name: FloatFormat(*spec, name=name) for name, spec in NAMED_SPECS.items()}, "e8m0": E8M0,
}

_FLOAT_RE = re.compile(r"^e(\d+)m(\d+)(ieee|fnuz|fn|finite)?(?:b([+-]?\d+))?$")
_FIXED_RE = re.compile(r"^([su])(\d+)\.([+-]?\d+)$")

VALID_NAMES_HELP = (
    f"named formats: {', '.join(NAMED_FORMATS)} (e8m0: the MX scale); generic: "
    f"eXmY[ieee|fn|fnuz|finite][bB] "
    f"(2 <= X <= {MAX_EXP_BITS}, 1+X+Y <= {MAX_FLOAT_BITS}, B a bias), "
    f"sW.F / uW.F (1 <= W <= {MAX_FIXED_WIDTH})"
)


def format(spec: str | Format | ScaleFormat) -> Format | ScaleFormat:  # noqa: A001 - emu.format
    """Parse a format name or pass a format through. ``format(f.name) == f`` for every format.

    Grammar (case-insensitive): a named format (``e4m3``, ``e5m2``, ``e4m3fnuz``, ``e5m2fnuz``,
    ``e2m1``, ``e2m3``, ``e3m2``, ``fp16``, ``bf16``, ``fp32``, and ``e8m0``, the MX scale
    format, a ``ScaleFormat``); ``eXmY[family][bB]`` with family
    ieee | fn | fnuz | finite (default: the named format's family for e4m3, e2m1, e2m3, e3m2,
    else ieee) and B the exponent bias (default 2**(X-1) - 1, fnuz 2**(X-1)), e.g. ``e4m3ieee``,
    ``e5m2b10``, ``e4m3fnb-2``; ``sW.F`` / ``uW.F`` fixed point (``s16.8``, ``u8.-2``).
    """
    if isinstance(spec, FloatFormat | FixedFormat | ScaleFormat):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"format must be a name or a FloatFormat/FixedFormat/ScaleFormat, not "
                        f"{type(spec).__name__}")
    key = spec.strip().lower()
    if key in NAMED_FORMATS:
        return NAMED_FORMATS[key]
    m = _FLOAT_RE.match(key)
    if m:
        e, mb = int(m.group(1)), int(m.group(2))
        if f"e{e}m{mb}" in SCALE_NAMES and not m.group(3):
            raise ValueError(f"{spec!r}: e{e}m{mb} names the MX scale format (bias 127, unsigned); "
                             f"the signed logarithmic float spells its family, e.g. e{e}m{mb}ieee"
                             f"{key[len(f'e{e}m{mb}'):]}")
        fam = m.group(3) or default_family(e, mb)
        bias = None if m.group(4) is None else int(m.group(4))
        try:
            return FloatFormat(e, mb, bias, fam)
        except ValueError as err:
            raise ValueError(f"{spec!r}: {err}") from None
    m = _FIXED_RE.match(key)
    if m:
        try:
            return FixedFormat(int(m.group(2)), int(m.group(3)), m.group(1) == "s")
        except ValueError as err:
            raise ValueError(f"{spec!r}: {err}") from None
    if BLOCK_ALIASES.get(key, key) in NAMED_BLOCKS or GENERIC_BLOCK_RE.match(key):
        raise ValueError(f"{spec!r} is a block format (elements sharing a scale), not a register "
                         "format: use emu.quantize(x, name) or emu.block_format(name) "
                         "(docs/semantics.md §14)")
    raise ValueError(f"unknown format {spec!r}; {VALID_NAMES_HELP}")


def code_dtype(bits: int):
    """Smallest unsigned integer numpy dtype that holds a ``bits``-wide code."""
    import numpy as np  # here, not at the top: the CLI's help reads formats without numpy

    for dt in (np.uint8, np.uint16, np.uint32, np.uint64):
        if bits <= np.dtype(dt).itemsize * 8:
            return np.dtype(dt)
    raise ValueError(f"{bits}-bit codes do not fit 64 bits")
