"""emu.convert between formats (float <-> float, fixed <-> float, fixed <-> fixed): every source
code, every deterministic mode, against the reference (decode exactly, round once)."""

import math

import numpy as np
import pytest
import reference as ref
from helpers import DET_MODES

import emu

PAIRS = [("e5m2", "e4m3"), ("e4m3", "e5m2"), ("e4m3", "e2m1"), ("e4m3fnuz", "e4m3"),
         ("e4m3", "s8.4"), ("s8.4", "e4m3"), ("u8.8", "e5m2"), ("e5m2", "u8.8"),
         ("s8.4", "s6.1"), ("s8.4", "u4.2"), ("e4m3", "fp16"), ("bf16", "e4m3"), ("fp16", "e5m2")]


@pytest.mark.parametrize("src_name,dst_name", PAIRS)
def test_convert_every_code(src_name, dst_name):
    src, dst = emu.format(src_name), emu.format(dst_name)
    codes = np.arange(1 << src.bits) if src.bits <= 8 else \
        np.random.default_rng(5).integers(0, 1 << src.bits, 3000)
    regs = emu.Registers.from_codes(codes, src)
    for mode in DET_MODES:
        for kw in ([{"saturate": False}, {"saturate": True}] if isinstance(dst, emu.FloatFormat)
                   else [{"overflow": "wrap"}, {"overflow": "sat"}, {"overflow": "sat_sym"}]):
            want = ref.convert(regs, dst, mode, bad=-1, **kw)
            if -1 in want:
                with pytest.raises(ValueError, match="not representable"):
                    emu.convert(regs, dst, mode, **kw)
                keep = np.array([w != -1 for w in want])
                got = emu.convert(regs[keep], dst, mode, **kw).codes.tolist()
                want = [w for w in want if w != -1]
            else:
                got = emu.convert(regs, dst, mode, **kw).codes.tolist()
            assert got == want, f"{src_name}->{dst_name} {mode} {kw}"


def test_registers_basics():
    r = emu.Registers.from_codes([0x7E, 0x38, 0xFF], "e4m3")
    assert r.codes.dtype == np.uint8 and r.shape == (3,)
    assert r.to_float()[:2].tolist() == [448.0, 1.0] and math.isnan(r.to_float()[2])
    assert r.hex() == ["7e", "38", "ff"]
    assert r.to_exact()[0] == 448
    assert r[1:].hex() == ["38", "ff"]
    assert r == emu.Registers.from_codes([0x7E, 0x38, 0xFF], "e4m3")
    assert "e4m3" in repr(r)
    with pytest.raises(ValueError, match="does not fit"):
        emu.Registers.from_codes([256], "e4m3")
    with pytest.raises(ValueError, match="does not fit"):
        emu.Registers.from_codes([-1], "s8.4")
    with pytest.raises(TypeError):
        emu.Registers.from_codes([1.5], "e4m3")


def test_wide_fixed_decodes():
    r = emu.Registers.from_codes([2**63, 2**63 - 1, 1], "s64.0")
    assert r.to_exact().tolist() == [-(2**63), 2**63 - 1, 1]
    assert r.to_float()[0] == -(2.0**63)
    r = emu.quantize(np.array([-(2**63), 2**63 - 1], dtype=np.int64), "s64.0")
    assert r.codes.tolist() == [2**63, 2**63 - 1]  # integers are exact, not via float64
    assert emu.quantize(np.array([2**53 + 1]), "s64.0").codes.tolist() == [2**53 + 1]


def test_scalar_and_shape():
    r = emu.quantize(1.5, "e4m3")
    assert r.shape == () and int(r.codes) == 0x3C
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert emu.quantize(x, "e5m2").shape == (3, 4)
    assert emu.quantize(np.float16(2.0), "e4m3").codes == 0x40


def test_api_errors():
    with pytest.raises(ValueError, match="rne, rna, rnz"):
        emu.quantize(1.0, "e4m3", "nearest")
    with pytest.raises(ValueError, match="overflow="):
        emu.quantize(1.0, "s8.4", saturate=True)
    with pytest.raises(ValueError, match="saturate="):
        emu.quantize(1.0, "e4m3", overflow="wrap")
    with pytest.raises(ValueError, match="wrap, sat, sat_sym"):
        emu.quantize(1.0, "s8.4", overflow="clip")
    with pytest.raises(ValueError, match="element 1 .* NaN"):
        emu.quantize([1.0, np.nan], "s8.4")
    with pytest.raises(ValueError, match="cannot wrap"):
        emu.quantize([np.inf], "s8.4", overflow="wrap")
    with pytest.raises(ValueError, match="random source"):
        emu.quantize(1.0, "e4m3", "sr")
    with pytest.raises(TypeError):
        emu.quantize([True], "e4m3")
    with pytest.raises(TypeError):
        emu.convert(np.array([1.0]), "e4m3")
    assert emu.quantize([np.inf, -np.inf], "s8.4").codes.tolist() == [0x7F, 0x80]
    assert emu.quantize(1.5, "e4m3", "AP_TRN").codes == 0x3C  # ap_fixed names map to modes
