"""Matmul of block-scaled registers with exact block sums (docs/semantics.md §14.4).

OCP MX v1.0 §6.1: Dot(A, B) = X(A) X(B) sum_i P_i(A) P_i(B). For output (i, j) each block b of
the K axis gives one term, the exact value X_A[i, b] X_B[b, j] sum_{k in b} A[i, k] B[k, j]
(class, sign, significand, exponent); the terms are then reduced by the accumulator model of
``emu.kernels.accumulate`` (sequential with optional chunked promotion, pairwise, exact), with
one random word per term for a stochastic accumulator, (i, j, b) in C order.

A block sum is formed as a signed 64-bit integer at the block's smallest product LSB. Where the
products of a block span more than 62 bits (possible for e5m2 elements), or the terms of an
``exact`` reduction do, the output is flagged and the Python face computes it with exact
rationals (emu.blockdot), so results never depend on the integer width.
"""

import numpy as np

from ..jitcache import njit
from .accumulate import ORDER_EXACT, reduce_terms
from .arith import _bitlen
from .convert import split_code
from .core import U0, U1
from .descriptors import RND_MODE, rounding
from .specials import CLS_FINITE, CLS_NAN, product_special, sum_special_terms, zero_sum_sign_terms

SPAN_LIMIT = 62


@njit(cache=True, inline="always")
def _scale(code, sfmt, pow2):
    """A scale code as (class, sig, exp): e8m0 (pow2) is 2**(c - 127), 0xFF NaN."""
    if pow2:
        if code == 0xFF:
            return CLS_NAN, U0, np.int64(0)
        return CLS_FINITE, U1, np.int64(code) - 127
    cls, neg, sig, exp = split_code(code, sfmt)
    return cls, sig, exp


@njit(cache=True, nogil=True)
def _block_term(A, fa, B, fb, i, j, k0, k1, sa, sb, sfmt, pow2, mode, tc, tn, ts, te):
    """The exact term of one block: (cls, neg, sig, exp, ok); ok False when it needs more than
    62 bits. tc/tn/ts/te: scratch of length >= k1 - k0."""
    cla, siga, expa = _scale(sa, sfmt, pow2)
    clb, sigb, expb = _scale(sb, sfmt, pow2)
    m = k1 - k0
    for t in range(m):
        c1, n1, s1, e1 = split_code(A[i, k0 + t], fa)
        c2, n2, s2, e2 = split_code(B[k0 + t, j], fb)
        cls, neg = product_special(c1, n1, s1 == U0, c2, n2, s2 == U0)
        tc[t] = cls
        tn[t] = neg
        ts[t] = s1 * s2 if cls == CLS_FINITE else U0
        te[t] = e1 + e2
    if cla != CLS_FINITE or clb != CLS_FINITE:  # a NaN scale: the whole block is NaN
        return CLS_NAN, False, U0, np.int64(0), True
    cls, neg = sum_special_terms(tc[:m], tn[:m])
    scale_zero = siga == U0 or sigb == U0
    if cls != CLS_FINITE:
        cls, neg = product_special(cls, neg, False, CLS_FINITE, False, scale_zero)
        return cls, neg, U0, np.int64(0), True
    lo = np.int64(1 << 62)
    hi = np.int64(-(1 << 62))
    for t in range(m):
        if ts[t] != U0:
            if te[t] < lo:
                lo = te[t]
            top = te[t] + _bitlen(ts[t])
            if top > hi:
                hi = top
    if hi == -(1 << 62) or scale_zero:
        return CLS_FINITE, zero_sum_sign_terms(tn[:m], ts[:m], mode), U0, np.int64(0), True
    if hi - lo + _bitlen(np.uint64(m)) + 1 > SPAN_LIMIT:
        return CLS_FINITE, False, U0, np.int64(0), False
    total = np.int64(0)
    for t in range(m):
        if ts[t] != U0:
            v = np.int64(ts[t] << np.uint64(te[t] - lo))
            total += -v if tn[t] else v
    if total == 0:
        return CLS_FINITE, zero_sum_sign_terms(tn[:m], ts[:m], mode), U0, np.int64(0), True
    mag = np.uint64(-total) if total < 0 else np.uint64(total)
    if _bitlen(mag) + _bitlen(siga) + _bitlen(sigb) > 64:
        return CLS_FINITE, False, U0, np.int64(0), False
    return CLS_FINITE, total < 0, mag * siga * sigb, lo + expa + expb, True


@njit(cache=True, nogil=True)
def block_matmul(A, fa, SA, B, fb, SB, sfmt, pow2, k, acc, amode, aovf, arw, rbits, compare,
                 order, chunk, promo, prmode, prmovf, out, wide):
    """out[i, j]: the accumulator code of sum_b term(i, j, b) (module doc); wide[i, j] = True
    where the Python face must compute the output exactly instead. Returns the first flat output
    index whose result the accumulator cannot hold, or -1."""
    ar = rounding(amode, aovf, rbits, 0, compare)
    m, kk = A.shape
    n = B.shape[1]
    nb = SA.shape[1]
    pc = np.empty(nb, np.int64)
    pn = np.empty(nb, np.bool_)
    ps = np.empty(nb, np.uint64)
    pe = np.empty(nb, np.int64)
    tc = np.empty(k, np.int64)
    tn = np.empty(k, np.bool_)
    ts = np.empty(k, np.uint64)
    te = np.empty(k, np.int64)
    has_ar = arw.size > 0
    bad = -1
    for i in range(m):
        for j in range(n):
            e_out = i * n + j
            ok_all = True
            for b in range(nb):
                k0 = b * k
                k1 = min(k0 + k, kk)
                c, ng, s, e, ok = _block_term(A, fa, B, fb, i, j, k0, k1, SA[i, b], SB[b, j],
                                              sfmt, pow2, ar[RND_MODE], tc, tn, ts, te)
                pc[b] = c
                pn[b] = ng
                ps[b] = s
                pe[b] = e
                ok_all = ok_all and ok
            if ok_all and order == ORDER_EXACT:
                lo = np.int64(1 << 62)
                hi = np.int64(-(1 << 62))
                for b in range(nb):
                    if pc[b] == CLS_FINITE and ps[b] != U0:
                        lo = min(lo, pe[b])
                        hi = max(hi, pe[b] + _bitlen(ps[b]))
                ok_all = hi == -(1 << 62) or hi - lo + _bitlen(np.uint64(nb)) + 1 <= SPAN_LIMIT
            wide[i, j] = not ok_all
            if not ok_all:
                out[i, j] = U0
                continue
            code, ok = reduce_terms(order, pc, pn, ps, pe, acc, ar, amode, aovf, arw, e_out * nb,
                                    has_ar, chunk, promo, prmode, prmovf, 0, 1)
            if not ok and bad < 0:
                bad = e_out
            out[i, j] = code
    return bad
