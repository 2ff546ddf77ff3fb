"""``emu formats``, ``emu quantize``, ``emu lfsr``: look at formats, values and random words."""

from __future__ import annotations

import functools
import json
import re

import click

import emu
import emu.rounding
from emu.blockformats import NAMED_BLOCKS
from emu.formats import NAMED_FORMATS, SCALE_NAMES
from emu.profiles import PROFILES
from emu.rounding import MODES

from .common import (
    ValuesCommand,
    ValueSource,
    check_values,
    format_option,
    lfsr_options,
    parse_poly,
    refuse_unused,
    threaded,
    value_option,
)
from .output import dumps, echo_json


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def formats(as_json: bool) -> None:
    """Table of the named formats and their properties, then the block formats (MX, NVFP4)."""
    rows = [emu.format(n).properties() for n in NAMED_FORMATS if n not in SCALE_NAMES]
    scales = [emu.format(n).properties() for n in SCALE_NAMES]
    blocks = [emu.block_format(n).properties() for n in NAMED_BLOCKS]
    if as_json:
        echo_json({"formats": rows + scales, "block_formats": blocks})
        return
    click.echo(f"{'name':9} {'family':7} {'bits':>4} {'bias':>5} {'max':>12} {'min normal':>11} "
               f"{'min subnorm':>11} {'inf':>13} {'nan':>13} {'finite':>10}")
    for r in rows:
        inf = "/".join(r["inf_codes"]) or "-"
        nan = "/".join(dict.fromkeys(r["canonical_nan"])) or "-"  # what emu writes
        click.echo(f"{r['name']:9} {r['family']:7} {r['bits']:>4} {r['bias']:>5} {r['max']:>12.6g} "
                   f"{r['min_normal']:>11.4g} {r['min_subnormal']:>11.4g} {inf:>13} {nan:>13} "
                   f"{r['finite_codes']:>10}")
    for r in scales:
        click.echo(f"{r['name']:9} {'scale':7} {r['bits']:>4} {r['bias']:>5} {r['max']:>12.6g} "
                   f"{r['min']:>11.4g} {'-':>11} {'-':>13} {'0xff':>13} {r['finite_codes']:>10}"
                   "  (MX scale: 2^(c-127), unsigned, no zero)")
    click.echo("Generic names: eXmY[ieee|fn|fnuz|finite][b<bias>] (e4m3ieee, e5m2b10), sW.F, uW.F "
               "(see emu.format).")
    click.echo("")
    click.echo(f"{'block format':13} {'element':8} {'block':>5} {'scale':6} {'bits/elem':>9} "
               f"{'elem max':>9}")
    for r in blocks:
        click.echo(f"{r['name']:13} {r['element']:8} {r['block_size']:>5} {r['scale']:6} "
                   f"{r['bits_per_element']:>9.4g} {r['element_max']:>9.6g}"
                   + ("  + fp32 tensor scale" if r["tensor_scale"] else ""))
    click.echo("Generic block formats: emu.block_format(element, block_size, scale) (docs/semantics.md "
               "§14).")


@click.command(cls=ValuesCommand)
@click.argument("values", nargs=-1)
@click.option("--format", "-f", "fmt_name", required=True, help="Target format, e.g. e4m3, s16.8.")
@click.option("--rounding", "-r", default="rne", show_default=True,
              help=f"Rounding mode: {', '.join(MODES)}.")
@click.option("--saturate", is_flag=True, help="Floats: overflow gives +-max instead of Inf/NaN.")
@click.option("--overflow", type=click.Choice(["wrap", "sat", "sat_sym"]), default=None,
              help="Fixed point overflow policy [default: sat].")
@click.option("--input", "input_path", type=click.Path(), default=None,
              help="Read values from a .npy or text file (one or more per line).")
@click.option("--sr-bits", type=int, default=8, show_default=True, help="Stochastic: random bits r.")
@click.option("--eps", type=float, default=None, help="sr_eps / signed_sr_eps: eps in [0, 1).")
@click.option("--direction", type=click.IntRange(-1, 1), default=None,
              help="signed_sr_eps: favoured direction -1, 0 or +1 (all values).")
@click.option("--form", type=click.Choice(["carry", "compare"]), default="carry", show_default=True)
@click.option("--profile", type=click.Choice(list(PROFILES), case_sensitive=False), default="ocp",
              show_default=True,
              help="A vendor's conversion conventions (docs/semantics.md §3.5): NaN encoding, AMD's "
              "SR operand (--sr-bits 23-M, 32-bit random words).")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"format", "rounding", "saturate" | "overflow", "profile", "values": '
              '[{input, code, fields, value, class, error, random_word?}]}.')
@functools.partial(lfsr_options, seed_aliases=("--seed",))
@click.pass_context
@threaded
def quantize(ctx, values, fmt_name, rounding, saturate, overflow, input_path, sr_bits, eps, direction,
             form, profile, as_json, lfsr_seed, lfsr_width, lfsr_poly, lfsr_config, lfsr_shifts,
             lfsr_lanes, lfsr_reverse, lfsr_invert) -> None:
    """Quantize VALUES to a format: code, bit fields, decoded value, rounding error.

    Every value is rounded once from its exact value: decimals as typed (1.00000000000000000001
    is not 1.0), hex floats, integers of any size (also from .npy files); negative values need
    no "--". The error is value - input, exact, then rounded to float64. Stochastic modes draw
    from the default LFSR (32-bit fibonacci, poly 0x00400007, D = r shifts per draw) seeded with
    --lfsr-seed (alias --seed; every LFSR parameter is an option), and print the random word each
    value used. --profile applies a vendor's conventions: the values are read as float64 (CUDA's
    double path for --profile nvidia)."""
    from emu.describe import describe_values

    fmt = format_option(fmt_name)
    typed = [value_option(v) for v in values]
    source = ValueSource(typed, input_path)
    if not typed and not input_path:
        raise click.UsageError("give VALUES or --input FILE")
    try:
        rounding = emu.rounding.canonical(rounding)  # any case, or an ap_fixed name
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="'--rounding'") from None
    _check_applies(ctx, rounding)
    if isinstance(fmt, emu.FixedFormat) and saturate:
        raise click.BadParameter("--saturate is for float formats; use --overflow sat",
                                 param_hint="'--saturate'")
    floating = isinstance(fmt, emu.FloatFormat | emu.ScaleFormat)  # e8m0 saturates as floats do
    if floating and overflow:
        raise click.BadParameter("--overflow is for fixed-point formats; use --saturate",
                                 param_hint="'--overflow'")
    kw = {"saturate": saturate} if floating else {"overflow": overflow}
    sr, show_words = {}, False
    if emu.rounding.is_stochastic(rounding):
        try:
            rng = emu.LFSR(lfsr_width, parse_poly(lfsr_poly), lfsr_config, lfsr_shifts, seed=lfsr_seed,
                           lanes=lfsr_lanes, reverse=lfsr_reverse, invert=lfsr_invert)
        except ValueError as err:
            raise click.UsageError(str(err)) from None
        sr = {"rng": rng, "sr_bits": sr_bits, "eps": eps, "form": form, "direction": direction}
        if not emu.rounding.takes_direction(rounding):
            sr.pop("direction")
        show_words = 1 <= sr_bits <= 32
    # Pass 1 rounds every value and prints nothing, so a bad value anywhere is a usage error
    # before any output; pass 2 reads the input again and prints (codes and words kept: a few
    # bytes per value).
    codes, words, count = [], [], 0
    for block, where in source.blocks():
        try:
            regs, used = emu.quantize(block, fmt, rounding, **kw, **sr, return_words=True,
                                      profile=profile)
            codes.append(regs.codes)
            words.append(used)
        except (ValueError, TypeError) as err:
            check_values(block, where)
            m = re.search(r"element (\d+)", str(err))
            place = f"{where(int(m.group(1)))}: " if m and int(m.group(1)) < block.size else ""
            raise click.UsageError(place + str(err)) from None
        count += block.size
    if not count:
        raise click.UsageError(f"no values in {input_path}")
    profile = profile.lower()
    if as_json:
        head = {"format": fmt.name, "rounding": rounding, **kw, "profile": profile}
        click.echo(json.dumps(head, indent=2)[:-2] + ',\n  "values": [')
    else:
        click.echo(f"format {fmt.name}, rounding {rounding}"
                   + (f", saturate={saturate}" if "saturate" in kw else f", overflow={overflow or 'sat'}")
                   + (f", profile {profile}" if profile != "ocp" else ""))
        click.echo(f"{'input':>16}  {'code':>6}  {'fields':<16} {'value':>14}  {'error':>12}"
                   + ("  random word" if show_words else ""))
    # a profile may take wider words than r (AMD: the 32-bit operand)
    wd = (max([sr_bits] + [int(w.max()).bit_length() for w in words if w.size]) + 3) // 4
    done = 0
    for k, (block, _) in enumerate(source.blocks()):
        if k >= len(codes) or block.size != codes[k].size:
            raise click.ClickException(f"{input_path} changed while it was being read")
        c = describe_values(fmt, block, codes[k], json=as_json)
        n = len(c["code"])
        ws = [f"0x{w:0{wd}x}" for w in words[k].tolist()] if show_words else [None] * n
        if as_json:
            lines = [_json_row(*row) for row in zip(c["input_json"], c["code"], c["fields"], c["value"],
                                                    c["class"], c["error"], ws, strict=True)]
            done += n
            click.echo(",\n".join(lines) + ("," if done < count else ""))
            continue
        tail = [f"  {w}" for w in ws] if show_words else [""] * n
        click.echo("\n".join(
            f"{i:>16}  {code:>6}  {f:<16} {v:>14}  {'' if e is None else format(e, '.6g'):>12}{t}"
            for i, code, f, v, e, t in zip(c["input"], c["code"], c["fields"], c["value_text"],
                                           c["error"], tail, strict=True)))
    if as_json:
        click.echo("  ]\n}")


def _check_applies(ctx: click.Context, rounding: str) -> None:
    """Options that the rounding mode does not use are errors, not silently ignored."""
    stochastic = emu.rounding.is_stochastic(rounding)
    not_sr = None if stochastic else f"applies to stochastic rounding only (--rounding {rounding})"
    reasons = {name: not_sr for name in ("sr_bits", "form", "lfsr_seed", "lfsr_width", "lfsr_poly",
                                         "lfsr_config", "lfsr_shifts", "lfsr_lanes", "lfsr_reverse",
                                         "lfsr_invert")}
    reasons["eps"] = None if emu.rounding.takes_eps(rounding) else \
        "applies to --rounding sr_eps / signed_sr_eps only"
    reasons["direction"] = None if emu.rounding.takes_direction(rounding) else \
        "applies to --rounding signed_sr_eps only"
    refuse_unused(ctx, reasons)


def _json_row(inp, code, fields, value, kind, error, word) -> str:
    """One value as a JSON object; the input is written as the exact number it is."""
    err = "null" if error is None else _json_float(error)
    out = (f'    {{"input": {inp}, "code": "{code}", "fields": "{fields}", '
           f'"value": {_json_float(value)}, "class": "{kind}", "error": {err}')
    return out + (f', "random_word": "{word}"}}' if word else "}")


def _json_float(v: float) -> str:
    return dumps(v)


@click.command()
@click.option("--width", default=32, show_default=True, help="State width W (2..64).")
@click.option("--poly", default=None, help="Polynomial word (hex ok); default: XAPP052 table.")
@click.option("--config", type=click.Choice(["fibonacci", "galois"]), default="fibonacci",
              show_default=True)
@click.option("--shifts", type=int, default=None, help="Shifts per draw D [default: width].")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--lanes", type=int, default=1, show_default=True)
@click.option("--reverse", is_flag=True)
@click.option("--invert", is_flag=True)
@click.option("--count", type=click.IntRange(min=0), default=8, show_default=True, help="Draws.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def lfsr(width, poly, config, shifts, seed, lanes, reverse, invert, count, as_json) -> None:
    """Draw words from an LFSR (verilog-lfsr semantics) and print them with the lane states."""
    try:
        p = None if poly is None else int(poly, 0)
    except ValueError:
        raise click.BadParameter(f"{poly!r} is not an integer (decimal, or hex such as 0x00400007)",
                                 param_hint="'--poly'") from None
    try:
        gen = emu.LFSR(width, p, config, shifts, seed=seed, lanes=lanes, reverse=reverse,
                       invert=invert)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    initial = gen.config_dict()
    d = shifts or width
    rows = []
    if gen.lanes == 1:  # one draw at a time, to show the state after each
        for j in range(count):
            word = int(gen.draw(1, d)[0])
            rows.append({"index": j, "lane": 0, "word": f"0x{word:0{(d + 3) // 4}x}",
                         "state": f"0x{gen.states[0]:0{(width + 3) // 4}x}"})
    else:  # one call: element j uses lane j mod L
        words = gen.draw(count, d).tolist()
        rows = [{"index": j, "lane": j % gen.lanes, "word": f"0x{int(w):0{(d + 3) // 4}x}"}
                for j, w in enumerate(words)]
    final = [f"0x{s:0{(width + 3) // 4}x}" for s in gen.states]
    if as_json:
        echo_json({"config": initial, "draws": rows, "final_states": final})
        return
    click.echo(f"LFSR width {width}, poly {gen.poly:#x}, {config}, {d} shifts/draw, lanes {gen.lanes}, "
               f"initial states {', '.join(initial['states'])}")
    for r in rows:
        click.echo(f"{r['index']:>6}  lane {r['lane']:>3}  word {r['word']}"
                   + (f"  state {r['state']}" if "state" in r else ""))
    click.echo(f"final states: {', '.join(final)}")
