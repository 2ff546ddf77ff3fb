"""Codes as $readmemh / $readmemb text: the one word writer (fixed width, zero-padded, lowercase
hex or 0/1 digits, one word per line, an optional leading ``//`` comment and ``@address``
line; docs/semantics.md §10.4). Its reader is emu.golden.hexio."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

DIGIT_BITS = {"hex": 4, "bin": 1}  # bits per digit of each radix ($readmemh, $readmemb)


def check_radix(radix: object) -> str:
    """``radix`` if it is hex or bin, else a ValueError listing them."""
    if radix not in DIGIT_BITS:
        raise ValueError(f"unknown radix {radix!r}; valid: {', '.join(DIGIT_BITS)}")
    return radix  # type: ignore[return-value]


def digit_width(bits: int, radix: str = "hex") -> int:
    """Digits of a fixed-width ``bits``-bit word in ``radix``: ceil(bits/4) hex, ``bits`` binary."""
    return -(-bits // DIGIT_BITS[radix])


def hex_width(bits: int) -> int:
    return digit_width(bits, "hex")


def format_word(code: int, bits: int, radix: str = "hex") -> str:
    """One word as written: fixed width, zero-padded, lowercase hex or 0/1 digits (§10.4)."""
    return f"{int(code):0{digit_width(bits, radix)}{'x' if radix == 'hex' else 'b'}}"


def vector_file(words: Iterable[str], comment: str | None = None, address: int | None = None) -> str:
    """The text of a vector file: a leading ``// comment`` and an ``@address`` line (hexadecimal
    in both radixes, IEEE 1364-2005 17.2.9) when given, then one word a line. Every vector file
    emu writes is assembled here."""
    head = [f"// {comment}"] if comment else []
    if address is not None:
        head.append(f"@{address:x}")
    return "\n".join([*head, *words]) + "\n"


def format_words(values: np.ndarray, bits: int, radix: str = "hex", comment: str | None = None,
                 address: int | None = None) -> str:
    """The text of a $readmemh (``radix`` hex) or $readmemb (bin) file of ``values`` (unsigned,
    each < 2**bits): see vector_file and format_word."""
    check_radix(radix)
    return vector_file((format_word(v, bits, radix) for v in np.asarray(values).reshape(-1).tolist()),
                       comment, address)


def format_hex(values: np.ndarray, bits: int, comment: str | None = None) -> str:
    """The text of a $readmemh file for ``values`` (unsigned, each < 2**bits)."""
    return format_words(values, bits, "hex", comment)
