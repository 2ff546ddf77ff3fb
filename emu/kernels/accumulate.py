"""Dot-product / matmul kernels with hardware accumulator models (docs/semantics.md §9).

For output element (i, j) the products a[i, k] * b[k, j] are formed exactly (or rounded once into
a product format) and reduced in a documented order, each addition rounded by the one core:
  ORDER_SEQ       acc = +0; for k ascending: acc = fl_acc(acc + p_k)
                  (with ``chunk`` N > 0: every N terms the chunk's acc is added into a promoted
                  accumulator, fl_promo(promo + acc), and acc restarts at +0)
  ORDER_PAIRWISE  leaves fl_acc(p_k); each level adds adjacent pairs (2m, 2m+1), an odd last
                  element moves up unchanged
  ORDER_EXACT     one rounding of the exact sum
  ORDER_TRUNC     FP8 tensor-core model: per group of G products together with acc, align to
                  the largest leading-bit exponent E, truncate every term toward zero to
                  multiples of 2**(E - N), sum exactly, round toward zero into acc
Specials (NaN and Inf products and sums, invalid operations, the sign of an exact zero sum) follow
docs/semantics.md §3 through ``emu.kernels.specials``, as in the elementwise kernels.
"""

import numpy as np

from ..jitcache import njit
from .arith import add_exact
from .convert import split_code
from .core import RTZ, U0, U1, round_code
from .descriptors import RND_MODE, RND_OVERFLOW, rounding
from .specials import (
    CLS_FINITE,
    emit,
    product_special,
    sum_special,
    sum_special_terms,
    zero_sum_sign,
    zero_sum_sign_terms,
)

ORDER_SEQ, ORDER_PAIRWISE, ORDER_EXACT, ORDER_TRUNC = range(4)


@njit(cache=True, nogil=True)
def _product(ca, fa, cb, fb, pfmt, pr, prw, exact_products):
    """Exact product (cls, neg, sig, exp), or its rounding into pfmt under the rounding
    descriptor pr (then decoded exactly)."""
    cla, na, sa, ea = split_code(ca, fa)
    clb, nb, sb, eb = split_code(cb, fb)
    cls, neg = product_special(cla, na, sa == U0, clb, nb, sb == U0)
    if cls != CLS_FINITE:
        return cls, neg, U0, np.int64(0)
    if exact_products:
        return CLS_FINITE, neg, sa * sb, ea + eb
    code = round_code(neg, sa * sb, ea + eb, 0, pfmt, pr, prw, 0)
    return split_code(code, pfmt)


@njit(cache=True, nogil=True)
def _add_round(c1, n1, s1, e1, c2, n2, s2, e2, fmt, rnd, rword):
    """fl(x1 + x2) into fmt under the rounding descriptor rnd, for exact operands given as
    (cls, neg, sig, exp); returns the code and ok (False: the target cannot hold the result)."""
    if c1 != CLS_FINITE or c2 != CLS_FINITE:
        cls, neg = sum_special(c1, n1, c2, n2, n2)
        return emit(cls, neg, fmt, rnd[RND_OVERFLOW])
    neg, sig, exp, jammed = add_exact(n1, s1, e1, n2, s2, e2)
    if sig == U0:
        neg = zero_sum_sign(n1, s1 == U0, n2, s2 == U0, rnd[RND_MODE])
    return round_code(neg, sig, exp, 0, fmt, rnd, rword, 0), True


@njit(cache=True, nogil=True)
def matmul_core(A, fa, B, fb, exact_products, pfmt, pmode, povf, prw, acc, amode, aovf, arw,
                order, chunk, promo, prmode, prmovf, align_bits, group, rbits, compare, out):
    """out[i, j] = the accumulator code of sum_k A[i, k] * B[k, j] (codes uint64).

    prw / arw: random words for product / accumulator roundings, (M*N*K,) in (i, j, k) C order,
    or empty. Returns the first flat output index whose result the accumulator cannot hold, or
    -1. Only ORDER_SEQ rounds stochastically (the Python face refuses the others): the other
    orders and the promotion build deterministic descriptors (r = 1, carry form) where they round,
    from constants the compiler folds into the core."""
    pr = rounding(pmode, povf, rbits, 0, compare)
    ar = rounding(amode, aovf, rbits, 0, compare)
    m, kk = A.shape
    n = B.shape[1]
    pc = np.empty(kk, np.int64)
    pn = np.empty(kk, np.bool_)
    ps = np.empty(kk, np.uint64)
    pe = np.empty(kk, np.int64)
    has_pr = prw.size > 0
    has_ar = arw.size > 0
    bad = -1
    for i in range(m):
        for j in range(n):
            e_out = i * n + j
            for k in range(kk):
                r = np.int64(prw[e_out * kk + k]) if has_pr else np.int64(0)
                c, ng, s, e = _product(A[i, k], fa, B[k, j], fb, pfmt, pr, r, exact_products)
                pc[k] = c
                pn[k] = ng
                ps[k] = s
                pe[k] = e
            code, ok = reduce_terms(order, pc, pn, ps, pe, acc, ar, amode, aovf, arw, e_out * kk,
                                    has_ar, chunk, promo, prmode, prmovf, align_bits, group)
            if not ok and bad < 0:
                bad = e_out
            out[i, j] = code
    return bad


@njit(cache=True, nogil=True)
def reduce_terms(order, pc, pn, ps, pe, acc, ar, amode, aovf, arw, base, has_ar, chunk, promo,
                 prmode, prmovf, align_bits, group):
    """(code, ok): the exact terms (class, neg, sig, exp arrays) reduced into acc in ``order``
    (module doc); arw[base + k] is term k's random word when has_ar."""
    if order == ORDER_SEQ:
        return _sequential(pc, pn, ps, pe, acc, ar, arw, base, has_ar, chunk, promo, prmode,
                           prmovf)
    if order == ORDER_PAIRWISE:
        return _pairwise(pc, pn, ps, pe, acc, amode, aovf)
    if order == ORDER_TRUNC:
        return _truncating(pc, pn, ps, pe, acc, aovf, align_bits, group)
    return _exact_small(pc, pn, ps, pe, acc, amode, aovf)


@njit(cache=True, nogil=True)
def _sequential(pc, pn, ps, pe, acc, ar, arw, base, has_ar, chunk, promo, prmode, prmovf):
    kk = pc.size
    code = U0  # +0 in every format
    ok = True
    pcode = U0
    for k in range(kk):
        r = np.int64(arw[base + k]) if has_ar else np.int64(0)
        c1, n1, s1, e1 = split_code(code, acc)
        code, ok1 = _add_round(c1, n1, s1, e1, pc[k], pn[k], ps[k], pe[k], acc, ar, r)
        ok = ok and ok1
        if chunk > 0 and ((k + 1) % chunk == 0 or k == kk - 1):
            c1, n1, s1, e1 = split_code(pcode, promo)
            c2, n2, s2, e2 = split_code(code, acc)
            pcode, ok2 = _add_round(c1, n1, s1, e1, c2, n2, s2, e2, promo,
                                    rounding(prmode, prmovf, 1, 0, False), 0)
            ok = ok and ok2
            code = U0
    if chunk > 0:
        return pcode, ok
    return code, ok


@njit(cache=True, nogil=True)
def _pairwise(pc, pn, ps, pe, acc, amode, aovf):
    kk = pc.size
    rnd = rounding(amode, aovf, 1, 0, False)
    if kk == 0:
        return U0, True
    buf = np.empty(kk, np.uint64)
    ok = True
    for k in range(kk):  # leaves: each product rounded into the accumulator
        code, ok1 = _add_round(CLS_FINITE, False, U0, np.int64(0), pc[k], pn[k], ps[k], pe[k],
                               acc, rnd, 0)
        buf[k] = code
        ok = ok and ok1
    width = kk
    while width > 1:
        half = width // 2
        for t in range(half):
            c1, n1, s1, e1 = split_code(buf[2 * t], acc)
            c2, n2, s2, e2 = split_code(buf[2 * t + 1], acc)
            code, ok1 = _add_round(c1, n1, s1, e1, c2, n2, s2, e2, acc, rnd, 0)
            buf[t] = code
            ok = ok and ok1
        if width % 2 == 1:
            buf[half] = buf[width - 1]
            width = half + 1
        else:
            width = half
    return buf[0], ok


@njit(cache=True, nogil=True)
def _exact_small(pc, pn, ps, pe, acc, amode, aovf):
    """One rounding of the exact sum, when it fits a signed 64-bit integer at the smallest
    product LSB (the caller checks the span); otherwise the Python face sums with big ints."""
    rnd = rounding(amode, aovf, 1, 0, False)
    cls, neg = sum_special_terms(pc, pn)
    if cls != CLS_FINITE:
        return emit(cls, neg, acc, rnd[RND_OVERFLOW])
    lo = np.int64(1 << 62)
    for k in range(pc.size):
        if ps[k] != U0 and pe[k] < lo:
            lo = pe[k]
    total = np.int64(0)
    for k in range(pc.size):
        if ps[k] != U0:
            v = np.int64(ps[k] << np.uint64(pe[k] - lo))
            total += -v if pn[k] else v
    if total == 0:
        neg = zero_sum_sign_terms(pn, ps, rnd[RND_MODE])
        return round_code(neg, U0, np.int64(0), 0, acc, rnd, 0, 0), True
    mag = np.uint64(-total) if total < 0 else np.uint64(total)
    return round_code(total < 0, mag, lo, 0, acc, rnd, 0, 0), True


@njit(cache=True, nogil=True)
def _truncating(pc, pn, ps, pe, acc, aovf, align_bits, group):
    """ORDER_TRUNC (module doc): every group's sum rounds toward zero into acc."""
    rnd = rounding(RTZ, aovf, 1, 0, False)
    kk = pc.size
    code = U0
    ok = True
    for g0 in range(0, kk, group):
        g1 = min(g0 + group, kk)
        c1, n1, s1, e1 = split_code(code, acc)
        cls, neg = sum_special_terms(pc[g0:g1], pn[g0:g1])
        if c1 != CLS_FINITE or cls != CLS_FINITE:  # acc + (the group's sum): acc comes first
            cls, neg = sum_special(c1, n1, cls, neg, neg)
            code, ok1 = emit(cls, neg, acc, rnd[RND_OVERFLOW])
            ok = ok and ok1
            continue
        # largest leading-bit exponent among the nonzero terms (acc included)
        top = np.int64(-(1 << 62))
        if s1 != U0:
            top = e1 + 63 - np.int64(_lz(s1))
        for k in range(g0, g1):
            if ps[k] != U0:
                t = pe[k] + 63 - np.int64(_lz(ps[k]))
                if t > top:
                    top = t
        if top == -(1 << 62):
            code = U0
            continue
        lsb = top - align_bits  # keep bits of weight >= 2**(E - N)
        total = np.int64(_trunc_to(s1, e1, lsb))
        total = -total if n1 else total
        for k in range(g0, g1):
            v = np.int64(_trunc_to(ps[k], pe[k], lsb))
            total += -v if pn[k] else v
        mag = np.uint64(-total) if total < 0 else np.uint64(total)
        code = round_code(total < 0, mag, lsb, 0, acc, rnd, 0, 0)
    return code, ok


@njit(cache=True, inline="always")
def _lz(x):
    n = 0
    while x < (U1 << np.uint64(63)):
        x <<= U1
        n += 1
    return n


@njit(cache=True, inline="always")
def _trunc_to(sig, exp, lsb):
    """floor(sig * 2**exp / 2**lsb): the magnitude in units of 2**lsb, truncated."""
    if sig == U0:
        return U0
    sh = lsb - exp
    if sh <= 0:
        return sig << np.uint64(-sh)
    if sh >= 64:
        return U0
    return sig >> np.uint64(sh)


@njit(cache=True, nogil=True)
def matmul_f32(A, B, out):
    """Native float32 C = A @ B, each out[i, j] summed in k-ascending order (rne, IEEE): loop
    order i-k-j keeps every output's additions sequential while vectorizing over j; four rows
    at a time share each load of B[k] (the order of each output's sum is unchanged)."""
    m, kk = A.shape
    n = B.shape[1]
    zero = np.float32(0.0)
    i = 0
    while i + 4 <= m:
        r0 = out[i]
        r1 = out[i + 1]
        r2 = out[i + 2]
        r3 = out[i + 3]
        r0[:] = zero
        r1[:] = zero
        r2[:] = zero
        r3[:] = zero
        for k in range(kk):
            a0 = A[i, k]
            a1 = A[i + 1, k]
            a2 = A[i + 2, k]
            a3 = A[i + 3, k]
            bk = B[k]
            for j in range(n):  # each product is exact in fp32 (checked by the caller)
                b = bk[j]
                r0[j] = r0[j] + a0 * b
                r1[j] = r1[j] + a1 * b
                r2[j] = r2[j] + a2 * b
                r3[j] = r3[j] + a3 * b
        i += 4
    while i < m:
        row = out[i]
        row[:] = zero
        for k in range(kk):
            a = A[i, k]
            for j in range(n):
                row[j] = row[j] + a * B[k, j]
        i += 1


@njit(cache=True, nogil=True)
def matmul_f32_odd(A, B, out):
    """C = A @ B into float32 rows as the chain s = fl32(s + a*b), k ascending (an fp32 FMA
    chain): A and B hold the operand values as host floats whose products are exact in float64
    (checked by the caller). Each step adds in float64, recovers the addition's exact error
    (TwoSum), rounds the float64 sum to odd and converts it to float32 under rne. Rounding to
    odd in a precision at least 2 bits finer than the target's, then to nearest, equals one
    rounding to nearest (Boldo & Melquiond, "Emulation of FMA and correctly rounded sums: proved
    algorithms using rounding to odd", IEEE Trans. Computers 57(4), 2008); float64's grid is
    >= 29 bits finer than fp32's at every magnitude, subnormal fp32 included. Loop order i-k-j
    as in matmul_f32."""
    m, kk = A.shape
    n = B.shape[1]
    inf = np.inf
    for i in range(m):
        row = out[i]
        row[:] = np.float32(0.0)
        for k in range(kk):
            a = np.float64(A[i, k])
            bk = B[k]
            for j in range(n):
                s = np.float64(row[j])
                p = a * np.float64(bk[j])  # exact
                x = s + p
                v = x - s
                err = (s - (x - v)) + (p - v)  # TwoSum: x + err == s + p exactly
                bits = np.float64(x).view(np.int64)
                # Round to odd: an inexact x whose last significand bit is 0 moves one ulp
                # toward the exact sum (x != 0 then: a nonzero float64 sum never rounds to 0).
                # On sign-magnitude bits, +1 is one ulp away from zero, -1 one ulp toward it.
                # An Inf x (overflow earlier, or an Inf operand) has err NaN: left alone.
                step = (err != 0.0) & (abs(x) < inf) & ((bits & 1) == 0)
                away = (err > 0.0) == (x > 0.0)
                bits += np.int64(step) * (np.int64(away) * 2 - 1)
                row[j] = np.float32(np.int64(bits).view(np.float64))  # rne


@njit(cache=True, nogil=True)
def matmul_int(A, B, out):
    """Integer C = A @ B in int64 (exact while |sum| < 2**63; wrap is applied by the caller)."""
    m, kk = A.shape
    n = B.shape[1]
    for i in range(m):
        row = out[i]
        row[:] = 0
        for k in range(kk):
            a = A[i, k]
            for j in range(n):
                row[j] += a * B[k, j]
