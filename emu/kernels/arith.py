"""Arithmetic kernels: exact intermediates for add/sub/mul/fma, then the one rounding core.

Each operation decodes its operands exactly (``split_code``), computes the exact result as
(neg, sig, exp, sticky) and calls ``round_pack`` once (docs/semantics.md §8: correctly
rounded). Specials follow Part B: a NaN operand gives the target's canonical NaN with the sign of
the first NaN operand; invalid operations (Inf - Inf, 0 x Inf) give the canonical NaN with sign 0;
Inf results are Inf where the target has it, else NaN (+-max when saturating). An exact zero sum
of opposite signs is +0, or -0 under rdn (IEEE 754 6.3); fixed targets simply get 0.
"""

import numpy as np

from ..jitcache import njit
from .convert import (
    CLS_FINITE,
    CLS_INF,
    CLS_NAN,
    convert_one,
    element_sr,
    emit_special,
    split_code,
)
from .core import KIND_FIXED, OVF_WRAP, RDN, U0, U1, round_pack

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
    the larger operand's 24th bit, more than round_pack's SR contract asks (r <= 32). (Targets
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
def _special_add(ca, na, cb, nb, nb_eff):
    """Class and sign of a + (+-b) when either is Inf/NaN (nb: b's own sign, nb_eff: its sign as
    an addend). A NaN keeps the sign of the first NaN operand; Inf - Inf is the invalid NaN."""
    if ca == CLS_NAN:
        return CLS_NAN, na
    if cb == CLS_NAN:
        return CLS_NAN, nb
    if ca == CLS_INF and cb == CLS_INF and na != nb_eff:
        return CLS_NAN, False
    if ca == CLS_INF:
        return CLS_INF, na
    return CLS_INF, nb_eff


@njit(cache=True, inline="always")
def wrap_unsafe(jammed, exp, dst, overflow):
    """A jammed sum is exact enough for rounding, but a wrapping fixed target keeps low bits of
    the integer: refuse when the jam reached bits at or just below the target's LSB."""
    return jammed != 0 and dst[0] == KIND_FIXED and overflow == OVF_WRAP and exp > -dst[2] - 2


@njit(cache=True, inline="always")
def _zero_sign(na, a_zero, nb, b_zero, mode):
    """IEEE 754 6.3 sign of an exact zero sum: x + x keeps x's sign when both addends are zeros
    of one sign; otherwise +0, or -0 under rdn."""
    if a_zero and b_zero and na == nb:
        return na
    return mode == RDN


@njit(cache=True, nogil=True)
def binary_one(op, ca, fa, cb, fb, dst, mode, overflow, rbits, rword, eoff, direction, compare):
    """One add/sub/mul of codes ca (format fa) and cb (format fb) into dst. Returns (code, ok)."""
    cla, na, sa, ea = split_code(ca, fa)
    clb, nb0, sb, eb = split_code(cb, fb)
    nb = (not nb0) if op == OP_SUB else nb0
    if op == OP_MUL:
        neg = na != nb
        if cla == CLS_NAN:
            return emit_special(CLS_NAN, na, dst, overflow)
        if clb == CLS_NAN:
            return emit_special(CLS_NAN, nb0, dst, overflow)
        if cla == CLS_INF or clb == CLS_INF:
            if (cla == CLS_FINITE and sa == U0) or (clb == CLS_FINITE and sb == U0):
                return emit_special(CLS_NAN, False, dst, overflow)  # 0 x Inf: invalid
            return emit_special(CLS_INF, neg, dst, overflow)
        return round_pack(neg, sa * sb, ea + eb, 0, dst, mode, overflow, rbits, rword, eoff,
                          direction, compare), True
    if cla != CLS_FINITE or clb != CLS_FINITE:
        cls, neg = _special_add(cla, na, clb, nb0, nb)
        return emit_special(cls, neg, dst, overflow)
    neg, sig, exp, jammed = add_exact(na, sa, ea, nb, sb, eb)
    if wrap_unsafe(jammed, exp, dst, overflow):
        return U0, False
    if sig == U0:
        neg = _zero_sign(na, sa == U0, nb, sb == U0, mode)
    return round_pack(neg, sig, exp, 0, dst, mode, overflow, rbits, rword, eoff, direction,
                      compare), True


@njit(cache=True, nogil=True)
def fma_one(ca, fa, cb, fb, cc, fc, dst, mode, overflow, rbits, rword, eoff, direction, compare):
    """a*b + c with one rounding. Returns (code, ok)."""
    cla, na, sa, ea = split_code(ca, fa)
    clb, nb, sb, eb = split_code(cb, fb)
    clc, nc, sc, ec = split_code(cc, fc)
    if cla == CLS_NAN:
        return emit_special(CLS_NAN, na, dst, overflow)
    if clb == CLS_NAN:
        return emit_special(CLS_NAN, nb, dst, overflow)
    if clc == CLS_NAN:
        return emit_special(CLS_NAN, nc, dst, overflow)
    np_ = na != nb
    if cla == CLS_INF or clb == CLS_INF:
        if (cla == CLS_FINITE and sa == U0) or (clb == CLS_FINITE and sb == U0):
            return emit_special(CLS_NAN, False, dst, overflow)
        if clc == CLS_INF and nc != np_:
            return emit_special(CLS_NAN, False, dst, overflow)
        return emit_special(CLS_INF, np_, dst, overflow)
    if clc == CLS_INF:
        return emit_special(CLS_INF, nc, dst, overflow)
    neg, sig, exp, jammed = add_exact(np_, sa * sb, ea + eb, nc, sc, ec)
    if wrap_unsafe(jammed, exp, dst, overflow):
        return U0, False
    if sig == U0:
        neg = _zero_sign(np_, sa * sb == U0, nc, sc == U0, mode)
    return round_pack(neg, sig, exp, 0, dst, mode, overflow, rbits, rword, eoff, direction,
                      compare), True


@njit(cache=True, nogil=True)
def compare_values(ca, fa, cb, fb):
    """-1, 0, 1 for a < b, a == b, a > b; 2 if unordered (a NaN). -0 == +0."""
    cla, na, sa, ea = split_code(ca, fa)
    clb, nb, sb, eb = split_code(cb, fb)
    if cla == CLS_NAN or clb == CLS_NAN:
        return 2
    if cla == CLS_INF or clb == CLS_INF:
        ia = 0 if cla != CLS_INF else (-1 if na else 1)
        ib = 0 if clb != CLS_INF else (-1 if nb else 1)
        if ia != ib:
            return -1 if ia < ib else 1
        if ia != 0:
            return 0
    # exact sign of a - b
    neg, sig, exp, jammed = add_exact(na, sa, ea, not nb, sb, eb)
    if sig == U0:
        return 0
    return -1 if neg else 1


@njit(cache=True, nogil=True)
def binary_codes(op, a, fa, b, fb, out, dst, mode, overflow, rbits, rwords, eoff, dirs, compare):
    """Elementwise op over equal-length code arrays; returns the first bad index or -1."""
    bad = -1
    for i in range(a.size):
        rword, d = element_sr(rwords, dirs, i)
        if op == OP_MIN or op == OP_MAX:
            c = compare_values(a[i], fa, b[i], fb)
            if c == 2:  # NaN propagates (IEEE 754-2019 minimum/maximum)
                cla, na, _, _ = split_code(a[i], fa)
                code, ok = emit_special(CLS_NAN, na if cla == CLS_NAN else
                                         split_code(b[i], fb)[1], dst, overflow)
            else:
                pick_a = (c <= 0) if op == OP_MIN else (c >= 0)
                if c == 0:  # -0 vs +0: minimum takes -0, maximum +0
                    _, na, _, _ = split_code(a[i], fa)
                    pick_a = na if op == OP_MIN else not na
                src = a[i] if pick_a else b[i]
                sf = fa if pick_a else fb
                code, ok = convert_one(src, sf, dst, mode, overflow, rbits, rword, eoff, d,
                                       compare)
        else:
            code, ok = binary_one(op, a[i], fa, b[i], fb, dst, mode, overflow, rbits, rword,
                                  eoff, d, compare)
        if not ok and bad < 0:
            bad = i
        out[i] = code
    return bad


@njit(cache=True, nogil=True)
def fma_codes(a, fa, b, fb, c, fc, out, dst, mode, overflow, rbits, rwords, eoff, dirs, compare):
    bad = -1
    for i in range(a.size):
        rword, d = element_sr(rwords, dirs, i)
        code, ok = fma_one(a[i], fa, b[i], fb, c[i], fc, dst, mode, overflow, rbits, rword, eoff,
                           d, compare)
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
