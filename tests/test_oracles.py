"""Independent oracles: ml_dtypes (OCP round-to-nearest-even conversions) and apytypes
(fixed-point quantization modes)."""

import numpy as np
import pytest

import emu

ml_dtypes = pytest.importorskip("ml_dtypes")

OCP = {
    "e4m3": ml_dtypes.float8_e4m3fn,
    "e5m2": ml_dtypes.float8_e5m2,
    "e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
    "e5m2fnuz": ml_dtypes.float8_e5m2fnuz,
}
MX = {"e2m1": ml_dtypes.float4_e2m1fn, "e2m3": ml_dtypes.float6_e2m3fn,
      "e3m2": ml_dtypes.float6_e3m2fn}
CHUNK = 1 << 26


@pytest.mark.slow
@pytest.mark.parametrize("name", list(OCP))
def test_all_float32_bit_patterns_vs_ml_dtypes(name):
    """All 2**32 float32 patterns, rne, non-saturating: identical codes, NaNs included."""
    dt = OCP[name]
    bits = np.arange(CHUNK, dtype=np.uint32)
    for start in range(0, 1 << 32, CHUNK):
        x = (bits + np.uint32(start)).view(np.float32)
        got = emu.quantize(x, name).codes
        want = x.astype(dt).view(np.uint8)
        if not np.array_equal(got, want):
            i = int(np.nonzero(got != want)[0][0])
            pytest.fail(f"{name}: float32 {int(x.view(np.uint32)[i]):#010x} -> emu {got[i]:#04x}, "
                        f"ml_dtypes {want[i]:#04x}")


@pytest.mark.parametrize("name", list(OCP) + list(MX))
def test_decode_all_codes_vs_ml_dtypes(name):
    dt = {**OCP, **MX}[name]
    fmt = emu.format(name)
    codes = np.arange(1 << fmt.bits, dtype=np.uint8)
    got = emu.Registers.from_codes(codes, fmt).to_float()
    want = codes.view(dt).astype(np.float64)
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("name", list(OCP) + list(MX))
def test_float64_and_float16_inputs_vs_ml_dtypes(name):
    dt = {**OCP, **MX}[name]
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.standard_normal(200_000) * 10.0 ** rng.integers(-8, 6, 200_000),
                        np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float64)])
    if name in MX:  # ml_dtypes' MX casts saturate; NaN has no MX code (emu raises instead)
        x = x[np.isfinite(x)]
    got = emu.quantize(x, name, saturate=True if name in MX else None).codes
    want = x.astype(dt).view(np.uint8)
    assert np.array_equal(got, want)
    h = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    if name in MX:
        h = h[np.isfinite(h)]
    got = emu.quantize(h, name, saturate=True if name in MX else None).codes
    assert np.array_equal(got, h.astype(dt).view(np.uint8))


apytypes = pytest.importorskip("apytypes")
APY_MODES = {
    "rne": "TIES_EVEN", "rna": "TIES_AWAY", "rnz": "TIES_ZERO", "rnu": "TIES_POS",
    "rnd": "TIES_NEG", "rtz": "TO_ZERO", "rdn": "TO_NEG", "rup": "TO_POS", "raz": "TO_AWAY",
}


@pytest.mark.parametrize("name", ["s8.4", "s16.8", "s6.2", "s12.-2", "s10.12"])
@pytest.mark.parametrize("mode", list(APY_MODES))
@pytest.mark.parametrize("overflow", ["wrap", "sat"])
def test_fixed_modes_vs_apytypes(name, mode, overflow):
    fmt = emu.format(name)
    rng = np.random.default_rng(3)
    res = float(fmt.resolution)
    k = rng.integers(-(1 << (fmt.width + 1)), 1 << (fmt.width + 1), 5000)
    x = np.concatenate([k * res / 8, (k + 0.5) * res, rng.standard_normal(2000) * float(fmt.max)])
    src = apytypes.APyFixedArray.from_float(x, int_bits=80, frac_bits=80)
    q = getattr(apytypes.QuantizationMode, APY_MODES[mode])
    o = getattr(apytypes.OverflowMode, overflow.upper())
    want = np.array(src.cast(int_bits=fmt.width - fmt.frac, frac_bits=fmt.frac,
                             quantization=q, overflow=o).to_bits(), dtype=np.uint64)
    got = emu.quantize(x, fmt, mode, overflow=overflow).codes.astype(np.uint64)
    assert np.array_equal(got, want)
