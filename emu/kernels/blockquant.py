"""Fused MX block quantization (power-of-two scales; emu.blocks.quantize, docs/semantics.md §14.3).

One pass per block instead of numpy's many: the block's largest magnitude, its shared exponent
(the rules of ``emu.blocks._shared_exponents``, exactly), the scale code, and each element's
value in element space, y = x / 2**s, as a float64 (exact: see ``emu.blocks._scaled`` for the
one exception, values below float64's normal range, which become +-2**-1000 here too). Then
the elements are rounded by a path of ``emu.paths``, not by logic of this module:

- ``Y_ONLY``: y is written out whole and the caller rounds it with emu.quantize (every mode,
  profile and option: the general path's own call);
- ``PACKED``: the lut_hi16 table of float64 -> element, packed in pairs, built by the rounding
  core (``emu.paths._packed``), read by ``fast.lut_hi16_packed`` in chunks of ``CHUNK``
  elements;
- ``SR``: the sr_hi16 tables (``emu.paths.sr_tables``) and ``fast.sr_hi16``, one word per
  element from the call's Draws, at the element's index in the input's C order.

Layout: the input is C-contiguous, viewed as (outer, n, inner) with the block axis in the
middle; a *unit* is one block row b of one outer index o: rows b*k .. b*k+k-1 (fewer in the
last, partial block) for every inner column, a contiguous range of the flat input. Units are
independent, so any split of them over threads gives the same codes.

The largest magnitude is found on the input's bits (a signed integer view): |x|'s bits are
ordered as |x| is, Inf and NaN lie above the largest finite value, and an integer max
vectorizes where a float max with a NaN test does not. Exponents come from float64 bits too
(``_exponent``: floor(log2 v) exactly, numpy's frexp exponent minus one).
"""

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from ..jitcache import njit
from . import fast

Y_ONLY, PACKED, SR = 0, 1, 2
RULE_FLOOR, RULE_CEIL, RULE_RCEIL = 0, 1, 2
CHUNK = 2048  # elements rounded per call of the table kernels (16 KiB of float64 scratch)
NAN_SCALE = 0xFF
NORMAL_MIN = 2.0 ** -1022
TINY = 2.0 ** -1000  # emu.blocks._TINY
F64_EXP_MASK = 0x7FF
F64_MAN_MASK = (1 << 52) - 1


@intrinsic
def float_from_bits(typingctx, bits, proto):
    """The float of ``proto``'s type (float32 or float64) whose bit pattern is the low bits of
    the integer ``bits``."""
    if not isinstance(bits, types.Integer) or proto not in (types.float32, types.float64):
        return None
    width = proto.bitwidth

    def codegen(context, builder, signature, args):
        b = args[0]
        if bits.bitwidth > width:
            b = builder.trunc(b, ir.IntType(width))
        elif bits.bitwidth < width:
            b = builder.zext(b, ir.IntType(width))
        return builder.bitcast(b, ir.FloatType() if width == 32 else ir.DoubleType())

    return proto(bits, proto), codegen


@intrinsic
def f64_bits(typingctx, v):
    """The bit pattern of a float64 as an int64."""
    if v != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@njit(cache=True, inline="always")
def _bit_length(v):
    n = 0
    while v != 0:
        v >>= 1
        n += 1
    return n


@njit(cache=True, inline="always")
def _exponent(v):
    """floor(log2 v) of a finite float64 v > 0 (subnormals included)."""
    b = f64_bits(v)
    e = (b >> 52) & F64_EXP_MASK
    if e == 0:
        return np.int64(_bit_length(b) - 1075)
    return np.int64(e - 1023)


@njit(cache=True, inline="always")
def _pow2(s):
    """2.0**s for -1022 <= s <= 1023, exactly."""
    return float_from_bits(np.int64(s + 1023) << 52, 1.0)


@njit(cache=True, inline="always")
def shared_exponent(amax, emax, elem_max, rule):
    """emu.blocks._shared_exponents of one finite float64 amax >= 0, clamped to [-127, 127]."""
    if not amax > 0.0:
        return np.int64(-127)
    s = _exponent(amax) - emax  # 2**e <= amax < 2**(e+1): numpy's frexp exponent is e + 1
    if rule == RULE_CEIL:
        # amax > ldexp(elem_max, s) decides s or s + 1; outside [-128, 127] either clamps alike
        if -128 <= s <= 127 and amax > elem_max * _pow2(s):
            s += 1
    elif rule == RULE_RCEIL:
        q = np.float64(np.float32(amax) / np.float32(elem_max))  # fp32, as cvt.rp.ue8m0
        if q == 0.0:  # fp32(amax) / fp32(max) underflowed: the smallest scale
            s = np.int64(-127)
        elif q > 1.7976931348623157e308:  # fp32(amax) overflowed: the largest scale
            s = np.int64(127)
        else:  # ceil(log2 q): frexp's exponent, less one when q is a power of two
            s = _exponent(q) + 1 - ((f64_bits(q) & F64_MAN_MASK) == 0)
    return min(max(s, np.int64(-127)), np.int64(127))


@njit(cache=True, inline="always")
def _scaled(v, mult, check_tiny):
    """v * mult (= 2**-s), exact but for results below 2**-1022, which become +-2**-1000
    (float64 inputs only: ``check_tiny``)."""
    y = np.float64(v) * mult
    if check_tiny and v != 0 and abs(y) < NORMAL_MIN:
        y = TINY if v > 0 else -TINY
    return y


@njit(cache=True, inline="always")
def _fill(x, start, size, dest, off, mult, check_tiny):
    """dest[off:off+size] = _scaled(x[start:start+size]). Unsigned indices: no wraparound
    test, so the loops vectorize (and no slice, so no reference counting per block)."""
    a, d = np.uint64(start), np.uint64(off)
    if check_tiny:
        for i in range(size):
            dest[d + np.uint64(i)] = _scaled(x[a + np.uint64(i)], mult, True)
    else:  # float32 * 2**-s with |s| <= 127 stays in float64's normal range: exact
        for i in range(size):
            dest[d + np.uint64(i)] = np.float64(x[a + np.uint64(i)]) * mult


@njit(cache=True, inline="always")
def _max_bits(xb, start, size, absmask):
    """The largest |x| of xb[start:start+size] as bits (an int64; see the module doc)."""
    a = np.uint64(start)
    m = np.int64(0)
    for i in range(size):
        m = max(m, np.int64(xb[a + np.uint64(i)]) & absmask)
    return m


@njit(cache=True, nogil=True)
def quantize_units(x, xb, n, inner, k, u0, u1, emax, elem_max, rule, scales, strategy, y_full,
                   out, pairs, half, shift, sig_hi, rwords, rbits, compare):
    """Units u0 .. u1-1 of the flat input ``x`` (float32 or float64; ``xb``: the same memory as
    int32 or int64): scale codes into ``scales`` (flat (outer, nb, inner)), and either y into
    ``y_full`` (Y_ONLY) or element codes into ``out`` by the PACKED or SR tables (see the module
    doc). Allocates its scratch once per call. Blocks along the last axis (inner == 1): the
    faster ``contiguous_units`` (the caller chooses: each compiles only when used)."""
    proto = x[0]  # only its type is used: the float type of the bit patterns
    wide = x.itemsize == 8
    absmask = np.int64(0x7FFFFFFFFFFFFFFF) if wide else np.int64(0x7FFFFFFF)
    finite = np.int64(0x7FEFFFFFFFFFFFFF) if wide else np.int64(0x7F7FFFFF)  # largest finite
    nb = (n + k - 1) // k
    amax = np.empty(inner, np.int64)
    mult = np.empty(inner, np.float64)
    scratch = np.empty(CHUNK if strategy != Y_ONLY else 0, np.float64)
    codes = scratch.view(np.uint64)
    fill = 0  # elements waiting in scratch
    fstart = 0  # flat index of scratch[0]
    o = u0 // nb
    b = u0 - o * nb
    for u in range(u0, u1):
        r0 = b * k
        rows = min(k, n - r0)
        start = (o * n + r0) * inner
        size = rows * inner
        sbase = u * inner
        amax[:] = 0
        for r in range(rows):
            row = start + r * inner
            for t in range(inner):
                amax[t] = max(amax[t], np.int64(xb[row + t]) & absmask)
        for t in range(inner):
            if amax[t] <= finite:
                s = shared_exponent(np.float64(float_from_bits(amax[t], proto)), emax, elem_max,
                                    rule)
                scales[sbase + t] = np.uint8(s + 127)
                mult[t] = _pow2(-s)
            else:  # NaN or Inf in the block: the NaN scale and +0 elements
                scales[sbase + t] = NAN_SCALE
                mult[t] = 0.0
        b += 1
        if b == nb:
            b = 0
            o += 1
        if strategy == Y_ONLY:
            _fill_unit(x, start, rows, inner, y_full, start, amax, finite, mult, wide)
            continue
        if fill > 0 and fill + size > CHUNK:
            _round_chunk(codes, fill, fstart, out, strategy, pairs, half, shift, sig_hi, rwords,
                         rbits, compare)
            fill = 0
        if size > CHUNK:  # long inner axes: y and rounding CHUNK elements at a time
            _unit_in_pieces(x, start, size, inner, amax, finite, mult, wide, scratch, codes, out,
                            strategy, pairs, half, shift, sig_hi, rwords, rbits, compare)
            continue
        if fill == 0:
            fstart = start
        _fill_unit(x, start, rows, inner, scratch, fill, amax, finite, mult, wide)
        fill += size
    if strategy != Y_ONLY and fill > 0:
        _round_chunk(codes, fill, fstart, out, strategy, pairs, half, shift, sig_hi, rwords, rbits,
                     compare)


@njit(cache=True, nogil=True)
def contiguous_units(x, xb, n, k, u0, u1, emax, elem_max, rule, scales, strategy, y_full, out,
                     pairs, half, shift, sig_hi, rwords, rbits, compare):
    """quantize_units where inner == 1 (blocks along the last axis): unit u is a run of the flat
    input that starts where unit u - 1 ends; whole blocks go to the scratch until the next
    would not fit (a block of more than CHUNK elements is rounded in pieces)."""
    proto = x[0]
    wide = x.itemsize == 8
    absmask = np.int64(0x7FFFFFFFFFFFFFFF) if wide else np.int64(0x7FFFFFFF)
    finite = np.int64(0x7FEFFFFFFFFFFFFF) if wide else np.int64(0x7F7FFFFF)
    nb = (n + k - 1) // k
    last = n - (nb - 1) * k  # elements in a row's last block
    scratch = np.empty(CHUNK if strategy != Y_ONLY else 0, np.float64)
    codes = scratch.view(np.uint64)
    o = u0 // nb
    b = u0 - o * nb
    start = o * n + b * k
    fill = 0
    fstart = start
    for u in range(u0, u1):
        size = k if b < nb - 1 else last
        b = b + 1 if b < nb - 1 else 0
        a = _max_bits(xb, start, size, absmask)
        special = a > finite  # NaN or Inf in the block: the NaN scale and +0 elements
        mult = 0.0
        if special:
            scales[u] = NAN_SCALE
        else:
            s = shared_exponent(np.float64(float_from_bits(a, proto)), emax, elem_max, rule)
            scales[u] = np.uint8(s + 127)
            mult = _pow2(-s)
        if strategy == Y_ONLY:
            if special:
                y_full[start:start + size] = 0.0
            else:
                _fill(x, start, size, y_full, start, mult, wide)
            start += size
            continue
        if fill + size > CHUNK and fill > 0:
            _round_chunk(codes, fill, fstart, out, strategy, pairs, half, shift, sig_hi, rwords,
                         rbits, compare)
            fill = 0
        if fill == 0:
            fstart = start
        done = 0
        while done < size:  # once, but for blocks of more than CHUNK elements
            m = min(size - done, CHUNK - fill)
            if special:
                scratch[fill:fill + m] = 0.0
            else:
                _fill(x, start + done, m, scratch, fill, mult, wide)
            fill += m
            done += m
            if done < size:  # a block larger than the scratch: round what it holds
                _round_chunk(codes, fill, fstart, out, strategy, pairs, half, shift, sig_hi,
                             rwords, rbits, compare)
                fill = 0
                fstart = start + done
        start += size
    if strategy != Y_ONLY and fill > 0:
        _round_chunk(codes, fill, fstart, out, strategy, pairs, half, shift, sig_hi, rwords, rbits,
                     compare)


@njit(cache=True, inline="always")
def _fill_unit(x, start, rows, inner, dest, off, amax, finite, mult, check_tiny):
    """y of one unit into dest[off:]: +0 in columns whose block holds NaN or Inf."""
    for r in range(rows):
        row = start + r * inner
        drow = off + r * inner
        for t in range(inner):
            dest[drow + t] = _scaled(x[row + t], mult[t], check_tiny) if amax[t] <= finite else 0.0


@njit(cache=True, inline="always")
def _round_chunk(codes, m, start, out, strategy, pairs, half, shift, sig_hi, rwords, rbits, compare):
    """Round the ``m`` float64 codes in scratch (flat indices start ..) by the registered path."""
    if strategy == PACKED:
        fast.lut_hi16_packed(codes[:m], out[start:start + m], pairs, 48)
    else:
        fast.sr_hi16(codes[:m], out[start:start + m], pairs, half, shift, sig_hi, 48,
                     rwords[start:start + m], rbits, compare)


@njit(cache=True, nogil=True)
def _unit_in_pieces(x, start, size, inner, amax, finite, mult, check_tiny, scratch, codes, out,
                    strategy, pairs, half, shift, sig_hi, rwords, rbits, compare):
    """A unit of more than CHUNK elements (long inner axes): y and rounding CHUNK at a time."""
    done = 0
    while done < size:
        m = min(CHUNK, size - done)
        for j in range(m):
            t = (done + j) % inner
            scratch[j] = _scaled(x[start + done + j], mult[t], check_tiny) if amax[t] <= finite else 0.0
        _round_chunk(codes, m, start + done, out, strategy, pairs, half, shift, sig_hi, rwords,
                     rbits, compare)
        done += m
