"""Golden vector sets: generate from a spec, write ($readmemh or $readmemb per port + manifest).

A *spec* is a small JSON-able dict that fully determines a set (it is stored in the manifest):
    {"op": "convert" | "add" | "mul" | "fma" | "lfsr" | "mac" | "mx-quantize" | "mx-dot",
     "src": fmt, "dst": fmt, "fmt": fmt (operands of add/mul/fma), "rounding": mode,
     "saturate": bool, "overflow": str, "inputs": ["corners", "random", "exhaustive"],
     "count": N, "seed": S, "sr_bits": r, "lfsr": {width, poly, config, shifts, seed, lanes},
     "k": dot length (mac), "acc": fmt (mac, mx-dot), "out": fmt (mac),
     block sets (emu.golden.mx): "fmt" a block format ("block_size", "scale_format" when
     generic), "scale_rule" (mx-quantize), "acc_rounding", "block_sum", "order" (mx-dot)}
Ports are listed in order; inputs first. Stochastic sets carry the r-bit word each vector used
on a port ``r`` so a DUT without its own LFSR can be driven.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import numpy as np

from .. import __version__
from ..arith import add, fma, mul
from ..formats import FixedFormat, FloatFormat, ScaleFormat
from ..formats import format as parse_format
from ..lfsr import LFSR
from ..linalg import mac_accumulator
from ..ops import convert
from ..outdir import staged
from ..profiles import Profile, operand_bits
from ..registers import Registers, code_dtype
from ..replay import ReplaySource
from ..rounding import Rounding, fitting, is_stochastic
from ..sources import starting_at
from .hexio import check_radix, extension, format_word, format_words, vector_file, write_atomic
from .layouts import SET_LAYOUTS
from .sets import MX_OPS, SATURATING_RNE, Port, VectorSet, lfsr_from_spec  # noqa: F401 - re-exported

# docs/semantics.md §10.4: schema 1 is hex words without @address lines; schema 2 adds the
# manifest fields `radix` and `address`. A set is written with the lowest schema that describes
# it, so hex sets without addresses stay byte-identical and readable by older emus.
SCHEMA_VERSION = 2
OPS = ("convert", "add", "mul", "fma", "lfsr", "mac", *MX_OPS)
GENERATORS = ("corners", "random", "exhaustive")
MAX_VECTORS = 1 << 20  # an exhaustive set larger than this is an error (use random)


def _float_corners(target: FloatFormat) -> list[float]:
    """Values that exercise a float target: zeros, subnormal boundaries, min normal, max, the
    overflow thresholds, a tie in every binade and its neighbours, Inf, NaN."""
    vals = [0.0, -0.0, float(target.min_subnormal), float(target.min_subnormal) / 2,
            float(target.min_subnormal) * 1.5, float(target.min_normal),
            float(target.min_normal) - float(target.min_subnormal), float(target.max)]
    ulp_top = float(target.max) - float(target.code_value(target.max_code - 1))
    vals += [float(target.max) + ulp_top / 2, float(target.max) + ulp_top, 2 * float(target.max)]
    for e in range(target.emin, target.emax + 1):  # a tie in every binade
        step = 2.0 ** (e - target.man_bits)
        vals.append(2.0 ** e + step / 2)
    vals += [np.inf, np.nan]
    return vals


def _fixed_corners(target: FixedFormat) -> list[float]:
    res = float(target.resolution)
    lo, hi = float(target.min), float(target.max)
    return [0.0, res, res / 2, 1.5 * res, -res / 2, -1.5 * res, hi, hi + res / 2, hi + res, lo,
            lo - res / 2, lo - res, 0.25 * res, np.inf]


def _scale_corners(target: ScaleFormat) -> list[float]:
    """e8m0 (§14.1): zero, the ends of the range and beyond, and the tie 1.5 * 2**e of every
    binade (ties go to the even exponent)."""
    vals = [0.0, 2.0 ** -127, 2.0 ** -128, 1.25 * 2.0 ** -127, 2.0 ** 127, 1.5 * 2.0 ** 127,
            2.0 ** 128, np.inf, np.nan]
    return vals + [1.5 * 2.0 ** e for e in range(-127, 127)]


def _corner_codes(src, dst) -> np.ndarray:
    """Corner values of dst, as codes of src (both signs, and +-1 code neighbours for floats)."""
    vals = (_float_corners(dst) if isinstance(dst, FloatFormat) else
            _scale_corners(dst) if isinstance(dst, ScaleFormat) else _fixed_corners(dst))
    vals = np.array(vals + [-v for v in vals], np.float64)
    if isinstance(src, FloatFormat):
        if src.nan_code is None:
            vals = vals[~np.isnan(vals)]
        if src.inf_code is None:
            vals = vals[~np.isinf(vals)]
    else:
        vals = vals[np.isfinite(vals)]
    from ..ops import quantize

    codes = quantize(vals, src, SATURATING_RNE).codes.astype(np.int64)
    if isinstance(src, FloatFormat):
        finite = ~np.isin(codes, [c for c in (src.nan_code, src.inf_code) if c is not None])
        near = np.concatenate([codes[finite] + 1, codes[finite] - 1])
        near = near[(near >= 0) & (near < (1 << src.bits))]
        codes = np.concatenate([codes, near])
    _, first = np.unique(codes, return_index=True)
    return codes[np.sort(first)].astype(np.uint64)


def _operand_corners(fmt) -> np.ndarray:
    """Interesting codes of an operand format: zeros, smallest/largest subnormal, 1, max, Inf,
    NaN, both signs."""
    if isinstance(fmt, FixedFormat):
        w = fmt.width
        c = [0, 1, 2, (1 << w) - 1, (1 << (w - 1)) - 1, 1 << (w - 1), (1 << (w - 1)) + 1]
        return np.unique(np.array(c, np.uint64) & np.uint64((1 << w) - 1))
    m = fmt.man_bits
    pos = [0, 1, (1 << m) - 1, 1 << m, fmt.max_code, fmt.max_code - 1,
           (fmt.bias << m) if fmt.bias < (1 << fmt.exp_bits) else 1 << m]
    pos += [c for c in (fmt.inf_code, fmt.nan_code) if c is not None]
    codes = pos + [c | fmt.sign_bit for c in pos]
    return np.unique(np.array(codes, np.uint64) & np.uint64((1 << fmt.bits) - 1))


def _segments(spec: dict, fmts: list, dst) -> list[tuple[str, int]]:
    """(generator, vector count) for each generator of the spec, in order."""
    out = []
    for gen in spec.get("inputs", ["corners", "random"]):
        if gen not in GENERATORS:
            raise ValueError(f"unknown input generator {gen!r}; valid: {', '.join(GENERATORS)}")
        if gen == "exhaustive":
            n = 1 << sum(f.bits for f in fmts)
        elif gen == "random":
            n = int(spec.get("count", 1000))
        elif len(fmts) == 1:
            n = _corner_codes(fmts[0], dst).size
        else:
            n = int(np.prod([_operand_corners(f).size for f in fmts]))
        out.append((gen, n))
    return out


def _inputs(spec: dict, fmts: list, rng: np.random.Generator, dst, lo: int = 0,
            hi: int | None = None) -> list[np.ndarray]:
    """Input code arrays (one per operand) of candidate vectors lo..hi (default: all) from the
    spec's generators, in their order. Exhaustive vectors are computed from their index
    (operand 0 most significant), so a shard of a huge set never builds the whole set."""
    segments = _segments(spec, fmts, dst)
    total = sum(n for _, n in segments)
    hi = total if hi is None else hi
    if "shard" not in spec:
        for gen, n in segments:
            if gen == "exhaustive" and n > MAX_VECTORS:
                raise ValueError(f"exhaustive {' x '.join(f.name for f in fmts)} is {n} vectors "
                                 f"(max {MAX_VECTORS} in one set; use --shards or random/corners)")
    parts: list[list[np.ndarray]] = [[] for _ in fmts]
    pos = 0
    for gen, n in segments:
        a, b = max(lo - pos, 0), min(hi - pos, n)  # this segment's share of lo..hi
        if gen == "random":  # drawn whole, in order, so the generator stream never shifts
            cols = [rng.integers(0, 1 << f.bits, n, dtype=np.uint64) for f in fmts]
        elif a >= b:
            cols = None
        elif gen == "exhaustive":
            idx = np.arange(a, b, dtype=np.uint64)
            cols, shift = [], sum(f.bits for f in fmts)
            for f in fmts:
                shift -= f.bits
                cols.append((idx >> np.uint64(shift)) & np.uint64((1 << f.bits) - 1))
            a, b = 0, b - a
        elif len(fmts) == 1:
            cols = [_corner_codes(fmts[0], dst)]
        else:
            grids = np.meshgrid(*[_operand_corners(f) for f in fmts], indexing="ij")
            cols = [g.reshape(-1) for g in grids]
        if cols is not None and a < b:
            for p, c in zip(parts, cols, strict=True):
                p.append(c[a:b])
        pos += n
    return [np.concatenate(p).astype(np.uint64) if p else np.empty(0, np.uint64) for p in parts]


def spec_rounding(spec: dict) -> Rounding:
    """The Rounding a vector-set spec describes (its saturate applies to float outputs, its
    overflow to fixed-point ones; the SR options where the mode takes them)."""
    mode = spec.get("rounding", "rne")
    return Rounding(mode, **fitting(
        mode, saturate=bool(spec.get("saturate", False)), overflow=spec.get("overflow") or "sat",
        bits=int(spec.get("sr_bits", 8)), form=spec.get("form", "carry"), eps=spec.get("eps", 0.0)))


def _drop_unrepresentable(fn, ins: list[Registers]):
    """Run fn on all vectors; where a vector's result cannot be represented (NaN into a format
    without NaN, ...), drop that vector: a golden set only holds defined behaviour."""
    try:
        return ins, fn(*ins)
    except ValueError:
        keep = []
        for i in range(ins[0].size):
            try:
                fn(*[r[i:i + 1] for r in ins])
                keep.append(i)
            except ValueError:
                pass
        keep = np.array(keep, dtype=np.intp)
        ins = [r[keep] for r in ins]
        return ins, fn(*ins)


def set_mode(spec: dict) -> str:
    """The mode of a spec's rounding step (mx-dot: the accumulator's, ``acc_rounding``)."""
    return spec.get("acc_rounding", "rne") if spec.get("op") == "mx-dot" else spec.get("rounding", "rne")


def operand_formats(spec: dict) -> tuple[list, object]:
    """Operand formats and result format of a convert/add/mul/fma/mac spec."""
    op = spec["op"]
    if op in MX_OPS:
        raise ValueError(f"golden {op} sets hold blocks (emu.golden.mx): they have no operand "
                         "formats and no online model")
    if op == "convert":
        return [parse_format(spec.get("src", "fp32"))], parse_format(spec["dst"])
    f = parse_format(spec.get("fmt", "s8.4") if op == "mac" else spec["fmt"])
    if op == "mac":
        return [f, f], f
    return [f] * (3 if op == "fma" else 2), parse_format(spec.get("dst", spec["fmt"]))


def candidates(spec: dict) -> int:
    """How many vectors the spec's generators give before undefined ones are dropped (lfsr:
    the draw count)."""
    if spec.get("op") == "lfsr":
        return int(spec.get("count", 1000))
    if spec.get("op") in MX_OPS:
        from .mx import candidates as blocks

        return blocks(spec)
    fmts, dst = operand_formats(spec)
    return sum(n for _, n in _segments(spec, fmts, dst))


def _part(spec: dict, total: int) -> tuple[int, int, int]:
    """(lo, hi, skip) of a shard spec (candidate range; random draws used before it)."""
    sh = spec.get("shard")
    if sh is None:
        return 0, total, 0
    return int(sh["lo"]), int(sh["hi"]), int(sh.get("skip", 0))


def generate(spec: dict, kept_only: bool = False) -> VectorSet | int:
    """Build a vector set from its spec (deterministic: same spec, same bits). A spec with a
    ``shard`` entry {lo, hi, skip} builds candidate vectors lo..hi only, its random words
    starting ``skip`` draws into the stream: shards concatenate to the whole set.
    ``kept_only``: just count the vectors that survive (what the next shard's skip needs)."""
    spec = dict(spec)
    op = spec.get("op")
    if op not in OPS:
        raise ValueError(f"unknown op {op!r}; valid: {', '.join(OPS)}")
    if op in MX_OPS:
        from .mx import generate as blocks

        return blocks(spec, kept_only)
    rng = np.random.default_rng(int(spec.get("seed", 1)))
    if op == "lfsr":
        return _lfsr_set(spec)
    if op == "mac":
        return _mac_set(spec, rng)
    fmts, dst = operand_formats(spec)
    lo, hi, skip = _part(spec, candidates(spec))
    codes = _inputs(spec, fmts, rng, dst, lo, hi)
    ins = [Registers.from_codes(c, f) for c, f in zip(codes, fmts, strict=True)]
    rnd = spec_rounding(spec)
    if rnd.stochastic:
        # drop undefined vectors first (deterministically: zero words), then draw one word per
        # vector; the words stored are the ones the call reports it used
        zeros = ReplaySource(np.zeros(ins[0].size, np.uint64))
        ins, _ = _drop_unrepresentable(lambda *x: apply_op(spec, x, zeros.copy()), ins)
        if kept_only:
            return ins[0].size
        source = lfsr_from_spec(spec.get("lfsr"))
        source.skip(skip, rnd.bits)
        with starting_at(source, skip) as src:  # the shard's first element is element `skip`
            return evaluate(spec, ins, src)
    ins, _ = _drop_unrepresentable(lambda *x: apply_op(spec, x, None), ins)
    return ins[0].size if kept_only else evaluate(spec, ins, None)


def apply_op(spec: dict, ins: list[Registers], source):
    """The spec's op on the operand registers ``ins``: the result, and (stochastic) the words
    used, one draw per vector from ``source``."""
    rnd = spec_rounding(spec)
    dst = operand_formats(spec)[1]
    extra = {"profile": spec["profile"]} if "profile" in spec else {}
    if rnd.stochastic:
        extra.update(rng=source, return_words=True)
        if rnd.needs_direction:
            extra["direction"] = spec.get("direction", 0)
    if spec["op"] == "convert":
        return convert(ins[0], dst, rnd, **extra)
    fn = {"add": add, "mul": mul, "fma": fma}[spec["op"]]
    return fn(*ins, out=dst, rounding=rnd, **extra)


def evaluate(spec: dict, ins: list[Registers], source) -> VectorSet:
    """The vectors of a convert/add/mul/fma spec for the operand registers ``ins``: ports a, b,
    c (inputs), r (the random words used, stochastic specs: one draw per vector from
    ``source``) and y (the results). What generate() stores, and what emu.cocotb's online model
    predicts from the stimulus a DUT was driven with."""
    dst, rnd = operand_formats(spec)[1], spec_rounding(spec)
    result = apply_op(spec, ins, source)
    out, words = result if rnd.stochastic else (result, None)
    ports = [Port(name, "in", x.format.bits, x.codes.astype(np.uint64), x.format)
             for name, x in zip("abc", ins, strict=False)]
    if words is not None:  # r bits each, or the vendor's whole operand (§3.5)
        bits = operand_bits(Profile.named(spec.get("profile", "ocp")), dst, rnd.bits)
        ports.append(Port("r", "in", bits, words.astype(np.uint64)))
    ports.append(Port("y", "out", dst.bits, out.codes.astype(np.uint64), dst))
    return VectorSet(spec, ports)


def _lfsr_set(spec: dict) -> VectorSet:
    """Per vector j: the state of lane j mod L before its draw, and the draw word (one call of
    n draws, docs/semantics.md §7.3)."""
    bank = lfsr_from_spec(spec.get("lfsr"))
    lo, hi, _ = _part(spec, int(spec.get("count", 1000)))
    d = bank.shifts or bank.width
    if d > 64:
        raise ValueError("golden LFSR sets support up to 64 shifts per draw")
    bank.skip(lo, d)  # a shard starts where the draws before it left every lane
    lanes = [LFSR(bank.width, bank.poly, bank.config, d, seeds=[s], reverse=bank.reverse,
                  invert=bank.invert) for s in bank.states]
    states = np.empty(hi - lo, np.uint64)
    words = np.empty(hi - lo, np.uint64)
    for j in range(lo, hi):
        lane = lanes[j % len(lanes)]
        states[j - lo] = lane.states[0]
        words[j - lo] = lane.draw(1)[0]
    return VectorSet(spec, [Port("state", "out", bank.width, states), Port("word", "out", d, words)])


def _mac_set(spec: dict, rng) -> VectorSet:
    """A fixed-point MAC unit, one MAC per vector: acc_out = acc_in + a*b (acc wraps or
    saturates), y = acc_out requantized to ``out``; acc_in restarts at 0 every ``k`` vectors."""
    a_fmt = parse_format(spec.get("fmt", "s8.4"))
    acc = parse_format(spec.get("acc")) if spec.get("acc") else mac_accumulator(a_fmt, a_fmt, 16)
    out_fmt = parse_format(spec.get("out", a_fmt.name))
    k = int(spec.get("k", 16))
    lo, hi, _ = _part(spec, candidates(spec))
    if lo % k:
        raise ValueError(f"a MAC shard must start on a dot-product boundary (multiple of k={k})")
    codes = _inputs(spec, [a_fmt, a_fmt], rng, a_fmt, lo, hi)
    a = Registers.from_codes(codes[0], a_fmt)
    b = Registers.from_codes(codes[1], a_fmt)
    acc_ovf = spec.get("acc_overflow", "wrap")
    prod = mul(a, b)
    acc_in = np.zeros(a.size, np.uint64)
    acc_out = np.zeros(a.size, np.uint64)
    cur = Registers.from_codes(np.zeros(1, np.uint64), acc)
    for i in range(a.size):
        if i % k == 0:
            cur = Registers.from_codes(np.zeros(1, np.uint64), acc)
        acc_in[i] = cur.codes[0]
        cur = add(cur, prod[i:i + 1], out=acc, rounding="rne", overflow=acc_ovf)
        acc_out[i] = cur.codes[0]
    y = convert(Registers.from_codes(acc_out, acc), out_fmt, spec.get("rounding", "rne"),
                overflow=spec.get("overflow") or "sat")
    return VectorSet(spec, [Port("a", "in", a_fmt.bits, a.codes.astype(np.uint64), a_fmt),
                            Port("b", "in", a_fmt.bits, b.codes.astype(np.uint64), a_fmt),
                            Port("acc_in", "in", acc.bits, acc_in, acc),
                            Port("acc_out", "out", acc.bits, acc_out, acc),
                            Port("y", "out", out_fmt.bits, y.codes.astype(np.uint64), out_fmt)])


# --- writing -------------------------------------------------------------------------------
def _csv_text(vs: VectorSet) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    header = ["index"]
    for p in vs.ports:
        header.append(p.name)
        if p.fmt is not None:
            header.append(f"{p.name}_value")
    w.writerow(header)
    decoded = {p.name: Registers(p.values.astype(np.uint64).astype(
        code_dtype(p.fmt.bits)), p.fmt).to_float() for p in vs.ports if p.fmt is not None}
    for i in range(vs.count):
        row = [i]
        for p in vs.ports:
            row.append(format_word(p.values[i], p.bits))  # the CSV view is hex in every radix
            if p.fmt is not None:
                row.append(repr(float(decoded[p.name][i])))
        w.writerow(row)
    return buf.getvalue()


def schema_fields(radix: str, address: int | None) -> dict:
    """The manifest fields that say how a set's words are written (§10.4): schema 1 (hex, no
    @address line) when they are the defaults, else schema 2 with ``radix`` and ``address``
    (the address of the first vector, written as an @ line; None: no @ line)."""
    if radix == "hex" and address is None:
        return {"schema_version": 1}
    return {"schema_version": SCHEMA_VERSION, "radix": radix, "address": address}


def write_set(vs: VectorSet, directory: Path | str, command: str, layout: str = "ports",
              force: bool = False, radix: str = "hex", address: int | None = None) -> Path:
    """Write the set into ``directory`` atomically (emu.outdir): built in a temporary sibling
    and swapped into place, so an interrupted run never leaves a half-written set. An existing
    ``directory`` is replaced only if it is an emu vector set and ``force`` is given. ``radix``:
    hex ($readmemh, ``<port>.hex``) or bin ($readmemb, ``<port>.bin``); ``address``: start every
    vector file with ``@address`` (the first vector's address: 0, or a shard's global index)."""
    if layout not in SET_LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; valid: {', '.join(SET_LAYOUTS)}")
    check_radix(radix)
    if address is not None and (type(address) is not int or address < 0):
        raise ValueError(f"address {address!r} is not a non-negative integer")
    directory = Path(directory)
    ext = extension(radix)
    with staged(directory, "vector set", force) as tmp:
        files = {}
        if layout == "ports":
            for p in vs.ports:
                name = f"{p.name}{ext}"
                comment = f"{p.name}: {p.direction} {p.bits} bits" + (f", {p.fmt.name}" if p.fmt else "")
                write_atomic(tmp / name, format_words(p.values, p.bits, radix, comment, address))
                files[p.name] = name
        else:
            comment = f"packed: {'_'.join(f'{p.name}[{p.bits}]' for p in vs.ports)}"
            words = ("_".join(format_word(p.values[i], p.bits, radix) for p in vs.ports)
                     for i in range(vs.count))
            write_atomic(tmp / f"vectors{ext}", vector_file(words, comment, address))
        write_atomic(tmp / "vectors.csv", _csv_text(vs))
        manifest = {
            **schema_fields(radix, address),
            "emu_version": __version__,
            "command": command,
            "spec": vs.spec,
            "op": vs.spec["op"],
            "layout": layout,
            "count": vs.count,
            "random_source": _source(vs.spec),
            "ports": [{"name": p.name, "direction": p.direction, "bits": p.bits,
                       "format": p.fmt.name if p.fmt is not None else None,
                       "file": files.get(p.name, f"vectors{ext}")} for p in vs.ports],
            "sha256": {f.name: hashlib.sha256(f.read_bytes()).hexdigest()
                       for f in sorted(tmp.iterdir())},
        }
        write_atomic(tmp / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return directory


def _source(spec: dict) -> dict | None:
    if spec["op"] == "lfsr" or is_stochastic(set_mode(spec)):
        return lfsr_from_spec(spec.get("lfsr")).config_dict()  # every lane's initial state
    return None


def read_manifest(directory: Path | str) -> dict:
    path = Path(directory) / "manifest.json"
    try:
        return json.loads(path.read_text())
    except OSError as err:
        raise ValueError(f"{path}: {err.strerror}; is {directory} a vector set?") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}, line {err.lineno}: malformed JSON ({err.msg})") from None
