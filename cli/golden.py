"""``emu golden``: write a golden vector set (the options of emu.golden.write, which does the work)."""

from __future__ import annotations

import contextlib
import json
import shlex
import sys
from pathlib import Path

import click

from emu.golden.layouts import RADIXES, SET_LAYOUTS
from emu.golden.spec import (
    BLOCK_SUMS,
    MAX_COUNT,
    OPS,
    ORDERS,
    SCALE_RULES,
    check_mode_settings,
    op_rounding,
    unused_settings,
)
from emu.profiles import PROFILES

from .common import dask_options, lfsr_options, parse_poly, refuse_unused, threaded
from .output import echo_json, progress

LFSR_PARAMS = ("seed", "width", "shifts", "lanes", "poly", "config", "reverse", "invert")


@click.command()
@click.argument("op", type=click.Choice(OPS))
@click.option("--out", "out_dir", required=True, type=click.Path(),
              help="Directory of the set: a new path, or an emu set to replace with --force.")
@click.option("--force", is_flag=True, help="Replace an existing emu vector set at --out.")
@click.option("--src", default="fp32", show_default=True,
              help="convert/sr: source format; mx-quantize: the inputs' float format.")
@click.option("--dst", default=None, help="Result format (convert/sr; add/mul/fma: default --format).")
@click.option("--format", "-f", "fmt_name", default=None,
              help="Operand format (add/mul/fma/mac); mx-quantize/mx-dot: the block format (mxfp8_e4m3, "
                   "mxfp8_e5m2, mxfp6_e3m2, mxfp6_e2m3, mxfp4, mxint8, nvfp4, or an element format "
                   "with --block-size and --scale-format).")
@click.option("--rounding", "-r", default=None,
              help="Rounding mode [default: rne; sr for op sr]; mx-quantize: the elements'.")
@click.option("--saturate/--no-saturate", default=None,
              help="Float results saturate [default: no; mx-quantize's elements: yes, as OCP MX "
                   "clamps to the largest normal].")
@click.option("--overflow", type=click.Choice(["wrap", "sat", "sat_sym"]), default=None)
@click.option("--inputs", default="corners,random", show_default=True,
              help="Generators, combined in order: exhaustive, random, corners.")
@click.option("--count", type=click.IntRange(1, MAX_COUNT), default=1000, show_default=True,
              help="random: vectors; lfsr: draws.")
@click.option("--seed", default=1, show_default=True, help="random: numpy seed.")
@click.option("--sr-bits", default=8, show_default=True)
@lfsr_options
@click.option("--eps", type=float, default=None, help="sr_eps / signed_sr_eps: eps in [0, 1).")
@click.option("--direction", type=click.IntRange(-1, 1), default=None,
              help="signed_sr_eps: the favoured direction -1, 0 or +1 of every vector.")
@click.option("--k", "k_len", type=click.IntRange(min=1), default=16, show_default=True,
              help="mac: products per dot product.")
@click.option("--acc", default=None,
              help="mac: accumulator format [default: product + 16 guards]; mx-dot: the result's "
                   "accumulator [default: fp32].")
@click.option("--acc-overflow", type=click.Choice(["wrap", "sat"]), default="wrap", show_default=True)
@click.option("--out-format", default=None, help="mac: requantized output format [default: --format].")
@click.option("--profile", type=click.Choice(list(PROFILES), case_sensitive=False), default=None,
              help="convert/add/mul/fma: a vendor's conventions (docs/semantics.md §3.5) [default: "
                   "ocp]; amd stochastic sets take --sr-bits 23-M and store 32-bit words r.")
@click.option("--block-size", type=click.IntRange(min=1), default=None,
              help="mx-quantize/mx-dot with an element --format: elements per block [default: 32].")
@click.option("--scale-format", default=None,
              help="mx-quantize/mx-dot with an element --format: the block scale's format "
                   "(e8m0 or a float format) [default: e8m0].")
@click.option("--scale-rule", type=click.Choice(SCALE_RULES), default="floor", show_default=True,
              help="mx-quantize: the shared exponent from amax: OCP MX's floor, ceil (no clipping) "
                   "or NVIDIA's rceil.")
@click.option("--acc-rounding", default=None, help="mx-dot: the accumulator's rounding [default: rne].")
@click.option("--block-sum", type=click.Choice(BLOCK_SUMS), default="exact", show_default=True,
              help="mx-dot: an exact block sum times the scales, or every scaled product a term.")
@click.option("--order", type=click.Choice(ORDERS), default="sequential", show_default=True,
              help="mx-dot: the accumulation order.")
@click.option("--layout", type=click.Choice(SET_LAYOUTS), default="ports", show_default=True)
@click.option("--radix", type=click.Choice(RADIXES), default="hex", show_default=True,
              help="Words in hex ($readmemh, <port>.hex) or binary ($readmemb, <port>.bin).")
@click.option("--address", is_flag=True,
              help="Start each vector file with an @address line (hex; a shard's files at its "
                   "global index).")
@click.option("--shards", type=click.IntRange(min=1), default=None,
              help="Split the set into K shard directories with one top-level manifest.")
@dask_options("the shards")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"set", "count", "ports": [{name, direction, bits, format, file}], "shards"}.')
@click.pass_context
@threaded
def golden(ctx, op, out_dir, force, src, dst, fmt_name, rounding, saturate, overflow, inputs, count, seed,
           sr_bits, lfsr_seed, lfsr_width, lfsr_shifts, lfsr_lanes, lfsr_poly, lfsr_config, lfsr_reverse,
           lfsr_invert, eps, direction, k_len, acc, acc_overflow, out_format, profile, block_size,
           scale_format, scale_rule, acc_rounding, block_sum, order, layout, radix, address, shards,
           scheduler, workers, in_process, as_json) -> None:
    """Write a golden vector set ($readmemh or $readmemb file per port, manifest.json, vectors.csv)."""
    from emu.cluster import DaskMissing
    from emu.golden import write

    try:
        _check_applies(ctx, op, op_rounding(op, rounding), acc_rounding)  # any case, or an ap_fixed name
        given = [k for k in LFSR_PARAMS if _given(ctx, f"lfsr_{k}")]
        lfsr = {k: v for k, v in {"width": lfsr_width, "seed": lfsr_seed, "lanes": lfsr_lanes,
                                  "config": lfsr_config, "shifts": lfsr_shifts or None,
                                  "reverse": lfsr_reverse, "invert": lfsr_invert,
                                  "poly": parse_poly(lfsr_poly)}.items() if k in given}
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    try:
        with contextlib.ExitStack() as stack:
            bar = []

            def advance(done: int, total: int) -> None:
                if not bar:  # the bar starts with the first shard task (the total is known then)
                    bar.append(stack.enter_context(progress(total, "shards", quiet=as_json)))
                bar[0](done)

            path = write(out_dir, op, src=src, dst=dst, fmt=fmt_name, rounding=rounding,
                         saturate=saturate, overflow=overflow, inputs=inputs, count=count, seed=seed,
                         sr_bits=sr_bits, lfsr=lfsr or None, eps=eps, direction=direction, k=k_len,
                         acc=acc, acc_overflow=acc_overflow, out_format=out_format, profile=profile,
                         block_size=block_size, scale_format=scale_format, scale_rule=scale_rule,
                         acc_rounding=acc_rounding, block_sum=block_sum, order=order, layout=layout,
                         radix=radix, address=address, shards=shards, scheduler=scheduler,
                         workers=workers, local=in_process, force=force, command=_command(),
                         progress=advance, spell=_option)
    except DaskMissing as err:
        raise click.UsageError(f"{err}; or build the shards here with --local") from None
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
    click.echo(f"wrote {m['count']} vectors to {where} (ports: " + ", ".join(_port_runs(ports)) + ")")


def _port_runs(ports: list[dict]) -> list[str]:
    """``name[bits] direction`` per port, a block set's numbered ports as one run each
    (``x0..x31[32] in``)."""
    out: list[list] = []  # [prefix, first, last, bits, direction]
    for p in ports:
        name = p["name"]
        stem = name.rstrip("0123456789")
        num = int(name[len(stem):]) if stem != name and stem else None
        last = out[-1] if out else None
        if (num is not None and last and last[0] == stem and last[2] == num - 1
                and (last[3], last[4]) == (p["bits"], p["direction"])):
            last[2] = num
        else:
            out.append([stem if num is not None else name, num, num, p["bits"], p["direction"]])
    return [f"{s}{a}{'' if a == b else f'..{s}{b}'}[{bits}] {d}" if a is not None else f"{s}[{bits}] {d}"
            for s, a, b, bits, d in out]


# the command's parameters of each setting emu.golden.spec.unused_settings judges
PARAMS = {"fmt": ("fmt_name",), "k": ("k_len",), "lfsr": tuple(f"lfsr_{k}" for k in LFSR_PARAMS)}


def _given(ctx: click.Context, param: str) -> bool:
    return ctx.get_parameter_source(param) == click.core.ParameterSource.COMMANDLINE


def _check_applies(ctx: click.Context, op: str, rounding: str, acc_rounding: str | None) -> None:
    """An option given on the command line that the op or rounding mode does not use is an
    error, not silently ignored (emu.golden.spec.unused_settings says which)."""
    reasons = {param: why for name, why in unused_settings(op, rounding, _option, acc_rounding).items()
               for param in PARAMS.get(name, (name,))}
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
