"""The reference itself: every computing public name of emu has a slow twin in tests/reference.py
with emu's arguments, and the reference gives the values docs/semantics.md and the README state
(hand-computed there, never taken from emu)."""

from __future__ import annotations

import inspect
from fractions import Fraction

import pytest
import reference as ref

import emu

# public names that hold or describe data, configure, or hand back given words: nothing to
# compute, so no twin (the twins take random words directly, which is what ReplaySource serves)
NOT_COMPUTING = {"FixedFormat", "FloatFormat", "Profile", "Registers", "RandomSource",
                 "ReplaySource", "Rounding", "context", "format", "ScaleFormat", "BlockFormat",
                 "BlockRegisters", "block_format"}
# emu's random source becomes words= (which the caller then has: nothing to return), and
# threads never change a result
NO_TWIN_PARAMS = {"rng", "return_words", "threads"}


def computing_names() -> list[str]:
    return sorted(set(emu.__all__) - NOT_COMPUTING)


def test_every_computing_public_name_has_a_twin():
    missing = [n for n in computing_names() if not callable(getattr(ref, n, None))]
    assert not missing, f"emu names without a twin in tests/reference.py: {missing}"
    assert {"quantize", "convert", "add", "sub", "mul", "fma", "neg", "abs_", "minimum", "maximum",
            "compare", "eq", "ne", "lt", "le", "gt", "ge", "dot", "matmul", "mac_accumulator",
            "LFSR", "AmdPrng"} <= set(computing_names())


@pytest.mark.parametrize("name", computing_names())
def test_twin_takes_emus_arguments(name):
    """Same parameter names (random words for rng); for sources, the same constructor and the
    same drawing methods."""
    mine, theirs = getattr(ref, name), getattr(emu, name)
    pairs = [(mine, theirs)]
    if inspect.isclass(theirs):
        pairs += [(getattr(mine, m), getattr(theirs, m)) for m in ("draw", "random_words")]
    for twin, api in pairs:
        params = inspect.signature(api).parameters
        have = set(inspect.signature(twin).parameters)
        lacking = set(params) - NO_TWIN_PARAMS - have
        assert not lacking, f"{name}: the twin lacks {sorted(lacking)}"
        if "rng" in params:
            assert "words" in have, f"{name}: the twin takes no words="


def e4m3(*codes):
    return emu.Registers.from_codes(list(codes), "e4m3")


def e5m2(*codes):
    return emu.Registers.from_codes(list(codes), "e5m2")


# --- section 2.3: named formats, from their X, M, family and bias ----------------------------------
@pytest.mark.parametrize("x,m,family,bias,max_,min_normal,min_sub,inf,nan", [
    (4, 3, "fn", 7, 448, Fraction(1, 2**6), Fraction(1, 2**9), None, (0x7F, 0xFF)),
    (5, 2, "ieee", 15, 57344, Fraction(1, 2**14), Fraction(1, 2**16), (0x7C, 0xFC), (0x7E, 0xFE)),
    (4, 3, "fnuz", 8, 240, Fraction(1, 2**7), Fraction(1, 2**10), None, (0x80, 0x80)),
    (5, 2, "fnuz", 16, 57344, Fraction(1, 2**15), Fraction(1, 2**17), None, (0x80, 0x80)),
    (2, 1, "finite", 1, 6, 1, Fraction(1, 2), None, (None, None)),
    (2, 3, "finite", 1, Fraction(15, 2), 1, Fraction(1, 8), None, (None, None)),
    (3, 2, "finite", 3, 28, Fraction(1, 4), Fraction(1, 16), None, (None, None)),
    (5, 10, "ieee", 15, 65504, Fraction(1, 2**14), Fraction(1, 2**24), (0x7C00, 0xFC00), (0x7E00, 0xFE00)),
])
def test_named_formats_table(x, m, family, bias, max_, min_normal, min_sub, inf, nan):
    f = ref.FloatSpec(x, m, bias, family)
    assert f.max_finite() == max_
    assert f.decode(1 << m) == min_normal and f.decode(1) == min_sub
    assert (f.inf(False), f.inf(True)) == (inf or (None, None))
    assert (f.nan(False), f.nan(True)) == nan


def test_log_format_e3m0():
    """Section 2.4: e3m0 (bias 3) has magnitudes 0, 2^-2 ... 2^3 and NaN 0x7 / 0xf."""
    f = ref.FloatSpec(3, 0, 3, "ieee")
    assert [f.decode(c) for c in range(7)] == [0] + [Fraction(2) ** e for e in range(-2, 4)]
    assert f.is_nan(0x7) and f.is_nan(0xF) and (f.nan(False), f.nan(True)) == (0x7, 0xF)


# --- section 4: the s8.0 worked example ---------------------------------------------------------
S8_TABLE = {  # x: 2.5, -2.5, 3.5, -3.5, 2.25, -2.25, 2.75, -2.75
    "rne": [2, -2, 4, -4, 2, -2, 3, -3], "rna": [3, -3, 4, -4, 2, -2, 3, -3],
    "rnz": [2, -2, 3, -3, 2, -2, 3, -3], "rnu": [3, -2, 4, -3, 2, -2, 3, -3],
    "rnd": [2, -3, 3, -4, 2, -2, 3, -3], "rtz": [2, -2, 3, -3, 2, -2, 2, -2],
    "rdn": [2, -3, 3, -4, 2, -3, 2, -3], "rup": [3, -2, 4, -3, 3, -2, 3, -2],
    "raz": [3, -3, 4, -4, 3, -3, 3, -3], "rto": [3, -3, 3, -3, 3, -3, 3, -3],
}


@pytest.mark.parametrize("mode", sorted(S8_TABLE))
def test_s8_0_all_modes(mode):
    xs = [2.5, -2.5, 3.5, -3.5, 2.25, -2.25, 2.75, -2.75]
    assert ref.quantize(xs, "s8.0", mode) == [v & 0xFF for v in S8_TABLE[mode]]


def test_ap_fixed_names():
    assert ref.quantize([2.5, -2.5], "s8.0", "AP_RND") == ref.quantize([2.5, -2.5], "s8.0", "rnu")
    assert ref.quantize([-2.25], "s8.0", "ap_trn") == [0xFD]  # rdn: floor


# --- section 5: overflow ------------------------------------------------------------------------
@pytest.mark.parametrize("fmt,mode,kw,xs,codes", [
    ("e4m3", "rne", {}, [464, -464, 464.0001, -464.0001], [0x7E, 0xFE, 0x7F, 0xFF]),
    ("e4m3", "rna", {}, [464], [0x7F]),
    ("e4m3", "rnu", {}, [464], [0x7F]),
    ("e4m3", "rnz", {}, [464], [0x7E]),
    ("e4m3", "rnd", {}, [464], [0x7E]),
    ("e5m2", "rne", {}, [61439.99, 61440, -61440], [0x7B, 0x7C, 0xFC]),
    ("e5m2", "rne", {"saturate": True}, [61440, float("inf"), float("-inf")], [0x7B, 0x7B, 0xFB]),
    ("e4m3fnuz", "rne", {}, [247.99, 248], [0x7F, 0x80]),
    ("e4m3", "rtz", {}, [1000, -1000], [0x7E, 0xFE]),
    ("e4m3", "rdn", {}, [1000, -450], [0x7E, 0xFF]),
    ("e4m3", "rto", {}, [450, 480, 1000], [0x7E] * 3),
    ("e5m2", "rto", {}, [60000, 61440, 65536, 1e6], [0x7B] * 4),
    ("fp16", "rto", {}, [65520, 1e6], [0x7BFF] * 2),
    ("e2m1", "rne", {}, [7, 1e4, float("inf"), -1e4, float("-inf")], [0x7] * 3 + [0xF] * 2),
    ("e2m1", "raz", {}, [7, -1e4], [0x7, 0xF]),
    ("e5m2", "rtz", {}, [float("inf")], [0x7C]),  # the mode is not consulted for an Inf input
    ("s8.0", "rne", {"overflow": "wrap"}, [200, -200, 127.6, -128.6], [0xC8, 0x38, 0x80, 0x7F]),
    ("s8.0", "rne", {"overflow": "sat"}, [127.6, -128.6], [0x7F, 0x80]),
    ("s8.0", "rne", {"overflow": "sat_sym"}, [-128], [0x81]),
    ("u8.0", "rne", {"overflow": "wrap"}, [-1], [0xFF]),
    ("s8.4", "rne", {}, [float("inf"), float("-inf")], [0x7F, 0x80]),
])
def test_overflow_tables(fmt, mode, kw, xs, codes):
    assert ref.quantize(xs, fmt, mode, **kw) == codes


def test_unrepresentable():
    with pytest.raises(ref.Unrepresentable):
        ref.quantize([float("nan")], "s8.4")
    with pytest.raises(ref.Unrepresentable):
        ref.quantize([float("inf")], "s8.4", overflow="wrap")
    assert ref.quantize([1.0, float("nan")], "e2m1", bad=-1) == [0x2, -1]


# --- section 6.3: stochastic rounding, r = 4, every word R -----------------------------------------
def sr_codes(x, fmt, mode, **kw):
    return ref.quantize([x] * 16, fmt, mode, words=range(16), sr_bits=4, **kw)


def test_sr_worked_example():
    assert sr_codes(1.0375, "e4m3", "sr") == [0x38] * 12 + [0x39] * 4  # T = 4: R >= 12
    assert sr_codes(1.0375, "e4m3", "sr", form="compare") == [0x39] * 4 + [0x38] * 12  # R < 4
    lo, hi = 0xFD, 0xFE  # s8.0 -2.3: -3, -2 (T = 11)
    assert sr_codes(-2.3, "s8.0", "sr") == [lo] * 5 + [hi] * 11
    assert sr_codes(-2.3, "s8.0", "sr_eps", eps=0.25) == [lo] * 9 + [hi] * 7
    assert sr_codes(-2.3, "s8.0", "signed_sr_eps", eps=0.25, direction=1) == [lo] + [hi] * 15
    down = sr_codes(-1.0375, "e4m3", "signed_sr_eps", eps=0.25, direction=-1)
    assert down == [0xB8] * 8 + [0xB9] * 8
    assert sr_codes(-1.0375, "e4m3", "signed_sr_eps", eps=0.25, direction=1) == [0xB8] * 16
    assert sr_codes(1.0375, "e4m3", "sr_equal") == [0x38] * 8 + [0x39] * 8  # the MSB of R
    assert sr_codes(1.125, "e4m3", "sr") == [0x39] * 16  # exact values never move


def test_sr_words_are_checked():
    with pytest.raises(ValueError, match="random words"):
        ref.quantize([1.0, 2.0], "e4m3", "sr", words=[1])
    with pytest.raises(ValueError, match="r = 4 bits"):
        ref.quantize([1.0], "e4m3", "sr", words=[16], sr_bits=4)


# --- section 7: random sources ------------------------------------------------------------------
def test_lfsr_values():
    assert ref.LFSR(seed=1).draw(4) == [0xB6DB68A3, 0xCF213212, 0xB93A9645, 0xC28201D2]
    src = ref.LFSR(seed=1)
    assert src.random_words(4, 8) == [0xB6, 0xDB, 0x68, 0xA3] and src.states == (0xB6DB68A3,)
    lanes = ref.LFSR(shifts=8, seed=5, lanes=3)
    assert lanes.draw(4) + lanes.draw(4) == [182, 191, 146, 219, 115, 11, 136, 200]
    assert ref.LFSR(shifts=8, seed=5, lanes=3).draw(8) == [182, 191, 146, 219, 11, 136, 115, 198]
    assert ref.LFSR(seed=1, lanes=4).states == (0x1, 0x658EEC67, 0xFB32555E, 0xEE42C90B)


def test_amd_prng_values():
    assert ref.AmdPrng(seed=1).draw(3) == [0x2, 0x4, 0x8]
    assert ref.AmdPrng(seed=0x80000000).draw(3) == [0xC5, 0x18A, 0x314]
    assert ref.AmdPrng(seed=0x80000000).random_words(3, 4) == [0x0, 0x0, 0x0]


def test_readme_sr_tour():
    """`emu quantize 1.3 1.3 -0.7 --format e4m3 --rounding sr --sr-bits 8 --seed 1`."""
    words = ref.LFSR(seed=1).random_words(3, 8)
    assert words == [0xB6, 0xDB, 0x68]
    assert ref.quantize([1.3, 1.3, -0.7], "e4m3", "sr", words=words) == [0x3B, 0x3B, 0xB3]


def test_readme_quantize_examples():
    assert ref.quantize([0.1, 464.0, -3.3, 1.3], "e4m3") == [0x1D, 0x7E, 0xC5, 0x3A]
    assert ref.quantize([1.3, -2.71], "s8.4", "rdn") == [0x14, 0xD4]
    assert ref.quantize(["1.00000000000000000001"], "e4m3", "rup") == [0x39]
    assert ref.quantize([2**53 + 1], "s64.0") == [2**53 + 1]
    assert ref.quantize(1.5, "e4m3") == 0x3C  # a scalar gives a scalar, as codes.tolist() does


# --- sections 3 and 8: arithmetic ------------------------------------------------------------------
def test_specials_in_arithmetic():
    assert ref.add(e4m3(0x38), e4m3(0xFF)) == [0xFF]  # 1.0 + (-NaN)
    assert ref.add(e5m2(0x3C), e5m2(0xFD)) == [0xFE]  # canonical NaN, the operand's sign
    assert ref.sub(e5m2(0x3C), e5m2(0xFD)) == [0xFE]  # a NaN subtrahend keeps its sign
    assert ref.add(e5m2(0x7C), e5m2(0xFC)) == [0x7E]  # Inf - Inf: invalid, sign 0
    assert ref.sub(e5m2(0x7C), e5m2(0x7C)) == [0x7E]
    assert ref.mul(e5m2(0x00), e5m2(0x7C)) == [0x7E]  # 0 x Inf
    assert ref.fma(e5m2(0x7C), e5m2(0x3C), e5m2(0xFC)) == [0x7E]  # Inf*1 + (-Inf)
    assert ref.fma(e5m2(0x00), e5m2(0x7C), e5m2(0xFF)) == [0xFE]  # a NaN operand comes first
    assert ref.add(e5m2(0x7C), e5m2(0x7C), out="e4m3") == [0x7F]  # Inf into e4m3: NaN
    assert ref.add(e5m2(0x7C), e5m2(0x7C), out="e4m3", saturate=True) == [0x7E]
    assert ref.mul(e5m2(0xFC), e5m2(0x3C)) == [0xFC]  # Inf x 1 keeps the sign
    with pytest.raises(ref.Unrepresentable):
        ref.add(e5m2(0x7E), e5m2(0x3C), out="s8.4")


def test_zero_signs():
    pz, nz, one, mone = e4m3(0x00), e4m3(0x80), e4m3(0x38), e4m3(0xB8)
    assert [ref.add(pz, nz), ref.add(nz, nz), ref.add(one, mone)] == [[0x00], [0x80], [0x00]]
    rdn = [ref.add(x, y, rounding="rdn") for x, y in ((pz, nz), (nz, nz), (one, mone))]
    assert rdn == [[0x80]] * 3
    assert ref.mul(nz, one) == [0x80]  # a product of zero: xor of the signs
    assert ref.quantize([-0.0, -1e-10], "e4m3fnuz") == [0x00, 0x00]  # fnuz has no -0
    assert ref.quantize([-1e-10], "e4m3") == [0x80]  # a value rounding to zero keeps its sign


def test_min_max_compare_neg_abs():
    pz, nz, nan = e4m3(0x00), e4m3(0x80), e4m3(0xFF)
    assert ref.minimum(pz, nz) == ref.minimum(nz, pz) == [0x80]
    assert ref.maximum(pz, nz) == ref.maximum(nz, pz) == [0x00]
    assert ref.minimum(e4m3(0x38), nan) == [0xFF] and ref.maximum(nan, e4m3(0x7F)) == [0xFF]
    assert ref.minimum(e4m3(0x38, 0x40), e4m3(0x40, 0xB8)) == [0x38, 0xB8]
    assert ref.eq(pz, nz) == [True] and ref.ne(nan, nan) == [True] and ref.eq(nan, nan) == [False]
    assert [ref.compare(nan, pz, p) for p in ("lt", "le", "gt", "ge")] == [[False]] * 4
    assert ref.lt(e4m3(0xB8), e4m3(0x38)) == [True]
    one_s84, one_s83 = (emu.Registers.from_codes([c], f) for c, f in ((0x10, "s8.4"), (0x08, "s8.3")))
    assert ref.le(one_s84, one_s83) == [True] and ref.eq(one_s84, one_s83) == [True]  # 1.0 both
    assert ref.neg(e5m2(0xFD)) == [0x7D] and ref.abs_(e5m2(0xFD)) == [0x7D]  # payload kept
    assert ref.neg(e5m2(0xFD), out="e5m2") == [0x7E]  # converted: the canonical NaN
    fnuz = emu.Registers.from_codes([0x00, 0x80, 0x08], "e4m3fnuz")
    assert ref.neg(fnuz) == [0x00, 0x80, 0x88] and ref.abs_(fnuz) == [0x00, 0x80, 0x08]
    m8 = emu.Registers.from_codes([0x80], "s8.4")  # -8.0
    assert ref.neg(m8) == [0x080] and ref.neg(m8, out="s8.4") == [0x7F]  # +8 in s9.4; saturated
    assert ref.abs_(m8) == [0x80]  # +8 in u8.4


@pytest.mark.parametrize("op,names,result", [
    ("add", ("s8.4", "s8.4"), "s9.4"), ("sub", ("u8.0", "u8.0"), "s9.0"),
    ("mul", ("s8.4", "s8.4"), "s16.8"), ("mul", ("s8.2", "u4.1"), "s12.3"),
    ("mul", ("s8.4", "s8.3"), "s16.7"), ("fma", ("s8.4", "s8.4", "s16.8"), "s17.8"),
    ("neg", ("s8.4",), "s9.4"), ("abs_", ("s8.4",), "u8.4"),
])
def test_default_fixed_formats(op, names, result):
    assert ref.exact_fixed_format(op, *map(emu.format, names)) == emu.format(result)


def test_exact_fixed_format_limit():
    with pytest.raises(ValueError, match="62"):
        ref.exact_fixed_format("add", emu.format("s64.0"), emu.format("s64.0"))


def test_mac_accumulator_rule():
    """Section 9 (and 13.5): Wa + Wb + guard_bits wide, Fa + Fb fraction bits, signed if either
    operand is. (The example in section 9, 's8.4, s8.4, 16 -> s31.8', predates 13.5's fix.)"""
    assert ref.mac_accumulator("s8.4", "s8.4", 16) == emu.format("s32.8")
    assert ref.mac_accumulator("u8.4", "u6.2", 0) == emu.format("u14.6")
    assert ref.mac_accumulator("u8.4", "s6.2", 3) == emu.format("s17.6")


def test_mixing_kinds_is_refused():
    with pytest.raises(ValueError, match="mix"):
        ref.add(e4m3(0x38), emu.Registers.from_codes([1], "s8.4"))
