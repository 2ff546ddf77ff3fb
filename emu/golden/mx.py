"""Golden sets of block-scaled formats (docs/semantics.md §10.10): ``mx-quantize`` and ``mx-dot``.

One vector is one block. ``mx-quantize``: input ports ``x0 .. x{k-1}`` (the block's k values,
codes of ``src``, float32 by default), ``r0 .. r{k-1}`` (stochastic sets: each element's random
word), output ports ``scale`` (the block's scale code) and ``y0 .. y{k-1}`` (the element codes):
emu.quantize(x, block format) on a (vectors, k) array, blocks along the last axis, so SR draws
one word per element in vector-major, element-minor order. ``mx-dot``: input ports ``a0 ..
a{k-1}``, ``scale_a``, ``b0 .. b{k-1}``, ``scale_b`` (two blocks), ``r`` (or ``r0 ..``, one per
draw of a vector; stochastic accumulation), output ``y`` (the accumulator's format):
emu.blockdot.dot of the two 1-D block registers. Packed, a vector's word is the ports in this
order, so a bench loads it into one wide memory word ({x0, x1, ...}: x0 in the top bits).

Inputs are deterministic from the spec: ``corners`` (hand-picked blocks: zeros, NaN/Inf, amax at
powers of two and just below, the element's subnormal range, saturation thresholds, ties, scale
clamping) and ``random`` (``count`` blocks of varied amax; block j is drawn by
``numpy.random.default_rng([seed, j // RANDOM_CHUNK])``, so a shard draws only its own blocks).
"""

from __future__ import annotations

import numpy as np

from ..blockformats import NAMED_BLOCKS, BlockFormat, block_format, is_block_format
from ..formats import FixedFormat, FloatFormat, ScaleFormat
from ..formats import format as parse_format
from ..registers import Registers
from ..replay import ReplaySource
from ..rounding import Rounding, fitting, is_stochastic
from .sets import BLOCK_SUMS, MX_OPS, ORDERS  # noqa: F401 - re-exported

GENERATORS = ("corners", "random")  # exhaustive sets of blocks would be astronomically large
MAX_BLOCK = 64  # elements per block in a set (a port per element; check_packed guards packed lines)
MAX_ELEMENTS = 1 << 24  # block elements in one set (or in one shard of a sharded set)
RANDOM_CHUNK = 1024  # random blocks drawn from one numpy generator
_FRACS = np.array([1.0, 1.5, 1.25, 1.75, 1.125, 1.3, 1.9, 1.0625, 1.6, 1.4375])


# --- the spec ------------------------------------------------------------------------------------
def block_fields(fmt, block_size, scale_format, spell) -> dict:
    """The spec's block format: ``{"fmt": name}`` for a named format (aliases resolved, a generic
    spelling of a named one too), else ``{"fmt": element, "block_size": k, "scale_format": s}``."""
    if not isinstance(fmt, str):
        raise ValueError(f"{spell('fmt')} takes a block format name, not {fmt!r}")
    if is_block_format(fmt):
        if block_size is not None or scale_format is not None:
            raise ValueError(f"{spell('block_size')} and {spell('scale_format')} apply to a generic "
                             f"block format (an element format such as e4m3), not to {fmt}")
        bf = block_format(fmt)
    else:
        try:
            parse_format(fmt)
        except ValueError:
            block_format(fmt)  # the error lists the block formats
            raise
        bf = block_format(fmt, 32 if block_size is None else block_size,
                          "e8m0" if scale_format is None else scale_format)
    if bf.block_size > MAX_BLOCK:
        raise ValueError(f"{spell('block_size', bf.block_size)}: golden block sets hold blocks of at "
                         f"most {MAX_BLOCK} elements (one port per element)")
    if bf.name in NAMED_BLOCKS:  # a named format (or a generic spelling of one): its name
        return {"fmt": bf.name}
    return {"fmt": bf.element.name, "block_size": bf.block_size, "scale_format": bf.scale.name}


def block_of(spec: dict) -> BlockFormat:
    """The block format of an mx spec."""
    if "block_size" in spec or "scale_format" in spec:
        return block_format(spec["fmt"], spec.get("block_size", 32), spec.get("scale_format", "e8m0"))
    return block_format(spec["fmt"])


def source_format(spec: dict) -> FloatFormat:
    """The format of mx-quantize's inputs: a float format whose every value float64 holds."""
    src = parse_format(spec.get("src", "fp32"))
    if not (isinstance(src, FloatFormat) and src.man_bits <= 52 and src.emax <= 1023
            and src.emin - src.man_bits >= -1074):
        raise ValueError(f"mx-quantize takes inputs of a float format that float64 holds exactly "
                         f"(fp32, fp16, bf16, eXmY), not {src.name}")
    return src


def acc_format(spec: dict):
    acc = parse_format(spec.get("acc", "fp32"))
    if isinstance(acc, ScaleFormat):
        raise ValueError("e8m0 cannot accumulate")
    return acc


def mode(spec: dict) -> str:
    """The rounding mode of an mx spec's one rounding step (mx-dot: the accumulator's)."""
    return spec.get("acc_rounding" if spec["op"] == "mx-dot" else "rounding", "rne")


def rounding(spec: dict, mode_name: str | None = None) -> Rounding:
    """The Rounding of an mx spec's rounding step, with its overflow policy (``mode_name``
    overrides the mode: the check's tie test)."""
    name = mode_name or mode(spec)
    return Rounding(name, **fitting(name, saturate=spec.get("saturate"), overflow=spec.get("overflow"),
                                    bits=int(spec.get("sr_bits", 8)), form=spec.get("form"),
                                    eps=spec.get("eps")))


def result_format(spec: dict):
    """What the rounding step rounds into: the elements (mx-quantize) or the accumulator."""
    return block_of(spec).element if spec["op"] == "mx-quantize" else acc_format(spec)


def draws_per_vector(spec: dict) -> int:
    """Random words one vector uses (stochastic sets; 0 otherwise): k for mx-quantize, the
    accumulator's draws for mx-dot (1 per block term with block_sum exact, 1 per product term
    with block_sum products)."""
    if not is_stochastic(mode(spec)):
        return 0
    bf = block_of(spec)
    if spec["op"] == "mx-quantize":
        return bf.block_size
    a = _zero_block(bf)
    _, used = _dot(spec, bf, a, a, ReplaySource(np.zeros(4 * bf.block_size + 8, np.uint64)))
    return int(used.size)


def _zero_block(bf: BlockFormat):
    from ..blocks import BlockRegisters

    one = 127 if bf.power_of_two_scale else _code_of(bf.scale, 1.0)
    return BlockRegisters(np.zeros(bf.block_size, np.uint64), np.array([one], np.uint64), bf)


def _code_of(fmt, value: float) -> int:
    from ..ops import quantize

    return int(quantize(np.array([value]), fmt, "rne", saturate=True).codes[0])


def check_spec(spec: dict) -> None:
    """Run the spec's op on one block, so that settings the core refuses (an SR accumulator with
    pairwise order, a scale rule a float scale does not take, ...) fail before any work, as
    ValueErrors naming the settings."""
    bf = block_of(spec)
    words = ReplaySource(np.zeros(4 * bf.block_size + 8, np.uint64))
    try:
        if spec["op"] == "mx-quantize":
            source_format(spec)
            _quantize(spec, bf, np.zeros((1, bf.block_size)), words if is_stochastic(mode(spec)) else None)
        else:
            a = _zero_block(bf)
            _dot(spec, bf, a, a, words if is_stochastic(mode(spec)) else None)
    except TypeError as err:
        raise ValueError(str(err)) from None


# --- the ops ---------------------------------------------------------------------------------------
def _quantize(spec: dict, bf: BlockFormat, x: np.ndarray, source):
    """emu.quantize of (n, k) float64 values into the block format: (scale codes (n,), element
    codes (n, k), words (n, k) or None)."""
    from ..blocks import quantize

    rnd = rounding(spec)
    extra = {}
    if rnd.stochastic:
        extra.update(rng=source, return_words=True)
        if rnd.needs_direction:
            extra["direction"] = spec.get("direction", 0)
    float_elems = isinstance(bf.element, FloatFormat)
    res = quantize(x, bf, rnd, axis=-1, scale_rule=spec.get("scale_rule", "floor"),
                   saturate=bool(spec.get("saturate", True)) if float_elems else None,
                   overflow=None if float_elems else spec.get("overflow"), **extra)
    regs, words = res if rnd.stochastic else (res, None)
    n, k = x.shape
    return (regs.scales.reshape(n).astype(np.uint64), regs.codes.reshape(n, k).astype(np.uint64),
            None if words is None else words.reshape(n, k))


def _dot(spec: dict, bf: BlockFormat, a, b, source):
    """emu.blockdot.dot of two 1-D block registers: (the result register, the words used)."""
    from ..blockdot import dot

    rnd = rounding(spec)
    acc = acc_format(spec)
    fixed = isinstance(acc, FixedFormat)
    kw = dict(acc_rounding=rnd.mode, order=spec.get("order", "sequential"),
              block_sum=spec.get("block_sum", "exact"),
              acc_saturate=None if fixed else (bool(spec.get("saturate")) or None),
              acc_overflow=spec.get("overflow") if fixed else None)
    if rnd.stochastic:
        kw.update(rng=source, sr_bits=rnd.bits, form=rnd.form, return_words=True)
        res, words = dot(a, b, acc, **kw)
        return res, words
    return dot(a, b, acc, **kw), np.empty(0, np.uint64)


def quantize_blocks(spec: dict, x_codes: np.ndarray, source) -> tuple:
    """The mx-quantize outputs of (n, k) input codes: (scale codes, element codes, words)."""
    bf, src = block_of(spec), source_format(spec)
    n, k = x_codes.shape
    x = Registers.from_codes(x_codes.reshape(-1), src).to_float().reshape(n, k)
    return _quantize(spec, bf, x, source)


def dot_blocks(spec: dict, a, sa, b, sb, words) -> np.ndarray:
    """The mx-dot results (codes, (n,)) of n vectors; ``words`` (n, d): each vector's random
    words (stochastic sets), which each dot must use exactly."""
    from ..blocks import BlockRegisters

    bf = block_of(spec)
    n = a.shape[0]
    y = np.empty(n, np.uint64)
    for i in range(n):
        ra = BlockRegisters(a[i], sa[i:i + 1], bf)
        rb = BlockRegisters(b[i], sb[i:i + 1], bf)
        src = ReplaySource(words[i]) if words is not None else None
        res, used = _dot(spec, bf, ra, rb, src)
        if words is not None and not np.array_equal(used, words[i]):
            raise RuntimeError(f"mx-dot vector {i} used other random words than it was given")
        y[i] = int(res.codes.reshape(-1)[0])
    return y


def _keep(fn, n: int):
    """(indices of the vectors 0..n-1 whose result is defined, fn's result on all of them or
    None): fn(indices) raises ValueError when a vector's result is not defined (NaN into e2m1,
    ...): a golden set only holds defined behaviour, so such vectors are dropped."""
    idx = np.arange(n)
    try:
        return idx, fn(idx)
    except ValueError:
        keep = []
        for i in range(n):
            try:
                fn(idx[i:i + 1])
                keep.append(i)
            except ValueError:
                pass
        return np.array(keep, np.intp), None


# --- ports -------------------------------------------------------------------------------------------
def port_layout(spec: dict, d: int | None = None) -> list[tuple[str, str, int, object]]:
    """(name, direction, bits, format or None) of every port of an mx spec, in order (``d``:
    draws_per_vector, when known)."""
    bf = block_of(spec)
    k, e, s = bf.block_size, bf.element, bf.scale
    d = draws_per_vector(spec) if d is None else d
    r = int(spec.get("sr_bits", 8))
    if spec["op"] == "mx-quantize":
        src = source_format(spec)
        ports = [(f"x{i}", "in", src.bits, src) for i in range(k)]
        ports += [(f"r{i}", "in", r, None) for i in range(d)]
        ports.append(("scale", "out", s.bits, s))
        return ports + [(f"y{i}", "out", e.bits, e) for i in range(k)]
    ports = [(f"a{i}", "in", e.bits, e) for i in range(k)] + [("scale_a", "in", s.bits, s)]
    ports += [(f"b{i}", "in", e.bits, e) for i in range(k)] + [("scale_b", "in", s.bits, s)]
    ports += [("r", "in", r, None)] if d == 1 else [(f"r{i}", "in", r, None) for i in range(d)]
    acc = acc_format(spec)
    return ports + [("y", "out", acc.bits, acc)]


def stack(values: dict, prefix: str, k: int) -> np.ndarray:
    """Ports prefix0 .. prefix{k-1} as one (n, k) array."""
    return np.stack([np.asarray(values[f"{prefix}{i}"]) for i in range(k)], axis=1).astype(np.uint64)


def word_ports(values: dict, d: int) -> np.ndarray | None:
    """The random words of each vector, (n, d) (None for deterministic sets)."""
    if d == 0:
        return None
    if d == 1 and "r" in values:
        return np.asarray(values["r"]).astype(np.uint64).reshape(-1, 1)
    return stack(values, "r", d)


# --- generation ---------------------------------------------------------------------------------------
def candidates(spec: dict) -> int:
    return sum(n for _, n in segments(spec))


def segments(spec: dict) -> list[tuple[str, int]]:
    out = []
    for gen in spec.get("inputs", ["corners", "random"]):
        if gen not in GENERATORS:
            raise ValueError(f"input generator {gen!r} does not apply to golden {spec['op']}; valid: "
                             f"{', '.join(GENERATORS)}")
        out.append((gen, int(spec.get("count", 1000)) if gen == "random" else len(_corners(spec))))
    return out


def check_size(spec: dict, shards: int | None) -> None:
    """Refuse a set whose vectors (or a shard's) hold more than MAX_ELEMENTS block elements."""
    k = block_of(spec).block_size
    n = candidates(spec)
    per = -(-n // (shards or 1))
    if per * k > MAX_ELEMENTS:
        need = -(-n * k // MAX_ELEMENTS)
        raise ValueError(f"{n} blocks of {k} elements is {n * k} elements, more than {MAX_ELEMENTS} "
                         f"in one {'shard' if shards else 'set'}; use --shards {need} or more")


def check_packed(spec: dict, layout: str, radix: str) -> None:
    """A packed vector (every port's word joined by _) must fit the readers' MAX_LINE."""
    from .hexio import MAX_LINE, digit_width

    if layout != "packed":
        return
    width = sum(digit_width(bits, radix) + 1 for _, _, bits, _ in port_layout(spec)) - 1
    if width > MAX_LINE:
        raise ValueError(f"a packed vector of this set is {width} characters, more than a line may hold "
                         f"({MAX_LINE}); use layout ports, radix hex or smaller blocks")


def _inputs(spec: dict, lo: int, hi: int) -> list[np.ndarray]:
    """The input arrays of candidate vectors lo..hi: mx-quantize [x (n, k)], mx-dot [a, sa, b, sb]."""
    parts: list[list[np.ndarray]] = []
    pos = 0
    for gen, n in segments(spec):
        a, b = max(lo - pos, 0), min(hi - pos, n)
        if a < b:
            cols = _corner_columns(spec, a, b) if gen == "corners" else _random(spec, a, b)
            parts.append(cols)
        pos += n
    if not parts:
        return [c[:0] for c in _corner_columns(spec, 0, 0)]
    return [np.concatenate(cols) for cols in zip(*parts, strict=True)]


def generate(spec: dict, kept_only: bool = False):
    """The set of an mx spec (or of its shard; a stochastic shard's words start ``skip`` vectors,
    ``skip * d`` draws, into the stream): see vectors.generate."""
    from ..sources import source_words, starting_at
    from .sets import Port, VectorSet, lfsr_from_spec

    total = candidates(spec)
    sh = spec.get("shard")
    lo, hi, skip = (0, total, 0) if sh is None else (int(sh["lo"]), int(sh["hi"]), int(sh.get("skip", 0)))
    if sh is None:
        check_size(spec, None)
    k = block_of(spec).block_size
    stochastic = is_stochastic(mode(spec))
    d = draws_per_vector(spec)
    quantizing = spec["op"] == "mx-quantize"
    ins = _inputs(spec, lo, hi)

    def run(idx: np.ndarray, source=None, words=None):
        if quantizing:
            return quantize_blocks(spec, ins[0][idx], source)
        return dot_blocks(spec, *[c[idx] for c in ins], words)

    # undefined vectors are dropped before any word is drawn (with zero words)
    zero = (lambda idx: run(idx, ReplaySource(np.zeros(idx.size * d, np.uint64)),
                            np.zeros((idx.size, d), np.uint64))) if stochastic else run
    keep, out = _keep(zero, ins[0].shape[0])
    if kept_only:
        return int(keep.size)
    ins = [c[keep] for c in ins]
    n = int(keep.size)
    idx = np.arange(n)
    words = None
    if stochastic:
        source = lfsr_from_spec(spec.get("lfsr"))
        first = skip * d  # the draws of the vectors kept before this shard
        source.skip(first, rounding(spec).bits)
        with starting_at(source, first) as src:
            if quantizing:
                out = run(idx, src)
                words = out[2]
            else:
                words = source_words(src, n * d, rounding(spec).bits).reshape(n, d)
                out = run(idx, None, words)
    elif out is None:
        out = run(idx)
    values: dict[str, np.ndarray] = {}
    if quantizing:
        for i in range(k):
            values[f"x{i}"], values[f"y{i}"] = ins[0][:, i], out[1][:, i]
        values["scale"] = out[0]
    else:
        for i in range(k):
            values[f"a{i}"], values[f"b{i}"] = ins[0][:, i], ins[2][:, i]
        values["scale_a"], values["scale_b"], values["y"] = ins[1], ins[3], out
    if words is not None:
        if d == 1 and not quantizing:
            values["r"] = words[:, 0]
        else:
            for i in range(d):
                values[f"r{i}"] = words[:, i]
    return VectorSet(spec, [Port(name, dirn, bits, np.asarray(values[name]).astype(np.uint64), fmt)
                            for name, dirn, bits, fmt in port_layout(spec, d)])


# --- corner and random inputs ---------------------------------------------------------------------
def _src_codes(values: np.ndarray, src: FloatFormat) -> np.ndarray:
    """float64 values (any shape) as codes of src: finite ones rounded rne (saturating), NaN as
    the canonical NaN, +-Inf as Inf codes (or src's largest magnitude when it has none)."""
    from ..ops import quantize
    from .sets import SATURATING_RNE

    flat = values.reshape(-1)
    fin = np.isfinite(flat)
    codes = np.zeros(flat.size, np.uint64)
    if fin.any():
        codes[fin] = quantize(flat[fin], src, SATURATING_RNE).codes.astype(np.uint64)
    nan = np.isnan(flat)
    codes[nan] = src.nan_code if src.nan_code is not None else 0
    for sign in (1, -1):
        inf = flat == sign * np.inf
        c = src.inf_code if src.inf_code is not None else src.max_code
        codes[inf] = c | (src.sign_bit if sign < 0 else 0)
    return codes.reshape(values.shape)


def _element_values(e) -> np.ndarray:
    """The positive finite values of an element format, ascending."""
    codes = np.arange(1 << e.bits, dtype=np.uint64)
    v = Registers.from_codes(codes, e).to_float()
    return np.unique(v[np.isfinite(v) & (v > 0)])


def _span(bf: BlockFormat) -> int:
    """Binades from an element's largest power of two down past its smallest value, plus 3."""
    e = bf.element
    low = e.emin - e.man_bits if isinstance(e, FloatFormat) else -e.frac
    return bf.element_emax - low + 3


def _spread(k: int, amax: float, p: int, span: int, phase: int = 0) -> np.ndarray:
    """A block holding ``amax`` at position p and, elsewhere, values of smaller magnitude spread
    over ``span`` binades below it, of both signs."""
    i = np.arange(k)
    j = 1 + (i * 5 + phase) % max(span, 1)
    v = np.abs(amax) * np.ldexp(_FRACS[(i + phase) % _FRACS.size], -j)
    v = np.where((i * 7 + phase) % 3 == 0, -v, v)
    v[p % k] = amax
    return v


def _scale_exponents(bf: BlockFormat) -> list[int]:
    """Scale exponents t of the corners (the block's scale is 2**t when amax = max_elem * 2**t):
    E8M0's ends and the middle; for a float scale its subnormal, normal and saturating range."""
    if bf.power_of_two_scale:
        return [-127, -126, -1, 0, 1, 126, 127]
    s = bf.scale
    low = s.emin - s.man_bits
    return [low - 2, low, s.emin, -1, 0, 1, s.emax, s.emax + 2]


def _corners(spec: dict) -> list[tuple]:
    """The corner vectors of an mx spec (cached per spec): mx-quantize, one array of k values
    each; mx-dot, (a codes, scale_a, b codes, scale_b)."""
    key = repr(sorted((k, repr(v)) for k, v in spec.items() if k not in ("shard", "count", "seed")))
    if key not in _CORNERS:
        if len(_CORNERS) > 64:
            _CORNERS.clear()
        _CORNERS[key] = _quantize_corners(spec) if spec["op"] == "mx-quantize" else _dot_corners(spec)
    return _CORNERS[key]


_CORNERS: dict[str, list] = {}


def _corner_columns(spec: dict, a: int, b: int) -> list[np.ndarray]:
    bf = block_of(spec)
    rows = _corners(spec)[a:b]
    k = bf.block_size
    if spec["op"] == "mx-quantize":
        src = source_format(spec)
        vals = np.array(rows, np.float64).reshape(len(rows), k)
        return [_src_codes(vals, src)]
    cols = [np.array([r[i] for r in rows], np.uint64).reshape(len(rows), -1) for i in range(4)]
    return [cols[0].reshape(-1, k), cols[1].reshape(-1), cols[2].reshape(-1, k), cols[3].reshape(-1)]


def _quantize_corners(spec: dict) -> list[np.ndarray]:
    bf, src = block_of(spec), source_format(spec)
    k, e = bf.block_size, bf.element
    emax_e, big = bf.element_emax, bf.element_max
    span = _span(bf)
    vals = _element_values(e)
    top_ulp = float(vals[-1] - vals[-2]) if vals.size > 1 else float(vals[-1])
    low_e = src.emin - src.man_bits
    fits = [t for t in _scale_exponents(bf)]
    blocks: list[np.ndarray] = []

    def add(v) -> None:
        blocks.append(np.asarray(v, np.float64).reshape(k))

    # zeros
    add(np.zeros(k))
    add(np.full(k, -0.0))
    add(np.where(np.arange(k) % 2, -0.0, 0.0))
    # NaN and Inf in a block of ordinary values
    base = _spread(k, 2.0 ** emax_e, 0, span)
    if src.nan_code is not None:
        for p in (0, k - 1):
            v = base.copy()
            v[p] = np.nan
            add(v)
        add(np.full(k, np.nan))
    if src.inf_code is not None:
        for p, sign in ((k // 2, 1.0), (0, -1.0)):
            v = base.copy()
            v[p] = sign * np.inf
            add(v)
        if src.nan_code is not None and k > 1:
            v = np.zeros(k)
            v[0], v[1] = np.nan, np.inf
            add(v)
    # amax a power of two, and the src value just below it, for scales across the range
    exps = sorted({emax_e + t for t in fits} | {src.emax, src.emin, low_e, emax_e})
    n = 0
    for ex in exps:
        if not low_e <= ex <= src.emax:
            continue
        for below in (False, True):
            amax = 2.0 ** ex
            if below:
                if ex <= low_e:
                    continue
                amax -= 2.0 ** (max(ex - 1, src.emin) - src.man_bits)
            sign = -1.0 if n % 3 == 2 else 1.0
            add(_spread(k, sign * amax, n, span, phase=n))
            n += 1
    # the element's subnormal range (and below), and saturation thresholds, at two scales
    tiny = _tiny_values(e)
    for t in (0, fits[0] if bf.power_of_two_scale else fits[1]):
        amax = big * 2.0 ** t
        if not np.isfinite(amax) or amax > float(src.max):
            continue
        for chunk in _chunks(np.concatenate([tiny, -tiny[::2]]) * 2.0 ** t, k - 1):
            add(np.concatenate([[amax], chunk]))
        # max_elem, the tie above it, one ulp above it, and the src value just below 2**(emax+1)
        below = 2.0 ** (emax_e + 1) - 2.0 ** (emax_e - src.man_bits)
        for over in (big, big + top_ulp / 2, big + top_ulp, below):
            add(_spread(k, over * 2.0 ** t, n, span, phase=n))
            n += 1
    # ties: every midpoint of adjacent element values (and 0 and the smallest), both signs
    mids = (np.concatenate([[0.0], vals[:-1]]) + vals) / 2
    for chunk in _chunks(np.concatenate([mids, -mids]), k - 1):
        add(np.concatenate([[big], chunk]))
    # a single nonzero element; every element equal; amax negative
    v = np.zeros(k)
    v[k // 3] = 1.5 * 2.0 ** emax_e
    add(v)
    v = np.zeros(k)
    v[-1] = -(2.0 ** -3)
    add(v)
    add(np.full(k, big / 2))
    add(np.full(k, -big))
    return blocks


def _tiny_values(e) -> np.ndarray:
    """Element-space values at the bottom of an element format: every subnormal (a float's) or
    the first few multiples of the resolution (fixed), their midpoints, a quarter and three
    quarters of the smallest, and the tie between the largest subnormal and the smallest normal."""
    if isinstance(e, FloatFormat):
        q = float(e.min_subnormal)
        subs = q * np.arange(1, 1 << e.man_bits) if e.man_bits else np.zeros(0)
        extra = [q / 2, q / 4, 3 * q / 4, 1.5 * q, float(e.min_normal) - q / 2, float(e.min_normal)]
    else:
        q = float(e.resolution)
        subs = q * np.arange(1, 4)
        extra = [q / 2, q / 4, 3 * q / 4, 1.5 * q, 2.5 * q]
    return np.concatenate([subs, extra])


def _chunks(v: np.ndarray, size: int) -> list[np.ndarray]:
    """v cut into pieces of ``size`` (the last one padded with zeros); none when size < 1."""
    if size < 1:
        return []
    pad = -v.size % size
    v = np.concatenate([v, np.zeros(pad)])
    return list(v.reshape(-1, size))


def _random(spec: dict, a: int, b: int) -> list[np.ndarray]:
    """Random vectors a..b of the spec's random segment, drawn chunk by chunk."""
    seed = int(spec.get("seed", 1))
    out: list[list[np.ndarray]] = []
    for c in range(a // RANDOM_CHUNK, -(-b // RANDOM_CHUNK)):
        rng = np.random.default_rng([seed, c])
        cols = _random_quantize(spec, rng) if spec["op"] == "mx-quantize" else _random_dot(spec, rng)
        lo, hi = max(a - c * RANDOM_CHUNK, 0), min(b - c * RANDOM_CHUNK, RANDOM_CHUNK)
        out.append([col[lo:hi] for col in cols])
    return [np.concatenate(cols) for cols in zip(*out, strict=True)]


def _pick(rng: np.random.Generator, size, percents: list[int]) -> np.ndarray:
    """Kinds 0, 1, ... with the given percentages (only ``integers`` is drawn from numpy: its
    streams are the ones a committed set relies on)."""
    u = rng.integers(0, 100, size=size)
    return np.searchsorted(np.cumsum(percents), u, side="right")


def _random_quantize(spec: dict, rng: np.random.Generator) -> list[np.ndarray]:
    """RANDOM_CHUNK blocks: amax exponents uniform over the scale's range (and a little past its
    ends), each block of one kind: a spread over the element's range (60%), values within 4x of
    amax (15%), element values and their midpoints (10%), raw src bit patterns (10%, NaN and Inf
    among them), mostly zeros (5%)."""
    bf, src = block_of(spec), source_format(spec)
    k, n = bf.block_size, RANDOM_CHUNK
    emax_e, span = bf.element_emax, _span(bf)
    if bf.power_of_two_scale:
        lo, hi = -127 + emax_e - 4, 127 + emax_e + 1
    else:
        s = bf.scale
        lo, hi = s.emin - s.man_bits + emax_e - 4, s.emax + emax_e + 4
    lo, hi = max(lo, src.emin - src.man_bits), min(hi, src.emax)
    kind = _pick(rng, n, [60, 15, 10, 10, 5])
    ebl = rng.integers(lo, hi + 1, size=n)
    depth = rng.integers(0, span + 1, size=(n, k))
    depth = np.where(kind[:, None] == 1, depth % 3, depth)
    mant = 1.0 + rng.integers(0, 1 << 23, size=(n, k)) / float(1 << 23)
    sign = np.where(rng.integers(0, 2, size=(n, k)) == 1, -1.0, 1.0)
    top = rng.integers(0, k, size=n)
    depth[np.arange(n), top] = 0
    x = sign * mant * np.ldexp(1.0, ebl[:, None] - depth)
    vals = _element_values(bf.element)
    mids = (np.concatenate([[0.0], vals[:-1]]) + vals) / 2
    grid = np.concatenate([vals, mids])[rng.integers(0, 2 * vals.size, size=(n, k))]
    grid = sign * grid * np.ldexp(1.0, (ebl - emax_e)[:, None])
    grid[np.arange(n), top] = bf.element_max * np.ldexp(1.0, ebl - emax_e)
    x = np.where(kind[:, None] == 2, grid, x)
    x = np.where((kind[:, None] == 4) & (rng.integers(0, 100, size=(n, k)) < 85), 0.0, x)
    raw = rng.integers(0, 1 << src.bits, size=(n, k), dtype=np.uint64)
    return [np.where(kind[:, None] == 3, raw, _src_codes(x, src))]


def _finite_codes(f) -> np.ndarray:
    codes = np.arange(1 << f.bits, dtype=np.uint64)
    v = Registers.from_codes(codes, f).to_float()
    return codes[np.isfinite(v)]


def _random_dot(spec: dict, rng: np.random.Generator) -> list[np.ndarray]:
    """RANDOM_CHUNK pairs of blocks: element codes uniform over the finite codes (75%), over all
    codes (10%), mostly zeros (10%) or B = -A (5%: exact cancellation); each scale near 1 (60%),
    uniform (30%), at E8M0's ends (5%) or NaN (5%) (float scales: non-negative codes, near 1
    (60%), uniform (35%), NaN (5%))."""
    bf = block_of(spec)
    k, n, e, s = bf.block_size, RANDOM_CHUNK, bf.element, bf.scale
    fin = _finite_codes(e)
    kind = _pick(rng, n, [75, 10, 10, 5])
    cols = []
    for _ in range(2):
        c = fin[rng.integers(0, fin.size, size=(n, k))]
        anyc = rng.integers(0, 1 << e.bits, size=(n, k), dtype=np.uint64)
        c = np.where(kind[:, None] == 1, anyc, c)
        c = np.where((kind[:, None] == 2) & (rng.integers(0, 100, size=(n, k)) < 80), 0, c)
        cols.append(c.astype(np.uint64))
    cols[1] = np.where(kind[:, None] == 3, _negate(cols[0], e), cols[1])
    scales = []
    for _ in range(2):
        which = _pick(rng, n, [60, 30, 5, 5])
        if bf.power_of_two_scale:
            near = np.clip(127 + rng.integers(-16, 17, n) + rng.integers(-16, 17, n), 0, 254)
            uni = rng.integers(0, 255, n)
            ends = np.where(rng.integers(0, 2, n) == 1, 254, 0)
            sc = np.choose(which, [near, uni, ends, np.full(n, 0xFF)])
        else:
            one = _code_of(s, 1.0)
            half = 1 << (s.bits - 1)
            near = np.clip(one + rng.integers(-24, 25, n), 0, half - 1)
            uni = rng.integers(0, half, n)
            nan = s.nan_code if s.nan_code is not None else s.max_code
            sc = np.choose(which, [near, uni, uni, np.full(n, nan)])
        scales.append(sc.astype(np.uint64))
    return [cols[0], scales[0], cols[1], scales[1]]


def _negate(codes: np.ndarray, e) -> np.ndarray:
    """Codes of the negated values (where the format holds them; else the codes unchanged)."""
    from ..ops import quantize

    neg = -Registers.from_codes(codes.reshape(-1), e).to_float()
    ok = np.isfinite(neg)
    out = codes.reshape(-1).copy()
    if ok.any():
        kw = {"saturate": True} if isinstance(e, FloatFormat) else {"overflow": "sat"}
        out[ok] = quantize(neg[ok], e, "rne", **kw).codes.astype(np.uint64)
    return out.reshape(codes.shape)


def _dot_corners(spec: dict) -> list[tuple]:
    """Hand-picked pairs of blocks: element patterns against ones, scale corners against each
    other, overflow and underflow of the accumulator, exact cancellation, sums that need more
    bits than the accumulator with ties at its rounding, NaN and Inf elements and scales."""
    bf = block_of(spec)
    k, e, s = bf.block_size, bf.element, bf.scale
    acc = acc_format(spec)
    vals = _element_values(e)
    big, small = float(vals[-1]), float(vals[0])

    def codes(v) -> np.ndarray:
        from ..ops import quantize

        v = np.resize(np.asarray(v, np.float64), k)
        kw = {"saturate": True} if isinstance(e, FloatFormat) else {"overflow": "sat"}
        return quantize(v, e, "rne", **kw).codes.astype(np.uint64)

    one_s = 127 if bf.power_of_two_scale else _code_of(s, 1.0)
    if bf.power_of_two_scale:
        sc = [127, 0, 1, 126, 128, 253, 254, 0xFF]
    else:
        sc = [one_s, 0, 1, _code_of(s, float(s.min_normal)), _code_of(s, 0.5), s.max_code,
              s.nan_code if s.nan_code is not None else s.max_code]
    ones = codes([1.0] if 1.0 <= big else [big])
    i = np.arange(k)
    mixed = codes(np.where(i % 2, -1, 1) * vals[(i * 7) % vals.size])
    patterns = [codes([0.0]), codes([big]), codes(np.where(i % 2, -big, big)), codes([small]),
                codes(np.where(i % 3 == 1, -small, small)), mixed,
                codes(vals[np.linspace(0, vals.size - 1, k).astype(int)])]
    nan_code, inf_code = getattr(e, "nan_code", None), getattr(e, "inf_code", None)
    if isinstance(e, FloatFormat) and e.has_negative_zero:
        patterns.append(codes([-0.0]))
    for special in (nan_code, inf_code):
        if special is not None:
            p = mixed.copy()
            p[k // 2] = special
            patterns.append(p)
    if inf_code is not None:
        p = ones.copy()
        p[0] = inf_code
        patterns.append(p)
        q = ones.copy()
        q[-1] = inf_code | e.sign_bit
        patterns.append(q)
    out: list[tuple] = []
    for p in patterns:
        out.append((p, one_s, ones, one_s))
        out.append((ones, one_s, p, one_s))
    for sa in sc:
        for sb in sc:
            out.append((mixed, sa, mixed[::-1].copy(), sb))
    # overflow and underflow of the accumulator: the largest and smallest blocks at scales
    # around the accumulator's range
    if isinstance(acc, FloatFormat) and bf.power_of_two_scale:
        top = int(np.floor(np.log2(float(acc.max))))
        bottom = acc.emin - acc.man_bits
        m = int(np.floor(np.log2(big * big * k)))
        for target in (top - 1, top, top + 1):
            tot = target - m + 254
            sa = int(np.clip(tot // 2, 0, 254))
            out.append((codes([big]), sa, codes([big]), int(np.clip(tot - sa, 0, 254))))
        m = int(np.floor(np.log2(small * small)))
        for target in (bottom - 2, bottom - 1, bottom, bottom + 1):
            tot = target - m + 254
            sa = int(np.clip(tot // 2, 0, 254))
            one = np.zeros(k)
            one[0] = small
            out.append((codes(one), sa, codes(one), int(np.clip(tot - sa, 0, 254))))
    # exact cancellation: A . B = 0 with nonzero products
    if k > 1:
        a = codes(np.where(i % 2, big, big))
        b = codes(np.where(i % 2, -1.0, 1.0) if k % 2 == 0 else np.where(i == k - 1, 0.0, np.where(
            i % 2, -1.0, 1.0)))
        out.append((a, one_s, b, one_s))
    # ties at the accumulator's rounding: big*big plus a product of half its ulp (and more)
    if isinstance(acc, FloatFormat) and k >= 3:
        prods = np.outer(vals, vals)
        p0 = big * big
        ulp = 2.0 ** (int(np.floor(np.log2(p0))) - acc.man_bits)
        for want, extra in ((ulp / 2, 0.0), (ulp / 2, ulp), (ulp / 2, small * small), (ulp / 4, 0.0)):
            hit = np.argwhere(prods == want)
            if not hit.size:
                continue
            ia, ib = hit[0]
            a = np.zeros(k)
            b = np.zeros(k)
            a[0] = b[0] = big
            a[1], b[1] = vals[ia], vals[ib]
            if extra:
                hit2 = np.argwhere(prods == extra)
                if hit2.size:
                    a[2], b[2] = vals[hit2[0][0]], vals[hit2[0][1]]
            out.append((codes(a), one_s, codes(b), one_s))
            out.append((codes(-a), one_s, codes(b), one_s))
    return out


# --- what the check needs -----------------------------------------------------------------------------
def implied_elements(spec: dict, x_codes: np.ndarray, scale_codes: np.ndarray, words, mode_name=None):
    """The element codes emu gives the (m, k) input codes when the block scales are the given
    codes (the set's, or a device's), rounded with the given words (m, k) (stochastic sets):
    emu.blocks.quantize's element step (docs/semantics.md §14.3) with the scale forced. A NaN
    scale (or a zero float scale) gives +0 elements. Raises ValueError where an element cannot
    be rounded (NaN into e2m1, ...)."""
    from ..blocks import _scaled, scale_values
    from ..ops import quantize

    bf, src = block_of(spec), source_format(spec)
    m, k = x_codes.shape
    x = Registers.from_codes(x_codes.reshape(-1), src).to_float().reshape(m, k)
    sc = np.asarray(scale_codes).astype(np.uint64).reshape(m)
    with np.errstate(all="ignore"):
        if bf.power_of_two_scale:
            void = sc == 0xFF
            s = np.where(void, 0, sc.astype(np.int64) - 127)
            y = _scaled(np.where(void[:, None], 0.0, x), np.repeat(s[:, None], k, axis=1))
        else:
            sv = scale_values(sc.astype(np.uint8 if bf.scale.bits <= 8 else np.uint16), bf.scale)
            sv = sv.astype(np.float32)
            void = ~(np.isfinite(sv) & (sv != 0))
            y = (x.astype(np.float32) / np.where(void, np.float32(1), sv)[:, None]).astype(np.float64)
    y = np.where(void[:, None], 0.0, y)
    rnd = rounding(spec, mode_name)
    extra = {}
    if rnd.stochastic:
        extra["rng"] = ReplaySource(np.asarray(words).astype(np.uint64).reshape(-1))
        if rnd.needs_direction:
            extra["direction"] = spec.get("direction", 0)
    float_elems = isinstance(bf.element, FloatFormat)
    res = quantize(y.reshape(-1), bf.element, rnd,
                   saturate=bool(spec.get("saturate", True)) if float_elems else None,
                   overflow=None if float_elems else spec.get("overflow"), **extra)
    return res.codes.astype(np.uint64).reshape(m, k)
