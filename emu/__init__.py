"""emu: bit-exact emulation of low-precision accelerator arithmetic.

The public names load on first use (PEP 562), so ``import emu`` and the command line's help
and format listing start without importing numba; the first kernel call compiles or loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import exports

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    **dict.fromkeys(("abs_", "add", "compare", "eq", "fma", "ge", "gt", "le", "lt",
                     "maximum", "minimum", "mul", "ne", "neg", "sub"), "arith"),
    **dict.fromkeys(("FixedFormat", "FloatFormat", "ScaleFormat", "format"), "formats"),
    **dict.fromkeys(("BlockFormat", "block_format"), "blockformats"),
    **dict.fromkeys(("BlockRegisters",), "blocks"),
    **dict.fromkeys(("LFSR", "AmdPrng"), "lfsr"),
    **dict.fromkeys(("Rounding",), "rounding"),
    **dict.fromkeys(("Profile",), "profiles"),
    **dict.fromkeys(("RandomSource",), "sources"),
    **dict.fromkeys(("ReplaySource",), "replay"),
    **dict.fromkeys(("context",), "defaults"),
    **dict.fromkeys(("mac_accumulator",), "linalg"),
    **dict.fromkeys(("dot", "matmul", "quantize"), "front"),  # Registers or block registers
    **dict.fromkeys(("convert",), "ops"),
    "Registers": "operators",  # emu.registers' class, with the arithmetic plugged in
}
__all__ = sorted(_EXPORTS)

# names that make or take Registers bring the operators along (emu.registers is only a container)
__getattr__, __dir__ = exports(
    __name__, _EXPORTS, loads=dict.fromkeys(("arith", "blocks", "front", "linalg", "ops"), "operators"))

if TYPE_CHECKING:  # what static tools and IDEs see
    from .arith import (  # noqa: F401
        abs_,
        add,
        compare,
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
    from .blockformats import BlockFormat, block_format  # noqa: F401
    from .blocks import BlockRegisters  # noqa: F401
    from .defaults import context  # noqa: F401
    from .formats import FixedFormat, FloatFormat, ScaleFormat, format  # noqa: F401
    from .front import dot, matmul, quantize  # noqa: F401
    from .lfsr import LFSR, AmdPrng  # noqa: F401
    from .linalg import mac_accumulator  # noqa: F401
    from .ops import convert  # noqa: F401
    from .profiles import Profile  # noqa: F401
    from .registers import Registers  # noqa: F401
    from .replay import ReplaySource  # noqa: F401
    from .rounding import Rounding  # noqa: F401
    from .sources import RandomSource  # noqa: F401
