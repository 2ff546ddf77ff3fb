"""The one place where emu chooses how to compute: a chooser per operation, a function per path.

Paths add speed, never semantics: each is a table *built by* the core, or host arithmetic that is
exact on the inputs it takes, and tests/test_paths.py runs each against its core bit for bit
(docs/semantics.md §4-6 define what the core computes). Table paths need ``MIN_TABLE_SIZE``
elements (below that the core beats building a 2**17-entry table), except a source of at most 8
bits, whose 256-entry table is as cheap as converting 256 elements.

| path       | operation, modes          | applies when                    | why it is exact                |
|------------|---------------------------|---------------------------------|--------------------------------|
| core       | everything                | always; when a path declines    | it is the semantics            |
| lut_direct | convert, deterministic    | source codes of <= 16 bits      | table[code], the table built   |
|            |                           |                                 | by the core over every code    |
| lut_hi16   | convert, deterministic    | float -> float, ``hi16_exact``  | index: top 16 bits + sticky;   |
|            |                           |                                 | the other bits lie below the   |
|            |                           |                                 | half bit: they only say        |
|            |                           |                                 | "inexact"                      |
| fpu_fixed  | convert, rne/rtz/rdn/rup  | host floats -> fixed, width     | x * 2**frac is exact; rint,    |
|            |                           | <= 62, frac >= 0                | trunc, floor, ceil are IEEE    |
|            |                           |                                 | roundToIntegral                |
| sr_hi16    | convert, plain sr         | ``sr_fast_ok``; the words an    | neighbours and rounding        |
|            |                           | array, or an emu.LFSR's stream  | position per top 16 bits from  |
|            |                           | made in L1 chunk by chunk       | the core; per element only the |
|            |                           | (``LFSR.stream``: the same      | §6.2 decision remains          |
|            |                           | words, never written out)       |                                |
| host_f32   | convert, rne              | float64 or fp32 -> fp32         | the host's float32 conversion  |
|            |                           |                                 | is one IEEE rne rounding; NaN  |
|            |                           |                                 | results redone by the core;    |
|            |                           |                                 | saturating: Inf -> max         |
| pair_table | add sub mul min max,      | both operands <= 8 bits         | all-pairs table built by the   |
|            | deterministic             |                                 | arithmetic core                |
| matmul_f32 | matmul, sequential,       | fp32 accumulator, rne, not      | fp32 sums in k order are the   |
|            | exact products            | saturating; every product exact | core's sequential roundings;   |
|            |                           | in fp32                         | NaN outputs redone by the core |
| matmul_f32 | matmul, sequential,       | fp32 accumulator, rne, not      | each step's float64 sum is     |
| _odd       | exact products            | saturating; every product exact | rounded to odd (TwoSum error), |
|            |                           | in float64 (fp32, bf16 ...)     | then to fp32: one rounding     |
|            |                           |                                 | (Boldo & Melquiond 2008); NaN  |
|            |                           |                                 | outputs redone by the core     |
| matmul_int | matmul, sequential,       | fixed, accumulator frac = fa +  | exact int64 sums; wrapping     |
|            | exact products            | fb, wrap, sums within 62 bits   | each add = wrapping the total  |
| matmul_seq | matmul, sequential,       | float accumulator, ``seq_       | each step: float64 sum rounded |
|            | exact products,           | emulated_ok`` (1 <= M <= 50,    | to odd (TwoSum error), then    |
|            | deterministic             | range inside float64's); every  | into acc by the core's rules   |
|            |                           | product exact in float64        | on its bits: one rounding;     |
|            |                           |                                 | outputs with a NaN or Inf      |
|            |                           |                                 | operand redone by the core     |
| native_f32 | add sub mul, rne          | fp32 operands and output        | IEEE float32 arithmetic is one |
|            |                           |                                 | rne rounding; NaN results      |
|            |                           |                                 | redone by the core;            |
|            |                           |                                 | saturating: Inf -> max         |

A path function returns True when it filled ``out`` and every element was representable; False
means "run the core" (an entry the target cannot hold; a NaN, Inf or huge value for the FPU).
The jitted loops are in ``emu.kernels.fast``; the tables, their cache and its lock are here.
"""

from __future__ import annotations

import threading

import numpy as np

from . import parallel
from .codes import KIND_FIXED, KIND_FLOAT, OVF_SAT_SYM, OVF_WRAP, RAZ, RDN, RNE, RTO, RTZ, RUP, SR
from .formats import FixedFormat, FloatFormat, Format, code_dtype
from .kernels import accumulate as kacc
from .kernels import arith as karith
from .kernels import fast
from .kernels import seqacc as kseq
from .kernels.convert import F32, F64, convert_codes

CORE = "core"
LUT_DIRECT = "lut_direct"
LUT_HI16 = "lut_hi16"
FPU_FIXED = "fpu_fixed"
SR_HI16 = "sr_hi16"
HOST_F32 = "host_f32"
PAIR_TABLE = "pair_table"
MATMUL_F32 = "matmul_f32"
MATMUL_F32_ODD = "matmul_f32_odd"
MATMUL_INT = "matmul_int"
MATMUL_SEQ = "matmul_seq"
NATIVE_F32 = "native_f32"

TABLE_BITS = 16
MIN_TABLE_SIZE = 4096  # below this many elements the core beats building a table
PAIR_BITS = 8  # operands of at most this many bits take the all-pairs table

_EMPTY_U64 = np.empty(0, np.uint64)
_EMPTY_I8 = np.empty(0, np.int8)
_EMPTY_U8 = np.empty(0, np.uint8)
_TABLES: dict = {}
_BUILDING = threading.RLock()  # the blocks of one call may ask for a table at the same time


# --- tables ------------------------------------------------------------------------------------
def _cached(key, build):
    """The table under ``key``, built once (under a lock: blocks of one call run in threads)."""
    with _BUILDING:
        if key not in _TABLES:
            _TABLES[key] = build()
        return _TABLES[key]


def _build(src_codes: np.ndarray, src: tuple, dst: tuple, mode: int, overflow: int, rbits: int = 1,
           rwords: np.ndarray = _EMPTY_U64) -> tuple[np.ndarray, np.ndarray]:
    """Core results for ``src_codes``, narrowed to the target's code dtype, and a 0/1 table of
    entries the target cannot hold (empty when there are none)."""
    out = np.empty(src_codes.size, np.uint64)  # uint64: the core kernel compiles once
    bad = np.zeros(src_codes.size, np.uint8)
    first = convert_codes(src_codes, src, out, dst, mode, overflow, rbits, rwords, 0, _EMPTY_I8,
                          False, bad)
    return out.astype(code_dtype(dst[1])), (bad if first >= 0 else _EMPTY_U8)


def _hi16_codes(src) -> np.ndarray:
    """The source code standing for each hi16 table index: top 16 bits, then a sticky bit."""
    idx = np.arange(1 << (TABLE_BITS + 1), dtype=np.uint64)
    low = src[1] - TABLE_BITS
    return ((idx >> np.uint64(1)) << np.uint64(low)) | (idx & np.uint64(1))


def direct_table(src: tuple, dst: tuple, mode: int, overflow: int) -> tuple[np.ndarray, np.ndarray]:
    """(table, bad) over every code of a source of at most 16 bits."""
    return _cached(("direct", src, dst, mode, overflow), lambda: _build(
        np.arange(1 << src[1], dtype=np.uint64), src, dst, mode, overflow))


def hi16_table(src: tuple, dst: tuple, mode: int, overflow: int) -> tuple[np.ndarray, np.ndarray]:
    """(table, bad) over every hi16 index (see ``_hi16_codes``)."""
    return _cached(("hi16", src, dst, mode, overflow),
                   lambda: _build(_hi16_codes(src), src, dst, mode, overflow))


def _packed(src, dst, mode, overflow):
    """The hi16 table of an 8-bit target as uint16 pairs: code for zero low bits in the low byte,
    for nonzero low bits in the high byte."""
    def build():
        pairs = hi16_table(src, dst, mode, overflow)[0].reshape(-1, 2).astype(np.uint16)
        return (pairs[:, 0] | (pairs[:, 1] << np.uint16(8))).copy()

    return _cached(("packed", src, dst, mode, overflow), build)


def sr_tables(src: tuple, dst: tuple, overflow: int) -> tuple:
    """sr_hi16's tables: per top-16 index both neighbours packed (lo: SR with R = 0, never up;
    hi: RAZ, which moves up with SR's overflow semantics), the rounding position clamped to
    0..63, the significand's top part, and the bad entries."""
    def build():
        codes = _hi16_codes(src)
        lo, bad = _build(codes, src, dst, SR, overflow, 1, np.zeros(codes.size, np.uint64))
        hi, _ = _build(codes, src, dst, RAZ, overflow)  # the same entries are bad as for lo
        shift = np.empty(1 << TABLE_BITS, np.int64)
        sig_hi = np.empty(1 << TABLE_BITS, np.uint64)
        fast.positions(codes[::2].copy(), src, dst, shift, sig_hi)
        shift = np.clip(shift, 0, 63).astype(np.uint8)  # see fast.sr_hi16
        half = 8 if dst[1] <= 8 else 16 if dst[1] <= 16 else 32
        wide = {8: np.uint16, 16: np.uint32, 32: np.uint64}[half]
        pairs = lo.astype(wide) | (hi.astype(wide) << wide(half))
        return pairs, half, shift, sig_hi, bad

    return _cached(("sr", src, dst, overflow), build)


def pair_table(op: int, fa: tuple, fb: tuple, dst: tuple, mode: int,
               overflow: int) -> np.ndarray | None:
    """All-pairs table of a binary op (kernel op code) on operands of at most 8 bits, indexed
    ``a << fb_bits | b``; None when some pair has no code in ``dst``."""
    def build():
        a = np.repeat(np.arange(1 << fa[1], dtype=np.uint64), 1 << fb[1])
        b = np.tile(np.arange(1 << fb[1], dtype=np.uint64), 1 << fa[1])
        table = np.empty(a.size, np.uint64)
        bad = karith.binary_codes(op, a, fa, b, fb, table, dst, mode, overflow, 1, _EMPTY_U64, 0,
                                  _EMPTY_I8, False)
        return table.astype(code_dtype(dst[1])) if bad < 0 else None

    return _cached(("pairs", op, fa, fb, dst, mode, overflow), build)


# --- conditions --------------------------------------------------------------------------------
def hi16_exact(src: tuple, dst: tuple) -> bool:
    """Is every bit below the top 16 of a ``src`` code below the half bit of its rounding
    position in ``dst``? (float -> float only). The rounding position of a source value
    ``(-1)**s * sig * 2**exp`` is ``shift = q - exp`` bits above sig's LSB (see the core)."""
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


def sr_fast_ok(src: tuple, dst: tuple, rbits: int) -> bool:
    """sr_hi16 applies: hi16 tables are exact, the low part is plain significand bits, source
    subnormals all lie below the target's normal range (so their rounding position does not
    depend on the low bits), and sig << r < 2**63, so that a rounding position clamped to 63
    gives T = 0 as the true, larger one does (float64 sources: r <= 10)."""
    low = src[1] - TABLE_BITS
    return (hi16_exact(src, dst) and src[2] >= low and 1 - src[4] <= 1 - dst[4]
            and src[2] + 1 + rbits <= 63 and dst[1] <= 32)


def _fpu_fixed_ok(dst, mode) -> bool:
    """frac >= 0: scaling by 2**frac never underflows; width <= 62: every code is an int64."""
    return dst[0] == KIND_FIXED and mode in (RNE, RTZ, RDN, RUP) and dst[1] <= 62 \
        and 0 <= dst[2] < 1000


def _products_exact(fa: FloatFormat, fb: FloatFormat, bits: int, min_lsb: int, emax: int) -> bool:
    """Is every product of an fa and an fb value exact in a binary float with ``bits``
    significand bits, quantum down to 2**min_lsb, and below 2**(emax + 1)?"""
    return ((fa.man_bits + 1) + (fb.man_bits + 1) <= bits
            and (fa.emin - fa.man_bits) + (fb.emin - fb.man_bits) >= min_lsb
            and fa.emax + fb.emax + 2 <= emax)


def products_exact_in_fp32(fa: Format, fb: Format) -> bool:
    """Is every fa and fb value a float32 (the kernel takes them as such) and every product of
    the two exact in fp32, with no overflow?"""
    return fits_fp32(fa) and fits_fp32(fb) and _products_exact(fa, fb, 24, -149, 127)


def fits_fp32(fmt: Format) -> bool:
    """Is every finite value of ``fmt`` a float32?"""
    return (isinstance(fmt, FloatFormat) and fmt.man_bits <= 23
            and fmt.emin - fmt.man_bits >= -149 and fmt.emax <= 127)


def products_exact_in_fp64(fa: Format, fb: Format) -> bool:
    """Is every product of an fa and an fb value exact in float64, and below 2**1023 (so that
    adding an fp32 value cannot overflow float64)?"""
    return (isinstance(fa, FloatFormat) and isinstance(fb, FloatFormat)
            and _products_exact(fa, fb, 53, -1074, 1023))


def seq_emulated_ok(fa: Format, fb: Format, acc: Format) -> bool:
    """matmul_seq applies (emu.kernels.seqacc): a float accumulator of 1..50 mantissa bits (53
    bits of float64 rounded to odd leave two to spare; M = 0 codes' parity is the exponent's),
    whose values stay below 2**1021 (a sum with a product < 2**1023 stays finite) and whose
    smallest subnormal is above 2**-1020 (a float64 subnormal sum is exact and rounds like any
    value below half of it), and products exact in float64."""
    return (isinstance(acc, FloatFormat) and 1 <= acc.man_bits <= 50 and acc.emax <= 1020
            and acc.emin - acc.man_bits >= -1020 and products_exact_in_fp64(fa, fb))


# --- choosers ----------------------------------------------------------------------------------
def convert_path(n: int, src: tuple, dst: tuple, mode: int, overflow: int, rbits: int = 1,
                 host: bool = False) -> str:
    """The path converting ``n`` codes of ``src`` into ``dst`` (descriptors; ``host``: the codes'
    values are available as a host float array)."""
    if mode == RNE and overflow in (0, 1) and dst == F32 and src in (F32, F64):
        return HOST_F32
    if src[1] <= PAIR_BITS and mode <= RTO:  # a 256-entry table is built by one small core call
        return LUT_DIRECT  # and cached: any n takes it (a training step's operands, say)
    if n < MIN_TABLE_SIZE:
        return CORE
    if mode == SR:
        return SR_HI16 if sr_fast_ok(src, dst, rbits) else CORE
    if mode > RTO:
        return CORE
    if src[1] <= TABLE_BITS:
        return LUT_DIRECT
    if hi16_exact(src, dst):
        return LUT_HI16
    if host and _fpu_fixed_ok(dst, mode):
        return FPU_FIXED
    return CORE


def binary_path(n: int, fa: tuple, fb: tuple, mode: int, op: int = -1, dst: tuple | None = None,
                overflow: int = 0) -> str:
    """The path of an elementwise binary op (kernel op code) on ``n`` operand pairs
    (descriptors) into ``dst``."""
    if n >= MIN_TABLE_SIZE and mode <= RTO and fa[1] <= PAIR_BITS and fb[1] <= PAIR_BITS:
        return PAIR_TABLE
    if (op in (karith.OP_ADD, karith.OP_SUB, karith.OP_MUL) and fa == fb == dst == F32
            and mode == RNE and overflow in (0, 1)):
        return NATIVE_F32
    return CORE


def matmul_path(fa: Format, fb: Format, acc: Format, amode: int, aovf: int, order: int,
                chunk: int, exact_products: bool, kk: int) -> str:
    """The path of a matmul with operand formats fa, fb into accumulator ``acc`` (``order``: the
    kernel's code, emu.kernels.accumulate.ORDER_*)."""
    if order != kacc.ORDER_SEQ or chunk or not exact_products:
        return CORE
    if acc.descriptor == F32 and amode == RNE and aovf == 0 and products_exact_in_fp32(fa, fb):
        return MATMUL_F32
    if acc.descriptor == F32 and amode == RNE and aovf == 0 and products_exact_in_fp64(fa, fb):
        return MATMUL_F32_ODD
    if (isinstance(fa, FixedFormat) and isinstance(fb, FixedFormat)
            and isinstance(acc, FixedFormat) and acc.frac == fa.frac + fb.frac and aovf == OVF_WRAP
            and fa.width + fb.width + max(kk, 1).bit_length() <= 62):
        return MATMUL_INT
    if amode <= RTO and seq_emulated_ok(fa, fb, acc):
        return MATMUL_SEQ
    return CORE


# --- conversion paths --------------------------------------------------------------------------
def core_convert(src_codes: np.ndarray, src: tuple, out: np.ndarray, dst: tuple, mode: int,
                 overflow: int, rbits: int = 1, rwords: np.ndarray = _EMPTY_U64, eoff: int = 0,
                 dirs: np.ndarray = _EMPTY_I8, compare: bool = False) -> int:
    """The rounding core over uint64 codes (one compiled kernel for every format pair); the
    first element the target cannot hold, or -1."""
    wide = np.empty(src_codes.size, np.uint64)
    bad = convert_codes(np.ascontiguousarray(src_codes, dtype=np.uint64), src, wide, dst, mode,
                        overflow, rbits, rwords, eoff, dirs, compare, _EMPTY_U8)
    out[:] = wide
    return bad


def lut_direct(src_codes: np.ndarray, src: tuple, out: np.ndarray, dst: tuple, mode: int,
               overflow: int) -> bool:
    """out = table[code] (sources of at most 16 bits); False when a code hit a bad entry."""
    table, bad = direct_table(src, dst, mode, overflow)
    return not fast.lut_direct(src_codes, out, table, bad)


def lut_hi16(src_codes: np.ndarray, src: tuple, out: np.ndarray, dst: tuple, mode: int,
             overflow: int) -> bool:
    """out = table[top 16 bits, sticky] (float -> float, ``hi16_exact``); 8-bit targets without
    bad entries read the same table packed in pairs. False when a code hit a bad entry."""
    table, bad = hi16_table(src, dst, mode, overflow)
    low_bits = src[1] - TABLE_BITS
    if dst[1] <= 8 and bad.size == 0:  # one load per element
        fast.lut_hi16_packed(src_codes, out, _packed(src, dst, mode, overflow), low_bits)
        return True
    return not fast.lut_hi16(src_codes, out, table, bad, low_bits)


_FPU_ROUND = {RNE: fast.fpu_rint, RTZ: fast.fpu_trunc, RDN: fast.fpu_floor, RUP: fast.fpu_ceil}


def fpu_fixed(host: np.ndarray, out: np.ndarray, dst: tuple, mode: int, overflow: int) -> bool:
    """``host``: the float values. False when some element needs the core (NaN, Inf, or a
    magnitude >= 2**62 after scaling)."""
    width, frac, signed = dst[1], dst[2], dst[3] != 0
    hi = float(2 ** (width - 1) - 1) if signed else float(2 ** width - 1)
    lo = -float(2 ** (width - 1)) if signed else 0.0
    if overflow == OVF_SAT_SYM and signed:
        lo = -hi
    mask = (1 << width) - 1 if width < 64 else -1
    return _FPU_ROUND[mode](host, out, 2.0 ** frac, lo, hi, mask, overflow != OVF_WRAP)


def sr_hi16(src_codes: np.ndarray, src: tuple, out: np.ndarray, dst: tuple, overflow: int, rbits: int,
            rwords: np.ndarray, compare: bool, stream=None) -> bool:
    """Plain sr from a wide float (``sr_fast_ok``), one word per element; False (``out``
    untouched) when some element's table entry has no code in the target (a NaN into e2m1,
    say: a target without such entries runs on finite inputs). ``stream`` (an emu.lfsr.Stream
    in place of ``rwords``): the words are made in L1 as the decisions use them."""
    pairs, half, shift, sig_hi, bad = sr_tables(src, dst, overflow)
    if bad.size and fast.hits_bad(src_codes, bad, src[1] - TABLE_BITS):
        return False
    if stream is None:
        fast.sr_hi16(src_codes, out, pairs, half, shift, sig_hi, src[1] - TABLE_BITS, rwords,
                     rbits, compare)
        return True
    ring, made, pos, lane0 = stream.at()
    fast.sr_hi16_stream(src_codes, out, pairs, half, shift, sig_hi, src[1] - TABLE_BITS, rbits,
                        compare, ring, made, pos, stream.lags, stream.d, lane0, stream.invert,
                        stream.chunk)
    return True


def _saturate_f32(codes: np.ndarray) -> None:
    """±Inf fp32 codes -> ±max in place (docs/semantics.md §5.1; an Inf code minus one is the
    largest finite code of the same sign)."""
    codes[(codes & np.uint32(0x7FFFFFFF)) == np.uint32(0x7F800000)] -= np.uint32(1)


def host_f32(src_codes: np.ndarray, src: tuple, out: np.ndarray, overflow: int) -> bool:
    """float64 or fp32 codes -> fp32 codes under rne by the host's conversion (``overflow``
    1: saturating); NaN results are redone by the core (its canonical NaN with the input's
    sign)."""
    udt, fdt = (np.uint64, np.float64) if src == F64 else (np.uint32, np.float32)
    codes = np.ascontiguousarray(src_codes, udt)
    res = np.empty(codes.size, np.float32)
    fast.to_f32(codes.view(fdt), res)
    nan = np.flatnonzero(np.isnan(res))
    codes32 = res.view(np.uint32)
    if nan.size:
        redo = np.empty(nan.size, np.uint32)
        core_convert(codes[nan], src, redo, F32, RNE, 0)
        codes32[nan] = redo
    if overflow:
        _saturate_f32(codes32)
    out[:] = codes32
    return True


def try_path(path: str, src_codes: np.ndarray, src: tuple, out: np.ndarray, dst: tuple, mode: int,
             overflow: int, host: np.ndarray | None = None, rbits: int = 1,
             rwords: np.ndarray = _EMPTY_U64, compare: bool = False, stream=None) -> bool:
    """Run conversion path ``path`` (any but the core); False: the core must run. ``stream``:
    the words' lazy stream (emu.sources.Draws), which only sr_hi16 takes as it is."""
    if path == LUT_DIRECT:
        return lut_direct(src_codes, src, out, dst, mode, overflow)
    if path == LUT_HI16:
        return lut_hi16(src_codes, src, out, dst, mode, overflow)
    if path == FPU_FIXED:
        return fpu_fixed(host, out, dst, mode, overflow)
    if path == SR_HI16:
        return sr_hi16(src_codes, src, out, dst, overflow, rbits, rwords, compare, stream)
    if path == HOST_F32:
        return host_f32(src_codes, src, out, overflow)
    return False


def convert(src_codes: np.ndarray, src: tuple, out: np.ndarray, dst: tuple, mode: int, overflow: int,
            host: np.ndarray | None = None, rbits: int = 1, rwords: np.ndarray = _EMPTY_U64,
            eoff: int = 0, dirs: np.ndarray = _EMPTY_I8, compare: bool = False,
            stream=None) -> int:
    """``convert_codes`` by the chosen path: out = src_codes rounded into ``dst``. ``host``: the
    same values as a float array, or None; ``stream``: the words as a lazy stream in place of
    ``rwords`` (emu.sources.Draws). Returns the first element the target cannot hold, or -1."""
    path = convert_path(src_codes.size, src, dst, mode, overflow, rbits, host is not None)
    if try_path(path, src_codes, src, out, dst, mode, overflow, host, rbits, rwords, compare,
                stream):
        return -1
    if stream is not None:  # every other path takes the words as an array
        rwords = stream.words(src_codes.size)
    return core_convert(src_codes, src, out, dst, mode, overflow, rbits, rwords, eoff, dirs,
                        compare)


def decode(codes: np.ndarray, src: tuple, threads: int | None = None) -> np.ndarray:
    """Codes of the format ``src`` as float64: a conversion into the host float64 format under
    rne (exact for every float format and for fixed point up to 53 significant bits; every
    code has a float64, so it never fails)."""
    flat = np.ascontiguousarray(codes).reshape(-1)
    out = np.empty(flat.size, np.uint64)
    ranges = parallel.blocks(flat.size, parallel.resolve(threads))
    parallel.run(lambda a, b: convert(flat[a:b], src, out[a:b], F64, RNE, 0), ranges)
    return out.view(np.float64).reshape(codes.shape)


# --- elementwise binary ops --------------------------------------------------------------------
def core_binary(op: int, a: np.ndarray, fa: tuple, b: np.ndarray, fb: tuple, out: np.ndarray,
                dst: tuple, mode: int, overflow: int, rbits: int = 1,
                rwords: np.ndarray = _EMPTY_U64, eoff: int = 0, dirs: np.ndarray = _EMPTY_I8,
                compare: bool = False) -> int:
    """The arithmetic core over uint64 codes; the first result the target cannot hold, or -1."""
    wide = np.empty(a.size, np.uint64)  # uint64 everywhere: one compiled kernel, not 64
    bad = karith.binary_codes(op, np.ascontiguousarray(a, dtype=np.uint64), fa,
                              np.ascontiguousarray(b, dtype=np.uint64), fb, wide, dst, mode,
                              overflow, rbits, rwords, eoff, dirs, compare)
    out[:] = wide
    return bad


def pairs(op: int, a: np.ndarray, fa: tuple, b: np.ndarray, fb: tuple, out: np.ndarray, dst: tuple,
          mode: int, overflow: int) -> bool:
    """out = table[a << fb_bits | b]; False when the table has a pair the target cannot hold."""
    table = pair_table(op, fa, fb, dst, mode, overflow)
    if table is None:
        return False
    fast.lut_pairs(a, b, out, table, fb[1])
    return True


def native_f32(op: int, a: np.ndarray, b: np.ndarray, out: np.ndarray, overflow: int = 0) -> None:
    """fp32 add / sub / mul under rne in host float32 (codes in, codes out; ``overflow`` 1:
    saturating, Inf results become ±max); NaN results are redone by the core (its canonical NaN
    and sign, docs/semantics.md §3.3)."""
    a, b = (np.ascontiguousarray(x, np.uint32) for x in (a, b))
    res = np.empty(a.size, np.uint32)
    fast.f32_binary(op, a.view(np.float32), b.view(np.float32), res.view(np.float32))
    nan = np.flatnonzero(np.isnan(res.view(np.float32)))
    if nan.size:
        redo = np.empty(nan.size, np.uint32)
        core_binary(op, a[nan], F32, b[nan], F32, redo, F32, RNE, 0)
        res[nan] = redo
    if overflow:
        _saturate_f32(res)
    out[:] = res


def binary(op: int, a: np.ndarray, fa: tuple, b: np.ndarray, fb: tuple, out: np.ndarray, dst: tuple,
           mode: int, overflow: int, rbits: int = 1, rwords: np.ndarray = _EMPTY_U64, eoff: int = 0,
           dirs: np.ndarray = _EMPTY_I8, compare: bool = False) -> int:
    """Elementwise ``op`` (a kernel op code) by the chosen path; the first bad element or -1."""
    path = binary_path(a.size, fa, fb, mode, op, dst, overflow)
    if path == PAIR_TABLE and pairs(op, a, fa, b, fb, out, dst, mode, overflow):
        return -1
    if path == NATIVE_F32:  # every fp32 result has a code: nothing is bad
        native_f32(op, a, b, out, overflow)
        return -1
    return core_binary(op, a, fa, b, fb, out, dst, mode, overflow, rbits, rwords, eoff, dirs,
                       compare)


# --- matmul ------------------------------------------------------------------------------------
def _ints(codes: np.ndarray, fmt: FixedFormat) -> np.ndarray:
    """Sign-extended integer values of fixed-point codes."""
    v = codes.astype(np.int64)
    if fmt.signed:
        v = np.where(v >= (1 << (fmt.width - 1)), v - (1 << fmt.width), v)
    return np.ascontiguousarray(v)


def _host(codes: np.ndarray, fmt: Format, dtype) -> np.ndarray:
    """Codes as host floats of ``dtype`` (float32 or float64; exact: the caller checked that
    they fit). fp32 codes are viewed, not converted."""
    if dtype == np.float32 and fmt.descriptor == F32:
        return np.ascontiguousarray(codes, np.uint32).view(np.float32)
    dst, udt = (F32, np.uint32) if dtype == np.float32 else (F64, np.uint64)
    out = np.empty(codes.shape, udt)
    convert(np.ascontiguousarray(codes).reshape(-1), fmt.descriptor, out.reshape(-1), dst, RNE, 0)
    return out.view(dtype)


def _nan_by_core(res: np.ndarray, a: np.ndarray, fa: Format, b: np.ndarray, fb: Format) -> None:
    """Recompute the NaN outputs among fp32 results ``res`` (uint32 codes) by the core, so
    their codes follow docs/semantics.md §3.3."""
    one = np.empty((1, 1), np.uint64)
    for i, j in zip(*np.nonzero(np.isnan(res.view(np.float32))), strict=True):
        kacc.matmul_core(np.ascontiguousarray(a[i:i + 1], np.uint64), fa.descriptor,
                         np.ascontiguousarray(b[:, j:j + 1], np.uint64), fb.descriptor, True, F32,
                         RNE, 0, _EMPTY_U64, F32, RNE, 0, _EMPTY_U64, kacc.ORDER_SEQ, 0, F32, RNE,
                         0, 13, 32, 1, False, one)
        res[i, j] = one[0, 0]


def matmul_f32(a: np.ndarray, fa: Format, b: np.ndarray, fb: Format,
               rows: list[tuple[int, int]]) -> np.ndarray:
    """Native fp32 C = A @ B over codes a (M, K), b (K, N), in blocks of output ``rows``.
    Outputs that are NaN are recomputed by the core. Returns fp32 codes (uint32)."""
    xa, xb = _host(a, fa, np.float32), _host(b, fb, np.float32)
    c = np.empty((a.shape[0], b.shape[1]), np.float32)
    parallel.run(lambda i0, i1: kacc.matmul_f32(xa[i0:i1], xb, c[i0:i1]), rows)
    res = c.view(np.uint32)
    _nan_by_core(res, a, fa, b, fb)
    return res


def matmul_f32_odd(a: np.ndarray, fa: Format, b: np.ndarray, fb: Format,
                   rows: list[tuple[int, int]]) -> np.ndarray:
    """fp32 C = A @ B as an fp32 FMA chain per output (``products_exact_in_fp64``): operands as
    float32 where they fit, else float64; NaN outputs recomputed by the core. fp32 codes."""
    xa, xb = (_host(x, f, np.float32 if fits_fp32(f) else np.float64)
              for x, f in ((a, fa), (b, fb)))
    c = np.empty((a.shape[0], b.shape[1]), np.float32)
    parallel.run(lambda i0, i1: kacc.matmul_f32_odd(xa[i0:i1], xb, c[i0:i1]), rows)
    res = c.view(np.uint32)
    _nan_by_core(res, a, fa, b, fb)
    return res


def matmul_int(a: np.ndarray, fa: FixedFormat, b: np.ndarray, fb: FixedFormat, acc: FixedFormat,
               rows: list[tuple[int, int]]) -> np.ndarray:
    """Integer C = A @ B in int64, wrapped to the accumulator's width; accumulator codes."""
    ia, ib = _ints(a, fa), _ints(b, fb)
    c = np.empty((a.shape[0], b.shape[1]), np.int64)  # exact: wrapping each add == the total
    parallel.run(lambda i0, i1: kacc.matmul_int(ia[i0:i1], ib, c[i0:i1]), rows)
    return c.view(np.uint64) & np.uint64((1 << acc.width) - 1)


def _core_seq(a: np.ndarray, fa: Format, b: np.ndarray, fb: Format, acc: Format, amode: int,
              aovf: int) -> np.ndarray | None:
    """The core's sequential sums of exact products (accumulator codes), or None when some
    output has no code in ``acc``."""
    out = np.empty((a.shape[0], b.shape[1]), np.uint64)
    d = acc.descriptor
    bad = kacc.matmul_core(np.ascontiguousarray(a, np.uint64), fa.descriptor,
                           np.ascontiguousarray(b, np.uint64), fb.descriptor, True, d, RNE, 0,
                           _EMPTY_U64, d, amode, aovf, _EMPTY_U64, kacc.ORDER_SEQ, 0, d, RNE, 0,
                           13, 32, 1, False, out)
    return out if bad < 0 else None


def matmul_seq(a: np.ndarray, fa: Format, b: np.ndarray, fb: Format, acc: FloatFormat, amode: int,
               aovf: int, rows: list[tuple[int, int]]) -> np.ndarray | None:
    """Sequential C = A @ B into a float accumulator (``seq_emulated_ok``) under a deterministic
    mode, in host float64 (emu.kernels.seqacc), in blocks of output ``rows``: the operands are
    decoded once; the outputs of a row or column holding a NaN or Inf operand are recomputed
    by the core. Accumulator codes (uint64), or None (the core must run: such an output has no
    code in ``acc``)."""
    xa, xb = _host(a, fa, np.float64), _host(b, fb, np.float64)
    bad_rows = np.flatnonzero(~np.isfinite(xa).all(axis=1))
    bad_cols = np.flatnonzero(~np.isfinite(xb).all(axis=0))
    if bad_rows.size or bad_cols.size:  # the kernel takes finite values only
        xa, xb = (np.where(np.isfinite(x), x, 0.0) for x in (xa, xb))
    res = np.empty((a.shape[0], b.shape[1]), np.uint64)
    parallel.run(lambda i0, i1: kseq.matmul_seq(xa[i0:i1], xb, acc.descriptor, amode, aovf,
                                                res[i0:i1]), rows)
    if bad_rows.size:
        codes = _core_seq(a[bad_rows], fa, b, fb, acc, amode, aovf)
        if codes is None:
            return None
        res[bad_rows] = codes
    if bad_cols.size:
        good = np.setdiff1d(np.arange(a.shape[0]), bad_rows)
        codes = _core_seq(a[good], fa, b[:, bad_cols], fb, acc, amode, aovf)
        if codes is None:
            return None
        res[np.ix_(good, bad_cols)] = codes
    return res


def matmul(a: np.ndarray, fa: Format, b: np.ndarray, fb: Format, acc: Format, amode: int, aovf: int,
           order: int, chunk: int, exact_products: bool,
           rows: list[tuple[int, int]]) -> np.ndarray | None:
    """The accumulator codes of A @ B by a native path, identical to the core's, or None when
    the core must run."""
    path = matmul_path(fa, fb, acc, amode, aovf, order, chunk, exact_products, a.shape[1])
    if path == MATMUL_F32:
        return matmul_f32(a, fa, b, fb, rows)
    if path == MATMUL_F32_ODD:
        return matmul_f32_odd(a, fa, b, fb, rows)
    if path == MATMUL_INT:
        return matmul_int(a, fa, b, fb, acc, rows)
    if path == MATMUL_SEQ:
        return matmul_seq(a, fa, b, fb, acc, amode, aovf, rows)
    return None
