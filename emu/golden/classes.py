"""What a mismatch is, for every check report: its class (nan, inf/overflow, subnormal, tie,
normal), its distance in ulps, a code described (hex, fields, value), and the wording of the SR
diagnosis. A leaf below emu.golden.triage and emu.golden.mxcheck (docs/semantics.md §10.7)."""

from __future__ import annotations

import numpy as np

from ..formats import FloatFormat, ScaleFormat
from ..formats import format as parse_format
from ..ops import convert
from ..registers import Registers
from .hexio import format_word
from .sets import SATURATING_RNE

CLASSES = ("nan", "inf/overflow", "subnormal", "tie", "normal")


def _ulps(fmt, a: int, b: int) -> int | None:
    """Distance in units in the last place: codes in value order (floats; e8m0: the exponents'
    distance) or integer distance."""
    if isinstance(fmt, ScaleFormat):
        return None if fmt.is_nan_code(a) or fmt.is_nan_code(b) else abs(a - b)
    if isinstance(fmt, FloatFormat):
        if fmt.is_nan_code(a) or fmt.is_nan_code(b):
            return None

        def order(c):
            mag = c & (fmt.sign_bit - 1)
            return -mag if c & fmt.sign_bit else mag

        return abs(order(a) - order(b))
    return abs(fmt.code_int(a) - fmt.code_int(b))


def _classify(vs, expected: dict, idx: np.ndarray) -> np.ndarray:
    """Index into CLASSES of each mismatch, from the expected code of the first output port that
    has a format (nan, inf/overflow, subnormal by code; tie when the exact result was one)."""
    out = next((p for p in vs.outputs if vs.formats[p["name"]] is not None), None)
    classes = np.full(idx.size, CLASSES.index("normal"), np.int64)
    if out is None:
        return classes
    fmt = vs.formats[out["name"]]
    if isinstance(fmt, FloatFormat):  # classes by code: once per distinct expected code
        codes, inverse = np.unique(expected[out["name"]][idx], return_inverse=True)
        by_code = np.array([_code_class(fmt, int(c)) for c in codes.tolist()], np.int64)
        classes = by_code[inverse.reshape(-1)]
    ties = _ties(vs.spec, expected, idx)
    classes[(classes == CLASSES.index("normal")) & ties] = CLASSES.index("tie")
    return classes


def _code_class(fmt, code: int) -> int:
    if isinstance(fmt, FloatFormat):
        mag = code & (fmt.sign_bit - 1)
        if fmt.is_nan_code(code):
            return CLASSES.index("nan")
        if fmt.is_inf_code(code) or mag == fmt.max_code:
            return CLASSES.index("inf/overflow")
        if mag and (code >> fmt.man_bits) & ((1 << fmt.exp_bits) - 1) == 0:
            return CLASSES.index("subnormal")
    return CLASSES.index("normal")


def _ties(spec: dict, expected: dict, idx: np.ndarray) -> np.ndarray:
    """Was the exact result a tie? (convert: nearest-away and nearest-toward-zero differ)."""
    none = np.zeros(idx.size, bool)
    if spec["op"] != "convert" or not idx.size or "a" not in expected:
        return none
    try:
        src = parse_format(spec.get("src", "fp32"))
        dst = parse_format(spec["dst"])
        regs = Registers.from_codes(expected["a"][idx], src)
        a = convert(regs, dst, SATURATING_RNE.replace(mode="rna")).codes
        z = convert(regs, dst, SATURATING_RNE.replace(mode="rnz")).codes
    except ValueError:
        return none
    return np.asarray(a != z, bool)


def _hex(bits: int, code: int) -> str:
    return format_word(code, bits)  # reports show hex words, whatever the set's radix


def _describe(fmt, bits: int, code: int) -> dict:
    d = {"hex": _hex(bits, code)}
    if fmt is not None:
        from ..describe import fields

        d["fields"] = fields(fmt, code)
        d["value"] = float(fmt.code_value(code))
    return d


LOW_BITS_NOTE = "the outputs match the LOW r bits of each draw word (emu uses the high ones)"


def offset_note(k: int) -> str:
    """The diagnosis of outputs that match the random words offset by k draws."""
    return (f"the outputs match the random words offset by {k} draw(s): element i was rounded "
            f"with the word of draw i{k:+d} (the random source is {abs(k)} draw(s) "
            f"{'late' if k < 0 else 'early'})")
