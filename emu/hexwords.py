"""Codes as $readmemh text: the one hex writer (fixed-width, zero-padded lowercase hex, one word
per line, an optional leading ``//`` comment). Its reader is emu.golden.hexio."""

from __future__ import annotations

import numpy as np


def hex_width(bits: int) -> int:
    return (bits + 3) // 4


def format_hex(values: np.ndarray, bits: int, comment: str | None = None) -> str:
    """The text of a $readmemh file for ``values`` (unsigned, each < 2**bits)."""
    w = hex_width(bits)
    lines = [f"// {comment}"] if comment else []
    lines += [f"{int(v):0{w}x}" for v in np.asarray(values).reshape(-1).tolist()]
    return "\n".join(lines) + "\n"
