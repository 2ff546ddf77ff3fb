"""``emu check``: compare a device dump with a golden set (exit 0 all match, 1 mismatch, 2 bad input)."""

from __future__ import annotations

import sys

import click

from emu.golden.layouts import LAYOUTS, RADIXES

from .output import echo_json


@click.command("check")
@click.argument("set_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("dumps", nargs=-1, required=True, type=click.Path())
@click.option("--layout", type=click.Choice(LAYOUTS), default=None,
              help="How the dump is laid out: one $writememh/b file per output port, one packed file "
                   "(every port's field joined by _) or a CSV [default: csv for a .csv file, else "
                   "the set's layout].")
@click.option("--radix", type=click.Choice(RADIXES), default=None,
              help="The digits of the dump's words: hex ($writememh) or bin ($writememb) [default: "
                   "the set's radix; hex for a CSV]. Never guessed: 0101 is a valid hex word.")
@click.option("--first", default=10, show_default=True, type=click.IntRange(min=0),
              help="Mismatches to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def check_cmd(set_dir, dumps, layout, radix, first, as_json) -> None:
    """Compare a device dump with a golden set (or a whole sharded set); exit 1 on mismatch.

    DUMPS: a hex (or binary) file per output port, a directory of <port>.hex (.bin), a packed
    file, a CSV ('-' reads standard input); for a sharded set, a dump of all its vectors in
    order or a directory holding one sub-directory per shard. @address lines place words."""
    from emu.golden import check

    try:
        res = check(set_dir, list(dumps), layout=layout, keep=first, radix=radix)
    except (ValueError, MemoryError) as err:
        raise click.UsageError(str(err) or type(err).__name__) from None
    if as_json:
        echo_json(res.to_json(first))
        sys.exit(0 if res.ok else 1)
    click.echo(res.text(first))
    sys.exit(0 if res.ok else 1)
