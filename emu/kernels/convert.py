"""Conversion kernels: codes of one format -> codes of another, through the rounding core.

Host floats are formats too: float64 is e11m52 ieee and float32 is e8m23 ieee, so quantizing an
array, decoding registers to float64 and converting between formats are all ``convert_codes``.
The fast paths (``lut_*``) are tables *built by* ``convert_codes``: they add speed, never logic.
"""

import numpy as np

from ..jitcache import njit
from .core import (
    FAM_FN,
    FAM_FNUZ,
    FAM_IEEE,
    KIND_FIXED,
    KIND_FLOAT,
    OVF_WRAP,
    U0,
    U1,
    inf_or_overflow_code,
    nan_code,
    round_pack,
)

# Host IEEE formats as descriptors (see emu.kernels.core for the layout).
F64 = (KIND_FLOAT, 64, 52, 11, 1023, FAM_IEEE, 0x7FEFFFFFFFFFFFFF, 0x7FF8000000000000,
       0x7FF0000000000000)
F32 = (KIND_FLOAT, 32, 23, 8, 127, FAM_IEEE, 0x7F7FFFFF, 0x7FC00000, 0x7F800000)

CLS_FINITE = 0
CLS_INF = 1
CLS_NAN = 2


@njit(cache=True, nogil=True)
def split_code(code, fmt):
    """Exact value of a code as (class, neg, sig, exp): value = (-1)**neg * sig * 2**exp."""
    code = np.uint64(code)
    bits = fmt[1]
    if fmt[0] == KIND_FIXED:
        neg = fmt[3] != 0 and (code >> np.uint64(bits - 1)) & U1 == U1
        if neg:
            # two's-complement magnitude; 2**63 (the most negative s64) still fits a uint64
            sig = (U0 - code) & (np.uint64(0xFFFFFFFFFFFFFFFF) >> np.uint64(64 - bits))
        else:
            sig = code
        return CLS_FINITE, neg, sig, np.int64(-fmt[2])
    signbit = U1 << np.uint64(bits - 1)
    neg = code & signbit != U0
    mag = code & (signbit - U1)
    fam = fmt[5]
    cls = CLS_FINITE
    if fam == FAM_IEEE:
        if mag >= np.uint64(fmt[8]):
            cls = CLS_INF if mag == np.uint64(fmt[8]) else CLS_NAN
    elif fam == FAM_FN:
        if mag == np.uint64(fmt[7]):
            cls = CLS_NAN
    elif fam == FAM_FNUZ:
        if code == np.uint64(fmt[7]):
            cls = CLS_NAN
    man = fmt[2]
    e = np.int64(mag >> np.uint64(man))
    m = mag & ((U1 << np.uint64(man)) - U1)
    if e == 0:
        return cls, neg, m, np.int64(1 - fmt[4] - man)
    return cls, neg, m | (U1 << np.uint64(man)), e - fmt[4] - man


@njit(cache=True, inline="always")
def emit_special(cls, neg, dst, overflow):
    """Code for a NaN or Inf result (Part B: canonical NaN; Inf, NaN or +-max by the overflow
    policy); ok=False when the target cannot hold it (NaN without a NaN code, Inf under wrap)."""
    if cls == CLS_NAN:
        if dst[0] == KIND_FLOAT and dst[7] >= 0:
            return nan_code(dst, neg), True
        return U0, False
    if dst[0] == KIND_FIXED and overflow == OVF_WRAP:
        return U0, False
    return inf_or_overflow_code(dst, neg, overflow), True


@njit(cache=True, nogil=True)
def convert_one(code, src, dst, mode, overflow, rbits, rword, eoff, direction, compare):
    """Convert one code; returns (code, ok). ok is False for a value the target cannot hold
    (NaN into a format without NaN, Inf into wrapping fixed point)."""
    cls, neg, sig, exp = split_code(code, src)
    if cls == CLS_FINITE:
        return round_pack(neg, sig, exp, 0, dst, mode, overflow, rbits, rword, eoff,
                          direction, compare), True
    return emit_special(cls, neg, dst, overflow)


@njit(cache=True, inline="always")
def element_sr(rwords, dirs, i):
    """Random word and signed-SR direction of element i (0 where the arrays are empty)."""
    r = np.int64(rwords[i]) if rwords.size > 0 else np.int64(0)
    d = np.int64(dirs[i]) if dirs.size > 0 else np.int64(0)
    return r, d


@njit(cache=True, nogil=True)
def convert_codes(src_codes, src, out, dst, mode, overflow, rbits, rwords, eoff, dirs, compare,
                  bad_out):
    """out[i] = code of src_codes[i] rounded into ``dst``. ``rwords``/``dirs`` are empty or one
    per element. Returns the first index the target cannot hold, or -1; ``bad_out`` (empty, or
    one uint8 per element) gets 1 at every such index."""
    bad = -1
    for i in range(src_codes.size):
        rword, d = element_sr(rwords, dirs, i)
        code, ok = convert_one(src_codes[i], src, dst, mode, overflow, rbits, rword, eoff, d,
                               compare)
        if not ok:
            if bad < 0:
                bad = i
            if bad_out.size > 0:
                bad_out[i] = 1
        out[i] = code
    return bad
