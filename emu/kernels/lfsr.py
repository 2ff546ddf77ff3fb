"""LFSR kernels: the semantics of alexforencich verilog-lfsr ``lfsr.v`` (DESIGN Part B, "LFSR
random source"), one single-bit shift at a time, per lane.

One draw performs D shifts; shift i (0-based) produces bit ``fb`` which lands at bit D-1-i of
the draw word (the first computed bit is the MSB):
    fibonacci: fb = parity(state & ((poly >> 1) | 1 << (W-1)));  state = (state << 1 | fb) & mask
    galois:    fb = state >> (W-1) & 1;  state = ((state << 1) & mask) ^ (poly | 1 if fb else 0)
``reverse`` and ``invert`` are applied by the caller for words wider than 64 bits; here for
D <= 64. States are kept in the un-reversed (internal) orientation.
"""

import numpy as np
from numba import njit

U1 = np.uint64(1)
U0 = np.uint64(0)


@njit(cache=True, inline="always")
def parity64(x):
    x ^= x >> np.uint64(32)
    x ^= x >> np.uint64(16)
    x ^= x >> np.uint64(8)
    x ^= x >> np.uint64(4)
    x ^= x >> np.uint64(2)
    x ^= x >> np.uint64(1)
    return x & U1


@njit(cache=True)
def reverse_bits(x, n):
    """The low n bits of x in reverse order (n <= 64)."""
    r = U0
    for _ in range(n):
        r = (r << U1) | (x & U1)
        x >>= U1
    return r


@njit(cache=True, inline="always")
def step(s, width, poly, galois):
    """One single-bit shift: returns (new state, output bit)."""
    mask = np.uint64(0xFFFFFFFFFFFFFFFF) >> np.uint64(64 - width)
    top = np.uint64(width - 1)
    if galois:
        fb = (s >> top) & U1
        s = ((s << U1) & mask) ^ ((poly | U1) if fb == U1 else U0)
    else:
        fb = parity64(s & ((poly >> U1) | (U1 << top)))
        s = ((s << U1) & mask) | fb
    return s, fb


@njit(cache=True)
def draw_words(states, width, poly, galois, shifts, reverse, invert, n, first, rest):
    """Draw n words; element j uses lane j mod L (L = states.size) and lanes advance in place.

    ``first[j]`` gets the first min(D, 64) output bits (MSB first), ``rest[j]`` the remaining
    D - 64 bits when D > 64. For D <= 64, ``reverse``/``invert`` are applied to ``first``.
    """
    lanes = states.size
    d1 = shifts if shifts < 64 else 64
    d2 = shifts - d1
    wmask = np.uint64(0xFFFFFFFFFFFFFFFF) >> np.uint64(64 - d1)
    for j in range(n):
        lane = j % lanes
        s = states[lane]
        w = U0
        for _ in range(d1):
            s, fb = step(s, width, poly, galois)
            w = (w << U1) | fb
        w2 = U0
        for _ in range(d2):
            s, fb = step(s, width, poly, galois)
            w2 = (w2 << U1) | fb
        states[lane] = s
        if d2 == 0:
            if reverse:
                w = reverse_bits(w, d1)
            if invert:
                w = ~w & wmask
        first[j] = w
        rest[j] = w2


@njit(cache=True)
def draw_states(states, width, poly, galois, shifts, n, out):
    """Like draw_words, but out[j] is the lane's state after its draw (generators such as AMD
    V_PRNG_B32 output their new state)."""
    lanes = states.size
    for j in range(n):
        lane = j % lanes
        s = states[lane]
        for _ in range(shifts):
            s, fb = step(s, width, poly, galois)
        states[lane] = s
        out[j] = s


@njit(cache=True)
def leap_tables(width, poly, galois, shifts, reverse):
    """Per-byte tables of the D-step map, which is linear over GF(2): for byte k of the
    (internal) state and value v, ``state_t[k, v]`` / ``word_t[k, v]`` are the XOR of the new
    states / draw words that the bit-serial ``step`` gives from each set bit alone. ``reverse``
    is folded into the word tables. D <= 64."""
    nbytes = (width + 7) // 8
    rows = 4 if nbytes <= 4 else 8  # zero rows pad to the unrolled lookup count
    state_t = np.zeros((rows, 256), np.uint64)
    word_t = np.zeros((rows, 256), np.uint64)
    for k in range(nbytes):
        for bit in range(8):
            i = 8 * k + bit
            if i >= width:
                break
            s = U1 << np.uint64(i)
            w = U0
            for _ in range(shifts):
                s, fb = step(s, width, poly, galois)
                w = (w << U1) | fb
            if reverse:
                w = reverse_bits(w, shifts)
            b = 1 << bit
            for v in range(256):
                if v & b:
                    state_t[k, v] ^= s
                    word_t[k, v] ^= w
    return state_t, word_t


@njit(cache=True, inline="always")
def _leap(s, t, k):
    """XOR of table rows for bytes k..k+3 of s (indices as intp: no wraparound checks)."""
    m = np.uint64(0xFF)
    return (t[k, np.intp((s >> np.uint64(8 * k)) & m)]
            ^ t[k + 1, np.intp((s >> np.uint64(8 * k + 8)) & m)]
            ^ t[k + 2, np.intp((s >> np.uint64(8 * k + 16)) & m)]
            ^ t[k + 3, np.intp((s >> np.uint64(8 * k + 24)) & m)])


@njit(cache=True)
def leap_draw(states, state_t, word_t, invert_mask, n, out):
    """Draw n words with the leap tables; element j uses lane j mod L (lanes advance in place).
    Tables have 4 or 8 rows (zero rows beyond the state's bytes). Lane-major order keeps each
    lane's state in a register."""
    lanes = states.size
    wide = state_t.shape[0] > 4
    for lane in range(lanes):
        s = states[lane]
        for j in range(lane, n, lanes):
            ns = _leap(s, state_t, 0)
            w = _leap(s, word_t, 0)
            if wide:
                ns ^= _leap(s, state_t, 4)
                w ^= _leap(s, word_t, 4)
            out[j] = w ^ invert_mask
            s = ns
        states[lane] = s
