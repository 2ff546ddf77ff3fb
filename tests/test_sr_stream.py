"""The LFSR's leap-forward stream (emu.kernels.lfsr, "the bit stream") and stochastic rounding fed
by it (paths.sr_hi16 with a stream, fast.sr_hi16_stream), bit for bit.

The stream's words are checked against the bit-serial kernel (``draw_words``: one single-bit
shift at a time, itself pinned to tests/reference.py in test_lfsr.py) for every configuration
that matters: both LFSR forms, random and table polynomials, widths 3..64, draw sizes that divide
64 and that straddle words, inverted words, several lanes and thread counts, and the bank's end
state. The fused conversion is checked against the rounding core fed the same words, on every
top-16-bit pattern of float32 and float64 sources; the decision itself (``_sr_pick``) is the
one sr_hi16 uses, which test_paths.py pins to the core with extreme and random words.
"""

import numpy as np
import pytest
from test_paths import FLOAT_OVF, HOST, core, top16

import emu
from emu import paths
from emu.codes import SR
from emu.kernels import fast
from emu.kernels.lfsr import draw_words, lags_hold
from emu.lfsr import LFSR, MAXIMAL_POLYS
from emu.registers import code_dtype


def bit_serial_words(lf: LFSR, n: int, bits: int) -> tuple[np.ndarray, tuple]:
    """The r-bit words of ``lf.words(n, bits)`` by one single-bit shift at a time, and the
    bank's end state (lf is left alone)."""
    c = lf.copy()
    d = c.shifts or bits
    first, rest = np.empty(n, np.uint64), np.empty(n, np.uint64)
    draw_words(c._states, c.width, np.uint64(c.poly), c.config == "galois", d, c.reverse,
               c.invert, n, first, rest)
    return first >> np.uint64(d - bits), c.states


CASES = [  # (width, poly or None for the table's, config, shifts, bits, lanes, invert)
    (32, None, "fibonacci", None, 8, 1, False),
    (32, None, "fibonacci", None, 8, 8, False),
    (32, None, "galois", None, 8, 3, False),
    (3, None, "fibonacci", None, 2, 1, False),
    (7, 0x41, "galois", 13, 5, 2, True),
    (16, None, "fibonacci", 37, 37, 1, False),  # 37-bit draws straddle words
    (31, 0x12345, "fibonacci", 3, 3, 5, True),  # a non-primitive polynomial
    (33, None, "galois", 64, 64, 1, False),
    (64, None, "fibonacci", 1, 1, 2, False),
    (64, 0xFFFFFFFFFFFFFFFF, "galois", 24, 17, 1, True),
]


@pytest.mark.parametrize("width,poly,config,shifts,bits,lanes,invert", CASES)
def test_stream_words_equal_the_bit_serial_shifts(width, poly, config, shifts, bits, lanes, invert):
    n = 1024 * lanes * 3 + 77  # several chunks, and a partial group at the end
    lf = LFSR(width, poly, config, shifts, seed=0x1D % (1 << width) or 1, lanes=lanes,
              invert=invert)
    assert lf.stream(n, bits) is not None  # the stream applies (and then advances a copy)
    want, end = bit_serial_words(lf, n, bits)
    for threads in (1, 2, 4):
        c = lf.copy()
        got = c.words(n, bits, threads=threads)
        assert np.array_equal(got, want), (threads, np.flatnonzero(got != want)[:5])
        assert c.states == end
        d = lf.shifts or bits  # draw() takes the stream too: its words, unshifted
        raw = lf.copy().draw(n, threads=2) if lf.shifts else lf.copy().draw(n, d, threads=2)
        assert np.array_equal(raw >> np.uint64(d - bits), want)


def test_stream_blocks_start_mid_lane():
    """A block's words begin at its own element, whatever lane that is: every split of one
    call gives the call's words."""
    lf = LFSR(seed=9, lanes=5)
    n = 1024 * 5 * 2
    want, _ = bit_serial_words(lf, n, 8)
    stream = lf.copy().stream(n, 8)
    for a, b in ((0, 1), (1, 4098), (4097, 9000), (9000, n), (3, 3)):
        out = np.empty(b - a, np.uint64)
        stream.block(a, b).fill(out)
        assert np.array_equal(out, want[a:b]), (a, b)


def test_stream_declines_where_it_does_not_apply():
    assert LFSR(seed=1, reverse=True).stream(1 << 20, 8) is None  # reversed words
    assert LFSR(seed=1, shifts=65).stream(1 << 20, 8) is None  # draws beyond 64 bits

    class Custom(LFSR):
        def words(self, n, bits, threads=None):
            return super().words(n, bits, threads) ^ np.uint64(1)

    assert Custom(seed=1).stream(1 << 20, 8) is None  # its own words() is what it means


@pytest.mark.parametrize("width", sorted(MAXIMAL_POLYS))
@pytest.mark.parametrize("config", ["fibonacci", "galois"])
def test_recurrence_lags_hold_for_every_table_polynomial(width, config):
    lf = LFSR(width, config=config)
    lags = lf._lags()
    assert lags is not None and lags.max() == width
    assert lags_hold(width, np.uint64(lf.poly), config == "galois", lags)
    wrong = lags.copy()
    wrong[0] = width - 1 if wrong[0] == width else width  # a lag set that is not the recurrence
    assert not lags_hold(width, np.uint64(lf.poly), config == "galois", np.unique(wrong))


FUSED = [("e4m3", 8, False), ("e4m3", 3, True), ("e5m2", 1, False), ("e2m1", 8, True),
         ("e4m3fnuz", 5, False), ("e3m2", 8, False)]


@pytest.mark.parametrize("src", ["f32", "f64"])
@pytest.mark.parametrize("dst_name,rbits,compare", FUSED)
def test_fused_sr_equals_core(src, dst_name, rbits, compare, monkeypatch):
    """quantize(sr) with an LFSR runs sr_hi16 on the stream (counted) and gives the core's codes
    for the same words, on every top-16-bit pattern, lanes 1 and 8, threads 1, 2 and 4."""
    desc, _, ftype = HOST[src]
    codes = top16(src)
    x = codes.view(ftype)
    dst = emu.format(dst_name)
    calls = []
    real = fast.sr_hi16_stream

    def counted(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(fast, "sr_hi16_stream", counted)
    for ovf in FLOAT_OVF:
        for lanes, invert in ((1, False), (8, False), (1, True)):  # one lane, r = 8: the bytes
            lf = LFSR(seed=0xACE1, lanes=lanes, invert=invert)
            words, end = bit_serial_words(lf, codes.size, rbits)
            want, bad = core(codes, desc, dst.descriptor, SR, ovf, rbits, words, compare)
            for threads in (1, 2, 4):
                what = (src, dst_name, rbits, compare, ovf, lanes, invert, threads)
                c = lf.copy()
                calls.clear()
                try:
                    got = emu.quantize(x, dst, "sr", rng=c, sr_bits=rbits, saturate=bool(ovf),
                                       form="compare" if compare else "carry",
                                       threads=threads).codes
                except ValueError:  # a NaN with no code: the core has a bad element too
                    assert bad.any(), what
                    continue
                assert not bad.any(), what
                assert calls, what  # the fused path ran
                assert c.states == end, what
                diff = np.flatnonzero(got.astype(np.uint64) != want)
                assert diff.size == 0, (what, diff[:5])


def test_fused_sr_declines_to_the_core_with_the_same_words():
    """A target the tables cannot serve (an entry with no code) takes the core, with the words
    made from the same stream."""
    x = np.array([np.nan] + [1.3] * 9999, np.float32)  # e2m1 has no NaN code
    lf = LFSR(seed=3)
    with pytest.raises(ValueError, match="NaN"):
        emu.quantize(x, "e2m1", "sr", rng=lf.copy(), sr_bits=4)
    y = np.full(10000, 1.3, np.float32)
    words, _ = bit_serial_words(lf, y.size, 4)
    want, _ = core(y.view(np.uint32), HOST["f32"][0], emu.format("e2m1").descriptor, SR, 0, 4,
                   words)
    assert paths.convert_path(y.size, HOST["f32"][0], emu.format("e2m1").descriptor, SR, 0, 4) \
        == paths.SR_HI16
    got = emu.quantize(y, "e2m1", "sr", rng=lf.copy(), sr_bits=4).codes
    assert np.array_equal(got.astype(np.uint64), want)
    assert got.dtype == code_dtype(4)


def test_a_recorder_sees_every_word_of_a_lazy_call():
    """Recorder forwards attributes to its source; the stream must not bypass it."""
    from emu.sources import Recorder

    x = np.random.default_rng(2).standard_normal(50_000).astype(np.float32)
    lf = LFSR(seed=11)
    want, _ = bit_serial_words(lf, x.size, 8)
    rec = Recorder(lf.copy())
    a = emu.quantize(x, "e4m3", "sr", rng=rec)
    assert np.array_equal(rec.taken(), want)
    assert np.array_equal(a.codes, emu.quantize(x, "e4m3", "sr", rng=lf.copy()).codes)
