"""Exact inputs (issue 12, item 5): values float64 cannot hold are rounded once from their exact
value, never via float64. Decimal strings, hex floats, Fractions, Decimals and big integers,
through the API and the CLI, against the Fraction reference (tests/reference.py)."""

import json
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
import reference as ref
from click.testing import CliRunner
from helpers import DET_MODES
from hypothesis import given, settings
from hypothesis import strategies as st

import emu
from cli.main import main
from emu.exact import parse_number, suspects

FORMATS = ["e4m3", "e5m2", "e2m1", "fp16", "bf16", "e8m13", "s16.8", "u8.4", "s64.0"]
SR_MODES = ["sr", "sr_eps", "signed_sr_eps", "sr_equal"]


def kw_of(fmt, overflow="sat", saturate=False):
    return {"saturate": saturate} if isinstance(fmt, emu.FloatFormat) else {"overflow": overflow}


def want(v, fmt, mode, **kw):
    try:
        return ref.round_value(v, fmt, mode, **kw)
    except ref.Unrepresentable:
        return None


def got(v, fmt, mode, **kw):
    try:
        return int(emu.quantize(v, fmt, mode, **kw).codes)
    except ValueError:
        return None


def decimal_text(v: Fraction) -> str:
    """The exact decimal expansion of a dyadic rational (finite)."""
    k = v.denominator.bit_length() - 1
    assert v.denominator == 1 << k
    d = Decimal(v.numerator) * (Decimal(5) ** k)
    return f"{d.scaleb(-k):f}" if k else str(v.numerator)


class Word:
    """A random source giving every element the same word."""

    def __init__(self, word):
        self.word = word

    def random_words(self, n, bits, threads=None):
        return np.full(n, self.word, np.uint64)


# --- values just beside ties and grid points (the typed-value bug) ---------------------------
@pytest.mark.parametrize("text,mode,code", [
    ("1.00000000000000000001", "rup", 0x39), ("1.00000000000000000001", "raz", 0x39),
    ("1.00000000000000000001", "rdn", 0x38), ("1.00000000000000000001", "rtz", 0x38),
    ("1.00000000000000000001", "rne", 0x38), ("0.99999999999999999999", "rdn", 0x37),
    ("0.99999999999999999999", "rup", 0x38), ("-1.00000000000000000001", "rdn", 0xB9),
    ("-1.00000000000000000001", "rup", 0xB8), ("1.06250000000000000001", "rne", 0x39),
    ("1.06249999999999999999", "rne", 0x38), ("1.06249999999999999999", "rna", 0x38),
    ("1.06250000000000000001", "rnz", 0x39), ("1.0625", "rnz", 0x38), ("1.0625", "rna", 0x39),
    ("0x1.00000000000001p0", "rup", 0x39), ("0x1.00000000000001p0", "rtz", 0x38),
])
def test_beside_ties_e4m3(text, mode, code):
    fmt = emu.format("e4m3")
    assert int(emu.quantize(text, fmt, mode).codes) == code
    assert want(parse_number(text), fmt, mode) == code


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("mode", DET_MODES)
def test_ties_and_neighbours_every_mode(name, mode):
    """Exact ties between consecutive values, and those ties and the values themselves moved by
    10**-30 of a unit, written as decimal strings: every one matches the reference."""
    fmt = emu.format(name)
    rng = np.random.default_rng(len(name) + len(mode))
    spec = ref.spec(fmt)
    texts = []
    for _ in range(12):
        if isinstance(fmt, emu.FloatFormat):
            c = int(rng.integers(0, fmt.max_code))
            lo, hi = spec.decode(c), spec.decode(c + 1)
        else:
            c = int(rng.integers(fmt.min_code_int, fmt.max_code_int))
            lo, hi = c * fmt.resolution, (c + 1) * fmt.resolution
        tiny = (hi - lo) / 10**30
        for v in (lo, (lo + hi) / 2):
            for w in (v, v + tiny, v - tiny, -v, -v - tiny):
                texts.append(str(w.numerator) if w.denominator == 1 else
                             decimal_text(w) if (w.denominator & (w.denominator - 1)) == 0 else w)
    for t in texts:
        v = t if isinstance(t, Fraction) else parse_number(t)
        assert got(t, fmt, mode, **kw_of(fmt)) == want(v, fmt, mode, **kw_of(fmt)), (name, mode, t)


def rationals():
    mag = st.builds(lambda n, d, k: Fraction(n, d) * Fraction(2) ** k,
                    st.integers(1, 2**90), st.integers(1, 2**90), st.integers(-1100, 1100))
    small = st.fractions(min_value=-1000, max_value=1000, max_denominator=10**25)
    return st.one_of(mag, mag.map(lambda v: -v), small.filter(bool))


@settings(max_examples=300, deadline=None)
@given(v=rationals(), name=st.sampled_from(FORMATS), mode=st.sampled_from(DET_MODES),
       wrap=st.booleans(), saturate=st.booleans())
def test_random_rationals_deterministic(v, name, mode, wrap, saturate):
    fmt = emu.format(name)
    kw = kw_of(fmt, "wrap" if wrap else "sat", saturate)
    assert got(v, fmt, mode, **kw) == want(v, fmt, mode, **kw)


@settings(max_examples=300, deadline=None)
@given(v=rationals(), name=st.sampled_from(FORMATS), mode=st.sampled_from(SR_MODES),
       r=st.integers(1, 32), word=st.integers(0, 2**32 - 1), form=st.sampled_from(["carry", "compare"]),
       eps=st.sampled_from([0.0, 0.25, 0.7]), d=st.sampled_from([-1, 0, 1]), wrap=st.booleans())
def test_random_rationals_stochastic(v, name, mode, r, word, form, eps, d, wrap):
    fmt = emu.format(name)
    word &= (1 << r) - 1
    kw = kw_of(fmt, "wrap" if wrap else "sat")
    extra = {}
    if mode in ("sr_eps", "signed_sr_eps"):
        extra["eps"] = eps
    if mode == "signed_sr_eps":
        extra["direction"] = d
    out = got(v, fmt, mode, rng=Word(word), sr_bits=r, form=form, **kw, **extra)
    eoff = round(Fraction(eps) * 2**r) if "eps" in extra else 0
    assert out == want(v, fmt, mode, rbits=r, rword=word, eoff=eoff,
                       direction=d if mode == "signed_sr_eps" else 0, compare=form == "compare", **kw)


@settings(max_examples=300, deadline=None)
@given(digits=st.integers(1, 10**40), exp=st.integers(-60, 40), neg=st.booleans(),
       name=st.sampled_from(FORMATS), mode=st.sampled_from(DET_MODES + ["sr"]),
       r=st.integers(1, 32), word=st.integers(0, 2**32 - 1))
def test_random_decimal_strings(digits, exp, neg, name, mode, r, word):
    """Decimal strings of up to 40 digits: the float64 shortcut (emu.exact.suspects) and the
    exact path together give the reference's code for the exact decimal."""
    fmt = emu.format(name)
    text = ("-" if neg else "") + f"{digits}e{exp}"
    v = parse_number(text)
    sr = {"rng": Word(word & ((1 << r) - 1)), "sr_bits": r} if mode == "sr" else {}
    rkw = {"rbits": r, "rword": word & ((1 << r) - 1)} if mode == "sr" else {}
    assert got(text, fmt, mode, **kw_of(fmt), **sr) == want(v, fmt, mode, **kw_of(fmt), **rkw)


@pytest.mark.parametrize("mode", DET_MODES)
def test_s64_integers_beyond_2_53(mode):
    fmt = emu.format("s64.0")
    ints = [2**53 + 1, -(2**53) - 3, 2**63 - 1, -(2**63), 2**62 + 12345, 2**64 + 5, -(2**70) - 1]
    for overflow in ("sat", "wrap", "sat_sym"):
        codes = emu.quantize(ints, fmt, mode, overflow=overflow).codes.tolist()
        assert codes == [want(v, fmt, mode, overflow=overflow) for v in ints]
    # rationals whose integer part needs all 63 bits: the decision is taken on its low bit
    vals = [Fraction(2**62 + 1) + Fraction(1, 3), -Fraction(2**62) - Fraction(1, 2), Fraction(2**63 - 1, 2)]
    for overflow in ("sat", "wrap"):
        assert [got(v, fmt, mode, overflow=overflow) for v in vals] == \
            [want(v, fmt, mode, overflow=overflow) for v in vals]
    assert int(emu.quantize(np.array([2**53 + 1]), "s64.0").codes[0]) == 2**53 + 1


@pytest.mark.parametrize("r", [1, 8, 32])
def test_s64_stochastic_wide_integer_part(r):
    """SR with r bits on a value with a 62-bit integer part: 62 + r bits do not fit the core's
    64-bit significand, so the decision is taken on 2 + (K & 1) + f in s8.0."""
    fmt = emu.format("s64.0")
    for v in (Fraction(2**62 + 7) + Fraction(1, 3), -(Fraction(2**61 + 2) + Fraction(5, 7))):
        for word in (0, 1, (1 << r) // 3, (1 << r) - 1):
            for form in ("carry", "compare"):
                assert got(v, fmt, "sr", rng=Word(word), sr_bits=r, form=form) == \
                    want(v, fmt, "sr", rbits=r, rword=word, compare=form == "compare")


def test_huge_and_tiny_exponents():
    e4 = emu.format("e4m3")
    s8 = emu.format("s8.4")
    assert emu.quantize(["1e999999999", "-1e999999999"], e4, "rtz").codes.tolist() == [0x7E, 0xFE]
    assert emu.quantize(["1e-999999999", "-1e-999999999"], e4, "raz").codes.tolist() == [0x01, 0x81]
    assert emu.quantize(["1e999999999", "3e1000", "1e-999999999"], s8, "rup",
                        overflow="wrap").codes.tolist() == [0, 0, 1]
    assert emu.quantize("0x1p-99999", e4, "rne").codes == 0
    assert emu.quantize(Fraction(3, 10**400), e4, "rup").codes == 1
    x = Fraction(2**1030 + 1, 2**7)  # an exact wrap of a value beyond float64's range
    assert got(x, emu.format("u8.4"), "rdn", overflow="wrap") == want(x, emu.format("u8.4"), "rdn",
                                                                      overflow="wrap")


def test_inputs_of_every_kind():
    e4 = emu.format("e4m3")
    vals = ["1.3", Fraction(13, 10), Decimal("1.3"), np.str_("1.3"), b"1.3"]
    codes = emu.quantize(vals, e4, "rup").codes.tolist()
    assert codes == [want(Fraction(13, 10), e4, "rup")] * 5
    assert emu.quantize(np.array(["1.3", "-inf"]), e4, "rup").codes.tolist() == [codes[0], 0xFF]
    assert emu.quantize([[Fraction(1, 3), 0.5], ["2", 7]], e4).shape == (2, 2)
    # ints beyond 2**53 next to floats are not rounded to float64 first
    assert emu.quantize([0.5, 2**53 + 1], "s64.0", "rdn").codes.tolist() == [0, 2**53 + 1]
    # signed zeros and NaN signs survive
    assert emu.quantize(["-0", "-0.0e5", "-nan"], "e5m2").codes.tolist() == [0x80, 0x80, 0xFE]
    for bad, err in ([True], TypeError), ([object()], TypeError), (["1.5x"], ValueError), \
            ([Fraction(1, 3), None], TypeError):
        with pytest.raises(err):
            emu.quantize(bad, e4)


def test_suspects_are_the_boundaries():
    """The float64 shortcut is taken only where it is exact: grid points, ties and SR cells are
    suspects; a float strictly inside a cell is not."""
    e4 = emu.format("e4m3")
    x = np.array([1.0, 1.0625, 1.03125, 1.0 + 2**-40, 0.0, np.inf, np.nan, 1e-320, 2.0**-10])
    assert suspects(x, e4, 0, 1).tolist() == [0, 1, 4, 5, 8]  # 1e-320 is inside (0, 2**-10)
    assert suspects(x, e4, 10, 8).tolist() == [0, 1, 2, 4, 5, 8]
    fp32 = emu.format("fp32")
    assert suspects(np.array([1.1]), fp32, 10, 32).tolist() == [0]  # 24 + 32 bits > float64


# --- CLI ---------------------------------------------------------------------------------------
def run(*args):
    return CliRunner().invoke(main, list(args))


def cli_values(*args):
    r = run("quantize", *args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.output, parse_float=Decimal)["values"]


def test_cli_typed_decimal_is_exact():
    v = cli_values("-f", "e4m3", "-r", "rup", "1.00000000000000000001")[0]
    assert v["code"] == "0x39" and v["input"] == Decimal("1.00000000000000000001")
    assert v["error"] == Decimal("0.125")
    v = cli_values("-f", "e4m3", "-r", "rup", "0x1.00000000000001p0")[0]
    assert v["code"] == "0x39" and Fraction(v["input"]) == Fraction(2**56 + 1, 2**56)


def test_cli_negative_values_without_dashdash():
    toks = ["-1.5", "-inf", "-Infinity", "-0x1.fp3", "-1e3", "2.5", "-0"]
    vals = cli_values("-f", "e5m2", *toks)
    assert [int(v["code"], 16) for v in vals] == emu.quantize(toks, "e5m2").codes.tolist()
    r = run("quantize", "-1.5", "-f", "e5m2", "--json", "--", "-2", "--json")
    assert r.exit_code == 2 and "'--json' is not a number" in r.output  # after --, values only
    r = run("quantize", "-1.5", "-f", "e5m2", "--json", "--", "-2")
    assert [v["code"] for v in json.loads(r.output)["values"]] == ["0xbe", "0xc0"]
    r = run("quantize", "-f", "e4m3", "--bogus", "1")
    assert r.exit_code == 2 and "No such option" in r.output
    # an option's own value may still be negative
    vals = cli_values("-f", "e4m3", "-r", "signed_sr_eps", "--eps", "0.25", "--direction", "-1", "-1.3")
    assert len(vals) == 1


def test_cli_npy_integers_stay_exact(tmp_path):
    np.save(tmp_path / "ints.npy", np.array([2**53 + 1, -(2**62) - 1], np.int64))
    v = cli_values("-f", "s64.0", "--input", str(tmp_path / "ints.npy"))
    assert [int(x["code"], 16) for x in v] == [2**53 + 1, 2**64 - 2**62 - 1]
    assert [x["error"] for x in v] == [0, 0] and v[0]["input"] == 2**53 + 1
    v = cli_values("-f", "s64.-1", "-r", "rdn", "--input", str(tmp_path / "ints.npy"))
    assert [x["error"] for x in v] == [-1, -1]  # 2**53 + 1 -> 2**53 exactly
    r = run("quantize", "-f", "s64.-1", "-r", "rdn", "--input", str(tmp_path / "ints.npy"))
    assert r.exit_code == 0 and "9007199254740993" in r.output


def test_cli_text_file_tokens_are_exact(tmp_path):
    f = tmp_path / "v.txt"
    f.write_text("# exact tokens\n1.00000000000000000001, 0x1.00000000000001p0 // two\n-0.1 1e-400\n")
    v = cli_values("-f", "e4m3", "-r", "rup", "--input", str(f))
    assert [x["code"] for x in v] == ["0x39", "0x39", "0x9c", "0x01"]
    assert v[2]["error"] == Decimal("0.00625")  # -0.09375 - (-0.1), exactly


@pytest.mark.parametrize("as_json", [True, False])
def test_cli_blocks_stream_and_continue(tmp_path, monkeypatch, as_json):
    """Values are read and printed in blocks; JSON stays one document, SR words continue
    across blocks, and a bad value in a late block is an error before anything is printed."""
    import cli.common

    monkeypatch.setattr(cli.common, "CHUNK", 3)
    f = tmp_path / "v.txt"
    f.write_text("1.3 -0.7 2.2\n0.3\n5.5 6 7 8.25\n")
    args = ["-f", "e4m3", "-r", "sr", "--sr-bits", "8", "--seed", "5", "--input", str(f), "9.75"]
    if as_json:
        vals = cli_values(*args)
        words = ref.lfsr_draws(32, 0x00400007, "fibonacci", 8, 5, 9)[0]
        assert [int(v["random_word"], 16) for v in vals] == words
        xs = [Fraction(str(v["input"])) for v in vals]
        assert [int(v["code"], 16) for v in vals] == [
            want(x, emu.format("e4m3"), "sr", rbits=8, rword=w) for x, w in zip(xs, words, strict=True)]
    else:
        r = run("quantize", *args)
        assert r.exit_code == 0 and r.output.count("\n") == 2 + 9
    f.write_text("1 2 3\n4 5 6\n7 abc\n")
    r = run("quantize", "-f", "e4m3", "--input", str(f))
    assert r.exit_code == 2 and "line 3" in r.output and "format e4m3" not in r.output
    f.write_text("1 2 3\n4 5 6\n7 nan\n")
    r = run("quantize", "-f", "e2m1", "--input", str(f))
    assert r.exit_code == 2 and "line 3" in r.output and "NaN" in r.output
    assert "format e2m1" not in r.output
