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
    for i in range(cols.size):  # element by element: a row assignment compiles numba's
        powers[0, i] = cols[i]  # shape-mismatch error formatting (seconds of compile time)
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


# --- the bit stream, 64 bits per XOR ---------------------------------------------------------
# A lane's draws are consecutive D-bit slices of one bit stream, the fb bits in shift order, and
# every stream of the LFSR obeys its linear recurrence b[n] = XOR_j b[n - lag_j] (lags <= W).
# Over GF(2), p(x)**64 = p(x**64) (the Frobenius map), so the stream also obeys
# b[n] = XOR_j b[n - 64 lag_j]: packed 64 bits to a word, first bit at the MSB, word
# w[n] = XOR_j w[n - lag_j]. One XOR per tap makes 64 bits where a single-bit shift makes one,
# with no serial chain through the bits (the leap-forward LFSR). A ring of RING words holds the
# last lags (<= W <= 64 words) of each lane.
RING = 128
RING_MASK = RING - 1


@njit(cache=True, nogil=True)
def lags_hold(width, poly, galois, lags):
    """Does every stream obey b[n] = XOR_j b[n - lags[j]]? By linearity it is enough that the
    stream from each unit state does at n = W: the stream from any state at n > W is the stream
    from M**(n - W) of that state at n = W."""
    for i in range(width):
        s = U1 << np.uint64(i)
        early = U0  # output bits 0..W-1 (bit k: shift k), no array: np.zeros costs a second
        for k in range(width):  # of compile time
            s, fb = step(s, width, poly, galois)
            early |= fb << np.uint64(k)
        s, last = step(s, width, poly, galois)  # output bit W
        x = U0
        for lag in lags:
            x ^= (early >> np.uint64(width - lag)) & U1
        if x != last:
            return False
    return True


@njit(cache=True, nogil=True)
def stream_init(states, state_t, word_t, width, rings):
    """rings[l, :W] = the first W 64-bit words of lane l's stream from ``states[l]``, by the
    64-shift leap tables (any row count: this runs W steps per lane, not per draw)."""
    rows = (width + 7) // 8
    m = np.uint64(0xFF)
    for lane in range(states.size):
        s = states[lane]
        for k in range(width):
            ns = U0
            w = U0
            for r in range(rows):
                v = np.intp((s >> np.uint64(8 * r)) & m)
                ns ^= state_t[r, v]
                w ^= word_t[r, v]
            s = ns
            rings[lane, k] = w


@njit(cache=True, inline="always")
def stream_make(ring, lane, g, upto, lags):
    """Make the lane's stream words g .. upto - 1 (one XOR per lag each); returns upto."""
    while g < upto:
        w = U0
        for lag in lags:
            w ^= ring[lane, (g - lag) & RING_MASK]
        ring[lane, g & RING_MASK] = w
        g += 1
    return g


@njit(cache=True, inline="always")
def stream_take(ring, lane, base, d, m, k, lanes, invert_mask, drop, out):
    """out[k + t * lanes] = (draw t ^ invert_mask) >> drop for the first m draws of a group of
    64 (t < m <= 64) whose D words start at ring word ``base`` (already made); draw t is bits
    t*D .. t*D + D - 1 of them, MSB first."""
    dd = np.uint64(64 - d)
    sh = np.uint64(drop)
    if 64 % d == 0:  # whole draws in each word: one load per word
        per = 64 // d
        t = 0
        i = base
        while t < m:
            w = ring[lane, i & RING_MASK]
            i += 1
            for j in range(min(per, m - t)):
                out[k + t * lanes] = (((w << np.uint64(j * d)) >> dd) ^ invert_mask) >> sh
                t += 1
    else:
        for t in range(m):
            bit = t * d
            i = base + (bit >> 6)
            off = bit & 63
            v = ring[lane, i & RING_MASK] << np.uint64(off)
            if off + d > 64:  # the draw straddles two words
                v |= ring[lane, (i + 1) & RING_MASK] >> np.uint64(64 - off)
            out[k + t * lanes] = ((v >> dd) ^ invert_mask) >> sh


def chunk_size(lanes):
    """Elements per pass over the lanes: about CHUNK, and 64 draws per lane times a whole
    number, so that every lane starts each chunk at a group of 64 draws (64 * D bits: whole
    words), where ``stream_make`` runs once for the group's D words."""
    return 64 * lanes * max(1, CHUNK // (64 * lanes))


CHUNK = 4096  # elements per pass over the lanes: a chunk's codes stay in L1 between lanes


@njit(cache=True, nogil=True)
def stream_words(ring, made, pos, lags, d, lane0, n, invert_mask, drop, chunk, out):
    """out[k] = (draw ^ invert_mask) >> drop for elements k < n of a block whose element 0
    uses lane ``lane0`` (element k: lane (lane0 + k) mod L), lane by lane within chunks of
    ``chunk`` elements (``chunk_size``), 64 draws (D words) at a time; ``made``/``pos`` (words
    made, bit position) advance in place."""
    lanes = made.size
    for c0 in range(0, n, chunk):
        c1 = min(c0 + chunk, n)
        for lane_k in range(min(lanes, c1 - c0)):
            lane = (lane0 + c0 + lane_k) % lanes
            p, g = pos[lane], made[lane]
            k = c0 + lane_k
            while k < c1:
                base = p >> 6  # p is a multiple of 64 * D: the group starts a word
                g = stream_make(ring, lane, g, base + d, lags)
                m = min(64, (c1 - k + lanes - 1) // lanes)
                stream_take(ring, lane, base, d, m, k, lanes, invert_mask, drop, out)
                k += m * lanes
                p += m * d
            pos[lane], made[lane] = p, g


@njit(cache=True, nogil=True)
def stream_bytes(ring, made, pos, lags, n, invert_mask, out):
    """One lane drawing D = 8 bits: out[k] = draw k as uint8 for k < n, i.e. the stream's bytes
    in order, each 64-bit word stored big-endian (its first draw is its top byte), 8 draws per
    word made. Starts at a word boundary (pos a multiple of 64, as at every chunk of
    ``chunk_size``); ``made``/``pos`` advance in place."""
    p, g = pos[0], made[0]
    invert_all = invert_mask * np.uint64(0x0101010101010101)  # the 8-bit mask in every byte
    k = 0
    while k < n:
        base = p >> 6
        g = stream_make(ring, 0, g, base + 1, lags)
        w = ring[0, base & RING_MASK] ^ invert_all
        m = min(8, n - k)
        for j in range(8):  # unrolled: the shifts and byte stores merge into one swap and store
            if j < m:
                out[k + j] = np.uint8(w >> np.uint64(56 - 8 * j))
        k += m
        p += 8 * m
    pos[0], made[0] = p, g
