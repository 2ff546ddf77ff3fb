"""The jitted loops of the fast paths: table lookups, the host-FPU float -> fixed rounding, the
sr_hi16 decision and host float32 arithmetic. Which path runs, the tables and their cache are in
``emu.paths`` (its docstring lists every path, when it applies and why it is exact); nothing
here chooses or builds.

No cached kernel takes a function argument (see emu.jitcache): the FPU rounding function is fixed
by one cached entry point per function over one inlined loop.
"""

import numpy as np

from ..jitcache import njit
from .arith import OP_ADD, OP_SUB
from .convert import split_code
from .core import target_lsb, value_exponent
from .lfsr import stream_bytes, stream_words

U0 = np.uint64(0)
U1 = np.uint64(1)


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
def hits_bad(src_codes, bad_table, low_bits):
    """Does some code's hi16 index (``_hi16_index``) hit a bad entry?"""
    lb = np.uint64(low_bits)
    low_mask = (np.uint64(1) << lb) - np.uint64(1)
    bad = np.uint8(0)
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
def fpu_rint(x, out, scale, lo, hi, mask, clamp):
    return _fpu_round(x, out, scale, lo, hi, mask, _rint, clamp)


@njit(cache=True, nogil=True)
def fpu_trunc(x, out, scale, lo, hi, mask, clamp):
    return _fpu_round(x, out, scale, lo, hi, mask, _trunc, clamp)


@njit(cache=True, nogil=True)
def fpu_floor(x, out, scale, lo, hi, mask, clamp):
    return _fpu_round(x, out, scale, lo, hi, mask, _floor, clamp)


@njit(cache=True, nogil=True)
def fpu_ceil(x, out, scale, lo, hi, mask, clamp):
    return _fpu_round(x, out, scale, lo, hi, mask, _ceil, clamp)


@njit(cache=True, nogil=True)
def positions(codes, src, dst, shift, sig_hi):
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


@njit(cache=True, inline="always")
def _sr_pick(u, rword, pairs, hbits, mask, shift_t, sighi_t, lb, low_mask, r, flip):
    """The §6.2 decision for one code ``u`` with word R = ``rword``, branch-free (SR decisions
    are coin flips: a branch would mispredict half the time). ``pairs[e]`` holds the lo
    neighbour in its low ``hbits`` bits and the hi one above them. shift_t is clamped to 0..63
    (0: nothing discarded, never up; 63: every significand bit discarded, T = 0 since the caller
    keeps sig << r below 2**63, never up, as for any larger shift). Both forms use one test:
    compare's R < T is T + (2**r - 1 - R) >= 2**r, and 2**r - 1 - R = R ^ (2**r - 1) (``flip``)."""
    hi16 = u >> lb
    low = u & low_mask
    e = (hi16 << U1) | np.uint64(low != U0)
    sig = sighi_t[hi16] | low
    sh = np.uint64(shift_t[hi16])
    disc = sig & ((U1 << sh) - U1)
    t = (disc << r) >> sh  # T < 2**r
    up = np.uint64(disc != U0) & ((t + (rword ^ flip)) >> r)
    return (np.uint64(pairs[e]) >> (up * hbits)) & mask


@njit(cache=True, nogil=True)
def sr_hi16(src_codes, out, pairs, half, shift_t, sighi_t, low_bits, rwords, rbits, compare):
    """Plain sr by the hi16 tables, one given word per element (see ``_sr_pick``)."""
    lb = np.uint64(low_bits)
    low_mask = (U1 << lb) - U1
    r = np.uint64(rbits)
    flip = ((U1 << r) - U1) if compare else U0
    hbits = np.uint64(half)
    mask = (U1 << hbits) - U1
    for i in range(src_codes.size):
        out[i] = _sr_pick(np.uint64(src_codes[i]), np.uint64(rwords[i]), pairs, hbits, mask, shift_t,
                          sighi_t, lb, low_mask, r, flip)


@njit(cache=True, nogil=True)
def sr_hi16_stream(src_codes, out, pairs, half, shift_t, sighi_t, low_bits, rbits, compare,
                   ring, made, pos, lags, d, lane0, invert_mask, chunk):
    """``sr_hi16`` fed by the LFSR's leap-forward stream (emu.kernels.lfsr.stream_words) one
    chunk at a time: each chunk's words are made into a buffer that stays in L1, so no word
    array is written to or read from memory. Element k uses lane (lane0 + k) mod L; ``chunk``
    is ``chunk_size(L)``; the words are those emu.LFSR.words gives."""
    n = src_codes.size
    lanes = made.size
    if lanes == 1 and d == 8 and rbits == 8:  # the words are the stream's bytes
        octets = np.empty(min(chunk, n), np.uint8)
        for c0 in range(0, n, chunk):
            c1 = min(c0 + chunk, n)
            b = octets[:c1 - c0]
            stream_bytes(ring, made, pos, lags, c1 - c0, invert_mask, b)
            sr_hi16(src_codes[c0:c1], out[c0:c1], pairs, half, shift_t, sighi_t, low_bits, b,
                    rbits, compare)
        return
    words = np.empty(min(chunk, n), np.uint64)
    for c0 in range(0, n, chunk):
        c1 = min(c0 + chunk, n)
        w = words[:c1 - c0]
        stream_words(ring, made, pos, lags, d, (lane0 + c0) % lanes, c1 - c0, invert_mask,
                     d - rbits, chunk, w)
        sr_hi16(src_codes[c0:c1], out[c0:c1], pairs, half, shift_t, sighi_t, low_bits, w, rbits,
                compare)


@njit(cache=True, nogil=True)
def lut_pairs(a, b, out, table, b_bits):
    """out[i] = table[a[i] << b_bits | b[i]]: binary ops on operands of at most 8 bits, with the
    table built by the arithmetic kernels over all pairs."""
    sh = np.uint64(b_bits)
    for i in range(a.size):
        out[i] = table[np.intp((np.uint64(a[i]) << sh) | np.uint64(b[i]))]



@njit(cache=True, nogil=True)
def f32_binary(op, a, b, out):
    """out = a op b in host float32 (op: emu.kernels.arith OP_ADD, OP_SUB or OP_MUL): IEEE
    binary32 arithmetic rounds once to nearest even (the caller redoes NaN results)."""
    if op == OP_ADD:
        for i in range(a.size):
            out[i] = a[i] + b[i]
    elif op == OP_SUB:
        for i in range(a.size):
            out[i] = a[i] - b[i]
    else:
        for i in range(a.size):
            out[i] = a[i] * b[i]


@njit(cache=True, nogil=True)
def to_f32(x, out):
    """out = x as float32: the IEEE conversion, one rounding to nearest even (NaNs are the
    caller's)."""
    for i in range(x.size):
        out[i] = np.float32(x[i])
