"""Every computation path of emu.paths against its core, bit for bit, so no path can drift.

Each test forces one path by calling its function directly, after asserting that the chooser
picks that path for the case. Wide float sources (float32 AND float64) take every top-16-bit
pattern with several low parts (0, 1, exactly half, all ones, random); narrow sources take every
code. The cores: ``convert_codes`` (which wraps ``round_pack``), ``binary_codes`` and
``matmul_core``; docs/semantics.md §4-6 and §8-9 define them, tests/reference.py checks them.
"""

import numpy as np
import pytest

import emu
from emu import parallel, paths
from emu.codes import (
    OVF_SAT,
    OVF_SAT_SYM,
    OVF_WRAP,
    RDN,
    RNE,
    RTO,
    RTZ,
    RUP,
    SIGNED_SR_EPS,
    SR,
    SR_EPS,
    SR_EQUAL,
)
from emu.kernels import accumulate as kacc
from emu.kernels import arith as karith
from emu.kernels.convert import F32, F64, convert_codes
from emu.registers import code_dtype

EMPTY_U64 = np.empty(0, np.uint64)
SEQ = kacc.ORDER_SEQ
EMPTY_I8 = np.empty(0, np.int8)
DETERMINISTIC = range(RTO + 1)
HOST = {"f32": (F32, np.uint32, np.float32), "f64": (F64, np.uint64, np.float64)}
FLOAT_OVF = (0, 1)  # non-saturating, saturating
FIXED_OVF = (OVF_WRAP, OVF_SAT, OVF_SAT_SYM)
FLOAT_TARGETS = ["e4m3", "e5m2", "e4m3fnuz", "e5m2fnuz", "e2m1", "e3m2", "e2m3", "e4m3ieee", "e8m0ieee"]
FIXED_TARGETS = ["s8.4", "u8.8", "s16.8", "u12.3", "s32.0", "s62.20"]


def top16(src: str) -> np.ndarray:
    """Every top-16-bit pattern of a float32 or float64 code, each with the low parts 0, 1,
    exactly half, all ones and a random one."""
    desc, dtype, _ = HOST[src]
    low_bits = desc[1] - 16
    hi = np.arange(1 << 16, dtype=np.uint64) << np.uint64(low_bits)
    rand = np.random.default_rng(16).integers(0, 1 << low_bits, hi.size, dtype=np.uint64)
    lows = [0, 1, 1 << (low_bits - 1), (1 << low_bits) - 1]
    return np.concatenate([hi | np.uint64(v) for v in lows] + [hi | rand]).astype(dtype)


def every_code(fmt, n_min=paths.MIN_TABLE_SIZE) -> np.ndarray:
    """Every code of a narrow format, shuffled and repeated to at least ``n_min`` elements."""
    codes = np.random.default_rng(fmt.bits).permutation(1 << fmt.bits).astype(code_dtype(fmt.bits))
    return np.tile(codes, -(-n_min // codes.size))


def core(codes, src, dst, mode, ovf, rbits=1, words=EMPTY_U64, compare=False):
    """The rounding core alone: (codes as uint64, mask of elements the target cannot hold)."""
    out = np.empty(codes.size, np.uint64)
    bad = np.zeros(codes.size, np.uint8)
    convert_codes(np.ascontiguousarray(codes, np.uint64), src, out, dst, mode, ovf, rbits, words,
                  0, EMPTY_I8, compare, bad)
    return out, bad.astype(bool)


def assert_same(done: bool, out, want, bad, what):
    """A path that says done matches the core everywhere and the core had nothing bad; a table
    path declines only when the core has an element the target cannot hold, and still matches
    it on every other element."""
    assert done == (not bad.any()), what
    keep = ~bad
    diff = np.flatnonzero(out.astype(np.uint64)[keep] != want[keep])
    assert diff.size == 0, f"{what}: {diff.size} mismatches, first at {diff[0]}"


def fmt_ovfs(fmt):
    return FIXED_OVF if isinstance(fmt, emu.FixedFormat) else FLOAT_OVF


# --- conversions -------------------------------------------------------------------------------
@pytest.mark.parametrize("src", ["f32", "f64"])
@pytest.mark.parametrize("dst_name", FLOAT_TARGETS)
def test_lut_hi16_equals_core(src, dst_name):
    desc = HOST[src][0]
    codes = top16(src)
    dst = emu.format(dst_name)
    for mode in DETERMINISTIC:
        for ovf in FLOAT_OVF:
            assert paths.convert_path(codes.size, desc, dst.descriptor, mode, ovf) == paths.LUT_HI16
            out = np.empty(codes.size, code_dtype(dst.bits))
            done = paths.lut_hi16(codes, desc, out, dst.descriptor, mode, ovf)
            assert_same(done, out, *core(codes, desc, dst.descriptor, mode, ovf),
                        (src, dst_name, mode, ovf))


SR_WORDS = {"f32": [(1, False), (8, False), (8, True), (13, True), (32, False), (32, True)],
            "f64": [(1, True), (8, False), (8, True), (10, False), (10, True)]}  # 53 + r <= 63


@pytest.mark.parametrize("src", ["f32", "f64"])
@pytest.mark.parametrize("dst_name", FLOAT_TARGETS)
def test_sr_hi16_equals_core(src, dst_name):
    desc = HOST[src][0]
    codes = top16(src)
    dst = emu.format(dst_name)
    for rbits, compare in SR_WORDS[src]:
        words = np.random.default_rng(rbits).integers(0, 1 << rbits, codes.size, dtype=np.uint64)
        words[::7] = 0  # the extreme words: never up / up whenever inexact (carry form)
        words[3::7] = (1 << rbits) - 1
        for ovf in FLOAT_OVF:
            what = (src, dst_name, rbits, compare, ovf)
            assert paths.convert_path(codes.size, desc, dst.descriptor, SR, ovf, rbits) \
                == paths.SR_HI16, what
            want, bad = core(codes, desc, dst.descriptor, SR, ovf, rbits, words, compare)
            out = np.empty(codes.size, code_dtype(dst.bits))
            done = paths.sr_hi16(codes, desc, out, dst.descriptor, ovf, rbits, words, compare)
            assert done == (not bad.any()), what
            if done:  # a declining sr_hi16 leaves out alone: the core does the whole block
                assert_same(done, out, want, bad, what)
            # the finite patterns alone: a target with no code for NaN (e2m1) takes them too
            fin = finite(codes, src)
            out = np.empty(fin.size, code_dtype(dst.bits))
            want, bad = core(codes[fin], desc, dst.descriptor, SR, ovf, rbits, words[fin], compare)
            done = paths.sr_hi16(codes[fin], desc, out, dst.descriptor, ovf, rbits, words[fin],
                                 compare)
            assert done == (not bad.any()), what
            if done:
                assert_same(done, out, want, bad, what)


def finite(codes, src):
    """Indices of the finite codes among float32 or float64 codes."""
    return np.flatnonzero(np.isfinite(codes.view(HOST[src][2])))


@pytest.mark.slow
@pytest.mark.parametrize("dst_name", ["e4m3", "e5m2", "e2m1", "e4m3fnuz"])
@pytest.mark.parametrize("rbits", [3, 8])
def test_sr_hi16_every_word_on_every_pattern(dst_name, rbits):
    """Every r-bit word R on every finite top-16-bit float32 pattern (low part nonzero, a random
    one), both forms and overflow policies: the whole (T, R) plane of the decision."""
    desc = F32
    hi = np.arange(1 << 16, dtype=np.uint64) << np.uint64(16)
    low = np.random.default_rng(rbits).integers(1, 1 << 16, hi.size, dtype=np.uint64)
    pats = (hi | low).astype(np.uint32)
    pats = pats[np.isfinite(pats.view(np.float32))]
    codes = np.repeat(pats, 1 << rbits)
    words = np.tile(np.arange(1 << rbits, dtype=np.uint64), pats.size)
    dst = emu.format(dst_name)
    for compare in (False, True):
        for ovf in FLOAT_OVF:
            what = (dst_name, rbits, compare, ovf)
            want, bad = core(codes, desc, dst.descriptor, SR, ovf, rbits, words, compare)
            out = np.empty(codes.size, code_dtype(dst.bits))
            done = paths.sr_hi16(codes, desc, out, dst.descriptor, ovf, rbits, words, compare)
            assert done == (not bad.any()), what
            if done:
                assert_same(done, out, want, bad, what)


@pytest.mark.parametrize("src", ["f32", "f64"])
@pytest.mark.parametrize("dst_name", FIXED_TARGETS)
def test_fpu_fixed_equals_core(src, dst_name):
    desc, _, ftype = HOST[src]
    codes = top16(src)
    x = codes.view(ftype)
    dst = emu.format(dst_name)
    with np.errstate(invalid="ignore"):  # signalling NaN patterns
        fine = np.isfinite(x) & (np.abs(x.astype(np.float64)) < 2.0 ** (61 - dst.frac))
    xs, cs = x[fine], codes[fine]  # the FPU's domain: every scaled value below 2**61
    for mode in (RNE, RTZ, RDN, RUP):
        for ovf in FIXED_OVF:
            what = (src, dst_name, mode, ovf)
            assert paths.convert_path(cs.size, desc, dst.descriptor, mode, ovf, host=True) \
                == paths.FPU_FIXED, what
            out = np.empty(xs.size, code_dtype(dst.bits))
            assert paths.fpu_fixed(xs, out, dst.descriptor, mode, ovf), what
            assert_same(True, out, *core(cs, desc, dst.descriptor, mode, ovf), what)
            # NaN, Inf and huge values are the core's: the path declines the whole block
            assert not paths.fpu_fixed(x, np.empty(x.size, out.dtype), dst.descriptor, mode, ovf)


@pytest.mark.parametrize("src", ["f32", "f64"])
def test_host_f32_equals_core(src):
    """float64 / fp32 -> fp32 under rne by the host's conversion: every top-16-bit pattern with
    its low parts (ties, subnormal results, overflow to Inf, NaN payloads of both signs)."""
    desc = HOST[src][0]
    codes = top16(src)
    assert paths.convert_path(codes.size, desc, F32, RNE, 0) == paths.HOST_F32
    assert paths.convert_path(1, desc, F32, RNE, 0) == paths.HOST_F32
    for ovf in FLOAT_OVF:
        assert paths.convert_path(codes.size, desc, F32, RNE, ovf) == paths.HOST_F32
        out = np.empty(codes.size, np.uint32)
        assert paths.host_f32(codes, desc, out, ovf)
        assert_same(True, out, *core(codes, desc, F32, RNE, ovf), (src, ovf))
    assert paths.convert_path(codes.size, desc, F32, RTZ, 0) != paths.HOST_F32


NARROW_SOURCES = ["fp16", "bf16", "e4m3", "e5m2fnuz", "e2m1", "s8.4", "u8.8", "s16.8"]
NARROW_TARGETS = ["e4m3", "e5m2", "e4m3fnuz", "e5m2fnuz", "e2m1", "fp16", "s8.4", "u8.8", "s16.8"]


@pytest.mark.parametrize("src_name", NARROW_SOURCES)
def test_lut_direct_equals_core(src_name):
    src = emu.format(src_name)
    codes = every_code(src)
    targets = [(emu.format(n).descriptor, emu.format(n).bits, fmt_ovfs(emu.format(n)))
               for n in NARROW_TARGETS] + [(F64, 64, (0,))]  # F64: how registers decode
    for dst, bits, ovfs in targets:
        for mode in DETERMINISTIC:
            for ovf in ovfs:
                what = (src_name, dst, mode, ovf)
                assert paths.convert_path(codes.size, src.descriptor, dst, mode, ovf) \
                    == paths.LUT_DIRECT, what
                out = np.empty(codes.size, code_dtype(bits))
                done = paths.lut_direct(codes, src.descriptor, out, dst, mode, ovf)
                assert_same(done, out, *core(codes, src.descriptor, dst, mode, ovf), what)


def test_convert_dispatch_falls_back_to_the_core():
    """paths.convert (chooser + path + core) equals the core where a path declines: NaN into a
    format without NaN (table path), NaN and Inf among host floats (FPU path)."""
    codes = top16("f32")
    for dst_name, mode, ovf in (("e2m1", RNE, 0), ("s8.4", RNE, OVF_SAT), ("s8.4", RTZ, OVF_WRAP)):
        dst = emu.format(dst_name)
        want, bad = core(codes, F32, dst.descriptor, mode, ovf)
        out = np.empty(codes.size, code_dtype(dst.bits))
        first = paths.convert(codes, F32, out, dst.descriptor, mode, ovf, codes.view(np.float32))
        assert first == (np.flatnonzero(bad)[0] if bad.any() else -1)
        assert np.array_equal(out[~bad], want[~bad])


# --- elementwise binary ops --------------------------------------------------------------------
PAIR_CASES = [("e4m3", "e4m3", "e4m3"), ("e5m2", "e5m2", "e5m2"), ("e4m3fnuz", "e5m2fnuz", "e5m2fnuz"),
              ("e2m1", "e4m3", "e4m3"), ("e4m3", "e5m2", "fp16"), ("s8.4", "s8.4", "s8.4"),
              ("u8.8", "s4.2", "s8.4"), ("s8.4", "s8.3", "e4m3")]
OPS = {"add": karith.OP_ADD, "sub": karith.OP_SUB, "mul": karith.OP_MUL, "min": karith.OP_MIN,
       "max": karith.OP_MAX}


@pytest.mark.parametrize("fa_name,fb_name,dst_name", PAIR_CASES)
def test_pair_table_equals_core(fa_name, fb_name, dst_name):
    fa, fb, dst = (emu.format(n) for n in (fa_name, fb_name, dst_name))
    idx = np.random.default_rng(3).permutation(1 << (fa.bits + fb.bits)).astype(np.uint64)
    a = (idx >> np.uint64(fb.bits)).astype(code_dtype(fa.bits))  # every pair, shuffled
    b = (idx & np.uint64((1 << fb.bits) - 1)).astype(code_dtype(fb.bits))
    for op_name, op in OPS.items():
        for mode in DETERMINISTIC:
            for ovf in fmt_ovfs(dst):
                what = (fa_name, fb_name, dst_name, op_name, mode, ovf)
                assert paths.binary_path(a.size, fa.descriptor, fb.descriptor, mode) \
                    == paths.PAIR_TABLE, what
                want = np.empty(a.size, np.uint64)
                first = karith.binary_codes(op, a.astype(np.uint64), fa.descriptor,
                                            b.astype(np.uint64), fb.descriptor, want,
                                            dst.descriptor, mode, ovf, 1, EMPTY_U64, 0, EMPTY_I8,
                                            False)
                out = np.empty(a.size, code_dtype(dst.bits))
                done = paths.pairs(op, a, fa.descriptor, b, fb.descriptor, out, dst.descriptor,
                                   mode, ovf)
                assert done == (first < 0), what
                if done:
                    assert np.array_equal(out.astype(np.uint64), want), what


# --- matmul ------------------------------------------------------------------------------------
def core_matmul(a, fa, b, fb, acc, amode=RNE, aovf=0):
    out = np.empty((a.shape[0], b.shape[1]), np.uint64)
    first = kacc.matmul_core(a.astype(np.uint64), fa.descriptor, b.astype(np.uint64),
                             fb.descriptor, True, acc.descriptor, RNE, 0, EMPTY_U64,
                             acc.descriptor, amode, aovf, EMPTY_U64, kacc.ORDER_SEQ, 0,
                             acc.descriptor, RNE, 0, 13, 32, 1, False, out)
    assert first < 0
    return out


def finite_codes(fmt, shape, rng):
    """Random finite codes, and in the first rows +Inf and -Inf (a sum of both is NaN), -NaN,
    and +Inf alone, where the format has them."""
    mag = rng.integers(0, fmt.max_code + 1, shape)
    sign = rng.integers(0, 2, shape) * (mag > 0 if fmt.layout == "fnuz" else 1)  # fnuz: -0 is NaN
    codes = (mag | sign * fmt.sign_bit).astype(code_dtype(fmt.bits))
    inf, nan, neg = fmt.inf_code, fmt.nan_code, fmt.sign_bit
    for (i, k), code in (((0, 3), inf), ((0, 5), None if inf is None else inf | neg),
                         ((1, 7), None if nan is None else nan | neg), ((2, 9), inf)):
        if code is not None:
            codes[i, k] = code
    return codes


@pytest.mark.parametrize("fa_name,fb_name", [("e4m3", "e4m3"), ("e5m2", "e4m3"), ("e5m2fnuz", "e2m1"),
                                             ("fp16", "fp16")])
def test_matmul_f32_equals_core(fa_name, fb_name):
    """Random finite codes with a few NaN and Inf (NaN outputs are the core's, Inf + -Inf
    cancels to NaN)."""
    fa, fb, acc = emu.format(fa_name), emu.format(fb_name), emu.format("fp32")
    rng = np.random.default_rng(5)
    m, kk, n = 37, 300, 29
    a, b = finite_codes(fa, (m, kk), rng), finite_codes(fb, (kk, n), rng)
    assert paths.matmul_path(fa, fb, acc, RNE, 0, SEQ, 0, True, kk) == paths.MATMUL_F32
    got = paths.matmul_f32(a, fa, b, fb, parallel.blocks(m, 2, 8))
    want = core_matmul(a, fa, b, fb, acc)
    assert np.isfinite(got.view(np.float32)).mean() > 0.7
    assert np.array_equal(got.astype(np.uint64), want)


@pytest.mark.parametrize("fa_name,fb_name,acc_name", [("s8.4", "s8.4", "s24.8"), ("u8.8", "s8.4", "s12.12"),
                                                      ("s16.8", "u8.8", "s40.16")])
def test_matmul_int_equals_core(fa_name, fb_name, acc_name):
    """Every operand code in turn; s12.12 wraps."""
    fa, fb, acc = emu.format(fa_name), emu.format(fb_name), emu.format(acc_name)
    rng = np.random.default_rng(6)
    m, kk, n = 40, 257, 31
    a = rng.integers(0, 1 << fa.bits, (m, kk)).astype(code_dtype(fa.bits))
    b = rng.integers(0, 1 << fb.bits, (kk, n)).astype(code_dtype(fb.bits))
    assert paths.matmul_path(fa, fb, acc, RNE, OVF_WRAP, SEQ, 0, True, kk) == paths.MATMUL_INT
    got = paths.matmul_int(a, fa, b, fb, acc, parallel.blocks(m, 2, 8))
    assert np.array_equal(got, core_matmul(a, fa, b, fb, acc, aovf=OVF_WRAP))


# --- the choice --------------------------------------------------------------------------------
def d(name):
    return emu.format(name).descriptor


@pytest.mark.parametrize("n,src,dst,mode,ovf,rbits,host,path", [
    (4096, F32, d("e4m3"), RNE, 0, 1, False, paths.LUT_HI16),
    (4095, F32, d("e4m3"), RNE, 0, 1, False, paths.CORE),  # too few for a table
    (4096, F64, d("e4m3"), SR, 0, 10, False, paths.SR_HI16),
    (4096, F64, d("e4m3"), SR, 0, 11, False, paths.CORE),  # sig << r would reach 2**63
    (4096, F32, d("e4m3"), SR, 1, 32, False, paths.SR_HI16),
    (4096, F32, d("e4m3"), SR_EPS, 0, 8, False, paths.CORE),
    (4096, F32, d("e4m3"), SIGNED_SR_EPS, 0, 8, False, paths.CORE),
    (4096, F32, d("e4m3"), SR_EQUAL, 0, 8, False, paths.CORE),
    (4096, F32, d("bf16"), RNE, 0, 1, False, paths.CORE),  # half bit among the low 16 bits
    (4096, F64, d("e3m4"), RNE, 0, 1, False, paths.CORE),
    (4096, d("e4m3"), d("bf16"), RTO, 0, 1, False, paths.LUT_DIRECT),
    (4096, d("s16.8"), F64, RNE, 0, 1, False, paths.LUT_DIRECT),
    (4095, d("s16.8"), F64, RNE, 0, 1, False, paths.CORE),  # a 2**16-entry table: too few
    (1, d("e4m3"), F32, RNE, 0, 1, False, paths.LUT_DIRECT),  # 8 bits: the table at any size
    (5, d("s8.4"), d("e2m1"), RTO, 0, 1, False, paths.LUT_DIRECT),
    (4096, d("e4m3"), d("e5m2"), SR, 0, 8, False, paths.CORE),  # sr: only from wide floats
    (4096, F64, d("s8.4"), RUP, OVF_SAT, 1, True, paths.FPU_FIXED),
    (4096, F64, d("s8.4"), RUP, OVF_SAT, 1, False, paths.CORE),  # no host floats
    (4096, F64, d("s8.4"), 1, OVF_SAT, 1, True, paths.CORE),  # rna: no FPU rounding function
    (4096, F64, d("s64.0"), RNE, OVF_SAT, 1, True, paths.CORE),  # wider than 62 bits
    (4096, F64, d("s8.-2"), RNE, OVF_SAT, 1, True, paths.CORE),  # frac < 0
    (4096, F32, d("s32.8"), RNE, OVF_SAT, 1, False, paths.CORE),
])
def test_convert_path_choice(n, src, dst, mode, ovf, rbits, host, path):
    assert paths.convert_path(n, src, dst, mode, ovf, rbits, host) == path


def test_binary_and_matmul_path_choice():
    e4, e5, s84 = d("e4m3"), d("e5m2"), d("s8.4")
    assert paths.binary_path(4096, e4, e5, RTO) == paths.PAIR_TABLE
    assert paths.binary_path(4095, e4, e5, RNE) == paths.CORE
    assert paths.binary_path(4096, e4, e5, SR) == paths.CORE
    assert paths.binary_path(4096, e4, d("e8m0ieee"), RNE) == paths.CORE  # a 9-bit operand
    assert paths.binary_path(1 << 20, s84, s84, RDN) == paths.PAIR_TABLE
    f = emu.format
    fp32 = f("fp32")
    choose = paths.matmul_path
    assert choose(f("e4m3"), f("e5m2"), fp32, RNE, 0, SEQ, 0, True, 64) == paths.MATMUL_F32
    assert choose(f("e4m3"), f("e5m2"), fp32, RNE, 1, SEQ, 0, True, 64) == paths.MATMUL_SEQ
    assert choose(f("e4m3"), f("e5m2"), fp32, RTZ, 0, SEQ, 0, True, 64) == paths.MATMUL_SEQ
    assert choose(f("e4m3"), f("e5m2"), fp32, RNE, 0, kacc.ORDER_PAIRWISE, 0, True, 64) == paths.CORE
    assert choose(f("e4m3"), f("e5m2"), fp32, RNE, 0, SEQ, 32, True, 64) == paths.CORE
    assert choose(f("e4m3"), f("e5m2"), fp32, RNE, 0, SEQ, 0, False, 64) == paths.CORE
    assert choose(f("bf16"), f("bf16"), fp32, RNE, 0, SEQ, 0, True, 64) == paths.MATMUL_F32_ODD
    assert choose(f("fp32"), f("fp32"), fp32, RNE, 0, SEQ, 0, True, 64) == paths.MATMUL_F32_ODD
    assert choose(f("fp32"), f("fp32"), fp32, RNE, 1, SEQ, 0, True, 64) == paths.MATMUL_SEQ
    assert choose(f("fp32"), f("fp32"), fp32, RTZ, 0, SEQ, 0, True, 64) == paths.MATMUL_SEQ
    assert choose(f("fp32"), f("fp32"), fp32, RNE, 0, SEQ, 0, False, 64) == paths.CORE
    assert choose(f("fp32"), f("fp32"), f("e8m13"), RNE, 0, SEQ, 0, True, 64) == paths.MATMUL_SEQ
    assert choose(f("e11m20"), f("e4m3"), fp32, RNE, 0, SEQ, 0, True, 64) == paths.CORE  # > 2**1023
    # products exact in fp32, but an operand (2^129, 2^-130) is no float32: the fp32 path
    # would take it as Inf or 0
    big, tiny = f("e5m2b-100"), f("e5m2b150")
    assert choose(big, tiny, fp32, RNE, 0, SEQ, 0, True, 64) == paths.MATMUL_F32_ODD
    assert choose(f("e3m28"), f("e3m28"), fp32, RNE, 0, SEQ, 0, True, 64) == paths.CORE  # 58 bits
    assert choose(f("s8.4"), f("s8.4"), f("s24.8"), RNE, 0, SEQ, 0, True, 64) \
        == paths.MATMUL_INT
    assert choose(f("s8.4"), f("s8.4"), f("s24.8"), RNE, 1, SEQ, 0, True, 64) == paths.CORE
    assert choose(f("s8.4"), f("s8.4"), f("s24.7"), RNE, 0, SEQ, 0, True, 64) == paths.CORE
    assert choose(f("s30.4"), f("s30.4"), f("s64.8"), RNE, 0, SEQ, 0, True, 8) == paths.CORE


def test_hi16_exactness_condition():
    assert paths.hi16_exact(F32, d("e4m3"))
    assert paths.hi16_exact(F64, d("e5m2"))
    assert not paths.hi16_exact(F64, d("e3m4"))  # M=4: the half bit falls in the low 48 bits
    assert not paths.hi16_exact(F32, d("bf16"))  # M=7: the half bit falls in the low 16 bits
    assert not paths.hi16_exact(F32, d("s8.4"))
    assert not paths.hi16_exact(d("fp16"), d("e4m3"))  # 16-bit sources take lut_direct


# --- fp32 accumulation of products exact in float64 (matmul_f32_odd) ---------------------------
def f32(x):
    """fp32 codes (uint32) of float64 values that are float32 values."""
    x = np.asarray(x, np.float64)
    assert np.array_equal(x.astype(np.float32).astype(np.float64), x)
    return x.astype(np.float32).view(np.uint32)


def spread_codes(fmt, shape, rng, lo, hi):
    """Random codes of a float format: random sign and mantissa, exponent field in [lo, hi]
    (clipped to the finite fields), plus zeros of both signs."""
    hi = min(hi, fmt.max_code >> fmt.man_bits)
    field = rng.integers(max(lo, 0), hi + 1, shape)
    mag = (field << fmt.man_bits) | rng.integers(0, 1 << fmt.man_bits, shape)
    mag = np.minimum(mag, fmt.max_code)
    mag[rng.random(shape) < 0.03] = 0
    return (mag | rng.integers(0, 2, shape) * fmt.sign_bit).astype(code_dtype(fmt.bits))


def naive_f32(a, b):
    """The tempting shortcut: the float64 sum rounded to float32 at each step, no rounding to
    odd. It double-rounds: the tests show it fails on the crafted cases."""
    xa, xb = a.view(np.float32).astype(np.float64), b.view(np.float32).astype(np.float64)
    s = np.zeros((a.shape[0], b.shape[1]), np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(a.shape[1]):
            s = (s.astype(np.float64) + np.outer(xa[:, k], xb[k])).astype(np.float32)
    return s.view(np.uint32)


def run_odd(a, fa, b, fb):
    fa, fb, acc = emu.format(fa), emu.format(fb), emu.format("fp32")
    assert paths.matmul_path(fa, fb, acc, RNE, 0, SEQ, 0, True, a.shape[1]) == paths.MATMUL_F32_ODD
    got = paths.matmul_f32_odd(a, fa, b, fb, parallel.blocks(a.shape[0], 2, 4))
    want = core_matmul(a, fa, b, fb, acc)
    diff = np.argwhere(got.astype(np.uint64) != want)
    assert diff.size == 0, f"{len(diff)} mismatches, first at {diff[0]}"
    return got


@pytest.mark.parametrize("fa_name,fb_name", [("fp32", "fp32"), ("bf16", "bf16"), ("fp16", "fp32"),
                                             ("e4m3", "fp32"), ("bf16", "e5m2"), ("e4m3", "bf16"),
                                             ("e2m1", "fp32"), ("e8m0ieee", "fp32"), ("e3m28", "fp32")])
def test_matmul_f32_odd_equals_core(fa_name, fb_name):
    """Random codes: the first rows spread over every exponent (subnormal results, overflow
    to Inf, then Inf + finite), the rest over a narrower band (long sums with cancellation);
    a few NaN and Inf operands (NaN outputs are the core's)."""
    fa, fb = emu.format(fa_name), emu.format(fb_name)
    rng = np.random.default_rng(8)
    m, kk, n = 24, 200, 19

    def codes(fmt, shape, rows_wide):
        mid = (fmt.max_code >> fmt.man_bits) // 2
        c = spread_codes(fmt, shape, rng, mid - 12, mid + 12)
        wide = spread_codes(fmt, shape, rng, 0, 1 << 12)
        c[rows_wide] = wide[rows_wide]
        return c

    a = codes(fa, (m, kk), slice(0, 6))
    b = codes(fb, (kk, n), (slice(None), slice(0, 5)))
    a[10:14, 1::2] = a[10:14, 0::2] ^ fa.sign_bit  # products in pairs p, -p in rows 10..13
    b[1::2, 10:] = b[0::2, 10:]
    got = run_odd(a, fa_name, b, fb_name)
    if fa.inf_code is not None:  # specials: NaN outputs redone by the core
        a2, b2 = a.copy(), b.copy()
        a2[0, 3], a2[1, 4], a2[2, 5] = fa.inf_code, fa.inf_code | fa.sign_bit, fa.nan_code | fa.sign_bit
        b2[3, 0] = 0
        run_odd(a2, fa_name, b2, fb_name)
    assert np.isfinite(got.view(np.float32)).mean() > 0.5


def midpoint_cases():
    """k = 0 loads s (times 1); k = 1 adds p = (1 + 2**-23) h * (1 - 2**-23) = h (1 - 2**-46),
    h = half an ulp of s, with either sign: the exact sum lies 2**-46 h from a midpoint of
    fp32, inside float64's half ulp, so the float64 sum lands on the midpoint and a second
    rounding to nearest even goes the wrong way in half of the cases. Over every binade,
    subnormal results and the overflow threshold (max + h rounds to Inf) included."""
    rows, cols = [], []
    one_up, one_dn = 1 + 2.0 ** -23, 1 - 2.0 ** -23
    for e in list(range(-149, 128, 7)) + [127, -126, -127, -148]:
        for sig in (1.0, one_up, 2 - 2.0 ** -22, 2 - 2.0 ** -23, 1.5, 1.5 + 2.0 ** -23):
            s = float(np.float32(sig * 2.0 ** e))
            if s == 0 or not np.isfinite(s):
                continue
            h = 2.0 ** (max(int(np.floor(np.log2(s))), -126) - 24)  # half an ulp of s
            ha = 2.0 ** (int(np.log2(h)) // 2)  # h = ha * hb, both normal fp32 powers of 2
            hb = h / ha
            for sign in (1, -1):
                for s_sign in (1, -1):
                    for fac in (one_dn, one_up):  # one_up: h (1 + 2**-22 + 2**-46), no tie
                        rows.append([1.0, sign * ha * one_up])
                        cols.append([s_sign * s, hb * fac])
    # the pairs: A row r with B column r; the other (r, c) outputs are random-ish extra cases
    return np.array(rows), np.array(cols).T


def test_matmul_f32_odd_rounds_once_where_the_naive_sum_double_rounds():
    a_vals, b_vals = midpoint_cases()
    a, b = f32(a_vals), f32(b_vals)
    got = run_odd(a, "fp32", b, "fp32")
    naive = naive_f32(a, b)
    diag = np.arange(a.shape[0])
    wrong = (naive != got)[diag, diag]
    assert wrong.sum() >= a.shape[0] // 8, "the crafted cases do not catch double rounding"
    x, y = got.view(np.float32)[diag, diag], naive.view(np.float32)[diag, diag]
    assert (np.abs(x[x != 0]) < 2.0 ** -126).any()  # subnormal results
    assert (wrong & (np.abs(x) < 2.0 ** -126)).any()  # double rounding among subnormals too
    top = np.abs(x) == np.finfo(np.float32).max
    assert (top & np.isinf(y)).any()  # max + h (1 - 2**-46) is max; the naive sum gives Inf
    assert np.isinf(x).any()  # max + h (1 + 2**-22 + 2**-46) is Inf


def test_matmul_f32_odd_zeros_and_overflow():
    """Exact zero sums (x - x: +0; -0 + -0 stays -0 only from a product that underflows to
    -0), products that underflow fp32 with either sign, overflow to Inf and Inf + finite."""
    tiny, big, mx = 2.0 ** -100, 2.0 ** 100, float(np.finfo(np.float32).max)
    a = f32([[1.5, 1.5, 0.0, 0.0],
             [-tiny, -tiny, tiny, 0.0],
             [tiny, 0.0, 0.0, 0.0],
             [-0.0, 0.0, -0.0, 1.0],
             [big, big, -1.0, 1.0],
             [mx, mx, -mx, 3.0],
             [1.0, -1.0, 2.0 ** -149, -(2.0 ** -149)]])
    b = f32([[2.0, -0.0, tiny],
             [-2.0, 0.0, tiny],
             [-0.0, -0.0, -tiny],
             [-0.0, 1.0, -0.0]]).reshape(4, 3)
    b = np.concatenate([b, f32([[big], [big], [1.0], [0.5]])], axis=1)
    got = run_odd(a, "fp32", b, "fp32").view(np.float32)
    assert np.signbit(got[1, 2]) and got[1, 2] == 0  # -tiny * tiny underflows to -0
    assert not np.signbit(got[0, 0]) and got[0, 0] == 0  # 3 - 3 = +0
    assert np.isinf(got[4, 3]) and np.isinf(got[5, 3])


def test_native_f32_add_sub_mul_equal_core():
    """fp32 add, sub, mul under rne natively, against the arithmetic core: every top-16-bit
    pattern (zeros, subnormals, Inf, NaN payloads, overflow) against shuffled partners."""
    a = top16("f32").view(np.uint32)
    rng = np.random.default_rng(9)
    b = np.concatenate([a[rng.permutation(a.size)], a ^ np.uint32(0x80000000), a])
    a = np.concatenate([a, a, a ^ np.uint32(0x80000000)])
    for op in (karith.OP_ADD, karith.OP_SUB, karith.OP_MUL):
        for ovf in FLOAT_OVF:
            assert paths.binary_path(a.size, F32, F32, RNE, op, F32, ovf) == paths.NATIVE_F32
            want = np.empty(a.size, np.uint64)
            karith.binary_codes(op, a.astype(np.uint64), F32, b.astype(np.uint64), F32, want, F32,
                                RNE, ovf, 1, EMPTY_U64, 0, EMPTY_I8, False)
            out = np.empty(a.size, np.uint32)
            paths.native_f32(op, a, b, out, ovf)
            assert np.array_equal(out.astype(np.uint64), want), (op, ovf)
    assert paths.binary_path(a.size, F32, F32, RTZ, karith.OP_ADD, F32, 0) == paths.CORE
    assert paths.binary_path(a.size, F32, F32, RNE, karith.OP_MAX, F32, 0) == paths.CORE
    assert paths.binary_path(a.size, F32, F32, RNE, karith.OP_ADD, d("bf16"), 0) == paths.CORE


def test_matmul_operands_beyond_fp32_are_not_taken_as_float32():
    """2^129 x 2^-130 = 0.5: exact in fp32, but 2^129 is no float32 (the fp32 path took it as
    Inf). Against the core's pairwise order, which takes values as they are."""
    big, tiny = emu.format("e5m2b-100"), emu.format("e5m2b150")
    a = emu.quantize(np.array([[2.0**129, 2.0**120]]), big)
    b = emu.quantize(np.array([[2.0**-130], [2.0**-121]]), tiny)
    got = emu.matmul(a, b, acc="fp32")
    assert got.to_float().tolist() == [[1.0]]
    assert np.array_equal(got.codes, emu.matmul(a, b, acc="fp32", order="pairwise").codes)
