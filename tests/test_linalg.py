"""dot / matmul accumulator models against their slow twins in tests/reference.py (Fractions)."""

import zlib

import numpy as np
import pytest
import reference as ref

import emu
from emu.kernels import accumulate as kacc


def kw_for(fmt, sat=False, ovf="sat"):
    return {"saturate": sat} if isinstance(fmt, emu.FloatFormat) else {"overflow": ovf}


def rand_regs(fmt, shape, rng, specials=False):
    fmt = emu.format(fmt)
    if specials:
        codes = rng.integers(0, 1 << fmt.bits, shape)
    else:
        codes = emu.quantize(rng.standard_normal(shape) * 4, fmt, **kw_for(fmt, True)).codes
    return emu.Registers.from_codes(codes, fmt)


CASES = [("e4m3", "fp32", "rne"), ("e4m3", "e8m13", "rtz"), ("e5m2", "fp16", "rne"), ("e4m3", "e5m2", "rne"),
         ("e4m3", "bf16", "rup"), ("e5m2", "e4m3", "rtz"), ("e5m2", "e5m2", "rdn")]


def check_vs_reference(A, B, **kw):
    """emu.matmul equals the reference; where the reference says an output cannot be held, emu
    refuses the whole call."""
    want = ref.matmul(A, B, bad=-1, **kw)
    if -1 in np.array(want).reshape(-1):
        with pytest.raises(ValueError, match="not representable"):
            emu.matmul(A, B, **kw)
    else:
        assert emu.matmul(A, B, **kw).codes.tolist() == want, kw


@pytest.mark.parametrize("fin,acc,mode", CASES)
@pytest.mark.parametrize("specials", [False, True])
@pytest.mark.parametrize("order", ["sequential", "pairwise", "exact"])
def test_orders_vs_reference(fin, acc, mode, specials, order):
    rng = np.random.default_rng(zlib.crc32(f"{fin} {acc} {mode} {specials}".encode()))
    A, B = rand_regs(fin, (5, 11), rng, specials), rand_regs(fin, (11, 4), rng, specials)
    check_vs_reference(A, B, acc=acc, acc_rounding=mode, order=order)


@pytest.mark.parametrize("n_bits,group", [(13, 32), (13, 4), (5, 3), (20, 16)])
@pytest.mark.parametrize("specials", [False, True])
def test_truncating_model_vs_reference(n_bits, group, specials):
    rng = np.random.default_rng(n_bits * 100 + group + specials)
    fin = "e5m2" if specials else "e4m3"  # e5m2 has Inf operands
    A, B = rand_regs(fin, (4, 40), rng, specials), rand_regs(fin, (40, 3), rng, specials)
    check_vs_reference(A, B, acc="fp32", order="truncating", align_bits=n_bits, group=group)
    check_vs_reference(A, B, acc="e5m2", order="truncating", align_bits=n_bits, group=group,
                       acc_saturate=True)


def test_chunked_promotion_vs_reference():
    rng = np.random.default_rng(11)
    A, B = rand_regs("e4m3", (3, 50), rng), rand_regs("e4m3", (50, 2), rng)
    check_vs_reference(A, B, acc="e5m10", acc_rounding="rtz", chunk=8, promote="fp32")
    check_vs_reference(A, B, acc="e5m2", chunk=3, promote="fp16", promote_rounding="rup",
                       out="e4m3", out_rounding="rdn")


@pytest.mark.parametrize("products", ["e5m2", "fp16", "e3m2", "s8.4"])
def test_rounded_products_vs_reference(products):
    rng = np.random.default_rng(13)
    fin = "s6.2" if products == "s8.4" else "e4m3"
    A, B = rand_regs(fin, (4, 9), rng), rand_regs(fin, (9, 3), rng)
    acc = "s16.4" if products == "s8.4" else "fp32"
    for mode in ("rne", "rtz", "raz"):
        check_vs_reference(A, B, acc=acc, products=products, product_rounding=mode)


def test_hand_computed_orders():
    """1 + 1/16 + 1/16 + 1/16 into e4m3 (3 mantissa bits; 1 + 1/16 is a tie to the even 1.0):
    sequential 1.0, pairwise (1 + 1/16) + (1/16 + 1/16) = 1 + 1/8, exact 1 + 3/16 (the tie
    between 1.125 and 1.25 goes to the even 1.25); truncating at 2^-3 drops every 1/16, at 2^-4
    keeps them and rounds 1.1875 toward zero; chunks of 2 promoted to fp32 give 1.0 + 0.125."""
    A = emu.Registers.from_codes([[0x38, 0x18, 0x18, 0x18]], "e4m3")  # 1, 1/16, 1/16, 1/16
    B = emu.Registers.from_codes([[0x38]] * 4, "e4m3")
    want = {("sequential", 13): 0x38, ("pairwise", 13): 0x39, ("exact", 13): 0x3A,
            ("truncating", 3): 0x38, ("truncating", 4): 0x39}
    for (order, bits), code in want.items():
        kw = {"acc": "e4m3", "order": order, "align_bits": bits, "group": 4}
        assert emu.matmul(A, B, **kw).codes.tolist() == [[code]], order
        assert ref.matmul(A, B, **kw) == [[code]], order
    kw = {"acc": "e4m3", "chunk": 2, "promote": "fp32"}
    assert emu.matmul(A, B, **kw).codes.tolist() == ref.matmul(A, B, **kw) == [[0x3F900000]]


def test_cancellation_overflow_and_nan():
    """Hand-computed (section 3 rules at each addition), for emu and its twin alike."""
    f = emu.format("e5m2")
    one = emu.Registers.from_codes([[0x3C, 0xBC]], f)
    col = emu.Registers.from_codes([[0x3C], [0x3C]], f)
    big = emu.Registers.from_codes([[0x7B, 0x7B]], f)  # 57344 + 57344 overflows e5m2
    inf0 = emu.Registers.from_codes([[0x7C, 0x3C]], f)
    zero_col = emu.Registers.from_codes([[0x00], [0x3C]], f)
    nan = emu.Registers.from_codes([[0xFF, 0x3C]], f)
    cases = [((one, col), {"acc": "e5m2"}, 0x00),  # 1 - 1 = +0
             ((one, col), {"acc": "e5m2", "acc_rounding": "rdn"}, 0x80),  # rdn: -0
             ((big, col), {"acc": "e5m2"}, 0x7C),
             ((big, col), {"acc": "e5m2", "acc_saturate": True}, 0x7B),
             ((nan, col), {"acc": "fp32"}, 0xFFC00000)]  # the sign of the NaN
    cases += [((inf0, zero_col), {"acc": "fp32", "order": order}, 0x7FC00000)  # Inf x 0
              for order in ("sequential", "pairwise", "exact", "truncating")]
    for (a, b), kw, code in cases:
        assert emu.matmul(a, b, **kw).codes.tolist() == [[code]], kw
        assert ref.matmul(a, b, **kw) == [[code]], kw


@pytest.mark.parametrize("acc_overflow", ["wrap", "sat"])
@pytest.mark.parametrize("order", ["sequential", "pairwise", "exact", "truncating"])
def test_fixed_mac_model_vs_reference(acc_overflow, order):
    rng = np.random.default_rng(5)
    A = emu.Registers.from_codes(rng.integers(0, 256, (4, 30)), "s8.4")
    B = emu.Registers.from_codes(rng.integers(0, 256, (30, 3)), "s8.4")
    for guard in (0, 2, 8):
        acc = emu.mac_accumulator("s8.4", "s8.4", guard)
        check_vs_reference(A, B, acc=acc, acc_overflow=acc_overflow, order=order, out="s8.4",
                           out_rounding="rne", overflow="sat")
    check_vs_reference(A, B, acc="s12.3", acc_overflow=acc_overflow, acc_rounding="rna", order=order)


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
    assert d.codes.tolist() == ref.dot(a, b, acc="fp32")
    words = ref.LFSR(seed=7, shifts=8).random_words(3 * 16, 8)
    got = emu.dot(a, b, acc="e5m2", acc_rounding="sr", rng=emu.LFSR(seed=7, shifts=8), sr_bits=8)
    assert got.codes.tolist() == ref.dot(a, b, acc="e5m2", acc_rounding="sr", words=words, sr_bits=8)
    a3 = rand_regs("e5m2", (2, 3, 7), rng, True)
    b3 = rand_regs("e5m2", (7,), rng, True)
    assert emu.dot(a3, b3, acc="fp16").codes.tolist() == ref.dot(a3, b3, acc="fp16")


@pytest.mark.parametrize("form", ["carry", "compare"])
def test_stochastic_products_accumulator_and_output_words(form):
    """One source serves products (M*N*K words), then the accumulator (M*N*K), then the output
    (M*N), in (i, j, k) C order: the reference takes the same words as one flat list."""
    rng = np.random.default_rng(17)
    A, B = rand_regs("e4m3", (3, 9), rng), rand_regs("e4m3", (9, 2), rng)
    kw = {"products": "e5m2", "product_rounding": "sr", "acc": "e5m2", "acc_rounding": "sr_equal",
          "out": "e4m3", "out_rounding": "sr", "sr_bits": 6, "form": form}
    words = ref.LFSR(seed=3).random_words(2 * 3 * 2 * 9 + 3 * 2, 6)
    got = emu.matmul(A, B, rng=emu.LFSR(seed=3), **kw).codes.tolist()
    assert got == ref.matmul(A, B, words=words, **kw)
    kw = {"acc": "e5m2", "out": "s8.2", "out_rounding": "signed_sr_eps", "eps": 0.25,
          "direction": [[1, -1]], "overflow": "wrap"}
    words = ref.LFSR(seed=4).random_words(3 * 2, 8)
    assert emu.matmul(A, B, rng=emu.LFSR(seed=4), **kw).codes.tolist() == ref.matmul(A, B, words=words, **kw)


@pytest.mark.xfail(strict=True, reason="docs/semantics.md section 9 rounds every product into P "
                   "(an Inf into e4m3 is NaN, section 3.3); the kernels pass special products "
                   "through unrounded")
def test_special_products_are_rounded_into_the_product_format():
    f = emu.format("e5m2")
    A = emu.Registers.from_codes([[0x7C, 0x3C]], f)  # +Inf, 1
    B = emu.Registers.from_codes([[0x3C], [0x3C]], f)
    assert ref.matmul(A, B, acc="fp32", products="e4m3") == [[0x7FC00000]]  # Inf -> e4m3 NaN
    assert emu.matmul(A, B, acc="fp32", products="e4m3").codes.tolist() == [[0x7FC00000]]


@pytest.mark.xfail(strict=True, reason="docs/semantics.md section 13.3: order='exact' gives -0 "
                   "for a sum of -0 products only when the exact sum fits 64 bits (not e5m2)")
def test_exact_order_zero_sign_does_not_depend_on_the_format():
    for fmt in ("e4m3", "e5m2"):
        A = emu.Registers.from_codes([[0x80, 0x80]], fmt)  # -0, -0
        B = emu.Registers.from_codes([[0x38 if fmt == "e4m3" else 0x3C]] * 2, fmt)  # 1, 1
        assert ref.matmul(A, B, acc=fmt, order="exact") == [[0x80]]
        assert emu.matmul(A, B, acc=fmt, order="exact").codes.tolist() == [[0x80]], fmt


def test_errors():
    a = emu.quantize(np.ones((2, 3)), "e4m3")
    with pytest.raises(ValueError, match="do not chain"):
        emu.matmul(a, a)
    with pytest.raises(ValueError, match="sequential, pairwise, exact, truncating"):
        emu.matmul(a, a.reshape(3, 2), order="tree")
    with pytest.raises(ValueError, match="promote"):
        emu.matmul(a, a.reshape(3, 2), chunk=2)
    fix = emu.quantize(np.ones((3, 2)), "s8.4")
    with pytest.raises(ValueError, match=r"bf16 .*s32.8.*s262.133, wider than 64 bits"):
        emu.matmul(emu.quantize(np.ones((2, 3)), "bf16"), fix, acc="s32.8")
    with pytest.raises(ValueError, match=r"e4m3 .*s32.8.*NaN or Inf, which fixed point \(s19.9\)"):
        emu.matmul(emu.quantize([[1.0, np.nan, 1.0]] * 2, "e4m3"), fix, acc="s32.8")
    with pytest.raises(ValueError, match=r"s40.8 .*fp32.*41 bits, more than 32"):
        emu.matmul(a, emu.quantize(np.ones((3, 2)), "s40.8"))


MIXED = [("e4m3", "s16.8", "fp32", {}),                          # fixed -> e2m14b-5: matmul_f32
         ("s8.4", "e5m2", "e8m13", {"acc_rounding": "rtz"}),      # the core, a float acc
         ("fp32", "s12.-2", "fp32", {}),                          # matmul_f32_odd
         ("bf16", "u8.8", "fp16", {"order": "pairwise"}),
         ("e4m3", "s8.4", "e5m2", {"order": "exact", "out": "e4m3"}),
         ("e4m3", "s16.8", "s40.17", {"acc_overflow": "wrap"}),   # e4m3 -> s19.9: matmul_int
         ("s8.4", "e5m2", "s24.8", {"acc_rounding": "rna"}),      # e5m2 -> s33.16, sat
         ("fp16", "u8.8", "s30.12", {"order": "pairwise", "acc_rounding": "rdn"}),
         ("e2m1", "s4.2", "s8.3", {"order": "truncating", "acc_overflow": "wrap"})]


@pytest.mark.parametrize("fa,fb,acc,kw", MIXED)
def test_mixed_float_and_fixed_operands_vs_reference(fa, fb, acc, kw):
    """A float and a fixed operand multiply by value: the fixed one is promoted losslessly to a
    float format (float accumulators) or the float one to a fixed format (fixed accumulators),
    and the result equals the reference's exact products of the two values."""
    rng = np.random.default_rng(zlib.crc32(f"{fa} {fb} {acc}".encode()))
    ca, cb = rand_regs(fa, (4, 29), rng).codes.copy(), rand_regs(fb, (29, 3), rng).codes
    ca[0, :5] = 0  # zeros: a fixed 0 is +0, a product of zeros takes the xor sign

    def regs(codes, fmt):
        return emu.Registers.from_codes(codes, fmt)

    check_vs_reference(regs(ca, fa), regs(cb, fb), acc=acc, **kw)
    check_vs_reference(regs(cb.T, fb), regs(ca.T, fa), acc=acc, **kw)
    if isinstance(emu.format(acc), emu.FloatFormat) and getattr(emu.format(fa), "nan_code", None):
        ca[1, 3] = emu.format(fa).nan_code  # specials into a float accumulator
        check_vs_reference(regs(ca, fa), regs(cb, fb), acc=acc, **kw)
