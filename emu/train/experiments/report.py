"""What a preset of `emu experiments` returns, and its three files: mean ± standard error over
run seeds (docs/semantics.md §11.2), a CSV, a markdown table and a PNG with ±SE bands.

A preset fills a ``Result``: table rows (strings, numbers, or ``Estimate``s over the run seeds)
and ``Curve``s (one line per setting: every run's values at the same x, drawn as the mean with
a band of one standard error). ``write`` puts results.csv, table.md, figure.png and
result.json into an output directory (atomically, each file).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...jsonfile import dumps
from ...lfsr import LFSR
from ..seeds import derive_seed

DEFAULT_SEEDS = 16  # every stochastic figure is a mean over at least this many runs


@dataclass(frozen=True)
class Estimate:
    """The mean of n runs' values and its standard error s / sqrt(n) (s with n - 1); one run
    has se 0 here and no standard error in the files (null in JSON, empty in CSV)."""

    mean: float
    se: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Estimate:
        v = np.asarray(values, np.float64)
        if v.size == 0:
            raise ValueError("an estimate needs at least one value")
        se = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else 0.0
        return cls(float(v.mean()), se, int(v.size))

    def __str__(self) -> str:
        if self.n == 1:  # one run (a deterministic mode): no standard error to show
            return f"{self.mean:.3g}"
        return f"{self.mean:.3g} ± {self.se:.2g}"


@dataclass
class Curve:
    """One line of a figure: ``runs[i, j]`` is run i's value at ``x[j]``."""

    panel: str
    label: str
    x: np.ndarray
    runs: np.ndarray

    def __post_init__(self):
        self.x = np.asarray(self.x, np.float64)
        self.runs = np.atleast_2d(np.asarray(self.runs, np.float64))
        if self.runs.shape[1] != self.x.size:
            raise ValueError(f"curve {self.label!r}: {self.runs.shape[1]} values per run for "
                             f"{self.x.size} x positions")

    @property
    def mean(self) -> np.ndarray:
        return self.runs.mean(axis=0)

    @property
    def se(self) -> np.ndarray:
        n = self.runs.shape[0]
        return self.runs.std(axis=0, ddof=1) / math.sqrt(n) if n > 1 else np.zeros(self.x.size)


@dataclass(frozen=True)
class Panel:
    """Axes of one subplot."""

    title: str
    xlabel: str
    ylabel: str
    logx: bool = False
    logy: bool = True


@dataclass
class Result:
    """A preset's outcome. ``rows``: the table, one dict per row with the keys of ``columns``;
    ``panels``: the figure's subplots by name (each curve names its panel)."""

    preset: str
    title: str
    source: str
    columns: list[str]
    rows: list[dict] = field(default_factory=list)
    curves: list[Curve] = field(default_factory=list)
    panels: dict[str, Panel] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    size: str = "full"
    seeds: int = DEFAULT_SEEDS

    def row(self, **values) -> None:
        unknown = sorted(set(values) - set(self.columns))
        if unknown:
            raise ValueError(f"{self.preset}: row keys {unknown} are not columns {self.columns}")
        self.rows.append(values)

    def find(self, **match) -> dict:
        """The one row whose entries equal ``match`` (for tests and notes)."""
        hits = [r for r in self.rows if all(r.get(k) == v for k, v in match.items())]
        if len(hits) != 1:
            raise KeyError(f"{self.preset}: {len(hits)} rows match {match}")
        return hits[0]



def run_seeds(n: int) -> list[int]:
    """Run seeds 1..n (their LFSR start states: ``rng_seed``)."""
    return list(range(1, n + 1))


def rng_seed(run_seed: int) -> int:
    """The LFSR start state of run ``run_seed`` (emu.train.derive_seed)."""
    return derive_seed(run_seed)


def seeded(x0, seeds: Sequence[int]) -> tuple[np.ndarray, LFSR]:
    """The start of a batched run (emu.train.gd.gd_runs) of run seeds ``seeds``: ``x0`` in one
    column per run, and the LFSR bank whose lane j starts at rng_seed(seeds[j])."""
    x0 = np.asarray(x0, np.float64)
    return np.repeat(x0[:, None], len(seeds), axis=1), LFSR(seeds=[rng_seed(s) for s in seeds])



# --- files ------------------------------------------------------------------------------------
def _cell(v) -> str:
    if isinstance(v, Estimate):
        return str(v)
    if isinstance(v, float):
        return f"{v:.4g}"
    return "-" if v is None else str(v)


def markdown(result: Result, command: str | None = None) -> str:
    """The table as GitHub markdown; Estimates as mean ± SE."""
    lines = [f"**{result.title}** ({result.source}; {result.size} size, "
             f"mean ± standard error over {result.seeds} run seeds where stochastic)", ""]
    if command:
        lines += [f"`{command}`", ""]
    lines += ["| " + " | ".join(result.columns) + " |",
              "|" + "|".join("---" for _ in result.columns) + "|"]
    lines += ["| " + " | ".join(_cell(r.get(c)) for c in result.columns) + " |" for r in result.rows]
    lines += [""] + [f"- {n}" for n in result.notes]
    return "\n".join(lines).rstrip() + "\n"


def csv_text(result: Result) -> str:
    """One line per row; an Estimate column becomes <name>_mean, <name>_se, <name>_n."""
    est = [c for c in result.columns if any(isinstance(r.get(c), Estimate) for r in result.rows)]
    header = [x for c in result.columns
              for x in ((f"{c}_mean", f"{c}_se", f"{c}_n") if c in est else (c,))]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in result.rows:
        line = []
        for c in result.columns:
            v = r.get(c)
            if c in est:
                line += ([v.mean, v.se if v.n > 1 else "", v.n] if isinstance(v, Estimate)
                         else [v, "", ""])
            else:
                line.append("" if v is None else v)
        w.writerow([repr(x) if isinstance(x, float) else x for x in line])
    return buf.getvalue()


def as_json(result: Result) -> dict:
    def val(v):
        if isinstance(v, Estimate):
            return {"mean": v.mean, "se": v.se if v.n > 1 else None, "n": v.n}
        return v

    return {"preset": result.preset, "title": result.title, "source": result.source,
            "size": result.size, "seeds": result.seeds, "columns": result.columns,
            "rows": [{c: val(r.get(c)) for c in result.columns} for r in result.rows],
            "curves": [{"panel": c.panel, "label": c.label, "x": c.x.tolist(),
                        "mean": c.mean.tolist(), "se": c.se.tolist()} for c in result.curves],
            "notes": result.notes}


def figure(result: Result, path: str | Path) -> None:
    """Each panel a subplot; each curve its mean with a band of ± one standard error."""
    from ..plots import pyplot

    plt = pyplot()
    names = list(result.panels)
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.8), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        p = result.panels[name]
        for c in (c for c in result.curves if c.panel == name):
            m, se = c.mean, c.se
            lo = np.maximum(m - se, m / 10) if p.logy else m - se  # a log axis has no room below 0
            (line,) = ax.plot(c.x, m, label=c.label)
            ax.fill_between(c.x, lo, m + se, color=line.get_color(), alpha=0.2, linewidth=0)
        ax.set_xscale("log" if p.logx else "linear")
        xs = sorted({float(v) for c in result.curves if c.panel == name for v in c.x})
        if p.logx and len(xs) <= 8:  # a few sizes (d = 16, 64, 256): label them, not decades
            ax.set_xticks(xs, [f"{v:g}" for v in xs])
            ax.minorticks_off()
        ax.set_yscale("log" if p.logy else "linear")
        ax.set_title(p.title, fontsize=9)
        ax.set_xlabel(p.xlabel)
        ax.set_ylabel(p.ylabel)
        ax.legend(fontsize=6)
    fig.suptitle(f"{result.title} ({result.size}, {result.seeds} seeds)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write(result: Result, directory: Path, command: str | None = None,
          png: bool = True) -> list[Path]:
    """results.csv, table.md, result.json and (``png``) figure.png in ``directory``."""
    from ...outdir import write_atomic

    directory = Path(directory)
    files = {"results.csv": csv_text(result), "table.md": markdown(result, command),
             "result.json": dumps(as_json(result), indent=1) + "\n"}
    out = []
    for name, text in files.items():
        write_atomic(directory / name, text)
        out.append(directory / name)
    if png and result.curves:
        tmp = directory / ".figure.tmp.png"  # the suffix tells matplotlib the format
        figure(result, tmp)
        tmp.replace(directory / "figure.png")
        out.append(directory / "figure.png")
    return out
