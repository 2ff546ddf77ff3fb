"""Helpers shared by the ``emu`` subcommands: option parsing, value files, threads, plots."""

from __future__ import annotations

import functools
from pathlib import Path

import click

import emu


def format_option(name: str):
    try:
        return emu.format(name)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="'--format'") from None


def _is_number(token: str) -> bool:
    from emu import exact

    try:
        exact.parse_number(token)
    except ValueError:
        return False
    return True


def value_option(token: str) -> str:
    """A typed value, kept as text so it is rounded from its exact value (emu.exact)."""
    from emu import exact

    if not _is_number(token):
        raise click.BadParameter(f"{token!r} is not a number ({exact.NUMBER_SYNTAX})",
                                 param_hint="VALUES")
    return token


class ValuesCommand(click.Command):
    """A command whose VALUES may be negative numbers typed without ``--`` (``-1.5``, ``-inf``,
    ``-0x1.fp3``): before click parses, every positional token (a token not starting with '-',
    or a number) moves, in order, behind a ``--``; options, their values (``--direction -1``)
    and unknown options (``--bogus``, still an error) stay in front."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        takes_value = {o for p in self.get_params(ctx) if isinstance(p, click.Option)
                       and not p.is_flag and not p.count for o in p.opts}
        front: list[str] = []
        values: list[str] = []
        i = 0
        while i < len(args):
            a = args[i]
            if a == "--":
                values.extend(args[i + 1:])
                break
            if a.startswith("-") and len(a) > 1 and not _is_number(a):
                front.append(a)
                if a in takes_value and i + 1 < len(args):
                    front.append(args[i + 1])
                    i += 1
            else:
                values.append(a)
            i += 1
        return super().parse_args(ctx, front + (["--", *values] if values else []))


CHUNK = 1 << 16  # values per block: memory stays bounded whatever the input's size


def _spool(path: str) -> Path:
    """A pipe, FIFO or standard input ('-') copied once into a private temporary file, removed
    at exit: the values are read twice (check, then print), and a pipe can be read only once."""
    import atexit
    import os
    import shutil
    import sys
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix="emu-input-", suffix=Path(path).suffix if path != "-" else "")
    atexit.register(lambda: os.path.exists(tmp) and os.unlink(tmp))
    with os.fdopen(fd, "wb") as out:
        if path == "-":
            shutil.copyfileobj(sys.stdin.buffer, out)
        else:
            with open(path, "rb") as src:
                shutil.copyfileobj(src, out)
    return Path(tmp)


class ValueSource:
    """The values of ``emu quantize``: typed VALUES, then an --input file, read in blocks of
    about CHUNK values (``blocks()`` can be called again: the second pass prints what the first
    checked). Text files: numbers (emu.exact.NUMBER_SYNTAX) separated by blanks or commas, '#'
    and '//' start comments; tokens stay text, so decimals are exact. .npy files: float or
    integer arrays, read through a memory map; integers stay integers (exact beyond 2**53)."""

    def __init__(self, typed: list[str], path: str | None):
        import numpy as np

        self.typed, self.path = typed, path
        self.file = path  # what is read (a spooled copy of a pipe; see _spool)
        self.npy = None
        if path is not None:
            p = Path(path)
            try:
                if path == "-" or (p.exists() and not p.is_file()):
                    self.file = p = _spool(path)
                if p.suffix == ".npy":
                    self.npy = np.load(p, mmap_mode="r", allow_pickle=False)
                else:
                    p.open("rb").close()
            except (OSError, ValueError) as err:
                raise click.BadParameter(f"{path}: {err}", param_hint="'--input'") from None
            if self.npy is not None and (self.npy.dtype.kind not in "fiu" or self.npy.dtype.itemsize > 8):
                raise click.BadParameter(f"{path}: holds {self.npy.dtype} values, not numbers",
                                         param_hint="'--input'")

    def blocks(self):
        import numpy as np

        """Yield (values, where): values a numeric array or an object array of number strings;
        ``where(i)`` says where value i of the block came from (for error messages)."""
        if self.typed:
            yield np.array(self.typed, dtype=object), lambda i: f"VALUES[{i}]"
        if self.path is None:
            return
        if self.npy is not None:
            flat = self.npy.reshape(-1)
            for a in range(0, flat.size, CHUNK):
                yield np.array(flat[a:a + CHUNK]), lambda i, a=a: f"{self.path}, element {a + i}"
            return
        try:
            with open(self.file, encoding="utf-8", errors="replace") as f:
                lineno = 0
                tokens: list[str] = []
                lines: list[int] = []
                for line in f:
                    lineno += 1
                    if "#" in line or "//" in line:
                        line = line.split("#", 1)[0].split("//", 1)[0]
                    toks = line.replace(",", " ").split()
                    if toks:
                        tokens += toks
                        lines += [lineno] * len(toks)
                    if len(tokens) >= CHUNK:
                        yield self._text_block(tokens, lines)
                        tokens, lines = [], []
                if tokens:
                    yield self._text_block(tokens, lines)
        except OSError as err:
            raise click.BadParameter(f"{self.path}: {err}", param_hint="'--input'") from None

    def _text_block(self, tokens: list[str], lines: list[int]):
        import numpy as np

        return np.array(tokens, dtype=object), lambda i: f"{self.path}, line {lines[i]}"


def check_values(values, where) -> None:
    """Usage error (exit 2) naming the first token of a block that is not a number."""
    from emu import exact

    if values.dtype != object:
        return
    for i, tok in enumerate(values.tolist()):
        if not _is_number(tok):
            raise click.BadParameter(f"{where(i)}: {tok!r} is not a number ({exact.NUMBER_SYNTAX})",
                                     param_hint="'--input'" if not where(i).startswith("VALUES")
                                     else "VALUES")


def threaded(cmd):
    """Add ``--threads N`` (default: every core) and run the command inside
    ``emu.context(threads=N)``; results never depend on N (see emu.parallel)."""

    @functools.wraps(cmd)
    def run(*args, threads, **kwargs):
        with emu.context(threads=threads):
            return cmd(*args, **kwargs)

    return click.option("--threads", type=click.IntRange(min=1), default=None,
                        help="Kernel threads [default: every core]; results never depend on it.")(run)


def pyplot():
    """matplotlib.pyplot (emu.train.plots loads it), or a usage error saying how to install it."""
    from emu.train.plots import pyplot as load

    try:
        return load()
    except ImportError:
        raise click.UsageError("--plot needs matplotlib: pip install 'emu-arith[plot]'") from None


def lfsr_options(cmd, seed_aliases: tuple[str, ...] = ()):
    """The LFSR's parameters as options (verilog-lfsr semantics, docs/semantics.md §7.2):
    --lfsr-seed, --lfsr-width, --lfsr-poly, --lfsr-config, --lfsr-shifts, --lfsr-lanes,
    --lfsr-reverse, --lfsr-invert (one set of names for every command that draws)."""
    for deco in reversed([
        click.option("--lfsr-seed", *seed_aliases, "lfsr_seed", default=1, show_default=True,
                     help="LFSR start state (lane 0; other lanes derive from it)."),
        click.option("--lfsr-width", default=32, show_default=True, help="LFSR state width W."),
        click.option("--lfsr-poly", default=None,
                     help="LFSR polynomial word (hex ok) [default: XAPP052 table for W]."),
        click.option("--lfsr-config", type=click.Choice(["fibonacci", "galois"]), default="fibonacci",
                     show_default=True),
        click.option("--lfsr-shifts", type=int, default=None,
                     help="Shifts per draw D [default: the random bits r]."),
        click.option("--lfsr-lanes", default=1, show_default=True, help="Independent LFSR lanes."),
        click.option("--lfsr-reverse", is_flag=True, help="Bit-reverse state and words."),
        click.option("--lfsr-invert", is_flag=True, help="Complement the words."),
    ]):
        cmd = deco(cmd)
    return cmd


def parse_poly(text: str | None) -> int | None:
    """An --lfsr-poly value: decimal or 0x hex; ValueError naming the option otherwise."""
    if text is None:
        return None
    try:
        return int(text, 0)
    except ValueError:
        raise ValueError(f"--lfsr-poly {text!r} is not a whole number (decimal or 0x hex)") from None


def refuse_unused(ctx: click.Context, reasons: dict[str, str | None]) -> None:
    """An option given on the command line that the command will not use is an error, not
    silently ignored: ``reasons`` maps a parameter to why it does not apply (None: it does)."""
    for name, why in reasons.items():
        if why and ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE:
            opt = next(p.opts[0] for p in ctx.command.params if p.name == name)
            raise click.UsageError(f"{opt} {why}")


def dask_options(what: str):
    """--scheduler, --workers and --local for a command that runs ``what`` on Dask."""
    def add(cmd):
        for deco in reversed([
            click.option("--scheduler", default=None,
                         help=f"Run {what} on a running Dask scheduler, tcp:// or tls://HOST:PORT "
                         "(tls: credentials from DASK_DISTRIBUTED__COMM__TLS__CA_FILE, "
                         "__CLIENT__CERT, __CLIENT__KEY)."),
            click.option("--workers", type=click.IntRange(min=1), default=None,
                         help="Local Dask cluster: worker processes [default: one per core]."),
            click.option("--local", "in_process", is_flag=True,
                         help=f"No Dask: run {what} one by one in this process."),
        ]):
            cmd = deco(cmd)
        return cmd
    return add
