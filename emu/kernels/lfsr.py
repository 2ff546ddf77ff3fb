"""LFSR kernels: the semantics of alexforencich verilog-lfsr ``lfsr.v`` (docs/semantics.md §7.2,
"LFSR random source"), one single-bit shift at a time, per lane.

One draw performs D shifts; shift i (0-based) produces bit ``fb`` which lands at bit D-1-i of
the draw word (the first computed bit is the MSB):
    fibonacci: fb = parity(state & ((poly >> 1) | 1 << (W-1)));  state = (state << 1 | fb) & mask
    galois:    fb = state >> (W-1) & 1;  state = ((state << 1) & mask) ^ (poly | 1 if fb else 0)
``reverse`` and ``invert`` are applied by the caller for words wider than 64 bits; here for
D <= 64. States are kept in the un-reversed (internal) orientation.
"""

import numpy as np

from ..jitcache import njit

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


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
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


# --- jump-ahead: the D-step map as a GF(2) matrix ----------------------------------------------
# The state update is linear over GF(2), so n draws are the matrix M**n, with M the D-step map.
# A matrix is stored as its columns: cols[i] = M applied to the unit state 1 << i.

@njit(cache=True, nogil=True)
def step_matrix(width, poly, galois, shifts):
    """Columns of the D-step state map, from the bit-serial ``step`` itself."""
    cols = np.empty(width, np.uint64)
    for i in range(width):
        s = U1 << np.uint64(i)
        for _ in range(shifts):
            s, fb = step(s, width, poly, galois)
        cols[i] = s
    return cols


@njit(cache=True, nogil=True, inline="always")
def mat_apply(cols, s):
    r = U0
    for i in range(cols.size):
        if (s >> np.uint64(i)) & U1:
            r ^= cols[i]
    return r


@njit(cache=True, nogil=True)
def matrix_powers(cols, levels):
    """powers[k] = M**(2**k) for k < levels (repeated squaring)."""
    powers = np.empty((levels, cols.size), np.uint64)
    powers[0] = cols
    for k in range(1, levels):
        for i in range(cols.size):
            powers[k, i] = mat_apply(powers[k - 1], powers[k - 1, i])
    return powers


@njit(cache=True, nogil=True)
def jump(states, counts, powers):
    """states[l] <- M**counts[l] states[l] for every lane (counts < 2**levels)."""
    for lane in range(states.size):
        c = counts[lane]
        k = 0
        while c > 0:
            if c & 1:
                states[lane] = mat_apply(powers[k], states[lane])
            c >>= 1
            k += 1


@njit(cache=True, nogil=True, inline="always")
def leap4(s, state_t, word_t):
    """One draw with 4-row leap tables (W <= 32): (next state, draw word)."""
    return _leap(s, state_t, 0), _leap(s, word_t, 0)


@njit(cache=True, nogil=True, inline="always")
def leap8(s, state_t, word_t):
    """One draw with 8-row leap tables (W > 32)."""
    return _leap(s, state_t, 0) ^ _leap(s, state_t, 4), _leap(s, word_t, 0) ^ _leap(s, word_t, 4)


@njit(nogil=True, inline="always")
def _draw_chains(starts, first, counts, stride, state_t, word_t, invert_mask, out, advance):
    """Draws of each lane l at elements first[l] + stride * t, t < counts[l], split into four
    chains of q = counts[l] // 4 draws (the last takes the rest); starts[l, c] is the lane's
    state at draw c * q. One chain waits on its table loads every draw; four independent
    chains in one loop keep the core busy. ``advance`` is leap4 or leap8, fixed at compile
    time by the two entry points below (a run-time branch in the loop costs 10x). Not cached
    itself: a cached kernel must never take a function argument, since a function's type
    differs in every process and each process would add a cache entry (numba's index then
    grows until loading fails). The caller jumps the end states."""
    for lane in range(starts.shape[0]):
        m = counts[lane]
        q = m // 4
        s0, s1, s2, s3 = starts[lane, 0], starts[lane, 1], starts[lane, 2], starts[lane, 3]
        p0 = first[lane]
        step_q = q * stride
        for i in range(q):
            s0, w0 = advance(s0, state_t, word_t)
            s1, w1 = advance(s1, state_t, word_t)
            s2, w2 = advance(s2, state_t, word_t)
            s3, w3 = advance(s3, state_t, word_t)
            j = p0 + i * stride
            out[j] = w0 ^ invert_mask
            out[j + step_q] = w1 ^ invert_mask
            out[j + 2 * step_q] = w2 ^ invert_mask
            out[j + 3 * step_q] = w3 ^ invert_mask
        for t in range(4 * q, m):  # the last chain goes on to the lane's last draw
            s3, w3 = advance(s3, state_t, word_t)
            out[p0 + t * stride] = w3 ^ invert_mask


@njit(cache=True, nogil=True)
def leap_draw_chains4(starts, first, counts, stride, state_t, word_t, invert_mask, out):
    """``_draw_chains`` with 4-row leap tables (W <= 32)."""
    _draw_chains(starts, first, counts, stride, state_t, word_t, invert_mask, out, leap4)


@njit(cache=True, nogil=True)
def leap_draw_chains8(starts, first, counts, stride, state_t, word_t, invert_mask, out):
    """``_draw_chains`` with 8-row leap tables (W > 32)."""
    _draw_chains(starts, first, counts, stride, state_t, word_t, invert_mask, out, leap8)
