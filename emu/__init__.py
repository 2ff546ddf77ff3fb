"""emu: bit-exact emulation of low-precision accelerator arithmetic."""

from .arith import (
    abs_,
    add,
    compare,
    context,
    eq,
    fma,
    ge,
    gt,
    le,
    lt,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    sub,
)
from .formats import FixedFormat, FloatFormat, format
from .lfsr import LFSR, AmdPrng
from .linalg import dot, mac_accumulator, matmul
from .ops import convert, quantize
from .registers import Registers

__version__ = "0.1.0"
__all__ = [
    "AmdPrng", "FixedFormat", "FloatFormat", "LFSR", "Registers", "abs_", "add", "compare",
    "context", "convert", "dot", "eq", "fma", "format", "ge", "gt", "le", "lt", "mac_accumulator",
    "matmul", "maximum", "minimum", "mul", "ne", "neg", "quantize", "sub",
]
