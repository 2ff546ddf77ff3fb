"""``emu golden``: write a golden vector set."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

import emu
import emu.rounding
from emu.golden.vectors import GENERATORS, lfsr_from_spec
from emu.kernels.core import SR_MAX_BITS
from emu.outdir import OutputError, check_target
from emu.rounding import mode_code

from .common import threaded

MAX_RANDOM = 1 << 24  # random vectors or LFSR draws in one set (each shard draws them all)


@click.command()
@click.argument("op", type=click.Choice(["convert", "sr", "add", "mul", "fma", "lfsr", "mac"]))
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
@click.option("--lfsr-seed", default=1, show_default=True)
@click.option("--lfsr-width", default=32, show_default=True)
@click.option("--lfsr-shifts", type=int, default=None, help="[default: sr bits, or width for lfsr]")
@click.option("--lfsr-lanes", default=1, show_default=True)
@click.option("--k", "k_len", type=click.IntRange(min=1), default=16, show_default=True,
              help="mac: products per dot product.")
@click.option("--acc", default=None, help="mac: accumulator format [default: product + 16 guards].")
@click.option("--acc-overflow", type=click.Choice(["wrap", "sat"]), default="wrap", show_default=True)
@click.option("--out-format", default=None, help="mac: requantized output format [default: --format].")
@click.option("--layout", type=click.Choice(["ports", "packed"]), default="ports", show_default=True)
@click.option("--shards", type=click.IntRange(min=1), default=None,
              help="Split the set into K shard directories with one top-level manifest.")
@click.option("--scheduler", default=None,
              help="Shards: a running Dask scheduler, tcp:// or tls://HOST:PORT (tls: credentials from "
              "DASK_DISTRIBUTED__COMM__TLS__CA_FILE, __CLIENT__CERT, __CLIENT__KEY).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Shards: local cluster worker processes [default: one per core].")
@click.option("--local", "in_process", is_flag=True, help="Shards: build them here, without Dask.")
@threaded
def golden(op, out_dir, force, src, dst, fmt_name, rounding, saturate, overflow, inputs, count, seed, sr_bits,
           lfsr_seed, lfsr_width, lfsr_shifts, lfsr_lanes, k_len, acc, acc_overflow, out_format,
           layout, shards, scheduler, workers, in_process) -> None:
    """Write a golden vector set ($readmemh file per port, manifest.json, vectors.csv)."""
    from emu.golden import generate, write_set

    try:
        spec = _spec(op, src, dst, fmt_name, rounding, saturate, overflow, inputs, count, seed, sr_bits,
                     lfsr_seed, lfsr_width, lfsr_shifts, lfsr_lanes, k_len, acc, acc_overflow,
                     out_format)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    command = "emu " + " ".join(sys.argv[1:]) if sys.argv and "emu" in sys.argv[0] else "emu golden"
    if shards is None and (scheduler or workers or in_process):
        raise click.UsageError("--scheduler, --workers and --local apply to --shards K")
    try:
        check_target(out_dir, "vector set", force)  # before any work
    except OutputError as err:
        raise click.UsageError(str(err)) from None
    if shards is not None:
        _golden_sharded(spec, out_dir, force, command, shards, layout, scheduler, workers, in_process)
        return
    try:
        vs = generate(spec)
        path = write_set(vs, out_dir, command, layout, force)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    click.echo(f"wrote {vs.count} vectors to {path} (ports: "
               + ", ".join(f"{p.name}[{p.bits}] {p.direction}" for p in vs.ports) + ")")


def _spec(op, src, dst, fmt_name, rounding, saturate, overflow, inputs, count, seed, sr_bits, lfsr_seed,
          lfsr_width, lfsr_shifts, lfsr_lanes, k_len, acc, acc_overflow, out_format) -> dict:
    """The set's spec (emu.golden.vectors) from the options; ValueError for options that are
    wrong or do not fit together, before any work."""
    gens = [g.strip() for g in inputs.split(",") if g.strip()]
    if not gens:
        raise ValueError(f"--inputs names no generator; valid: {', '.join(GENERATORS)}")
    bad = [g for g in gens if g not in GENERATORS]
    if bad:
        raise ValueError(f"unknown input generator {bad[0]!r}; valid: {', '.join(GENERATORS)}")
    spec = {"op": "convert" if op == "sr" else op, "inputs": gens, "count": count, "seed": seed}
    rounding = rounding or ("sr" if op == "sr" else "rne")
    mode_code(rounding)  # an unknown name lists the valid ones
    for f in (src, dst, fmt_name, acc, out_format):
        if f:
            emu.format(f)  # likewise an unknown format
    if op in ("convert", "sr"):
        if not dst:
            raise ValueError(f"{op} needs --dst FORMAT")
        spec.update(src=src, dst=dst)
    elif op in ("add", "mul", "fma", "mac"):
        if not fmt_name:
            raise ValueError(f"{op} needs --format FORMAT")
        spec.update(fmt=fmt_name)
        if dst and op != "mac":
            spec["dst"] = dst
    if op == "mac":
        formats = [emu.format(f) for f in (fmt_name, acc, out_format) if f]
        if not all(isinstance(f, emu.FixedFormat) for f in formats):
            raise ValueError("mac models a fixed-point MAC unit: --format, --acc and --out-format "
                             "must be fixed-point formats (sW.F, uW.F)")
        spec.update(k=k_len, acc_overflow=acc_overflow, out=out_format or fmt_name)
        if acc:
            spec["acc"] = acc
    if op != "lfsr":
        spec["rounding"] = rounding
        if saturate:
            spec["saturate"] = True
        if overflow:
            spec["overflow"] = overflow
    if op == "lfsr" or emu.rounding.is_stochastic(rounding):
        spec["lfsr"] = {"width": lfsr_width, "seed": lfsr_seed, "lanes": lfsr_lanes,
                        "shifts": lfsr_shifts or (lfsr_width if op == "lfsr" else sr_bits)}
        lfsr_from_spec(spec["lfsr"])  # a bad width, seed, lane count or shift count fails here
        if op != "lfsr":
            if not 1 <= sr_bits <= SR_MAX_BITS:
                raise ValueError(f"--sr-bits {sr_bits} out of range; valid: 1..{SR_MAX_BITS}")
            spec["sr_bits"] = sr_bits
    return spec


def _golden_sharded(spec, out_dir, force, command, shards, layout, scheduler, workers,
                    in_process) -> None:
    import contextlib

    from emu.cluster import DaskMissing, client
    from emu.golden.shards import write_sharded

    try:
        with contextlib.nullcontext() if in_process else client(scheduler, workers) as c:
            path = write_sharded(spec, out_dir, command, shards, layout, c, force)
    except DaskMissing as err:
        raise click.UsageError(f"{err}; or build the shards here with --local") from None
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    m = json.loads((Path(path) / "manifest.json").read_text())
    click.echo(f"wrote {m['count']} vectors in {len(m['shards'])} shards to {path} "
               f"({', '.join(e['dir'] for e in m['shards'][:3])}{', ...' if shards > 3 else ''})")
