"""``emu demo`` and ``emu experiments``."""

from __future__ import annotations

import click

from .common import pyplot, threaded
from .output import check_writable, echo_json, progress


@click.command()
@click.option("--steps", type=click.IntRange(min=201), default=2000, show_default=True,
              help="GD steps for the PL problems (the table reports step 200).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@threaded
def experiments(steps: int, as_json: bool) -> None:
    """The published experiments at small size (Xia et al. 2301.09511 / 2202.12276)."""
    from emu.train.experiments import GD_MODES, PL_PROBLEMS, configs, run_all

    with progress(PL_PROBLEMS * len(GD_MODES) + len(configs()), "experiments", quiet=as_json) as advance:
        res = run_all(steps, progress=lambda done, total: advance(done))
    if as_json:
        echo_json(res)
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
               "q = <g_hat, g>/|g|^2, the step taken against the step asked for (Yun 2025), mean.")
    click.echo("rne freezes a component once |t*g_i| < u/2 (u = 2^-8): x_2 stops ~0.195 from x*_2;"
               " stochastic rounding keeps moving, descent-biased SR-eps fastest.")
