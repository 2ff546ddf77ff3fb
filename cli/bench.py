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
@click.option("--quick", is_flag=True, help="Small smoke run (sizes 100k, 3 repeats; blocks: a "
              "64-row matmul).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--job", type=click.Choice(["kernels", "blocks", "mnist-epoch"]), default="kernels",
              show_default=True, help="kernels: the suite; blocks: MX block formats (MXFP8 and "
              "MXFP4 quantization beside gfloat and torchao where installed, an MXFP8 matmul); "
              "mnist-epoch: one training epoch per row on 60k x 784 synthetic MNIST-shaped data "
              "(--size samples, at most 60k; minutes).")
@threaded
def bench(size, repeat, quick, as_json, job) -> None:
    """Throughput of the kernels beside the reference libraries and a memory-copy ceiling."""
    from emu.bench import run_suite

    if quick:
        size, repeat = (640 if job == "mnist-epoch" else 100_000), 3
    jobs = run_suite(size=size, repeat=repeat, progress=status(quiet=as_json), job=job)
    if as_json:
        echo_json({"jobs": jobs})
        return
    t = jobs[0]["threads"]
    click.echo(f"{t} thread{'s' * (t > 1)} (1-thread rate and speedup beside it); references run on one "
               "thread; ceiling: a numba copy loop of the same types on the same threads")
    w = max([50] + [len(j["job"]) for j in jobs])
    click.echo(f"{'job':{w}} {'emu Melem/s':>12} {'1 thread':>9} {'speedup':>8} {'reference':>10} "
               f"{'ref Melem/s':>12} {'ratio':>7} {'ceiling':>9} {'%ceil':>6} {'bit-exact':>9}")
    for j in jobs:
        ref = j["reference"] or "-"
        rr = _rate(j["reference_melem_s"]) if j["reference_melem_s"] else "-"
        ratio = (f"{j['ratio']:.1f}x" if j["ratio"] < 1000 else f"{j['ratio']:.0f}x") \
            if j["ratio"] else "-"
        pct = f"{100 * j['emu_melem_s'] / j['ceiling_melem_s']:.0f}%" if j["ceiling_melem_s"] else "-"
        ceil = f"{j['ceiling_melem_s']:.0f}" if j["ceiling_melem_s"] else "-"
        agree = {True: "yes", False: "NO", None: "-"}[j["agrees"]]
        click.echo(f"{j['job']:{w}} {_rate(j['emu_melem_s']):>12} {_rate(j['emu_1thread_melem_s']):>9} "
                   f"{j['speedup']:>7.2f}x {ref:>10} {rr:>12} {ratio:>7} {ceil:>9} {pct:>6} "
                   f"{agree:>9}")
    if any(j["agrees"] is False for j in jobs):
        sys.exit(1)
