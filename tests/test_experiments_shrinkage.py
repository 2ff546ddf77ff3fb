"""`emu experiments shrinkage --quick` against Yun (arXiv 2508.07142), gradient shrinkage.

One quick run (16 run seeds) through the command line; the claims are read off its result.json.
q_bar is the mean over steps 1..K of q_k = <g_hat, g*>/|g*|^2 (docs/semantics.md §11.1). RN is
deterministic (one run): its comparisons are exact. A stochastic comparison asks for more than
3 standard errors, combined as sqrt(se_a^2 + se_b^2) for two independent estimates.
"""

from __future__ import annotations

import pytest
from helpers import json_cell, run_experiment
from helpers import se_gap as gap

from emu.train.experiments.shrinkage import FIXED, FLOATS, bits

QUICK_FIXED = FIXED[:-1]                 # s16.2 .. s16.10
COARSE = ("s16.2", "s16.4", "s16.6", "e2m5", "e3m4")   # RN q_bar < 0.7
MILD = ("s16.8", "s16.10", "e4m3", "e5m2")             # RN q_bar >= 0.9


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("shrinkage") / "run"
    return out, run_experiment("shrinkage", out)


def cell(result, fmt, mode, column):
    """(mean, se) of one table cell."""
    return json_cell(result, column, gradients=fmt, mode=mode)


def fp64(result, column):
    return cell(result, "float64", "exact", column)


def test_cli_writes_the_four_files_and_every_row(quick):
    out, result = quick
    for name in ("results.csv", "table.md", "result.json", "figure.png"):
        assert (out / name).stat().st_size > 0, name
    table = (out / "table.md").read_text()
    assert "| float64 | - | exact |" in table
    for fmt in QUICK_FIXED + FLOATS:
        for mode in ("rne", "sr", "sr_eps 0.2"):
            assert f"| {fmt} | {bits(fmt)} | {mode} |" in table
    assert result["seeds"] == 16 and result["size"] == "quick"


def test_rn_shrinks_coarse_gradients_and_q_rises_to_one_with_bits(quick):
    """RN: q_bar < 1, far below for coarse formats, and strictly increasing toward 1 with the
    fraction bits F of s16.F (components |g_i| < 2^-F-1 round to 0) and with the exponent bits
    of 8-bit floats (components below half the smallest subnormal round to 0):
    q(s16.2) < 0.2 < ... < q(s16.10), q(s16.10) > 0.98; q(e2m5) < ... < q(e5m2), q(e5m2) > 0.99."""
    _, result = quick
    for group, top in ((QUICK_FIXED, 0.98), (FLOATS, 0.99)):
        q = [cell(result, f, "rne", "q (steps 1..K)")[0] for f in group]
        assert all(a < b for a, b in zip(q, q[1:], strict=False)), q
        assert q[-1] > top and all(v < 1 for v in q)
    assert cell(result, "s16.2", "rne", "q (steps 1..K)")[0] < 0.2


def test_sr_does_not_shrink(quick):
    """SR is unbiased (up to the r-bit truncation, < 2^-8 of a grid step): q_bar is within 3 SE
    of 1 for every format, and above RN's by more than 3 SE where RN shrinks (q_RN < 0.7)."""
    _, result = quick
    for fmt in QUICK_FIXED + FLOATS:
        q = cell(result, fmt, "sr", "q (steps 1..K)")
        assert abs(gap(q, (1.0, 0.0))) < 3, (fmt, q)
        if fmt in COARSE:
            assert gap(q, cell(result, fmt, "rne", "q (steps 1..K)")) > 3


def test_shrunken_step_explains_rn_slowdown(quick):
    """Yun: the effective step is t q. RN's f - f* at step K is within a factor 2 of float64
    gradient descent run with the step t q_bar, for every format, while for the coarse formats
    it is more than 5 times float64's at the nominal t."""
    _, result = quick
    ref = fp64(result, "loss @K")[0]
    for fmt in QUICK_FIXED + FLOATS:
        rn = cell(result, fmt, "rne", "loss @K")[0]
        model = cell(result, fmt, "rne", "fp64 at t*q: loss @K")[0]
        assert 0.5 < rn / model < 2, (fmt, rn, model)
        if fmt in COARSE:
            assert rn > 5 * ref


def test_sr_floor_rises_as_bits_drop(quick):
    """The error floor rises with the quantization noise: SR's final f - f* grows as F drops,
    each step more than 3 combined SE, and lies above float64's by more than 3 SE for F <= 8."""
    _, result = quick
    finals = [cell(result, f, "sr", "final loss") for f in QUICK_FIXED]
    assert all(gap(a, b) > 3 for a, b in zip(finals, finals[1:], strict=False))
    ref = fp64(result, "final loss")
    for f, v in zip(QUICK_FIXED, finals, strict=True):
        if f != "s16.10":
            assert gap(v, ref) > 3


def test_rescaled_step_recovers_mild_shrinkage_only(quick):
    """t / q_bar: where RN's shrinkage is mild (q_bar >= 0.9) RN at t / q_bar reaches float64's
    f - f* at step K within 10%; where it is coarse the rescaled run stays more than 3 times
    above it: RN's q < 1 comes from a dead zone (gradient components rounded to 0 stay 0 for any
    t), not from a uniform scale, so a larger step cannot restore them."""
    _, result = quick
    ref = fp64(result, "loss @K")[0]
    for fmt in MILD:
        assert cell(result, fmt, "rne", "q (steps 1..K)")[0] >= 0.9
        assert abs(cell(result, fmt, "rne", "loss @K at t/q")[0] / ref - 1) < 0.1, fmt
    for fmt in COARSE:
        assert cell(result, fmt, "rne", "q (steps 1..K)")[0] < 0.7
        assert cell(result, fmt, "rne", "loss @K at t/q")[0] > 3 * ref, fmt


def test_sr_eps_inflates(quick):
    """SR_eps (eps = 0.2) favours the larger magnitude: q_bar > 1 by more than 3 SE for the
    formats with a coarse grid near the gradients (F <= 8, e2m5 .. e4m3), outside Yun's (0, 1]."""
    _, result = quick
    for fmt in ("s16.2", "s16.4", "s16.6", "s16.8", "e2m5", "e3m4", "e4m3"):
        assert gap(cell(result, fmt, "sr_eps 0.2", "q (steps 1..K)"), (1.0, 0.0)) > 3, fmt
