"""The training update x - t*g, exact: a float64 that every rounding treats like the exact value.

x, t and g are codes of any formats (registers, or host float64 codes under ``convert.F64``),
decoded exactly by ``split_code``. The product t*g is formed exactly (64 x 64 -> 128 bits) and
added to x in a 256-bit window, so no rounding happens before the one into the target (the old
update evaluated ``x - lr*g`` in float64: two roundings first, which moved ties and SR thresholds).

Rounding decisions in a target (nearest ties, directed, the SR threshold T with r random bits)
change only at multiples of 2**c, c = (target LSB at the value) - gbits, gbits = r for
stochastic modes and 1 otherwise (the argument of ``emu.exact.suspects``). So the kernel hands
back a *proxy*: the exact value when it lies on that grid, else the midpoint of the open grid
cell that holds it (everything below 2**c jammed into one sticky bit). Rounding the proxy with any
mode, r <= gbits and random word gives the code of the exact value. Where the proxy needs more
than float64's 53 bits or its exponent range, the element is flagged and the caller rounds the
exact rational instead (``emu.train.update``). Specials follow fma(-t, g, x) (docs/semantics.md
§3); an exact zero gets the sign of §3.4.
"""


import numpy as np
from numba.cpython.unsafe.numbers import leading_zeros, trailing_zeros

from ..jitcache import njit
from .convert import F64, split_code
from .core import OVF_INF, U0, U1, target_lsb
from .specials import CLS_FINITE, emit, fma_special, zero_sum_sign

M32 = np.uint64(0xFFFFFFFF)
MANT = np.uint64((1 << 52) - 1)
SIGN = np.uint64(1 << 63)
TOP_BIT = SIGN
ZERO4 = (U0, U0, U0, U0)
PROXY = 0      # status: out holds the proxy (or the special / zero result)
EXACT = 1      # status: no float64 proxy; the caller rounds the exact value

# The helpers below are separate compiled functions, not numba-inlined (inline="always"): IR
# inlining of these 256-bit helpers made update_proxies take 21 s to compile on a cold cache
# (half of a cold `emu demo`) against 8 s now, for an update about 1.5x slower per element
# (25 against 30-47 Melem/s on this VM), a small part of a training step.


@njit(cache=True, nogil=True)
def _nbits(x):
    """Bit length of a uint64 (0 for 0)."""
    return 64 - np.int64(leading_zeros(x)) if x != U0 else np.int64(0)


@njit(cache=True, nogil=True)
def _mul128(a, b):
    """Exact a*b of two uint64 as (low, high) words."""
    a0, a1 = a & M32, a >> np.uint64(32)
    b0, b1 = b & M32, b >> np.uint64(32)
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    mid = (p00 >> np.uint64(32)) + (p01 & M32) + (p10 & M32)
    lo = (p00 & M32) | (mid << np.uint64(32))
    hi = p11 + (p01 >> np.uint64(32)) + (p10 >> np.uint64(32)) + (mid >> np.uint64(32))
    return lo, hi


@njit(cache=True, nogil=True)
def _limb(a, j):
    return a[j] if 0 <= j < 4 else U0


@njit(cache=True, nogil=True)
def _shl(a, s):
    """a << s for a 256-bit a (4 little-endian words), 0 <= s < 256, bits past 2**256 dropped."""
    k = s >> 6
    b = np.uint64(s & 63)
    r0 = _limb(a, -k) << b
    r1 = _limb(a, 1 - k) << b
    r2 = _limb(a, 2 - k) << b
    r3 = _limb(a, 3 - k) << b
    if b != U0:
        c = np.uint64(64) - b
        r1 |= _limb(a, -k) >> c
        r2 |= _limb(a, 1 - k) >> c
        r3 |= _limb(a, 2 - k) >> c
    return (r0, r1, r2, r3)


@njit(cache=True, nogil=True)
def _shr(a, s):
    """(a >> s, whether nonzero bits were shifted out) for a 256-bit a, s >= 0."""
    if s >= 256:
        return ZERO4, (a[0] | a[1] | a[2] | a[3]) != U0
    k = s >> 6
    b = np.uint64(s & 63)
    lost = False
    for j in range(k):
        lost = lost or a[j] != U0
    if b != U0:
        lost = lost or (a[k] & ((U1 << b) - U1)) != U0
    r0 = _limb(a, k) >> b
    r1 = _limb(a, k + 1) >> b
    r2 = _limb(a, k + 2) >> b
    r3 = _limb(a, k + 3) >> b
    if b != U0:
        c = np.uint64(64) - b
        r0 |= _limb(a, k + 1) << c
        r1 |= _limb(a, k + 2) << c
        r2 |= _limb(a, k + 3) << c
    return (r0, r1, r2, r3), lost


@njit(cache=True, nogil=True)
def _bitlen(a):
    for j in range(3, -1, -1):
        if a[j] != U0:
            return 64 * j + _nbits(a[j])
    return np.int64(0)


@njit(cache=True, nogil=True)
def _less(a, b):
    for j in range(3, -1, -1):
        if a[j] != b[j]:
            return a[j] < b[j]
    return False


@njit(cache=True, nogil=True)
def _add(a, b):
    r0 = a[0] + b[0]
    c = np.uint64(r0 < a[0])
    s1 = a[1] + b[1]
    r1 = s1 + c
    c = np.uint64(s1 < a[1]) + np.uint64(r1 < s1)
    s2 = a[2] + b[2]
    r2 = s2 + c
    c = np.uint64(s2 < a[2]) + np.uint64(r2 < s2)
    return (r0, r1, r2, a[3] + b[3] + c)


@njit(cache=True, nogil=True)
def _sub(a, b):
    """a - b for a >= b."""
    r0 = a[0] - b[0]
    br = np.uint64(a[0] < b[0])
    d1 = a[1] - b[1]
    r1 = d1 - br
    br = np.uint64(a[1] < b[1]) + np.uint64(d1 < br)
    d2 = a[2] - b[2]
    r2 = d2 - br
    br = np.uint64(a[2] < b[2]) + np.uint64(d2 < br)
    return (r0, r1, r2, a[3] - b[3] - br)


@njit(cache=True, nogil=True)
def _top2(lo, hi):
    """(top 64 bits with the leading one at bit 63, bit length, nonzero bits below them) of a
    nonzero 128-bit value."""
    if hi == U0:
        n = _nbits(lo)
        return lo << np.uint64(64 - n), n, False
    sh = _nbits(hi)  # the top word's bits: 1..64
    if sh == 64:
        return hi, np.int64(128), lo != U0
    return ((hi << np.uint64(64 - sh)) | (lo >> np.uint64(sh)), 64 + sh,
            (lo & ((U1 << np.uint64(sh)) - U1)) != U0)


@njit(cache=True, nogil=True)
def _top4(r):
    """``_top2`` of a nonzero 256-bit value."""
    n = _bitlen(r)
    if n > 64:
        top, lost = _shr(r, n - 64)
        return top[0], n, lost
    return r[0] << np.uint64(64 - n), n, False


@njit(cache=True, nogil=True)
def _shl2(lo, hi, s):
    """(lo, hi) << s for 0 <= s < 128, the result known to fit 128 bits."""
    if s == 0:
        return lo, hi
    if s < 64:
        return lo << np.uint64(s), (hi << np.uint64(s)) | (lo >> np.uint64(64 - s))
    return U0, lo << np.uint64(s - 64)


@njit(cache=True, nogil=True)
def exact_difference(nx, sx, ex, nt, st, et, ng, sg, eg):
    """x - t*g of finite operands (-1)**n * s * 2**e as its top 64 bits.

    Returns (neg, s, ev, below): |x - t*g| = (s + f) * 2**(ev - 63) with the leading one of s at
    bit 63 and 0 <= f < 1, f > 0 exactly when ``below``; s = 0 for an exact zero."""
    plo, phi = _mul128(st, sg)
    nb = not (nt != ng)  # sign of the addend -t*g
    eb = et + eg
    lx = _nbits(sx)
    lp = _nbits(plo) if phi == U0 else 64 + _nbits(phi)
    if lp == 0 or lx == 0:
        if lp == 0 and lx == 0:
            return nx, U0, np.int64(0), False
        if lp == 0:
            return nx, sx << np.uint64(64 - lx), ex + lx - 1, False
        top, n, below = _top2(plo, phi)
        return nb, top, eb + n - 1, below
    lo = ex if ex < eb else eb
    hi = ex + lx if ex + lx > eb + lp else eb + lp
    if hi - lo <= 127:  # the common case: one 128-bit window holds both, exactly
        a0, a1 = _shl2(sx, U0, ex - lo)
        b0, b1 = _shl2(plo, phi, eb - lo)
        neg = nx
        if nx == nb:
            r0 = a0 + b0
            r1 = a1 + b1 + np.uint64(r0 < a0)
        else:
            if a1 < b1 or (a1 == b1 and a0 < b0):
                a0, a1, b0, b1, neg = b0, b1, a0, a1, nb
            r0 = a0 - b0
            r1 = a1 - b1 - np.uint64(a0 < b0)
        if r0 == U0 and r1 == U0:
            return neg, U0, np.int64(0), False
        top, n, below = _top2(r0, r1)
        return neg, top, lo + n - 1, below
    if hi - lo <= 255:  # a 256-bit window
        a = _shl((sx, U0, U0, U0), ex - lo)
        b = _shl((plo, phi, U0, U0), eb - lo)
        neg = nx
        if nx == nb:
            r = _add(a, b)
        elif _less(a, b):
            r, neg = _sub(b, a), nb
        else:
            r = _sub(a, b)
        if (r[0] | r[1] | r[2] | r[3]) == U0:
            return neg, U0, np.int64(0), False
        top, n, below = _top4(r)
        return neg, top, lo + n - 1, below
    # Far apart: the ranges are disjoint with a gap of >= 64 bits (each spans <= 128), so the
    # small one is below 2**(LSB of the big one - 64): the big one shifted up 64 bits, one unit
    # borrowed if the signs differ, and a sticky below (|small| lies strictly inside that unit).
    if ex + lx > eb + lp:
        big, nbig, ebig, nsmall = (U0, sx, U0, U0), nx, ex, nb
    else:
        big, nbig, ebig, nsmall = (U0, plo, phi, U0), nb, eb, nx
    if nbig != nsmall:
        big = _sub(big, (U1, U0, U0, U0))
    top, n, _ = _top4(big)
    return nbig, top, ebig - 64 + n - 1, True


@njit(cache=True, nogil=True)
def _float64_bits(neg, s, ev):
    """Bits of the float64 (-1)**neg * s * 2**(ev - 63) (leading one of s at bit 63), known to
    be exact: normal for ev >= -1022, else subnormal."""
    if ev >= -1022:
        bits = (np.uint64(ev + 1023) << np.uint64(52)) | ((s >> np.uint64(11)) & MANT)
    else:
        bits = s >> np.uint64(11 - 1022 - ev)
    return bits | (SIGN if neg else U0)


@njit(cache=True, nogil=True)
def proxy(neg, s, ev, below, dst, gbits):
    """The bits of a float64 that rounds into ``dst`` like the exact (-1)**neg * (s + f) *
    2**(ev - 63) (``exact_difference``'s form) under every mode with at most ``gbits`` random
    bits; (bits, ok)."""
    w = ev - 63
    c = target_lsb(ev, dst) - gbits  # decisions change only at multiples of 2**c
    k = c - 1 - w  # position of the bit 2**(c-1) in s
    if k >= 63:  # 0 < value < 2**(ev+1) <= 2**c: inside the first cell; its midpoint 2**(c-1)
        ok = -1074 <= c - 1 <= 1023
        return _float64_bits(neg, TOP_BIT, c - 1) if ok else U0, ok
    if k >= 0:
        low = s & ((U1 << np.uint64(k + 1)) - U1)  # the bits below 2**c
        s -= low
        if below or low != U0:
            s |= U1 << np.uint64(k)  # strictly inside a cell: its midpoint
    elif below:
        return U0, False  # > 62 bits above the decision grid and more below: no proxy
    lsb = w + np.int64(trailing_zeros(s))  # s has bit 63 set
    if lsb < w + 11 or ev > 1023 or lsb < -1074:
        return U0, False  # more than 53 significant bits, or beyond float64's range
    return _float64_bits(neg, s, ev), True


@njit(cache=True, nogil=True)
def update_proxies(x, fx, t, ft, g, fg, dst, gbits, mode, out, status):
    """out[i] = the bits of the float64 proxy of x[i] - t[i]*g[i] (a t of size 1 serves every
    element) for rounding into ``dst``; status[i] = EXACT where there is none. Specials: the
    float64 result of fma(-t, g, x)."""
    for i in range(x.size):
        ti = t[0] if t.size == 1 else t[i]
        cx, nx, sx, ex = split_code(x[i], fx)
        ct, nt, st, et = split_code(ti, ft)
        cg, ng, sg, eg = split_code(g[i], fg)
        status[i] = PROXY
        if cx != CLS_FINITE or ct != CLS_FINITE or cg != CLS_FINITE:
            cls, neg = fma_special(ct, not nt, st == U0, cg, ng, sg == U0, cx, nx)  # (-t)*g + x
            out[i], _ = emit(cls, neg, F64, OVF_INF)
            continue
        neg, s, ev, below = exact_difference(nx, sx, ex, nt, st, et, ng, sg, eg)
        if s == U0:  # an exact zero: the sign of an exact zero sum
            zneg = zero_sum_sign(nx, sx == U0, not (nt != ng), st == U0 or sg == U0, mode)
            out[i] = SIGN if zneg else U0
            continue
        out[i], ok = proxy(neg, s, ev, below, dst, gbits)
        if not ok:
            status[i] = EXACT
