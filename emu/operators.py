"""Registers with their operators: ``+ - *`` and unary ``-``, ``abs``, ``< <= > >=`` are emu.arith's
functions with the context's defaults, ``@`` is emu.matmul with its defaults (docs/semantics.md
§8-9). emu.registers is a plain container below the arithmetic; importing this module plugs the
arithmetic in, and ``import emu`` does so with ``emu.Registers`` and every arithmetic name.
"""

from __future__ import annotations

from . import arith, linalg
from .registers import Registers, install

install(add=arith.add, sub=arith.sub, mul=arith.mul, neg=arith.neg, abs=arith.abs_, lt=arith.lt,
        le=arith.le, gt=arith.gt, ge=arith.ge, matmul=linalg.matmul)

__all__ = ["Registers"]
