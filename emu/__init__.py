"""emu: bit-exact emulation of low-precision accelerator arithmetic."""

from .formats import FixedFormat, FloatFormat, format
from .lfsr import LFSR, AmdPrng
from .ops import convert, quantize
from .registers import Registers

__version__ = "0.1.0"
__all__ = ["AmdPrng", "FixedFormat", "FloatFormat", "LFSR", "Registers", "convert", "format", "quantize"]
