"""dot / matmul accumulator models against plain reference accumulation loops (Fractions)."""

import math
from fractions import Fraction

import numpy as np
import pytest
import reference as ref

import emu
from emu.kernels import accumulate as kacc

ref_add = ref.add_values  # exact a + b with Part B specials and IEEE zero signs


def value_of(fmt, code):
    v = ref.decode(fmt, code)
    if isinstance(v, float) and math.isnan(v):
        return ref._nan(bool(code >> (fmt.bits - 1))), False
    nz = isinstance(fmt, emu.FloatFormat) and v == 0 and bool(code >> (fmt.bits - 1))
    return v, nz


def products(A, B, i, j, mode="rne"):
    return [ref.exact_binary("mul", A.format, int(A.codes[i, k]), B.format, int(B.codes[k, j]), mode)
            for k in range(A.shape[1])]


def kw_for(fmt, sat=False, ovf="sat"):
    return {"saturate": sat} if isinstance(fmt, emu.FloatFormat) else {"overflow": ovf}


def ref_sequential(terms, acc, mode, **kw):
    code = 0
    for v, nz in terms:
        a, anz = value_of(acc, code)
        s, snz = ref_add(a, anz, v, nz, mode)
        code = ref.round_exact(s, snz, acc, mode, **kw)
    return code


def ref_pairwise(terms, acc, mode):
    buf = [ref.round_exact(*ref_add(Fraction(0), False, v, nz, mode), acc, mode) for v, nz in terms]
    while len(buf) > 1:
        nxt = []
        for t in range(len(buf) // 2):
            a, anz = value_of(acc, buf[2 * t])
            b, bnz = value_of(acc, buf[2 * t + 1])
            nxt.append(ref.round_exact(*ref_add(a, anz, b, bnz, mode), acc, mode))
        if len(buf) % 2:
            nxt.append(buf[-1])
        buf = nxt
    return buf[0]


def ref_exact(terms, acc, mode):
    """One rounding of the exact sum; -0 only for a sum of -0s, or a cancellation under rdn."""
    for v, _ in terms:
        if isinstance(v, float) and math.isnan(v):
            return ref.round_exact(v, False, acc, mode)
    infs = {v > 0 for v, _ in terms if isinstance(v, float)}
    if len(infs) == 2:
        return ref.round_exact(ref._nan(False), False, acc, mode)
    if infs:
        return ref.round_exact(math.inf if infs.pop() else -math.inf, False, acc, mode)
    total = sum((v for v, _ in terms), Fraction(0))
    if total == 0:
        all_zero = all(v == 0 for v, _ in terms)
        nz = (bool(terms) and all(nz for _, nz in terms)) if all_zero else mode == "rdn"
        return ref.round_exact(total, nz, acc, mode)
    return ref.round_exact(total, False, acc, mode)


def ref_truncating(terms, acc, n_bits, group):
    code = 0
    for g0 in range(0, len(terms), group):
        a, anz = value_of(acc, code)
        grp = [(a, anz)] + terms[g0:g0 + group]
        if any(isinstance(v, float) for v, _ in grp):
            code = ref_exact(grp, acc, "rtz")
            continue
        nonzero = [abs(v) for v, _ in grp if v != 0]
        if not nonzero:
            code = 0
            continue
        e = max(ref.floor_log2(v) for v in nonzero)
        unit = Fraction(2) ** (e - n_bits)
        total = sum((Fraction(int(abs(v) / unit)) * unit * (1 if v > 0 else -1) for v, _ in grp), Fraction(0))
        code = ref.round_exact(total, False, acc, "rtz")
    return code


def rand_regs(fmt, shape, rng, specials=False):
    fmt = emu.format(fmt)
    if specials:
        codes = rng.integers(0, 1 << fmt.bits, shape)
    else:
        codes = emu.quantize(rng.standard_normal(shape) * 4, fmt, **kw_for(fmt, True)).codes
    return emu.Registers.from_codes(codes, fmt)


CASES = [("e4m3", "fp32", "rne"), ("e4m3", "e8m13", "rtz"), ("e5m2", "fp16", "rne"), ("e4m3", "e5m2", "rne"),
         ("e4m3", "bf16", "rup"), ("e5m2", "e4m3", "rtz")]


@pytest.mark.parametrize("fin,acc,mode", CASES)
@pytest.mark.parametrize("specials", [False, True])
def test_sequential_pairwise_exact_vs_reference(fin, acc, mode, specials):
    rng = np.random.default_rng(hash((fin, acc, mode, specials)) % 2**32)
    A, B = rand_regs(fin, (5, 11), rng, specials), rand_regs(fin, (11, 4), rng, specials)
    accf = emu.format(acc)
    for order, fn in [("sequential", lambda t: ref_sequential(t, accf, mode)),
                      ("pairwise", lambda t: ref_pairwise(t, accf, mode)),
                      ("exact", lambda t: ref_exact(t, accf, mode))]:
        try:
            got = emu.matmul(A, B, acc=acc, acc_rounding=mode, order=order).codes
        except ValueError:
            assert accf.nan_code is None
            continue
        want = [[fn(products(A, B, i, j)) for j in range(4)] for i in range(5)]
        assert got.tolist() == want, order


@pytest.mark.parametrize("n_bits,group", [(13, 32), (13, 4), (5, 3), (20, 16)])
def test_truncating_model_vs_reference(n_bits, group):
    rng = np.random.default_rng(n_bits * 100 + group)
    A, B = rand_regs("e4m3", (4, 40), rng), rand_regs("e4m3", (40, 3), rng)
    got = emu.matmul(A, B, acc="fp32", order="truncating", align_bits=n_bits, group=group).codes
    want = [[ref_truncating(products(A, B, i, j), emu.format("fp32"), n_bits, group) for j in range(3)]
            for i in range(4)]
    assert got.tolist() == want


def test_chunked_promotion_vs_reference():
    rng = np.random.default_rng(11)
    A, B = rand_regs("e4m3", (3, 50), rng), rand_regs("e4m3", (50, 2), rng)
    got = emu.matmul(A, B, acc="e5m10", acc_rounding="rtz", chunk=8, promote="fp32").codes
    acc, pro = emu.format("e5m10"), emu.format("fp32")
    want = []
    for i in range(3):
        row = []
        for j in range(2):
            t = products(A, B, i, j)
            pcode = 0
            for c0 in range(0, 50, 8):
                chunk_code = ref_sequential(t[c0:c0 + 8], acc, "rtz")
                a, anz = value_of(pro, pcode)
                v, vnz = value_of(acc, chunk_code)
                pcode = ref.round_exact(*ref_add(a, anz, v, vnz, "rne"), pro, "rne")
            row.append(pcode)
        want.append(row)
    assert got.tolist() == want


def test_cancellation_overflow_and_nan():
    f = emu.format("e5m2")
    one = emu.Registers.from_codes([[0x3C, 0xBC]], f)
    col = emu.Registers.from_codes([[0x3C], [0x3C]], f)
    assert emu.matmul(one, col, acc="e5m2").codes.tolist() == [[0x00]]  # 1 - 1 = +0
    assert emu.matmul(one, col, acc="e5m2", acc_rounding="rdn").codes.tolist() == [[0x80]]  # rdn: -0
    big = emu.Registers.from_codes([[0x7B, 0x7B]], f)  # 57344 + 57344 overflows e5m2
    assert emu.matmul(big, col, acc="e5m2").codes.tolist() == [[0x7C]]
    assert emu.matmul(big, col, acc="e5m2", acc_saturate=True).codes.tolist() == [[0x7B]]
    inf0 = emu.Registers.from_codes([[0x7C, 0x3C]], f)
    zero_col = emu.Registers.from_codes([[0x00], [0x3C]], f)
    for order in ("sequential", "pairwise", "exact", "truncating"):
        assert emu.matmul(inf0, zero_col, acc="fp32", order=order).codes.tolist() == [[0x7FC00000]]
    nan = emu.Registers.from_codes([[0xFF, 0x3C]], f)
    assert emu.matmul(nan, col, acc="fp32").codes.tolist() == [[0xFFC00000]]  # sign of the NaN


@pytest.mark.parametrize("acc_overflow", ["wrap", "sat"])
def test_fixed_mac_model_vs_reference(acc_overflow):
    rng = np.random.default_rng(5)
    A = emu.Registers.from_codes(rng.integers(0, 256, (4, 30)), "s8.4")
    B = emu.Registers.from_codes(rng.integers(0, 256, (30, 3)), "s8.4")
    for guard in (0, 2, 8):
        acc = emu.mac_accumulator("s8.4", "s8.4", guard)
        got = emu.matmul(A, B, acc=acc, acc_overflow=acc_overflow, out="s8.4", out_rounding="rne",
                         overflow="sat")
        want = []
        for i in range(4):
            row = []
            for j in range(3):
                code = ref_sequential(products(A, B, i, j), acc, "rne", overflow=acc_overflow)
                row.append(ref.round_value(ref.decode(acc, code), emu.format("s8.4"), "rne", overflow="sat"))
            want.append(row)
        assert got.codes.tolist() == want, guard


def test_fast_paths_equal_core():
    rng = np.random.default_rng(9)
    for fin in ("e4m3", "e5m2", "fp16"):
        A, B = rand_regs(fin, (7, 33), rng, True), rand_regs(fin, (33, 6), rng, True)
        fast = emu.matmul(A, B, acc="fp32").codes
        core = np.empty((7, 6), np.uint64)
        fp32 = emu.format("fp32").descriptor
        kacc.matmul_core(A.codes.astype(np.uint64), A.format.descriptor, B.codes.astype(np.uint64),
                         B.format.descriptor, True, fp32, 0, 0, np.empty(0, np.uint64), fp32, 0, 0,
                         np.empty(0, np.uint64), kacc.ORDER_SEQ, 0, fp32, 0, 0, 13, 32, 1, False, core)
        assert np.array_equal(fast, core.astype(np.uint32)), fin
    A = emu.Registers.from_codes(rng.integers(0, 256, (5, 64)), "s8.4")
    B = emu.Registers.from_codes(rng.integers(0, 256, (64, 4)), "s8.4")
    acc = emu.mac_accumulator("s8.4", "s8.4", 0)  # s16.8: sums of 64 products overflow, wrap
    fast = emu.matmul(A, B, acc=acc, acc_overflow="wrap").codes
    core = np.empty((5, 4), np.uint64)
    kacc.matmul_core(A.codes.astype(np.uint64), A.format.descriptor, B.codes.astype(np.uint64),
                     B.format.descriptor, True, acc.descriptor, 0, 0, np.empty(0, np.uint64),
                     acc.descriptor, 0, 0, np.empty(0, np.uint64), kacc.ORDER_SEQ, 0, acc.descriptor, 0, 0,
                     13, 32, 1, False, core)
    assert np.array_equal(fast, core.astype(fast.dtype))


def test_dot_and_sr_accumulation():
    rng = np.random.default_rng(2)
    a = rand_regs("e4m3", (3, 16), rng)
    b = rand_regs("e4m3", (16,), rng)
    d = emu.dot(a, b, acc="fp32")
    assert d.shape == (3,)
    assert d.codes.tolist() == emu.matmul(a, b.reshape(16, 1), acc="fp32").codes[:, 0].tolist()
    lf = emu.LFSR(seed=7, shifts=8)
    words = emu.LFSR(seed=7, shifts=8).random_words(3 * 16, 8)
    got = emu.dot(a, b, acc="e5m2", acc_rounding="sr", rng=lf, sr_bits=8).codes.tolist()
    accf = emu.format("e5m2")
    want = []
    for i in range(3):
        code = 0
        for k in range(16):
            p = ref.exact_binary("mul", a.format, int(a.codes[i, k]), b.format, int(b.codes[k]), "rne")
            v, nz = value_of(accf, code)
            s, snz = ref_add(v, nz, *p, "sr")
            code = ref.round_exact(s, snz, accf, "sr", rbits=8, rword=int(words[i * 16 + k]))
        want.append(code)
    assert got == want


def test_errors():
    a = emu.quantize(np.ones((2, 3)), "e4m3")
    with pytest.raises(ValueError, match="do not chain"):
        emu.matmul(a, a)
    with pytest.raises(ValueError, match="sequential, pairwise, exact, truncating"):
        emu.matmul(a, a.reshape(3, 2), order="tree")
    with pytest.raises(ValueError, match="promote"):
        emu.matmul(a, a.reshape(3, 2), chunk=2)
    with pytest.raises(ValueError, match="mix"):
        emu.matmul(a, emu.quantize(np.ones((3, 2)), "s8.4"))
