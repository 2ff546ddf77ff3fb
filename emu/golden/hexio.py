"""$readmemh files: the one hex writer and reader (DESIGN Part B, "Golden vectors").

One word per line, fixed-width zero-padded lowercase hex, no x/z, an optional leading ``//``
comment line. Files are written atomically (temp file + rename).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np


class DumpError(ValueError):
    """A malformed vector file or dump; the message names the file and line."""


def hex_width(bits: int) -> int:
    return (bits + 3) // 4


def format_hex(values: np.ndarray, bits: int, comment: str | None = None) -> str:
    """The text of a $readmemh file for ``values`` (unsigned, each < 2**bits)."""
    w = hex_width(bits)
    lines = [f"// {comment}"] if comment else []
    lines += [f"{int(v):0{w}x}" for v in np.asarray(values).reshape(-1).tolist()]
    return "\n".join(lines) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file in the same directory and a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def parse_hex(text: str, bits: int, name: str, count: int | None = None) -> np.ndarray:
    """Parse $readmemh text of ``bits``-wide words. Errors name the file and line: x/z digits,
    non-hex characters, words wider than the port, too few or too many lines."""
    w = hex_width(bits)
    out = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("//", 1)[0].strip()
        if not line:
            continue
        if line.startswith("@"):
            raise DumpError(f"{name}, line {lineno}: address directives (@) are not supported")
        for tok in line.split():
            low = tok.lower().replace("_", "")
            if any(c in "xz?" for c in low):
                raise DumpError(f"{name}, line {lineno}: {tok!r} has x/z digits (an unknown value)")
            try:
                v = int(low, 16)
            except ValueError:
                raise DumpError(f"{name}, line {lineno}: {tok!r} is not a hex word") from None
            if len(low) > w and v >> bits:
                raise DumpError(f"{name}, line {lineno}: {tok!r} is wider than {bits} bits")
            if v >> bits:
                raise DumpError(f"{name}, line {lineno}: {tok!r} does not fit {bits} bits")
            out.append(v)
    if count is not None and len(out) != count:
        what = "too few" if len(out) < count else "too many"
        raise DumpError(f"{name}: {what} words: {len(out)} lines, expected {count}")
    return np.array(out, dtype=np.uint64)


def read_hex(path: Path, bits: int, count: int | None = None) -> np.ndarray:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise DumpError(f"{path}: {err.strerror}") from None
    return parse_hex(text, bits, str(path), count)
