"""Gradient descent on emulated registers (docs/semantics.md §11; the literature: README).

One engine (emu.train.engine) moves the parameters of the PL problems (run_gd) and of the models
(emu.train.linear). Where rounding happens is configuration, not a second code path:
  scheme="update"   x_{k+1} = fl(x_k - t * grad f(x_k)), the exact value rounded once
                    (emu.train.update), gradient unrounded (Xia et al. 2301.09511)
  scheme="every_op" g = fl(grad f(x_k)), s = fl(t * g), x_{k+1} = fl(x_k - s) (Xia et al.
                    2202.12276; sr_eps for g and s, signed_sr_eps with d = -sign(g) for the
                    subtraction when the policy says so)
Gradients of the problems are computed in float64 from the registers' exact values.
"""

from .engine import PrecisionPolicy, StepStats
from .gd import GDResult, run_gd
from .problems import Quadratic
from .seeds import derive_seed
from .update import exact_update

__all__ = ["GDResult", "PrecisionPolicy", "Quadratic", "StepStats", "derive_seed", "exact_update",
           "run_gd"]
