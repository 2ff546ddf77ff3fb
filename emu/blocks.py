"""Block-scaled formats: OCP MX (MXFP8/6/4, MXINT8) and NVFP4 (docs/semantics.md §14).

A block format is an element format, a block size k and a scale format: k consecutive elements
along one axis share one scale, and an element's value is ``scale * element`` (times NVFP4's
per-tensor scale). ``BlockRegisters`` hold the element codes, the scale codes and the layout;
``quantize`` converts float arrays with the spec's scale selection and the one rounding core for
the elements; ``emu.matmul`` multiplies block registers (emu.blockdot). The element rounding is
emu.quantize itself, so every mode, SR source, lane rule and overflow policy is the usual one.
"""

from __future__ import annotations

import numpy as np

from .blockformats import NAMED_BLOCKS, BlockFormat, block_format, is_block_format  # noqa: F401
from .formats import FloatFormat, ScaleFormat
from .registers import Registers
from .validate import integer

SCALE_RULES = ("floor", "ceil", "rceil")
_TINY = 2.0 ** -1000  # stands for an element-space value float64 cannot hold (see _scaled)


def _block_axis(axis, shape: tuple, what: str) -> int:
    """The block axis as an index into ``shape`` (negative counts from the end), checked."""
    if not shape:
        raise ValueError("block formats need an array with at least one axis, not a 0-d one")
    axis = integer(axis, "axis")
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"axis={axis} out of range for {what} {shape}")
    return axis % len(shape)


def _readonly(a: np.ndarray) -> np.ndarray:
    v = a.view()
    v.flags.writeable = False
    return v


class BlockRegisters:
    """Element codes, scale codes and the layout of a block-scaled tensor.

    ``codes``: the element codes, the tensor's shape. ``scales``: the scale codes, the same shape
    except along ``axis``, which holds ceil(n / k) blocks; block b covers elements b*k ..
    b*k+k-1 along the axis, and a last partial block holds n mod k elements (the spec's
    padding: the missing elements count as zeros, and are not stored). ``tensor_scale``: NVFP4's
    per-tensor fp32 scale (1.0 when there is none). Values are ``tensor_scale * scale *
    element``, exactly (``to_float``); a NaN scale makes its whole block NaN (OCP MX §5.3).
    """

    __slots__ = ("_codes", "_scales", "_format", "_axis", "_tensor_scale")

    def __init__(self, codes, scales, fmt, axis: int = -1, tensor_scale: float = 1.0):
        fmt = block_format(fmt)
        elems = Registers.from_codes(codes, fmt.element)._codes
        scales = Registers.from_codes(scales, fmt.scale)._codes
        axis = _block_axis(axis, elems.shape, "codes of shape")
        want = list(elems.shape)
        want[axis] = -(-elems.shape[axis] // fmt.block_size)
        if isinstance(fmt.scale, FloatFormat) and scales.size:
            signed = (scales & fmt.scale.sign_bit) != 0
            if signed.any():  # NVFP4's scale is unsigned (UE4M3): a sign-bit code is no scale
                at = tuple(int(i) for i in np.argwhere(signed)[0])
                raise ValueError(f"scale code {int(scales[at]):#x} at index {at} has the sign bit "
                                 f"set; {fmt.name}'s scales are unsigned ({fmt.scale.name} "
                                 "without its sign, as NVIDIA's UE4M3)")
        if scales.shape != tuple(want):
            raise ValueError(f"scales of shape {scales.shape} do not fit codes of shape "
                             f"{elems.shape} in blocks of {fmt.block_size} along axis {axis}: "
                             f"need {tuple(want)}")
        self._init(elems, scales, fmt, axis, _tensor_scale(tensor_scale, fmt))

    def _init(self, elems, scales, fmt, axis, tensor_scale):
        self._codes, self._scales, self._format = elems, scales, fmt
        self._axis, self._tensor_scale = axis, tensor_scale

    @classmethod
    def _wrap(cls, elems, scales, fmt, axis, tensor_scale=1.0) -> BlockRegisters:
        r = object.__new__(cls)
        r._init(elems, scales, fmt, axis, tensor_scale)
        return r

    from_codes = classmethod(lambda cls, codes, scales, fmt, axis=-1, tensor_scale=1.0:
                             cls(codes, scales, fmt, axis, tensor_scale))
    from_codes.__doc__ = "Block registers from a DUT's element and scale codes (checked)."

    @property
    def format(self) -> BlockFormat:
        return self._format

    @property
    def codes(self) -> np.ndarray:
        return _readonly(self._codes)

    @property
    def scales(self) -> np.ndarray:
        return _readonly(self._scales)

    @property
    def axis(self) -> int:
        return self._axis

    @property
    def tensor_scale(self) -> float:
        return self._tensor_scale

    @property
    def shape(self) -> tuple[int, ...]:
        return self._codes.shape

    @property
    def padding(self) -> int:
        """Elements missing from the last block along the axis (0: every block is full)."""
        n = self._codes.shape[self._axis]
        return -n % self._format.block_size

    @property
    def elements(self) -> Registers:
        """The element codes as Registers of the element format (values without the scales)."""
        return Registers._wrap(self._codes, self._format.element)

    @property
    def scale_registers(self) -> Registers:
        return Registers._wrap(self._scales, self._format.scale)

    def scale_values(self) -> np.ndarray:
        """Each element's scale as float64 (the block scale broadcast along the axis, times the
        tensor scale)."""
        s = scale_values(self._scales, self._format.scale) * self._tensor_scale
        return np.repeat(s, self._format.block_size, axis=self._axis).take(
            np.arange(self._codes.shape[self._axis]), axis=self._axis)

    def to_float(self) -> np.ndarray:
        """The exact values as float64: tensor scale x block scale x element (every product is
        exact in float64: at most 2 + 4 + 24 significant bits for NVFP4)."""
        with np.errstate(invalid="ignore"):  # Inf x a zero scale: NaN, quietly
            return self.elements.to_float() * self.scale_values()

    def __array__(self, dtype=None, copy: bool | None = None) -> np.ndarray:
        """``np.asarray(blocks)``: the decoded float64 values (``to_float``), a new array."""
        if copy is False:
            raise ValueError("np.asarray(block registers, copy=False): the values are decoded into "
                             "a new array, so a copy cannot be avoided; .codes and .scales hold the "
                             "codes")
        v = self.to_float()
        return v if dtype is None else v.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return (f"BlockRegisters({self._format.name}, shape={self.shape}, axis={self._axis}"
                + (f", tensor_scale={self._tensor_scale!r}" if self._tensor_scale != 1.0 else "")
                + ")")


def scale_values(codes: np.ndarray, fmt) -> np.ndarray:
    """Scale codes decoded to float64 (e8m0: 2**(c - 127), 0xFF NaN)."""
    codes = np.asarray(codes)
    if isinstance(fmt, ScaleFormat):
        return fmt.decode(codes)
    return Registers._wrap(codes, fmt).to_float()


def _tensor_scale(t, fmt: BlockFormat) -> float:
    if isinstance(t, bool) or not isinstance(t, int | float | np.floating | np.integer):
        raise TypeError(f"tensor_scale must be a number, not {type(t).__name__}")
    t = float(t)
    if not (np.isfinite(t) and t > 0 and float(np.float32(t)) == t):
        raise ValueError(f"tensor_scale={t!r} must be a positive finite float32 value")
    if t != 1.0 and fmt.power_of_two_scale:
        raise ValueError(f"{fmt.name} has no per-tensor scale (NVFP4-style formats, with a float "
                         "block scale, do)")
    return t


# --- quantization ---------------------------------------------------------------------------

def _as_float64(x) -> tuple[np.ndarray, bool]:
    """x as float64 (exactly) and whether it came as float32 or narrower."""
    from .interop import host_array

    arr = np.asarray(host_array(x))
    if arr.dtype.kind == "f" and arr.dtype.itemsize <= 8:
        with np.errstate(invalid="ignore"):  # signalling NaNs become quiet NaNs, as in numpy
            return arr.astype(np.float64), arr.dtype.itemsize <= 4
    if arr.dtype.kind in "iu":
        if arr.size and np.abs(arr.astype(np.float64)).max() > 2.0 ** 53:
            raise ValueError("integers beyond 2**53 do not convert exactly; give floats")
        return arr.astype(np.float64), False
    if arr.dtype == bool:
        raise TypeError("quantize takes numbers, not booleans")
    raise TypeError(f"block quantization takes float or integer arrays, not {arr.dtype}")


def _shared_exponents(amax: np.ndarray, fmt: BlockFormat, rule: str) -> np.ndarray:
    """OCP MX §6.3: floor(log2(amax)) - emax_elem (exact, from the float64 exponent), or the
    smallest power of two with amax / X <= the element's max (``ceil``), or NVIDIA's
    cvt.rp.ue8m0 of fp32(amax) / fp32(max) (``rceil``); clamped to E8M0's [-127, 127]. All-zero
    blocks get -127 (the smallest scale, as gfloat's compute_scale_amax)."""
    with np.errstate(all="ignore"):
        e = np.frexp(amax)[1].astype(np.int64) - 1  # 2**e <= amax < 2**(e+1)
        if rule == "floor":
            s = e - fmt.element_emax
        elif rule == "ceil":
            s = e - fmt.element_emax
            s = s + (amax > np.ldexp(fmt.element_max, s))  # s or s+1 (see docs §14.3)
        else:
            q = (amax.astype(np.float32) / np.float32(fmt.element_max)).astype(np.float64)
            m, eq = np.frexp(q)
            s = eq.astype(np.int64) - (m == 0.5)  # ceil(log2 q): 2**(s-1) < q <= 2**s
            # q left float32 (frexp gives exponent 0 for 0 and Inf): the clamp's ends
            s = np.where(q == 0, -127, np.where(np.isinf(q), 127, s))
        s = np.where(amax > 0, s, -127)
    return np.clip(s, -127, 127)


def _scaled(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    """x / 2**s exactly for rounding: float64 holds it unless it underflows below 2**-1022,
    where every element format's rounding sees only its sign and that it is nonzero (the
    element's quantum and SR threshold bits lie far above, BlockFormat checks), so such a value
    becomes +-2**-1000, which rounds the same in every mode."""
    y = np.ldexp(x, -s)
    tiny = (x != 0) & (np.abs(y) < 2.0 ** -1022)
    if tiny.any():
        y = np.where(tiny, np.copysign(_TINY, x), y)
    return y


def _blocked(x: np.ndarray, axis: int, k: int) -> np.ndarray:
    """x with ``axis`` last, zero-padded to whole blocks, as (..., blocks, k)."""
    xm = np.moveaxis(x, axis, -1)
    n = xm.shape[-1]
    pad = -n % k
    if pad:
        xm = np.concatenate([xm, np.zeros(xm.shape[:-1] + (pad,), xm.dtype)], axis=-1)
    return xm.reshape(xm.shape[:-1] + ((n + pad) // k, k))


def _per_element(v: np.ndarray, axis: int, n: int, k: int) -> np.ndarray:
    """Per-block values (blocks along ``axis``) repeated over each block's elements."""
    return np.repeat(v, k, axis=axis).take(np.arange(n), axis=axis)


def quantize(x, fmt, rounding="rne", *, axis: int = -1, scale_rule: str = "floor",
             tensor_scale=None, saturate: bool | None = None, overflow: str | None = None,
             **options) -> BlockRegisters:
    """Quantize a float array into a block format (docs/semantics.md §14.3).

    MX formats (e8m0 scales): per block of k elements along ``axis``, the shared exponent
    ``scale_rule`` = ``floor`` (OCP MX §6.3: floor(log2 amax) - emax_elem), ``ceil`` (the
    smallest power of two that avoids clipping) or ``rceil`` (NVIDIA's round-up of fp32(amax) /
    fp32(max_elem)), clamped to [-127, 127]; then each element x / X rounded once into the
    element format by emu.quantize with ``rounding`` and ``options`` (rng, sr_bits, form, eps,
    direction, threads, return_words: one draw per element in the input's C order, the usual
    lane rule). Elements saturate (the spec's clamping to max normal); ``saturate=False`` lets
    FP8 elements overflow to Inf/NaN, ``overflow=`` sets MXINT8's policy. A block holding NaN or
    Inf gets the NaN scale 0xFF and +0 elements; an all-zero block the scale 2**-127.

    NVFP4 (an e4m3 scale): NVIDIA's recipe in fp32: ``tensor_scale`` None (none, 1.0),
    ``"amax"`` (fp32(amax(|x|) / (448 * 6))) or an fp32 value t; block scale =
    e4m3_rne_satfinite(fp32(fp32(amax / 6) / t)); element input = fp32(x / fp32(scale * t)),
    rounded into e2m1 by the core. A block whose scale is 0 holds +0 elements.
    """
    fmt = block_format(fmt)
    if fmt.power_of_two_scale and tensor_scale is None and scale_rule in SCALE_RULES:
        res = _quantize_fused(x, fmt, rounding, axis, scale_rule, saturate, overflow, options)
        if res is not None:
            return res
    return _quantize_general(x, fmt, rounding, axis=axis, scale_rule=scale_rule,
                             tensor_scale=tensor_scale, saturate=saturate, overflow=overflow,
                             **options)


def _quantize_general(x, fmt, rounding="rne", *, axis: int = -1, scale_rule: str = "floor",
                      tensor_scale=None, saturate: bool | None = None, overflow: str | None = None,
                      **options) -> BlockRegisters:
    """quantize by numpy passes and one emu.quantize of the scaled elements: every format and
    option (the fused path, ``_quantize_fused``, is pinned to it by tests/test_blocks_fast.py)."""
    fmt = block_format(fmt)
    if scale_rule not in SCALE_RULES:
        raise ValueError(f"unknown scale_rule {scale_rule!r}; valid: {', '.join(SCALE_RULES)}")
    x64, _ = _as_float64(x)
    axis = _block_axis(axis, x64.shape, "an array of shape")
    if not fmt.power_of_two_scale:  # NVIDIA's recipe is float32 arithmetic: x rounds to fp32
        with np.errstate(over="ignore"):
            x64 = x64.astype(np.float32).astype(np.float64)  # beyond fp32's range: +-Inf
    k, n = fmt.block_size, x64.shape[axis]
    blocks = _blocked(x64, axis, k)
    with np.errstate(invalid="ignore"):
        special = ~np.isfinite(blocks).all(axis=-1)
        amax = np.where(special, 0.0, np.abs(np.where(np.isfinite(blocks), blocks, 0)).max(
            axis=-1, initial=0.0))
    special = np.moveaxis(special, -1, axis)
    amax = np.moveaxis(amax, -1, axis)
    if isinstance(fmt.element, FloatFormat):
        sat_default = True
    else:
        sat_default = None
    if fmt.power_of_two_scale:
        if tensor_scale is not None:
            raise ValueError(f"{fmt.name} has no per-tensor scale (NVFP4-style formats, with a "
                             "float block scale, do)")
        s = _shared_exponents(amax, fmt, scale_rule)
        scales = np.where(special, 0xFF, s + 127).astype(np.uint8)
        s_el = _per_element(np.where(special, 0, s), axis, n, k)
        y = _scaled(x64, s_el)
        t = 1.0
    else:
        if scale_rule != "floor":
            raise ValueError(f"scale_rule={scale_rule!r} is for power-of-two (e8m0) scales; "
                             f"{fmt.name}'s scale is rounded from amax / max_elem")
        scales, y, t = _float_scaled(x64, amax, special, fmt, axis, n, tensor_scale)
    y = np.where(_per_element(special | _zero_scale(scales, fmt), axis, n, k), 0.0, y)
    from .ops import quantize as quantize_values

    if saturate is None and overflow is None and sat_default:
        saturate = True
    res = quantize_values(y, fmt.element, rounding, saturate=saturate, overflow=overflow,
                          **options)
    elems, words = res if options.get("return_words") else (res, None)
    out = BlockRegisters._wrap(elems._codes, scales, fmt, axis, t)
    return (out, words) if words is not None else out


_FUSED_OPTIONS = frozenset(("rng", "sr_bits", "eps", "direction", "form", "threads", "return_words",
                            "profile"))
_RULE_CODES = {"floor": 0, "ceil": 1, "rceil": 2}


def _quantize_fused(x, fmt: BlockFormat, rounding, axis, scale_rule, saturate, overflow,
                    options) -> BlockRegisters | None:
    """quantize for power-of-two scales and float32/float64 arrays by emu.kernels.blockquant:
    one pass per block for amax, the scale and the scaled elements, then the element rounding
    either fused (the lut_hi16 or sr_hi16 tables of emu.paths, where they apply: emu's own
    profile, a table-exact element format of at most 8 bits, deterministic modes or plain sr)
    or by the general path's own emu.quantize call on the scaled elements. None where it does
    not apply (the general path then runs, and raises what it raises). Bit for bit the general
    path's result (tests/test_blocks_fast.py)."""
    from .interop import host_array

    if not _FUSED_OPTIONS.issuperset(options):
        return None
    arr = np.asarray(host_array(x))
    if arr.dtype not in (np.float32, np.float64) or arr.ndim == 0 or arr.size == 0:
        return None
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer) \
            or not -arr.ndim <= axis < arr.ndim:
        return None
    axis = int(axis) % arr.ndim
    src = np.ascontiguousarray(arr).reshape(-1)
    shape = arr.shape
    k, n = fmt.block_size, shape[axis]
    outer, inner = int(np.prod(shape[:axis])), int(np.prod(shape[axis + 1:]))
    if inner == 0 or outer == 0:
        return None
    nb = -(-n // k)
    if saturate is None and overflow is None and isinstance(fmt.element, FloatFormat):
        saturate = True
    plan = _fused_plan(fmt, rounding, saturate, overflow, options)
    if plan is None:  # the element rounding is the general path's emu.quantize call
        return _fused_scales_then(src, shape, outer, n, inner, nb, fmt, axis, scale_rule, rounding,
                                  saturate, overflow, options)
    from . import parallel, profiles
    from .sources import with_words

    rnd, prof, threads, strategy, tables = plan
    drawn, consumed = profiles.draws(prof, rnd, fmt.element, shape, options.get("rng"), None,
                                     threads)
    pairs, half, shift, sig_hi = tables
    scales = np.empty(outer * nb * inner, np.uint8)
    out = np.empty(src.size, np.uint8)
    units = outer * nb
    ranges = parallel.blocks(units, parallel.resolve(threads),
                             max(1, parallel.MIN_BLOCK // (k * inner)))
    args = (*_element_range(fmt), _RULE_CODES[scale_rule], scales, strategy,
            _EMPTY_F64, out, pairs, half, shift, sig_hi,
            np.ascontiguousarray(drawn.words, np.uint64), drawn.rbits, drawn.compare)
    parallel.run(lambda a, b: _units(src, n, inner, k, a, b, args), ranges)
    res = BlockRegisters._wrap(out.reshape(shape), scales.reshape(_scale_shape(shape, axis, nb)),
                               fmt, axis, 1.0)
    return with_words(res, consumed if rnd.stochastic else None, options.get("return_words", False))


_EMPTY_F64 = np.empty(0, np.float64)
_EMPTY_U16 = np.empty(0, np.uint16)
_EMPTY_U8 = np.empty(0, np.uint8)
_EMPTY_U64 = np.empty(0, np.uint64)


_RANGES: dict = {}


def _element_range(fmt: BlockFormat) -> tuple[int, float]:
    """(emax_elem, the element's max) of a block format, computed once."""
    if fmt not in _RANGES:
        _RANGES[fmt] = (fmt.element_emax, fmt.element_max)
    return _RANGES[fmt]


def _units(src: np.ndarray, n: int, inner: int, k: int, u0: int, u1: int, args: tuple) -> None:
    """Units u0 .. u1-1 by emu.kernels.blockquant (its faster loop for blocks along the last
    axis); ``src``'s bits go along as a signed integer view."""
    from .kernels import blockquant as kbq

    bits = src.view(np.int64 if src.dtype == np.float64 else np.int32)
    if inner == 1:
        kbq.contiguous_units(src, bits, n, k, u0, u1, *args)
    else:
        kbq.quantize_units(src, bits, n, inner, k, u0, u1, *args)


def _scale_shape(shape, axis, nb):
    return shape[:axis] + (nb,) + shape[axis + 1:]


def _fused_plan(fmt, rounding, saturate, overflow, options):
    """(rounding, profile, threads, strategy, tables) when the element rounding can run fused
    by a table of emu.paths, else None. Any argument error also gives None: the general path
    raises it."""
    from . import profiles
    from .defaults import current_context
    from .rounding import as_rounding
    from .validate import flag, optional_integer

    elem = fmt.element
    if not isinstance(elem, FloatFormat) or elem.bits > 8 or options.get("direction") is not None:
        return None
    try:
        rnd = as_rounding(rounding, saturate=saturate, overflow=overflow,
                          sr_bits=options.get("sr_bits"), eps=options.get("eps"),
                          form=options.get("form"), fmt=elem)
        threads = optional_integer(options.get("threads"), "threads", 1)
        prof = profiles.resolve(options.get("profile"), current_context().profile)
        flag(options.get("return_words", False), "return_words")
    except (ValueError, TypeError):
        return None
    if not prof.is_ocp:  # NaN re-encodings and vendor SR operands: the general path's
        return None
    key = (elem.descriptor, rnd.mode_code, rnd.overflow_code(elem), rnd.bits)
    if key not in _TABLE_PLANS:  # once per element format, mode, overflow and r
        _TABLE_PLANS[key] = _table_plan(*key)
    plan = _TABLE_PLANS[key]
    return None if plan is None else (rnd, prof, threads) + plan


_TABLE_PLANS: dict = {}


def _table_plan(dst, mode, ovf, rbits):
    """(strategy, (pairs, half, shift, sig_hi)) of emu.paths' tables for float64 -> ``dst``,
    or None where no table path applies."""
    from . import paths
    from .codes import RTO, SR
    from .kernels import blockquant as kbq
    from .kernels.convert import F64

    if mode == SR and paths.sr_fast_ok(F64, dst, rbits):
        pairs, half, shift, sig_hi, bad = paths.sr_tables(F64, dst, ovf)
        return (kbq.SR, (pairs, half, shift, sig_hi)) if _finite_entries_good(bad) else None
    if mode <= RTO and paths.hi16_exact(F64, dst):
        _, bad = paths.hi16_table(F64, dst, mode, ovf)
        if _finite_entries_good(bad):
            return kbq.PACKED, (paths._packed(F64, dst, mode, ovf), 0, _EMPTY_U8, _EMPTY_U64)
    return None


def _finite_entries_good(bad: np.ndarray) -> bool:
    """Has every hi16 index of a finite float64 a code in the target? (Scaled elements are
    always finite: a block holding NaN or Inf rounds +0s.) ``bad``: a table's 0/1 entries by
    index (top 16 bits, then a sticky bit), or empty: none bad."""
    if bad.size == 0:
        return True
    top = np.arange(bad.size) >> 1
    finite = ((top >> 4) & 0x7FF) != 0x7FF
    return not bad[finite].any()


def _fused_scales_then(src, shape, outer, n, inner, nb, fmt, axis, scale_rule, rounding, saturate,
                       overflow, options):
    """The fused scales and scaled elements, then the general path's emu.quantize call."""
    from . import parallel
    from .kernels import blockquant as kbq
    from .ops import quantize as quantize_values
    from .validate import optional_integer

    k = fmt.block_size
    try:
        threads = parallel.resolve(optional_integer(options.get("threads"), "threads", 1))
    except (ValueError, TypeError):
        threads = 1  # emu.quantize below raises it
    scales = np.empty(outer * nb * inner, np.uint8)
    y = np.empty(src.size, np.float64)
    ranges = parallel.blocks(outer * nb, threads,
                             max(1, parallel.MIN_BLOCK // (k * inner)))
    args = (*_element_range(fmt), _RULE_CODES[scale_rule], scales, kbq.Y_ONLY, y,
            _EMPTY_U8, _EMPTY_U16, 0, _EMPTY_U8, _EMPTY_U64, _EMPTY_U64, 1,
            False)
    parallel.run(lambda a, b: _units(src, n, inner, k, a, b, args), ranges)
    res = quantize_values(y.reshape(shape), fmt.element, rounding, saturate=saturate,
                          overflow=overflow, **options)
    elems, words = res if options.get("return_words") else (res, None)
    out = BlockRegisters._wrap(elems._codes, scales.reshape(_scale_shape(shape, axis, nb)), fmt,
                               axis, 1.0)
    return (out, words) if words is not None else out


def _zero_scale(scales: np.ndarray, fmt: BlockFormat) -> np.ndarray:
    if fmt.power_of_two_scale:
        return np.zeros(scales.shape, bool)
    return scale_values(scales, fmt.scale) == 0


def _float_scaled(x64, amax, special, fmt: BlockFormat, axis, n, tensor_scale):
    """NVFP4-style scaling (a float block scale), in fp32 as NVIDIA's recipe (see quantize)."""
    from .ops import quantize as quantize_values

    f32 = np.float32
    emax = f32(fmt.element_max)
    if tensor_scale is None:
        t = f32(1.0)
    elif isinstance(tensor_scale, str):
        if tensor_scale != "amax":
            raise ValueError(f"tensor_scale={tensor_scale!r}; valid: None, 'amax' or an fp32 value")
        with np.errstate(all="ignore"):  # the largest finite |x| of the whole tensor
            finite = np.abs(x64[np.isfinite(x64)]).astype(f32)
            amax_t = f32(np.max(finite, initial=f32(0)))
            t = amax_t / (f32(float(fmt.scale.max)) * emax) if amax_t > 0 else f32(1.0)
        if not t > 0:  # amax_t / 2688 underflowed (amax_t below 2^-138): no second level
            t = f32(1.0)
    else:
        t = f32(_tensor_scale(tensor_scale, fmt))
    with np.errstate(all="ignore"):
        s32 = (amax.astype(f32) / emax) / t
    scales = quantize_values(s32, fmt.scale, "rne", saturate=True)._codes
    sv = scale_values(scales, fmt.scale).astype(f32)
    with np.errstate(all="ignore"):
        denom = _per_element(sv * t, axis, n, fmt.block_size)
        y = (x64.astype(f32) / denom).astype(np.float64)
    nan_scale = fmt.scale.nan_code
    if nan_scale is not None:
        scales = np.where(special, nan_scale, scales).astype(scales.dtype)
    return scales, y, float(t)


def carrier(fmt: BlockFormat) -> FloatFormat:
    """A float format holding every scale x element value of ``fmt`` exactly (the operands of
    block_sum="products"): significand bits for an element's times a scale's, subnormal quantum
    the smallest such value (every value is a multiple of it), and the range up to the largest;
    ieee, so a NaN scale or an Inf element stays NaN or Inf."""
    e, s = fmt.element, fmt.scale
    esig = e.man_bits + 1 if isinstance(e, FloatFormat) else e.width - 1
    ssig = 1 if isinstance(s, ScaleFormat) else s.man_bits + 1
    man = esig - 1 if ssig == 1 else esig + ssig - 1
    emin_e = e.emin - e.man_bits if isinstance(e, FloatFormat) else -e.frac
    low = emin_e + (s.emin if isinstance(s, ScaleFormat) else s.emin - s.man_bits)
    high = int(np.frexp(float(e.max) * float(s.max))[1]) - 1
    bias = 1 - man - low  # emin - man = low: the smallest value is the subnormal quantum
    exp_bits = 2
    while (1 << exp_bits) - 2 - bias < high:
        exp_bits += 1
    return FloatFormat(exp_bits, man, bias, "ieee")
