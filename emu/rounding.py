"""Rounding modes and overflow policies: names, their kernel codes, and validation.

DESIGN.md Part B, "Rounding modes". Mapping to Vitis HLS ap_fixed quantization modes:
AP_RND = rnu, AP_RND_ZERO = rnz, AP_RND_MIN_INF = rnd, AP_RND_INF = rna, AP_RND_CONV = rne,
AP_TRN = rdn, AP_TRN_ZERO = rtz.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

from . import codes as core

DETERMINISTIC_MODES = {
    "rne": core.RNE,  # nearest, ties to even (default)
    "rna": core.RNA,  # nearest, ties away from zero
    "rnz": core.RNZ,  # nearest, ties toward zero
    "rnu": core.RNU,  # nearest, ties toward +inf
    "rnd": core.RND,  # nearest, ties toward -inf
    "rtz": core.RTZ,  # toward zero (truncate magnitude)
    "rdn": core.RDN,  # toward -inf (floor)
    "rup": core.RUP,  # toward +inf (ceil)
    "raz": core.RAZ,  # away from zero
    "rto": core.RTO,  # round to odd
}
STOCHASTIC_MODES = {
    "sr": core.SR,
    "sr_eps": core.SR_EPS,
    "signed_sr_eps": core.SIGNED_SR_EPS,
    "sr_equal": core.SR_EQUAL,
}
MODES = {**DETERMINISTIC_MODES, **STOCHASTIC_MODES}

AP_FIXED_MODES = {
    "AP_RND": "rnu", "AP_RND_ZERO": "rnz", "AP_RND_MIN_INF": "rnd", "AP_RND_INF": "rna",
    "AP_RND_CONV": "rne", "AP_TRN": "rdn", "AP_TRN_ZERO": "rtz",
}

FIXED_OVERFLOW = {"wrap": core.OVF_WRAP, "sat": core.OVF_SAT, "sat_sym": core.OVF_SAT_SYM}


def mode_code(name: str) -> int:
    """Kernel code of a rounding mode name; ValueError listing the valid names otherwise."""
    key = name.lower() if isinstance(name, str) else None
    if isinstance(name, str) and name.upper() in AP_FIXED_MODES:
        key = AP_FIXED_MODES[name.upper()]
    if key not in MODES:
        hint = ("; 'mode:options' text is read by emu.Rounding.parse (the command line takes "
                "the options as their own flags, e.g. --sr-bits)") if ":" in str(name) else ""
        raise ValueError(
            f"unknown rounding mode {name!r}; valid: {', '.join(MODES)} "
            f"(or an ap_fixed name: {', '.join(AP_FIXED_MODES)}){hint}"
        )
    return MODES[key]


def canonical(name: str) -> str:
    """The canonical (lowercase emu) name of a rounding mode given in any case or as an ap_fixed
    name; ValueError listing the valid names otherwise."""
    code = mode_code(name)
    return next(k for k, v in MODES.items() if v == code)


def is_stochastic(name) -> bool:
    """Does the mode (a name, or a Rounding) draw random words?"""
    return (name.mode_code if isinstance(name, Rounding) else mode_code(name)) >= core.SR


def overflow_code(fmt, saturate: bool | None, overflow: str | None) -> int:
    """Kernel overflow policy for a target format. Floats take ``saturate``, fixed ``overflow``
    (the other one is an error)."""
    return as_rounding(None, saturate=saturate, overflow=overflow, fmt=fmt).overflow_code(fmt)


EPS_MODES = ("sr_eps", "signed_sr_eps")  # the biased modes: they take eps
DIRECTION_MODES = ("signed_sr_eps",)  # they take a direction d per element
DEFAULT_SR_BITS = 8


def fitting(mode, **options) -> dict:
    """The options (saturate, overflow, bits or sr_bits, form, eps; None dropped) that apply to
    ``mode`` (a name, ``mode:...`` text or a Rounding): the overflow fields always, r and the
    form for stochastic modes, eps for the biased ones. For callers that hold options for
    whichever mode they meet (a context, a spec, a policy, matmul's shared SR options)."""
    name = mode.mode if isinstance(mode, Rounding) else canonical(mode.partition(":")[0])
    keep = {"saturate", "overflow"}
    if is_stochastic(name):
        keep |= {"bits", "sr_bits", "form"}
    if name in EPS_MODES:
        keep.add("eps")
    return {k: v for k, v in options.items() if k in keep and v is not None}


def takes_eps(name) -> bool:
    """Does the mode (a name or a Rounding) take eps?"""
    return (name.mode if isinstance(name, Rounding) else canonical(name)) in EPS_MODES


def takes_direction(name) -> bool:
    """Does the mode (a name or a Rounding) take a direction per element?"""
    return (name.mode if isinstance(name, Rounding) else canonical(name)) in DIRECTION_MODES
SR_FORMS = ("carry", "compare")


class KernelRounding(NamedTuple):
    """What the kernels take for one rounding into one format (docs/semantics.md §4-§6): mode and
    overflow codes, r, the biased modes' integer offset E = round(eps * 2**r), and the SR form."""

    mode: int
    overflow: int
    rbits: int
    eoff: int
    compare: bool

    @property
    def stochastic(self) -> bool:
        return self.mode >= core.SR


@dataclass(frozen=True)
class Rounding:
    """How to round: a frozen, hashable value (docs/semantics.md §4-§6).

    ``mode``: any rounding mode name (``rne`` ... ``rto``, ``sr``, ``sr_eps``, ``signed_sr_eps``,
    ``sr_equal``, or an ap_fixed name), kept canonical. ``saturate`` applies to float targets
    (True: overflow gives max finite; False/None: Inf, or NaN where the format has no Inf),
    ``overflow`` to fixed-point targets (``wrap`` | ``sat`` | ``sat_sym``; None: ``sat``), so one
    Rounding serves either kind of target. Stochastic modes take ``bits`` r (default 8) and
    ``form`` (``carry`` | ``compare``); ``sr_eps`` and ``signed_sr_eps`` take ``eps`` in [0, 1).
    Options that do not apply to the mode are errors, never ignored. The random source and the
    signed mode's directions are per call (they are state and data, not a rounding rule).

    >>> Rounding("sr", bits=12)
    Rounding('sr:bits=12')
    >>> Rounding.parse("signed_sr_eps:0.25") == Rounding("signed_sr_eps", eps=0.25)
    True
    """

    mode: str = "rne"
    saturate: bool | None = None
    overflow: str | None = None
    bits: int | None = None
    form: str | None = None
    eps: float | Fraction | None = None

    def __post_init__(self):
        from .validate import flag, integer, real

        set_ = object.__setattr__  # frozen: normalise once, here
        set_(self, "mode", canonical(self.mode))
        if self.saturate is not None:  # False is the default (Inf/NaN): stored as None
            set_(self, "saturate", flag(self.saturate, "saturate") or None)
        if self.overflow is not None and (not isinstance(self.overflow, str)
                                          or self.overflow not in FIXED_OVERFLOW):
            raise ValueError(f"unknown overflow policy {self.overflow!r}; valid: "
                             f"{', '.join(FIXED_OVERFLOW)}")
        if self.overflow == "sat":  # the fixed-point default: stored as None
            set_(self, "overflow", None)
        if not self.stochastic:
            for name in ("bits", "form", "eps"):
                if getattr(self, name) is not None:
                    opt = "sr_bits" if name == "bits" else name
                    raise ValueError(f"{opt}= only applies to stochastic rounding modes "
                                     f"({', '.join(STOCHASTIC_MODES)}), not {self.mode}")
            return
        set_(self, "bits", integer(DEFAULT_SR_BITS if self.bits is None else self.bits, "sr_bits",
                                   1, core.SR_MAX_BITS))
        form = "carry" if self.form is None else self.form
        if form not in SR_FORMS:
            raise ValueError(f"unknown SR form {form!r}; valid: {', '.join(SR_FORMS)}")
        set_(self, "form", form)
        if self.mode in EPS_MODES:
            eps = None if self.eps is None else real(self.eps, "eps")
            if eps is None or not 0 <= eps < 1:
                raise ValueError(f"eps={self.eps!r}: {self.mode} needs eps in [0, 1)")
            set_(self, "eps", abs(eps) if eps == 0 else eps)  # -0.0 -> 0.0
        elif self.eps is not None:
            raise ValueError(f"eps= only applies to {' and '.join(EPS_MODES)}, not {self.mode}")

    # --- what it is ---------------------------------------------------------------------------
    @property
    def mode_code(self) -> int:
        return MODES[self.mode]

    @property
    def stochastic(self) -> bool:
        return MODES[self.mode] >= core.SR

    @property
    def needs_direction(self) -> bool:
        """signed_sr_eps: each element needs a direction d in {-1, 0, +1}."""
        return self.mode in DIRECTION_MODES

    @property
    def eoff(self) -> int:
        """The biased modes' integer offset E = round(eps * 2**r), ties to even (§6); else 0."""
        return round(Fraction(self.eps) * 2**self.bits) if self.eps is not None else 0

    def overflow_code(self, fmt) -> int:
        """The kernel overflow policy for target ``fmt`` (a format or its name): ``saturate``
        for floats, ``overflow`` for fixed point."""
        if _is_fixed(_format(fmt)):
            return FIXED_OVERFLOW["sat" if self.overflow is None else self.overflow]
        return core.OVF_SAT if self.saturate else core.OVF_INF

    def kernel(self, fmt) -> KernelRounding:
        """The compact descriptor the kernels take for rounding into ``fmt`` (a format or its
        name)."""
        return KernelRounding(self.mode_code, self.overflow_code(fmt), self.bits or 1, self.eoff,
                              self.form == "compare")

    def replace(self, **changes) -> Rounding:
        """A copy with some fields changed (validated again); options that no longer apply to a
        new ``mode`` are dropped."""
        if "mode" in changes and canonical(changes["mode"]) != self.mode:
            keep = {f.name: getattr(self, f.name) for f in fields(self)}
            keep.update(mode=changes["mode"])
            if not is_stochastic(changes["mode"]):
                keep.update(bits=None, form=None, eps=None)
            elif canonical(changes["mode"]) not in EPS_MODES:
                keep.update(eps=None)
            keep.update({k: v for k, v in changes.items() if k != "mode"})
            return Rounding(**keep)
        return replace(self, **changes)

    # --- text ---------------------------------------------------------------------------------
    def __str__(self) -> str:
        """``mode[:key=value,...]`` with the options that differ from the defaults; parse() reads
        it back."""
        opts = []
        if self.bits is not None and self.bits != DEFAULT_SR_BITS:
            opts.append(f"bits={self.bits}")
        if self.eps is not None:
            opts.append(f"eps={self.eps}")
        if self.form not in (None, "carry"):
            opts.append(f"form={self.form}")
        if self.saturate is not None:
            opts.append(f"saturate={str(self.saturate).lower()}")
        if self.overflow is not None:
            opts.append(f"overflow={self.overflow}")
        return self.mode + (":" + ",".join(opts) if opts else "")

    def __repr__(self) -> str:
        return f"Rounding({str(self)!r})"

    @classmethod
    def parse(cls, text) -> Rounding:
        """A Rounding from text: ``"rne"``, ``"sr:bits=12,form=compare"``, ``"sr_eps:eps=0.25"``;
        a bare number after the colon is eps for sr_eps/signed_sr_eps and r for sr/sr_equal
        (``"signed_sr_eps:0.25"``, ``"sr:12"``); ``saturate``, ``wrap``, ``sat``, ``sat_sym`` and
        ``compare`` may be given bare. A Rounding is returned unchanged."""
        if isinstance(text, Rounding):
            return text
        if not isinstance(text, str):
            raise TypeError(f"a rounding is a name or an emu.Rounding, not {type(text).__name__}")
        mode, _, rest = text.strip().partition(":")
        kw: dict = {}
        for item in filter(None, (t.strip() for t in rest.split(","))):
            key, eq, value = item.partition("=")
            key = key.strip().lower()
            if not eq:  # a bare option
                value, key = key, _bare_key(mode, key, text)
            name = _PARSE_KEYS.get(key, key)
            if name in kw:
                raise ValueError(f"rounding {text!r}: {name} given twice")
            kw[name] = _parse_value(key, value.strip(), text)
        unknown = set(kw) - {f.name for f in fields(cls)} - {"mode"} | ({"mode"} & set(kw))
        if unknown:
            raise ValueError(f"rounding {text!r}: unknown option(s) {', '.join(sorted(unknown))}; "
                             "valid: bits, eps, form, saturate, overflow")
        return cls(mode.strip(), **kw)


_PARSE_KEYS = {"r": "bits", "sr_bits": "bits"}


def _bare_key(mode: str, value: str, text: str) -> str:
    if value in ("saturate",):
        return "saturate"
    if value in FIXED_OVERFLOW:
        return "overflow"
    if value in SR_FORMS:
        return "form"
    try:
        Fraction(value)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"rounding {text!r}: cannot read option {value!r}") from None
    return "eps" if mode.strip().lower() in EPS_MODES else "bits"


def _parse_value(key: str, value: str, text: str):
    key = _PARSE_KEYS.get(key, key)
    try:
        if key == "bits":
            return int(value)
        if key == "eps":
            return float(Fraction(value)) if "/" not in value else Fraction(value)
        if key == "saturate":
            return {"true": True, "false": False, "saturate": True, "1": True,
                    "0": False}[value.lower()]
    except (ValueError, KeyError, ZeroDivisionError):
        raise ValueError(f"rounding {text!r}: bad value {value!r} for {key}") from None
    return value


def as_rounding(rounding=None, *, saturate=None, overflow=None, sr_bits=None, eps=None,
                form=None, fmt=None, defaults=None) -> Rounding:
    """The one place a call's rounding arguments become a Rounding.

    ``rounding``: a Rounding, a name (or ``parse`` text), or None for ``defaults`` (a Rounding;
    the context's in arithmetic) else rne. Keyword options given explicitly override and must
    apply (``sr_bits`` with rne is an error); options of ``defaults`` carry over where they apply
    to the mode. With ``fmt`` given, ``saturate`` on a fixed target and ``overflow`` on a float
    target are errors (they would be ignored).

    A Rounding is a frozen value, so the answer for the same (hashable) arguments is built once
    and shared: a small matmul otherwise spent a third of its time validating its roundings."""
    args = (rounding, saturate, overflow, sr_bits, eps, form, fmt, defaults)
    try:
        return _as_rounding_cached(*args)
    except TypeError:  # an unhashable argument (or a wrong type: reported by the plain call)
        return _as_rounding(*args)


@lru_cache(maxsize=1024, typed=True)  # typed: 1 and True, 0 and 0.0 are told apart
def _as_rounding_cached(*args) -> Rounding:
    return _as_rounding(*args)


def _as_rounding(rounding, saturate, overflow, sr_bits, eps, form, fmt, defaults) -> Rounding:
    if fmt is not None:
        check_target_options(fmt, saturate, overflow)
    explicit = {k: v for k, v in (("saturate", saturate), ("overflow", overflow), ("bits", sr_bits),
                                  ("eps", eps), ("form", form)) if v is not None}
    if isinstance(rounding, Rounding):
        return replace(rounding, **explicit) if explicit else rounding
    base = defaults if defaults is not None else Rounding()
    if rounding is None:
        return base.replace(**explicit) if explicit else base
    if not isinstance(rounding, str):
        raise TypeError(f"rounding must be a mode name or an emu.Rounding, not "
                        f"{type(rounding).__name__}")
    named = Rounding.parse(rounding) if ":" in rounding else None
    mode = named.mode if named else rounding
    inherited = {"saturate": base.saturate, "overflow": base.overflow}
    if is_stochastic(mode) and base.stochastic:
        inherited.update(bits=base.bits, form=base.form)
    if canonical(mode) in EPS_MODES and base.eps is not None:
        inherited["eps"] = base.eps
    if named:
        inherited.update({f.name: getattr(named, f.name) for f in fields(Rounding)
                          if f.name != "mode" and getattr(named, f.name) is not None})
    inherited.update(explicit)
    return Rounding(mode, **{k: v for k, v in inherited.items() if v is not None})


def check_target_options(fmt, saturate=None, overflow=None) -> None:
    """Keyword ``saturate`` on a fixed-point target and ``overflow`` on a float target are
    errors: they would be ignored."""
    from .validate import flag

    if saturate is not None and _is_fixed(fmt):
        flag(saturate, "saturate")
        raise ValueError(f"saturate= applies to float formats; {fmt.name} is fixed point: "
                         f"use overflow= one of {', '.join(FIXED_OVERFLOW)}")
    if overflow is not None and not _is_fixed(fmt):
        raise ValueError(f"overflow= applies to fixed-point formats; {fmt.name} is floating "
                         "point: use saturate=True/False")


def _is_fixed(fmt) -> bool:
    from .formats import FixedFormat

    return isinstance(fmt, FixedFormat)


def _format(fmt):
    """A format, or the format a name stands for (TypeError for anything else)."""
    from .formats import FixedFormat, FloatFormat, format

    if isinstance(fmt, FixedFormat | FloatFormat):
        return fmt
    if isinstance(fmt, str):
        return format(fmt)
    if hasattr(fmt, "descriptor") and hasattr(fmt, "bits"):  # host formats (float64 decode)
        return fmt
    raise TypeError(f"a target format is a format or its name, not {type(fmt).__name__}")
