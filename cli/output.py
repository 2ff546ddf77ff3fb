"""What every command prints: strict JSON, and progress bars only where a person watches."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click

from emu.jsonfile import dumps  # noqa: F401 - the one strict JSON writer, re-exported


def echo_json(obj) -> None:
    click.echo(dumps(obj))


@contextlib.contextmanager
def progress(length: int, label: str, quiet: bool = False) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(done)``: a progress bar on stderr when it is a terminal and not
    ``quiet`` (--json), else nothing at all, so piped output stays clean."""
    if quiet or length <= 0 or not sys.stderr.isatty():
        yield lambda done: None
        return
    with click.progressbar(length=length, label=label, file=sys.stderr, show_pos=True,
                           show_eta=True) as bar:
        def advance(done: int) -> None:
            bar.update(done - bar.pos)

        yield advance


def check_writable(path: str | Path) -> None:
    """Refuse (exit 2), before any work, a file path whose directory is missing or read-only."""
    parent = Path(path).resolve().parent
    if not parent.is_dir():
        raise click.UsageError(f"{path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise click.UsageError(f"{path}: directory {parent} is not writable")
    if Path(path).is_dir():
        raise click.UsageError(f"{path} is a directory; give a file name")


def status(quiet: bool = False) -> Callable[[str], None]:
    """``say(text)``: a line on stderr when it is a terminal and not ``quiet`` (--json), for
    work whose steps have names rather than a count (bench jobs); else nothing."""
    if quiet or not sys.stderr.isatty():
        return lambda text: None
    return lambda text: click.echo(f"... {text}", err=True)
