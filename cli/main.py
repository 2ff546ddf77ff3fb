"""``emu`` command: parse options, call the library, print. No emulation logic lives here."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import click
import numpy as np

import emu
import emu.rounding
from emu.describe import describe, value_str
from emu.formats import NAMED_FORMATS
from emu.rounding import MODES


def _format(name: str):
    try:
        return emu.format(name)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="'--format'") from None


def _number(token: str) -> float:
    """A decimal, inf/nan, or hex float (0x1.8p+3) token; ValueError otherwise."""
    if "0x" in token.lower():
        return float.fromhex(token)
    return float(token)


def _float(token: str) -> float:
    try:
        return _number(token)
    except ValueError:
        raise click.BadParameter(f"{token!r} is not a number (decimal, inf, nan or hex float)",
                                 param_hint="VALUES") from None


def _load_values(path: str) -> np.ndarray:
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


def _threaded(cmd):
    """Add ``--threads N`` (default: every core) and run the command inside
    ``emu.context(threads=N)``; results never depend on N (see emu.parallel)."""

    @functools.wraps(cmd)
    def run(*args, threads, **kwargs):
        with emu.context(threads=threads):
            return cmd(*args, **kwargs)

    return click.option("--threads", type=click.IntRange(min=1), default=None,
                        help="Kernel threads [default: every core]; results never depend on it.")(run)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(emu.__version__, prog_name="emu")
def main() -> None:
    """emu: bit-exact emulation of low-precision accelerator arithmetic."""


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def formats(as_json: bool) -> None:
    """Table of the named formats and their properties."""
    rows = [emu.format(n).properties() for n in NAMED_FORMATS]
    if as_json:
        click.echo(json.dumps({"formats": rows}, indent=2))
        return
    click.echo(f"{'name':9} {'family':7} {'bits':>4} {'bias':>5} {'max':>12} {'min normal':>11} "
               f"{'min subnorm':>11} {'inf':>13} {'nan':>13} {'finite':>10}")
    for r in rows:
        inf = "/".join(r["inf_codes"]) or "-"
        nan = "/".join(dict.fromkeys(r["nan_codes"])) or "-"
        click.echo(f"{r['name']:9} {r['family']:7} {r['bits']:>4} {r['bias']:>5} {r['max']:>12.6g} "
                   f"{r['min_normal']:>11.4g} {r['min_subnormal']:>11.4g} {inf:>13} {nan:>13} "
                   f"{r['finite_codes']:>10}")
    click.echo("Generic names: eXmY[ieee|fn|fnuz|finite], sW.F, uW.F (see emu.format).")


@main.command(context_settings={"ignore_unknown_options": True})
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
@click.option("--seed", type=int, default=1, show_default=True, help="Stochastic: LFSR seed.")
@click.option("--eps", type=float, default=None, help="sr_eps / signed_sr_eps: eps in [0, 1).")
@click.option("--direction", type=click.IntRange(-1, 1), default=None,
              help="signed_sr_eps: favoured direction -1, 0 or +1 (all values).")
@click.option("--form", type=click.Choice(["carry", "compare"]), default="carry", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_threaded
def quantize(values, fmt_name, rounding, saturate, overflow, input_path, sr_bits, seed, eps, direction,
             form, as_json) -> None:
    """Quantize VALUES to a format: code, bit fields, decoded value, rounding error.

    Stochastic modes draw from the default LFSR (32-bit fibonacci, poly 0x00400007, D = r
    shifts per draw) seeded with --seed, and print the random word each value used."""
    fmt = _format(fmt_name)
    xs = [_float(v) for v in values]
    if input_path:
        xs += _load_values(input_path).astype(np.float64).tolist()
    if not xs:
        raise click.UsageError("give VALUES or --input FILE")
    if rounding not in MODES:
        raise click.BadParameter(f"{rounding!r}; valid: {', '.join(MODES)}", param_hint="'--rounding'")
    if isinstance(fmt, emu.FixedFormat) and saturate:
        raise click.BadParameter("--saturate is for float formats; use --overflow sat",
                                 param_hint="'--saturate'")
    if isinstance(fmt, emu.FloatFormat) and overflow:
        raise click.BadParameter("--overflow is for fixed-point formats; use --saturate",
                                 param_hint="'--overflow'")
    kw = {"saturate": saturate} if isinstance(fmt, emu.FloatFormat) else {"overflow": overflow}
    words = None
    try:
        sr = {}
        if emu.rounding.is_stochastic(rounding):
            rng = emu.LFSR(seed=seed)
            words = rng.copy().random_words(len(xs), sr_bits) if 1 <= sr_bits <= 32 else None
            sr = {"rng": rng, "sr_bits": sr_bits, "eps": eps, "form": form,
                  "direction": direction}
            if rounding != "signed_sr_eps":
                sr.pop("direction")
        regs = emu.quantize(np.array(xs, np.float64), fmt, rounding, **kw, **sr)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    rows = [describe(fmt, x, int(c)) for x, c in zip(xs, regs.codes.tolist(), strict=True)]
    if words is not None:
        w = (sr_bits + 3) // 4
        for row, word in zip(rows, words.tolist(), strict=True):
            row["random_word"] = f"0x{word:0{w}x}"
    if as_json:
        click.echo(json.dumps({"format": fmt.name, "rounding": rounding, **kw, "values": rows},
                              indent=2, allow_nan=True))
        return
    click.echo(f"format {fmt.name}, rounding {rounding}"
               + (f", saturate={saturate}" if "saturate" in kw else f", overflow={overflow or 'sat'}"))
    click.echo(f"{'input':>16}  {'code':>6}  {'fields':<16} {'value':>14}  {'error':>12}"
               + ("  random word" if words is not None else ""))
    for r in rows:
        err = "" if r["error"] is None else f"{r['error']:.6g}"
        click.echo(f"{r['input']!r:>16}  {r['code']:>6}  {r['fields']:<16} "
                   f"{value_str(fmt.code_value(int(r['code'], 16))):>14}  {err:>12}"
                   + (f"  {r['random_word']}" if words is not None else ""))


@main.command()
@click.option("--width", default=32, show_default=True, help="State width W (2..64).")
@click.option("--poly", default=None, help="Polynomial word (hex ok); default: XAPP052 table.")
@click.option("--config", type=click.Choice(["fibonacci", "galois"]), default="fibonacci",
              show_default=True)
@click.option("--shifts", type=int, default=None, help="Shifts per draw D [default: width].")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--lanes", type=int, default=1, show_default=True)
@click.option("--reverse", is_flag=True)
@click.option("--invert", is_flag=True)
@click.option("--count", type=int, default=8, show_default=True, help="Draws.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def lfsr(width, poly, config, shifts, seed, lanes, reverse, invert, count, as_json) -> None:
    """Draw words from an LFSR (verilog-lfsr semantics) and print them with the lane states."""
    try:
        p = None if poly is None else int(poly, 0)
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
        click.echo(json.dumps({"config": initial, "draws": rows, "final_states": final}, indent=2))
        return
    click.echo(f"LFSR width {width}, poly {gen.poly:#x}, {config}, {d} shifts/draw, lanes {gen.lanes}, "
               f"initial states {', '.join(initial['states'])}")
    for r in rows:
        click.echo(f"{r['index']:>6}  lane {r['lane']:>3}  word {r['word']}"
                   + (f"  state {r['state']}" if "state" in r else ""))
    click.echo(f"final states: {', '.join(final)}")


@main.command()
@click.argument("op", type=click.Choice(["convert", "sr", "add", "mul", "fma", "lfsr", "mac"]))
@click.option("--out", "out_dir", required=True, type=click.Path(), help="Directory of the set.")
@click.option("--src", default="fp32", show_default=True, help="convert/sr: source format.")
@click.option("--dst", default=None, help="Result format (convert/sr; add/mul/fma: default --format).")
@click.option("--format", "-f", "fmt_name", default=None, help="Operand format (add/mul/fma/mac).")
@click.option("--rounding", "-r", default=None, help="Rounding mode [default: rne; sr for op sr].")
@click.option("--saturate", is_flag=True, help="Float results saturate.")
@click.option("--overflow", type=click.Choice(["wrap", "sat", "sat_sym"]), default=None)
@click.option("--inputs", default="corners,random", show_default=True,
              help="Generators, combined in order: exhaustive, random, corners.")
@click.option("--count", default=1000, show_default=True, help="random: vectors; lfsr: draws.")
@click.option("--seed", default=1, show_default=True, help="random: numpy seed.")
@click.option("--sr-bits", default=8, show_default=True)
@click.option("--lfsr-seed", default=1, show_default=True)
@click.option("--lfsr-width", default=32, show_default=True)
@click.option("--lfsr-shifts", type=int, default=None, help="[default: sr bits, or width for lfsr]")
@click.option("--lfsr-lanes", default=1, show_default=True)
@click.option("--k", "k_len", default=16, show_default=True, help="mac: products per dot product.")
@click.option("--acc", default=None, help="mac: accumulator format [default: product + 16 guards].")
@click.option("--acc-overflow", type=click.Choice(["wrap", "sat"]), default="wrap", show_default=True)
@click.option("--out-format", default=None, help="mac: requantized output format [default: --format].")
@click.option("--layout", type=click.Choice(["ports", "packed"]), default="ports", show_default=True)
@click.option("--shards", type=click.IntRange(min=1), default=None,
              help="Split the set into K shard directories with one top-level manifest.")
@click.option("--scheduler", default=None, help="Shards: a running Dask scheduler, tcp://HOST:PORT.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Shards: local cluster worker processes [default: one per core].")
@click.option("--local", "in_process", is_flag=True, help="Shards: build them here, without Dask.")
@_threaded
def golden(op, out_dir, src, dst, fmt_name, rounding, saturate, overflow, inputs, count, seed, sr_bits,
           lfsr_seed, lfsr_width, lfsr_shifts, lfsr_lanes, k_len, acc, acc_overflow, out_format,
           layout, shards, scheduler, workers, in_process) -> None:
    """Write a golden vector set ($readmemh file per port, manifest.json, vectors.csv)."""
    from emu.golden import generate, write_set

    spec = {"op": "convert" if op == "sr" else op, "inputs": [g.strip() for g in inputs.split(",") if g],
            "count": count, "seed": seed}
    rounding = rounding or ("sr" if op == "sr" else "rne")
    if op in ("convert", "sr"):
        if not dst:
            raise click.UsageError("convert needs --dst FORMAT")
        spec.update(src=src, dst=dst)
    elif op in ("add", "mul", "fma", "mac"):
        if not fmt_name:
            raise click.UsageError(f"{op} needs --format FORMAT")
        spec.update(fmt=fmt_name)
        if dst and op != "mac":
            spec["dst"] = dst
    if op == "mac":
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
        if op != "lfsr":
            spec["sr_bits"] = sr_bits
    command = "emu " + " ".join(sys.argv[1:]) if sys.argv and "emu" in sys.argv[0] else "emu golden"
    if shards is None and (scheduler or workers or in_process):
        raise click.UsageError("--scheduler, --workers and --local apply to --shards K")
    if shards is not None:
        _golden_sharded(spec, out_dir, command, shards, layout, scheduler, workers, in_process)
        return
    try:
        vs = generate(spec)
        path = write_set(vs, out_dir, command, layout)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    click.echo(f"wrote {vs.count} vectors to {path} (ports: "
               + ", ".join(f"{p.name}[{p.bits}] {p.direction}" for p in vs.ports) + ")")


def _golden_sharded(spec, out_dir, command, shards, layout, scheduler, workers, in_process) -> None:
    import contextlib

    from emu.cluster import DaskMissing, client
    from emu.golden.shards import write_sharded

    try:
        with contextlib.nullcontext() if in_process else client(scheduler, workers) as c:
            path = write_sharded(spec, out_dir, command, shards, layout, c)
    except DaskMissing as err:
        raise click.UsageError(f"{err}; or build the shards here with --local") from None
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    m = json.loads((Path(path) / "manifest.json").read_text())
    click.echo(f"wrote {m['count']} vectors in {len(m['shards'])} shards to {path} "
               f"({', '.join(e['dir'] for e in m['shards'][:3])}{', ...' if shards > 3 else ''})")


@main.command("check")
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


def _rate(v: float) -> str:
    return f"{v:.0f}" if v >= 10 else f"{v:.3g}"


@main.command()
@click.option("--size", default=10_000_000, show_default=True, help="Elements per job.")
@click.option("--repeat", default=7, show_default=True, help="Timed runs per job (median).")
@click.option("--quick", is_flag=True, help="Small smoke run (sizes 100k, 3 repeats).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_threaded
def bench(size, repeat, quick, as_json) -> None:
    """Throughput of the kernels beside the reference libraries and a memory-copy ceiling."""
    from emu.bench import run_suite

    if quick:
        size, repeat = 100_000, 3
    jobs = run_suite(size=size, repeat=repeat)
    if as_json:
        click.echo(json.dumps({"jobs": jobs}, indent=2))
        return
    t = jobs[0]["threads"]
    click.echo(f"{t} thread{'s' * (t > 1)} (1-thread rate and speedup beside it); references run on one "
               "thread; ceiling: a numba copy loop of the same types on the same threads")
    click.echo(f"{'job':50} {'emu Melem/s':>12} {'1 thread':>9} {'speedup':>8} {'reference':>10} "
               f"{'ref Melem/s':>12} {'ratio':>7} {'ceiling':>9} {'%ceil':>6} {'bit-exact':>9}")
    for j in jobs:
        ref = j["reference"] or "-"
        rr = f"{j['reference_melem_s']:.0f}" if j["reference_melem_s"] else "-"
        ratio = f"{j['ratio']:.1f}x" if j["ratio"] else "-"
        pct = f"{100 * j['emu_melem_s'] / j['ceiling_melem_s']:.0f}%" if j["ceiling_melem_s"] else "-"
        ceil = f"{j['ceiling_melem_s']:.0f}" if j["ceiling_melem_s"] else "-"
        agree = {True: "yes", False: "NO", None: "-"}[j["agrees"]]
        click.echo(f"{j['job']:50} {_rate(j['emu_melem_s']):>12} {_rate(j['emu_1thread_melem_s']):>9} "
                   f"{j['speedup']:>7.2f}x {ref:>10} {rr:>12} {ratio:>7} {ceil:>9} {pct:>6} "
                   f"{agree:>9}")
    if any(j["agrees"] is False for j in jobs):
        sys.exit(1)


@main.command()
@click.option("--model", type=click.Choice(["least_squares", "logistic", "softmax", "mlp"]),
              default="softmax", show_default=True)
@click.option("--hidden", default=32, show_default=True, help="mlp: hidden ReLU units.")
@click.option("--data", default="digits", show_default=True,
              help="digits | least_squares | logistic | FILE.npz (X, y) | FILE.csv (label last).")
@click.option("--weights", default="e4m3", show_default=True, help="Weight format.")
@click.option("--activations", default=None, help="Activation format [default: weights].")
@click.option("--grads", default=None, help="Gradient format [default: weights].")
@click.option("--acc", default=None, help="Matmul accumulator [default: fp32 / MAC for fixed].")
@click.option("--rounding", "-r", default="sr", show_default=True, help="Rounding of the update.")
@click.option("--grad-rounding", default="rne", show_default=True)
@click.option("--step-rounding", default="rne", show_default=True, help="every_op: fl(t*g).")
@click.option("--eps", default=0.0, show_default=True, help="sr_eps / signed_sr_eps.")
@click.option("--scheme", type=click.Choice(["update", "every_op"]), default="update", show_default=True)
@click.option("--lr", default=0.5, show_default=True)
@click.option("--epochs", default=5, show_default=True)
@click.option("--batch", default=32, show_default=True, help="Minibatch size; 0 = full batch.")
@click.option("--seed", default=1, show_default=True)
@click.option("--sr-bits", default=8, show_default=True)
@click.option("--out", "out_dir", type=click.Path(), default=None, help="Write history.json here.")
@click.option("--plot", is_flag=True, help="Also write loss.png into --out (needs emu[plot]).")
@click.option("--trace", "trace_dir", type=click.Path(), default=None,
              help="Write per-step golden vectors (weights, gradients, random words) here.")
@click.option("--config", "config_path", type=click.Path(), default=None,
              help="A TOML file of these options (command-line options win).")
@click.option("--json", "as_json", is_flag=True, help="Print the history as JSON.")
@click.pass_context
@_threaded
def train(ctx, model, hidden, data, weights, activations, grads, acc, rounding, grad_rounding,
          step_rounding, eps, scheme, lr, epochs, batch, seed, sr_bits, out_dir, plot, trace_dir,
          config_path, as_json) -> None:
    """Train a model entirely on emulated registers; per-epoch loss, accuracy, stagnation."""
    from pathlib import Path

    from emu.golden.hexio import write_atomic
    from emu.train.data import load
    from emu.train.linear import train as run_train
    from emu.train.options import train_config

    o = _read_config(config_path, ctx) if config_path else dict(ctx.params)
    out_dir = o["out_dir"]
    if plot and not out_dir:
        raise click.UsageError("--plot writes loss.png into --out DIR; give --out")
    try:
        ds = load(o["data"])
        cfg = train_config(o)

        def show(e):
            if not as_json:
                a = "" if e["accuracy"] is None else f"  accuracy {e['accuracy']:.4f}"
                click.echo(f"epoch {e['epoch']:>3}  loss {e['loss']:.5g}{a}  stagnant "
                           f"{e['stagnant_share']:.1%}  ({e['seconds']:.2f} s)")

        if not as_json:
            click.echo(f"{cfg.model} on {ds.name} ({len(ds)} samples), weights {cfg.weights}, update "
                       f"{cfg.rounding}" + (f" eps={cfg.eps}" if cfg.eps else "")
                       + f", scheme {cfg.scheme}, lr {cfg.lr}, batch {cfg.batch}")
        _, hist = run_train(ds, cfg, progress=show, trace_dir=trace_dir)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    doc = {"config": hist.config, "data": ds.name, "epochs": hist.epochs, "steps": hist.steps}
    if out_dir:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        write_atomic(Path(out_dir) / "history.json", json.dumps(doc, indent=2) + "\n")
    if plot:
        _plot_history(doc, Path(out_dir) / "loss.png")
    if as_json:
        click.echo(json.dumps(doc, indent=2))


def _read_config(path: str, ctx) -> dict:
    """Options from a TOML file; options given on the command line take precedence."""
    from emu.train.options import read_toml

    try:
        cfg = read_toml(path)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    cfg = cfg.get("train", cfg)
    names = {p.name for p in ctx.command.params}
    unknown = sorted(set(cfg) - names - {"out"})  # "out" is the TOML spelling of --out
    if unknown:
        raise click.UsageError(f"{path}: unknown option(s) {', '.join(unknown)}; valid: "
                               f"{', '.join(sorted(names - {'config_path', 'as_json', 'plot'}))}")
    if "out" in cfg:
        cfg["out_dir"] = cfg.pop("out")
    opts = dict(ctx.params)
    for k, v in cfg.items():
        if ctx.get_parameter_source(k) != click.core.ParameterSource.COMMANDLINE:
            opts[k] = v
    return opts


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise click.UsageError("--plot needs matplotlib: pip install 'emu[plot]'") from None
    return plt


def _plot_curves(data: dict, path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in data["runs"]:
        label = r["rounding"] + (f" eps={r['eps']}" if r["eps"] else "")
        ax.semilogy([max(v, 1e-12) for v in r["curve"]], label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("f(x) - f*")
    ax.set_title(f"GD in {data['format']}: rne stagnates, SR converges")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_history(doc: dict, path) -> None:
    plt = _pyplot()
    ep = [e["epoch"] for e in doc["epochs"]]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.semilogy(ep, [e["loss"] for e in doc["epochs"]], marker="o")
    c = doc["config"]
    ax.set_title(f"{c['model']} on {doc['data']}: {c['weights']}, {c['rounding']}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@main.command()
@click.option("--steps", default=2000, show_default=True, help="GD steps for the PL problems.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_threaded
def experiments(steps: int, as_json: bool) -> None:
    """The published experiments at small size (Xia et al. 2301.09511 / 2202.12276)."""
    from emu.train.experiments import run_all

    res = run_all(steps)
    if as_json:
        click.echo(json.dumps(res, indent=2))
        return
    click.echo(f"{'PL problem, update rounded':42} {'f-f* @200':>10} {'final f-f*':>11} {'stagnant':>9} "
               f"{'q':>7}")
    for r in res["gd"]:
        click.echo(f"{r['experiment']:42} {r['loss_at_200']:>10.3g} {r['final_loss']:>11.3g} "
                   f"{r['stagnant_share']:>9.0%} {r['mean_shrinkage']:>7.3f}")
    click.echo(f"\n{'training config':42} {'loss':>10} {'accuracy':>11} {'stagnant':>9} {'q':>7}")
    for r in res["train"]:
        acc = "-" if r["accuracy"] is None else f"{r['accuracy']:.3f}"
        click.echo(f"{r['experiment']:42} {r['final_loss']:>10.4g} {acc:>11} {r['stagnant_share']:>9.0%} "
                   f"{r['mean_shrinkage']:>7.3f}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--steps", default=400, show_default=True, help="Gradient-descent steps.")
@click.option("--tour", is_flag=True, help="Instead: the same values through FP8 and fixed point.")
@click.option("--plot", "plot_path", type=click.Path(), default=None,
              help="Write the loss curves to this PNG (needs emu[plot]).")
@_threaded
def demo(as_json: bool, steps: int, tour: bool, plot_path) -> None:
    """Gradient descent in s16.8: round-to-nearest stagnates, stochastic rounding converges."""
    if tour:
        from emu.demo import conversion_tour

        data = conversion_tour()
        if as_json:
            click.echo(json.dumps(data, indent=2, allow_nan=True))
            return
        for block in data["blocks"]:
            click.echo(f"\n{block['title']}")
            click.echo(f"{'input':>12} " + " ".join(f"{m:>10}" for m in block["modes"]))
            for row in block["rows"]:
                click.echo(f"{row['input']!r:>12} " + " ".join(f"{c:>10}" for c in row["values"]))
        return
    from emu.train.demo import stagnation_demo

    data = stagnation_demo(steps)
    if plot_path:
        _plot_curves(data, plot_path)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"GD on {data['problem']}, {data['format']}, update rounded, {steps} steps")
    click.echo(f"{'rounding':>20} {'f(x)-f* @50':>12} {'final f-f*':>11} {'stagnant':>9} {'q (shrink)':>10}"
               "   final x")
    for r in data["runs"]:
        name = r["rounding"] + (f" eps={r['eps']}" if r["eps"] else "")
        click.echo(f"{name:>20} {r['loss_at_50']:>12.3g} {r['final_loss']:>11.3g} "
                   f"{r['stagnant_share']:>9.0%} {r['mean_shrinkage']:>10.3f}   "
                   + ", ".join(f"{v:.6g}" for v in r["x"]))
    click.echo("rne freezes a component once |t*g_i| < u/2 (u = 2^-8): x_2 stops ~0.195 from x*_2;"
               " stochastic rounding keeps moving, descent-biased SR-eps fastest.")


if __name__ == "__main__":
    main()


@main.command()
@click.argument("config_path", metavar="CONFIG.toml", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Results directory [default: sweep-<CONFIG stem>].")
@click.option("--scheduler", default=None, help="Use a running Dask scheduler, tcp://HOST:PORT.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Local cluster: worker processes [default: one per core].")
@click.option("--local", "in_process", is_flag=True, help="No Dask: run the tasks one by one here.")
@click.option("--resume", is_flag=True, help="Keep finished tasks in --out and run the rest.")
@click.option("--task-threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Kernel threads inside each task.")
@click.option("--retries", type=click.IntRange(min=0), default=1, show_default=True,
              help="Retries of a task that raised.")
@click.option("--plot", "plot_path", type=click.Path(), default=None,
              help="Write every run's loss curve to this PNG (needs emu[plot]).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def sweep(config_path, out_dir, scheduler, workers, in_process, resume, task_threads, retries,
          plot_path, as_json) -> None:
    """Run a grid of training runs (a sweep file; see emu.train.sweep) on Dask: a local cluster
    on 127.0.0.1 by default. One row per run: options, final loss, accuracy, stagnant share,
    wall time; results also in OUT/results.csv and OUT/results.json."""
    from emu.cluster import DaskMissing
    from emu.train import sweep as sw
    from emu.train.options import read_toml

    if in_process and (scheduler or workers):
        raise click.UsageError("--local runs in this process; drop --scheduler/--workers")
    try:
        tasks = sw.expand(read_toml(config_path), config_path)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    out_dir = out_dir or f"sweep-{Path(config_path).stem}"
    varied = [k for k in sw.OPTIONS if len({json.dumps(t[k]) for t in tasks}) > 1]
    with click.progressbar(length=len(tasks), label=f"{len(tasks)} runs", file=sys.stderr,
                           show_pos=True) as bar:
        def progress(res):
            bar.update(1)
        try:
            results = sw.sweep(tasks, out_dir, resume=resume, scheduler=scheduler, workers=workers,
                               local=in_process, task_threads=task_threads, retries=retries,
                               progress=progress)
        except DaskMissing as err:
            raise click.UsageError(f"{err}; or run with --local") from None
        except (FileExistsError, ValueError) as err:
            raise click.UsageError(str(err)) from None
    if plot_path:
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(6, 4))
        for r in results:
            if r["status"] == "ok":
                ax.semilogy(r["losses"], label=", ".join(f"{k}={r['config'][k]}" for k in varied))
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(plot_path, dpi=100)
        plt.close(fig)
    if as_json:
        click.echo(json.dumps({"results": results}, indent=2))
    else:
        click.echo(" ".join(f"{k:>14}" for k in varied)
                   + f" {'final loss':>11} {'accuracy':>9} {'stagnant':>9} {'wall s':>7}  status")
        for r in results:
            cfg = " ".join(f"{str(r['config'][k]):>14}" for k in varied)
            if r["status"] != "ok":
                click.echo(f"{cfg} {'-':>11} {'-':>9} {'-':>9} {'-':>7}  {r['error']}")
                continue
            acc = "-" if r["accuracy"] is None else f"{r['accuracy']:.4f}"
            click.echo(f"{cfg} {r['final_loss']:>11.5g} {acc:>9} {r['stagnant_share']:>9.1%} "
                       f"{r['wall_s']:>7.2f}  ok")
        click.echo(f"results: {Path(out_dir) / 'results.csv'}, {Path(out_dir) / 'results.json'}")
    if any(r["status"] != "ok" for r in results):
        sys.exit(1)
