"""The matmul_seq path (emu.kernels.seqacc: sequential sums into an emulated float accumulator in
host float64) against ``matmul_core``, bit for bit: every pair of 8-bit operand codes at every
step, every deterministic mode and overflow policy, accumulators from e3m2 to fp32, adversarial
exponent spreads, signed zeros, specials, K = 0 and 1, and any thread count."""

import numpy as np
import pytest

import emu
from emu import parallel, paths
from emu.codes import OVF_SAT, RDN, RNE, RTO, RTZ, SR
from emu.kernels import accumulate as kacc
from emu.registers import Registers, code_dtype

SEQ = kacc.ORDER_SEQ
EMPTY_U64 = np.empty(0, np.uint64)
MODES = range(RTO + 1)  # rne rna rnz rnu rnd rtz rdn rup raz rto
OVERFLOWS = (0, OVF_SAT)
ACCS = ["e8m13", "fp16", "bf16", "e5m2", "e4m3", "e3m2", "e4m3fnuz", "e5m2fnuz", "e4m3ieee"]


def core(a, fa, b, fb, acc, mode, ovf):
    """matmul_core's codes and its first output the accumulator cannot hold (or -1)."""
    out = np.empty((a.shape[0], b.shape[1]), np.uint64)
    d = acc.descriptor
    first = kacc.matmul_core(a.astype(np.uint64), fa.descriptor, b.astype(np.uint64),
                             fb.descriptor, True, d, RNE, 0, EMPTY_U64, d, mode, ovf, EMPTY_U64,
                             SEQ, 0, d, RNE, 0, 13, 32, 1, False, out)
    return out, first


def check(a, fa, b, fb, acc, mode, ovf, blocks=2):
    """matmul_seq equals the core (the chooser takes it for the case); None from the path
    exactly when the core has an output the accumulator cannot hold. Returns the codes."""
    fa, fb, acc = (emu.format(f) for f in (fa, fb, acc))
    assert paths.matmul_path(fa, fb, acc, mode, ovf, SEQ, 0, True, a.shape[1]) == paths.MATMUL_SEQ
    got = paths.matmul_seq(a, fa, b, fb, acc, mode, ovf, parallel.blocks(a.shape[0], blocks, 1))
    want, first = core(a, fa, b, fb, acc, mode, ovf)
    what = f"{fa.name} x {fb.name} -> {acc.name}, mode {mode}, overflow {ovf}"
    assert (got is None) == (first >= 0), what
    if got is not None:
        diff = np.argwhere(got != want)
        assert diff.size == 0, f"{what}: {len(diff)} mismatches, first at {diff[0]}"
    return want


def all_pairs(fmt, kk, seed):
    """A (2**bits, kk) and B (kk, 2**bits): column k of A and row k of B are permutations of
    every code, so at every step k every pair of codes is some output's product."""
    rng = np.random.default_rng(seed)
    size = 1 << fmt.bits
    dt = code_dtype(fmt.bits)
    a = np.stack([rng.permutation(size) for _ in range(kk)], axis=1).astype(dt)
    b = np.stack([rng.permutation(size) for _ in range(kk)], axis=0).astype(dt)
    return a, b


def finite_for(codes, fmt, acc):
    """``codes`` as they are, or with NaN and Inf codes made zeros where ``acc`` has no NaN
    (there a NaN product or sum is the core's error, and the path declines the whole call)."""
    acc = emu.format(acc)
    if acc.nan_code is not None:
        return codes
    special = fmt.nan_mask(codes)
    if fmt.inf_code is not None:
        special |= (codes & (fmt.sign_bit - 1)) == fmt.inf_code
    return np.where(special, 0, codes).astype(codes.dtype)


@pytest.mark.parametrize("acc", ACCS)
def test_every_e4m3_pair_every_mode_and_overflow(acc):
    """256 x 4 @ 4 x 256 e4m3 codes: every product pair at each of the 4 steps (the first one
    the product's own rounding into acc), NaN operands in some rows and columns (redone by the
    core), every deterministic mode, saturating or not."""
    e4 = emu.format("e4m3")
    a, b = (finite_for(x, e4, acc) for x in all_pairs(e4, 4, 1))
    for mode in MODES:
        for ovf in OVERFLOWS:
            check(a, "e4m3", b, "e4m3", acc, mode, ovf)


@pytest.mark.parametrize("fa,fb,acc", [("e5m2", "e5m2", "e8m13"), ("e5m2", "e4m3", "fp16"),
                                       ("e4m3fnuz", "e5m2fnuz", "e4m3fnuz"),
                                       ("e5m2", "e5m2", "e3m2"), ("e2m1", "e3m2", "e2m3"),
                                       ("e4m3", "e4m3", "e8m0ieee")])
def test_every_pair_of_other_formats(fa, fb, acc):
    """Inf operands (Inf - Inf, 0 x Inf; redone by the core), fnuz and finite formats.
    e8m0ieee has no mantissa: the core's."""
    fmt_a, fmt_b = emu.format(fa), emu.format(fb)
    a = finite_for(all_pairs(fmt_a, 3, 2)[0], fmt_a, acc)
    b = finite_for(all_pairs(fmt_b, 3, 3)[1], fmt_b, acc)
    if emu.format(acc).man_bits == 0:
        assert paths.matmul_path(fmt_a, fmt_b, emu.format(acc), RNE, 0, SEQ, 0, True, 3) \
            == paths.CORE
        return
    for mode in MODES:
        for ovf in OVERFLOWS:
            check(a, fa, b, fb, acc, mode, ovf)


def spread(fmt, shape, rng, lo, hi, zeros=0.03):
    """Random codes: sign and mantissa random, exponent field in [lo, hi] (clipped to the
    finite fields), some zeros of either sign."""
    hi = min(hi, fmt.max_code >> fmt.man_bits)
    field = rng.integers(max(lo, 0), hi + 1, shape)
    mag = (field << fmt.man_bits) | rng.integers(0, 1 << fmt.man_bits, shape)
    mag = np.minimum(mag, fmt.max_code)
    mag[rng.random(shape) < zeros] = 0
    sign = rng.integers(0, 2, shape) * (mag > 0 if fmt.layout == "fnuz" else 1)
    return (mag | sign * fmt.sign_bit).astype(code_dtype(fmt.bits))


@pytest.mark.parametrize("fa,fb,accs", [
    ("bf16", "bf16", ["e8m13", "bf16", "fp16", "e5m2", "fp32"]),
    ("fp32", "fp32", ["fp32", "e8m13", "e10m21"]),
    ("fp16", "e5m2", ["fp16", "e8m13", "e4m3"]),
    ("e4m3", "e4m3", ["e8m13", "e5m10", "e3m2"]),
])
def test_adversarial_spreads(fa, fb, accs):
    """Rows 0-5 over every exponent (terms 2**200 apart: alignment far beyond 64 bits, subnormal
    and overflowing accumulators), rows 6-11 in a narrow band (long sums), rows 12-15 cancel
    pairwise (p, -p: exact zero sums, acc back to tiny remainders), rows 16-19 tiny (subnormal
    accumulators throughout)."""
    fmt_a, fmt_b = emu.format(fa), emu.format(fb)
    rng = np.random.default_rng(7)
    m, kk, n = 20, 150, 13
    mid_a, mid_b = ((f.max_code >> f.man_bits) // 2 for f in (fmt_a, fmt_b))
    a = spread(fmt_a, (m, kk), rng, mid_a - 3, mid_a + 3)
    b = spread(fmt_b, (kk, n), rng, mid_b - 3, mid_b + 3)
    a[:6] = spread(fmt_a, (6, kk), rng, 0, 1 << 12)
    b[:, :4] = spread(fmt_b, (kk, 4), rng, 0, 1 << 12)
    a[12:16, 1::2] = a[12:16, 0::2] ^ fmt_a.sign_bit
    b[1::2, 6:] = b[0::2, 6:]
    a[16:] = spread(fmt_a, (4, kk), rng, 0, 2)
    for acc in accs:
        for mode in MODES:
            for ovf in OVERFLOWS:
                if acc == "fp32" and mode == RNE and ovf == 0:
                    continue  # matmul_f32 / matmul_f32_odd's case
                check(a, fa, b, fb, acc, mode, ovf)


def test_signed_zeros_and_overflow_by_hand():
    """Zero sums and their signs (§3.4: +0 unless both addends are -0, -0 under rdn), a
    negative value rounding to -0 then adding -0, overflow then further terms, the e4m3 NaN
    that stands for an overflow and stays."""
    e4 = emu.format("e4m3")

    def codes(vals):
        return emu.quantize(np.array(vals, np.float64), e4).codes

    a = codes([[-0.0, -0.0, -0.0, 0.0], [1.0, -1.0, 0.0, 0.0], [2.0 ** -9, -0.0, 0.0, 0.0],
               [448.0, 448.0, -448.0, 1.0], [448.0, -448.0, 2.0 ** -9, -(2.0 ** -9)]])
    b = codes([[1.0, 448.0], [1.0, 448.0], [1.0, -1.0], [-0.0, 2.0 ** -9]])
    for acc in ("e8m13", "e4m3", "e3m2", "e4m3fnuz"):
        for mode in MODES:
            for ovf in OVERFLOWS:
                want = check(a, "e4m3", b, "e4m3", acc, mode, ovf)
                if acc == "e8m13":
                    sign = emu.format(acc).sign_bit
                    assert want[0, 0] == (sign if mode == RDN else 0)  # +0 + -0 + ... + -0
                    assert want[1, 0] == (sign if mode == RDN else 0)  # 1 - 1


@pytest.mark.parametrize("kk", [0, 1])
def test_k_zero_and_one(kk):
    fmt = emu.format("e4m3")
    a, b = all_pairs(fmt, max(kk, 1), 4)
    a, b = a[:, :kk], b[:kk]
    for acc in ("e8m13", "e3m2", "e5m2fnuz"):
        for mode in MODES:
            for ovf in OVERFLOWS:
                want = check(a, "e4m3", b, "e4m3", acc, mode, ovf)
                if kk == 0:
                    assert not want.any()  # +0


def test_threads_and_the_public_call(monkeypatch):
    """emu.matmul takes matmul_seq for an emulated accumulator (the issue's e8m13 rtz case),
    and 1, 2 and 4 threads (and any row blocks) give the core's codes."""
    e4 = emu.format("e4m3")
    rng = np.random.default_rng(11)
    a = spread(e4, (64, 96), rng, 0, 15)
    b = spread(e4, (96, 80), rng, 0, 15)
    a[3, 5] = e4.nan_code  # a row and a column for the core
    b[7, 9] = e4.nan_code | e4.sign_bit
    seen = []
    real = paths.matmul_path

    def spy(*args):
        seen.append(real(*args))
        return seen[-1]

    monkeypatch.setattr(paths, "matmul_path", spy)
    want, _ = core(a, e4, b, e4, emu.format("e8m13"), RTZ, 0)
    ra, rb = Registers.from_codes(a, e4), Registers.from_codes(b, e4)
    for threads in (1, 2, 4):
        got = emu.matmul(ra, rb, acc="e8m13", acc_rounding="rtz", threads=threads)
        assert seen[-1] == paths.MATMUL_SEQ
        assert np.array_equal(got.codes, want.astype(got.codes.dtype)), threads
    for blocks in (1, 3, 64):
        check(a, "e4m3", b, "e4m3", "e8m13", RTZ, 0, blocks)


def test_a_nan_into_a_finite_accumulator_is_the_cores_error():
    e4 = emu.format("e4m3")
    a = Registers.from_codes(np.array([[0x38, e4.nan_code]], np.uint8), e4)
    b = Registers.from_codes(np.array([[0x38], [0x38]], np.uint8), e4)
    with pytest.raises(ValueError, match="not representable"):
        emu.matmul(a, b, acc="e2m3")


def test_the_choice():
    """matmul_seq exactly for sequential sums of exact float products into a float accumulator
    with 1..50 mantissa bits inside float64's range, under a deterministic mode; the fp32 rne
    paths keep their cases."""
    f = emu.format
    e4, fp32 = f("e4m3"), f("fp32")
    choose = paths.matmul_path
    for acc in ("e8m13", "bf16", "fp16", "e3m2", "e2m1", "e4m3fnuz", "e10m21", "e2m29"):
        for mode in MODES:
            for ovf in OVERFLOWS:
                assert choose(e4, e4, f(acc), mode, ovf, SEQ, 0, True, 64) == paths.MATMUL_SEQ
    assert choose(e4, e4, fp32, RNE, 0, SEQ, 0, True, 64) == paths.MATMUL_F32
    assert choose(e4, e4, fp32, RNE, 1, SEQ, 0, True, 64) == paths.MATMUL_SEQ
    assert choose(e4, e4, fp32, RTZ, 0, SEQ, 0, True, 64) == paths.MATMUL_SEQ
    assert choose(fp32, fp32, f("e8m13"), RNE, 0, SEQ, 0, True, 64) == paths.MATMUL_SEQ
    assert choose(e4, e4, f("e8m13"), SR, 0, SEQ, 0, True, 64) == paths.CORE  # stochastic
    for order in (kacc.ORDER_PAIRWISE, kacc.ORDER_EXACT, kacc.ORDER_TRUNC):
        assert choose(e4, e4, f("e8m13"), RTZ, 0, order, 0, True, 64) == paths.CORE
    assert choose(e4, e4, f("e8m13"), RTZ, 0, SEQ, 16, True, 64) == paths.CORE  # chunked
    assert choose(e4, e4, f("e8m13"), RTZ, 0, SEQ, 0, False, 64) == paths.CORE  # rounded products
    assert choose(e4, e4, f("e8m0ieee"), RNE, 0, SEQ, 0, True, 64) == paths.CORE  # M = 0
    assert choose(e4, e4, f("e11m20"), RNE, 0, SEQ, 0, True, 64) == paths.CORE  # 2**-1042..2**1024
    assert choose(f("e3m28"), f("e3m28"), f("e8m13"), RNE, 0, SEQ, 0, True, 64) == paths.CORE
    assert choose(f("e11m20"), e4, f("e8m13"), RNE, 0, SEQ, 0, True, 64) == paths.CORE  # 2**1031
    assert choose(f("s8.4"), f("s8.4"), f("e8m13"), RNE, 0, SEQ, 0, True, 64) == paths.CORE
    assert choose(e4, e4, f("s24.8"), RNE, 1, SEQ, 0, True, 64) == paths.CORE
