"""Sequential matmul into an emulated float accumulator (emu.paths.MATMUL_SEQ), same bits as
``accumulate.matmul_core`` with ORDER_SEQ, exact products and a deterministic acc_rounding.

Per output: acc = +0; for k ascending, acc = fl_acc(acc + a[i, k] * b[k, j]). The kernel keeps
acc as a float64 holding its exact value and does each step in host arithmetic:

1. p = a * b is exact in float64 (the caller checks ``products_exact_in_fp64``).
2. x = fl64(acc + p), with the exact error e = acc + p - x from TwoSum (Knuth), and x is moved
   one ulp toward the exact sum when e != 0 and x's last bit is 0: x is then acc + p rounded to
   odd in 53 bits. The accumulator has M + 1 <= 51 significand bits, so x lies on the exact
   sum's side of every midpoint and every point of acc's grid, and is on one of them only when
   it is exact: rounding x into acc under any deterministic mode gives the same result as
   rounding the exact sum (Boldo & Melquiond, IEEE Trans. Computers 57(4), 2008; for the
   directed modes and rto one extra bit would do).
3. x is rounded into acc's grid on its float64 bit pattern (below): the target LSB, the
   discarded bits and the mode's decision as in ``core.round_code``, then overflow by §5.1.

Specials: products of finite operands are finite and cannot overflow float64, so the only
special acc is an overflow that did not saturate; the kernel keeps it as a float64 Inf, which
every later step leaves as it is (the core likewise keeps emitting that Inf, or the NaN code
of the sign that stands for it). Outputs with a NaN or Inf operand are the caller's (the core
recomputes them). Signed zeros: host addition gives x + x = x for zeros of one sign and +0
otherwise, which is §3.4's rule except under rdn, fixed up below.
"""

import math

import numpy as np

from ..codes import FAM_FINITE, OVF_SAT, RDN, RTZ
from ..jitcache import njit
from .convert import split_code
from .core import MODE_TABLES, round_code, rounds_toward_zero
from .descriptors import FMT_BIAS, FMT_FAMILY, FMT_MAN, FMT_MAX_MAG, rounding
from .specials import inf_code

_FRAC = np.int64((1 << 52) - 1)  # float64 fraction field
_IMPL = np.int64(1 << 52)  # its hidden bit
_ABS = np.int64((1 << 63) - 1)  # every bit but the sign
_SIGN = np.int64(-(1 << 63))
_INF = np.int64(0x7FF << 52)
_ONE = np.int64(1)


@njit(cache=True, inline="always")
def _step(s, p, base, emin_b, nib, nearest, rdn, max_bits, minsub_bits, ovf_pos, ovf_neg):
    """fl_acc(s + p) as a float64 (module doc), branch-free so that the j loop vectorizes.
    ``base``: 52 - M; ``emin_b``: acc's emin as a float64 biased exponent; ``nib``: the mode's
    4-bit table (core.MODE_TABLES); max_bits / minsub_bits: the float64 patterns of acc's
    largest finite value and smallest subnormal; ovf_pos / ovf_neg: the pattern an overflow
    of that sign gives (max_bits when it saturates, else Inf)."""
    x = s + p
    v = x - s
    err = (s - (x - v)) + (p - v)  # TwoSum: x + err == s + p exactly (NaN when x is Inf)
    bits = np.float64(x).view(np.int64)
    # Round to odd in float64: an inexact x moves to its odd neighbour toward the exact sum:
    # one step toward zero (pattern - 1) when err has the other sign, then set the last bit.
    nz = np.int64(abs(err) > 0.0)  # an Inf x (err NaN) is left alone
    opp = ((np.float64(err).view(np.int64) ^ bits) >> 63) & nz  # >> 63: 0 or -1
    bits = (bits - opp) | nz
    neg = (bits >> 63) & 1
    absb = bits & _ABS
    # Rounding position sh: acc's LSB is M bits below the leading bit, or the subnormal LSB
    # below emin: sh = 52 - M + max(emin - ev, 0) bits above the float64 LSB (ev = E - 1023).
    ex = absb >> 52
    below = emin_b - ex
    sh = base + (below if below > 0 else 0)
    shc = sh if sh < 62 else np.int64(62)  # sig < 2**53: every sh >= 54 decides alike
    sig = (absb & _FRAC) | (np.int64(ex != 0) << 52)  # 0 for a zero x
    odd = (sig >> shc) & 1  # the truncated magnitude code's LSB (M >= 1)
    tbit = (nib >> (2 * neg + odd)) & 1
    half = _ONE << (shc - 1)
    # SoftFloat's rounding increment: nearest modes half - 1, plus 1 where the table moves a
    # tie up; directed modes all ones below the position where the table moves up
    inc = (half - 1 + tbit) if nearest else (-tbit & (2 * half - 1))
    # sh <= 52: round the pattern itself, a carry out of the fraction steps the exponent.
    # sh > 52: below the smallest subnormal, the result is 0 or it ((sig + inc) >> sh is 0 or 1)
    r = ((absb + inc) >> shc) << shc if sh <= 52 else -((sig + inc) >> shc) & minsub_bits
    r = (ovf_neg if neg != 0 else ovf_pos) if r > max_bits else r  # §5.1; Inf stays Inf
    sgn = bits & _SIGN
    if rdn:  # an exact zero sum is -0 under rdn unless both addends are +0 (§3.4)
        both = np.float64(s).view(np.int64) | np.float64(p).view(np.int64)
        sgn = _SIGN if (absb == 0 and both != 0) else sgn
    return np.int64(r | sgn).view(np.float64)


@njit(cache=True, nogil=True)
def matmul_seq(XA, XB, acc, mode, overflow, out):
    """out[i, j] = the acc code (uint64) of the sequential sum of XA[i, k] * XB[k, j]: XA, XB
    hold the operand values as float64, all finite, every product exact; ``acc`` a float
    format descriptor with 1 <= M <= 50 whose values and their sums with a product stay inside
    float64's normal range with room (emu.paths.seq_emulated_ok); ``mode`` deterministic.
    Loop order i-k-j: each output's steps stay in k order while the j loop vectorizes."""
    m, kk = XA.shape
    n = XB.shape[1]
    man = np.int64(acc[FMT_MAN])
    base = 52 - man
    e_min = np.int64(1 - acc[FMT_BIAS])
    emin_b = e_min + 1023
    nib = np.int64((MODE_TABLES >> (4 * mode)) & 15)
    nearest = mode < RTZ
    rdn = mode == RDN
    _, _, msig, mexp = split_code(np.uint64(acc[FMT_MAX_MAG]), acc)
    max_bits = np.float64(math.ldexp(np.float64(msig), mexp)).view(np.int64)  # exact: msig < 2**51
    minsub_bits = (e_min - man + 1023) << 52
    always = overflow == OVF_SAT or acc[FMT_FAMILY] == FAM_FINITE
    ovf_pos = max_bits if always or rounds_toward_zero(mode, False) else _INF
    ovf_neg = max_bits if always or rounds_toward_zero(mode, True) else _INF
    rnd = rounding(mode, overflow, 1, 0, False)
    row = np.empty(n, np.float64)
    for i in range(m):
        row[:] = 0.0
        for k in range(kk):
            a = XA[i, k]
            bk = XB[k]
            for j in range(n):
                row[j] = _step(row[j], a * bk[j], base, emin_b, nib, nearest, rdn, max_bits,
                               minsub_bits, ovf_pos, ovf_neg)
        for j in range(n):  # the exact acc value -> its code (the core packs it)
            x = row[j]
            neg = np.float64(x).view(np.int64) < 0  # the sign bit: -0 too
            if abs(x) == np.inf:
                out[i, j] = inf_code(acc, neg, False)  # kept only when not saturating
            elif x == 0.0:
                out[i, j] = round_code(neg, np.uint64(0), np.int64(0), 0, acc, rnd, 0, 0)
            else:
                b = np.float64(x).view(np.int64) & _ABS
                sig = np.uint64((b & _FRAC) | _IMPL)  # acc values are normal float64s
                out[i, j] = round_code(neg, sig, (b >> 52) - 1075, 0, acc, rnd, 0, 0)
