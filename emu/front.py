"""The public ``emu.quantize``, ``emu.matmul`` and ``emu.dot``: element formats and Registers go
to emu.ops and emu.linalg, block formats and BlockRegisters to emu.blocks and emu.blockdot
(docs/semantics.md §14). Only this module knows both, so neither side imports the other's.
"""

from __future__ import annotations

import inspect

from . import blockdot, blocks, linalg, ops
from .blockformats import is_block_format

_BLOCK_QUANTIZE = {"axis": -1, "scale_rule": "floor", "tensor_scale": None}


def quantize(x, fmt, rounding="rne", *, saturate=None, overflow=None, rng=None, sr_bits=None,
             eps=None, direction=None, form=None, threads=None, return_words=False, profile=None,
             axis=-1, scale_rule="floor", tensor_scale=None):
    """emu.ops.quantize (element formats: see there), or for a block format (``"mxfp8_e4m3"``,
    ``"mxfp4"``, ``"nvfp4"``, an emu.BlockFormat, a generic name) emu.blocks.quantize, which
    returns emu.BlockRegisters and takes ``axis``, ``scale_rule`` and ``tensor_scale``
    (docs/semantics.md §14.3)."""
    options = dict(saturate=saturate, overflow=overflow, rng=rng, sr_bits=sr_bits, eps=eps,
                   direction=direction, form=form, threads=threads, return_words=return_words)
    if is_block_format(fmt):
        return blocks.quantize(x, fmt, rounding, axis=axis, scale_rule=scale_rule,
                               tensor_scale=tensor_scale, **options,
                               **({"profile": profile} if profile is not None else {}))
    given = [k for k, v in (("axis", axis), ("scale_rule", scale_rule),
                            ("tensor_scale", tensor_scale)) if v != _BLOCK_QUANTIZE[k]]
    if given:
        raise TypeError(f"{', '.join(given)}: options of block formats (emu.block_format), not "
                        f"of {fmt}")
    return ops.quantize(x, fmt, rounding, profile=profile, **options)


def matmul(a, b, acc="fp32", out=None, *, block_sum="exact", **options):
    """emu.linalg.matmul on Registers (see there), emu.blockdot.matmul on BlockRegisters
    (``block_sum`` "exact" or "products", §14.4)."""
    if isinstance(a, blocks.BlockRegisters) or isinstance(b, blocks.BlockRegisters):
        return blockdot.matmul(a, b, acc, out, block_sum=block_sum, **options)
    if block_sum != "exact":
        raise TypeError("block_sum: an option of block registers' matmul")
    return linalg.matmul(a, b, acc, out, **options)


def dot(a, b, acc="fp32", out=None, **options):
    """emu.linalg.dot on Registers, the MX dot product of two 1-D BlockRegisters (§14.4)."""
    if isinstance(a, blocks.BlockRegisters) or isinstance(b, blocks.BlockRegisters):
        return blockdot.dot(a, b, acc, out, **options)
    return linalg.dot(a, b, acc, out, **options)


# what help() and the twin test see: the element function's parameters, and block_sum
_params = list(inspect.signature(linalg.matmul).parameters.values())
matmul.__signature__ = inspect.Signature(
    _params + [inspect.Parameter("block_sum", inspect.Parameter.KEYWORD_ONLY, default="exact")])
dot.__signature__ = inspect.signature(linalg.dot)
