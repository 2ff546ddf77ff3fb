"""Human-readable views of codes: bit fields, decoded value, rounding error (used by the CLI)."""

from __future__ import annotations

import math
from fractions import Fraction

from .formats import FixedFormat, FloatFormat, Format


def fields(fmt: Format, code: int) -> str:
    """'s|eeee|mmm' bit fields of a float code; the two's-complement integer of a fixed code."""
    if isinstance(fmt, FloatFormat):
        b = f"{code:0{fmt.bits}b}"
        e = b[1:1 + fmt.exp_bits]
        m = b[1 + fmt.exp_bits:]
        return f"{b[0]}|{e}|{m}" if m else f"{b[0]}|{e}"
    return f"int {fmt.code_int(code)}"


def value_str(v) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return repr(float(v)) if float(v) == v else f"{float(v)!r} (exact {v})"


def describe(fmt: Format, x: float, code: int) -> dict:
    """One quantized value: input, code, fields, decoded value and exact rounding error."""
    v = fmt.code_value(code)
    w = (fmt.bits + 3) // 4
    err = None
    if isinstance(v, Fraction) and math.isfinite(x):
        err = float(v - Fraction(x))
    kind = ("nan" if isinstance(v, float) and math.isnan(v) else
            "inf" if isinstance(v, float) else "finite")
    if isinstance(fmt, FixedFormat):
        kind = "finite"
    return {
        "input": x,
        "code": f"0x{code:0{w}x}",
        "fields": fields(fmt, code),
        "value": float(v),
        "class": kind,
        "error": err,
    }
