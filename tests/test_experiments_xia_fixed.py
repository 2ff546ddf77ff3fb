"""`emu experiments xia-fixed --quick` against Xia, Hochstenbach, Massei (arXiv 2301.09511).

One quick run (16 run seeds) through the command line; the claims are read off its result.json.
Every comparison of two stochastic quantities asks for a gap of more than 3 standard errors,
combined as sqrt(se_a^2 + se_b^2) (independent runs: each mode's seeds draw their own words);
round-to-nearest is deterministic (one run, se = 0).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import json_cell, run_experiment
from helpers import se_gap as gap

from emu.train.experiments.report import seeded
from emu.train.experiments.xia_fixed import FMT, PrecisionPolicy, problems
from emu.train.gd import gd_runs, run_gd
from emu.train.problems import SEEDS_QUADRATIC
from emu.train.seeds import derive_seed

GD = ("quadratic", "rosenbrock", "himmelblau", "least_squares")
PL = ("quadratic", "rosenbrock", "least_squares")  # still moving at step k (Himmelblau is done)
SIGNED = ("signed_sr_eps 0.1", "signed_sr_eps 0.2", "signed_sr_eps 0.4")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("xia") / "run"
    return out, run_experiment("xia-fixed", out)


def cell(result, problem, mode, column):
    """(mean, se) of one table cell."""
    return json_cell(result, column, problem=problem, mode=mode)


def test_cli_writes_the_four_files_and_every_row(quick):
    out, result = quick
    for name in ("results.csv", "table.md", "result.json", "figure.png"):
        assert (out / name).stat().st_size > 0, name
    table = (out / "table.md").read_text()
    for p in GD:
        for mode in ("rne", "sr", "sr_eps 0.1", "sr_eps 0.4", *SIGNED):
            assert f"| {p} | {mode} |" in table
    for mode in ("rne", "sr", "signed_sr_eps 0.2"):
        assert f"| mlp_digits | {mode} |" in table
    assert result["seeds"] == 16 and result["size"] == "quick"


def test_runs_are_run_gd_with_derived_seeds():
    """The batched runner is run_gd, bit for bit: run seed s in column s, LFSR lane s starting
    at derive_seed(s)."""
    pol = PrecisionPolicy(FMT, "update", update="signed_sr_eps", eps=0.2)
    x0, rng = seeded((2.0, 2.0), [1, 5])
    r = gd_runs(SEEDS_QUADRATIC, x0, 0.1, 40, pol, rng)
    for j, s in enumerate((1, 5)):
        ref = run_gd(SEEDS_QUADRATIC, (2.0, 2.0), 0.1, 40, pol, seed=derive_seed(s))
        assert r.loss[:, j].tolist() == ref.loss
        assert r.stagnant[:, j].tolist() == ref.stagnant
        assert np.array_equal(r.shrinkage[:, j], ref.shrinkage)


@pytest.mark.parametrize("problem", GD)
def test_rn_stagnates_exactly(quick, problem):
    """RN freezes: the update leaves every component unchanged (stagnant share 1 over the last
    20% of the steps) and f(x_k) - f* at the last step equals its tail mean, a fixed point of
    x = fl(x - t g(x)) with f - f* > 0."""
    _, result = quick
    assert cell(result, problem, "rne", "stagnant")[0] == 1.0
    final = cell(result, problem, "rne", "final loss")[0]
    assert final > 0 and final == pytest.approx(cell(result, problem, "rne", "tail loss")[0], rel=1e-12)


@pytest.mark.parametrize("problem", GD)
def test_sr_goes_below_rn(quick, problem):
    """SR never freezes: RN's final f - f* exceeds SR's mean by more than 3 SE (Himmelblau: SR
    reaches the grid point (3, 2) itself, f - f* = 0 in every run)."""
    _, result = quick
    assert gap(cell(result, problem, "rne", "final loss"),
               cell(result, problem, "sr", "final loss")) > 3


@pytest.mark.parametrize("problem", PL)
@pytest.mark.parametrize("mode", SIGNED)
def test_signed_sr_eps_is_faster_in_the_transient(quick, problem, mode):
    """The descent-biased rounding converges faster: at the early step k, signed SR_eps's
    f(x_k) - f* lies below SR's by more than 3 combined SE, for each eps."""
    _, result = quick
    assert gap(cell(result, problem, "sr", "loss @k"), cell(result, problem, mode, "loss @k")) > 3


@pytest.mark.parametrize("problem", PL)
def test_signed_sr_eps_transient_is_ordered_by_eps(quick, problem):
    """... ordered by eps: loss_k(eps = 0.1) > loss_k(0.2) > loss_k(0.4), each gap more than 3
    combined SE."""
    _, result = quick
    a, b, c = (cell(result, problem, m, "loss @k") for m in SIGNED)
    assert gap(a, b) > 3 and gap(b, c) > 3


@pytest.mark.parametrize("problem", PL)
def test_signed_sr_eps_moves_further_than_asked(quick, problem):
    """The bias points downhill, so the step taken is longer than t g on average: the mean
    shrinkage q = <g_hat, g>/|g|^2 of signed SR_eps exceeds 1 by more than 3 SE and grows with
    eps; SR's is within 3 SE of 1 (unbiased up to the r-bit truncation, < 2^-8 ulp)."""
    _, result = quick
    qs = [cell(result, problem, m, "q") for m in SIGNED]
    assert all(gap(q, (1.0, 0.0)) > 3 for q in qs)
    assert gap(qs[1], qs[0]) > 3 and gap(qs[2], qs[1]) > 3
    assert abs(gap(cell(result, problem, "sr", "q"), (1.0, 0.0))) < 3


def test_sr_eps_away_from_zero_is_no_descent_direction(quick):
    """SR_eps favouring the neighbour farther from zero is not a descent bias: on the quadratic
    (iterates above x* > 0, moving down) it is slower than SR at step k by more than 3 combined
    SE, and more so for larger eps."""
    _, result = quick
    sr = cell(result, "quadratic", "sr", "loss @k")
    a, b, c = (cell(result, "quadratic", f"sr_eps {e}", "loss @k") for e in (0.1, 0.2, 0.4))
    assert gap(a, sr) > 3 and gap(b, a) > 3 and gap(c, b) > 3


def test_small_fixed_point_network(quick):
    """The MLP with 8-bit weights (s8.6): RN leaves almost every weight unchanged (stagnant
    share > 0.95 in the last epoch) and its final training loss exceeds SR's, signed SR_eps's
    lies below SR's; both differences paired by run seed (same initial weights and data order),
    each more than 3 SE from 0. Test accuracy orders the same way (more than 3 combined SE)."""
    _, result = quick
    assert cell(result, "mlp_digits", "rne", "stagnant")[0] > 0.95
    assert gap(cell(result, "mlp_digits", "rne", "loss - sr (paired)"), (0.0, 0.0)) > 3
    assert gap((0.0, 0.0), cell(result, "mlp_digits", "signed_sr_eps 0.2",
                                "loss - sr (paired)")) > 3
    acc = {m: cell(result, "mlp_digits", m, "test accuracy")
           for m in ("rne", "sr", "signed_sr_eps 0.2")}
    assert gap(acc["sr"], acc["rne"]) > 3 and gap(acc["signed_sr_eps 0.2"], acc["sr"]) > 3


def test_problems_table():
    """The early step k lies within the quick run of every problem."""
    for p in problems():
        assert 0 < p.k < p.quick <= p.full
