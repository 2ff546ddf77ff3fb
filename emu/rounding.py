"""Rounding modes and overflow policies: names, their kernel codes, and validation.

DESIGN.md Part B, "Rounding modes". Mapping to Vitis HLS ap_fixed quantization modes:
AP_RND = rnu, AP_RND_ZERO = rnz, AP_RND_MIN_INF = rnd, AP_RND_INF = rna, AP_RND_CONV = rne,
AP_TRN = rdn, AP_TRN_ZERO = rtz.
"""

from __future__ import annotations

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
        raise ValueError(
            f"unknown rounding mode {name!r}; valid: {', '.join(MODES)} "
            f"(or an ap_fixed name: {', '.join(AP_FIXED_MODES)})"
        )
    return MODES[key]


def canonical(name: str) -> str:
    """The canonical (lowercase emu) name of a rounding mode given in any case or as an ap_fixed
    name; ValueError listing the valid names otherwise."""
    code = mode_code(name)
    return next(k for k, v in MODES.items() if v == code)


def is_stochastic(name: str) -> bool:
    return mode_code(name) >= core.SR


def overflow_code(fmt, saturate: bool | None, overflow: str | None) -> int:
    """Kernel overflow policy for a target format. Floats take ``saturate``, fixed ``overflow``."""
    from .formats import FixedFormat
    from .validate import flag

    if saturate is not None:
        saturate = flag(saturate, "saturate")
    if isinstance(fmt, FixedFormat):
        if saturate is not None:
            raise ValueError(
                f"saturate= applies to float formats; {fmt.name} is fixed point: "
                f"use overflow= one of {', '.join(FIXED_OVERFLOW)}"
            )
        name = "sat" if overflow is None else overflow
        if not isinstance(name, str) or name not in FIXED_OVERFLOW:
            raise ValueError(f"unknown overflow policy {name!r}; valid: {', '.join(FIXED_OVERFLOW)}")
        return FIXED_OVERFLOW[name]
    if overflow is not None:
        raise ValueError(
            f"overflow= applies to fixed-point formats; {fmt.name} is floating point: "
            "use saturate=True/False"
        )
    return core.OVF_SAT if saturate else core.OVF_INF
