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
from ..rounding import canonical, is_stochastic, mode_code
from ..validate import ArgumentTypeError, integer

MAX_COUNT = 1 << 24  # random vectors or LFSR draws in one set (each shard draws them all)

OPS = ("convert", "sr", "add", "mul", "fma", "lfsr", "mac")  # sr: convert, stochastic by default
EPS_MODES = ("sr_eps", "signed_sr_eps")
# the LFSR settings a spec can give, with their defaults (shifts: the random bits r, or the
# width for an lfsr set); config, reverse and invert are written only when not the default
LFSR_SETTINGS = {"width": 32, "seed": 1, "lanes": 1, "config": "fibonacci", "shifts": None,
                 "reverse": False, "invert": False, "poly": None, "seeds": None}
_IMPLIED = ("config", "reverse", "invert")


# settings that apply only to some ops or rounding modes: (ops, needs a stochastic mode, modes);
# lfsr sets draw from the LFSR without a rounding mode
_NOT_LFSR = frozenset(OPS) - {"lfsr"}
SCOPES: dict[str, tuple[frozenset, bool, frozenset | None]] = {
    "src": (frozenset({"convert", "sr"}), False, None),
    "dst": (frozenset({"convert", "sr", "add", "mul", "fma"}), False, None),
    "fmt": (frozenset({"add", "mul", "fma", "mac"}), False, None),
    **dict.fromkeys(("rounding", "saturate", "overflow", "inputs", "seed"), (_NOT_LFSR, False, None)),
    **dict.fromkeys(("k", "acc", "acc_overflow", "out_format"), (frozenset({"mac"}), False, None)),
    "sr_bits": (_NOT_LFSR - {"mac"}, True, None),
    "eps": (frozenset(OPS), True, frozenset(EPS_MODES)),
    "direction": (frozenset(OPS), True, frozenset({"signed_sr_eps"})),
    "lfsr": (frozenset(OPS), True, None),
    "profile": (frozenset({"convert", "sr", "add", "mul", "fma"}), False, None),
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
                    spell: Callable[[str, object], str] = setting) -> dict[str, str | None]:
    """Why each setting of SCOPES does not apply to a set of ``op`` with ``rounding`` (None: it
    applies), for refusing a setting that would be silently ignored. ``spell`` names settings
    in the reasons (``applies to stochastic rounding only (rounding=rne)``)."""
    rounding = op_rounding(check_op(op), rounding)
    stochastic = op == "lfsr" or (op != "mac" and is_stochastic(rounding))
    reasons: dict[str, str | None] = {}
    for name, (ops, needs_sr, modes) in SCOPES.items():
        reasons[name] = None
        if op not in ops:
            reasons[name] = f"does not apply to golden {op}"
        elif needs_sr and not stochastic:
            reasons[name] = f"applies to stochastic rounding only ({spell('rounding', rounding)})"
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
               rounding: str | None = None, saturate: bool = False, overflow: str | None = None,
               inputs: str | Sequence[str] = "corners,random", count: int = 1000, seed: int = 1,
               sr_bits: int = 8, lfsr: dict | None = None, eps: float | None = None,
               direction: int | None = None, k: int = 16, acc: str | None = None,
               acc_overflow: str = "wrap", out_format: str | None = None,
               profile: str | None = None,
               spell: Callable[[str, object], str] = setting) -> dict:
    """The spec of a set of ``op`` (``OPS``): convert/sr take ``src`` and ``dst``; add, mul and fma
    ``fmt`` (and ``dst``); mac ``fmt``, ``k`` products, ``acc``, ``acc_overflow`` and
    ``out_format`` (fixed point); every op but lfsr ``rounding``, ``saturate``, ``overflow``,
    ``inputs`` (generator names, a list or comma-separated), ``count`` and ``seed``; stochastic
    sets ``sr_bits``, ``eps``, ``direction`` and ``lfsr`` (``LFSR_SETTINGS``); convert, add, mul
    and fma a vendor ``profile`` (docs/semantics.md §3.5; recorded when not ocp). ValueError for
    settings that are wrong or do not fit together; ``spell`` names them in the messages."""
    from .vectors import GENERATORS, lfsr_from_spec  # numpy: only when a spec is built

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
    for name, why in unused_settings(op, settings.get("rounding"), spell).items():
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
