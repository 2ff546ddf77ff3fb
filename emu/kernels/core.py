"""THE rounding core: exact (sign, significand, exponent, sticky) -> code of any format.

Every conversion and every arithmetic operation computes its exact result as
``(-1)**neg * (sig + sticky*) * 2**exp`` and hands it to ``round_code`` with the target's format
descriptor and a rounding descriptor (``emu.kernels.descriptors``); it rounds once under the mode,
applies subnormals and the overflow policy, and packs the code (the pattern of Berkeley
SoftFloat's ``roundPackTo*``). NaN/Inf are never its input: see ``emu.kernels.specials``.

``sticky`` (nonzero: bits beyond ``sig``'s LSB are nonzero, i.e. the value lies strictly between
``sig * 2**exp`` and ``(sig + 1) * 2**exp``) lets a caller round a value wider than 64 bits,
e.g. an error-free sum: it needs ``sig != 0`` and at least ``SR_MAX_BITS + 2`` bits of ``sig``
below the target's LSB, so that the half bit and the top r discarded bits (the stochastic-rounding
threshold T) are exact and the sticky only decides "inexact" and ties. Conversions from float64
and fixed point are exact and pass 0.

Random-word contract (docs/semantics.md §6): ``rword`` is the element's r-bit word R and
``direction`` the signed mode's d; r, the biased modes' offset E and the SR form are in the
rounding descriptor.
"""

import numpy as np
from numba.cpython.unsafe.numbers import leading_zeros

from ..codes import (  # noqa: F401 - re-exported: the kernels' constants live in emu.codes
    FAM_FINITE,
    FAM_FN,
    FAM_FNUZ,
    FAM_IEEE,
    KIND_FIXED,
    KIND_FLOAT,
    OVF_INF,
    OVF_SAT,
    OVF_SAT_SYM,
    OVF_WRAP,
    RAZ,
    RDN,
    RNA,
    RND,
    RNE,
    RNU,
    RNZ,
    RTO,
    RTZ,
    RUP,
    SIGNED_SR_EPS,
    SR,
    SR_EPS,
    SR_EQUAL,
    SR_MAX_BITS,
)
from ..jitcache import njit
from .descriptors import (
    ALL_ONES,
    FMT_FRAC,
    FMT_MAN,
    FMT_MAX_MAG,
    RND_COMPARE,
    RND_EOFF,
    RND_MODE,
    RND_OVERFLOW,
    RND_RBITS,
    U0,
    U1,
    emin,
    fixed_limits,
    is_float,
    rounding,
)
from .specials import inf_code, with_sign

# Per deterministic mode, a 4-bit truth table indexed by (neg << 1 | odd) of the truncated code:
# nearest modes: move up on an exact tie; directed modes: move up when inexact. (docs/semantics.md §4.)
#                    RNE     RNA     RNZ     RNU     RND     RTZ     RDN     RUP     RAZ     RTO
_TABLES = (0b1010, 0b1111, 0b0000, 0b0011, 0b1100, 0b0000, 0b1100, 0b0011, 0b1111, 0b0101)
MODE_TABLES = sum(t << (4 * i) for i, t in enumerate(_TABLES))


@njit(cache=True, inline="always")
def value_exponent(sig, exp):
    """Exponent of the leading bit of sig * 2**exp (sig != 0)."""
    nbits = 64 - np.int64(leading_zeros(sig)) if sig != U0 else np.int64(0)  # one LZCNT
    return exp + nbits - 1


@njit(cache=True, inline="always")
def target_lsb(ev, fmt):
    """Exponent of the target's LSB for a value whose leading bit has exponent ev: floats round
    at M bits below the leading bit, or at the subnormal LSB below emin; fixed at -frac."""
    if is_float(fmt):
        lo = emin(fmt)
        return (ev if ev >= lo else lo) - fmt[FMT_MAN]
    return -fmt[FMT_FRAC]


@njit(cache=True, inline="always")
def rounds_toward_zero(mode, neg):
    """Does the mode round this sign's values toward zero? (§5.1 rule 2: such a mode overflows to
    +-max: rtz; rto, truncation with the inexact bit jammed in; rdn for +; rup for -.)"""
    return mode == RTZ or mode == RTO or (mode == RDN and not neg) or (mode == RUP and neg)


@njit(cache=True, nogil=True)
def round_code(neg, sig, exp, sticky, fmt, rnd, rword, direction):
    """Round the exact value (-1)**neg * (sig + sticky*) * 2**exp into format ``fmt`` under the
    rounding descriptor ``rnd`` (``descriptors.rounding``); ``rword``/``direction``: this
    element's R and d. See the module doc for ``sticky``.

    Returns the code as uint64. ``sig == 0 and sticky == 0`` is zero, signed where the format has
    -0. Written branch-light (selects, not jumps) because rounding decisions on real data are
    unpredictable.
    """
    mode = rnd[RND_MODE]
    overflow = rnd[RND_OVERFLOW]
    rbits = rnd[RND_RBITS]
    flt = is_float(fmt)
    man = fmt[FMT_MAN]
    sticky_b = sticky != 0

    # 1. Target LSB exponent q for this value (floats: by binade, subnormal below emin).
    ev = value_exponent(sig, exp)
    e_min = emin(fmt)
    shift = target_lsb(ev, fmt) - exp

    # 2. Split: kept part and discarded part rem (shift > 0), or an exact left shift (shift <= 0).
    lsh = -shift if shift < 0 else np.int64(0)
    rsh = shift if shift > 0 else np.int64(0)
    lsh_c = np.uint64(lsh if lsh < 63 else 63)
    rsh_c = np.uint64(rsh if rsh < 63 else 63)
    kept_l = sig << lsh_c
    kept_l = kept_l if lsh < 64 else U0
    # fixed targets only: does the exact kept magnitude reach 2**64?
    big = lsh > 0 and sig != U0 and (lsh >= 64 or (sig >> np.uint64(64 - lsh if lsh < 64 else 1)) != U0)
    kept_r = sig >> rsh_c
    kept_r = kept_r if rsh < 64 else U0
    kept = kept_l if shift <= 0 else kept_r
    rmask = (U1 << rsh_c) - U1
    rmask = rmask if rsh < 64 else ALL_ONES
    rem = sig & rmask if shift > 0 else U0
    inexact = rem != U0 or sticky_b
    # compare the discarded part with one half of the kept LSB (2**(rsh-1); beyond 2**64 if far)
    half = U1 << np.uint64(rsh - 1 if 0 < rsh <= 64 else 0)
    near = 0 < rsh <= 64
    gt_half = near and (rem > half or (rem == half and sticky_b))
    tie = near and rem == half and not sticky_b

    # 3. Truncated magnitude code. Floats: exponent field and mantissa packed so that adding 1
    #    carries from the mantissa into the exponent (SoftFloat's trick); subnormal: kept < 2**M.
    normal = flt and ev >= e_min
    mag = kept + (np.uint64(ev - e_min if normal else 0) << np.uint64(man if normal else 0))

    # 4. Decide whether the magnitude moves up one unit.
    odd = (mag & U1) != U0
    if mode < SR:
        table_bit = (MODE_TABLES >> (4 * mode + 2 * np.int64(neg) + np.int64(odd))) & 1 == 1
        if mode < RTZ:  # nearest modes
            up = gt_half or (tie and table_bit)
        else:
            up = inexact and table_bit
    else:
        # Stochastic: decide "round to hi" in the value's own frame. Floats: lo is the
        # truncated magnitude. Fixed: lo is the floor, so a negative value's discarded
        # fraction is the two's-complement one, 1 - D/2**shift.
        tc = (not flt) and neg
        k = rsh - rbits  # T = floor(D * 2**r / 2**rsh): the top r discarded bits
        if k <= 0:
            top = rem << np.uint64(-k)
            below = sticky_b
        else:
            top = rem >> np.uint64(k if k < 64 else 63)
            top = top if k < 64 else U0
            below = (rem & ((U1 << np.uint64(k if k < 64 else 63)) - U1)) != U0 if k < 64 \
                else rem != U0
            below = below or sticky_b
        t = np.int64(top)
        if tc:
            t = (np.int64(1) << rbits) - t - np.int64(below)
        s = np.int64(0)
        if mode == SR_EPS:
            s = np.int64(-1) if tc else np.int64(1)  # favour the neighbour farther from 0
        elif mode == SIGNED_SR_EPS:
            # favour the neighbour toward d*inf: for floats hi is up in magnitude
            s = -direction if (flt and neg) else direction
        r = np.int64(rword)
        if mode == SR_EQUAL:
            hi = (r >> (rbits - 1)) & 1 == 1
        elif rnd[RND_COMPARE] != 0:
            hi = r < t + s * rnd[RND_EOFF]
        else:
            hi = t + r + s * rnd[RND_EOFF] >= (np.int64(1) << rbits)
        up = inexact and ((not hi) if tc else hi)
    big = big or (up and mag == ALL_ONES)
    mag = mag + np.uint64(up)

    # 5. Overflow (§5) and packing.
    if flt:
        maxmag = np.uint64(fmt[FMT_MAX_MAG])
        if sig == U0 and not sticky_b:
            mag = U0
        if mag > maxmag:
            return inf_code(fmt, neg, overflow == OVF_SAT or rounds_toward_zero(mode, neg))
        return with_sign(fmt, mag, neg)

    mask, maxpos, maxneg = fixed_limits(fmt, overflow)
    if neg:
        if (big or mag > maxneg) and overflow != OVF_WRAP:
            mag = maxneg
        return (U0 - mag) & mask
    if (big or mag > maxpos) and overflow != OVF_WRAP:
        return maxpos
    return mag & mask


@njit(cache=True, nogil=True)
def round_pack(neg, sig, exp, sticky, fmt, mode, overflow, rbits, rword, eoff, direction, compare):
    """``round_code`` with the rounding descriptor's fields as arguments: the spelling for
    callers that hold them apart (``emu.exact`` from Python, tests)."""
    return round_code(neg, sig, exp, sticky, fmt, rounding(mode, overflow, rbits, eoff, compare),
                      rword, direction)
