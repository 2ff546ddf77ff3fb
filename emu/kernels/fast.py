"""Fast paths for conversions. They add speed, never semantics: each one is either a lookup table
*built by* the rounding core (``convert_codes``) or the host FPU's IEEE-754 roundToIntegral, and
each is tested bit for bit against the core.

1. ``lut_direct``: sources of at most 16 bits -> any target: ``out = table[code]``.
2. ``lut_hi16``: wide float sources -> narrow float targets: the top 16 bits of the source code
   plus one sticky bit (are the other bits nonzero?) index the table. Exact whenever every
   discarded bit below the top 16 lies strictly below the rounding position's half bit, so it
   can only matter as "inexact"; ``hi16_exact`` checks that for every source value.
3. ``sr_hi16``: stochastic rounding (plain ``sr``) of wide float sources into narrow floats. The
   core builds, per top-16-bit index, both neighbours (lo: SR with R = 0, never up; hi: RAZ,
   which moves up with the same overflow semantics as SR) and the rounding position; per element
   only Part B's decision remains: up iff inexact and T + R >= 2**r (carry) or R < T (compare).
4. ``fpu_to_fixed``: float64/float32 -> fixed point under rne/rtz/rdn/rup: scale by 2**frac
   (exact for frac >= 0), round with np.rint/trunc/floor/ceil (IEEE roundToIntegral, exact), clamp.
"""

import threading

import numpy as np

from ..jitcache import njit
from .convert import convert_codes, split_code
from .core import (
    KIND_FIXED,
    KIND_FLOAT,
    OVF_SAT_SYM,
    OVF_WRAP,
    RAZ,
    RDN,
    RNE,
    RTO,
    RTZ,
    RUP,
    SR,
    target_lsb,
    value_exponent,
)

U0 = np.uint64(0)
U1 = np.uint64(1)
_EMPTY_U64 = np.empty(0, np.uint64)
_EMPTY_I8 = np.empty(0, np.int8)
_TABLES: dict = {}
_BUILDING = threading.RLock()  # blocks of one call may ask for a table at the same time
TABLE_BITS = 16
MIN_TABLE_SIZE = 4096  # below this many elements the core beats building a 2**17-entry table


def _out_dtype(dst) -> np.dtype:
    bits = dst[1]
    return np.dtype(np.uint8 if bits <= 8 else np.uint16 if bits <= 16 else
                    np.uint32 if bits <= 32 else np.uint64)


def _build(src_codes: np.ndarray, src, dst, mode, overflow):
    """Table of core results for ``src_codes``, and a 0/1 table of entries the target cannot
    hold (empty when there are none): a lookup that hits one falls back to the core."""
    out = np.empty(src_codes.size, np.uint64)  # uint64: the core kernel compiles once
    bad = np.zeros(src_codes.size, np.uint8)
    first = convert_codes(src_codes, src, out, dst, mode, overflow, 1, _EMPTY_U64, 0, _EMPTY_I8,
                          False, bad)
    return out.astype(_out_dtype(dst)), (bad if first >= 0 else np.empty(0, np.uint8))


def _cached(key, build):
    """The table under ``key``, built once (under a lock: blocks of one call run in threads)."""
    with _BUILDING:
        if key not in _TABLES:
            _TABLES[key] = build()
        return _TABLES[key]


def _hi16_codes(src) -> np.ndarray:
    """The source code standing for each table index: top 16 bits, then a sticky bit."""
    idx = np.arange(1 << (TABLE_BITS + 1), dtype=np.uint64)
    low = src[1] - TABLE_BITS
    return ((idx >> np.uint64(1)) << np.uint64(low)) | (idx & np.uint64(1))


def direct_table(src, dst, mode, overflow):
    return _cached(("direct", src, dst, mode, overflow), lambda: _build(
        np.arange(1 << src[1], dtype=np.uint64), src, dst, mode, overflow))


def hi16_table(src, dst, mode, overflow):
    return _cached(("hi16", src, dst, mode, overflow),
                   lambda: _build(_hi16_codes(src), src, dst, mode, overflow))


def _packed(table: np.ndarray) -> np.ndarray:
    def build():
        pairs = table.reshape(-1, 2).astype(np.uint16)
        return (pairs[:, 0] | (pairs[:, 1] << np.uint16(8))).copy()

    return _cached(("packed", id(table)), build)


def hi16_exact(src, dst) -> bool:
    """Is every bit below the top 16 of a ``src`` code below the half bit of its rounding
    position in ``dst``? (float -> float only). The rounding position of a source value
    ``(-1)**s * sig * 2**exp`` is ``shift = q - exp`` bits above sig's LSB (see core)."""
    if src[0] != KIND_FLOAT or dst[0] != KIND_FLOAT or src[1] <= TABLE_BITS:
        return False
    m_src, bias_src = src[2], src[4]
    m_dst, emin_dst = dst[2], 1 - dst[4]
    emin_src = 1 - bias_src
    need = src[1] - TABLE_BITS + 1  # half bit (shift - 1) must be >= the low part's width
    min_shift = m_src - m_dst  # every normal source value
    for b in range(1, m_src + 1):  # subnormal sources with b significant bits
        ev = emin_src - m_src + b - 1
        min_shift = min(min_shift, max(ev, emin_dst) - m_dst - (emin_src - m_src))
    return min_shift >= need


@njit(cache=True, nogil=True)
def lut_direct(src_codes, out, table, bad_table):
    """out[i] = table[src_codes[i]]; returns True if any element hit a bad entry."""
    for i in range(src_codes.size):
        out[i] = table[src_codes[i]]
    bad = np.uint8(0)
    if bad_table.size > 0:
        for i in range(src_codes.size):
            bad |= bad_table[src_codes[i]]
    return bad != 0


@njit(cache=True, inline="always")
def _hi16_index(code, lb, low_mask):
    """Table index of a wide code: its top 16 bits, then one sticky bit (low bits nonzero)."""
    u = np.uint64(code)
    return np.intp(((u >> lb) << np.uint64(1)) | np.uint64((u & low_mask) != 0))


@njit(cache=True, nogil=True)
def lut_hi16(src_codes, out, table, bad_table, low_bits):
    """out[i] = table[top16 << 1 | (low bits != 0)]; returns True if any bad entry was hit."""
    lb = np.uint64(low_bits)
    low_mask = (np.uint64(1) << lb) - np.uint64(1)
    for i in range(src_codes.size):
        out[i] = table[_hi16_index(src_codes[i], lb, low_mask)]
    bad = np.uint8(0)
    if bad_table.size > 0:
        for i in range(src_codes.size):
            bad |= bad_table[_hi16_index(src_codes[i], lb, low_mask)]
    return bad != 0


@njit(cache=True, nogil=True)
def lut_hi16_packed(src_codes, out, pairs, low_bits):
    """8-bit targets: ``pairs[top16]`` holds the code for zero low bits in its low byte and for
    nonzero low bits in its high byte (one load per element instead of an index computation)."""
    lb = np.uint64(low_bits)
    low_mask = (np.uint64(1) << lb) - np.uint64(1)
    for i in range(src_codes.size):
        u = np.uint64(src_codes[i])
        out[i] = pairs[u >> lb] >> (np.uint16((u & low_mask) != 0) << np.uint16(3))


@njit(cache=True, inline="always")
def _rint(y):
    return np.rint(y)


@njit(cache=True, inline="always")
def _trunc(y):
    return np.trunc(y)


@njit(cache=True, inline="always")
def _floor(y):
    return np.floor(y)


@njit(cache=True, inline="always")
def _ceil(y):
    return np.ceil(y)




@njit(nogil=True, inline="always")
def _fpu_round(x, out, scale, lo, hi, mask, rounder, clamp):
    """One loop per rounding function (a compile-time argument), so LLVM can vectorize it.
    Returns False if some element needs the core (|r| >= 2**62, Inf or NaN: the test fails).
    Not cached itself: a cached kernel never takes a function argument (its type differs in
    every process, so each process would add a cache entry); the entry points below fix it."""
    limit = 2.0 ** 62
    fine = True
    for i in range(x.size):
        r = rounder(x[i] * scale)
        fine &= abs(r) < limit
        if clamp:
            r = min(max(r, lo), hi)
        out[i] = np.int64(r) & mask
    return fine


@njit(cache=True, nogil=True)
def _fpu_rint(x, out, scale, lo, hi, mask, clamp):
    return _fpu_round(x, out, scale, lo, hi, mask, _rint, clamp)


@njit(cache=True, nogil=True)
def _fpu_trunc(x, out, scale, lo, hi, mask, clamp):
    return _fpu_round(x, out, scale, lo, hi, mask, _trunc, clamp)


@njit(cache=True, nogil=True)
def _fpu_floor(x, out, scale, lo, hi, mask, clamp):
    return _fpu_round(x, out, scale, lo, hi, mask, _floor, clamp)


@njit(cache=True, nogil=True)
def _fpu_ceil(x, out, scale, lo, hi, mask, clamp):
    return _fpu_round(x, out, scale, lo, hi, mask, _ceil, clamp)


_FPU_ROUND = {RNE: _fpu_rint, RTZ: _fpu_trunc, RDN: _fpu_floor, RUP: _fpu_ceil}


def fpu_to_fixed(x, out, frac, signed, width, mode, overflow):
    """Host-FPU path, float -> fixed with frac >= 0 (see module doc). Returns False when some
    element needs the core (NaN, Inf, or a magnitude >= 2**62 after scaling)."""
    hi = float(2 ** (width - 1) - 1) if signed else float(2 ** width - 1)
    lo = -float(2 ** (width - 1)) if signed else 0.0
    if overflow == OVF_SAT_SYM and signed:
        lo = -hi
    mask = (1 << width) - 1 if width < 64 else -1
    return _FPU_ROUND[mode](x, out, 2.0 ** frac, lo, hi, mask, overflow != OVF_WRAP)


def sr_fast_ok(src, dst, rbits) -> bool:
    """sr_hi16 applies: hi16 tables are exact, the low part is plain significand bits, source
    subnormals all lie below the target's normal range (so their rounding position does not
    depend on the low bits), and sig << r fits 64 bits."""
    low = src[1] - TABLE_BITS
    return (hi16_exact(src, dst) and src[2] >= low and 1 - src[4] <= 1 - dst[4]
            and src[2] + 1 + rbits <= 64 and dst[1] <= 32)


def sr_tables(src, dst, overflow):
    def build():
        codes = _hi16_codes(src)
        lo, bad = _build_sr_lo(codes, src, dst, overflow)
        hi, _ = _build(codes, src, dst, RAZ, overflow)  # same entries are bad as for lo
        shift = np.empty(1 << TABLE_BITS, np.int64)
        sig_hi = np.empty(1 << TABLE_BITS, np.uint64)
        _positions(codes[::2].copy(), src, dst, shift, sig_hi)
        shift = np.clip(shift, 0, 63).astype(np.uint8)  # see sr_hi16
        half = 8 if dst[1] <= 8 else 16 if dst[1] <= 16 else 32
        wide = {8: np.uint16, 16: np.uint32, 32: np.uint64}[half]
        pairs = lo.astype(wide) | (hi.astype(wide) << wide(half))
        return pairs, half, shift, sig_hi, bad

    return _cached(("sr", src, dst, overflow), build)


def _build_sr_lo(codes, src, dst, overflow):
    out = np.empty(codes.size, np.uint64)
    bad = np.zeros(codes.size, np.uint8)
    first = convert_codes(codes, src, out, dst, SR, overflow, 1, np.zeros(codes.size, np.uint64),
                          0, _EMPTY_I8, False, bad)
    return out.astype(_out_dtype(dst)), (bad if first >= 0 else np.empty(0, np.uint8))


@njit(cache=True, nogil=True)
def _positions(codes, src, dst, shift, sig_hi):
    """Rounding position (discarded bit count) and significand of each index's code, from the
    core's own target_lsb."""
    for i in range(codes.size):
        cls, neg, sig, exp = split_code(codes[i], src)
        sig_hi[i] = sig
        if sig == 0:  # zero or subnormal with all bits below: use the smallest-value position
            sig1 = np.uint64(1)
            shift[i] = target_lsb(value_exponent(sig1, exp), dst) - exp
        else:
            shift[i] = target_lsb(value_exponent(sig, exp), dst) - exp


@njit(cache=True, nogil=True)
def sr_hi16(src_codes, out, pairs, half, shift_t, sighi_t, low_bits, rwords, rbits, compare):
    """Branch-free (SR decisions are coin flips: a branch would mispredict half the time).
    ``pairs[e]`` holds the lo neighbour in its low ``half`` bits and the hi one above them.
    shift_t is clamped to 0..63 (0: nothing discarded, never up; 63: every significand bit
    discarded, T = 0, never up, as for any larger shift). Both forms use one test: compare's
    R < T is T + (2**r - 1 - R) >= 2**r, and 2**r - 1 - R = R ^ (2**r - 1)."""
    lb = np.uint64(low_bits)
    low_mask = (U1 << lb) - U1
    r = np.uint64(rbits)
    flip = ((U1 << r) - U1) if compare else U0
    hbits = np.uint64(half)
    mask = (U1 << hbits) - U1
    for i in range(src_codes.size):
        u = np.uint64(src_codes[i])
        hi16 = u >> lb
        low = u & low_mask
        e = (hi16 << U1) | np.uint64(low != U0)
        sig = sighi_t[hi16] | low
        sh = np.uint64(shift_t[hi16])
        disc = sig & ((U1 << sh) - U1)
        t = (disc << r) >> sh  # T < 2**r
        up = np.uint64(disc != U0) & ((t + (np.uint64(rwords[i]) ^ flip)) >> r)
        out[i] = (np.uint64(pairs[e]) >> (up * hbits)) & mask


def convert(src_codes, src, out, dst, mode, overflow, host=None) -> bool:
    """Try a fast path for ``convert_codes`` (deterministic modes). Returns True when ``out`` was
    filled and every element was representable; False means: run the core."""
    if src_codes.size < MIN_TABLE_SIZE or mode > RTO:
        return False  # few elements: the core is faster than building a table
    if src[1] <= TABLE_BITS:
        table, bad = direct_table(src, dst, mode, overflow)
        return not lut_direct(src_codes, out, table, bad)
    if hi16_exact(src, dst):
        table, bad = hi16_table(src, dst, mode, overflow)
        if dst[1] <= 8 and bad.size == 0:
            lut_hi16_packed(src_codes, out, _packed(table), src[1] - TABLE_BITS)
            return True
        return not lut_hi16(src_codes, out, table, bad, src[1] - TABLE_BITS)
    if (host is not None and dst[0] == KIND_FIXED and mode in (RNE, RTZ, RDN, RUP)
            and dst[1] <= 62 and 0 <= dst[2] < 1000):  # frac >= 0: scaling never underflows
        return fpu_to_fixed(host, out, dst[2], dst[3] != 0, dst[1], mode, overflow)
    return False



def convert_sr(src_codes, src, out, dst, overflow, rbits, rwords, compare) -> bool:
    """Try the sr_hi16 path for plain ``sr``; False means: run the core."""
    if src_codes.size < MIN_TABLE_SIZE or not sr_fast_ok(src, dst, rbits):
        return False
    pairs, half, shift, sig_hi, bad = sr_tables(src, dst, overflow)
    if bad.size:
        return False
    sr_hi16(src_codes, out, pairs, half, shift, sig_hi, src[1] - TABLE_BITS, rwords, rbits, compare)
    return True


@njit(cache=True, nogil=True)
def lut_pairs(a, b, out, table, b_bits):
    """out[i] = table[a[i] << b_bits | b[i]]: binary ops on operands of at most 8 bits, with the
    table built by the arithmetic kernels over all pairs."""
    sh = np.uint64(b_bits)
    for i in range(a.size):
        out[i] = table[np.intp((np.uint64(a[i]) << sh) | np.uint64(b[i]))]
