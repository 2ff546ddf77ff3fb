"""e8m0 as a format name (docs/semantics.md §14.1): the MX scale, its generic signed cousin,
conversions through exact values, and the listing of block formats."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner

import emu
from cli.main import main
from emu.formats import ScaleFormat


def test_e8m0_is_the_mx_scale_and_the_signed_float_spells_its_family():
    s = emu.format("e8m0")
    assert isinstance(s, ScaleFormat) and s.bits == 8 and emu.format("E8M0 ") is s
    assert emu.FloatFormat(8, 0).name == "e8m0ieee"  # 9 bits, signed: not the scale
    assert emu.format("e8m0ieee") == emu.FloatFormat(8, 0) and emu.format("e8m0ieee").bits == 9
    assert emu.format("e8m0fn").name == "e8m0fn"
    for name in ("e8m0b100", "e8m0b127"):
        with pytest.raises(ValueError, match="MX scale format.*e8m0ieee"):
            emu.format(name)
    assert emu.format("e8m0ieeeb100").bias == 100
    with pytest.raises(ValueError, match="name='x'"):
        ScaleFormat(name="x")


def test_e8m0_codes_decode_to_powers_of_two_and_nan():
    codes = np.arange(256, dtype=np.uint8)
    r = emu.Registers(codes, "e8m0")
    v = r.to_float()
    assert np.isnan(v[255]) and np.isnan(r.to_exact()[255])
    for c in range(255):  # Fraction reference: 2**(c - 127)
        assert Fraction(float(v[c])) == Fraction(2) ** (c - 127) == r.to_exact()[c]
    p = emu.format("e8m0").properties()
    assert p["nan_codes"] == ["0xff"] and p["finite_codes"] == 255 and p["kind"] == "scale"


def test_convert_to_and_from_e8m0_goes_through_exact_values():
    r = emu.Registers.from_codes([0, 120, 127, 135, 254, 255], "e8m0")
    f = emu.convert(r, "fp32")
    assert f.to_float()[:5].tolist() == [2.0 ** -127, 2.0 ** -7, 1.0, 256.0, 2.0 ** 127]
    assert np.isnan(f.to_float()[5])
    assert emu.convert(r, "e4m3", saturate=True).to_float()[1:4].tolist() == [2.0 ** -7, 1.0, 256.0]
    back = emu.convert(emu.quantize([0.75, 3.0, 0.5], "e4m3"), "e8m0", "rup")
    assert back.codes.tolist() == [127, 129, 126]  # round up to a power of two: 1, 4, 0.5
    with pytest.raises(ValueError, match="no arithmetic"):
        emu.add(r, r)


def test_emu_formats_lists_the_scale_and_the_block_formats():
    out = CliRunner().invoke(main, ["formats"]).output
    assert "e8m0" in out and "MX scale" in out
    for name, elem, k in (("mxfp8_e4m3", "e4m3", 32), ("mxfp4", "e2m1", 32), ("nvfp4", "e2m1", 16),
                          ("mxint8", "s8.6", 32)):
        row = next(line for line in out.splitlines() if line.startswith(name + " "))
        assert row.split()[1:3] == [elem, str(k)]
    data = json.loads(CliRunner().invoke(main, ["formats", "--json"]).output)
    names = [b["name"] for b in data["block_formats"]]
    assert names == ["mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4", "mxint8", "nvfp4"]
    assert data["block_formats"][4]["bits_per_element"] == 4.25


def test_block_format_names_and_generic_formats():
    assert emu.block_format("MXFP8") is emu.block_format("mxfp8_e4m3")
    assert emu.block_format("e4m3", 16).name == "e4m3x16_e8m0"
    for f in (emu.block_format("e4m3", 16), emu.block_format("s8.2", 8, "e4m3"),
              emu.block_format("fp16", 4)):
        assert emu.block_format(f.name) == f  # every name parses back
    assert emu.quantize(np.ones((2, 20)), "e5m2x16_e8m0").format == emu.block_format("e5m2", 16)
    with pytest.raises(ValueError, match="'e4m3x0_e8m0': block_size=0 out of range"):
        emu.block_format("e4m3x0_e8m0")
    assert emu.block_format("e2m1", 16, "e4m3").name == "nvfp4"
    assert emu.block_format("mxint8").element_emax == 0  # 127/64 < 2
    assert emu.block_format("s8.2").element_emax == 4  # 127/4 = 31.75: 2**4 <= 31.75 < 2**5
    with pytest.raises(ValueError, match="valid: mxfp8_e4m3, .*nvfp4"):
        emu.block_format("mxfp9")
    with pytest.raises(ValueError, match="block format already"):
        emu.block_format("mxfp4", 16)
    with pytest.raises(ValueError, match="does not name this block format"):
        emu.BlockFormat("e2m1", 32, name="nvfp4")


def test_e8m0_on_the_command_line_and_in_golden_convert_sets(tmp_path):
    r = CliRunner().invoke(main, ["quantize", "--format", "e8m0", "--json", "1.0", "3.0", "0", "-1",
                                  "1e-300", "1.50000000000000000001"])
    assert r.exit_code == 0, r.output
    codes = [v["code"] for v in json.loads(r.output)["values"]]
    # 3 ties to the even exponent (2); 1e-300 is positive: the smallest scale; exact inputs
    # round from their exact value (just above the tie 1.5: up to 2)
    assert codes == ["0x7f", "0x80", "0xff", "0xff", "0x00", "0x80"]
    r = CliRunner().invoke(main, ["golden", "convert", "--src", "fp32", "--dst", "e8m0", "--count", "5",
                                  "--out", str(tmp_path / "g")])
    assert r.exit_code == 0, r.output
    gs = emu.golden.load(tmp_path / "g")
    want = emu.quantize(gs.values("a"), "e8m0").codes
    assert gs["y"].tolist() == want.tolist() and 0x00 in want and 0xFF in want


def test_clear_errors_for_block_misuse():
    x = np.ones((2, 32))
    with pytest.raises(TypeError, match="unexpected keyword argument.*foo"):
        emu.quantize(x, "e4m3", foo=1)
    with pytest.raises(TypeError, match="axis: options of block formats"):
        emu.quantize(x, "e4m3", axis=0)
    with pytest.raises(ValueError, match="'mxfp4' is a block format"):
        emu.format("mxfp4")
    with pytest.raises(ValueError, match="mxfp4 has no per-tensor scale"):
        emu.quantize(x, "mxfp4", tensor_scale="amax")
    with pytest.raises(ValueError, match="copy cannot be avoided"):
        np.asarray(emu.quantize(x, "mxfp4"), copy=False)
    a = emu.quantize(np.ones(64), "mxfp4")
    with pytest.raises(ValueError, match=r"equal length, not shapes \(64,\) and \(33,\)"):
        emu.dot(a, emu.quantize(np.ones(33), "mxfp4"))
    with pytest.raises(TypeError, match="not Registers"):
        emu.dot(a, emu.quantize(np.ones(64), "e4m3"))


@pytest.mark.parametrize("args, message", [
    (["golden", "mx-dot", "--format", "mxfp4", "--acc-rounding", "sr_eps", "--count", "5"],
     "--acc-rounding sr_eps: an accumulator takes"),
    (["train", "--weights", "mxfp4", "--activations", "s8.6", "--epochs", "1"],
     "fixed-point activations s8.6"),
    (["train", "--weights", "mxfp4", "--master", "e8m0", "--epochs", "1"],
     "master takes an element format"),
])
def test_block_usage_errors_exit_2_before_any_work(tmp_path, args, message):
    r = CliRunner().invoke(main, args + (["--out", str(tmp_path / "o")] if args[0] == "golden" else []))
    assert r.exit_code == 2 and message in r.output, r.output
    assert not (tmp_path / "o").exists()
