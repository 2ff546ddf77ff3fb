"""Loss curves as PNG files: a training history, a sweep's runs, the stagnation demo's GD runs.

matplotlib is optional (``pip install "emu-arith[plot]"``) and imported only here, on first use,
with the non-interactive Agg backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike


def pyplot():
    """matplotlib.pyplot on the Agg backend; ImportError saying how to install it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install 'emu-arith[plot]'") from None
    return plt


def _save(fig, ax, path: str | PathLike, xlabel: str, ylabel: str) -> None:
    plt = pyplot()
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_history(doc: dict, path: str | PathLike) -> None:
    """Loss per epoch of one training run: ``doc`` as in history.json (config, data, epochs)."""
    fig, ax = pyplot().subplots(figsize=(5, 3.5))
    ax.semilogy([e["epoch"] for e in doc["epochs"]], [e["loss"] for e in doc["epochs"]], marker="o")
    c = doc["config"]
    ax.set_title(f"{c['model']} on {doc['data']}: {c['weights']}, {c['rounding']}")
    _save(fig, ax, path, "epoch", "loss")


def plot_sweep(results: Sequence[dict], varied: Sequence[str], path: str | PathLike) -> None:
    """Loss per epoch of every finished run of a sweep (emu.train.sweep results), labelled by
    the options in ``varied``."""
    fig, ax = pyplot().subplots(figsize=(6, 4))
    for r in results:
        if r["status"] == "ok":
            ax.semilogy(r["losses"], label=", ".join(f"{k}={r['config'][k]}" for k in varied))
    ax.legend(fontsize=6)
    _save(fig, ax, path, "epoch", "loss")


def plot_stagnation(data: dict, path: str | PathLike) -> None:
    """f(x) - f* per step of each rounding mode (emu.train.demo.stagnation_demo's result)."""
    fig, ax = pyplot().subplots(figsize=(6, 4))
    for r in data["runs"]:
        label = r["rounding"] + (f" eps={r['eps']}" if r["eps"] else "")
        ax.semilogy([max(v, 1e-12) for v in r["curve"]], label=label)
    ax.set_title(f"GD in {data['format']}: rne stagnates, SR converges")
    ax.legend()
    _save(fig, ax, path, "step", "f(x) - f*")
