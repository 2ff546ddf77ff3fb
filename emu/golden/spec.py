"""Build a golden vector set's spec (the dict ``emu.golden.generate`` takes, docs/semantics.md §10)
from plain settings, checked before any work: what ``emu golden`` does with its options.

>>> spec = build_spec("convert", dst="e4m3", inputs="corners", rounding="AP_RND")
>>> spec["rounding"], spec["src"]
('rnu', 'fp32')

Errors are ValueErrors naming the setting: ``sr_bits=40 out of range``; the command line passes
``spell`` so that they name its options instead (``--sr-bits 40 out of range``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

from ..codes import SR_MAX_BITS
from ..formats import FixedFormat
from ..formats import format as parse_format
from ..rounding import canonical, is_stochastic, mode_code, takes_eps
from ..validate import ArgumentTypeError, integer
from .sets import BLOCK_SUMS, MX_OPS, ORDERS

MAX_COUNT = 1 << 24  # random vectors or LFSR draws in one set (each shard draws them all)

OPS = ("convert", "sr", "add", "mul", "fma", "lfsr", "mac", *MX_OPS)  # sr: convert, stochastic by default
EPS_MODES = ("sr_eps", "signed_sr_eps")
# the choices of the block sets' settings (the core's names: emu.blocks.SCALE_RULES,
# emu.blockdot.BLOCK_SUMS, emu.linalg.ORDERS), spelled here so the command line's help needs no numpy
SCALE_RULES = ("floor", "ceil", "rceil")
# the LFSR settings a spec can give, with their defaults (shifts: the random bits r, or the
# width for an lfsr set); config, reverse and invert are written only when not the default
LFSR_SETTINGS = {"width": 32, "seed": 1, "lanes": 1, "config": "fibonacci", "shifts": None,
                 "reverse": False, "invert": False, "poly": None, "seeds": None}
_IMPLIED = ("config", "reverse", "invert")


# settings that apply only to some ops or rounding modes: (ops, needs a stochastic mode, modes);
# lfsr sets draw from the LFSR without a rounding mode
_NOT_LFSR = frozenset(OPS) - {"lfsr"}
_MX = frozenset(MX_OPS)
SCOPES: dict[str, tuple[frozenset, bool, frozenset | None]] = {
    "src": (frozenset({"convert", "sr", "mx-quantize"}), False, None),
    "dst": (frozenset({"convert", "sr", "add", "mul", "fma"}), False, None),
    "fmt": (frozenset({"add", "mul", "fma", "mac"}) | _MX, False, None),
    "rounding": (_NOT_LFSR - {"mx-dot"}, False, None),  # mx-dot: acc_rounding
    **dict.fromkeys(("saturate", "overflow", "inputs", "seed"), (_NOT_LFSR, False, None)),
    **dict.fromkeys(("k", "acc_overflow", "out_format"), (frozenset({"mac"}), False, None)),
    "acc": (frozenset({"mac", "mx-dot"}), False, None),
    "sr_bits": (_NOT_LFSR - {"mac"}, True, None),
    # the accumulator of mx-dot takes sr or sr_equal only: no eps, no direction
    "eps": (frozenset(OPS) - {"mx-dot"}, True, frozenset(EPS_MODES)),
    "direction": (frozenset(OPS) - {"mx-dot"}, True, frozenset({"signed_sr_eps"})),
    "lfsr": (frozenset(OPS), True, None),
    "profile": (frozenset({"convert", "sr", "add", "mul", "fma"}), False, None),
    **dict.fromkeys(("block_size", "scale_format"), (_MX, False, None)),
    "scale_rule": (frozenset({"mx-quantize"}), False, None),
    **dict.fromkeys(("acc_rounding", "block_sum", "order"), (frozenset({"mx-dot"}), False, None)),
}


def setting(name: str, value: object = None) -> str:
    """How errors name a setting: ``sr_bits`` or ``sr_bits=40``."""
    return name if value is None else f"{name}={value}"


def op_rounding(op: str, rounding: str | None) -> str:
    """The canonical rounding mode of a set: ``rounding`` in any case or as an ap_fixed name,
    else sr for ``sr`` sets and rne for the others."""
    return canonical(rounding or ("sr" if op == "sr" else "rne"))


def check_op(op: object) -> str:
    """``op`` if it is one of OPS, else a ValueError listing them."""
    if op not in OPS:
        raise ValueError(f"unknown golden op {op!r}; valid: {', '.join(OPS)}")
    return op  # type: ignore[return-value]


def unused_settings(op: str, rounding: str | None,
                    spell: Callable[[str, object], str] = setting,
                    acc_rounding: str | None = None) -> dict[str, str | None]:
    """Why each setting of SCOPES does not apply to a set of ``op`` with ``rounding`` (mx-dot:
    ``acc_rounding``, the accumulator's) (None: it applies), for refusing a setting that would
    be silently ignored. ``spell`` names settings in the reasons (``applies to stochastic
    rounding only (rounding=rne)``)."""
    mode_name = "acc_rounding" if check_op(op) == "mx-dot" else "rounding"
    rounding = op_rounding(op, acc_rounding if op == "mx-dot" else rounding)
    stochastic = op == "lfsr" or (op != "mac" and is_stochastic(rounding))
    reasons: dict[str, str | None] = {}
    for name, (ops, needs_sr, modes) in SCOPES.items():
        reasons[name] = None
        if op not in ops:
            reasons[name] = f"does not apply to golden {op}"
            if op == "mx-dot" and name == "rounding":
                reasons[name] += f" (the accumulator rounds: {spell('acc_rounding')})"
        elif needs_sr and not stochastic:
            reasons[name] = f"applies to stochastic rounding only ({spell(mode_name, rounding)})"
        elif modes and rounding not in modes:
            reasons[name] = f"applies to {spell('rounding', ' / '.join(sorted(modes)))} only"
    return reasons


def check_mode_settings(rounding: str, eps, direction,
                        spell: Callable[[str, object], str] = setting) -> None:
    """The biased stochastic modes need their settings: eps for sr_eps and signed_sr_eps, a
    direction for signed_sr_eps."""
    rounding = canonical(rounding)
    if rounding in EPS_MODES and eps is None:
        raise ValueError(f"{spell('rounding', rounding)} needs {spell('eps')} (in [0, 1))")
    if rounding == "signed_sr_eps" and direction is None:
        raise ValueError(f"{spell('rounding', rounding)} needs {spell('direction')} -1, 0 or +1")


def build_spec(op: str, *, src: str = "fp32", dst: str | None = None, fmt: str | None = None,
               rounding: str | None = None, saturate: bool | None = None, overflow: str | None = None,
               inputs: str | Sequence[str] = "corners,random", count: int = 1000, seed: int = 1,
               sr_bits: int = 8, lfsr: dict | None = None, eps: float | None = None,
               direction: int | None = None, k: int = 16, acc: str | None = None,
               acc_overflow: str = "wrap", out_format: str | None = None,
               profile: str | None = None, block_size: int | None = None,
               scale_format: str | None = None, scale_rule: str = "floor",
               acc_rounding: str | None = None, block_sum: str = "exact", order: str = "sequential",
               spell: Callable[[str, object], str] = setting) -> dict:
    """The spec of a set of ``op`` (``OPS``): convert/sr take ``src`` and ``dst``; add, mul and fma
    ``fmt`` (and ``dst``); mac ``fmt``, ``k`` products, ``acc``, ``acc_overflow`` and
    ``out_format`` (fixed point); every op but lfsr ``rounding``, ``saturate`` (None: False; the
    elements of mx-quantize: True), ``overflow``, ``inputs`` (generator names, a list or
    comma-separated), ``count`` and ``seed``; stochastic sets ``sr_bits``, ``eps``, ``direction``
    and ``lfsr`` (``LFSR_SETTINGS``); convert, add, mul and fma a vendor ``profile``
    (docs/semantics.md §3.5; recorded when not ocp). Block sets (§10.10): mx-quantize and mx-dot
    take ``fmt`` a block format (or an element format with ``block_size`` and ``scale_format``);
    mx-quantize ``src`` and ``scale_rule``; mx-dot ``acc`` (default fp32) and its rounding
    ``acc_rounding`` (in place of ``rounding``), ``block_sum`` and ``order``. ValueError for
    settings that are wrong or do not fit together; ``spell`` names them in the messages."""
    from .vectors import GENERATORS, lfsr_from_spec  # numpy: only when a spec is built

    given_rounding = rounding
    rounding = op_rounding(check_op(op), rounding)
    check_mode_settings(rounding, eps, direction, spell)
    count = _integer(count, "count", 1, MAX_COUNT, spell)
    seed = _integer(seed, "seed", 0, None, spell)
    sr_bits = _integer(sr_bits, "sr_bits", 1, SR_MAX_BITS, spell)
    lfsr = lfsr_settings(lfsr)
    if not isinstance(inputs, (str, list, tuple)) or not all(isinstance(g, str) for g in inputs):
        raise ArgumentTypeError(f"{spell('inputs')} takes generator names (a list, or a string "
                                f"separated by commas; valid: {', '.join(GENERATORS)}), not {inputs!r}")
    gens = [g.strip() for g in (inputs.split(",") if isinstance(inputs, str) else inputs) if g.strip()]
    if not gens:
        raise ValueError(f"{spell('inputs')} names no generator; valid: {', '.join(GENERATORS)}")
    bad = [g for g in gens if g not in GENERATORS]
    if bad:
        raise ValueError(f"unknown input generator {bad[0]!r}; valid: {', '.join(GENERATORS)}")
    spec = {"op": "convert" if op == "sr" else op, "inputs": gens, "count": count, "seed": seed}
    mode_code(rounding)  # an unknown name lists the valid ones
    if op in MX_OPS:
        return _block_spec(spec, src=src, fmt=fmt, rounding=rounding, given_rounding=given_rounding,
                           saturate=saturate, overflow=overflow, sr_bits=sr_bits, lfsr=lfsr, eps=eps,
                           direction=direction, acc=acc, block_size=block_size,
                           scale_format=scale_format, scale_rule=scale_rule,
                           acc_rounding=acc_rounding, block_sum=block_sum, order=order, spell=spell)
    for f in (src, dst, fmt, acc, out_format):
        if f:
            parse_format(f)  # likewise an unknown format
    if op in ("convert", "sr"):
        if not dst:
            raise ValueError(f"{op} needs {spell('dst', 'FORMAT')}")
        spec.update(src=src, dst=dst)
    elif op in ("add", "mul", "fma", "mac"):
        if not fmt:
            raise ValueError(f"{op} needs {spell('fmt', 'FORMAT')}")
        spec.update(fmt=fmt)
        if dst and op != "mac":
            spec["dst"] = dst
    if op == "mac":
        if not all(isinstance(parse_format(f), FixedFormat) for f in (fmt, acc, out_format) if f):
            raise ValueError(f"mac models a fixed-point MAC unit: {spell('fmt')}, {spell('acc')} and "
                             f"{spell('out_format')} must be fixed-point formats (sW.F, uW.F)")
        spec.update(k=k, acc_overflow=acc_overflow, out=out_format or fmt)
        if acc:
            spec["acc"] = acc
    if op != "lfsr":
        spec["rounding"] = rounding
        if saturate:
            spec["saturate"] = True
        if overflow:
            spec["overflow"] = overflow
    word_bits = sr_bits
    if profile is not None and op not in ("lfsr", "mac"):
        from ..profiles import Profile, operand_bits

        prof = Profile.named(profile)  # an unknown name lists the valid ones
        if not prof.is_ocp:
            spec["profile"] = prof.name
            # the LFSR supplies the vendor's whole random operand (AMD: 32 bits) per element
            word_bits = operand_bits(prof, parse_format(spec["dst"] if "dst" in spec else fmt), sr_bits)
    if op == "lfsr" or is_stochastic(rounding):
        spec["lfsr"] = _lfsr(op, lfsr, word_bits)
        lfsr_from_spec(spec["lfsr"])  # a bad width, seed, lane count or shift count fails here
        if op != "lfsr":
            spec["sr_bits"] = sr_bits
    if eps is not None:
        spec["eps"] = eps
    if direction is not None:
        spec["direction"] = direction
    return spec


def _choice(value, name: str, valid: Sequence[str], spell: Callable[[str, object], str]) -> str:
    if value not in valid:
        raise ValueError(f"unknown {spell(name)} {value!r}; valid: {', '.join(valid)}")
    return value


def _block_spec(spec: dict, *, src, fmt, rounding, given_rounding, saturate, overflow, sr_bits, lfsr,
                eps, direction, acc, block_size, scale_format, scale_rule, acc_rounding, block_sum,
                order, spell) -> dict:
    """build_spec's part for mx-quantize and mx-dot (docs/semantics.md §10.10)."""
    from ..formats import FloatFormat
    from . import mx
    from .vectors import lfsr_from_spec

    op = spec["op"]
    if "exhaustive" in spec["inputs"]:
        raise ValueError(f"input generator 'exhaustive' does not apply to golden {op} (blocks of k "
                         f"elements); valid: {', '.join(mx.GENERATORS)}")
    if not fmt:
        raise ValueError(f"{op} needs {spell('fmt', 'FORMAT')}: a block format (mxfp8_e4m3, "
                         f"mxfp8_e5m2, mxfp6_e3m2, mxfp6_e2m3, mxfp4, mxint8, nvfp4) or an element "
                         f"format with {spell('block_size')} and {spell('scale_format')}")
    if block_size is not None:
        _integer(block_size, "block_size", 1, mx.MAX_BLOCK, spell)
    spec.update(mx.block_fields(fmt, block_size, scale_format, spell))
    bf = mx.block_of(spec)
    if op == "mx-quantize":
        parse_format(src)
        spec["src"] = src
        mx.source_format(spec)
        spec["rounding"] = mode = rounding
        _choice(scale_rule, "scale_rule", SCALE_RULES, spell)
        if scale_rule != "floor" and not bf.power_of_two_scale:
            raise ValueError(f"{spell('scale_rule', scale_rule)} is for power-of-two (e8m0) scales; "
                             f"{bf.name}'s {bf.scale.name} scale is rounded from amax / max_elem")
        spec["scale_rule"] = scale_rule
        what = "elements"
    else:
        if given_rounding is not None:
            raise ValueError(f"{spell('rounding')} does not apply to golden mx-dot (the accumulator "
                             f"rounds: {spell('acc_rounding')})")
        for name, v in (("eps", eps), ("direction", direction)):
            if v is not None:
                raise ValueError(f"{spell(name)} does not apply to golden mx-dot (its accumulator "
                                 "takes sr or sr_equal)")
        spec["acc"] = acc or "fp32"
        mx.acc_format(spec)  # an unknown format lists the valid ones; e8m0 cannot accumulate
        spec["acc_rounding"] = mode = canonical(acc_rounding or "rne")
        if takes_eps(mode):
            raise ValueError(f"{spell('acc_rounding')} {mode}: an accumulator takes a deterministic "
                             "mode, sr or sr_equal (the biased modes need an eps and a direction)")
        spec["block_sum"] = _choice(block_sum, "block_sum", BLOCK_SUMS, spell)
        spec["order"] = _choice(order, "order", ORDERS, spell)
        what = "accumulators"
    result = mx.result_format(spec)
    if isinstance(result, FloatFormat):
        if overflow:
            raise ValueError(f"{spell('overflow')} applies to fixed-point {what}; {result.name} is a "
                             f"float format ({spell('saturate')} sets its overflow)")
        if op == "mx-quantize":
            spec["saturate"] = True if saturate is None else bool(saturate)
        elif saturate:
            spec["saturate"] = True
    else:
        if saturate is not None:
            raise ValueError(f"{spell('saturate')} applies to float {what}; {result.name} is fixed "
                             f"point ({spell('overflow')} sets its overflow)")
        if overflow:
            spec["overflow"] = overflow
    if is_stochastic(mode):
        spec["lfsr"] = _lfsr(op, lfsr, sr_bits)
        lfsr_from_spec(spec["lfsr"])  # a bad width, seed, lane count or shift count fails here
        spec["sr_bits"] = sr_bits
    if eps is not None:
        spec["eps"] = eps
    if direction is not None:
        spec["direction"] = direction
    mx.check_spec(spec)  # what the core refuses (SR with pairwise order, ...) fails now
    return spec


def _integer(value, name: str, lo: int, hi: int | None, spell: Callable[[str, object], str]) -> int:
    """An integer setting in [lo, hi]: TypeError for a bool, float, str ...; ValueError naming it
    as ``spell`` does (``sr_bits=40 out of range``, ``--sr-bits 40 out of range``)."""
    v = integer(value, spell(name))
    if v < lo or (hi is not None and v > hi):
        raise ValueError(f"{spell(name, v)} out of range; valid: "
                         + (f"{lo}..{hi}" if hi is not None else f">= {lo}"))
    return v


def lfsr_settings(lfsr) -> dict | None:
    """A spec's ``lfsr`` setting: a dict of LFSR_SETTINGS, or an ``emu.LFSR`` (its current lane
    states as ``seeds``: the states a DUT's LFSR is loaded with)."""
    from ..lfsr import LFSR

    if lfsr is None or isinstance(lfsr, dict):
        return lfsr
    if not isinstance(lfsr, LFSR):
        raise ArgumentTypeError(f"lfsr= takes an emu.LFSR or a dict of LFSR settings "
                                f"({', '.join(LFSR_SETTINGS)}), not {type(lfsr).__name__}")
    return {"width": lfsr.width, "poly": lfsr.poly, "config": lfsr.config, "shifts": lfsr.shifts,
            "reverse": lfsr.reverse, "invert": lfsr.invert, "seeds": list(lfsr.states)}


def refuse_unused(op: str, settings: dict, spell: Callable[[str, object], str] = setting) -> dict:
    """ValueError for a setting (of build_spec's, by name) that is not its default although
    ``op`` with the given rounding does not use it (unused_settings says why): a setting that
    would be silently ignored is refused, never dropped; an unknown name lists the valid ones.
    Returns the settings that are not their default (what a recorded call spells out)."""
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise ArgumentTypeError(f"unknown setting(s) {', '.join(unknown)}; valid: {', '.join(DEFAULTS)}")
    given = {name: v for name, v in settings.items() if not _is_default(v, DEFAULTS[name])}
    for name, why in unused_settings(op, settings.get("rounding"), spell,
                                     settings.get("acc_rounding")).items():
        if why and name in given:
            raise ValueError(f"{spell(name)} {why}")
    return given


def _is_default(value, default) -> bool:
    """``value == default`` for plain settings; an LFSR object or a dict is never the default."""
    return type(value) is type(default) and value == default if default is not None else value is None


def _lfsr(op: str, lfsr: dict | None, sr_bits: int) -> dict:
    """A spec's LFSR entry: the given settings over the defaults, shifts defaulting to the width
    (lfsr sets) or r; config, reverse and invert only when not the default, poly when given."""
    unknown = sorted(set(lfsr or {}) - set(LFSR_SETTINGS))
    if unknown:
        raise ValueError(f"unknown LFSR setting(s) {', '.join(unknown)}; valid: "
                         f"{', '.join(LFSR_SETTINGS)}")
    cfg = {**LFSR_SETTINGS, **(lfsr or {})}
    if cfg["shifts"] is None:
        cfg["shifts"] = cfg["width"] if op == "lfsr" else sr_bits
    if cfg["seeds"] is not None:  # one state per lane, given: they are the seed and the lanes
        cfg["seeds"] = list(cfg["seeds"])
        del cfg["seed"], cfg["lanes"]
    return {k: v for k, v in cfg.items()
            if not (k in ("poly", "seeds") and v is None) and not (k in _IMPLIED and v == LFSR_SETTINGS[k])}


# build_spec's settings and their defaults (what emu golden's options default to)
DEFAULTS = {name: p.default for name, p in inspect.signature(build_spec).parameters.items()
            if p.kind is p.KEYWORD_ONLY and name != "spell"}
