"""Helpers shared by the ``emu`` subcommands: option parsing, value files, threads, plots."""

from __future__ import annotations

import functools
from pathlib import Path

import click
import numpy as np

import emu


def format_option(name: str):
    try:
        return emu.format(name)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="'--format'") from None


def _number(token: str) -> float:
    """A decimal, inf/nan, or hex float (0x1.8p+3) token; ValueError otherwise."""
    if "0x" in token.lower():
        return float.fromhex(token)
    return float(token)


def value_option(token: str) -> float:
    try:
        return _number(token)
    except ValueError:
        raise click.BadParameter(f"{token!r} is not a number (decimal, inf, nan or hex float)",
                                 param_hint="VALUES") from None


def load_values(path: str) -> np.ndarray:
    """Values from a .npy file or a text file (numbers separated by blanks or commas; '#' and
    '//' start comments). Errors name the file and line."""
    p = Path(path)
    try:
        if p.suffix == ".npy":
            arr = np.load(p, allow_pickle=False)
        else:
            vals = []
            for lineno, line in enumerate(p.read_text().splitlines(), 1):
                body = line.split("#", 1)[0].split("//", 1)[0].replace(",", " ")
                for tok in body.split():
                    try:
                        vals.append(_number(tok))
                    except ValueError:
                        raise click.BadParameter(f"{path}, line {lineno}: {tok!r} is not a number",
                                                 param_hint="'--input'") from None
            arr = np.array(vals, np.float64)
    except (OSError, ValueError) as err:
        raise click.BadParameter(f"{path}: {err}", param_hint="'--input'") from None
    if arr.dtype.kind not in "fiu":
        raise click.BadParameter(f"{path}: holds {arr.dtype} values, not numbers",
                                 param_hint="'--input'")
    return arr.reshape(-1)


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
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise click.UsageError("--plot needs matplotlib: pip install 'emu[plot]'") from None
    return plt
