"""Device dumps for ``emu check``: which file holds which port, and reading each one once.

The layout of a dump is never guessed from its content: it is the ``layout`` asked for
(``--layout``), else ``csv`` for a single file named ``*.csv``, else the set's manifest layout.
Nor is its radix (``0101`` is a valid hex word): it is the ``radix`` asked for (``--radix``),
else the set's (hex or bin, docs/semantics.md §10.4) for $readmem files; CSV cells are hex, as in
the set's vectors.csv, unless ``radix`` says otherwise.
- ``ports``: one $readmemh / $readmemb file per output port, named ``<port>.<ext>`` or given in
  port order (a file named after an input port, or some named and some not, is refused as
  ambiguous);
- ``packed``: one file, each word the fields of every port (inputs too) joined by ``_``;
- ``csv``: one file with a header; a column per output port (required), per input port
  (optional, compared), an optional ``index`` column (the vector's index: rows may come in any
  order, like ``@`` addresses), other columns ignored.
A directory stands for ``<port>.hex`` (radix bin: ``<port>.bin``) files, ``vectors.hex``
(``vectors.bin``; packed) or ``vectors.csv`` in it. ``@`` addresses are those of the set's own
files: vector i at the set's base address + i (§10.7).
Each dump is opened once and streamed (``-`` is standard input), so pipes and process
substitutions work, and memory stays bounded whatever the dump's size.
"""

from __future__ import annotations

import contextlib
import csv
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .hexio import DumpError, Fields, extension, place, quote, scan, text_lines
from .layouts import LAYOUTS, RADIXES

_ROWS = 1 << 16  # CSV rows parsed per event
_OTHER = {"hex": "; a $readmemb dump? use --radix bin", "bin": "; a $readmemh dump? use --radix hex"}


def dir_files(layout: str, radix: str, ports: list[dict]) -> list[str]:
    """The files a directory dump holds: ``<port>.hex`` (``.bin``) per output port, one
    ``vectors.hex`` (``.bin``) packed, or ``vectors.csv``."""
    if layout == "csv":
        return ["vectors.csv"]
    if layout == "packed":
        return [f"vectors{extension(radix)}"]
    return [f"{p['name']}{extension(radix)}" for p in ports if p["direction"] == "out"]


@dataclass
class Source:
    """One dump file to read: its path ("-": standard input), its layout, the set's ports it
    may hold (ports layout: the one output port it holds; otherwise every port of the set) and
    the radix of its words."""

    path: str
    layout: str
    ports: list[dict]
    radix: str = "hex"

    def windows(self, stack: contextlib.ExitStack, sizes: list[int],
                base: int = 0) -> Iterator[dict[str, np.ndarray]]:
        """For each window of ``sizes`` vectors in order: port name -> words it holds (vector i
        at address ``base + i``)."""
        stream = open_dump(self.path, stack)
        names = [p["name"] for p in self.ports]
        packed = self.layout == "packed"
        hint = (" (one file per output port? use --layout ports)" if packed else
                " (a packed dump? use --layout packed)")
        fields = Fields(tuple(names), tuple(p["bits"] for p in self.ports), packed, hint, self.radix,
                        _OTHER[self.radix])
        if self.layout == "csv":
            names, events = _csv_events(stream, self.path, self.ports, fields)
        else:
            events = scan(stream, self.path, fields)
        for words in place(events, self.path, sizes, len(names), base):
            yield {n: words[:, i] for i, n in enumerate(names)}


def open_dump(path: str, stack: contextlib.ExitStack) -> BinaryIO:
    """Open a dump for reading, once ("-": standard input); DumpError naming it if it cannot be."""
    if path == "-":
        return sys.stdin.buffer
    try:
        return stack.enter_context(open(path, "rb"))
    except OSError as err:
        raise DumpError(f"{path}: {err.strerror or err}") from None


def _is_dir(path: str) -> bool:
    return path != "-" and os.path.isdir(path)


def plan(paths: list[str], ports: list[dict], set_layout: str, layout: str | None = None,
         radix: str | None = None, set_radix: str = "hex") -> list[Source]:
    """The sources of a dump of one set (or of a whole sharded set): see the module doc."""
    if layout is not None and layout not in LAYOUTS:
        raise DumpError(f"unknown dump layout {layout!r}; valid: {', '.join(LAYOUTS)}")
    outs = [p for p in ports if p["direction"] == "out"]
    if len(paths) == 1 and _is_dir(paths[0]):
        lay = layout or set_layout
        rad = radix or ("hex" if lay == "csv" else set_radix)
        paths = [str(Path(paths[0]) / n) for n in dir_files(lay, rad, ports)]
    else:
        lay = layout or ("csv" if len(paths) == 1 and paths[0].lower().endswith(".csv") else set_layout)
        rad = radix or ("hex" if lay == "csv" else set_radix)
    if lay != "ports":
        if len(paths) != 1:
            raise DumpError(f"a {lay} dump is one file, not {len(paths)}")
        return [Source(paths[0], lay, ports, rad)]
    return [Source(f, "ports", [p], rad) for p, f in zip(outs, _by_port(paths, ports, outs), strict=True)]


def _by_port(paths: list[str], ports: list[dict], outs: list[dict]) -> list[str]:
    """The dump file of each output port: by name when the files are named after them, in
    port order when no file is named after any port; anything in between is ambiguous."""
    want = ", ".join(p["name"] for p in outs)
    if len(set(paths)) != len(paths):
        raise DumpError(f"the same dump file is given twice; give one file per output port ({want})")
    stems = [Path(p).stem for p in paths]
    out_names = [p["name"] for p in outs]
    if sorted(stems) == sorted(out_names):
        return [paths[stems.index(n)] for n in out_names]
    named = [s for s in stems if s in {p["name"] for p in ports}]
    if named or len(paths) != len(outs):
        raise DumpError(f"give one dump file per output port ({want}), named <port>.hex (.bin) or in "
                        f"that order (got {', '.join(paths)}), a directory, a packed file (--layout "
                        "packed) or a CSV")
    return paths


def shard_dirs(paths: list[str], dirs: list[str], outs: list[dict]) -> bool:
    """Is the dump of a sharded set one directory holding a sub-directory per shard (named like
    the set's shard directories)? Refused when only some are there, or beside whole-set files."""
    if len(paths) != 1 or not _is_dir(paths[0]):
        return False
    top = Path(paths[0])
    present = [d for d in dirs if (top / d).is_dir()]
    if not present:
        return False
    missing = [d for d in dirs if d not in present]
    if missing:
        raise DumpError(f"{top}: holds shard directories but not {missing[0]}"
                        + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    names = {n for lay in LAYOUTS for r in RADIXES for n in dir_files(lay, r, outs)}
    whole = sorted(n for n in names if (top / n).exists())
    if whole:
        raise DumpError(f"{top}: holds both shard directories and {whole[0]}; give one or the other")
    return True


def _csv_events(stream: BinaryIO, path: str, ports: list[dict],
                fields: Fields) -> tuple[list[str], Iterator[tuple]]:
    """(ports the CSV holds, events as from hexio.scan): an ``index`` column gives addresses;
    each cell is one word in ``fields``' radix."""
    lines = _csv_lines(stream, path)
    reader = csv.reader(lines)
    try:
        header = [c.strip() for c in next(reader)]
    except StopIteration:
        raise DumpError(f"{path}: empty (a CSV dump needs a header line)") from None
    except csv.Error as err:
        raise DumpError(f"{path}, line 1: {err}") from None
    dup = next((c for c in header if header.count(c) > 1 and c), None)
    if dup is not None:
        raise DumpError(f"{path}, line 1: column {quote(dup)} appears twice")
    missing = [p["name"] for p in ports if p["direction"] == "out" and p["name"] not in header]
    if missing:
        raise DumpError(f"{path}, line 1: no column for output port(s) {', '.join(missing)} "
                        f"(columns: {quote(','.join(header))})")
    cols = [(header.index(p["name"]), p) for p in ports if p["name"] in header]
    index = header.index("index") if "index" in header else None

    def events() -> Iterator[tuple]:
        vals: list[tuple[int, ...]] = []
        rows: list[int] = []
        nxt = 0
        try:
            for row in reader:
                if not row:
                    continue
                ln = reader.line_num
                where = f"{path}, line {ln}"
                if len(row) != len(header):
                    raise DumpError(f"{where}: {len(row)} cell(s), the header has {len(header)}")
                if index is not None:
                    cell = row[index].strip()
                    if not (cell.isascii() and cell.isdigit()):
                        raise DumpError(f"{where}: index {quote(cell)} is not a vector index (decimal)")
                    i = int(cell)
                    if i != nxt:
                        if vals:
                            yield "w", np.array(vals, np.uint64), np.array(rows, np.int64)
                            vals, rows = [], []
                        yield "@", i, ln
                    nxt = i + 1
                else:
                    nxt += 1
                cells = []
                for c, p in cols:
                    cell = row[c].strip()
                    if not cell:
                        raise DumpError(f"{where}: empty cell for port {p['name']}")
                    cells.append(fields.word(cell.encode("utf-8", "surrogateescape"), p["bits"], where))
                vals.append(tuple(cells))
                rows.append(ln)
                if len(vals) >= _ROWS:
                    yield "w", np.array(vals, np.uint64), np.array(rows, np.int64)
                    vals, rows = [], []
        except csv.Error as err:
            raise DumpError(f"{path}, line {reader.line_num}: {err}") from None
        if vals:
            yield "w", np.array(vals, np.uint64), np.array(rows, np.int64)

    return [p["name"] for _, p in cols], events()


def _csv_lines(stream: BinaryIO, path: str) -> Iterator[str]:
    for ln, line in text_lines(stream, path):
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError:
            raise DumpError(f"{path}, line {ln}: not UTF-8 text") from None
