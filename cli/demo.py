"""``emu demo`` and ``emu experiments``."""

from __future__ import annotations

from pathlib import Path

import click

from .common import pyplot, threaded
from .output import check_writable, echo_json, status


class _PresetsListed(click.Command):
    """Lists the presets under --help, read only then (the catalogue imports the training
    engine, numba included, which `emu --help` must not)."""

    def format_epilog(self, ctx, formatter) -> None:
        from emu.train.experiments import PRESETS

        formatter.write_paragraph()
        formatter.write_text("Presets:")
        with formatter.indentation():
            formatter.write_dl([(name, what) for name, (_, what) in PRESETS.items()])


@click.command(cls=_PresetsListed)
@click.argument("preset", metavar="PRESET")
@click.option("--quick", is_flag=True, help="The small size (what CI runs), seconds to minutes.")
@click.option("--seeds", type=click.IntRange(min=2), default=None,
              help="Run seeds 1..N for every stochastic figure [default: the preset's, >= 16].")
@click.option("--out", "out_dir", type=click.Path(), default=None,
              help="Results directory: results.csv, table.md, figure.png, result.json "
              "[default: experiments-PRESET].")
@click.option("--force", is_flag=True, help="Replace an existing experiment directory at --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@threaded
def experiments(preset: str, quick: bool, seeds: int | None, out_dir, force: bool,
                as_json: bool) -> None:
    """Reproduce a published result: one command per table and figure, every stochastic figure
    a mean ± standard error over independent run seeds (emu.train.derive_seed)."""
    from emu.outdir import OutputError, staged
    from emu.train.experiments import PRESETS, run_preset
    from emu.train.experiments.report import as_json as result_json
    from emu.train.experiments.report import markdown, write

    if preset not in PRESETS:
        raise click.UsageError(f"unknown preset {preset!r}; valid: {', '.join(PRESETS)}")
    from emu.train.plots import pyplot as load_pyplot

    try:
        load_pyplot()  # the one place matplotlib is loaded
        png = True
    except ImportError as err:
        png = False
        click.echo(f"note: figure.png skipped ({err})", err=True)
    command = f"emu experiments {preset}" + (" --quick" if quick else "") + (
        f" --seeds {seeds}" if seeds else "")
    if out_dir == "":
        raise click.UsageError("--out is empty: give a directory (or leave --out out)")
    out_dir = out_dir or f"experiments-{preset}"
    try:
        with staged(out_dir, "experiment", force) as tmp:
            say = status(quiet=as_json)
            result = run_preset(preset, quick, seeds,
                                progress=lambda done, total: say(f"{preset}: {done}/{total} runs"))
            files = write(result, tmp, command, png)
    except OutputError as err:  # the directory; an error inside a run is a bug, not a usage error
        raise click.UsageError(str(err)) from None
    if as_json:
        echo_json(result_json(result))
        return
    click.echo(markdown(result, command))
    click.echo("wrote " + ", ".join(str(Path(out_dir) / f.name) for f in files))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--steps", type=click.IntRange(min=51), default=400, show_default=True,
              help="Gradient-descent steps (the table reports step 50).")
@click.option("--tour", is_flag=True, help="Instead: the same values through FP8 and fixed point.")
@click.option("--plot", "plot_path", type=click.Path(), default=None,
              help="Write the loss curves to this PNG (needs emu-arith[plot]).")
@threaded
def demo(as_json: bool, steps: int, tour: bool, plot_path) -> None:
    """Gradient descent in s16.8: round-to-nearest stagnates, stochastic rounding converges."""
    if tour:
        from emu.demo import conversion_tour

        data = conversion_tour()
        if as_json:
            echo_json(data)
            return
        for block in data["blocks"]:
            click.echo(f"\n{block['title']}")
            click.echo(f"{'input':>12} " + " ".join(f"{m:>10}" for m in block["modes"]))
            for row in block["rows"]:
                click.echo(f"{row['input']!r:>12} " + " ".join(f"{c:>10}" for c in row["values"]))
        return
    from emu.train.demo import stagnation_demo
    from emu.train.plots import plot_stagnation

    if plot_path:
        pyplot()  # matplotlib missing or a bad path: say so before the work
        check_writable(plot_path)
    data = stagnation_demo(steps)
    if plot_path:
        plot_stagnation(data, plot_path)
    if as_json:
        echo_json(data)
        return
    click.echo(f"GD on {data['problem']}, {data['format']}, update rounded, {steps} steps")
    names = [r["rounding"] + (f" eps={r['eps']}" if r["eps"] else "") for r in data["runs"]]
    w = max(len("rounding"), *map(len, names))
    click.echo(f"{'rounding':>{w}} {'f(x)-f* @50':>12} {'final f-f*':>11} {'stagnant':>9} "
               f"{'q (shrink)':>10}   final x")
    for name, r in zip(names, data["runs"], strict=True):
        click.echo(f"{name:>{w}} {r['loss_at_50']:>12.3g} {r['final_loss']:>11.3g} "
                   f"{r['stagnant_share']:>9.0%} {r['mean_shrinkage']:>10.3f}   "
                   + ", ".join(f"{v:.6g}" for v in r["x"]))
    click.echo("stagnant: share of components the rounded update left unchanged; q (shrink): "
               "q = <g_hat, g*>/|g*|^2, the step taken against the float64 gradient (Yun 2025), mean.")
    click.echo("rne freezes a component once |t*g_i| < u/2 (u = 2^-8): x_2 stops ~0.195 from x*_2;"
               " stochastic rounding keeps moving, descent-biased SR-eps fastest.")
