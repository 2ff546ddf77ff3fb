"""``emu demo``: gradient descent stagnating under round-to-nearest and rescued by stochastic
rounding, on the PL quadratic of SEEDS.md (f = 1/2 sum lambda_i (x_i - x*_i)^2, lambda = (1, 0.1),
t = 0.1, x0 = (2, 2)), in s16.8 fixed point with the update rounded (Xia et al. 2301.09511)."""

from __future__ import annotations

from .gd import PrecisionPolicy, run_gd
from .problems import SEEDS_QUADRATIC

DEMO_RUNS = [("rne", 0.0), ("sr", 0.0), ("signed_sr_eps", 0.25), ("signed_sr_eps", 0.5)]


def stagnation_demo(steps: int = 400, fmt: str = "s16.8", seed: int = 1) -> dict:
    runs = []
    for mode, eps in DEMO_RUNS:
        r = run_gd(SEEDS_QUADRATIC, (2.0, 2.0), 0.1, steps,
                   PrecisionPolicy(fmt, "update", update=mode, eps=eps), seed=seed)
        tail = r.stagnant[-50:]
        runs.append({"rounding": mode, "eps": eps, "final_loss": r.loss[-1],
                     "loss_at_50": r.loss[50], "accuracy": None,
                     "stagnant_share": sum(tail) / len(tail), "x": [float(v) for v in r.x],
                     "mean_shrinkage": sum(r.shrinkage[-50:]) / 50, "curve": r.loss})
    return {"problem": "quadratic lambda=(1, 0.1), x*=(0.3, 0.7), t=0.1, x0=(2, 2)",
            "format": fmt, "scheme": "update", "steps": steps, "seed": seed, "runs": runs}
