"""Conversion kernels: codes of one format -> codes of another, through the rounding core.

Host floats are formats too: float64 is e11m52 ieee and float32 is e8m23 ieee, so quantizing an
array, decoding registers to float64 and converting between formats are all ``convert_codes``.
The fast paths (``lut_*``) are tables *built by* ``convert_codes``: they add speed, never logic.
"""

import numpy as np

from ..jitcache import njit
from .core import FAM_IEEE, KIND_FLOAT, U0, U1, round_code
from .descriptors import (
    FMT_BIAS,
    FMT_FRAC,
    FMT_MAN,
    FMT_SIGNED,
    RND_OVERFLOW,
    code_mask,
    emin,
    is_float,
    rounding,
    sign_bit,
)
from .specials import (  # noqa: F401 - CLS_INF, CLS_NAN: split_code's classes, re-exported
    CLS_FINITE,
    CLS_INF,
    CLS_NAN,
    classify,
    emit,
)

# Host IEEE formats as descriptors (see emu.kernels.descriptors for the layout).
F64 = (KIND_FLOAT, 64, 52, 11, 1023, FAM_IEEE, 0x7FEFFFFFFFFFFFFF, 0x7FF8000000000000,
       0x7FF0000000000000)
F32 = (KIND_FLOAT, 32, 23, 8, 127, FAM_IEEE, 0x7F7FFFFF, 0x7FC00000, 0x7F800000)


@njit(cache=True, nogil=True)
def split_code(code, fmt):
    """Exact value of a code as (class, neg, sig, exp): value = (-1)**neg * sig * 2**exp."""
    code = np.uint64(code)
    signbit = sign_bit(fmt)
    if not is_float(fmt):
        neg = fmt[FMT_SIGNED] != 0 and code & signbit != U0
        if neg:
            # two's-complement magnitude; 2**63 (the most negative s64) still fits a uint64
            sig = (U0 - code) & code_mask(fmt)
        else:
            sig = code
        return CLS_FINITE, neg, sig, np.int64(-fmt[FMT_FRAC])
    neg = code & signbit != U0
    mag = code & (signbit - U1)
    cls = classify(code, mag, fmt)
    man = fmt[FMT_MAN]
    e = np.int64(mag >> np.uint64(man))
    m = mag & ((U1 << np.uint64(man)) - U1)
    if e == 0:
        return cls, neg, m, np.int64(emin(fmt) - man)
    return cls, neg, m | (U1 << np.uint64(man)), e - fmt[FMT_BIAS] - man


@njit(cache=True, inline="always")
def round_split(cls, neg, sig, exp, dst, rnd, rword, direction):
    """(code, ok) of a value given as split_code gives it, rounded into dst under the rounding
    descriptor ``rnd``: finite values through the core, NaN and Inf by ``specials.emit`` (ok is
    False for a value the target cannot hold: NaN into a format without NaN, Inf into wrapping
    fixed point)."""
    if cls == CLS_FINITE:
        return round_code(neg, sig, exp, 0, dst, rnd, rword, direction), True
    return emit(cls, neg, dst, rnd[RND_OVERFLOW])


@njit(cache=True, nogil=True)
def convert_one(code, src, dst, rnd, rword, direction):
    """Convert one code (see ``round_split``); returns (code, ok)."""
    cls, neg, sig, exp = split_code(code, src)
    return round_split(cls, neg, sig, exp, dst, rnd, rword, direction)


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
    rnd = rounding(mode, overflow, rbits, eoff, compare)
    bad = -1
    for i in range(src_codes.size):
        rword, d = element_sr(rwords, dirs, i)
        code, ok = convert_one(src_codes[i], src, dst, rnd, rword, d)
        if not ok:
            if bad < 0:
                bad = i
            if bad_out.size > 0:
                bad_out[i] = 1
        out[i] = code
    return bad
