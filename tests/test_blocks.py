"""Oracle tests of the block-scaled formats (OCP MX v1.0, NVFP4; docs/semantics.md §14).

Every expectation comes from an independent model: tests/reference.py's Fraction models written
from the OCP MX v1.0 definitions (e8m0_round, block_quantize, nvfp4_quantize, block_matmul),
gfloat's block quantizer (compute_scale_amax + encode_block) and ml_dtypes' float8_e8m0fnu.
Where those libraries differ from emu on a point the spec leaves open, the difference is
asserted exactly, with the reason beside it.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import reference as ref
from helpers import DET_MODES

import emu
from emu.blocks import BlockRegisters

MX = list(ref.MX_FORMATS)
NAN, INF = float("nan"), float("inf")


def _elem(name):
    return emu.format(ref.MX_FORMATS[name][0])


def _same_value(got: float, want) -> bool:
    """A float64 result against an exact value (Fraction, float nan / +-inf; -0 as (0, True))."""
    v, neg_zero = want
    if isinstance(v, float):
        return (math.isnan(got) and math.isnan(v)) or got == v
    return Fraction(got) == v and (v != 0 or math.copysign(1, got) == (-1 if neg_zero else 1))


# --- decoding -------------------------------------------------------------------------------

def test_e8m0_registers_decode_all_256_codes():
    got = emu.Registers.from_codes(np.arange(256, dtype=np.uint8), "e8m0").to_float()
    for c in range(256):
        want = ref.e8m0_decode(c)
        assert _same_value(float(got[c]), (want, False)), c


def _exact_floats(fmt, codes) -> np.ndarray:
    """The reference values of codes as float64, asserted exact (-0.0, nan and +-inf kept)."""
    out = []
    for c in codes:
        v, neg_zero = ref.operand(fmt, int(c))
        if isinstance(v, Fraction):
            assert Fraction(float(v)) == v
            v = -0.0 if neg_zero else float(v)
        out.append(v)
    return np.array(out)


def _assert_same_floats(got: np.ndarray, want: np.ndarray) -> None:
    np.testing.assert_array_equal(got, want)  # NaN where NaN (-0 == +0 here: the signs next)
    finite = ~np.isnan(want)
    np.testing.assert_array_equal(np.signbit(got[finite]), np.signbit(want[finite]))


@pytest.mark.parametrize("name", MX)
def test_mx_decode_every_element_code_times_every_scale_code(name):
    """Every element code x every E8M0 code (0, 1, 127, 254, 255 = NaN, ...): the exact value
    X * P (§5.2), NaN for the whole block when X is NaN; both layouts (axis 1 and 0). The
    expected products are exact in float64: reference values times powers of two 2^-127 ..
    2^127 (at most 8 significant bits, magnitudes 2^-143 .. 2^143)."""
    elem, k = _elem(name), ref.MX_FORMATS[name][1]
    ncodes = 1 << elem.bits
    nb = -(-ncodes // k)
    codes = np.tile(np.arange(ncodes, dtype=np.uint16), (256, 1))
    scales = np.repeat(np.arange(256, dtype=np.uint16)[:, None], nb, axis=1)
    regs = BlockRegisters.from_codes(codes, scales, name)
    assert regs.padding == -ncodes % k
    x = np.array([float(ref.e8m0_decode(s)) for s in range(256)])
    assert np.isnan(x[255]) and x[0] == 2.0 ** -127 and x[127] == 1.0 and x[254] == 2.0 ** 127
    want = x[:, None] * _exact_floats(elem, range(ncodes))[None, :]
    want[255, :] = NAN  # a NaN scale: the whole block is NaN, whatever its elements
    got = regs.to_float()
    _assert_same_floats(got, want)
    cols = BlockRegisters.from_codes(codes.T.copy(), scales.T.copy(), name, axis=0).to_float()
    _assert_same_floats(cols, want.T)


def test_nvfp4_decode_every_element_code_times_every_ue4m3_scale():
    """NVFP4: e2m1 x every non-negative e4m3 scale code (UE4M3; 0x7f NaN) x the tensor scale
    (exact in float64: 2 + 4 + 24 significant bits)."""
    e2m1, e4m3 = emu.format("e2m1"), emu.format("e4m3")
    codes = np.tile(np.arange(16, dtype=np.uint8), (128, 1))
    scales = np.arange(128, dtype=np.uint8)[:, None]
    elems = _exact_floats(e2m1, range(16))
    for t in (1.0, 0.375, float(np.float32(0.1))):
        got = BlockRegisters.from_codes(codes, scales, "nvfp4", tensor_scale=t).to_float()
        want = np.empty((128, 16))
        for s in range(128):
            x = ref.decode(e4m3, s)
            for c in range(16):
                if isinstance(x, float):
                    want[s, c] = NAN
                else:
                    v = Fraction(elems[c]) * x * Fraction(t)
                    assert Fraction(float(v)) == v
                    want[s, c] = math.copysign(float(v), elems[c])
        _assert_same_floats(got, want)


# --- e8m0 quantization ------------------------------------------------------------------------

def _e8m0_inputs() -> np.ndarray:
    """Powers of two, ties (1.5 x 2^e), points just around them (float32 and float64 ulps) and
    the binade's top, for every exponent that matters; zero, negatives, specials, extremes."""
    vals = []
    for e in range(-152, 130):
        p = 2.0 ** e
        vals += [p * f for f in (1.0, 1.25, 1.5, 1.75, 1.5 - 2 ** -24, 1.5 + 2 ** -23,
                                 1.5 - 2 ** -52, 1.5 + 2 ** -52, 2 - 2 ** -52, 2 - 2 ** -23)]
    vals += [0.0, -0.0, -1.0, -3.0, -2.0 ** -130, INF, -INF, NAN, 1e-300, 5e-324, 2.0 ** -1074,
             1e300, 2.0 ** 1023, float(np.finfo(np.float32).max), float(np.finfo(np.float64).max)]
    with np.errstate(over="ignore"):
        return np.array(vals)


@pytest.mark.parametrize("mode", DET_MODES)
def test_e8m0_quantize_against_reference(mode):
    x64 = _e8m0_inputs()
    with np.errstate(over="ignore"):
        x32 = x64.astype(np.float32)
    for x in (x64, x32):
        for saturate in (False, True):
            got = emu.quantize(x, "e8m0", mode, saturate=saturate).codes.tolist()
            want = ref.e8m0_quantize(x, mode, saturate=saturate)
            bad = [(float(v), g, w) for v, g, w in zip(x, got, want, strict=True) if g != w]
            assert not bad, bad[:10]


@pytest.mark.parametrize("mode, opts", [("sr", {}), ("sr", {"sr_bits": 12, "form": "compare"}),
                                        ("sr_eps", {"eps": 0.25}), ("sr_equal", {}),
                                        ("signed_sr_eps", {"eps": 0.125, "direction": "random"})])
def test_e8m0_quantize_stochastic_against_reference(mode, opts):
    x = _e8m0_inputs()
    opts = dict(opts)
    if opts.get("direction") == "random":
        opts["direction"] = np.random.default_rng(3).integers(-1, 2, x.size)
    got, words = emu.quantize(x, "e8m0", mode, rng=emu.LFSR(seed=77), return_words=True, **opts)
    want_words = ref.LFSR(seed=77).random_words(x.size, opts.get("sr_bits", 8))
    assert words.tolist() == want_words
    assert got.codes.tolist() == ref.e8m0_quantize(x, mode, words=want_words, **opts)


def _ml_dtypes_e8m0_model(y32: np.ndarray, emu_codes: np.ndarray) -> np.ndarray:
    """What ml_dtypes gives for float32 inputs y32, built from emu's codes and the differences
    documented here (both ends verified on every float32 top-16-bit pattern and random ones):

    * ties 1.5 x 2^e: emu rounds to the even code (an even exponent field e + 127, §14.1), so a
      tie whose lower neighbour 2^e has an even code stays there (3.0 -> 2.0, code 128);
      ml_dtypes rounds every tie up (3.0 -> 4.0, code 129; 1.5 x 2^127 -> NaN);
    * float32 subnormals in (2^-127, 1.5 x 2^-127]: ml_dtypes gives 2^-126 (code 1); emu the
      nearest value 2^-127 (code 0; 1.5 x 2^-127 is the tie, and code 0 is even), e.g.
      1.25 x 2^-127 is 0.25 x 2^-127 from 2^-127 and 0.75 x 2^-127 from 2^-126.
    Everything else agrees: zero, negatives, NaN and Inf give 0xFF in both."""
    with np.errstate(invalid="ignore"):
        y = y32.astype(np.float64)
    out = emu_codes.astype(np.int64).copy()
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(y) & (y > 0)
        m, ex = np.frexp(np.where(ok, y, 1.0))
        e = ex.astype(np.int64) - 1
        tie_even_low = ok & (m == 0.75) & (e >= -127) & ((e + 127) % 2 == 0)
        out = np.where(tie_even_low, e + 128, out)
        sub = ok & (y > 2.0 ** -127) & (y <= 1.5 * 2.0 ** -127)
        out = np.where(sub, 1, out)
    return out


def test_e8m0_rne_against_ml_dtypes():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    if not hasattr(ml_dtypes, "float8_e8m0fnu"):
        pytest.skip("ml_dtypes without float8_e8m0fnu (before 0.5)")
    e8m0 = ml_dtypes.float8_e8m0fnu
    top16 = (np.arange(1 << 16, dtype=np.uint32) << 16).view(np.float32)
    rand = np.random.default_rng(5).integers(0, 1 << 32, 1 << 18, dtype=np.uint64)
    x32 = np.concatenate([top16, rand.astype(np.uint32).view(np.float32)])
    with np.errstate(invalid="ignore", over="ignore"):
        ml = x32.astype(e8m0).view(np.uint8).astype(np.int64)
    with np.errstate(invalid="ignore"):  # signalling NaN patterns
        got = emu.quantize(x32, "e8m0", "rne").codes.astype(np.int64)
    model = _ml_dtypes_e8m0_model(x32, got)
    np.testing.assert_array_equal(ml, model)
    assert (got != ml).sum() > 100  # the differences are there, and each is the documented one
    assert got[top16.tolist().index(3.0)] == 128 and ml[top16.tolist().index(3.0)] == 129
    special = np.array([0.0, -0.0, -1.0, INF, -INF, NAN], np.float32)
    with np.errstate(invalid="ignore"):
        assert special.astype(e8m0).view(np.uint8).tolist() == [0xFF] * 6
    assert emu.quantize(special, "e8m0").codes.tolist() == [0xFF] * 6

    # float64 inputs: ml_dtypes converts through float32 first (a first rounding): a value whose
    # float32 rounding is 0 (below 2^-150, e.g. 1e-300) gives NaN in ml_dtypes and 2^-127 (code
    # 0) in emu, which rounds the exact value once; and a value just below a tie whose float32
    # rounding is the tie takes ml_dtypes' tie rule (up) where emu rounds down.
    x64 = _e8m0_inputs()
    with np.errstate(invalid="ignore", over="ignore"):
        ml64 = x64.astype(e8m0).view(np.uint8).astype(np.int64)
        y32 = x64.astype(np.float32)
        via32 = y32.astype(e8m0).view(np.uint8).astype(np.int64)
    np.testing.assert_array_equal(ml64, via32)
    got64 = emu.quantize(x64, "e8m0", "rne").codes.astype(np.int64)
    flushed = (x64 > 0) & (y32 == 0)
    model64 = np.where(flushed, 0xFF, _ml_dtypes_e8m0_model(y32, emu.quantize(y32, "e8m0").codes))
    np.testing.assert_array_equal(ml64, model64)
    assert flushed.any() and (got64[flushed] == 0).all()
    assert got64[x64.tolist().index(1e-300)] == 0 and ml64[x64.tolist().index(1e-300)] == 0xFF
    below_tie = x64.tolist().index(1.5 - 2 ** -52)
    assert (got64[below_tie], ml64[below_tie]) == (127, 128)


# --- gfloat: every float32 top-16-bit pattern ----------------------------------------------------

GFLOAT_MODES = {"rne": "TiesToEven", "rna": "TiesToAway", "rtz": "TowardZero",
                "rup": "TowardPositive", "rdn": "TowardNegative"}
GFLOAT_FORMATS = {"mxfp8_e4m3": "format_info_mxfp8_e4m3", "mxfp8_e5m2": "format_info_mxfp8_e5m2",
                  "mxfp6_e3m2": "format_info_mxfp6_e3m2", "mxfp6_e2m3": "format_info_mxfp6_e2m3",
                  "mxfp4": "format_info_mxfp4_e2m1", "mxint8": "format_info_mxint8"}
# Stride of the spread arrangement: a block takes every w-th value of a window of 32 w values
# in magnitude order (about w / 8 binades: 256 values per binade), so its elements sit at every
# distance below the block's amax down to past the element format's smallest subnormal.
SPREAD = {"mxfp8_e4m3": 170, "mxfp8_e5m2": 255, "mxfp6_e3m2": 102, "mxfp6_e2m3": 68,
          "mxfp4": 68, "mxint8": 68}


def _top16_blocks(name) -> np.ndarray:
    """The 65280 finite float32 values whose low 16 bits are zero, twice, in blocks of 32: in
    magnitude order (amax from 0 and the subnormals up to 3.4e38, elements in amax's binade), and
    spread (elements down to ~SPREAD/8 binades below amax)."""
    x = (np.arange(1 << 16, dtype=np.uint32) << 16).view(np.float32)
    x = x[np.isfinite(x)]
    xs = x[np.argsort(np.abs(x), kind="stable")]
    w = SPREAD[name]
    spread = xs.reshape(-1, 32, w).transpose(0, 2, 1).reshape(-1, 32)
    return np.concatenate([xs.reshape(-1, 32), spread])


@pytest.mark.parametrize("name", MX)
def test_top16_patterns_match_gfloat_block_quantizer(name):
    """Scale code and element codes equal gfloat's (compute_scale_amax, then encode_block) for
    every mode both have. gfloat is pure Python: its element encoding runs once per distinct
    scaled value (encode_block encodes each element on its own, so this is the same result)."""
    gfloat = pytest.importorskip("gfloat")
    from gfloat import formats as gformats

    fi = getattr(gformats, GFLOAT_FORMATS[name])
    blocks32 = _top16_blocks(name)
    blocks = blocks32.astype(np.float64)
    amax = np.abs(blocks).max(axis=1)
    uamax, inv = np.unique(amax, return_inverse=True)
    scale = np.array([gfloat.compute_scale_amax(fi.etype.emax, np.array([a])) for a in uamax])[inv]
    uscale, sinv = np.unique(scale, return_inverse=True)
    scale_codes = np.array([next(iter(gfloat.encode_block(fi, s, []))) for s in uscale])[sinv]
    scaled = blocks / scale[:, None]  # quantize_block's vals / q_scale: exact (powers of two)
    ubits, vinv = np.unique(scaled.view(np.uint64), return_inverse=True)  # keeps -0.0 apart
    for mode, gmode in GFLOAT_MODES.items():
        enc = list(gfloat.encode_block(fi, 1.0, ubits.view(np.float64), getattr(gfloat.RoundMode, gmode)))
        want = np.array(enc[1:])[vinv.reshape(-1)].reshape(blocks.shape)
        got = emu.quantize(blocks32, name, mode)
        np.testing.assert_array_equal(got.scales[:, 0], scale_codes, err_msg=f"{name} {mode} scales")
        bad = np.argwhere(got.codes != want)
        assert not bad.size, [(mode, float(blocks[i, j]), int(got.codes[i, j]), int(want[i, j]))
                              for i, j in bad[:8]]


@pytest.mark.parametrize("name", MX)
def test_nan_inf_blocks_differ_from_gfloat_as_documented(name):
    """§6.3 gives no rule for NaN or Inf inputs. emu: a block holding either gets the NaN scale
    0xFF and +0 elements, so the whole block decodes to NaN. gfloat computes the scale from amax
    as it is: NaN gives the NaN scale too but NaN elements (a ValueError for element formats
    without NaN: e2m1, e2m3, e3m2, int8), Inf gives 2^127 (0xFE), the Inf element saturated to
    the element max and the others divided by 2^127."""
    gfloat = pytest.importorskip("gfloat")
    from gfloat import formats as gformats

    fi = getattr(gformats, GFLOAT_FORMATS[name])
    elem = _elem(name)
    rne = gfloat.RoundMode.TiesToEven
    for special in (NAN, INF, -INF):
        block = np.linspace(-3, 5, 32)
        block[7] = special
        got = emu.quantize(block, name)
        assert got.scales.tolist() == [0xFF] and got.codes.tolist() == [0] * 32
        assert np.isnan(got.to_float()).all()
        x = gfloat.compute_scale_amax(fi.etype.emax, block)
        if math.isnan(special):
            assert math.isnan(x)
            if ref.spec(elem).__class__ is ref.FloatSpec and ref.spec(elem).nan(False) is not None:
                enc = list(gfloat.encode_block(fi, x, block / x, rne))
                assert enc[0] == 0xFF and all(ref.decode(elem, c) != ref.decode(elem, c)
                                               for c in enc[1:])
            else:
                with pytest.raises(ValueError):
                    list(gfloat.encode_block(fi, x, block / x, rne))
            continue
        assert x == 2.0 ** 127
        enc = list(gfloat.encode_block(fi, x, block / x, rne))
        top = ref.round_value(special, elem, "rne", saturate=True)  # MXINT8: -Inf -> -2
        assert enc[0] == 0xFE and enc[8] == top
        assert enc[1:8] + enc[9:] == [ref.round_value(float(v) / 2.0 ** 127, elem, "rne",
                                                      saturate=True) for k, v in enumerate(block)
                                      if k != 7]


# --- block quantization against the Fraction reference ------------------------------------------

def _wide_values(rng, shape, dtype=np.float64) -> np.ndarray:
    """Signed values over ~40 binades (so blocks mix elements far below amax), a few zeros."""
    x = rng.standard_normal(shape) * np.exp2(rng.integers(-20, 20, shape))
    x[rng.random(shape) < 0.05] = 0.0
    return x.astype(dtype)


@pytest.mark.parametrize("name, axis, shape, lanes, mode, opts", [
    ("mxfp4", -1, (3, 70), 1, "sr", {}),
    ("mxfp8_e4m3", 0, (70, 3), 3, "sr", {}),  # blocks are columns: block order != C order
    ("mxfp8_e5m2", 0, (45, 4), 1, "sr", {"sr_bits": 13, "form": "compare"}),
    ("mxint8", 0, (40, 5), 2, "sr", {}),
    ("mxfp6_e2m3", 1, (2, 45, 3), 1, "sr_eps", {"eps": 0.25}),
    ("mxfp6_e3m2", -1, (4, 33), 1, "sr_equal", {}),
    ("mxfp4", 0, (36, 3), 1, "signed_sr_eps", {"eps": 0.125, "direction": "random"}),
])
def test_block_sr_against_reference_with_lfsr_words(name, axis, shape, lanes, mode, opts):
    """One LFSR draw per element in the input's C order (not the block order), each element's
    SR decision on its exact scaled value (§6) with that word."""
    rng = np.random.default_rng(11)
    x = _wide_values(rng, shape)
    opts = dict(opts)
    if opts.get("direction") == "random":
        opts["direction"] = rng.integers(-1, 2, shape)
    bits = opts.get("sr_bits", 8)
    got, words = emu.quantize(x, name, mode, rng=emu.LFSR(seed=0xACE1, lanes=lanes), axis=axis,
                              return_words=True, **opts)
    want_words = ref.LFSR(seed=0xACE1, lanes=lanes).random_words(x.size, bits)
    assert words.tolist() == want_words
    elem, k = ref.MX_FORMATS[name]
    scales, codes = ref.block_quantize(x, elem, k, mode, axis=axis, words=want_words, **opts)
    assert got.scales.tolist() == scales
    assert got.codes.tolist() == codes
    if axis % x.ndim != x.ndim - 1:  # the words in block order would give other codes
        order = np.moveaxis(np.arange(x.size).reshape(shape), axis, -1).reshape(-1)
        block_order = np.empty(x.size, np.int64)
        block_order[order] = np.arange(x.size)
        permuted = [want_words[i] for i in block_order]
        assert ref.block_quantize(x, elem, k, mode, axis=axis, words=permuted, **opts)[1] != codes


def _scale_rule_inputs(name, dtype) -> np.ndarray:
    """Blocks of 32 whose amax sits on each scale rule's edges for the element format: exactly
    max x 2^j (ceil keeps j), one ulp above and below it, powers of two, 2^(emax+1) - ulp, random;
    scaled elements across the element's range (subnormal, tie and underflow points); blocks of
    zeros and -0.0, a last partial block handled by the caller; amax near float32's ends."""
    elem = _elem(name)
    mx = float(ref.element_max(elem))
    emax = ref.element_emax(elem)
    rng = np.random.default_rng(sum(map(ord, name)))
    fin = np.finfo(dtype)
    rows = []
    for j in (-130, -100, -3, 0, 7, 120):
        for top in (mx, 2.0 ** emax, 2.0 ** (emax + 1)):
            with np.errstate(over="ignore", under="ignore"):
                a = dtype(top * 2.0 ** j)
            if not (np.isfinite(a) and a > 0):
                continue
            for edge in (a, np.nextafter(a, dtype(np.inf)), np.nextafter(a, dtype(0))):
                body = rng.uniform(-1, 1, 31) * float(edge) * np.exp2(-rng.integers(0, 14, 31))
                row = np.concatenate([[edge], body.astype(dtype)])
                rows.append(rng.permutation(row) * np.where(rng.random(32) < 0.5, -1, 1))
    rows.append(np.zeros(32))
    rows.append(-np.zeros(32))
    rows.append(np.r_[fin.tiny, np.full(31, fin.tiny) * rng.random(31)])
    rows.append(np.r_[float(fin.max), -float(fin.max) * rng.random(31)])
    rows.append(np.r_[float(fin.max) / 2, float(fin.smallest_subnormal), np.zeros(30)])
    with np.errstate(over="ignore", under="ignore"):
        return np.array(rows).astype(dtype)


def _rceil_out_of_range(x: np.ndarray, name: str, axis: int = -1) -> np.ndarray:
    """Blocks (as a boolean per block) where rceil's fp32 quotient leaves float32: fp32(amax)
    overflows, or fp32(fp32(amax) / fp32(max)) is 0 (see test_rceil_clamps_beyond_float32)."""
    elem = _elem(name)
    k = ref.MX_FORMATS[name][1]
    xm = np.moveaxis(np.asarray(x, np.float64), axis, -1)
    pad = -xm.shape[-1] % k
    xm = np.concatenate([xm, np.zeros(xm.shape[:-1] + (pad,))], axis=-1)
    amax = np.abs(np.nan_to_num(xm, nan=0, posinf=0, neginf=0)).reshape(
        xm.shape[:-1] + (-1, k)).max(axis=-1)
    out = np.zeros(amax.shape, bool)
    for idx in np.ndindex(amax.shape):
        a = Fraction(float(amax[idx]))
        if a:
            a32 = ref.fp32_round(a)
            out[idx] = a32 == INF or ref.fp32_round(a32 / ref.fp32_round(ref.element_max(elem))) == 0
    return out


@pytest.mark.parametrize("rule", ref.SCALE_RULES)
@pytest.mark.parametrize("name", MX)
def test_scale_rules_against_reference(name, rule):
    """floor (§6.3), ceil and rceil against the reference, with the clamp to [-127, 127]
    (float64 values beyond float32's range included), all-zero blocks, every element's
    rounding (rne; float64 inputs also a directed mode), float32 and float64 inputs."""
    elem, k = ref.MX_FORMATS[name]
    checked = 0
    for dtype in (np.float32, np.float64):
        x = _scale_rule_inputs(name, dtype)
        if dtype is np.float64:
            x = np.concatenate([x, [np.r_[1e300, 3.0, -1e200, np.zeros(29)],
                                    np.r_[1e-300, -5e-324, 1e-310, np.zeros(29)],
                                    np.r_[2.0 ** 1000, 2.0 ** -900, -5e-324, 7.0, np.zeros(28)]]])
        if rule == "rceil":  # the blocks emu gets wrong are test_rceil_clamps_beyond_float32's
            x = x[~_rceil_out_of_range(x, name)[:, 0]]
        modes = ["rne"] + ([{"floor": "rtz", "ceil": "raz", "rceil": "rto"}[rule]]
                           if dtype is np.float64 else [])
        for mode in modes:
            got = emu.quantize(x, name, mode, scale_rule=rule)
            scales, codes = ref.block_quantize(x, elem, k, mode, scale_rule=rule)
            assert got.scales.tolist() == scales, (dtype, mode)
            bad = np.argwhere(got.codes != np.array(codes))
            assert not bad.size, [(mode, float(x[i, j]), got.scales[i, 0], int(got.codes[i, j]),
                                   codes[i][j]) for i, j in bad[:6]]
            checked += x.shape[0]
    assert checked > 100
    clamps = [ref.mx_shared_exponent(Fraction(float(np.abs(r).max())), ref._format(elem), rule)
              for r in _scale_rule_inputs(name, np.float64)]
    assert -127 in clamps and 127 in clamps


@pytest.mark.parametrize("name", ["mxfp4", "mxfp8_e4m3", "mxint8"])
def test_rceil_clamps_beyond_float32(name):
    """rceil's quotient q = fp32(fp32(amax) / fp32(max)) leaves float32 for float64 amax above
    float32's max (q = Inf: the largest scale, 2^127) or tiny amax, float32 inputs included
    (q = 0: the smallest scale, 2^-127), as floor and ceil clamp (emu once gave code 127, 2^0)."""
    elem, k = ref.MX_FORMATS[name]
    x = np.array([np.r_[1e300, 3.0, np.zeros(30)], np.r_[1e-300, np.zeros(31)],
                  np.r_[2.0 ** -149, np.zeros(31)], np.r_[1e39, np.zeros(31)]])
    for arr in (x, x[2:3].astype(np.float32)):
        arr = arr[_rceil_out_of_range(arr, name)[:, 0]]  # MXINT8: q(2^-149) = 2^-149, in range
        scales, codes = ref.block_quantize(arr, elem, k, scale_rule="rceil")
        assert [row[0] for row in scales] == [254 if r[0] > 1 else 0 for r in arr]
        got = emu.quantize(arr, name, scale_rule="rceil")
        assert got.scales.tolist() == scales and got.codes.tolist() == codes


@pytest.mark.parametrize("name, shape, axis", [
    ("mxfp6_e3m2", (37, 3, 2), 0), ("mxfp6_e3m2", (3, 37, 2), 1), ("mxint8", (3, 2, 37), 2),
    ("mxint8", (70,), -1), ("mxfp8_e5m2", (2, 3, 33), -1), ("mxfp4", (65, 2), -2),
])
def test_layout_padding_axis_and_specials(name, shape, axis):
    """Any axis, a last partial block (the missing elements are not stored), all-zero blocks
    (scale code 0, elements +0), NaN / Inf blocks (scale 0xFF, elements 0, the block decodes to
    NaN), saturating and fixed-point elements; saturate=False / overflow="wrap" pass through."""
    elem, k = ref.MX_FORMATS[name]
    rng = np.random.default_rng(len(shape) * 7 + axis)
    x = _wide_values(rng, shape)
    xm = np.moveaxis(x, axis, -1)  # a view: edits land in x
    lead = list(np.ndindex(xm.shape[:-1]))
    xm[lead[0]][:k] = 0.0  # an all-zero block
    xm[lead[-1]][-1] = NAN  # the last (partial) block along the axis holds a NaN
    if len(lead) > 2:
        xm[lead[1]][min(k + 1, xm.shape[-1] - 1)] = -INF
    got = emu.quantize(x, name, axis=axis)
    scales, codes = ref.block_quantize(x, elem, k, axis=axis)
    assert got.scales.tolist() == scales and got.codes.tolist() == codes
    n = shape[axis]
    assert got.padding == -n % k and got.axis == axis % len(shape)
    assert got.scales.shape == tuple(-(-n // k) if d == axis % len(shape) else s
                                     for d, s in enumerate(shape))
    sm = np.moveaxis(got.scales, axis, -1)
    assert sm[lead[0]][0] == 0 and sm[lead[-1]][-1] == 0xFF
    vals = np.moveaxis(got.to_float(), axis, -1)
    assert np.isnan(vals[lead[-1]][(n - 1) // k * k:]).all()
    assert not np.isnan(np.delete(vals[lead[-1]], np.s_[(n - 1) // k * k:])).any()
    # the other overflow policies reach the element rounding unchanged
    policy = {"saturate": False} if ref._is_float(emu.format(elem)) else {"overflow": "wrap"}
    got = emu.quantize(x * 1.0, name, "rna", axis=axis, **policy)
    assert got.codes.tolist() == ref.block_quantize(x, elem, k, "rna", axis=axis, **policy)[1]


# --- NVFP4 --------------------------------------------------------------------------------------

def _nvfp4_near_ties(t: float) -> np.ndarray:
    """16 values for one NVFP4 block with tensor scale t: amax 6.6 x 2^3 x t, and for five
    e2m1 ties y (0.25, 0.75, 1.75, 2.5, 5) the float32 value v = y x fp32(scale x t), the float32
    below it, and v (1 + 2^-30) (float64 inputs only: its float32 rounding is v), so the
    recipe's fp32 quotient lands on, below or (from float64) on the tie again (the scale computed
    here with the reference's e4m3 rounding, as the recipe states)."""
    f32 = np.float32
    amax = f32(6.6 * 8) * f32(t)
    s32 = (amax / f32(6)) / f32(t)
    e4m3 = emu.format("e4m3")
    sv = f32(ref.decode(e4m3, ref.round_value(float(s32), e4m3, "rne", saturate=True)))
    denom = sv * f32(t)
    out = [float(amax)]
    for y in (0.25, 0.75, 1.75, 2.5, 5.0):
        v = f32(y) * denom
        out += [float(v), -float(np.nextafter(v, f32(0))), float(v) * (1 + 2.0 ** -30)]
    return np.array(out)


@pytest.mark.parametrize("tensor_scale", [None, "amax", 0.5, float(np.float32(1e-3))])
@pytest.mark.parametrize("dtype, axis", [(np.float32, -1), (np.float64, 0)])
def test_nvfp4_recipe_against_float32_reference(tensor_scale, dtype, axis):
    """Block scales spread over e4m3's range (amax / 6 / t from 2^-12 to 2^9: subnormal,
    normal and saturating scales), elements over ~10 binades below amax, a zero block, a block
    whose scale rounds to 0, a NaN block; five modes incl. SR."""
    rng = np.random.default_rng(23)
    nb = 3
    t = {None: 1.0, "amax": 1.0}.get(tensor_scale, tensor_scale)
    block_exp = rng.integers(-10, 12, (6, nb))  # amax ~ 2^e x 6 x t
    xm = rng.uniform(-1, 1, (6, 40)) * np.exp2(-rng.integers(0, 10, (6, 40)))
    xm *= 6 * t * np.exp2(np.repeat(block_exp, 16, axis=1)[:, :40])
    xm[1][:16] = 0.0  # a zero block: scale 0
    xm[2][16:32] *= 1e-9  # amax / 6 / t below e4m3's smallest subnormal (2^-9): scale 0 too
    xm[3][35] = NAN  # the last (partial) block holds a NaN
    xm[4][:16] *= 1e4  # a saturating scale (448)
    if tensor_scale == "amax":
        t = ref.nvfp4_quantize(xm, tensor_scale="amax")[2]
    xm[5][:16] = _nvfp4_near_ties(t)  # elements at e2m1 ties of the recipe's fp32 quotient
    x = np.moveaxis(xm, -1, axis).astype(dtype)
    if dtype is np.float64 and tensor_scale != "amax":
        x[0, 0] = 2.0 ** 130  # beyond float32: fp32(amax) is Inf, the scale saturates
    for mode in ("rne", "rtz", "rup", "rna", "sr"):
        kw = {"rng": emu.LFSR(seed=9), "return_words": True} if mode == "sr" else {}
        res = emu.quantize(x, "nvfp4", mode, axis=axis, tensor_scale=tensor_scale, **kw)
        got, words = res if kw else (res, None)
        want_words = ref.LFSR(seed=9).random_words(x.size, 8) if kw else None
        if kw:
            assert words.tolist() == want_words
        scales, codes, t_ref = ref.nvfp4_quantize(x, mode, axis=axis, tensor_scale=tensor_scale,
                                                  words=want_words)
        assert got.tensor_scale == t_ref
        assert got.scales.tolist() == scales, mode
        assert got.codes.tolist() == codes, mode
    sc = np.array(scales).ravel()
    assert (sc == 0).sum() >= 2 and 0x7E in sc and 0x7F in sc
    assert ((sc > 0) & (sc < 8)).any() and len(set(sc.tolist())) > 8  # subnormal scales, variety


# --- dot products and matmul ---------------------------------------------------------------------

def _finite_codes(fmt, lo=None, hi=None) -> np.ndarray:
    """The codes of finite values, optionally only +-0 and magnitudes in [2^lo, 2^hi]."""
    out = []
    for c in range(1 << fmt.bits):
        v = ref.operand(fmt, c)[0]
        if isinstance(v, float):
            continue
        if v == 0 or lo is None or Fraction(2) ** lo <= abs(v) <= Fraction(2) ** hi:
            out.append(c)
    return np.array(out)


def _block_operand(rng, name, shape, axis, scale_lo, scale_hi, *, nan_scale=False,
                   specials=(), zero_block=False, tensor_scale=1.0, span=(None, None)):
    """Block registers from codes: finite element codes (subnormals and +-0 included; with
    ``span`` only magnitudes in [2^lo, 2^hi]), scale codes in [scale_lo, scale_hi] (e8m0, or
    UE4M3 for NVFP4), optionally a NaN scale on the last block of the last row / column,
    element specials at given positions and an all-zero first block of the first row / column."""
    fmt = emu.block_format(name)
    codes = rng.choice(_finite_codes(fmt.element, *span), size=shape)
    for pos, code in specials:
        codes[pos] = code
    nb = -(-shape[axis] // fmt.block_size)
    sshape = tuple(nb if d == axis else s for d, s in enumerate(shape))
    scales = rng.integers(scale_lo, scale_hi + 1, sshape)
    if nan_scale:
        scales[tuple(s - 1 for s in sshape)] = 0xFF if fmt.power_of_two_scale else 0x7F
    if zero_block:
        first = [slice(None)] * 2
        first[1 - axis] = 0
        first[axis] = slice(0, fmt.block_size)
        codes[tuple(first)] = 0
    return BlockRegisters.from_codes(codes, scales, fmt, axis=axis, tensor_scale=tensor_scale)


# (A, B, scale range, options of matmul, operand extras): K = 80 (blocks 32, 32, 16) or 40 (nvfp4)
DOT_CASES = {
    "e4m3_fp32_seq": ("mxfp8_e4m3", "mxfp8_e4m3", (118, 136), {}, {}),
    "e4m3_fp32_pairwise": ("mxfp8_e4m3", "mxfp8_e4m3", (118, 136), {"order": "pairwise"}, {}),
    "e4m3_fp32_exact": ("mxfp8_e4m3", "mxfp8_e4m3", (118, 136), {"order": "exact"}, {}),
    "e4m3_bf16_seq_nan": ("mxfp8_e4m3", "mxfp8_e4m3", (110, 140), {"acc": "bf16"},
                          {"nan_scale": True, "zero_block": True}),
    "e4m3_fp16_overflow": ("mxfp8_e4m3", "mxfp8_e4m3", (127, 134), {"acc": "fp16"}, {}),
    "e4m3_fp16_saturate": ("mxfp8_e4m3", "mxfp8_e4m3", (127, 134),
                           {"acc": "fp16", "acc_saturate": True}, {}),
    "e4m3_e6m5_pairwise_rtz": ("mxfp8_e4m3", "mxfp8_e4m3", (120, 131),
                               {"acc": "e6m5", "order": "pairwise", "acc_rounding": "rtz"}, {}),
    "e4m3_e5m7_exact_rdn": ("mxfp8_e4m3", "mxfp8_e4m3", (0, 254),
                            {"acc": "e5m7", "order": "exact", "acc_rounding": "rdn"},
                            {"zero_block": True}),
    "e4m3_chunk_promote": ("mxfp8_e4m3", "mxfp8_e4m3", (118, 136),
                           {"acc": "bf16", "chunk": 2, "promote": "fp32"}, {"nan_scale": True}),
    "e4m3_sr_bf16": ("mxfp8_e4m3", "mxfp8_e4m3", (118, 136),
                     {"acc": "bf16", "acc_rounding": "sr", "sr": True}, {}),
    "e4m3_sr_compare_out": ("mxfp8_e4m3", "mxfp8_e4m3", (118, 136),
                            {"acc": "e8m10", "acc_rounding": "sr", "sr_bits": 13,
                             "form": "compare", "out": "e4m3", "out_rounding": "sr", "sr": True},
                            {}),
    "e4m3_out_bf16_rtz": ("mxfp8_e4m3", "mxfp8_e4m3", (100, 150),
                          {"out": "bf16", "out_rounding": "rtz"}, {"nan_scale": True}),
    "e4m3_x_e5m2": ("mxfp8_e4m3", "mxfp8_e5m2", (110, 140), {}, {}),
    "e5m2_inf_nan_fp32": ("mxfp8_e5m2", "mxfp8_e5m2", (120, 134), {"acc": "fp32"},
                          {"specials": [((0, 3), 0x7C), ((1, 40), 0xFC), ((2, 70), 0x7E),
                                        ((1, 41), 0x7C)], "span": (-8, 15)}),
    "e5m2_exact": ("mxfp8_e5m2", "mxfp8_e5m2", (120, 134), {"order": "exact"},
                   {"specials": [((2, 5), 0xFC)], "nan_scale": True, "span": (-8, 15)}),
    "e5m2_subnormals_pairwise": ("mxfp8_e5m2", "mxfp8_e5m2", (125, 130),
                                 {"order": "pairwise", "acc": "bf16"},
                                 {"span": (-16, 3), "nan_scale": True}),
    "e3m2_x_e2m3_fp16": ("mxfp6_e3m2", "mxfp6_e2m3", (120, 134), {"acc": "fp16"}, {}),
    "fp4_bf16_pairwise": ("mxfp4", "mxfp4", (120, 134), {"acc": "bf16", "order": "pairwise"},
                          {"zero_block": True}),
    "fp4_rdn_zero_signs": ("mxfp4", "mxfp4", (127, 127), {"acc": "bf16", "acc_rounding": "rdn"},
                           {"zero_block": True}),
    "int8_fp32": ("mxint8", "mxint8", (120, 134), {}, {}),
    "int8_fixed_acc": ("mxint8", "mxint8", (125, 129), {"acc": "s24.12", "acc_rounding": "rne"}, {}),
    "int8_fixed_acc_sat": ("mxint8", "mxint8", (127, 133), {"acc": "s16.8", "order": "exact"}, {}),
    "int8_pairwise_bf16": ("mxint8", "mxint8", (100, 150), {"acc": "bf16", "order": "pairwise"},
                           {"nan_scale": True}),
    "nvfp4_tensor_scales": ("nvfp4", "nvfp4", (0, 0x7E), {"out": "bf16"},
                            {"tensor_scale": (float(np.float32(0.1)), 3.0)}),
    "nvfp4_tensor_scales_acc": ("nvfp4", "nvfp4", (0x20, 0x60), {"acc": "bf16", "out_rounding": "rtz"},
                                {"tensor_scale": (0.75, float(np.float32(1 / 3))), "nan_scale": True}),
    "nvfp4_exact": ("nvfp4", "nvfp4", (0, 0x7E), {"order": "exact"}, {"zero_block": True}),
    "products_seq": ("mxfp8_e4m3", "mxfp8_e4m3", (118, 136), {"block_sum": "products"}, {}),
    "products_exact": ("mxfp8_e4m3", "mxfp8_e5m2", (118, 136),
                       {"block_sum": "products", "order": "exact"}, {"nan_scale": True}),
    "products_seq_bf16_sr": ("mxfp6_e2m3", "mxfp6_e2m3", (118, 136),
                             {"block_sum": "products", "acc": "bf16", "acc_rounding": "sr",
                              "sr": True}, {}),
    "products_pairwise_int8": ("mxint8", "mxint8", (120, 134),
                               {"block_sum": "products", "order": "pairwise", "acc": "fp16"}, {}),
    "products_truncating": ("mxfp8_e4m3", "mxfp8_e4m3", (118, 136),
                            {"block_sum": "products", "order": "truncating"}, {}),
    "products_nvfp4": ("nvfp4", "nvfp4", (0x20, 0x60), {"block_sum": "products", "out": "bf16"},
                       {"tensor_scale": (0.75, 2.5)}),
    "products_nan_inf": ("mxfp8_e5m2", "mxfp8_e5m2", (120, 134), {"block_sum": "products"},
                         {"specials": [((0, 3), 0x7C), ((1, 40), 0xFC), ((2, 70), 0x7E)],
                          "nan_scale": True}),  # products: no wide path, any span
    "products_e5m2_full_range": ("mxfp8_e5m2", "mxfp8_e5m2", (120, 134),
                                 {"block_sum": "products", "order": "exact"}, {}),
}


@pytest.mark.parametrize("case", list(DOT_CASES))
def test_block_matmul_against_reference(case):
    an, bn, (slo, shi), opts, extra = DOT_CASES[case]
    rng = np.random.default_rng(sum(map(ord, case)))
    kk = 40 if "nvfp4" in (an, bn) else 80
    m, n = 3, 4
    extra = dict(extra)
    ts = extra.pop("tensor_scale", (1.0, 1.0))
    specials = extra.pop("specials", ())
    a = _block_operand(rng, an, (m, kk), 1, slo, shi, specials=specials, tensor_scale=ts[0],
                       **extra)
    b = _block_operand(rng, bn, (kk, n), 0, slo, shi,
                       specials=[((p[1], p[0] % n), c) for p, c in specials], tensor_scale=ts[1],
                       **extra)
    opts = dict(opts)
    stochastic = opts.pop("sr", False)
    kw = {"rng": emu.LFSR(seed=4242), "return_words": True} if stochastic else {}
    res = emu.matmul(a, b, **opts, **kw)
    got, words = res if stochastic else (res, None)
    if stochastic:
        want_words = ref.LFSR(seed=4242).random_words(len(words), opts.get("sr_bits", 8))
        assert words.tolist() == want_words
        opts["words"] = want_words
    want = ref.block_matmul(a, b, **opts)
    assert got.codes.tolist() == want, case
    if case.endswith("overflow"):
        assert any(np.isinf(got.to_float()).ravel())
    if case.endswith("saturate"):
        assert (np.abs(got.to_float()) == 65504).any()
    if case.endswith("_sat"):  # s16.8 saturates at 32767 / 256 and -128
        assert (np.abs(got.to_float()) >= 32767 / 256).any()
    if extra.get("nan_scale") and "out" not in opts and "acc_overflow" not in opts:
        assert np.isnan(got.to_float()[-1, -1])


@pytest.mark.parametrize("name", ["mxfp8_e4m3", "nvfp4"])
def test_zero_signs_of_block_terms(name):
    """Exact zero sums: rows of -0 elements (every product -0), in-block cancellation (x - x),
    zero blocks of +0, and for NVFP4 a zero block scale over nonzero products; each order and
    mode rne / rdn, both block sums (§9's zero-sign rules on the block terms, §14.4)."""
    fmt = emu.block_format(name)
    k, elem = fmt.block_size, fmt.element
    kk = 2 * k + 5
    neg0, one, mone = elem.sign_bit, ref.round_value(1.0, elem), ref.round_value(-1.0, elem)
    a = np.zeros((4, kk), np.int64)
    a[0, :] = neg0  # every product -0
    a[1, :k] = neg0  # block 0: -0 products; blocks 1, 2: +0
    a[2, 0], a[2, 1] = one, mone  # cancellation in block 0, the other blocks +0
    a[3, :] = one  # with B's column 2 (x - x in every block) and column 3 (a zero scale)
    b = np.zeros((kk, 4), np.int64)
    b[:, 0] = one
    b[:, 1] = mone
    b[0::2, 2], b[1::2, 2] = one, mone
    b[k - 1, 2] = one  # block 0 holds k / 2 + 1 ones and k / 2 - 1 minus ones against A's row 3
    b[:, 3] = one
    if fmt.power_of_two_scale:
        sa, sb = np.full((4, 3), 127), np.full((3, 4), 127)
    else:
        sa, sb = np.full((4, 3), 0x38), np.full((3, 4), 0x38)
        sb[:, 3] = 0  # a zero block scale: X * sum = 0 over nonzero products
    A = BlockRegisters.from_codes(a, sa, fmt, axis=1)
    B = BlockRegisters.from_codes(b, sb, fmt, axis=0)
    for opts in ({}, {"order": "pairwise"}, {"order": "exact"}, {"acc": "bf16"},
                 {"block_sum": "products"}, {"block_sum": "products", "order": "exact"}):
        for mode in ("rne", "rdn"):
            got = emu.matmul(A, B, acc_rounding=mode, **opts).codes.tolist()
            want = ref.block_matmul(A, B, acc_rounding=mode, **opts)
            if opts == {"block_sum": "products", "order": "exact"}:
                # docs/semantics.md §13 item 3: emu.matmul's exact order gives -0 only where the
                # exact sum fits 64 bits; the carrier operands' sums never do (the Python-integer
                # path), and a zero sum is +0 there, whatever the products' signs and the mode
                want = [[0 if c == 0x80000000 else c for c in row] for row in want]
                assert any(0x80000000 in row for row in ref.block_matmul(A, B, acc_rounding=mode,
                                                                         **opts))
            assert got == want, (opts, mode)
    exact = emu.matmul(A, B, order="exact").to_float()
    assert math.copysign(1, exact[0, 0]) == -1  # every term -0: -0 even under rne


def test_block_dot_is_matmul_of_one_row_and_column():
    rng = np.random.default_rng(8)
    a = emu.quantize(_wide_values(rng, (70,)), "mxfp8_e4m3")
    b = emu.quantize(_wide_values(rng, (70,)), "mxfp8_e4m3")
    a2 = BlockRegisters.from_codes(a.codes[None, :], a.scales[None, :], "mxfp8_e4m3", axis=1)
    b2 = BlockRegisters.from_codes(b.codes[:, None], b.scales[:, None], "mxfp8_e4m3", axis=0)
    for kw in ({}, {"acc": "bf16", "order": "pairwise"}, {"order": "exact", "acc": "e4m10"}):
        want = ref.block_matmul(a2, b2, **kw)[0][0]
        assert int(emu.dot(a, b, **kw).codes) == want


def _wide_pair(extra_block=None):
    """mxfp8_e5m2 operands whose first block's products span 2^-32 .. 57344^2 (more than 62
    bits): the exact-rational path of emu.blockdot (_exact_output)."""
    e5m2 = emu.format("e5m2")
    big = ref.round_value(57344.0, e5m2)
    tiny = ref.round_value(2.0 ** -16, e5m2)
    a = np.zeros((2, 64), np.uint8)
    b = np.zeros((64, 3), np.uint8)
    a[:, 0], a[:, 1], a[0, 2], a[1, 33] = big, tiny, ref.round_value(-3.0, e5m2), big
    b[0, :], b[1, :], b[2, 1], b[33, 2] = big, tiny, ref.round_value(1.5, e5m2), tiny
    b[1, 2] = ref.round_value(-(2.0 ** -16), e5m2)
    sa = np.full((2, 2), 127)
    sb = np.full((2, 3), 127)
    sb[1, :] = 140
    if extra_block is not None:
        sb[1, 0] = extra_block
    return (BlockRegisters.from_codes(a, sa, "mxfp8_e5m2", axis=1),
            BlockRegisters.from_codes(b, sb, "mxfp8_e5m2", axis=0))


@pytest.mark.parametrize("opts", [
    {}, {"order": "exact"}, {"order": "pairwise"}, {"acc": "bf16"},
    {"acc": "e5m7", "order": "exact", "acc_rounding": "rdn"},
    {"acc": "bf16", "order": "pairwise", "acc_rounding": "rtz"},
    {"acc": "bf16", "chunk": 1, "promote": "fp32"}, {"acc": "e8m4", "acc_rounding": "rup"},
    {"acc": "bf16", "acc_rounding": "sr", "sr": True},
    {"block_sum": "products"}, {"block_sum": "products", "order": "exact"},
])
def test_wide_block_sums_take_the_exact_rational_path(opts):
    a, b = _wide_pair()
    opts = dict(opts)
    kw = {"rng": emu.LFSR(seed=5), "return_words": True} if opts.pop("sr", False) else {}
    res = emu.matmul(a, b, **opts, **kw)
    got = res[0] if kw else res
    if kw:
        opts["words"] = ref.LFSR(seed=5).random_words(len(res[1]), 8)
        assert res[1].tolist() == opts["words"]
    assert got.codes.tolist() == ref.block_matmul(a, b, **opts)


def test_wide_block_sums_refusals():
    """The documented refusal of the rational path (§14.4): a wide output that also holds a NaN
    block. A wide output that overflows the accumulator is Inf (or max with acc_saturate), as
    on the kernel's path (the rational path raised there once)."""
    a, b = _wide_pair(extra_block=0xFF)
    with pytest.raises(ValueError, match="NaN or Inf; emu does not model this mix"):
        emu.matmul(a, b)
    assert emu.matmul(a, b, block_sum="products").codes.tolist() == \
        ref.block_matmul(a, b, block_sum="products")
    a, b = _wide_pair()
    for sat in (False, True):
        assert emu.matmul(a, b, acc="fp16", acc_saturate=sat).codes.tolist() == \
            ref.block_matmul(a, b, acc="fp16", acc_saturate=sat)
    assert emu.matmul(a, b, acc="fp16", block_sum="products").codes.tolist() == \
        ref.block_matmul(a, b, acc="fp16", block_sum="products")


def test_exact_order_over_block_terms_spanning_more_than_62_bits():
    """order="exact" with block terms 2^-127 and 2^127 apart (narrow blocks, a wide total): the
    rational path, against the reference."""
    rng = np.random.default_rng(31)
    a = _block_operand(rng, "mxfp8_e4m3", (2, 96), 1, 0, 0)
    b = _block_operand(rng, "mxfp8_e4m3", (96, 2), 0, 0, 0)
    sa = np.array([[0, 254, 127], [254, 0, 0]])
    a = BlockRegisters.from_codes(a.codes, sa, "mxfp8_e4m3", axis=1)
    for acc in ("fp32", "e11m20", "e10m21"):
        assert emu.matmul(a, b, acc=acc, order="exact").codes.tolist() == \
            ref.block_matmul(a, b, acc=acc, order="exact")


# --- errors -------------------------------------------------------------------------------------

def test_bad_inputs_get_clear_errors():
    with pytest.raises(ValueError, match="unknown block format 'mxfp9'") as e:
        emu.block_format("mxfp9")
    for name in ("mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4", "mxint8", "nvfp4"):
        assert name in str(e.value)
    x = np.ones((2, 40))
    with pytest.raises(ValueError, match="axis=2 out of range"):
        emu.quantize(x, "mxfp4", axis=2)
    with pytest.raises(ValueError, match=r"need \(2, 2\)"):
        BlockRegisters.from_codes(np.zeros((2, 40), np.uint8), np.zeros((2, 1), np.uint8), "mxfp4")
    with pytest.raises(ValueError, match="does not fit the 4-bit format e2m1"):
        BlockRegisters.from_codes(np.full((2, 32), 16), np.zeros((2, 1), np.uint8), "mxfp4")
    with pytest.raises(ValueError, match="does not fit the 8-bit format e8m0"):
        BlockRegisters.from_codes(np.zeros((2, 32), np.uint8), np.full((2, 1), 256), "mxfp4")
    with pytest.raises(ValueError, match="no per-tensor scale"):
        emu.quantize(x, "mxfp8_e4m3", tensor_scale=2.0)
    with pytest.raises(ValueError, match="no per-tensor scale"):
        BlockRegisters.from_codes(np.zeros((2, 32), np.uint8), np.zeros((2, 1), np.uint8), "mxfp4",
                                  tensor_scale=2.0)
    with pytest.raises(ValueError, match="unknown scale_rule 'round'; valid: floor, ceil, rceil"):
        emu.quantize(x, "mxfp4", scale_rule="round")
    with pytest.raises(ValueError, match="power-of-two"):
        emu.quantize(x, "nvfp4", scale_rule="ceil")
    a = emu.quantize(np.ones((2, 64)), "mxfp8", axis=1)
    with pytest.raises(ValueError, match="blocked along K"):
        emu.matmul(a, emu.quantize(np.ones((64, 3)), "mxfp8", axis=1))
    with pytest.raises(ValueError, match="do not share a block size"):
        emu.matmul(a, emu.quantize(np.ones((64, 3)), "nvfp4", axis=0))
    with pytest.raises(ValueError, match="do not chain"):
        emu.matmul(a, emu.quantize(np.ones((32, 3)), "mxfp8", axis=0))
    with pytest.raises(ValueError, match="unknown block_sum"):
        emu.matmul(a, emu.quantize(np.ones((64, 3)), "mxfp8", axis=0), block_sum="sums")


# --- emu behaviours found by these oracles ----------------------------------------------------

def test_sign_bit_scale_codes_are_refused():
    """NVFP4's scale is unsigned (UE4M3): a code with the sign bit set (a negative scale, -0, the
    negative NaN) is no scale, and block registers refuse it, naming the code and where it is
    (once, block_sum='exact' read it unsigned while to_float() read it negative)."""
    codes = np.full((2, 16), 2, np.uint8)  # e2m1 1.0
    for bad in (0xB8, 0x80, 0xFF):
        with pytest.raises(ValueError, match=rf"scale code {bad:#x} at index \(1, 0\) has the sign bit"):
            BlockRegisters.from_codes(codes, [[0x38], [bad]], "nvfp4", axis=1)
    ok = BlockRegisters.from_codes(codes, [[0x38], [0x7F]], "nvfp4", axis=1)  # 1.0, NaN
    assert ok.to_float()[0, 0] == 1.0 and np.isnan(ok.to_float()[1]).all()
