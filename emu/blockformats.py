"""Block format descriptions: OCP MX and NVFP4 (docs/semantics.md §14.2).

Plain data without numpy, so the command line lists them at start-up; the registers, the
quantizer and the arithmetic are emu.blocks and emu.blockdot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from .codes import SR_MAX_BITS
from .formats import BLOCK_ALIASES as ALIASES
from .formats import E8M0, GENERIC_BLOCK_RE, NAMED_BLOCKS, FixedFormat, FloatFormat, ScaleFormat
from .formats import format as parse_format
from .validate import integer


def _floor_log2(q: Fraction) -> int:
    """floor(log2(q)) of a positive rational, exactly."""
    e = q.numerator.bit_length() - q.denominator.bit_length()
    return e if Fraction(2) ** e <= q else e - 1


MAX_BLOCK = 1 << 16


@dataclass(frozen=True)
class BlockFormat:
    """``block_size`` elements of ``element`` (a float or fixed-point format) share one scale of
    ``scale`` (``e8m0``, a power of two, as in OCP MX; or a float format such as NVFP4's
    ``e4m3``). ``name`` is the named format's, else ``<element>x<k>_<scale>``."""

    element: FloatFormat | FixedFormat
    block_size: int = 32
    scale: ScaleFormat | FloatFormat = E8M0
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        elem = parse_format(self.element)
        scale = parse_format(self.scale)
        if isinstance(elem, ScaleFormat):
            raise ValueError("e8m0 is a scale format, not an element format")
        if isinstance(scale, FixedFormat):
            raise ValueError(f"a block scale is e8m0 or a float format, not {scale.name}")
        if elem.bits > 16 or (isinstance(scale, FloatFormat) and scale.bits > 16):
            raise ValueError(f"block formats take element and scale formats of at most 16 bits "
                             f"(got {elem.name} and {scale.name})")
        if isinstance(elem, FloatFormat) and elem.emin - elem.man_bits - SR_MAX_BITS - 2 <= -1000:
            raise ValueError(f"element format {elem.name}: its exponent range is too wide for a "
                             "block element")
        k = integer(self.block_size, "block_size", 1, MAX_BLOCK)
        object.__setattr__(self, "element", elem)
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "block_size", k)
        canonical = next((n for n, spec in NAMED_BLOCKS.items()
                          if spec == (elem.name, k, scale.name)), f"{elem.name}x{k}_{scale.name}")
        if self.name and self.name != canonical:
            raise ValueError(f"name={self.name!r} does not name this block format; its name is "
                             f"{canonical!r}, or leave name= out")
        object.__setattr__(self, "name", canonical)

    @property
    def power_of_two_scale(self) -> bool:
        return isinstance(self.scale, ScaleFormat)

    @property
    def element_emax(self) -> int:
        """emax_elem of OCP MX §6.3: the exponent of the element format's largest power of two
        (MXINT8's s8.6: 0, as its largest value is 1.984375)."""
        if isinstance(self.element, FloatFormat):
            return self.element.emax
        return _floor_log2(self.element.max)

    @property
    def element_max(self) -> float:
        return float(self.element.max)

    @property
    def bits_per_element(self) -> float:
        return self.element.bits + self.scale.bits / self.block_size

    def properties(self) -> dict:
        return {"name": self.name, "kind": "block", "element": self.element.name,
                "block_size": self.block_size, "scale": self.scale.name,
                "bits_per_element": self.bits_per_element, "element_max": self.element_max,
                "element_emax": self.element_emax,
                "tensor_scale": "optional fp32 (second level)" if self.name == "nvfp4" else None}

    def __str__(self) -> str:
        return self.name


_NAMED = {n: BlockFormat(*spec) for n, spec in NAMED_BLOCKS.items()}


def block_format(spec, block_size: int | None = None, scale=None) -> BlockFormat:
    """A block format by name (``mxfp8_e4m3``, ``mxfp8_e5m2``, ``mxfp6_e3m2``, ``mxfp6_e2m3``,
    ``mxfp4``, ``mxint8``, ``nvfp4``; aliases ``mxfp8``, ``mxfp6``), a BlockFormat passed
    through, or generic: an element format with ``block_size`` (default 32) and ``scale``
    (default e8m0), e.g. ``block_format("e4m3", 16)``, or its name ``"e4m3x16_e8m0"``
    (``block_format(f.name) == f`` for every block format)."""
    if isinstance(spec, BlockFormat) and block_size is None and scale is None:
        return spec
    if isinstance(spec, str) and block_size is None and scale is None:
        key = spec.strip().lower()
        key = ALIASES.get(key, key)
        if key in _NAMED:
            return _NAMED[key]
        m = GENERIC_BLOCK_RE.match(key)
        if m:  # a generic format's own name, <element>x<k>_<scale>, parses back to it
            try:
                return BlockFormat(m.group(1), int(m.group(2)), m.group(3))
            except ValueError as err:
                raise ValueError(f"{spec!r}: {err}") from None
        try:
            parse_format(key)
        except ValueError:
            raise ValueError(f"unknown block format {spec!r}; valid: {', '.join(NAMED_BLOCKS)} "
                             f"(aliases {', '.join(ALIASES)}), or an element format with "
                             "block_size= and scale=") from None
    if isinstance(spec, BlockFormat):
        raise TypeError("block_format(BlockFormat, ...) takes no block_size= or scale=")
    if is_block_format(spec):
        raise ValueError(f"{spec!r} is a block format already; block_size= and scale= go with an "
                         "element format, e.g. block_format('e2m1', 16, 'e4m3')")
    return BlockFormat(spec, 32 if block_size is None else block_size,
                       E8M0 if scale is None else scale)


def is_block_format(spec) -> bool:
    """Does ``spec`` name a block format (not an element format)?"""
    if isinstance(spec, BlockFormat):
        return True
    if not isinstance(spec, str):
        return False
    key = spec.strip().lower()
    return ALIASES.get(key, key) in _NAMED or bool(GENERIC_BLOCK_RE.match(key))
