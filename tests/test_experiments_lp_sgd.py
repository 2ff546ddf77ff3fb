"""`emu experiments lp-sgd` (Li & De Sa, NeurIPS 2019) at quick size: the published qualitative
claims, each with a margin of standard errors over the 16 run seeds.

Notation: E(features, d, format) is the excess loss, the mean over run seeds of
f(w_LP) - f(w_64) averaged over the last half of the steps (LP-SGD minus float64 SGD on the same
samples); SE its standard error. A difference of two estimates from different runs has standard
error sqrt(SE_a^2 + SE_b^2).
"""

import math

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import se_gap as gap

from emu.train import PrecisionPolicy, run_gd
from emu.train.experiments import lp_sgd, run_preset
from emu.train.experiments.report import rng_seed
from emu.train.problems import StochasticLinearRegression


@pytest.fixture(scope="module")
def result():
    return run_preset("lp-sgd", quick=True)


def excess(result, features, d, fmt, sweep=None):
    match = {"features": features, "d": d, "format": fmt}
    if sweep:
        match["sweep"] = sweep
    return result.find(**match)["excess"]




def test_sparse_excess_is_dimension_free(result):
    """Li & De Sa: for sparse features the error floor of LP-SGD does not depend on d.
    |E(sparse, 256, s10.8) - E(sparse, 16, s10.8)| < 3 SE (and likewise 64 vs 16)."""
    e16 = excess(result, "sparse", 16, "s10.8", "d")
    for d in (64, 256):
        assert abs(gap(excess(result, "sparse", d, "s10.8", "d"), e16)) < 3, d


def test_dense_excess_grows_with_d(result):
    """...while for dense features it does: E(dense, 64) - E(dense, 16) > 3 SE and
    E(dense, 256) - E(dense, 64) > 3 SE."""
    e = [excess(result, "dense", d, "s10.8", "d") for d in (16, 64, 256)]
    assert gap(e[1], e[0]) > 3 and gap(e[2], e[1]) > 3


def test_dense_features_cost_more_than_sparse(result):
    """Same |x|_2 and E[x x^T], larger |x|_1: E(dense, d) - E(sparse, d) > 3 SE at every d."""
    for d in (16, 64, 256):
        assert gap(excess(result, "dense", d, "s10.8", "d"),
                   excess(result, "sparse", d, "s10.8", "d")) > 3, d


def test_more_bits_less_excess(result):
    """The floor falls with the precision: fixed point E(s6.4) - E(s10.8) > 3 SE (both
    feature kinds), E(s10.8) - E(s14.12) > 3 SE (dense); float E(e5m1) - E(e5m5) > 3 SE."""
    for feat in ("sparse", "dense"):
        assert gap(excess(result, feat, 64, "s6.4"), excess(result, feat, 64, "s10.8", "bits")) > 3
        assert gap(excess(result, feat, 64, "e5m1"), excess(result, feat, 64, "e5m5")) > 3
    assert gap(excess(result, "dense", 64, "s10.8", "bits"), excess(result, "dense", 64, "s14.12")) > 3


def test_table_and_figure_cover_the_sweeps(result):
    """Both panels, a curve per family and feature kind, finite estimates from 16 seeds."""
    assert set(result.panels) == {"bits", "d"}
    labels = {(c.panel, c.label) for c in result.curves}
    for family in ("fixed", "float", "log"):
        assert ("bits", f"{family}, sparse") in labels and ("bits", f"{family}, dense") in labels
    assert ("d", "s10.8, sparse") in labels and ("d", "s10.8, dense") in labels
    for r in result.rows:
        assert r["excess"].n == 16 and np.isfinite(r["excess"].mean)


@pytest.mark.parametrize("fmt", ["s10.8", "e5m3", "e4m0"])
def test_batched_lanes_equal_separate_run_gd(fmt):
    """The preset moves all runs of one (format, d) as columns with one LFSR lane each; every
    column is bit for bit the run_gd run of that problem with seed = derive_seed(run seed)."""
    d, steps, seeds = 16, 40, [1, 2]
    probs = lp_sgd.problems(d, seeds)
    states = [rng_seed(s) for s in seeds] * 2
    _, final = lp_sgd.lp_sgd(probs, fmt, lp_sgd.LR, steps, states)
    policy = PrecisionPolicy(fmt, "update", update="sr", sr_bits=lp_sgd.SR_BITS)
    for j, (dense, s) in enumerate([(False, 1), (False, 2), (True, 1), (True, 2)]):
        prob = StochasticLinearRegression(d, lp_sgd.K, dense, lp_sgd.NOISE, seed=s)
        alone = run_gd(prob, np.zeros(d), lp_sgd.LR, steps, policy, seed=rng_seed(s))
        assert np.array_equal(alone.x, final[:, j]), (fmt, j)


def test_generator_moments():
    """Sparse and dense samples: |x|_2^2 = k always, |x|_1 = k vs sqrt(k d), nonzeros k vs d."""
    for dense in (False, True):
        p = StochasticLinearRegression(64, 2, dense, seed=3)
        X, y = p.samples(700)  # crosses a block boundary
        assert np.allclose((X ** 2).sum(1), 2)
        assert np.allclose(np.abs(X).sum(1), math.sqrt(2 * 64) if dense else 2)
        assert set(np.count_nonzero(X, axis=1)) == {64 if dense else 2}
        assert y.shape == (700,) and p.loss(p.wstar) == p.f_star


def test_cli_writes_the_four_files(tmp_path, monkeypatch):
    """`emu experiments lp-sgd --quick --out DIR` (steps cut to 2 d: this checks the plumbing,
    the claims are checked above)."""
    from cli.main import main

    monkeypatch.setattr(lp_sgd, "steps_for", lambda d, quick: 2 * d)
    out = tmp_path / "exp"
    r = CliRunner().invoke(main, ["experiments", "lp-sgd", "--quick", "--out", str(out)])
    assert r.exit_code == 0, r.output
    for name in ("results.csv", "table.md", "result.json", "figure.png"):
        assert (out / name).is_file(), name
