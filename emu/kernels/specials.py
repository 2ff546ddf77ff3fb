"""NaN, Inf, invalid and signed-zero rules, each written once (docs/semantics.md §3, §5.1).

Operands are classified (``classify``, through ``convert.split_code``) as CLS_FINITE, CLS_INF or
CLS_NAN with a sign; the operation rules below give the class and sign of a result that involves a
special; ``emit`` turns a special result into a code of the target (or refuses it). The rounding
core uses ``inf_code`` for overflow and ``with_sign`` to pack a sign. Finite values are the
core's. All are inlined into the kernels that call them, except ``nan_code`` and
``inf_or_overflow_code`` (rare paths, compiled once).
"""

import numpy as np

from ..codes import FAM_FINITE, FAM_FN, FAM_FNUZ, FAM_IEEE, OVF_SAT, OVF_WRAP, RDN
from ..jitcache import njit
from .descriptors import (
    FMT_FAMILY,
    FMT_INF,
    FMT_MAX_MAG,
    FMT_NAN,
    U0,
    fixed_limits,
    is_float,
    sign_bit,
)

CLS_FINITE = 0
CLS_INF = 1
CLS_NAN = 2
UNORDERED = 2  # compare result when an operand is NaN (beside -1, 0, 1)


# --- codes: which codes are special, and the codes of special results (§2.2, §3.1, §3.2) ------

@njit(cache=True, inline="always")
def classify(code, mag, fmt):
    """Class of a float code (mag: the code without its sign bit), by the layout table §2.2:
    ieee: exponent all ones is Inf (mantissa 0) or NaN; fn: magnitude all ones is NaN; fnuz: only
    100...0 is NaN; finite: no specials."""
    fam = fmt[FMT_FAMILY]
    if fam == FAM_IEEE:
        if mag >= np.uint64(fmt[FMT_INF]):
            return CLS_INF if mag == np.uint64(fmt[FMT_INF]) else CLS_NAN
    elif fam == FAM_FN:
        if mag == np.uint64(fmt[FMT_NAN]):
            return CLS_NAN
    elif fam == FAM_FNUZ:
        if code == np.uint64(fmt[FMT_NAN]):
            return CLS_NAN
    return CLS_FINITE


@njit(cache=True, inline="always")
def with_sign(fmt, mag, neg):
    """Float code of a magnitude code and a sign; fnuz has no -0, so a zero is always 0x00 (§3.4)."""
    return mag | (sign_bit(fmt) if neg and not (fmt[FMT_FAMILY] == FAM_FNUZ and mag == U0) else U0)


@njit(cache=True, nogil=True)
def nan_code(fmt, neg):
    """Canonical NaN with the sign of the NaN produced; fnuz's one NaN code (100...0) has no
    sign (§3.1). Only for formats with a NaN code (``fmt[FMT_NAN] >= 0``)."""
    code = np.uint64(fmt[FMT_NAN])
    if neg and fmt[FMT_FAMILY] != FAM_FNUZ:
        code |= sign_bit(fmt)
    return code


@njit(cache=True, inline="always")
def inf_code(fmt, neg, saturate):
    """Float code of an infinite result or of an overflow (§3.2, §5.1): +-max when saturating
    (and always in the finite family), else +-Inf where the layout has Inf, else the canonical
    NaN with that sign."""
    if saturate or fmt[FMT_FAMILY] == FAM_FINITE:
        return with_sign(fmt, np.uint64(fmt[FMT_MAX_MAG]), neg)
    if fmt[FMT_INF] >= 0:
        return with_sign(fmt, np.uint64(fmt[FMT_INF]), neg)
    return nan_code(fmt, neg)


@njit(cache=True, nogil=True)
def inf_or_overflow_code(fmt, neg, overflow):
    """Code of an infinite value in any format (§3.2): floats by ``inf_code`` (saturating under
    OVF_SAT; the mode is not consulted); fixed point clamps to the bound of that sign under
    sat/sat_sym (unsigned: +Inf -> max, -Inf -> 0). Wrap is the caller's error (``emit``)."""
    if is_float(fmt):
        return inf_code(fmt, neg, overflow == OVF_SAT)
    mask, maxpos, maxneg = fixed_limits(fmt, overflow)
    return (U0 - maxneg) & mask if neg else maxpos


@njit(cache=True, inline="always")
def emit(cls, neg, dst, overflow):
    """(code, ok) of a NaN or Inf result with sign neg in dst (§3.2, §3.3): NaN -> the canonical
    NaN; Inf -> ``inf_or_overflow_code``. ok=False where the target cannot hold it: a NaN into a
    format without NaN (fixed point, finite), an Inf into wrapping fixed point."""
    if cls == CLS_NAN:
        if dst[FMT_NAN] >= 0:  # only floats have a NaN code
            return nan_code(dst, neg), True
        return U0, False
    if not is_float(dst) and overflow == OVF_WRAP:
        return U0, False
    return inf_or_overflow_code(dst, neg, overflow), True


# --- operations with a special operand (§3.3) ----------------------------------------------------

@njit(cache=True, inline="always")
def first_nan_sign(ca, na, cb, nb):
    """Sign of the first NaN operand in argument order (a NaN result takes it); call only when
    a or b is NaN."""
    return na if ca == CLS_NAN else nb


@njit(cache=True, inline="always")
def sum_special(ca, na, cb, nb, nb_eff):
    """Class and sign of a + b (nb: b's own sign, nb_eff: its sign as an addend, flipped in a
    subtraction). A NaN gives NaN with the sign of the first NaN operand, own sign kept; Inf - Inf
    (after the subtrahend's sign is applied) is the invalid NaN, sign 0; an Inf wins over a
    finite value. CLS_FINITE when neither is special."""
    if ca == CLS_NAN or cb == CLS_NAN:
        return CLS_NAN, first_nan_sign(ca, na, cb, nb)
    if ca == CLS_INF and cb == CLS_INF and na != nb_eff:
        return CLS_NAN, False
    if ca == CLS_INF:
        return CLS_INF, na
    if cb == CLS_INF:
        return CLS_INF, nb_eff
    return CLS_FINITE, False


@njit(cache=True, inline="always")
def product_special(ca, na, a_zero, cb, nb, b_zero):
    """Class and sign of a * b (a_zero/b_zero: the operand's significand is 0). NaN: sign of the
    first NaN operand; 0 x Inf: the invalid NaN, sign 0; Inf x nonzero: Inf with the xor of the
    signs. CLS_FINITE (sign: the xor) when neither is special."""
    if ca == CLS_NAN or cb == CLS_NAN:
        return CLS_NAN, first_nan_sign(ca, na, cb, nb)
    if (ca == CLS_INF and cb == CLS_FINITE and b_zero) or (cb == CLS_INF and ca == CLS_FINITE
                                                           and a_zero):
        return CLS_NAN, False
    if ca == CLS_INF or cb == CLS_INF:
        return CLS_INF, na != nb
    return CLS_FINITE, na != nb


@njit(cache=True, inline="always")
def fma_special(ca, na, a_zero, cb, nb, b_zero, cc, nc):
    """Class and sign of a*b + c: a NaN operand first (in the order a, b, c, before any invalid
    operation), then the product's rule, then the sum's: (+-Inf product) + (-+Inf) is invalid."""
    if cc == CLS_NAN and ca != CLS_NAN and cb != CLS_NAN:
        return CLS_NAN, nc
    cp, np_ = product_special(ca, na, a_zero, cb, nb, b_zero)
    return sum_special(cp, np_, cc, nc, nc)


@njit(cache=True, inline="always")
def sum_special_terms(cls, negs):
    """Class and sign of the sum of the terms (classes and signs, as in an accumulation, §9): the
    first NaN term wins over everything, also over an Inf - Inf met before it; else the terms
    fold by ``sum_special`` (opposite Infs: the invalid NaN; Infs of one sign: that Inf)."""
    c, n = CLS_FINITE, False
    for k in range(cls.size):
        if cls[k] != CLS_FINITE:  # a finite term never changes the class: one test per term
            if cls[k] == CLS_NAN:
                return CLS_NAN, negs[k]
            c, n = sum_special(c, n, cls[k], negs[k], negs[k])
    return c, n


@njit(cache=True, inline="always")
def compare_special(ca, na, cb, nb):
    """(decided, result) of comparing a and b when a special is involved: a NaN is unordered
    (UNORDERED; only ``ne`` holds), an Inf is below or above every finite value and equal to an
    Inf of its sign. decided=False: both finite, the caller compares the exact values (-0 == +0)."""
    if ca == CLS_NAN or cb == CLS_NAN:
        return True, UNORDERED
    ia = 0 if ca != CLS_INF else (-1 if na else 1)
    ib = 0 if cb != CLS_INF else (-1 if nb else 1)
    if ia != ib:
        return True, -1 if ia < ib else 1
    return ia != 0, 0


@njit(cache=True, inline="always")
def minmax_takes_a(is_min, c, na):
    """Does minimum (is_min) / maximum return operand a, given c = compare(a, b) in -1, 0, 1?
    IEEE 754-2019: on equal values minimum takes -0 and maximum +0 (§3.3); for equal nonzero
    values either operand has the same value. (A NaN operand: the caller gives NaN with
    ``first_nan_sign``.)"""
    if c == 0:
        return na if is_min else not na
    return (c < 0) if is_min else (c > 0)


# --- signed zero (§3.4) ------------------------------------------------------------------------

@njit(cache=True, inline="always")
def zero_sum_sign(na, a_zero, nb, b_zero, mode):
    """Sign of an exact zero sum a + b (IEEE 754 §6.3): x + x keeps x's sign when both addends
    are zeros of one sign; otherwise +0, or -0 under rdn (stochastic modes: +0)."""
    if a_zero and b_zero and na == nb:
        return na
    return mode == RDN


@njit(cache=True, inline="always")
def zero_sum_sign_terms(negs, sigs, mode):
    """Sign of an exact zero sum of many terms, as ``order="exact"`` gives it (§13.3): -0 if
    every term is a zero and every one is negative, +0 for zeros of mixed signs (unlike
    ``zero_sum_sign``'s two-term rule under rdn), and on a cancellation -0 only under rdn."""
    all_zero = True
    all_neg = negs.size > 0
    for k in range(sigs.size):
        all_zero = all_zero and sigs[k] == U0
        all_neg = all_neg and negs[k]
    if all_zero:
        return all_neg
    return mode == RDN


