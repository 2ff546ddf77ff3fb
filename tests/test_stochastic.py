"""Stochastic rounding: exact round-up counts over one full LFSR period (docs/semantics.md §6.3).

An r-bit maximal LFSR drawing D = r bits per draw (gcd(r, 2^r - 1) = 1 for the r used here)
emits every nonzero r-bit word exactly once per period of 2^r - 1 draws. So for a value whose
top r discarded bits are T, the number of round-ups is exactly: carry form T (R >= 2^r - T),
compare form max(T - 1, 0) (1 <= R < T). No tolerances.
"""

import math
from fractions import Fraction

import numpy as np
import pytest
import reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st

import emu

R_BITS = [4, 5, 7, 8]


def full_period(r, x, fmt, mode="sr", **kw):
    assert math.gcd(r, 2**r - 1) == 1
    rng = emu.LFSR(width=r, shifts=r, seed=1)
    n = 2**r - 1
    out = emu.quantize(np.full(n, x), fmt, mode, sr_bits=r, rng=rng, **kw)
    assert rng.states == (1,)  # exactly one period consumed
    return out.codes


def neighbours(fmt, x):
    lo = int(emu.quantize(x, fmt, "rdn").codes)
    hi = int(emu.quantize(x, fmt, "rup").codes)
    return lo, hi


def t_of(fmt, x, r):
    """T from the definition: f = (v - lo) / (hi - lo) on the signed value, T = floor(f 2^r);
    for floats lo/hi are magnitudes (lo = truncation toward zero)."""
    lo, hi = (float(fmt.code_value(c)) for c in neighbours(fmt, x))
    if isinstance(fmt, emu.FloatFormat) and x < 0:
        lo, hi = -hi, -lo  # magnitudes
        x = -x
    f = (Fraction(x) - Fraction(lo)) / (Fraction(hi) - Fraction(lo))
    return math.floor(f * 2**r), lo, hi


CASES = [
    ("e4m3", 1.0),
    ("e4m3", -3.0),
    ("e4m3", 2.0**-8),
    ("e4m3", -(2.0**-9) * 0.7),  # subnormal
    ("e5m2", 1000.0),
    ("e5m2", 2.0**-15),
    ("s8.4", 1.0),
    ("s8.4", -1.0),
    ("u8.8", 0.5),
    ("s16.8", -7.0),
]


@pytest.mark.parametrize("r", R_BITS)
@pytest.mark.parametrize("name,base", CASES)
def test_exact_counts_every_threshold(r, name, base):
    fmt = emu.format(name)
    # walk T through every value 0 .. 2^r - 1 by placing x at lo + (T + 0.5) / 2^r units
    # (0.5 sits below the r-bit window: the discarded part has more bits than r)
    grid_lo = emu.quantize(base, fmt, "rtz" if isinstance(fmt, emu.FloatFormat) else "rdn")
    v0 = float(grid_lo.to_float())
    up = emu.quantize(
        np.nextafter(v0, np.inf if (v0 >= 0 or not isinstance(fmt, emu.FloatFormat)) else -np.inf),
        fmt,
        "raz" if isinstance(fmt, emu.FloatFormat) else "rup",
    )
    unit = abs(float(up.to_float()) - v0)
    sign = (
        -1.0
        if (isinstance(fmt, emu.FloatFormat) and v0 < 0)
        or (v0 == 0 and base < 0 and isinstance(fmt, emu.FloatFormat))
        else 1.0
    )
    for t in range(2**r):
        x = v0 + sign * (t + 0.5) * unit / 2**r
        assert t_of(fmt, x, r)[0] == t
        carry = full_period(r, x, fmt)
        trunc = int(emu.quantize(x, fmt, "rtz" if isinstance(fmt, emu.FloatFormat) else "rdn").codes)
        n_hi = int(np.count_nonzero(carry != trunc))
        assert n_hi == t, (name, r, t)  # P(hi) = T / 2^r: the toward-lo bias of the 0.5 below
        comp = full_period(r, x, fmt, form="compare")
        assert int(np.count_nonzero(comp != trunc)) == max(t - 1, 0)


@pytest.mark.parametrize("r", [5, 8])
def test_unbiased_when_discarded_part_fits_r_bits(r):
    """Values with at most r discarded bits have f = T / 2^r exactly, so P(hi) = T / 2^r = f:
    unbiased. Checked as count == T over the period's 2^r - 1 nonzero words (R = 0, the one
    word an LFSR never emits, would round down for every T)."""
    fmt = emu.format("s16.4")
    for t in range(2**r):
        x = 1.0 + t / 2**r / 16  # f = t / 2^r exactly (discarded part has r bits)
        codes = full_period(r, x, fmt)
        assert int(np.count_nonzero(codes != int(emu.quantize(x, fmt, "rdn").codes))) == t


@pytest.mark.parametrize(
    "name,x", [("e4m3", 1.3), ("e4m3", -1.3), ("s8.4", 1.3), ("s8.4", -1.3), ("e5m2", -0.01)]
)
@pytest.mark.parametrize(
    "mode,kw",
    [
        ("sr_eps", {"eps": 0.25}),
        ("signed_sr_eps", {"eps": 0.25, "direction": 1}),
        ("signed_sr_eps", {"eps": 0.25, "direction": -1}),
        ("signed_sr_eps", {"eps": 0.3, "direction": 0}),
        ("sr_equal", {}),
    ],
)
@pytest.mark.parametrize("form", ["carry", "compare"])
def test_biased_modes_exact_counts_vs_reference(name, x, mode, kw, form):
    """Counts over a full period equal the reference model's choice for every word R."""
    r = 8
    fmt = emu.format(name)
    codes = full_period(r, x, fmt, mode, form=form, **kw)
    words = ref.LFSR(width=r, poly=emu.lfsr.MAXIMAL_POLYS[r], shifts=r).random_words(2**r - 1, r)
    assert codes.tolist() == ref.quantize([x] * len(words), fmt, mode, words=words, sr_bits=r,
                                          form=form, **kw)


@settings(max_examples=200, deadline=None)
@given(
    x=st.floats(-1e4, 1e4),
    r=st.integers(1, 32),
    word=st.integers(0, 2**32 - 1),
    name=st.sampled_from(["e4m3", "e5m2", "e2m1", "fp16", "s8.4", "u8.8", "s16.8", "s32.20"]),
    mode=st.sampled_from(["sr", "sr_eps", "signed_sr_eps", "sr_equal"]),
    d=st.sampled_from([-1, 0, 1]),
    form=st.sampled_from(["carry", "compare"]),
    eps=st.floats(0, 0.99),
)
def test_random_sr_vs_reference(x, r, word, name, mode, d, form, eps):
    word &= (1 << r) - 1
    fmt = emu.format(name)

    class Fixed:
        def random_words(self, n, bits, threads=None):
            return np.full(n, word, np.uint64)

    kw = {"eps": eps} if mode in ("sr_eps", "signed_sr_eps") else {}
    if mode == "signed_sr_eps":
        kw["direction"] = d
    got = int(emu.quantize(x, fmt, mode, rng=Fixed(), sr_bits=r, form=form, **kw).codes)
    pol = {"overflow": "sat"} if isinstance(fmt, emu.FixedFormat) else {}
    want = ref.quantize(x, fmt, mode, words=[word], sr_bits=r, form=form, **kw, **pol)
    assert got == want


def test_determinism_across_lanes_and_chunks():
    x = np.random.default_rng(0).standard_normal(4096) * 10
    a = emu.LFSR(32, shifts=8, seed=9, lanes=8)
    whole = emu.quantize(x, "e4m3", "sr", sr_bits=8, rng=a).codes
    b = emu.LFSR(32, shifts=8, seed=9, lanes=8)
    parts = np.concatenate(
        [emu.quantize(x[i : i + 512], "e4m3", "sr", sr_bits=8, rng=b).codes for i in range(0, 4096, 512)]
    )
    assert np.array_equal(whole, parts) and a.states == b.states


def test_sr_errors():
    with pytest.raises(ValueError, match="random source"):
        emu.quantize(1.0, "e4m3", "sr")
    rng = emu.LFSR(shifts=8)
    with pytest.raises(ValueError, match="1..32"):
        emu.quantize(1.0, "e4m3", "sr", rng=rng, sr_bits=33)
    with pytest.raises(ValueError, match="cannot supply"):
        emu.quantize(1.0, "e4m3", "sr", rng=rng, sr_bits=12)
    with pytest.raises(ValueError, match="eps"):
        emu.quantize(1.0, "e4m3", "sr_eps", rng=rng)
    with pytest.raises(ValueError, match="direction"):
        emu.quantize(1.0, "e4m3", "signed_sr_eps", rng=rng, eps=0.1)
    with pytest.raises(ValueError, match="broadcast"):
        emu.quantize([1.0, 2.0], "e4m3", "signed_sr_eps", rng=rng, eps=0.1, direction=[1, 1, 1])
    with pytest.raises(ValueError, match="stochastic"):
        emu.quantize(1.0, "e4m3", "rne", rng=rng)
