"""Human-readable views of codes: bit fields, decoded value, exact rounding error (for the CLI).

Inputs are described as given: a number string keeps its text (``1.00000000000000000001``), an
integer stays an integer, and the error ``value - input`` is computed from the exact input and
then rounded once to float64 (never from a float64 copy of the input).
"""

from __future__ import annotations

import decimal
import math
import re
from fractions import Fraction

import numpy as np

from . import exact
from .formats import FixedFormat, FloatFormat, Format, ScaleFormat

# Exact decimal arithmetic: no rounding at any size (only the digits present cost anything).
_EXACT = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?\Z")
_FAR_DIGITS = 5000  # decimal exponents beyond which value - input is +-inf, or value itself
_CACHE_BITS = 16  # formats this narrow get their field/value strings from a per-code table


def fields(fmt: Format, code: int) -> str:
    """'s|eeee|mmm' bit fields of a float code; the two's-complement integer of a fixed code;
    the power of two of an e8m0 scale code ('2^e' or 'NaN')."""
    if isinstance(fmt, ScaleFormat):
        return "NaN" if fmt.is_nan_code(code) else f"2^{code - fmt.bias}"
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


def _decodes_exactly(fmt: Format) -> bool:
    """Is every code's value a float64 (so to_float is exact)?"""
    return isinstance(fmt, FloatFormat | ScaleFormat) or fmt.width <= 53


def _to_float(x) -> float:
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf


def _json_float(v: float) -> str:
    """A float as strict JSON: non-finite values as the strings "nan", "inf", "-inf" (the
    convention of every emu --json output)."""
    if math.isnan(v):
        return '"nan"'
    if math.isinf(v):
        return '"inf"' if v > 0 else '"-inf"'
    return repr(v)


def input_json(item) -> str:
    """The input as a JSON number, exactly: a decimal as typed (normalised where JSON needs it:
    ``+1.5`` -> ``1.5``), an integer as an integer, a float by its shortest repr; a hex float
    as its exact decimal; NaN and infinities as the strings "nan", "inf", "-inf"."""
    if isinstance(item, str | bytes):
        tok = (item.decode("ascii", "replace") if isinstance(item, bytes) else item).strip()
        if _JSON_NUMBER.match(tok):
            return tok
        v = exact.parse_number(tok)
        if isinstance(v, float):
            return _json_float(v)
        try:
            return str(decimal.Decimal(tok))  # a decimal JSON does not accept as written
        except decimal.InvalidOperation:  # hex float: a dyadic rational, a finite decimal
            k = v.denominator.bit_length() - 1
            if k > 1100 or abs(v.numerator).bit_length() > 4000:
                return _json_float(_to_float(v))
            return str(_EXACT.divide(decimal.Decimal(v.numerator), decimal.Decimal(2) ** k))
    if isinstance(item, bool | np.bool_):
        raise TypeError("booleans are not numbers here")
    if isinstance(item, int | np.integer):
        return str(int(item))
    if isinstance(item, float | np.floating):
        return _json_float(float(item))
    return _json_float(_to_float(item))


def _text(item) -> str:
    if isinstance(item, bytes):
        return item.decode("ascii", "replace").strip()
    if isinstance(item, str):
        return item.strip()
    if isinstance(item, int | np.integer):
        return str(int(item))
    return repr(float(item)) if isinstance(item, float | np.floating) else str(item)


def _exact_error(value, item) -> float | None:
    """value - item (exact value of the input), rounded once to float64; None if either is
    not finite."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(item, str | bytes):
        tok = (item.decode("ascii", "replace") if isinstance(item, bytes) else item).strip()
        try:
            d = decimal.Decimal(tok)
        except decimal.InvalidOperation:
            d = None  # a hex float: exact through Fractions below
        if d is not None:
            if not d.is_finite():
                return None
            if d.adjusted() > _FAR_DIGITS:  # |value| < 2**1024 is nothing beside it
                return -math.inf if d > 0 else math.inf
            vd = decimal.Decimal(value) if isinstance(value, float) else \
                _EXACT.divide(decimal.Decimal(value.numerator), decimal.Decimal(value.denominator))
            if d.adjusted() < -_FAR_DIGITS and vd:
                return float(vd)  # the input is far below half an ulp of the value
            return float(_EXACT.subtract(vd, d))
    x = exact.exact_value(item)
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return _to_float(Fraction(value) - Fraction(x))


def _code_entry(fmt: Format, c: int, w: int, exact_floats: bool) -> tuple:
    """(code hex, fields, value float, value text, class, exact value) of one code."""
    v = fmt.code_value(c)
    kind = ("finite" if isinstance(fmt, FixedFormat) or not isinstance(v, float) else
            "nan" if math.isnan(v) else "inf")
    return (f"0x{c:0{w}x}", fields(fmt, c), float(v), value_str(v), kind,
            float(v) if exact_floats or isinstance(v, float) else v)


def _token_errors(values: list, tokens: list) -> list:
    """value - token for decimal tokens, exactly, rounded once to float64 (the common case of
    ``_exact_error``, written out for speed: a few microseconds per value)."""
    out = []
    dec, sub, fl = decimal.Decimal, _EXACT.subtract, float
    cache: dict = {}
    for v, tok in zip(values, tokens, strict=True):
        if not (isinstance(v, float) and math.isfinite(v)) or type(tok) is not str:
            out.append(_exact_error(v, tok))
            continue
        try:
            d = dec(tok)
        except decimal.InvalidOperation:
            out.append(_exact_error(v, tok))
            continue
        if not d.is_finite() or not -_FAR_DIGITS <= d.adjusted() <= _FAR_DIGITS:
            out.append(_exact_error(v, tok))
            continue
        vd = cache.get(v)
        if vd is None:
            vd = cache[v] = dec(v)
        out.append(fl(sub(vd, d)))
    return out


def describe_values(fmt: Format, inputs, codes: np.ndarray, json: bool = False) -> dict[str, list]:
    """Columns describing each input: ``input`` (text as given), ``code`` (hex), ``fields``,
    ``value`` (float64), ``value_text``, ``class`` (finite, inf, nan), ``error`` (value - input,
    exact then rounded to float64; None for inf/nan), and with ``json`` also ``input_json``
    (the input as an exact JSON number)."""
    items = inputs.reshape(-1) if isinstance(inputs, np.ndarray) else \
        np.asarray(inputs, dtype=object).reshape(-1)
    codes = np.asarray(codes).reshape(-1)
    w = (fmt.bits + 3) // 4
    exact_floats = _decodes_exactly(fmt)
    if fmt.bits <= _CACHE_BITS:
        table: dict = {}
        entries = []
        for c in codes.tolist():
            e = table.get(c)
            if e is None:
                e = table[c] = _code_entry(fmt, c, w, exact_floats)
            entries.append(e)
    else:
        entries = [_code_entry(fmt, c, w, exact_floats) for c in codes.tolist()]
    item_list = items.tolist()
    exact_values = [e[5] for e in entries]
    if exact_floats and items.dtype.kind in "fiu":
        vals = np.array([e[2] for e in entries])
        x = items.astype(np.float64)
        ok = np.isfinite(vals) & np.isfinite(x)
        if items.dtype.kind in "iu":  # exact in float64 only up to 2**53
            ok &= np.abs(x) <= 2.0 ** 53
        with np.errstate(over="ignore", invalid="ignore"):
            e = vals - x  # both exact: IEEE subtraction rounds the exact difference once
        ok &= np.isfinite(e)
        errors = [float(v) if k else None for v, k in zip(e.tolist(), ok.tolist(), strict=True)]
        for i in np.flatnonzero(~ok & np.isfinite(vals)).tolist():
            errors[i] = _exact_error(exact_values[i], item_list[i])
        texts = [_text(v) for v in item_list]
    else:
        errors = _token_errors(exact_values, item_list)
        texts = [t.strip() if type(t) is str else _text(t) for t in item_list]
    cols = {"input": texts, "code": [e[0] for e in entries], "fields": [e[1] for e in entries],
            "value": [e[2] for e in entries], "value_text": [e[3] for e in entries],
            "class": [e[4] for e in entries], "error": errors}
    if json:
        cols["input_json"] = [input_json(v) for v in item_list]
    return cols
