"""``emu bench``: kernel throughput beside the reference libraries."""

from __future__ import annotations

import sys

import click

from .common import threaded
from .output import echo_json, status


def _rate(v: float) -> str:
    return f"{v:.0f}" if v >= 10 else f"{v:.3g}"


@click.command()
@click.option("--size", type=click.IntRange(min=1), default=10_000_000, show_default=True,
              help="Elements per job.")
@click.option("--repeat", type=click.IntRange(min=1), default=7, show_default=True,
              help="Timed runs per job (median).")
@click.option("--quick", is_flag=True, help="Small smoke run (sizes 100k, 3 repeats; kernels: a "
              "600-sample MNIST-shaped epoch; blocks: a 64-row matmul).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--job", type=click.Choice(["kernels", "blocks", "mnist-epoch"]), default="kernels",
              show_default=True, help="kernels: the suite (its last row one softmax e4m3 sr epoch on "
              "MNIST-shaped data, 60k samples at the default size, fewer below it); blocks: MX "
              "block formats (MXFP8 and MXFP4 quantization beside gfloat and torchao where "
              "installed, an MXFP8 matmul); "
              "mnist-epoch: one training epoch per row on 60k x 784 synthetic MNIST-shaped data "
              "(--size samples, at most 60k; minutes).")
@threaded
def bench(size, repeat, quick, as_json, job) -> None:
    """Throughput of the kernels beside the reference libraries and a same-run ceiling."""
    from emu.bench import run_suite

    if quick:  # kernels: its MNIST-shaped epoch scales with size (600 samples)
        size, repeat = (640 if job == "mnist-epoch" else 100_000), 3
    jobs = run_suite(size=size, repeat=repeat, progress=status(quiet=as_json), job=job)
    if as_json:
        echo_json({"jobs": jobs})
        return
    t = jobs[0]["threads"]
    click.echo(f"{t} thread{'s' * (t > 1)}, and 1 (speedup: {t} threads over 1); references run on "
               "one thread; ceiling: measured in the same run on the same threads (copy: a numba "
               "loop of the same types into a reused output; +alloc: into a fresh output per "
               "call, as emu allocates; peer: another emu path); %: emu / ceiling")
    w = max([50] + [len(j["job"]) for j in jobs])
    cw = max([7] + [len(j["ceiling"] or "") for j in jobs])
    click.echo(f"{'job':{w}} {f'emu {t}T':>9} {'1T':>9} {f'{t}T/1T':>7} {'reference':>10} "
               f"{'ref':>9} {'ratio':>7} {'ceiling':>{cw}} {'ceil':>9} {'%ceil':>6} "
               f"{'+alloc':>9} {'%alloc':>6} {'bit-exact':>9}")
    for j in jobs:
        ratio = (f"{j['ratio']:.1f}x" if j["ratio"] < 1000 else f"{j['ratio']:.0f}x") \
            if j["ratio"] else "-"
        agree = {True: "yes", False: "NO", None: "-"}[j["agrees"]]
        click.echo(f"{j['job']:{w}} {_rate(j['emu_melem_s']):>9} {_rate(j['emu_1thread_melem_s']):>9} "
                   f"{j['speedup']:>6.2f}x {j['reference'] or '-':>10} "
                   f"{_opt(j['reference_melem_s']):>9} {ratio:>7} {j['ceiling'] or '-':>{cw}} "
                   f"{_opt(j['ceiling_melem_s']):>9} {_pct(j['ceiling_fraction']):>6} "
                   f"{_opt(j['ceiling_alloc_melem_s']):>9} {_pct(j['ceiling_alloc_fraction']):>6} "
                   f"{agree:>9}")
    for j in jobs:
        if "epoch_s" in j:
            one = j["samples"] / j["emu_1thread_melem_s"] / 1e6
            click.echo(f"{j['job']}: {j['epoch_s']:.3g} s per epoch on {t} thread{'s' * (t > 1)}, "
                       f"{one:.3g} s on 1")
    if any(j["agrees"] is False for j in jobs):
        sys.exit(1)


def _opt(v) -> str:
    return _rate(v) if v else "-"


def _pct(v) -> str:
    return f"{100 * v:.0f}%" if v is not None else "-"
