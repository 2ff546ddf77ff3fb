"""Named fields of the two descriptors every kernel reads (docs/semantics.md §2, §4-§6).

- A **format descriptor** is the tuple of int64 that ``emu.formats`` builds (``fmt.descriptor``),
  one layout for both kinds; a slot's meaning depends on the kind:

  ====  ============  ==============================  ========================
  slot  index         float                           fixed
  ====  ============  ==============================  ========================
  0     FMT_KIND      KIND_FLOAT                      KIND_FIXED
  1     FMT_BITS      code width                      code width
  2     FMT_MAN       mantissa bits M                 frac (FMT_FRAC)
  3     FMT_EXP       exponent bits X                 1 if signed (FMT_SIGNED)
  4     FMT_BIAS      exponent bias                   0
  5     FMT_FAMILY    layout (FAM_*)                  0
  6     FMT_MAX_MAG   magnitude code of max finite    0
  7     FMT_NAN       +NaN code, or -1 (none)         -1
  8     FMT_INF       +Inf code, or -1 (none)         -1
  ====  ============  ==============================  ========================

- A **rounding descriptor** is ``rounding(mode, overflow, rbits, eoff, compare)``, built once per
  call by the kernels' entry points: RND_MODE (RNE ... SR_EQUAL), RND_OVERFLOW (OVF_*), RND_RBITS
  (r), RND_EOFF (the biased modes' offset E) and RND_COMPARE (the SR form: 1 compare, 0 carry).
  The element's random word R and the signed mode's direction d travel beside it.

Kernels index both by these names, never by number, and use the helpers below for what is derived
from several fields; all are compile-time constants or inlined, so they cost what ``fmt[2]`` did.
"""

import numpy as np

from ..codes import KIND_FLOAT, OVF_SAT
from ..jitcache import njit

FMT_KIND, FMT_BITS, FMT_MAN, FMT_EXP, FMT_BIAS, FMT_FAMILY, FMT_MAX_MAG, FMT_NAN, FMT_INF = range(9)
FMT_FRAC = FMT_MAN  # fixed point keeps frac in the mantissa slot...
FMT_SIGNED = FMT_EXP  # ...and its signedness in the exponent slot
RND_MODE, RND_OVERFLOW, RND_RBITS, RND_EOFF, RND_COMPARE = range(5)

U0 = np.uint64(0)
U1 = np.uint64(1)
ALL_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(cache=True, inline="always")
def is_float(fmt):
    return fmt[FMT_KIND] == KIND_FLOAT


@njit(cache=True, inline="always")
def emin(fmt):
    """Exponent of the smallest normal, 1 - bias (floats)."""
    return 1 - fmt[FMT_BIAS]


@njit(cache=True, inline="always")
def sign_bit(fmt):
    return U1 << np.uint64(fmt[FMT_BITS] - 1)


@njit(cache=True, inline="always")
def code_mask(fmt):
    return ALL_ONES >> np.uint64(64 - fmt[FMT_BITS])


@njit(cache=True, inline="always")
def fixed_limits(fmt, overflow):
    """(mask, maxpos, maxneg) of a fixed format: its code mask and the largest magnitudes a
    positive and a negative value keep when saturating (§5.2: sat reaches -2**(W-1), sat_sym
    stops at -(2**(W-1) - 1); unsigned: 0)."""
    mask = code_mask(fmt)
    if fmt[FMT_SIGNED] != 0:
        maxpos = mask >> U1
        return mask, maxpos, maxpos + U1 if overflow == OVF_SAT else maxpos
    return mask, mask, U0


@njit(cache=True, inline="always")
def rounding(mode, overflow, rbits, eoff, compare):
    """The rounding descriptor: one int64 tuple type, so each kernel compiles once for it."""
    return (np.int64(mode), np.int64(overflow), np.int64(rbits), np.int64(eoff),
            np.int64(compare))
