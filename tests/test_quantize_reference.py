"""Every deterministic mode, every named format (and generic ones), edge inputs, against the
Fraction reference; the core alone and the public API (fast paths included)."""

import numpy as np
import pytest
import reference as ref
from helpers import DET_MODES, api_codes, core_codes, edge_inputs, show_mismatch
from hypothesis import given, settings
from hypothesis import strategies as st

import emu

FLOATS = ["e4m3", "e5m2", "e4m3fnuz", "e5m2fnuz", "e2m1", "e2m3", "e3m2", "e4m3ieee", "e3m0",
          "e5m0fnuz", "e2m0finite", "fp16", "bf16", "e8m13", "fp32", "e11m20"]
FIXED = ["s8.4", "u8.8", "s16.8", "s4.-2", "u3.5", "s12.0", "u16.20", "s32.16", "s64.0", "u64.3"]


@pytest.mark.parametrize("name", FLOATS)
@pytest.mark.parametrize("saturate", [False, True])
def test_float_modes_vs_reference(name, saturate):
    fmt = emu.format(name)
    x = edge_inputs(fmt, sample=150)
    for mode in DET_MODES:
        want = ref.quantize(x, fmt, mode, saturate=saturate, bad=-1)
        got = core_codes(x, fmt, mode, saturate=saturate)
        assert list(got) == list(want), f"core {mode}: " + show_mismatch(x, got, want, fmt)
        got = api_codes(x, fmt, mode, saturate=saturate)
        assert list(got) == list(want), f"api {mode}: " + show_mismatch(x, got, want, fmt)
        with np.errstate(over="ignore"):
            as32 = x.astype(np.float32)
        x32 = as32[(as32.astype(np.float64) == x) | np.isnan(x)]
        got = api_codes(x32, fmt, mode, saturate=saturate)
        want = ref.quantize(x32, fmt, mode, saturate=saturate, bad=-1)
        assert list(got) == list(want), f"f32 {mode}: " + show_mismatch(x32, got, want, fmt)


def fixed_inputs(fmt):
    res = float(fmt.resolution)
    k = np.arange(-40, 41, dtype=np.float64)
    lo, hi = float(fmt.min), float(fmt.max)
    base = np.concatenate([k * res / 4, (k + 0.5) * res, lo + k * res / 2, hi + k * res / 2,
                           [lo - res / 2, hi + res / 2, 2.0**70, -(2.0**70), 1e300, 5e-324]])
    base = np.concatenate([base, np.nextafter(base, np.inf), np.nextafter(base, -np.inf)])
    return np.concatenate([base, -base, [np.inf, -np.inf, np.nan]])


@pytest.mark.parametrize("name", FIXED)
@pytest.mark.parametrize("overflow", ["wrap", "sat", "sat_sym"])
def test_fixed_modes_vs_reference(name, overflow):
    fmt = emu.format(name)
    x = fixed_inputs(fmt)
    for mode in DET_MODES:
        want = ref.quantize(x, fmt, mode, overflow=overflow, bad=-1)
        got = core_codes(x, fmt, mode, overflow=overflow)
        assert list(got) == list(want), f"core {mode}: " + show_mismatch(x, got, want, fmt)
        got = api_codes(x, fmt, mode, overflow=overflow)
        assert list(got) == list(want), f"api {mode}: " + show_mismatch(x, got, want, fmt)


@settings(max_examples=300, deadline=None)
@given(
    x=st.floats(allow_nan=True, allow_infinity=True, width=64),
    name=st.sampled_from(FLOATS + FIXED),
    mode=st.sampled_from(DET_MODES),
    sat=st.booleans(),
)
def test_random_values_vs_reference(x, name, mode, sat):
    fmt = emu.format(name)
    kw = {"saturate": sat} if isinstance(fmt, emu.FloatFormat) else {"overflow": "sat" if sat else "wrap"}
    want = ref.quantize([x], fmt, mode, bad=-1, **kw)
    assert core_codes([x], fmt, mode, **kw).tolist() == want
    assert api_codes(np.array([x]), fmt, mode, **kw).tolist() == want


@settings(max_examples=200, deadline=None)
@given(
    m=st.integers(1, 2**53 - 1),
    e=st.integers(-1100, 1000),
    name=st.sampled_from(FLOATS + FIXED),
    mode=st.sampled_from(DET_MODES),
)
def test_random_significands_vs_reference(m, e, name, mode):
    """Dense significands at every scale: exercises sticky bits far below the rounding point."""
    with np.errstate(over="ignore"):
        x = float(np.ldexp(float(m), e))
    if not np.isfinite(x):
        return
    fmt = emu.format(name)
    assert core_codes([x], fmt, mode).tolist() == ref.quantize([x], fmt, mode, bad=-1)


def test_zero_with_huge_exponent_into_fixed():
    """Regression: a zero significand with a large exponent (e.g. -0 x 6e32) is 0, not overflow."""
    from emu.kernels.core import round_pack

    for ovf in (0, 1, 2):
        assert round_pack(True, np.uint64(0), np.int64(100), 0, emu.format("s8.4").descriptor, 0, ovf,
                          1, 0, 0, 0, False) == 0
