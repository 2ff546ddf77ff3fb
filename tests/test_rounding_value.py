"""emu.Rounding (a rounding as a value), the random-source protocol, ReplaySource and
return_words: the keyword spelling and the value spelling give the same codes, the words a call
reports are the words it used, and a bad source is an error, never a wrong answer."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import emu
from emu.rounding import Rounding, as_rounding
from emu.sources import RandomSource

X = np.linspace(-3.3, 3.3, 257)


# --- the value ------------------------------------------------------------------------------
def test_rounding_is_frozen_hashable_and_canonical():
    r = Rounding("SR", bits=12)
    assert r == Rounding("sr", bits=12) and hash(r) == hash(Rounding("sr", bits=12))
    assert Rounding("AP_RND_CONV") == Rounding("rne")
    with pytest.raises(AttributeError):
        r.mode = "rne"
    assert len({Rounding("sr"), Rounding("sr", bits=8), Rounding("sr", form="carry")}) == 1
    assert Rounding("sr").bits == 8 and Rounding("rne").bits is None


@pytest.mark.parametrize("text", ["rne", "sr:bits=12", "sr:bits=3,form=compare",
                                  "sr_eps:eps=0.25", "signed_sr_eps:bits=10,eps=0.125",
                                  "rtz:overflow=wrap", "rne:saturate=true", "sr_equal:bits=5"])
def test_text_round_trips(text):
    r = Rounding.parse(text)
    assert str(r) == text and Rounding.parse(str(r)) == r


def test_parse_shorthands():
    assert Rounding.parse("signed_sr_eps:0.25") == Rounding("signed_sr_eps", eps=0.25)
    assert Rounding.parse("sr:12") == Rounding("sr", bits=12)
    assert Rounding.parse("rtz:wrap") == Rounding("rtz", overflow="wrap")
    assert Rounding.parse("sr:compare") == Rounding("sr", form="compare")
    assert Rounding.parse("rne:saturate") == Rounding("rne", saturate=True)


@pytest.mark.parametrize("make, match", [
    (lambda: Rounding("nearest"), "unknown rounding mode 'nearest'; valid: rne"),
    (lambda: Rounding("rne", bits=8), "sr_bits= only applies to stochastic"),
    (lambda: Rounding("sr", eps=0.1), "eps= only applies to sr_eps and signed_sr_eps"),
    (lambda: Rounding("sr_eps"), "sr_eps needs eps in"),
    (lambda: Rounding("sr_eps", eps=1.0), "needs eps in"),
    (lambda: Rounding("sr", bits=0), "sr_bits=0 out of range"),
    (lambda: Rounding("sr", bits=8.0), "sr_bits must be an integer"),
    (lambda: Rounding("sr", form="ceil"), "unknown SR form 'ceil'; valid: carry, compare"),
    (lambda: Rounding("rne", overflow="clamp"), "unknown overflow policy 'clamp'"),
    (lambda: Rounding("rne", saturate=1), "saturate must be True or False"),
    (lambda: Rounding.parse("sr:bits=x"), "bad value 'x' for bits"),
    (lambda: Rounding.parse("sr:speed=3"), "unknown option"),
    (lambda: Rounding.parse("sr:fast"), "cannot read option 'fast'"),
    (lambda: Rounding.parse(3), "a rounding is a name or an emu.Rounding"),
])
def test_bad_roundings_are_clear_errors(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_kernel_descriptor():
    k = Rounding("sr_eps", bits=4, eps=0.25, form="compare").kernel(emu.format("e4m3"))
    assert (k.mode, k.rbits, k.eoff, k.compare) == (11, 4, 4, True)  # E = round(0.25 * 2**4)
    assert Rounding("rne").kernel(emu.format("s8.4")).overflow == 1  # fixed: sat by default
    assert Rounding("rne", overflow="wrap", saturate=True).kernel(emu.format("e4m3")).overflow == 1
    assert Rounding("rne", overflow="wrap").kernel(emu.format("s8.4")).overflow == 0


def test_keyword_checks_against_the_target_kind():
    with pytest.raises(ValueError, match="saturate= applies to float formats"):
        emu.quantize([1.0], "s8.4", saturate=True)
    with pytest.raises(ValueError, match="overflow= applies to fixed-point formats"):
        emu.quantize([1.0], "e4m3", overflow="wrap")
    # one Rounding serves both kinds: each target takes its own field
    both = Rounding("rne", saturate=True, overflow="wrap")
    assert emu.quantize([1e6], "e4m3", both).to_float()[0] == 448.0
    assert emu.quantize([8.5], "s8.4", both).to_float()[0] == -7.5  # wrapped


# --- the value and the keywords agree -------------------------------------------------------
@pytest.mark.parametrize("fmt", ["e4m3", "e5m2", "s8.4"])
@pytest.mark.parametrize("kw", [
    {"rounding": "rtz"}, {"rounding": "sr", "sr_bits": 5}, {"rounding": "sr", "form": "compare"},
    {"rounding": "sr_eps", "eps": 0.25, "sr_bits": 6}, {"rounding": "sr_equal", "sr_bits": 3},
])
def test_value_and_keywords_give_the_same_codes(fmt, kw):
    kw = dict(kw)
    mode = kw.pop("rounding")
    r = as_rounding(mode, **kw)
    seed = dict(seed=7, lanes=3)
    rng = {"rng": emu.LFSR(**seed)} if r.stochastic else {}
    by_kw = emu.quantize(X, fmt, mode, **kw, **rng)
    rng2 = {"rng": emu.LFSR(**seed)} if r.stochastic else {}
    by_value = emu.quantize(X, fmt, r, **rng2)
    assert np.array_equal(by_kw.codes, by_value.codes)
    a = emu.quantize(X[:64], fmt)
    b = emu.quantize(X[64:128], fmt)
    add_kw = emu.add(a, b, out=fmt, rounding=mode, **kw, **({"rng": emu.LFSR(**seed)} if rng else {}))
    add_value = emu.add(a, b, out=fmt, rounding=r, **({"rng": emu.LFSR(**seed)} if rng else {}))
    assert np.array_equal(add_kw.codes, add_value.codes)


def test_context_holds_a_rounding():
    a = emu.quantize([1.0, 2.0], "e4m3")
    b = emu.quantize([0.0625, 0.0625], "e4m3")
    with emu.context(rounding=Rounding("rup")) as ctx:
        assert ctx.rounding == Rounding("rup")
        assert (a + b).to_float().tolist() == [1.125, 2.25]
    with emu.context(rounding="sr", sr_bits=12) as ctx:
        assert ctx.rounding == Rounding("sr", bits=12)
    with emu.context(sr_bits=6) as ctx:  # a loose option waits for a mode it fits
        assert ctx.rounding == Rounding("rne")
        w = emu.add(a, b, rounding="sr", rng=emu.LFSR(seed=3), return_words=True)[1]
        assert int(w.max()) < 2**6
    with pytest.raises(ValueError, match="sr_eps needs eps"):
        emu.context(rounding="sr_eps").__enter__()


# --- words ----------------------------------------------------------------------------------
def test_return_words_are_the_words_used():
    fmt = "e4m3"
    res, words = emu.quantize(X, fmt, "sr", rng=emu.LFSR(seed=5, lanes=4), sr_bits=7,
                              return_words=True)
    assert words.dtype == np.uint64 and words.shape == (X.size,)
    assert np.array_equal(words, emu.LFSR(seed=5, lanes=4).words(X.size, 7))
    again = emu.quantize(X, fmt, "sr", rng=emu.ReplaySource(words), sr_bits=7)
    assert np.array_equal(res.codes, again.codes)
    det, none = emu.quantize(X, fmt, return_words=True)
    assert none.size == 0 and np.array_equal(det.codes, emu.quantize(X, fmt).codes)


def test_matmul_returns_its_words_in_draw_order():
    a = emu.quantize(np.linspace(-1, 1, 12).reshape(3, 4), "e4m3")
    b = emu.quantize(np.linspace(1, -1, 8).reshape(4, 2), "e4m3")
    c, words = emu.matmul(a, b, acc="e5m2", acc_rounding="sr", out="e4m3", out_rounding="sr",
                          rng=emu.LFSR(seed=9), sr_bits=5, return_words=True)
    assert words.size == 3 * 2 * 4 + 3 * 2  # one per accumulation, then one per output
    replay = emu.matmul(a, b, acc="e5m2", acc_rounding="sr", out="e4m3", out_rounding="sr",
                        rng=emu.ReplaySource(words), sr_bits=5)
    assert np.array_equal(c.codes, replay.codes)


def test_emu_sources_implement_the_protocol():
    for src in (emu.LFSR(seed=3, lanes=2), emu.AmdPrng(seed=3, lanes=2),
                emu.ReplaySource(np.arange(100, dtype=np.uint64) % 256)):
        assert isinstance(src, RandomSource)
        start = src.state
        twin = src.copy()
        first = src.words(10, 8)
        assert np.array_equal(twin.words(10, 8), first)  # copy() is at the same point
        src.state = start
        src.skip(4, 8)
        assert np.array_equal(src.words(6, 8), first[4:])  # skip(n) == drawing n words


def test_replay_source_refuses_to_run_out_or_serve_wide_words(tmp_path):
    src = emu.ReplaySource(np.array([1, 2, 300], dtype=np.uint64))
    with pytest.raises(ValueError, match="word 2 = 0x12c does not fit the call's 8 random bits"):
        emu.quantize([1.1, 1.2, 1.3], "e4m3", "sr", rng=src)
    with pytest.raises(ValueError, match="needs 4 words, 3 of 3 remain"):
        emu.quantize([1.1] * 4, "e4m3", "sr", rng=emu.ReplaySource(np.array([1, 2, 3])))
    with pytest.raises(TypeError, match="1-D array of unsigned integer words"):
        emu.ReplaySource([1.5, 2.5])
    with pytest.raises(ValueError, match="negative"):
        emu.ReplaySource(np.array([1, -2]))
    dump = tmp_path / "r.hex"
    dump.write_text("// DUT SR words\n0a\nff\n03\n")
    assert emu.ReplaySource(dump, width=8).words(3, 8).tolist() == [10, 255, 3]
    bad = tmp_path / "bad.hex"
    bad.write_text("0a\nzz\n")
    with pytest.raises(ValueError, match="bad.hex.*line 2"):
        emu.ReplaySource(bad, width=8)


class _Short:
    def words(self, n, bits, threads=None):
        return np.zeros(max(n - 1, 0), np.uint64)


class _Wide:
    def words(self, n, bits, threads=None):
        return np.full(n, 1 << bits, np.uint64)


class _Legacy:  # the protocol's former method name still works
    def random_words(self, n, bits, threads=None):
        return np.zeros(n, np.uint64)


def test_bad_sources_are_errors_not_segfaults():
    with pytest.raises(ValueError, match="returned 2 words.*exactly 3"):
        emu.quantize([1.1, 1.2, 1.3], "e4m3", "sr", rng=_Short())
    with pytest.raises(ValueError, match="must be in \\[0, 2\\*\\*8\\)"):
        emu.quantize([1.1, 1.2, 1.3], "e4m3", "sr", rng=_Wide())
    # R = 0 adds nothing below the LSB: 1.1 truncates to 1.0 (neighbours 1.0 and 1.125)
    assert emu.quantize([1.1], "e4m3", "sr", rng=_Legacy()).to_float()[0] == 1.0


# --- found by a hostile pass --------------------------------------------------------------------
def test_dot_returns_its_words():
    a = emu.quantize(np.linspace(-1, 1, 15).reshape(3, 5), "e4m3")
    v = emu.quantize(np.linspace(1, -1, 5), "e4m3")
    y, words = emu.dot(a, v, acc="e5m2", acc_rounding="sr", rng=emu.LFSR(seed=2), return_words=True)
    assert y.shape == (3,) and words.size == 15
    again = emu.dot(a, v, acc="e5m2", acc_rounding="sr", rng=emu.ReplaySource(words))
    assert np.array_equal(y.codes, again.codes)
    assert emu.dot(a, v, return_words=True)[1].size == 0


def test_kernel_descriptor_takes_format_names():
    assert Rounding("rtz").kernel("s8.4").overflow == 1  # sat, as for the format itself
    assert Rounding("rtz", overflow="sat_sym").kernel("s8.4").overflow == 2
    with pytest.raises(TypeError, match="a format or its name"):
        Rounding("rne").kernel(42)


def test_arithmetic_refuses_an_overflow_option_of_the_other_kind():
    p = emu.quantize([7.5, -8.0], "s4.1")
    a = emu.quantize([448.0, -448.0], "e4m3")
    with pytest.raises(ValueError, match="saturate= applies to float formats"):
        emu.add(p, p, out="s4.1", saturate=True)
    with pytest.raises(ValueError, match="overflow= applies to fixed-point formats"):
        emu.add(a, a, overflow="wrap")
    with emu.context(saturate=True, overflow="wrap"):  # loose defaults: each kind takes its own
        assert emu.add(a, a).to_float().tolist() == [448.0, -448.0]
        assert emu.add(p, p, out="s4.1").to_float().tolist() == [-1.0, 0.0]  # 15 and -16 wrap


def test_context_rounding_value_and_loose_options_agree():
    a = emu.quantize([1.1, 1.2, 1.3], "e4m3")
    b = emu.quantize([0.1, 0.2, 0.3], "e4m3")
    with emu.context(rounding=Rounding("sr", bits=12), rng=emu.LFSR(seed=1)):
        by_value = emu.add(a, b, rounding="sr", return_words=True)[1]
    with emu.context(rounding="sr", sr_bits=12, rng=emu.LFSR(seed=1)):
        by_loose = emu.add(a, b, rounding="sr", return_words=True)[1]
    assert np.array_equal(by_value, by_loose) and int(by_value.max()) >= 2**8  # 12-bit words
    big = emu.quantize([448.0], "e4m3")
    for ctx in ({"rounding": Rounding("rne", saturate=True)}, {"rounding": "rne", "saturate": True}):
        with emu.context(**ctx):
            assert emu.add(big, big, rounding="rne").to_float()[0] == 448.0
    with emu.context(rounding=Rounding("sr", bits=12), sr_bits=4) as ctx:  # given together: the option wins
        assert ctx.rounding == Rounding("sr", bits=4)


@pytest.mark.parametrize("settings, match", [
    ({"sr_bits": 99}, "sr_bits=99 out of range"), ({"eps": 5.0}, "needs eps in"),
    ({"form": "bogus"}, "unknown SR form"), ({"overflow": "clamp"}, "unknown overflow policy"),
])
def test_context_options_are_checked_on_entry(settings, match):
    with pytest.raises(ValueError, match=match):
        emu.context(**settings).__enter__()


def test_matmul_checks_the_output_rounding_before_drawing():
    a = emu.quantize(np.ones((2, 3)), "e4m3")
    rng = emu.LFSR(seed=1)
    before = rng.state
    with pytest.raises(ValueError, match="sr_eps needs eps"):
        emu.matmul(a, a.T, acc="e5m10", acc_rounding="sr", rng=rng, out="e4m3", out_rounding="sr_eps")
    assert rng.state == before


def test_parse_refuses_duplicates_and_reads_fractions():
    with pytest.raises(ValueError, match="bits given twice"):
        Rounding.parse("sr:bits=8,bits=9")
    with pytest.raises(ValueError, match="unknown option"):
        Rounding.parse("rne:mode=sr")
    assert Rounding.parse("sr_eps:1/3") == Rounding("sr_eps", eps=Fraction(1, 3))
    assert str(Rounding("sr_eps", eps=-0.0)) == "sr_eps:eps=0.0"
    assert Rounding("rne") == Rounding("rne", saturate=False) == Rounding("rne", overflow="sat")


def test_replay_and_lfsr_edges():
    assert emu.ReplaySource([]).remaining == 0 and emu.ReplaySource([]).lanes == 1
    with pytest.raises(ValueError, match="not a 64-bit unsigned word"):
        emu.ReplaySource([1, 2**64])
    assert emu.ReplaySource([2**64 - 1]).words(1, 64).tolist() == [2**64 - 1]
    with pytest.raises(ValueError, match="bits=65 out of range"):
        emu.LFSR(seed=1).words(2, 65)
    with pytest.raises(ValueError, match="n=.* out of range"):
        emu.LFSR(seed=1).skip(2**70, 8)
    with pytest.raises(ValueError, match="cannot supply 32 random bits"):
        emu.LFSR(shifts=16).skip(3, 32)


class _WideLFSR(emu.LFSR):
    def words(self, n, bits, threads=None):
        return np.full(n, 1 << 40, np.uint64)


def test_a_subclass_of_an_emu_source_is_checked():
    with pytest.raises(ValueError, match="must be in"):
        emu.quantize([1.1], "e4m3", "sr", rng=_WideLFSR(seed=1))
