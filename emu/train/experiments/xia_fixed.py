"""`emu experiments xia-fixed`: Xia, Hochstenbach, Massei (arXiv 2301.09511), gradient descent
in fixed point on problems satisfying the Polyak-Lojasiewicz inequality, the update rounded once.

x_{k+1} = fl(x_k - t grad f(x_k)) in s16.8 (u = 2^-8; SEEDS.md's setting; the abstract and the
summaries available to us do not state the paper's word length), the gradient exact (float64),
the update rounded by RN (rne), SR, SR_eps (the neighbour farther from zero favoured by eps) or
signed SR_eps (the neighbour in the descent direction d = -sign(g) favoured by eps), eps in
{0.1, 0.2, 0.4}, r = 8 random bits (eps realised as round(eps * 2^8) / 2^8). Problems: the
quadratic of SEEDS.md, Rosenbrock, Himmelblau and a least-squares problem (PL with
mu = 1/cond^2). Then the small fixed-point network: the MLP of emu.train.linear on the 8x8
digits, 8-bit weights (s8.6), RN vs SR vs signed SR_eps for the update.

Each stochastic mode runs seeds 1..N together: the iterate of run seed s is column s of one
register array and lane s of one LFSR bank (start state derive_seed(s)); a lane serves its
column's elements in order, so every run is bit for bit ``run_gd(..., seed=derive_seed(s))``
(tested) at the engine cost of one run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine import PrecisionPolicy
from ..gd import gd_runs
from ..problems import SEEDS_QUADRATIC, Himmelblau, LeastSquares, Rosenbrock
from .report import Curve, Estimate, Panel, Result, rng_seed, run_seeds, seeded

TITLE = "Gradient descent in fixed point: RN stagnates, SR converges, signed SR_eps is faster"
SOURCE = ("Xia, Hochstenbach, Massei, arXiv 2301.09511 (J. Optim. Theory Appl. 2025): gradient "
          "descent with stochastic fixed-point rounding errors under the PL inequality")
SEEDS = 16
FMT = "s16.8"
EPS = (0.1, 0.2, 0.4)
MODES = [("rne", 0.0), ("sr", 0.0)] + [("sr_eps", e) for e in EPS] + \
    [("signed_sr_eps", e) for e in EPS]
TAIL = 0.2  # the last 20% of the steps: the floor (tail loss) and the stagnant share


@dataclass(frozen=True)
class Problem:
    name: str
    label: str
    problem: object
    x0: tuple
    lr: float
    k: int            # the early step of the table (the transient)
    quick: int        # steps at quick size
    full: int         # steps at full size


def problems() -> list[Problem]:
    """The PL problems, their starts and step sizes (those of the old gd_problems, plus least
    squares)."""
    return [
        Problem("quadratic", "quadratic, lambda=(1, 0.1), x*=(0.3, 0.7), x0=(2, 2), t=0.1",
                SEEDS_QUADRATIC, (2.0, 2.0), 0.1, 100, 300, 1500),
        Problem("rosenbrock", "Rosenbrock, x0=(-0.5, 0.5), t=0.001", Rosenbrock(), (-0.5, 0.5),
                0.001, 200, 300, 3000),
        Problem("himmelblau", "Himmelblau, x0=(1, 1), t=0.005", Himmelblau(), (1.0, 1.0), 0.005,
                25, 100, 500),
        Problem("least_squares", "least squares, d=8, cond=10, w0=0, t=0.5",
                LeastSquares.make(), (0.0,) * 8, 0.5, 50, 150, 1000),
    ]


def label(mode: str, eps: float) -> str:
    return f"{mode} {eps:g}" if eps else mode


def _tail(a: np.ndarray) -> np.ndarray:
    return a[-max(1, int(round(TAIL * len(a)))):]


def _est(values) -> Estimate:
    return Estimate.of(np.asarray(values, np.float64))


def _stride(steps: int, points: int = 300) -> np.ndarray:
    """The steps a curve keeps (at most about ``points``, always 0 and the last)."""
    return np.unique(np.r_[np.arange(0, steps + 1, max(1, steps // points)), steps])


# --- the small fixed-point network --------------------------------------------------------------
NET_MODES = [("rne", 0.0), ("sr", 0.0), ("signed_sr_eps", 0.2)]


def net_config(quick: bool) -> dict:
    """The MLP: 8-bit weights s8.6 (u = 2^-6), activations s16.8, gradients s16.14 (so the
    update's rounding is what differs), 16 hidden units, batches of 32, t = 0.1."""
    return {"model": "mlp", "weights": "s8.6", "activations": "s16.8", "grads": "s16.14",
            "lr": 0.1, "hidden": 16, "batch": 32, "epochs": 2 if quick else 3}


def _net_runs(quick: bool, seeds: int, tick) -> dict:
    from ..data import load_split
    from ..linear import TrainConfig, train

    tr, te = load_split("digits", train_size=256 if quick else None)  # the digits' fixed split
    out = {}
    for mode, eps in NET_MODES:
        runs = []
        for s in run_seeds(seeds):
            cfg = TrainConfig(rounding=mode, eps=eps, seed=s, rng_seed=rng_seed(s),
                              **net_config(quick))
            runs.append(train(tr, cfg, test=te)[1])
            tick(1)
        out[(mode, eps)] = runs
    return out


# --- the preset ---------------------------------------------------------------------------------
COLUMNS = ["problem", "mode", "k", "loss @k", "final loss", "tail loss", "stagnant", "q",
           "accuracy", "test accuracy", "loss - sr (paired)"]


def run(quick: bool = False, seeds: int = SEEDS, progress=None) -> Result:
    probs = problems()
    total = len(probs) * (1 + (len(MODES) - 1) * seeds) + len(NET_MODES) * seeds
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    res = Result("xia-fixed", TITLE, SOURCE, COLUMNS, size="quick" if quick else "full",
                 seeds=seeds)
    for p in probs:
        steps = p.quick if quick else p.full
        res.panels[p.name] = Panel(f"{p.label}, {FMT}, update rounded", "step", "f(x_k) - f*")
        keep = _stride(steps)
        for mode, eps in MODES:
            ids = [1] if mode == "rne" else run_seeds(seeds)  # rne draws nothing: one run
            x0, rng = seeded(p.x0, ids)
            r = gd_runs(p.problem, x0, p.lr, steps,
                        PrecisionPolicy(FMT, "update", update=mode, eps=eps), rng)
            tick(len(ids))
            res.curves.append(Curve(p.name, label(mode, eps), keep, r.loss[keep].T))
            res.row(problem=p.name, mode=label(mode, eps), k=p.k, **{
                "loss @k": _est(r.loss[p.k]), "final loss": _est(r.loss[-1]),
                "tail loss": _est(_tail(r.loss[1:]).mean(axis=0)),
                "stagnant": _est(_tail(r.stagnant).mean(axis=0)),
                "q": _est(np.nanmean(r.shrinkage, axis=0))})

    nets = _net_runs(quick, seeds, tick)
    cfg = net_config(quick)
    name = "mlp_digits"
    res.panels[name] = Panel(f"MLP on digits, weights {cfg['weights']}, t = {cfg['lr']}",
                             "epoch", "training loss", logy=False)
    sr_loss = np.array([h.epochs[-1]["loss"] for h in nets[("sr", 0.0)]])
    for (mode, eps), hists in nets.items():
        last = [h.epochs[-1] for h in hists]
        loss = np.array([e["loss"] for e in last])
        res.curves.append(Curve(name, label(mode, eps), np.arange(cfg["epochs"] + 1),
                                [[e["loss"] for e in h.epochs] for h in hists]))
        res.row(problem=name, mode=label(mode, eps), k="-", **{
            "final loss": _est(loss), "stagnant": _est([e["stagnant_share"] for e in last]),
            "q": _est([np.nanmean([s["shrinkage"] for s in h.steps]) for h in hists]),
            "accuracy": _est([e["accuracy"] for e in last]),
            "test accuracy": _est([e["test_accuracy"] for e in last]),
            "loss - sr (paired)": None if mode == "sr" else _est(loss - sr_loss)})

    res.notes += [
        f"PL problems: {FMT} (u = 2^-8), x <- fl(x - t g) rounded once, g exact (float64); r = 8 "
        "random bits (eps realised as round(eps * 256) / 256); rne deterministic (one run).",
        "loss: f(x_k) - f*; tail loss and stagnant: mean over the last 20% of the steps of each "
        "run; q: the mean over the steps of <g_hat, g>/|g|^2 (Yun's shrinkage; > 1 where the "
        "biased rounding moves further than asked).",
        "sr_eps favours the neighbour farther from zero: a descent bias only where descent moves "
        "away from zero (Rosenbrock's approach to (1, 1) from below), an ascent bias where it "
        "moves toward zero (the quadratic from x0 = (2, 2) > x*: a step below eps u rounds back "
        "onto x, which freezes above x*); signed_sr_eps favours the descent direction -sign(g).",
        f"mlp_digits: emu.train.linear MLP, {cfg['hidden']} hidden units, weights "
        f"{cfg['weights']}, activations {cfg['activations']}, gradients {cfg['grads']}, update "
        f"rounded once, t = {cfg['lr']}, batch {cfg['batch']}, {cfg['epochs']} epochs on "
        + ("the first 256 training digits" if quick else "the digits' training split (1,438)")
        + "; accuracy on the training set, test accuracy on the held-out 359; seed s sets the "
        "initial weights and data order for every mode, so 'loss - sr' is paired by seed.",
    ]
    return res
