"""Arithmetic kernels: exact intermediates for add/sub/mul/fma, then the one rounding core.

Each operation decodes its operands exactly (``split_code``), computes the exact result as
(neg, sig, exp, sticky) and calls ``round_code`` once (docs/semantics.md §8: correctly
rounded). Results that involve a NaN or Inf operand, invalid operations and the sign of an exact
zero sum follow docs/semantics.md §3, written once in ``emu.kernels.specials``.
"""

import numpy as np

from ..jitcache import njit
from .convert import element_sr, round_split, split_code
from .core import OVF_WRAP, U0, U1, round_code
from .descriptors import FMT_FRAC, RND_MODE, RND_OVERFLOW, is_float, rounding
from .specials import (
    CLS_FINITE,
    CLS_NAN,
    UNORDERED,
    compare_special,
    emit,
    first_nan_sign,
    fma_special,
    minmax_takes_a,
    product_special,
    sum_special,
    zero_sum_sign,
)

OP_ADD, OP_SUB, OP_MUL, OP_FMA, OP_MIN, OP_MAX = range(6)
CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE = range(6)
TOP = 62  # leading-bit position used when an exact aligned sum would not fit 64 bits


@njit(cache=True, inline="always")
def _bitlen(x):
    n = 0
    while x != U0:
        x >>= U1
        n += 1
    return n


@njit(cache=True, inline="always")
def add_exact(na, sa, ea, nb, sb, eb):
    """Exact (or sticky-jammed) sum of two signed values sa*2^ea, sb*2^eb.

    Returns (neg, sig, exp, jammed). When the aligned sum fits 63 bits it is exact (jammed 0);
    otherwise the larger operand's leading bit goes to bit TOP and the smaller one is
    shifted right with its lost bits jammed into a sticky LSB: the result keeps >= 38 bits below
    the larger operand's 24th bit, more than round_code's SR contract asks (r <= 32). (Targets
    with more than 27 significand bits, e2m27..e2m29, get fewer guard bits: their SR threshold
    can be inexact for r near 32 in that rare jammed case.)"""
    if sa == U0:
        return nb, sb, eb, 0
    if sb == U0:
        return na, sa, ea, 0
    la = _bitlen(sa)
    lb = _bitlen(sb)
    va = ea + la
    vb = eb + lb
    if vb > va:  # make a the operand whose leading bit is higher
        na, sa, ea, la, va, nb, sb, eb, lb, vb = nb, sb, eb, lb, vb, na, sa, ea, la, va
    lo = ea if ea < eb else eb
    sticky = 0
    if va - lo <= 62:
        xa = sa << np.uint64(ea - lo)
        xb = sb << np.uint64(eb - lo)
        e = lo
    else:
        e = va - 1 - TOP  # exponent of bit 0 once a's leading bit sits at bit TOP
        xa = sa << np.uint64(TOP + 1 - la)
        sh = e - eb  # > 0: b loses its low bits
        if sh <= 0:
            xb = sb << np.uint64(-sh)
        elif sh >= 64:
            xb = U0
            sticky = 1
        else:
            xb = sb >> np.uint64(sh)
            if (sb & ((U1 << np.uint64(sh)) - U1)) != U0:
                sticky = 1
        if sticky:
            xb |= U1  # jam: two or more bits below any rounding position a float target uses
    if na == nb:
        return na, xa + xb, e, sticky
    if xa >= xb:
        return na, xa - xb, e, sticky
    return nb, xb - xa, e, sticky


@njit(cache=True, inline="always")
def wrap_unsafe(jammed, exp, dst, overflow):
    """A jammed sum is exact enough for rounding, but a wrapping fixed target keeps low bits of
    the integer: refuse when the jam reached bits at or just below the target's LSB."""
    return jammed != 0 and not is_float(dst) and overflow == OVF_WRAP and exp > -dst[FMT_FRAC] - 2


@njit(cache=True, nogil=True)
def binary_one(op, ca, fa, cb, fb, dst, rnd, rword, direction):
    """One add/sub/mul of codes ca (format fa) and cb (format fb) into dst under the rounding
    descriptor ``rnd``. Returns (code, ok)."""
    cla, na, sa, ea = split_code(ca, fa)
    clb, nb0, sb, eb = split_code(cb, fb)
    nb = (not nb0) if op == OP_SUB else nb0  # b's sign as an addend
    special = cla != CLS_FINITE or clb != CLS_FINITE
    if op == OP_MUL:
        if special:
            cls, neg = product_special(cla, na, sa == U0, clb, nb0, sb == U0)
            return emit(cls, neg, dst, rnd[RND_OVERFLOW])
        return round_code(na != nb, sa * sb, ea + eb, 0, dst, rnd, rword, direction), True
    if special:
        cls, neg = sum_special(cla, na, clb, nb0, nb)
        return emit(cls, neg, dst, rnd[RND_OVERFLOW])
    neg, sig, exp, jammed = add_exact(na, sa, ea, nb, sb, eb)
    if wrap_unsafe(jammed, exp, dst, rnd[RND_OVERFLOW]):
        return U0, False
    if sig == U0:
        neg = zero_sum_sign(na, sa == U0, nb, sb == U0, rnd[RND_MODE])
    return round_code(neg, sig, exp, 0, dst, rnd, rword, direction), True


@njit(cache=True, nogil=True)
def fma_one(ca, fa, cb, fb, cc, fc, dst, rnd, rword, direction):
    """a*b + c with one rounding. Returns (code, ok)."""
    cla, na, sa, ea = split_code(ca, fa)
    clb, nb, sb, eb = split_code(cb, fb)
    clc, nc, sc, ec = split_code(cc, fc)
    if cla != CLS_FINITE or clb != CLS_FINITE or clc != CLS_FINITE:
        cls, neg = fma_special(cla, na, sa == U0, clb, nb, sb == U0, clc, nc)
        return emit(cls, neg, dst, rnd[RND_OVERFLOW])
    np_ = na != nb
    neg, sig, exp, jammed = add_exact(np_, sa * sb, ea + eb, nc, sc, ec)
    if wrap_unsafe(jammed, exp, dst, rnd[RND_OVERFLOW]):
        return U0, False
    if sig == U0:
        neg = zero_sum_sign(np_, sa * sb == U0, nc, sc == U0, rnd[RND_MODE])
    return round_code(neg, sig, exp, 0, dst, rnd, rword, direction), True


@njit(cache=True, inline="always")
def compare_split(cla, na, sa, ea, clb, nb, sb, eb):
    """compare_values on split operands."""
    decided, c = compare_special(cla, na, clb, nb)
    if decided:
        return c
    neg, sig, exp, jammed = add_exact(na, sa, ea, not nb, sb, eb)  # exact sign of a - b
    if sig == U0:
        return 0
    return -1 if neg else 1


@njit(cache=True, nogil=True)
def compare_values(ca, fa, cb, fb):
    """-1, 0, 1 for a < b, a == b, a > b; UNORDERED (2) if a NaN is involved. -0 == +0."""
    cla, na, sa, ea = split_code(ca, fa)
    clb, nb, sb, eb = split_code(cb, fb)
    return compare_split(cla, na, sa, ea, clb, nb, sb, eb)


@njit(cache=True, nogil=True)
def minmax_one(is_min, ca, fa, cb, fb, dst, rnd, rword, direction):
    """IEEE 754-2019 minimum / maximum of codes ca, cb, converted (rounded) into dst; a NaN
    operand gives NaN. Returns (code, ok)."""
    cla, na, sa, ea = split_code(ca, fa)
    clb, nb, sb, eb = split_code(cb, fb)
    c = compare_split(cla, na, sa, ea, clb, nb, sb, eb)
    if c == UNORDERED:
        return emit(CLS_NAN, first_nan_sign(cla, na, clb, nb), dst, rnd[RND_OVERFLOW])
    a = minmax_takes_a(is_min, c, na)  # the chosen operand, converted into dst
    return round_split(cla if a else clb, na if a else nb, sa if a else sb, ea if a else eb, dst,
                       rnd, rword, direction)


@njit(cache=True, nogil=True)
def binary_codes(op, a, fa, b, fb, out, dst, mode, overflow, rbits, rwords, eoff, dirs, compare):
    """Elementwise op over equal-length code arrays; returns the first bad index or -1."""
    rnd = rounding(mode, overflow, rbits, eoff, compare)
    bad = -1
    for i in range(a.size):
        rword, d = element_sr(rwords, dirs, i)
        if op == OP_MIN or op == OP_MAX:
            code, ok = minmax_one(op == OP_MIN, a[i], fa, b[i], fb, dst, rnd, rword, d)
        else:
            code, ok = binary_one(op, a[i], fa, b[i], fb, dst, rnd, rword, d)
        if not ok and bad < 0:
            bad = i
        out[i] = code
    return bad


@njit(cache=True, nogil=True)
def fma_codes(a, fa, b, fb, c, fc, out, dst, mode, overflow, rbits, rwords, eoff, dirs, compare):
    """Elementwise a*b + c over equal-length code arrays; returns the first bad index or -1."""
    rnd = rounding(mode, overflow, rbits, eoff, compare)
    bad = -1
    for i in range(a.size):
        rword, d = element_sr(rwords, dirs, i)
        code, ok = fma_one(a[i], fa, b[i], fb, c[i], fc, dst, rnd, rword, d)
        if not ok and bad < 0:
            bad = i
        out[i] = code
    return bad


@njit(cache=True, nogil=True)
def compare_codes(a, fa, b, fb, pred, out):
    for i in range(a.size):
        c = compare_values(a[i], fa, b[i], fb)
        if pred == CMP_EQ:
            out[i] = c == 0
        elif pred == CMP_NE:
            out[i] = c != 0
        elif pred == CMP_LT:
            out[i] = c == -1
        elif pred == CMP_LE:
            out[i] = c == -1 or c == 0
        elif pred == CMP_GT:
            out[i] = c == 1
        else:
            out[i] = c == 1 or c == 0
