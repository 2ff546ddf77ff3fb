"""Format properties against the OCP 8-bit FP spec (v1.0), OCP MX spec and IEEE 754 tables."""

import math
from fractions import Fraction

import numpy as np
import pytest

import emu
from emu.formats import FixedFormat, FloatFormat, exact_fixed_of, exact_float_format

# (name, max, min normal, min subnormal, +inf code, +nan code, finite codes) from the specs
SPEC = [
    ("e4m3", 448, 2**-6, 2**-9, None, 0x7F, 254),
    ("e5m2", 57344, 2**-14, 2**-16, 0x7C, 0x7E, 248),
    ("e4m3fnuz", 240, 2**-7, 2**-10, None, 0x80, 255),
    ("e5m2fnuz", 57344, 2**-15, 2**-17, None, 0x80, 255),
    ("e2m1", 6, 1, 0.5, None, None, 16),
    ("e2m3", 7.5, 1, 0.125, None, None, 64),
    ("e3m2", 28, 0.25, 0.0625, None, None, 64),
    ("fp16", 65504, 2**-14, 2**-24, 0x7C00, 0x7E00, 2**16 - 2 * 1024),
    ("bf16", (2 - 2**-7) * 2**127, 2**-126, 2**-133, 0x7F80, 0x7FC0, 2**16 - 2 * 128),
    ("fp32", (2 - 2**-23) * 2**127, 2**-126, 2**-149, 0x7F800000, 0x7FC00000, 2**32 - 2 * 2**23),
]


@pytest.mark.parametrize("name,mx,mn,msub,inf,nan,finite", SPEC)
def test_named_float_properties(name, mx, mn, msub, inf, nan, finite):
    f = emu.format(name)
    assert float(f.max) == mx
    assert float(f.min_normal) == mn
    assert float(f.min_subnormal) == msub
    assert f.inf_code == inf
    assert f.nan_code == nan
    assert f.finite_codes == finite
    props = f.properties()
    assert props["bits"] == f.bits and props["max"] == mx


def test_canonical_nan_codes_and_families():
    assert emu.format("e4m3").properties()["canonical_nan"] == ["0x7f", "0xff"]
    assert emu.format("e5m2").properties()["canonical_nan"] == ["0x7e", "0xfe"]
    assert emu.format("e5m2").properties()["nan_codes"] == ["0x7d..0x7f", "0xfd..0xff"]
    assert emu.format("e5m2").properties()["inf_codes"] == ["0x7c", "0xfc"]
    assert emu.format("e4m3fnuz").properties()["canonical_nan"] == ["0x80", "0x80"]
    assert emu.format("e2m1").properties()["canonical_nan"] == []
    # explicit family suffixes
    assert float(emu.format("e4m3ieee").max) == 240  # IEEE-like E4M3 as in chop/pychop/APyTypes
    assert emu.format("e4m3fn") == emu.format("e4m3")
    assert emu.format("e5m2fnuz") == emu.format("e5m2fnuz")
    assert emu.format("e4m3fnuz").bias == 8 and emu.format("e5m2fnuz").bias == 16


def test_generic_names():
    f = emu.format("e8m13")
    assert (f.exp_bits, f.man_bits, f.bias, f.family) == (8, 13, 127, "ieee")
    assert emu.format("e3m0").layout == "fn"  # logarithmic quantizer: no Inf, NaN at the top
    assert float(emu.format("e3m0").max) == 2**3  # exponent fields 1..6 are normal, bias 3
    fx = emu.format("s16.8")
    assert isinstance(fx, FixedFormat) and (fx.width, fx.frac, fx.signed) == (16, 8, True)
    assert float(fx.max) == (2**15 - 1) / 256 and float(fx.min) == -128
    u = emu.format("u8.8")
    assert float(u.max) == 255 / 256 and float(u.min) == 0
    assert emu.format("s8.-2").resolution == 4 and emu.format("u4.6").resolution == 2**-6


@pytest.mark.parametrize("bad", ["e9m", "fp8", "e1m3", "e4m3xyz", "q8.8", "", "s0.0", "s65.0",
                                 "e12m3", "e4m28", "s1.0"])
def test_bad_names_list_valid(bad):
    with pytest.raises(ValueError) as err:
        emu.format(bad)
    msg = str(err.value)
    assert repr(bad) in msg or "out of range" in msg or "needs width" in msg


def test_unknown_name_lists_named_formats():
    with pytest.raises(ValueError, match="e4m3, e5m2, e4m3fnuz"):
        emu.format("float8")


def test_impossible_parameters():
    with pytest.raises(ValueError, match="exp_bits"):
        FloatFormat(1, 3)
    with pytest.raises(ValueError, match="family"):
        FloatFormat(4, 3, family="ocp")
    with pytest.raises(ValueError, match="bias"):
        FloatFormat(8, 3, bias=-2000)
    with pytest.raises(ValueError, match="width"):
        FixedFormat(0, 0)
    with pytest.raises(TypeError):
        emu.format(3.5)


def test_every_named_property_is_json_ready():
    import json

    for name in emu.formats.NAMED_FORMATS:
        props = emu.format(name).properties()
        json.dumps(props)
        assert math.isfinite(props["max"])


@pytest.mark.parametrize("name", ["s4.2", "u5.3", "s8.8", "s12.-2", "s2.0", "u1.0", "u1.-5",
                                  "s2.-3", "u8.8", "s16.8", "u3.10", "s10.1032", "s31.0",
                                  "u30.-990"])
def test_exact_float_format_holds_every_fixed_value(name):
    """Every code of the fixed format converts to a float code of the identical value (by the
    formats' own Fraction decoding, and back through the core: no rounding anywhere)."""
    fx = emu.format(name)
    fl = exact_float_format(fx)
    n = 1 << min(fx.width, 16)
    codes = np.arange(n, dtype=np.uint64)
    if fx.width > 16:  # both ends and random codes between
        rng = np.random.default_rng(fx.width)
        codes = np.concatenate([codes, (1 << fx.width) - 1 - codes,
                                rng.integers(0, 1 << fx.width, 1 << 14, dtype=np.uint64),
                                np.uint64(1 << (fx.width - 1)) + codes[:256]])
    r = emu.Registers.from_codes(codes, fx)
    f = emu.convert(r, fl, "rtz")  # exact values convert the same in every mode
    assert f.codes.tolist() == emu.convert(r, fl, "raz").codes.tolist()
    for c, fc in zip(codes.tolist(), f.codes.tolist(), strict=True):
        assert fl.code_value(fc) == fx.code_value(c), (name, fl.name, c)
    assert fl.bits == fx.width + (1 if fx.signed else 2)


@pytest.mark.parametrize("name", ["e4m3", "e5m2", "e4m3fnuz", "e5m2fnuz", "e2m1", "e2m3", "e3m2",
                                  "fp16", "e3m4b-5", "e4m0", "e2m0"])
def test_exact_fixed_of_holds_every_float_value(name):
    """Every finite value of the float format is k * 2**-F with k inside the fixed format, and
    the format is the narrowest such: F is the smallest subnormal's exponent and the largest
    value needs every bit of the width."""
    fl = emu.format(name)
    fx = exact_fixed_of(fl)
    scale = Fraction(2) ** fx.frac
    for c in range(1 << fl.bits):
        v = fl.code_value(c)
        if isinstance(v, float) and not math.isfinite(v):
            continue
        k = Fraction(v) * scale  # -0.0 is a float
        assert k.denominator == 1 and fx.min_code_int <= k <= fx.max_code_int, (name, c)
    assert fl.min_subnormal * scale == 1
    assert fl.max * scale > fx.max_code_int // 2
    with pytest.raises(ValueError, match="bf16 has no exact fixed-point format"):
        exact_fixed_of(emu.format("bf16"))
