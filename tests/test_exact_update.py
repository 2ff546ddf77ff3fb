"""The training update x - t*g is the exact value rounded once (emu.train.update), bit for bit
against the Fraction reference: ties, SR thresholds, every mode, float and fixed formats,
overflow, zeros and specials. Each constructed case also shows the old update, x - lr*g
evaluated in float64 and then rounded, giving a different code: these tests can fail."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import reference as ref

import emu
from emu.rounding import MODES
from emu.train.update import exact_update

STOCHASTIC = ("sr", "sr_eps", "signed_sr_eps", "sr_equal")


def value(v) -> tuple[object, bool]:
    """Exact value (Fraction, or float nan/inf) and sign bit of a Registers element or a float."""
    if isinstance(v, tuple):  # (format, code)
        fmt, code = v
        val = fmt.code_value(code)
        sign = isinstance(fmt, emu.FloatFormat) and bool(code & fmt.sign_bit)
        return val, sign
    return (Fraction(v) if math.isfinite(v) else v), math.copysign(1.0, v) < 0


def policy(fmt, saturate: bool = True, overflow: str = "sat") -> dict:
    return {"saturate": saturate} if isinstance(fmt, emu.FloatFormat) else {"overflow": overflow}


def want(x, t, g, fmt, mode: str, *, pol=None, rbits: int = 8, rword: int = 0, eps: float = 0.0,
         direction: int = 0, compare: bool = False) -> int:
    """The reference code of x - t*g (x, t, g as ``value`` takes them), rounded once."""
    (xv, xs), (tv, ts), (gv, gs) = value(x), value(t), value(g)
    pv, ps = -(tv * gv), not (ts != gs)  # the addend -t*g and its sign (finite operands here)
    v, neg_zero = ref.add_values(xv, xs, pv, ps, mode)
    kw = dict(pol if pol is not None else policy(fmt))
    if mode in STOCHASTIC:
        kw.update(rbits=rbits, rword=rword, eoff=round(Fraction(eps) * 2**rbits),
                  direction=direction if mode == "signed_sr_eps" else 0, compare=compare)
    return ref.round_exact(v, neg_zero, fmt, mode, **kw)


def options(fmt, mode: str, rng, direction, r: int = 8, eps: float = 0.25, **pol) -> dict:
    kw = policy(fmt, **pol)
    if mode in STOCHASTIC:
        kw.update(rng=rng, sr_bits=r)
        if mode in ("sr_eps", "signed_sr_eps"):
            kw["eps"] = eps
        if mode == "signed_sr_eps":
            kw["direction"] = direction
    return kw


def regs(fmt, codes) -> emu.Registers:
    return emu.Registers.from_codes(list(codes), fmt)


def old_update(x: emu.Registers, t: float, g: np.ndarray, mode: str, **kw) -> np.ndarray:
    """The update before: x - lr*g evaluated in float64 (two roundings), then rounded."""
    return emu.quantize(x.to_float() - t * g, x.format, mode, **kw).codes


# --- constructed cases where float64 evaluation rounds before the one rounding ---------------
def test_hidden_tie_in_e4m3_rounds_down_not_to_even():
    """1.25 - fl(0.1) * 0.625 lies just below the midpoint 1.1875 of 1.125 and 1.25: fl(0.1) is
    above 1/10. In float64 the product rounds to 0.0625 and the difference to the midpoint
    itself, so rne broke a tie that is not there (to the even 1.25)."""
    f = emu.format("e4m3")
    x, g = regs(f, [0x3A]), regs(f, [0x32])  # 1.25, 0.625
    assert x.to_float()[0] == 1.25 and g.to_float()[0] == 0.625
    assert 1.25 - 0.1 * 0.625 == 1.1875  # the midpoint, in float64
    for mode, code in (("rne", 0x39), ("rna", 0x39), ("rnu", 0x39), ("rup", 0x3A), ("rtz", 0x39)):
        got = exact_update(x, 0.1, g, mode, saturate=True).codes[0]
        assert got == code == want((f, 0x3A), 0.1, (f, 0x32), f, mode), mode
    assert old_update(x, 0.1, g.to_float(), "rne", saturate=True)[0] == 0x3A  # the old code


def test_hidden_tie_in_fixed_point():
    """1 - fl(0.1) * 5/256 is just below the s16.8 midpoint 1 - 2^-9: rne gives 255/256; the
    float64 evaluation lands on the midpoint and rounds to the even 1.0."""
    f = emu.format("s16.8")
    x, g = regs(f, [256]), regs(f, [5])
    got = exact_update(x, 0.1, g, "rne", overflow="sat").codes[0]
    assert got == 255 == want((f, 256), 0.1, (f, 5), f, "rne")
    assert old_update(x, 0.1, g.to_float(), "rne", overflow="sat")[0] == 256


def test_sr_threshold_moved_by_the_product_rounding():
    """The same e4m3 value: exactly, the discarded fraction is just below 1/2, so T = 127 of
    256; in float64 it is exactly 1/2, T = 128. The word 128 rounds up only in the old update
    (carry form: up iff T + R >= 256), and in the compare form the word 127 (up iff R < T)."""
    f = emu.format("e4m3")
    x, g = regs(f, [0x3A]), regs(f, [0x32])
    for form, word in (("carry", 128), ("compare", 127)):
        got = exact_update(x, 0.1, g, "sr", saturate=True, rng=_Words([word]), sr_bits=8,
                           form=form).codes[0]
        assert got == 0x39 == want((f, 0x3A), 0.1, (f, 0x32), f, "sr", rword=word,
                                   compare=form == "compare")
        old = old_update(x, 0.1, g.to_float(), "sr", saturate=True, rng=_Words([word]), sr_bits=8,
                         form=form)
        assert old[0] == 0x3A


def test_hidden_grid_point_in_training():
    """From an MLP run (e4m3, lr 0.1): 0.029296875 - fl(0.1) * 0.05859375 is just below the code
    0x0c (0.0234375); float64 says it is exactly 0x0c, so nothing was rounded. Exactly, rtz and
    signed_sr_eps (eps 0.25, word 13, d = -1) give 0x0b."""
    f = emu.format("e4m3")
    x, g = regs(f, [0x0F]), regs(f, [0x17])
    assert exact_update(x, 0.1, g, "rtz", saturate=True).codes[0] == 0x0B
    assert old_update(x, 0.1, g.to_float(), "rtz", saturate=True)[0] == 0x0C
    w = np.array([13], np.uint64)
    got = exact_update(x, 0.1, g, "signed_sr_eps", saturate=True, rng=_Words(w), eps=0.25,
                       direction=-1).codes[0]
    assert got == 0x0B == want((f, 0x0F), 0.1, (f, 0x17), f, "signed_sr_eps", rword=13, eps=0.25,
                               direction=-1)
    assert old_update(x, 0.1, g.to_float(), "signed_sr_eps", saturate=True, rng=_Words(w), eps=0.25,
                      direction=-1)[0] == 0x0C


def test_exact_ties_that_float64_broke():
    """x - t*g exactly halfway between two codes, where t*g needs more than 53 bits, so float64
    rounds it off the midpoint. fp32: x = 2^53, t = 1.5, g = (2^54 - m)/3 (m odd): the exact
    value is m/2, a midpoint; rna must go away from zero. s64.32: x - 3 * G 2^-33 with 2X - 3G
    odd: a midpoint of the 2^-32 grid (and a value that needs the exact path's wide fixed
    point). Every nearest mode against the reference; the old update differs somewhere."""
    differs = 0
    f32 = emu.format("fp32")
    x = emu.quantize([2.0**53], f32)
    for m in range(2**24 + 1, 2**24 + 400, 2):
        if (2**54 - m) % 3:
            continue
        g = np.array([(2**54 - m) // 3], np.float64)
        assert Fraction(2**53) - Fraction(3, 2) * Fraction(int(g[0])) == Fraction(m, 2)
        for mode in ("rne", "rna", "rnz", "rnu", "rnd"):
            got = exact_update(x, 1.5, g, mode, saturate=True).codes[0]
            assert got == want((f32, int(x.codes[0])), 1.5, float(g[0]), f32, mode), (m, mode)
            differs += int(old_update(x, 1.5, g, mode, saturate=True)[0] != got)
    assert differs > 10
    s64 = emu.format("s64.32")
    n = 0
    for G in range(6004799503160661, 6004799503160661 + 60, 2):  # G ~ 2^54 / 3, odd
        X = (3 * G + 1) // 2
        x = regs(s64, [X])
        g = np.array([G * 2.0**-33])
        assert Fraction(g[0]) == Fraction(G, 2**33)
        for mode in ("rne", "rna", "rnz"):
            got = exact_update(x, 3.0, g, mode).codes[0]
            assert got == want((s64, X), 3.0, float(g[0]), s64, mode)
            n += int(old_update(x, 3.0, g, mode, overflow="sat")[0] != got)
    assert n > 0


# --- every mode, random operands, float and fixed formats -------------------------------------
FORMATS = ["e4m3", "e5m2", "e2m1", "bf16", "fp16", "fp32", "e4m3fnuz", "e2m29", "s16.8", "s8.4",
           "u8.4", "s32.16", "s64.32"]


def _random_operands(f, rs, n):
    """Finite x codes of f; g as float64 (any magnitude, full 53-bit significands) or as codes
    of f; t a float64 with a full significand, or a code of f."""
    codes = rs.integers(0, 1 << f.bits, 4 * n, dtype=np.uint64)
    if isinstance(f, emu.FloatFormat):
        codes = np.array([c for c in codes.tolist() if math.isfinite(f.code_value(c))], np.uint64)
    x = regs(f, codes[:n].tolist())
    g64 = rs.standard_normal(n) * np.exp2(rs.integers(-40, 12, n).astype(float))
    g64[:3] = (0.0, -0.0, 1.0)
    g_reg = regs(f, codes[-n:].tolist())
    return x, g64, g_reg


@pytest.mark.parametrize("name", FORMATS)
def test_every_mode_random_operands_against_reference(name):
    f = emu.format(name)
    rs = np.random.default_rng(abs(hash(name)) % 2**32)
    n = 40
    x, g64, g_reg = _random_operands(f, rs, n)
    t_float = float(1 / 3 + rs.random())  # 53-bit significand: the product never fits float64
    t_reg = regs(f, [int(x.codes[5])]) if x.to_float()[5] != 0 else regs(f, [int(x.codes[6])])
    for mode in MODES:
        for t, g in ((t_float, g64), (t_float, g_reg), (t_reg, g_reg)):
            gv = g.to_float() if isinstance(g, emu.Registers) else g
            d = -np.sign(gv).astype(np.int8)
            r = 8 if mode != "sr_equal" else 3
            rng = emu.LFSR(seed=7)
            words = emu.LFSR(seed=7).random_words(n, r)
            got = exact_update(x, t, g, mode, **options(f, mode, rng, d, r)).codes
            tt = (t.format, int(t.codes[0])) if isinstance(t, emu.Registers) else t
            for i in range(n):
                gi = (f, int(g.codes[i])) if isinstance(g, emu.Registers) else float(g[i])
                exp = want((f, int(x.codes[i])), tt, gi, f, mode, rbits=r, rword=int(words[i]),
                           eps=0.25, direction=int(d[i]))
                assert int(got[i]) == exp, (name, mode, i, tt, gi)


def test_wide_sr_and_compare_form_take_the_exact_path():
    """fp32 with r = 32 and e2m29 with r = 31 (decisions more than 53 bits below the leading bit:
    no float64 proxy, so emu.exact rounds the rational), bf16 with r = 20; the compare form, three
    LFSR lanes: the reference's codes with the LFSR's words."""
    from emu.kernels import update as kernel

    rs = np.random.default_rng(3)
    for name, r in (("fp32", 32), ("e2m29", 31), ("bf16", 20)):
        f = emu.format(name)
        x, g64, _ = _random_operands(f, rs, 30)
        for mode in ("sr", "sr_eps", "rto"):
            rng = emu.LFSR(seed=9, lanes=3)
            words = emu.LFSR(seed=9, lanes=3).random_words(30, r)
            kw = options(f, mode, rng, None, r, eps=0.3)
            if mode != "rto":
                kw["form"] = "compare"
            got = exact_update(x, 0.1, g64, mode, **kw).codes
            for i in range(30):
                assert int(got[i]) == want((f, int(x.codes[i])), 0.1, float(g64[i]), f, mode,
                                           rbits=r, rword=int(words[i]), eps=0.3,
                                           compare=True), (name, mode, i)
        status = np.empty(30, np.uint8)
        kernel.update_proxies(x.codes.astype(np.uint64), f.descriptor,
                              np.array([0.1]).view(np.uint64), kernel.F64, g64.view(np.uint64),
                              kernel.F64, f.descriptor, r, 10, np.empty(30, np.uint64), status)
        assert (status == kernel.EXACT).any() == (name != "bf16"), name


@pytest.mark.slow
@pytest.mark.parametrize("t", [0.1, 0.3, 1.5])
def test_exhaustive_small_float_format(t):
    """Every finite e3m2 x and g (3,844 pairs), every deterministic mode, and sr / signed_sr_eps
    with a word per element, saturating and not."""
    f = emu.format("e3m2")
    finite = [c for c in range(64) if math.isfinite(f.code_value(c))]
    xs, gs = zip(*[(a, b) for a in finite for b in finite], strict=True)
    x, g = regs(f, xs), regs(f, gs)
    d = -np.sign(g.to_float()).astype(np.int8)
    for mode in sorted(ref.NEAREST | ref.DIRECTED) + ["sr", "signed_sr_eps"]:
        for sat in (True, False):
            words = emu.LFSR(seed=2).random_words(len(xs), 8)
            got = exact_update(x, t, g, mode,
                               **options(f, mode, emu.LFSR(seed=2), d, saturate=sat)).codes
            for i in range(len(xs)):
                assert int(got[i]) == want((f, xs[i]), t, (f, gs[i]), f, mode,
                                           pol={"saturate": sat}, rword=int(words[i]), eps=0.25,
                                           direction=int(d[i])), (mode, sat, i)


# --- overflow, zeros, specials -----------------------------------------------------------------
def test_overflow_saturates_or_overflows_by_policy():
    e4, e5, s = emu.format("e4m3"), emu.format("e5m2"), emu.format("s16.8")
    big = np.array([-1e300, 1e300])
    for f, pols in ((e4, [{"saturate": True}, {"saturate": False}]),
                    (e5, [{"saturate": True}, {"saturate": False}]),
                    (s, [{"overflow": "sat"}, {"overflow": "sat_sym"}, {"overflow": "wrap"}])):
        x = regs(f, [f.max_code if isinstance(f, emu.FloatFormat) else 0x7FFF] * 2)
        for pol in pols:
            for mode in ("rne", "rtz", "rup", "rdn", "rto"):
                got = exact_update(x, 0.1, big, mode, **pol).codes
                for i in range(2):
                    assert int(got[i]) == want((f, int(x.codes[i])), 0.1, float(big[i]), f, mode,
                                               pol={**policy(f), **pol}), (f.name, pol, mode, i)


def test_zero_results_take_the_sign_of_an_exact_zero_sum():
    f = emu.format("e4m3")
    x = regs(f, [0x80, 0x00, 0x00, 0x80, 0x30])  # -0, +0, +0, -0, 0.5
    g = np.array([0.0, 0.0, -0.0, -0.0, 1.0])
    for mode in ("rne", "rdn", "rup", "sr"):
        rng = emu.LFSR(seed=1) if mode == "sr" else None
        got = exact_update(x, 0.5, g, mode, saturate=True,
                           **({"rng": rng} if rng else {})).codes.tolist()
        exp = [want((f, int(c)), 0.5, float(gi), f, mode) for c, gi in zip(x.codes, g, strict=True)]
        assert got == exp, mode
    assert exact_update(x, 0.5, g, "rne").codes.tolist() == [0x80, 0x00, 0x00, 0x00, 0x00]
    assert exact_update(x, 0.5, g, "rdn").codes.tolist() == [0x80, 0x80, 0x00, 0x80, 0x80]


def test_specials_follow_fma():
    """x - t*g = fma(-t, g, x): a NaN operand gives NaN (its sign); Inf - Inf the invalid NaN
    (sign 0); an infinite product gives Inf, or max when saturating; NaN into fixed point is
    an error naming the element."""
    e5 = emu.format("e5m2")  # +inf 0x7c, canonical NaN 0x7e
    x = regs(e5, [0x3C, 0x3C, 0x7C, 0x3C, 0x7E, 0x3C, 0x3C])  # 1, 1, +inf, 1, nan, 1, 1
    g = np.array([np.inf, -np.inf, np.inf, np.nan, 1.0, 0.0, -np.nan])
    assert exact_update(x, 0.5, g, "rne").codes.tolist() == [0xFC, 0x7C, 0x7E, 0x7E, 0x7E, 0x3C,
                                                             0xFE]
    assert exact_update(regs(e5, [0x3C, 0x3C]), 0.5, g[:2], "rne",
                        saturate=True).codes.tolist() == [0xFB, 0x7B]
    with pytest.raises(ValueError, match="element 1 is not representable in s16.8"):
        exact_update(regs(emu.format("s16.8"), [0, 0]), 0.5, np.array([1.0, np.nan]), "rne")


def test_draws_one_word_per_element_in_order():
    """The same words, in the same order, as quantize of the same shape: a run repeats."""
    f = emu.format("e4m3")
    x = emu.quantize(np.linspace(-2, 2, 12).reshape(3, 4), f)
    g = np.linspace(1, -1, 12).reshape(3, 4)
    a, b = emu.LFSR(seed=5, lanes=2), emu.LFSR(seed=5, lanes=2)
    exact_update(x, 0.1, g, "sr", saturate=True, rng=a)
    emu.quantize(np.zeros((3, 4)), f, "sr", rng=b)
    assert a.states == b.states
    assert exact_update(x, 0.1, g, "sr", rng=emu.LFSR(seed=5)) == \
        exact_update(x, 0.1, g, "sr", rng=emu.LFSR(seed=5))


def test_bad_operands_are_named():
    f = emu.format("e4m3")
    x = emu.quantize([1.0, 2.0], f)
    with pytest.raises(TypeError, match="x must be Registers"):
        exact_update([1.0, 2.0], 0.1, np.ones(2))
    with pytest.raises(TypeError, match="g must be Registers or floats"):
        exact_update(x, 0.1, np.ones(2, np.int64))
    with pytest.raises(ValueError, match="g shape"):
        exact_update(x, 0.1, np.ones(3))
    with pytest.raises(ValueError, match=r"t shape \(3,\) does not broadcast to \(2,\)"):
        exact_update(x, emu.quantize([1.0, 2.0, 3.0], f), x)
    assert exact_update(x, emu.quantize([0.5], f), x) == emu.quantize([0.5, 1.0], f)
    with pytest.raises(ValueError, match="sr_bits"):
        exact_update(x, 0.1, np.ones(2), "sr", rng=emu.LFSR(), sr_bits=40)


class _Words:
    """A random source that hands out given words (r-bit), in order."""

    def __init__(self, words):
        self.words = np.asarray(words, np.uint64)

    def random_words(self, n, bits, threads=None):
        out, self.words = self.words[:n], self.words[n:]
        return out
