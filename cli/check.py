"""``emu check``: compare a device dump with a golden set."""

from __future__ import annotations

import json
import sys

import click


@click.command("check")
@click.argument("set_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("dumps", nargs=-1, required=True, type=click.Path())
@click.option("--first", default=10, show_default=True, help="Mismatches to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def check_cmd(set_dir, dumps, first, as_json) -> None:
    """Compare a device dump (hex per port, packed, or CSV) with a golden set; exit 1 on mismatch."""
    from emu.golden import DumpError, check

    try:
        res = check(set_dir, list(dumps))
    except (DumpError, ValueError) as err:
        raise click.UsageError(str(err)) from None
    if as_json:
        click.echo(json.dumps(res.to_json(first), indent=2))
    else:
        click.echo(f"{res.set_dir}: {res.total} vectors, {len(res.mismatches)} mismatches"
                   + ("" if res.ok else " (" + ", ".join(
                       f"{k}: {v}" for k, v in sorted(res.by_class.items())) + ")"))
        for m in res.mismatches[:first]:
            ins = " ".join(f"{k}={v['hex']}" + (f" ({v['value']!r})" if "value" in v else "")
                           for k, v in m["inputs"].items())
            click.echo(f"  #{m['index']} [{m['class']}] {ins}")
            for name, v in m.items():
                if isinstance(v, dict) and "expected" in v:
                    e, a = v["expected"], v["actual"]
                    ul = f", {v['ulps']} ulp" if v.get("ulps") is not None else ""
                    click.echo(f"      {name}: expected {e['hex']} {e.get('fields', '')} "
                               f"{e.get('value', '')!r}  actual {a['hex']} {a.get('fields', '')} "
                               f"{a.get('value', '')!r}{ul}")
        for note in res.diagnosis:
            click.echo(f"  diagnosis: {note}")
    sys.exit(0 if res.ok else 1)
