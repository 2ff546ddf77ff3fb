"""Block-scaled formats (OCP MX, NVFP4) in the training datapath (docs/semantics.md §11).

A block format names the format of *GEMM operands*, as in the MX training recipes (Microsoft's
microxcaling ``mx.Linear``, Tseng et al. 2502.20586, Chmiel et al. 2505.19115): a tensor whose
role (weights, activations, gradients) has a block format is held in high precision (the float64
data, the parameters' master copy, a product's output in the accumulator's format) and every
product that takes it quantizes it with ``emu.quantize(values, fmt, rounding, axis=...)`` along
the product's reduction axis, once per product and axis. Its values in the product are the
BlockRegisters' exact values. Element formats keep their one rounding (Registers), whatever the
product.

``Operand`` is one such tensor; ``product_operands`` readies two for emu.matmul (two block
operands multiply as blocks, emu.blockdot; a block operand beside an element one takes part by
value, as exact carrier registers); ``train_format`` resolves a role's format name.

A format with a float block scale (NVFP4: e4m3 scales) takes NVIDIA's second-level per-tensor
fp32 scale (``tensor_scale="amax"``): without it a block whose amax / 6 lies below e4m3's
smallest subnormal (2^-9) gets the scale 0, and small gradients vanish. A product applies it
as cuBLAS's alpha (emu.blockdot): fp32(t_A * t_B) times the accumulated result, rounded once.
"""

from __future__ import annotations

import numpy as np

from ..blockdot import carried
from ..blockformats import ALIASES, NAMED_BLOCKS, BlockFormat, block_format, is_block_format
from ..blocks import BlockRegisters
from ..formats import ScaleFormat
from ..formats import format as parse_format
from ..front import quantize
from ..registers import Registers

BLOCK_NAMES = tuple(NAMED_BLOCKS)


def train_format(name: str, what: str):
    """The format a training role ``what`` names: a block format (``mxfp8_e4m3``, ``mxfp8_e5m2``,
    ``mxfp6_e3m2``, ``mxfp6_e2m3``, ``mxfp4``, ``mxint8``, ``nvfp4``; aliases ``mxfp8``,
    ``mxfp6``) as an emu.BlockFormat, else an element format (emu.format). An unknown name is an
    error listing both kinds; ``e8m0`` (a scale, no arithmetic) is refused."""
    if is_block_format(name):
        return block_format(name)
    try:
        fmt = parse_format(name)
    except ValueError as err:
        raise ValueError(f"{what} = {name!r}: not a format. Block formats: {', '.join(BLOCK_NAMES)} "
                         f"(aliases {', '.join(ALIASES)}); element formats: "
                         f"{str(err).split('; ', 1)[-1]}") from None
    if isinstance(fmt, ScaleFormat):
        hint = (f"for block-scaled {what} give a block format: {', '.join(BLOCK_NAMES)}"
                if what in ("weights", "activations", "grads") else
                f"{what} takes an element format (fp32, bf16, e4m3, ...)")
        raise ValueError(f"{what} = {name!r}: e8m0 is the MX scale format (no arithmetic); {hint}")
    return fmt


def is_block(fmt) -> bool:
    return isinstance(fmt, BlockFormat)


def tensor_scaled(fmt) -> dict:
    """emu.quantize's block options for an operand of ``fmt``: NVFP4-style formats (a float
    block scale) take the per-tensor scale from the tensor's amax; MX (e8m0) has none."""
    return {} if fmt.power_of_two_scale else {"tensor_scale": "amax"}


def transpose(r):
    """Registers or BlockRegisters transposed (a 2-D tensor): the blocks stay on their
    elements, so blocks along axis 0 become blocks along axis 1."""
    if isinstance(r, BlockRegisters):
        return BlockRegisters(np.ascontiguousarray(r.codes.T), np.ascontiguousarray(r.scales.T),
                              r.format, axis=1 - r.axis)
    return Registers(np.ascontiguousarray(r.codes.T), r.format)


class Operand:
    """One tensor of the datapath as the products take it.

    An element format: Registers, rounded once when the operand is made (``Operand.of``); every
    axis gets the same registers. A block format: high-precision values (float64, exact), and
    ``along(axis)`` quantizes them into the block format along ``axis`` with ``kw`` (quantize's
    rounding options, the run's random source for SR) when a product first asks for that axis,
    then keeps the result: a stochastic rounding draws one word per element, in the tensor's C
    order, at that point of the program."""

    __slots__ = ("fmt", "_regs", "_values", "_kw", "_along")

    def __init__(self, fmt, regs: Registers | None = None, values: np.ndarray | None = None,
                 kw: dict | None = None):
        self.fmt, self._regs, self._values, self._kw = fmt, regs, values, kw or {}
        self._along: dict = {}  # axis (or ("T", axis)) -> BlockRegisters

    @classmethod
    def of(cls, x, fmt, kw: dict) -> Operand:
        """``x`` (float64 values, or Registers whose exact values count) in role format ``fmt``:
        an element format rounds now (Registers already in ``fmt`` are kept as they are), a
        block format later, per axis."""
        if is_block(fmt):
            return cls(fmt, values=x.to_float() if isinstance(x, Registers) else np.asarray(x),
                       kw=kw)
        if isinstance(x, Registers):
            if x.format != fmt:
                raise ValueError(f"registers of {x.format.name} for an operand of {fmt.name}")
            return cls(fmt, regs=x)
        return cls(fmt, regs=quantize(x, fmt, **kw))

    def along(self, axis: int) -> Registers | BlockRegisters:
        """The operand for a product reducing over ``axis`` of this tensor."""
        if self._regs is not None:
            return self._regs
        if axis not in self._along:
            self._along[axis] = quantize(self._values, self.fmt, **self._kw, axis=axis,
                                         **tensor_scaled(self.fmt))
        return self._along[axis]

    def T(self, axis: int) -> Registers | BlockRegisters:
        """The transposed tensor for a product reducing over ``axis`` of this (untransposed)
        tensor: X^T of X^T dZ reduces over X's axis 0. The same blocks and values as
        ``along(axis)`` transposed (and the same words: a stochastic rounding draws in this
        tensor's C order)."""
        if self._regs is not None or self._kw.get("rng") is not None or axis in self._along:
            return transpose(self.along(axis))
        key = ("T", axis)
        if key not in self._along:  # deterministic: quantize the transposed values directly
            self._along[key] = quantize(np.ascontiguousarray(self._values.T), self.fmt,
                                        **self._kw, axis=1 - axis, **tensor_scaled(self.fmt))
        return self._along[key]


def product_operands(a, b) -> tuple:
    """a and b as emu.matmul takes them, and the factor alpha the accumulated product still
    needs: both block registers stay blocks (the MX dot product, emu.blockdot, which applies
    their tensor scales itself: alpha 1); one block operand beside registers becomes exact
    carrier registers (emu.blockdot.carried: scale x element, every value exact), so the
    product takes it by value, and its tensor scale (NVFP4) is alpha, as in emu.blockdot."""
    alpha = 1.0
    if isinstance(a, BlockRegisters) != isinstance(b, BlockRegisters):
        alpha = (a if isinstance(a, BlockRegisters) else b).tensor_scale
        a, b = (carried(r) if isinstance(r, BlockRegisters) else r for r in (a, b))
    return a, b, alpha


def compatible(fa, fb) -> bool:
    """Can two block formats multiply as blocks (one block size and scale format, OCP MX §6)?"""
    return fa.block_size == fb.block_size and fa.scale == fb.scale
