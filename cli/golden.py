"""``emu golden``: write a golden vector set."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import click

from emu.golden.layouts import SET_LAYOUTS
from emu.golden.spec import OPS, build_spec, check_mode_settings, op_rounding
from emu.outdir import OutputError, check_target
from emu.rounding import is_stochastic

from .common import dask_options, lfsr_options, parse_poly, refuse_unused, threaded
from .output import echo_json, progress

MAX_RANDOM = 1 << 24  # random vectors or LFSR draws in one set (each shard draws them all)


@click.command()
@click.argument("op", type=click.Choice(OPS))
@click.option("--out", "out_dir", required=True, type=click.Path(),
              help="Directory of the set: a new path, or an emu set to replace with --force.")
@click.option("--force", is_flag=True, help="Replace an existing emu vector set at --out.")
@click.option("--src", default="fp32", show_default=True, help="convert/sr: source format.")
@click.option("--dst", default=None, help="Result format (convert/sr; add/mul/fma: default --format).")
@click.option("--format", "-f", "fmt_name", default=None, help="Operand format (add/mul/fma/mac).")
@click.option("--rounding", "-r", default=None, help="Rounding mode [default: rne; sr for op sr].")
@click.option("--saturate", is_flag=True, help="Float results saturate.")
@click.option("--overflow", type=click.Choice(["wrap", "sat", "sat_sym"]), default=None)
@click.option("--inputs", default="corners,random", show_default=True,
              help="Generators, combined in order: exhaustive, random, corners.")
@click.option("--count", type=click.IntRange(1, MAX_RANDOM), default=1000, show_default=True,
              help="random: vectors; lfsr: draws.")
@click.option("--seed", default=1, show_default=True, help="random: numpy seed.")
@click.option("--sr-bits", default=8, show_default=True)
@lfsr_options
@click.option("--eps", type=float, default=None, help="sr_eps / signed_sr_eps: eps in [0, 1).")
@click.option("--direction", type=click.IntRange(-1, 1), default=None,
              help="signed_sr_eps: the favoured direction -1, 0 or +1 of every vector.")
@click.option("--k", "k_len", type=click.IntRange(min=1), default=16, show_default=True,
              help="mac: products per dot product.")
@click.option("--acc", default=None, help="mac: accumulator format [default: product + 16 guards].")
@click.option("--acc-overflow", type=click.Choice(["wrap", "sat"]), default="wrap", show_default=True)
@click.option("--out-format", default=None, help="mac: requantized output format [default: --format].")
@click.option("--layout", type=click.Choice(SET_LAYOUTS), default="ports", show_default=True)
@click.option("--shards", type=click.IntRange(min=1), default=None,
              help="Split the set into K shard directories with one top-level manifest.")
@dask_options("the shards")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"set", "count", "ports": [{name, direction, bits, format, file}], "shards"}.')
@click.pass_context
@threaded
def golden(ctx, op, out_dir, force, src, dst, fmt_name, rounding, saturate, overflow, inputs, count, seed,
           sr_bits, lfsr_seed, lfsr_width, lfsr_shifts, lfsr_lanes, lfsr_poly, lfsr_config, lfsr_reverse,
           lfsr_invert, eps, direction, k_len, acc, acc_overflow, out_format, layout, shards, scheduler,
           workers, in_process, as_json) -> None:
    """Write a golden vector set ($readmemh file per port, manifest.json, vectors.csv)."""
    from emu.golden import generate, write_set

    try:
        rounding = op_rounding(op, rounding)  # any case, or an ap_fixed name
        _check_applies(ctx, op, rounding)
        lfsr = {"width": lfsr_width, "seed": lfsr_seed, "lanes": lfsr_lanes, "config": lfsr_config,
                "shifts": lfsr_shifts or None, "reverse": lfsr_reverse, "invert": lfsr_invert,
                "poly": parse_poly(lfsr_poly)}
        spec = build_spec(op, src=src, dst=dst, fmt=fmt_name, rounding=rounding, saturate=saturate,
                          overflow=overflow, inputs=inputs, count=count, seed=seed, sr_bits=sr_bits,
                          lfsr=lfsr, eps=eps, direction=direction, k=k_len, acc=acc,
                          acc_overflow=acc_overflow, out_format=out_format, spell=_option)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    command = _command()
    if shards is None and (scheduler or workers or in_process):
        raise click.UsageError("--scheduler, --workers and --local apply to --shards K")
    try:
        check_target(out_dir, "vector set", force)  # before any work
    except OutputError as err:
        raise click.UsageError(str(err)) from None
    if shards is not None:
        path = _golden_sharded(spec, out_dir, force, command, shards, layout, scheduler, workers,
                               in_process, as_json)
        _report(path, as_json)
        return
    try:
        vs = generate(spec)
        path = write_set(vs, out_dir, command, layout, force)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    _report(path, as_json)


def _report(path: Path, as_json: bool) -> None:
    """What was written, from the manifest: a line, or JSON."""
    m = json.loads((Path(path) / "manifest.json").read_text())
    if "shards" in m:
        first = json.loads((Path(path) / m["shards"][0]["dir"] / "manifest.json").read_text())
        ports, shards = first["ports"], [e["dir"] for e in m["shards"]]
    else:
        ports, shards = m["ports"], None
    if as_json:
        echo_json({"set": str(path), "count": m["count"], "shards": shards,
                   "ports": [{k: p.get(k) for k in ("name", "direction", "bits", "format", "file")}
                             for p in ports]})
        return
    where = f"{path}" if shards is None else (
        f"{path} in {len(shards)} shards ({', '.join(shards[:3])}{', ...' if len(shards) > 3 else ''})")
    click.echo(f"wrote {m['count']} vectors to {where} (ports: "
               + ", ".join(f"{p['name']}[{p['bits']}] {p['direction']}" for p in ports) + ")")


# options that apply only to some ops or rounding modes: (ops, needs a stochastic mode, modes)
APPLIES = {
    "src": ({"convert", "sr"}, False, None), "dst": ({"convert", "sr", "add", "mul", "fma"}, False, None),
    "fmt_name": ({"add", "mul", "fma", "mac"}, False, None), "rounding": (set(OPS) - {"lfsr"}, False, None),
    "saturate": (set(OPS) - {"lfsr"}, False, None), "overflow": (set(OPS) - {"lfsr"}, False, None),
    "inputs": (set(OPS) - {"lfsr"}, False, None), "seed": (set(OPS) - {"lfsr"}, False, None),
    "k_len": ({"mac"}, False, None), "acc": ({"mac"}, False, None),
    "acc_overflow": ({"mac"}, False, None), "out_format": ({"mac"}, False, None),
    "sr_bits": (set(OPS) - {"lfsr", "mac"}, True, None),
    "eps": (set(OPS), True, {"sr_eps", "signed_sr_eps"}),
    "direction": (set(OPS), True, {"signed_sr_eps"}),
    **{f"lfsr_{k}": (set(OPS), True, None)
       for k in ("seed", "width", "shifts", "lanes", "poly", "config", "reverse", "invert")},
}
def _check_applies(ctx: click.Context, op: str, rounding: str) -> None:
    """An option given on the command line that the op or rounding mode does not use is an
    error, not silently ignored (lfsr sets draw from the LFSR without a rounding mode)."""
    stochastic = op == "lfsr" or (op != "mac" and is_stochastic(rounding))
    reasons = {}
    for name, (ops, needs_sr, modes) in APPLIES.items():
        if op not in ops:
            reasons[name] = f"does not apply to golden {op}"
        elif needs_sr and not stochastic:
            reasons[name] = f"applies to stochastic rounding only (--rounding {rounding})"
        elif modes and rounding not in modes:
            reasons[name] = f"applies to --rounding {' / '.join(sorted(modes))} only"
    refuse_unused(ctx, reasons)
    check_mode_settings(rounding, ctx.params.get("eps"), ctx.params.get("direction"), _option)


def _option(name: str, value: object = None) -> str:
    """A spec setting as this command's option, for emu.golden.spec's messages: --sr-bits 40."""
    flag = "--" + {"fmt": "format"}.get(name, name).replace("_", "-")
    return flag if value is None else f"{flag} {value}"


def _command() -> str:
    """The command line as run, for the manifest (--threads left out: it never changes bits)."""
    args, skip = [], False
    for a in sys.argv[1:]:
        if skip:
            skip = False
        elif a == "--threads":
            skip = True
        elif not a.startswith("--threads="):
            args.append(a)
    return shlex.join(["emu", *args]) if sys.argv and "emu" in Path(sys.argv[0]).name else "emu golden"


def _golden_sharded(spec, out_dir, force, command, shards, layout, scheduler, workers,
                    in_process, quiet) -> Path:
    import contextlib

    from emu.cluster import DaskMissing, client
    from emu.golden.shards import write_sharded

    try:
        rounds = 2 if spec["op"] not in ("lfsr", "mac") and is_stochastic(spec.get("rounding", "rne")) else 1
        with contextlib.nullcontext() if in_process else client(scheduler, workers) as c, \
                progress(rounds * shards, "shards", quiet=quiet) as advance:
            path = write_sharded(spec, out_dir, command, shards, layout, c, force,
                                 progress=lambda done, total: advance(done))
    except DaskMissing as err:
        raise click.UsageError(f"{err}; or build the shards here with --local") from None
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    return path
