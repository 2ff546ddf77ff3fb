"""$readmemh and $readmemb files: the one word writer and the one streaming reader (DESIGN Part B,
"Golden vectors"; docs/semantics.md §10.4 and §10.7).

Written files: an optional leading ``//`` comment, an optional ``@address`` line (hexadecimal in
both radixes), then one word per line, fixed width and zero-padded: lowercase hex digits
(radix ``hex``, $readmemh) or ``0``/``1`` digits (radix ``bin``, $readmemb); written
atomically (temp file + rename).

Read files follow the $readmemh / $readmemb grammar (IEEE 1364-2005 17.2.9), in the radix the
caller names (never guessed: ``0101`` is a valid hex word):
- words are digits of the radix (hex: 0-9, a-f, A-F; bin: 0, 1) separated by white space,
  several per line allowed; ``_`` after the first digit is a digit separator: the word without
  it is the value, which must fit the port's width. x/z digits, signs, ``0x`` prefixes and
  non-ASCII characters (full-width digits, ...) are refused;
- ``//`` comments run to the end of the line, ``/* ... */`` comments may span lines;
- ``@hex`` (hexadecimal in both radixes) sets the address of the next word: the vector index
  plus the set's base address (0 unless the set says otherwise). An address outside the set, a
  vector given two words, or a vector left without one is an error naming the line;
- a UTF-8 byte-order mark and CRLF line endings are accepted; NUL bytes and lines longer than
  MAX_LINE bytes are errors.
In a packed file a word is the fields of one vector joined by ``_`` (there ``_`` separates
fields). Reading streams the file once, in chunks: memory is the output array plus one chunk,
and reading stops at the first word past the expected count.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..hexwords import (  # noqa: F401 - the one writer, re-exported
    DIGIT_BITS,
    check_radix,
    digit_width,
    format_hex,
    format_word,
    format_words,
    hex_width,
    vector_file,
)
from ..outdir import write_atomic  # noqa: F401 - re-exported
from .layouts import EXTENSIONS, RADIXES

MAX_LINE = 4096  # bytes in one line, newline excluded
CHUNK = 1 << 20  # bytes read at a time
EXCERPT = 40  # characters of a bad token quoted in an error
_BOM = b"\xef\xbb\xbf"
_BASE = {"hex": 16, "bin": 2}
_WORD_BYTES = {"hex": b"0123456789abcdefABCDEF_", "bin": b"01_"}
_DIGIT = {r: np.full(256, 255, np.uint8) for r in RADIXES}  # ASCII digit -> value, else 255
for _i, _c in enumerate(b"0123456789abcdef"):
    _DIGIT["hex"][_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _DIGIT["hex"][_c] = 10 + _i
_DIGIT["bin"][ord("0")], _DIGIT["bin"][ord("1")] = 0, 1
# how messages name a radix: (system task, its words, its digits)
_NAMES = {"hex": ("$readmemh", "hex", "0-9, a-f, A-F"), "bin": ("$readmemb", "binary", "0 and 1")}
_MAX_JUMPS = 1 << 20  # address jumps remembered per window (to name the line of a hole)


class DumpError(ValueError):
    """A malformed vector file or dump; the message names the file and line."""


# --- words ------------------------------------------------------------------------------------
def extension(radix: str) -> str:
    """The file name extension of a set's files in ``radix``: .hex ($readmemh) or .bin ($readmemb)."""
    return EXTENSIONS[radix]


def quote(token: bytes | str) -> str:
    """A short printable excerpt of a token for an error message (never all of a long one)."""
    s = token.decode("utf-8", "backslashreplace") if isinstance(token, bytes) else token
    return repr(s[:EXCERPT]) + ("..." if len(s) > EXCERPT else "")


def _bad_word(tok: bytes, where: str, radix: str, other: str) -> DumpError:
    task, words, digits = _NAMES[radix]
    low = tok.lower()
    if not tok:
        why = "an empty word"
    elif low.startswith((b"0x", b"0b") if radix == "bin" else b"0x") and len(tok) > 2:
        why = f"has a {tok[:2].decode()} prefix ({task} words are bare {words} digits)"
    elif tok[:1] == b"_":
        why = "starts with _ (a digit separator must follow a digit)"
    elif any(c in b"xz?" for c in low):
        why = "has x/z digits (an unknown value)"
    elif tok[:1] in (b"+", b"-"):
        why = f"has a sign (words are unsigned {words})"
    elif any(c >= 0x80 for c in tok):
        ch = next(c for c in tok.decode("utf-8", "replace") if ord(c) >= 0x80)
        why = f"has the non-ASCII character {ch!r} ({words} digits are {digits})"
    else:
        why = f"is not a {words} word ({words} digits are {digits})"
        if other and radix == "bin" and not tok.translate(None, _WORD_BYTES["hex"]):
            why += other  # hex digits in a binary dump: its radix was named wrong
    return DumpError(f"{where}: {quote(tok)} {why}")


def parse_word(tok: bytes, bits: int, where: str, hint: str = "", radix: str = "hex",
               other: str = "") -> int:
    """One word of a $readmemh (``radix`` hex) or $readmemb (bin) file: ASCII digits of the radix
    with ``_`` separators after the first digit, the value below 2**bits. DumpError naming
    ``where`` otherwise (``int(x, 16)`` is not used on raw text: it takes signs, 0x and
    full-width digits). ``hint`` is added to a width error of a word holding ``_``; ``other`` to
    an error that suggests the dump is in the other radix."""
    if not tok or tok[0] == 95 or tok.translate(None, _WORD_BYTES[radix]):
        raise _bad_word(tok, where, radix, other)
    digits = tok.replace(b"_", b"")
    v = int(digits, _BASE[radix])
    if v >> bits:
        what = "is wider than" if len(digits) > digit_width(bits, radix) else "does not fit"
        extra = hint if b"_" in tok else ""
        if other and radix == "hex" and len(digits) == bits and not digits.translate(None, b"01"):
            extra += other  # exactly `bits` 0/1 digits: a binary dump read as hex
        raise DumpError(f"{where}: {quote(tok)} {what} {bits} bits{extra}")
    return v


@dataclass(frozen=True)
class Fields:
    """What one word of a file holds: one port's value (``_`` is a digit separator), or, packed,
    the values of several ports in order joined by ``_``. ``hint`` is added to width/field-count
    errors that suggest the other form."""

    names: tuple[str, ...]
    bits: tuple[int, ...]
    packed: bool = False
    hint: str = ""
    radix: str = "hex"  # the digits of every word: hex ($readmemh) or bin ($readmemb)
    other: str = ""  # added to errors that suggest the other radix (dumps: "use --radix ...")

    def word(self, tok: bytes, bits: int, where: str, hint: str = "") -> int:
        """One field's word in this radix."""
        return parse_word(tok, bits, where, hint, self.radix, self.other)

    def parse(self, tok: bytes, where: str) -> tuple[int, ...]:
        if not self.packed:
            return (self.word(tok, self.bits[0], where, self.hint),)
        parts = tok.split(b"_")
        if len(parts) != len(self.bits):
            raise DumpError(f"{where}: {quote(tok)} has {len(parts)} field(s), expected {len(self.bits)} "
                            f"({'_'.join(self.names)}){self.hint}")
        return tuple(self.word(p, b, where) for p, b in zip(parts, self.bits, strict=True))


# --- streaming ----------------------------------------------------------------------------------
def blocks(stream: BinaryIO, name: str) -> Iterator[tuple[int, bytes, np.ndarray]]:
    """Complete lines of ``stream``, a chunk at a time: (number of the first line, bytes ending in
    a newline, positions of the newlines). A leading BOM is dropped; NUL bytes and lines longer
    than MAX_LINE are errors, found without holding more than a chunk."""
    first, carry, started, nl = 1, b"", False, b"\n"
    while True:
        try:
            data = stream.read(CHUNK)
        except OSError as err:
            raise DumpError(f"{name}: {err.strerror or err}") from None
        buf = carry + data if carry else data
        if not started:
            if len(buf) < len(_BOM) and data:
                carry = buf
                continue
            started = True
            if buf.startswith(_BOM):
                buf = buf[len(_BOM):]
        if not data:
            if not buf:
                return
            buf += nl  # a last line without a newline
        cut = buf.rfind(nl)
        block, carry = buf[:cut + 1], buf[cut + 1:]
        if block:
            nul = block.find(b"\0")
            if nul >= 0:
                raise DumpError(f"{name}, line {first + block.count(nl, 0, nul)}: a NUL byte "
                                "(is this a binary file?)")
            ends = np.flatnonzero(np.frombuffer(block, np.uint8) == 10)
            long = np.flatnonzero(np.diff(ends, prepend=-1) - 1 > MAX_LINE)
            if long.size:
                raise DumpError(f"{name}, line {first + int(long[0])}: longer than {MAX_LINE} bytes")
            yield first, block, ends
            first += ends.size
        if not data:
            return
        if len(carry) > MAX_LINE:
            if b"\0" in carry:
                raise DumpError(f"{name}, line {first}: a NUL byte (is this a binary file?)")
            raise DumpError(f"{name}, line {first}: longer than {MAX_LINE} bytes")


def text_lines(stream: BinaryIO, name: str) -> Iterator[tuple[int, bytes]]:
    """(line number, line without its line ending) for every line of ``stream`` (see blocks)."""
    for first, block, ends in blocks(stream, name):
        start = 0
        for n, end in enumerate(ends.tolist()):
            line = block[start:end]
            yield first + n, line[:-1] if line.endswith(b"\r") else line
            start = end + 1


class _Lexer:
    """The general path: one line at a time, every rule of the grammar."""

    def __init__(self, name: str, fields: Fields):
        self.name, self.fields = name, fields
        self.comment = 0  # line where the open /* comment began; 0: none open
        self.vals: list = []  # ints (one field) or tuples (packed)
        self.lines: list[int] = []
        self.events: list[tuple] = []

    def _pack(self) -> None:
        """Pending words become one event."""
        if self.vals:
            self.events.append(("w", np.array(self.vals, np.uint64).reshape(len(self.vals), -1),
                                np.array(self.lines, np.int64)))
            self.vals, self.lines = [], []

    def flush(self) -> list[tuple]:
        """Every event so far, in order (the caller yields them)."""
        self._pack()
        out, self.events = self.events, []
        return out

    def line(self, text: bytes, lineno: int) -> None:
        if not self.comment and b"/" not in text:  # the common case: no comment on this line
            toks = text.split()
            if toks:
                self.tokens(toks, lineno)
            return
        i, n = 0, len(text)
        while i < n:
            if self.comment:
                j = text.find(b"*/", i)
                if j < 0:
                    return
                self.comment, i = 0, j + 2
                continue
            j1, j2 = text.find(b"//", i), text.find(b"/*", i)
            j = min(x for x in (j1, j2, n) if x >= 0)
            toks = text[i:j].split()
            if toks:
                self.tokens(toks, lineno)
            if j == n or j == j1:
                return
            self.comment, i = lineno, j + 2

    def tokens(self, toks: list[bytes], lineno: int) -> None:
        where = f"{self.name}, line {lineno}"
        f = self.fields
        for tok in toks:
            if tok[0] == 64:  # @address
                try:
                    addr = parse_word(tok[1:], 64, where)
                except DumpError:
                    raise DumpError(f"{where}: {quote(tok)} is not an address (@ and hex digits)") from None
                self._pack()
                self.events.append(("@", addr, lineno))
            else:
                self.vals.append(f.parse(tok, where) if f.packed else f.word(tok, f.bits[0], where, f.hint))
                self.lines.append(lineno)


def scan(stream: BinaryIO, name: str, fields: Fields) -> Iterator[tuple]:
    """The events of a $readmemh / $readmemb stream (``fields.radix``), in order: ("@", address,
    line) and ("w", words, lines) with words a (n, len(fields.bits)) uint64 array and lines the
    line of the first word (an int: one word per line from there) or an array of each word's
    line. Lines that are exactly one fixed-width word are parsed in bulk with numpy; every other
    line takes the general path."""
    lex = _Lexer(name, fields)
    table, step = _DIGIT[fields.radix], np.uint64(DIGIT_BITS[fields.radix])
    widths = [digit_width(b, fields.radix) for b in fields.bits]
    span = sum(widths) + len(widths) - 1
    col0 = np.cumsum([0] + [w + 1 for w in widths])[:-1]
    digit_cols = np.concatenate([np.arange(c, c + w) for c, w in zip(col0, widths, strict=True)])
    sep_cols = (col0 + np.array(widths))[:-1]
    for first, block, ends in blocks(stream, name):
        arr = np.frombuffer(block, np.uint8)
        starts = np.empty_like(ends)
        starts[:1] = 0
        starts[1:] = ends[:-1] + 1
        lens = ends - starts
        cr = np.zeros(lens.size, bool)
        cr[lens > 0] = arr[ends[lens > 0] - 1] == 13
        cand = np.flatnonzero(lens - cr == span)
        chars = arr[starts[cand, None] + np.arange(span)]
        nib = table[chars]
        ok = (nib[:, digit_cols] != 255).all(axis=1) & (chars[:, sep_cols] == 95).all(axis=1)
        vals = np.zeros((cand.size, len(widths)), np.uint64)
        for f, (c, w, b) in enumerate(zip(col0, widths, fields.bits, strict=True)):
            v = np.zeros(cand.size, np.uint64)
            for k in range(w):
                v = (v << step) | nib[:, c + k].astype(np.uint64)
            if b < 64:
                ok &= (v >> np.uint64(b)) == 0
            vals[:, f] = v
        good = np.zeros(ends.size, bool)
        good[cand[ok]] = True
        vals = vals[ok]
        bad = np.flatnonzero(~good).tolist()
        bad.append(ends.size)
        starts_l, ends_l = (starts.tolist(), ends.tolist()) if len(bad) > 64 else (starts, ends)
        r = g = 0
        for b in bad:
            if b > r:  # rows r..b-1 are one fixed-width word each (inside a comment: ignored)
                if not lex.comment:
                    yield from lex.flush()
                    yield ("w", vals[g:g + b - r], first + r)
                g += b - r
            if b < ends.size:
                lex.line(block[starts_l[b]:ends_l[b]], first + b)
            r = b + 1
        yield from lex.flush()
    if lex.comment:
        raise DumpError(f"{name}, line {lex.comment}: unterminated /* comment")


def _line_of(lines, i: int) -> int:
    return lines + i if isinstance(lines, int) else int(lines[i])


class Placer:
    """Puts the words of a stream at their addresses into consecutive windows of ``sizes``
    vectors (one window: a whole set; one per shard: a sharded set). A window is handed out when
    the stream has moved past it or ended, with every vector in it given exactly one word;
    an address may not go back into a window already handed out. Vector i has address
    ``base + i`` (the set's base address, §10.4)."""

    def __init__(self, name: str, sizes: Iterable[int], nfields: int, base: int = 0):
        self.name, self.sizes, self.nf, self.base = name, list(sizes), nfields, base
        self.total = sum(self.sizes)
        self.k = self.lo = self.pos = self.nwords = 0
        self.addressed = False
        self._open()

    def _open(self) -> None:
        n = self.sizes[self.k] if self.k < len(self.sizes) else 0
        self.hi = self.lo + n
        self.buf = np.zeros((n, self.nf), np.uint64)
        self.written = np.zeros(n, bool)
        self.jumps: list[tuple[int, int, int]] = []  # (line, from, to) of forward jumps

    def _close(self, line: int | None = None) -> np.ndarray:
        missing = np.flatnonzero(~self.written)
        if missing.size:
            g = self.lo + int(missing[0])
            culprit = next((ln for ln, a, b in self.jumps if a <= g < b), line)
            if culprit is not None:
                raise DumpError(f"{self.name}, line {culprit}: this address leaves vector {g} without a word")
            if self.addressed:
                raise DumpError(f"{self.name}: too few words: vector {g} has none "
                                f"({self.total} expected)")
            raise DumpError(f"{self.name}: too few words: {self.nwords} words, expected {self.total}")
        out = self.buf
        self.lo, self.k = self.hi, self.k + 1
        self._open()
        return out

    def address(self, addr: int, line: int) -> list[np.ndarray]:
        self.addressed = True
        span = f"(the set has {self.total} vectors, @{self.base:x}..@{self.base + max(self.total - 1, 0):x})"
        if addr < self.base:
            raise DumpError(f"{self.name}, line {line}: address @{addr:x} is before the first vector {span}")
        a = addr - self.base
        if a >= self.total:
            raise DumpError(f"{self.name}, line {line}: address @{addr:x} is beyond the last vector {span}")
        if a < self.lo:
            raise DumpError(f"{self.name}, line {line}: address @{addr:x} goes back before vector "
                            f"{self.lo}, into a shard already compared (in a dump of a whole "
                            "sharded set, addresses may not go back to an earlier shard)")
        done = []
        while a >= self.hi:
            done.append(self._close(line))
        start = max(self.pos, self.lo)
        if a > start and len(self.jumps) < _MAX_JUMPS:
            self.jumps.append((line, start, a))
        self.pos = a
        return done

    def words(self, vals: np.ndarray, lines) -> list[np.ndarray]:
        done, i, n = [], 0, len(vals)
        while i < n:
            if self.pos >= self.total:
                raise DumpError(f"{self.name}, line {_line_of(lines, i)}: too many words: more than "
                                f"the {self.total} expected")
            while self.pos >= self.hi:
                done.append(self._close())
            m = min(n - i, self.hi - self.pos)
            a = self.pos - self.lo
            seg = self.written[a:a + m]
            if self.addressed and seg.any():
                j = int(np.argmax(seg))
                raise DumpError(f"{self.name}, line {_line_of(lines, i + j)}: a second word for vector "
                                f"{self.pos + j} (an address went back over words already given)")
            self.buf[a:a + m] = vals[i:i + m]
            seg[:] = True
            self.pos, self.nwords, i = self.pos + m, self.nwords + m, i + m
        return done

    def finish(self) -> list[np.ndarray]:
        done = []
        while self.k < len(self.sizes):
            done.append(self._close())
        return done


def place(events: Iterable[tuple], name: str, sizes: Iterable[int], nfields: int,
          base: int = 0) -> Iterator[np.ndarray]:
    """Windows (n_k, nfields) of the words that ``events`` (see scan) put at their addresses
    (vector i at address ``base + i``)."""
    placer = Placer(name, sizes, nfields, base)
    for kind, a, b in events:
        yield from placer.address(a, b) if kind == "@" else placer.words(a, b)
    yield from placer.finish()


def read_words(stream: BinaryIO, name: str, fields: Fields, count: int | None,
               base: int = 0) -> np.ndarray:
    """All ``count`` words of a stream as a (count, len(fields.bits)) uint64 array, vector i at
    address ``base + i``. ``count`` None: as many as the file gives (its events are held in
    memory to learn the count)."""
    events: Iterable[tuple] = scan(stream, name, fields)
    if count is None:
        events = list(events)
        pos = count = 0
        for kind, a, _ in events:
            pos = max(a - base, 0) if kind == "@" else pos + len(a)
            count = max(count, pos) if kind == "w" else count
    (words,) = place(events, name, [count], len(fields.bits), base)
    return words


def parse_hex(text: str, bits: int, name: str, count: int | None = None, radix: str = "hex",
              base: int = 0) -> np.ndarray:
    """Parse $readmemh (``radix`` bin: $readmemb) text of ``bits``-wide words (the module's
    grammar). Errors name the file and line: x/z digits, characters outside the radix, words
    wider than the port, too few or too many."""
    stream = io.BytesIO(text.encode("utf-8"))
    return read_words(stream, name, Fields(("word",), (bits,), radix=check_radix(radix)), count,
                      base).reshape(-1)


def read_hex(path: Path | str, bits: int, count: int | None = None, radix: str = "hex",
             base: int = 0) -> np.ndarray:
    """The words of a $readmemh (``radix`` bin: $readmemb) file, read once, streamed."""
    fields = Fields(("word",), (bits,), radix=check_radix(radix))
    try:
        with open(path, "rb") as f:
            return read_words(f, str(path), fields, count, base).reshape(-1)
    except OSError as err:
        raise DumpError(f"{path}: {err.strerror or err}") from None
