"""Memory safety and validation at the API (issue 12, item 4): random sources are checked at
the one place words are taken, Registers own in-range codes, a format's name parses back to it,
and integer/real/flag parameters go through one helper (emu/validate.py)."""

import copy
import pickle

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import emu
from emu.formats import FixedFormat, FloatFormat
from emu.lfsr import RandomSource, source_words


class Source:
    """A random source returning whatever it is told to."""

    def __init__(self, make):
        self.make = make

    def random_words(self, n, bits, threads=None):
        return self.make(n, bits)


def e4m3(n):
    return emu.quantize(np.linspace(-3, 3, n), "e4m3")


# --- random sources --------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1000, 200_000])
def test_too_few_words_refused(n):
    x = np.linspace(-3, 3, n)
    with pytest.raises(ValueError, match=f"returned 10 words .* exactly {n}"):
        emu.quantize(x, "e4m3", "sr", rng=Source(lambda n, b: np.zeros(10, np.uint64)))


@pytest.mark.parametrize("make,err,needle", [
    (lambda n, b: np.full(n, 1 << b, np.uint64), ValueError, "word 256 at index 0"),
    (lambda n, b: np.arange(n, dtype=np.uint64) + 250, ValueError, "word 256 at index 6"),
    (lambda n, b: np.full(n, -1, np.int64), ValueError, "word -1 at index 0"),
    (lambda n, b: np.full(n, 0.5), TypeError, "float64"),
    (lambda n, b: [0] * n, TypeError, "list"),
    (lambda n, b: np.zeros((n, 1), np.uint64), ValueError, r"shape \(10, 1\)"),
    (lambda n, b: np.zeros(n + 1, np.uint64), ValueError, "11 words"),
])
def test_bad_words_refused(make, err, needle):
    with pytest.raises(err, match=needle):
        emu.quantize(np.linspace(-3, 3, 10), "e4m3", "sr", sr_bits=8, rng=Source(make))


def test_integer_words_of_any_dtype_accepted_float_words_refused():
    x = np.linspace(-3, 3, 10)
    want = emu.quantize(x, "e4m3", "sr", rng=Source(lambda n, b: np.full(n, 200, np.uint64)))
    for dt in (np.int64, np.int32, np.uint8):
        r = emu.quantize(x, "e4m3", "sr", rng=Source(lambda n, b, dt=dt: np.full(n, 200, dt)))
        assert r == want
    with pytest.raises(TypeError, match="float32"):
        emu.quantize(x, "e4m3", "sr", rng=Source(lambda n, b: np.full(n, 200, np.float32)))


@pytest.mark.parametrize("call", [
    lambda rng: emu.quantize([1.3], "e4m3", "sr", rng=rng),
    lambda rng: emu.convert(e4m3(4), "e2m1", "sr", rng=rng),
    lambda rng: emu.add(e4m3(4), e4m3(4), rounding="sr", rng=rng),
    lambda rng: emu.fma(e4m3(4), e4m3(4), e4m3(4), rounding="sr", rng=rng),
    lambda rng: emu.matmul(e4m3(4).reshape(2, 2), e4m3(4).reshape(2, 2), acc="e5m2",
                           acc_rounding="sr", rng=rng),
    lambda rng: emu.context(rng=rng).__enter__(),
])
def test_rng_without_random_words_is_a_type_error(call):
    with pytest.raises(TypeError, match="words.*not int"):
        call(42)


def test_words_checked_for_every_consumer():
    bad = Source(lambda n, b: np.full(n, 1 << 20, np.uint64))
    a = e4m3(4)
    for call in (lambda: emu.add(a, a, rounding="sr", rng=bad, sr_bits=8),
                 lambda: emu.convert(a, "e2m1", "sr", rng=bad),
                 lambda: emu.matmul(a.reshape(2, 2), a.reshape(2, 2), acc="e5m2", acc_rounding="sr",
                                    rng=bad)):
        with pytest.raises(ValueError, match="must be in"):
            call()


def test_protocol_and_existing_sources():
    from emu.sources import Recorder

    assert isinstance(emu.LFSR(), RandomSource) and isinstance(emu.AmdPrng(), RandomSource)
    words = emu.LFSR(seed=3, shifts=8).random_words(6, 8)
    assert np.array_equal(source_words(emu.ReplaySource(words), 6, 8), words)
    rec = Recorder(emu.LFSR(seed=3, shifts=8))
    assert isinstance(rec, RandomSource) and rec.lanes == 1
    assert np.array_equal(source_words(rec, 4, 8), words[:4])
    assert np.array_equal(source_words(rec, 2, 8), words[4:])
    assert np.array_equal(rec.taken(), words) and rec.taken().size == 0
    x = np.linspace(-3, 3, 6)
    assert emu.quantize(x, "e4m3", "sr", rng=emu.ReplaySource(words)) == \
        emu.quantize(x, "e4m3", "sr", rng=emu.LFSR(seed=3, shifts=8))


# --- Registers own in-range codes ---------------------------------------------------------------
def test_constructor_rejects_codes_wider_than_the_format():
    with pytest.raises(ValueError, match="code 0xff at index 0 does not fit the 4-bit format e2m1"):
        emu.Registers(np.full(5000, 0xFF, np.uint8), "e2m1")
    codes = np.zeros(10, np.uint8)
    codes[7] = 0x10
    with pytest.raises(ValueError, match="code 0x10 at index 7"):
        emu.Registers(codes, "e2m1")
    with pytest.raises(ValueError, match="code 0x1000 at index 1 does not fit the 12-bit"):
        emu.Registers(np.array([1, 0x1000], np.uint16), "e5m6")
    with pytest.raises(ValueError, match="code -1 at index 0"):
        emu.Registers.from_codes([-1, 3], "e2m1")
    with pytest.raises(TypeError, match="from_codes"):
        emu.Registers([1, 2], "e4m3")


def test_registers_own_their_codes():
    mine = np.array([1, 2, 3], np.uint8)
    r = emu.Registers(mine, "e2m1")
    mine[0] = 0xFF  # the caller's array changes; the register does not
    assert r.codes.tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="read-only"):
        r.codes[0] = 999
    with pytest.raises(ValueError, match="read-only"):
        r.codes[0] = 0xF
    with pytest.raises(AttributeError):
        r.format = emu.format("e4m3")  # reinterpreting codes would bypass the width check
    q = emu.quantize([1.0, 2.0], "e4m3")
    with pytest.raises(ValueError, match="read-only"):
        q.codes[0] = 0
    assert pickle.loads(pickle.dumps(r)) == r and copy.deepcopy(r) == r
    assert r[1:].codes.tolist() == [2, 3] and r.reshape(3, 1).shape == (3, 1)


def test_kernels_never_see_out_of_width_codes():
    with pytest.raises(ValueError):
        emu.add(emu.Registers(np.full(5000, 0xFF, np.uint8), "e2m1"), emu.Registers.from_codes(
            [1] * 5000, "e2m1"))


# --- format names parse back to the same format ------------------------------------------------
NAMES = [
    (FloatFormat(4, 3), "e4m3ieee"), (FloatFormat(5, 2, bias=10), "e5m2b10"),
    (FloatFormat(4, 3, 7, "fn"), "e4m3"), (FloatFormat(2, 1), "e2m1ieee"),
    (FloatFormat(4, 3, -2, "fn"), "e4m3b-2"), (FloatFormat(5, 2, 16, "fnuz"), "e5m2fnuz"),
    (FloatFormat(5, 2, 15, "fnuz"), "e5m2fnuzb15"), (FloatFormat(3, 0, family="fn"), "e3m0fn"),
    (FloatFormat(2, 1, 1, "finite"), "e2m1"), (FixedFormat(8, -3, False), "u8.-3"),
]


def test_names_of_generic_formats():
    for fmt, name in NAMES:
        assert fmt.name == name and emu.format(name) == fmt


def test_explicit_names_must_name_the_format():
    assert FloatFormat(5, 10, 15, "ieee", name="fp16").name == "fp16"
    with pytest.raises(ValueError, match="does not name this format.*'e4m3ieee'"):
        FloatFormat(4, 3, name="e4m3")
    with pytest.raises(ValueError, match="does not name"):
        FixedFormat(8, 4, name="s8.5")


FLOAT_PARAMS = st.builds(lambda *a: ("float", *a), st.integers(2, 11), st.integers(0, 29),
                         st.one_of(st.none(), st.integers(-1100, 1100)),
                         st.sampled_from(["ieee", "fn", "fnuz", "finite"]))
FIXED_PARAMS = st.builds(lambda *a: ("fixed", *a), st.integers(1, 64), st.integers(-1100, 1100),
                         st.booleans())


@settings(max_examples=600, deadline=None)
@given(params=st.one_of(FLOAT_PARAMS, FIXED_PARAMS))
def test_name_round_trip(params):
    """emu.format(f.name) == f for every constructible FloatFormat and FixedFormat."""
    kind, *args = params
    try:
        f = FloatFormat(*args) if kind == "float" else FixedFormat(*args)
    except ValueError:
        assume(False)
    assert emu.format(f.name) == f and emu.format(f.name).name == f.name
    assert emu.format(f.name.upper()) == f


# --- integer, real and flag parameters --------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda: FixedFormat(8, 4.5), lambda: FixedFormat(8.0, 4), lambda: FloatFormat(4, 3.0),
    lambda: FloatFormat(4, 3, bias=7.5), lambda: FixedFormat(8, 4, signed=1),
    lambda: emu.LFSR(poly=2.5), lambda: emu.LFSR(width=32.0),
    lambda: emu.LFSR(lanes=2.0), lambda: emu.LFSR(shifts=True), lambda: emu.LFSR(reverse=1),
    lambda: emu.LFSR().draw(3.0), lambda: emu.LFSR().skip(2.5), lambda: emu.LFSR().random_words(3, 8.0),
    lambda: emu.quantize([1.3], "e4m3", "sr", rng=emu.LFSR(), sr_bits=True),
    lambda: emu.quantize([1.3], "e4m3", "sr", rng=emu.LFSR(), sr_bits=8.0),
    lambda: emu.quantize([1.3], "e4m3", threads=1.5),
    lambda: emu.quantize([1.3], "e4m3", "sr_eps", rng=emu.LFSR(), eps="0.25"),
    lambda: emu.quantize([1.3], "e4m3", saturate="yes"),
    lambda: emu.matmul(e4m3(4).reshape(2, 2), e4m3(4).reshape(2, 2), chunk=1.5, promote="fp32"),
    lambda: emu.matmul(e4m3(4).reshape(2, 2), e4m3(4).reshape(2, 2), order="truncating", group=2.0),
    lambda: emu.matmul(e4m3(4).reshape(2, 2), e4m3(4).reshape(2, 2), threads=True),
    lambda: emu.mac_accumulator("s8.4", "s8.4", 16.0),
    lambda: emu.add(e4m3(2), e4m3(2), threads=2.0),
    lambda: emu.context(threads=1.5).__enter__(),
])
def test_non_integers_refused(call):
    with pytest.raises(TypeError, match="must be"):
        call()


def test_numpy_scalars_accepted():
    i = np.int64
    assert FixedFormat(i(8), i(4)) == FixedFormat(8, 4) and FixedFormat(i(8), i(4)).name == "s8.4"
    assert FloatFormat(np.int32(4), np.uint8(3), i(7), "fn") == emu.format("e4m3")
    a = emu.LFSR(width=i(16), poly=i(0xD008), seed=i(3), lanes=i(2), shifts=i(8))
    b = emu.LFSR(width=16, poly=0xD008, seed=3, lanes=2, shifts=8)
    assert a.draw(i(5)).tolist() == b.draw(5).tolist() and isinstance(a.width, int)
    x = np.linspace(-3, 3, 64)
    r1 = emu.quantize(x, "e4m3", "sr_eps", rng=emu.LFSR(seed=i(2)), sr_bits=i(8), eps=np.float32(0.25),
                      threads=i(2))
    r2 = emu.quantize(x, "e4m3", "sr_eps", rng=emu.LFSR(seed=2), sr_bits=8, eps=0.25, threads=2)
    assert r1 == r2
    m = e4m3(16).reshape(4, 4)
    assert emu.matmul(m, m, acc="e5m10", chunk=i(2), promote="fp32", threads=i(1)) == \
        emu.matmul(m, m, acc="e5m10", chunk=2, promote="fp32", threads=1)
    assert emu.mac_accumulator("s8.4", "s8.4", i(16)) == emu.mac_accumulator("s8.4", "s8.4", 16)
    with emu.context(threads=i(1), sr_bits=i(8)) as ctx:
        assert ctx.threads == 1 and type(ctx.threads) is int


def test_ranges_and_unknown_settings():
    with pytest.raises(ValueError, match="sr_bits=33 out of range; valid: 1..32"):
        emu.quantize([1.3], "e4m3", "sr", rng=emu.LFSR(), sr_bits=33)
    with pytest.raises(ValueError, match="chunk=-1 out of range"):
        emu.matmul(e4m3(4).reshape(2, 2), e4m3(4).reshape(2, 2), chunk=-1, promote="fp32")
    with pytest.raises(ValueError, match="n=-1 out of range"):
        emu.LFSR().draw(-1)
    with pytest.raises(TypeError, match="unknown context setting"):
        emu.context(round="rtz").__enter__()


def test_wrong_types_are_value_errors_too():
    """Callers that turn ValueError into a usage error (the CLI, config readers) catch them."""
    from emu.validate import ArgumentTypeError

    for call in (lambda: FixedFormat(8, 4.5), lambda: emu.LFSR(lanes=2.0),
                 lambda: emu.quantize([1.0], "e4m3", "sr", rng=object())):
        with pytest.raises(ArgumentTypeError) as err:
            call()
        assert isinstance(err.value, TypeError) and isinstance(err.value, ValueError)


def test_cli_lfsr_usage_errors():
    from click.testing import CliRunner

    from cli.main import main

    r = CliRunner().invoke(main, ["lfsr", "--poly", "2.5"])
    assert r.exit_code == 2 and "'2.5' is not an integer" in r.output
    r = CliRunner().invoke(main, ["lfsr", "--count", "-1"])
    assert r.exit_code == 2 and "--count" in r.output
