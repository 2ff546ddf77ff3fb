"""StepStats (docs/semantics.md §11.1): the shrinkage q of a step, by hand."""

import warnings

import numpy as np
import pytest

import emu
from emu.train import PrecisionPolicy


def _step(g, exact=None, fmt="e5m2"):
    x = emu.quantize(np.array([1.0, -2.0, 0.5]), fmt)
    pol = PrecisionPolicy(fmt, "update", update="rne")
    (x2,), st = pol.apply([x], [np.asarray(g)], 1.0, None, None if exact is None else [exact])
    return x, x2, st


def test_q_is_the_projection_of_the_step_on_the_full_precision_gradient():
    g = np.array([0.5, -1.0, 0.0])  # x - g = (0.5, -1, 0.5): exact in e5m2
    x, x2, st = _step(g)
    assert st.shrinkage == st.datapath_shrinkage == 1.0
    # against another reference gradient: <g_hat, g*> / |g*|^2 by hand
    gstar = np.array([1.0, 0.0, 0.0])
    _, _, st = _step(g, gstar)
    assert st.shrinkage == 0.5 and st.datapath_shrinkage == 1.0


def test_q_neither_overflows_nor_warns_with_huge_gradients():
    """|g*|^2 of 1e300-sized gradients overflows float64; q is scaled, not 0 (which would say
    'frozen') nor a warning."""
    g = np.array([0.5, -1.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, _, st = _step(g, g * 1e300)
    assert st.shrinkage == pytest.approx(1e-300, rel=1e-12)
    _, _, st = _step(g, np.array([np.inf, 0.0, 0.0]))
    assert np.isnan(st.shrinkage)


def test_run_gd_q_is_scaled_too():
    """One step from 0 to x* = 1 with lambda = 1e300, t = 1e-300: the step taken is
    t g, q = 1 (|g|^2 = 1e600 overflows unscaled)."""
    from emu.train import Quadratic, run_gd

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = run_gd(Quadratic((1e300,), (1.0,)), (0.0,), 1e-300, 1, PrecisionPolicy("fp32", "update"))
    assert r.x.tolist() == [1.0] and r.shrinkage == [pytest.approx(1.0, rel=1e-12)]
