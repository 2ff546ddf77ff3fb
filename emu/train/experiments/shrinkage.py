"""`emu experiments shrinkage`: Yun (arXiv 2508.07142), low precision as gradient shrinkage.

Yun models a quantized gradient as q_k g_k plus zero-mean noise, q_k in (0, 1]: the step size mu
becomes mu q_k, convergence slows by 1/q_min and the error floor rises with the quantization
noise. Here the gradient of a PL problem is rounded into a low-precision format (RN, SR, or
SR_eps as 2202.12276 rounds gradients) and everything else is near exact: the iterate lives in
fp32 and moves by the engine's every_op rule (s = fl(t g), x = fl(x - s), rne in fp32), so q is
what the gradient's format costs. q_k = <g_hat, g*>/|g*|^2 per step and run, g_hat the step
taken over t, g* the float64 gradient (StepStats.shrinkage, docs/semantics.md §11.1).

Problem: f(x) = 1/2 sum lambda_i (x_i - x*_i)^2 in 16 dimensions, lambda geometric from 1 to 0.1
(L = 1, mu = 0.1), x* uniform in [-1, 1] (numpy default_rng(0), 6 decimals), x0 = 0, t = 0.5:
gradient components spread over decades, as in a network. Formats: fixed point s16.F (F
fraction bits) and 8-bit floats eXmY (X exponent bits: the underflow threshold). Then the
rescaling Yun's model suggests: t / q_bar with q_bar RN's mean q over the first K steps, against
float64 gradient descent at t, and Yun's prediction itself, float64 GD at t q_bar.
"""

from __future__ import annotations

import numpy as np

from ..engine import PrecisionPolicy
from ..gd import gd64_runs, gd_runs
from ..problems import Quadratic
from .report import Curve, Estimate, Panel, Result, run_seeds, seeded

TITLE = "Gradient shrinkage q of low-precision gradients, and the step-size rescaling t / q"
SOURCE = ("Yun, arXiv 2508.07142: SGD convergence under gradient shrinkage in low-precision "
          "training")
SEEDS = 16
LR = 0.5
K = 50            # the transient: q_bar is the mean over steps 1..K, the loss compared at K
EPS = 0.2         # SR_eps for the gradient (2202.12276)
MODES = [("rne", 0.0), ("sr", 0.0), ("sr_eps", EPS)]
FIXED = ("s16.2", "s16.4", "s16.6", "s16.8", "s16.10", "s16.12")
FLOATS = ("e2m5", "e3m4", "e4m3", "e5m2")
ITERATE = "fp32"


def problem(n: int = 16) -> Quadratic:
    rng = np.random.default_rng(0)
    return Quadratic(tuple(np.geomspace(1.0, 0.1, n)),
                     tuple(float(v) for v in np.round(rng.uniform(-1, 1, n), 6)))


def fp64_gd(prob: Quadratic, lr: float, steps: int) -> np.ndarray:
    """f(x_k) - f*, k = 0..steps, of gradient descent in float64 from x0 = 0."""
    return gd64_runs(prob, np.zeros((len(prob.lambdas), 1)), lr, steps)[:, 0]


def formats(quick: bool) -> tuple[str, ...]:
    return (FIXED[:-1] if quick else FIXED) + FLOATS


def bits(fmt: str) -> str:
    """What the sweep varies: fraction bits of s16.F, exponent bits of an 8-bit eXmY."""
    return f"F = {fmt.split('.')[1]}" if fmt.startswith("s") else f"{fmt[1]} exponent bits"


def label(mode: str, eps: float) -> str:
    return f"{mode} {eps:g}" if eps else mode


COLUMNS = ["gradients", "varies", "mode", "q (steps 1..K)", "loss @K", "final loss",
           "fp64 at t*q: loss @K", "t / q", "loss @K at t/q", "final loss at t/q"]


def run(quick: bool = False, seeds: int = SEEDS, progress=None) -> Result:
    prob = problem()
    x0 = (0.0,) * len(prob.lambdas)
    steps = 100 if quick else 300
    fmts = formats(quick)
    policy = PrecisionPolicy(ITERATE, "every_op")
    total = len(fmts) * (2 + (len(MODES) - 1) * seeds)
    done = 0
    res = Result("shrinkage", TITLE, SOURCE, COLUMNS, size="quick" if quick else "full",
                 seeds=seeds)
    x = np.arange(steps + 1)
    ref = fp64_gd(prob, LR, steps)
    res.row(gradients="float64", varies="-", mode="exact", **{
        "q (steps 1..K)": 1.0, "loss @K": float(ref[K]), "final loss": float(ref[-1])})
    res.panels["loss_rn"] = Panel(f"RN gradients, t = {LR}", "step", "f(x_k) - f*")
    res.panels["q_rn"] = Panel("RN gradients: shrinkage q_k", "step", "q_k", logy=False)
    res.panels["loss_sr"] = Panel(f"SR gradients, t = {LR}", "step", "f(x_k) - f*")
    res.panels["loss_rescaled"] = Panel("RN gradients at t / q_bar", "step", "f(x_k) - f*")
    for panel in ("loss_rn", "loss_sr", "loss_rescaled"):
        res.curves.append(Curve(panel, f"float64, t = {LR}", x, [ref]))
    for fmt in fmts:
        rn_q = None
        for mode, eps in MODES:
            ids = [1] if mode == "rne" else run_seeds(seeds)  # rne draws nothing: one run
            start, rng = seeded(x0, ids)
            r = gd_runs(prob, start, LR, steps, policy, rng, grad_rounding=(fmt, mode, eps))
            done += len(ids)
            if progress:
                progress(done, total)
            q = np.nanmean(r.shrinkage[:K], axis=0)
            row = {"gradients": fmt, "varies": bits(fmt), "mode": label(mode, eps),
                   "q (steps 1..K)": Estimate.of(q), "loss @K": Estimate.of(r.loss[K]),
                   "final loss": Estimate.of(r.loss[-1]),
                   "fp64 at t*q: loss @K": float(fp64_gd(prob, LR * q.mean(), K)[K])}
            if mode == "rne":
                rn_q = float(q[0])
                res.curves.append(Curve("loss_rn", fmt, x, r.loss.T))
                res.curves.append(Curve("q_rn", fmt, x[1:], r.shrinkage.T))
                lr2 = LR / rn_q
                start, rng = seeded(x0, [1])
                r2 = gd_runs(prob, start, lr2, steps, policy, rng, grad_rounding=(fmt, mode, eps))
                done += 1
                if progress:
                    progress(done, total)
                res.curves.append(Curve("loss_rescaled", f"{fmt}, t = {lr2:.3g}", x, r2.loss.T))
                row.update({"t / q": lr2, "loss @K at t/q": float(r2.loss[K, 0]),
                            "final loss at t/q": float(r2.loss[-1, 0])})
            elif mode == "sr":
                res.curves.append(Curve("loss_sr", fmt, x, r.loss.T))
            res.row(**row)
    res.notes += [
        f"Problem: 16-dimensional quadratic, lambda geometric in [0.1, 1], x0 = 0, t = {LR}, "
        f"{steps} steps; the gradient (float64) rounded into the listed format, the iterate "
        f"and the update in {ITERATE} (rne); r = 8 random bits; rne deterministic (one run).",
        f"q: the mean over steps 1..K = {K} of q_k = <g_hat, g*>/|g*|^2 (g_hat = step taken / t, "
        "g* the float64 gradient). fp64 at t*q: float64 gradient descent with the shrunken step "
        "t q_bar, Yun's model of the run. t / q: RN rerun with the step rescaled by RN's q_bar.",
        "RN's q_k is no constant scale: it starts near 1 and falls as gradient components drop "
        "into the dead zone of the format (|g_i| below half its grid step near 0: 2^-F-1 for "
        "s16.F, half the smallest subnormal for eXmY), where they round to 0 for any step size "
        "(panel q_rn).",
        f"sr_eps (eps = {EPS}) favours the larger magnitude (2202.12276): q > 1, outside Yun's "
        "(0, 1]. With t / q > 2/L = 2 gradient descent diverges whatever the precision.",
    ]
    return res
