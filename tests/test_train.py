"""Gradient descent on emulated registers: the qualitative results of Xia et al. at small size,
with exact (not statistical) checks where the outcome is deterministic."""

import numpy as np
import pytest

from emu.train import PrecisionPolicy, run_gd
from emu.train.problems import SEEDS_QUADRATIC as Q

U = 2.0**-8  # s16.8 grid
T = 0.1


def test_rne_stagnation_is_an_exact_fixed_point():
    """Under rne the iterate stops once |t*g_i| < u/2 for every component (SEEDS.md), and the
    frozen state is a fixed point of the rounded update, bit for bit."""
    r = run_gd(Q, (2.0, 2.0), T, 400, PrecisionPolicy("s16.8", "update", update="rne"))
    assert r.stagnant[-100:] == [1.0] * 100
    g = Q.grad(r.x)
    assert np.all(np.abs(T * g) <= U / 2)
    # x_2 froze where 0.1 * 0.1 * |x_2 - 0.7| first fell below 2^-9, about 0.195 away from x*
    assert 0.19 < r.x[1] - 0.7 < 0.1953125 + U
    again = run_gd(Q, (2.0, 2.0), T, 400, PrecisionPolicy("s16.8", "update", update="rne"))
    assert np.array_equal(again.x, r.x) and again.loss == r.loss
    assert r.shrinkage[-1] == 0.0  # Yun 2025: q = 0 once frozen


def test_sr_never_freezes_and_beats_the_rne_floor():
    """SR's expected suboptimality after k steps is <= rho^k (f0 - f*) + L n u^2 / (8 (1 - rho)),
    rho = 1 - 2 mu t (1 - L t / 2) (SEEDS.md). Deterministic here (fixed seeds): the mean final
    suboptimality over 8 seeds must be within 2x that bound, and far below the rne floor."""
    rho = 1 - 2 * Q.mu * T * (1 - Q.L * T / 2)
    k = 1500
    f0 = Q.loss(np.array([2.0, 2.0]))
    bound = rho**k * f0 + Q.L * 2 * U**2 / (8 * (1 - rho))
    finals = [run_gd(Q, (2.0, 2.0), T, k, PrecisionPolicy("s16.8", "update", update="sr"), seed=s).loss[-1]
              for s in range(1, 9)]
    rne = run_gd(Q, (2.0, 2.0), T, k, PrecisionPolicy("s16.8", "update", update="rne")).loss[-1]
    assert np.mean(finals) <= 2 * bound
    assert np.mean(finals) < rne / 5


def test_descent_biased_sr_is_faster_in_the_transient():
    def loss_at(mode, eps, step):
        losses = [run_gd(Q, (2.0, 2.0), T, step, PrecisionPolicy("s16.8", "update", update=mode, eps=eps),
                         seed=s).loss[step] for s in range(1, 6)]
        return np.mean(losses)

    sr, e25, e50 = loss_at("sr", 0, 60), loss_at("signed_sr_eps", 0.25, 60), loss_at("signed_sr_eps", 0.5, 60)
    assert e50 < e25 < sr  # ordered by eps


def test_every_op_fp8_rne_stagnates_sr_eps_converges():
    """2202.12276's setting: every operation rounded in e4m3; x_2 = 2 never moves under rne
    (t*g = 0.013 is below half an ulp of 2, 0.125), the SR schemes reach much lower loss."""
    rne = run_gd(Q, (2.0, 2.0), T, 300, PrecisionPolicy("e4m3", "every_op"))
    assert rne.x[1] == 2.0
    eps = run_gd(Q, (2.0, 2.0), T, 300, PrecisionPolicy("e4m3", "every_op", update="signed_sr_eps",
                                                        grad="sr_eps", step="sr_eps", eps=0.25))
    sr = run_gd(Q, (2.0, 2.0), T, 300, PrecisionPolicy("e4m3", "every_op", update="sr", grad="sr", step="sr"))
    assert eps.loss[-1] < rne.loss[-1] / 10 and sr.loss[-1] < rne.loss[-1] / 10


def test_policy_validation():
    with pytest.raises(ValueError, match="update, every_op"):
        PrecisionPolicy(scheme="both")
    with pytest.raises(ValueError, match="rne, rna"):
        PrecisionPolicy(update="nearest")
