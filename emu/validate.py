"""Checks for scalar arguments of the public API: one helper per kind, one message style.

Every integer parameter (widths, frac, bits, seeds, lanes, shifts, sr_bits, chunk, threads,
counts) goes through ``integer``: Python ints and numpy integer scalars are accepted (and
returned as Python ints, so descriptors and hashes never see numpy types); bools, floats (even
integral ones such as 8.0), strings and anything else raise TypeError naming the parameter.
Real parameters (eps) go through ``real``: ints, floats and numpy scalars of either kind.
Wrong types raise ``ArgumentTypeError``, a TypeError that is also a ValueError.
"""

from __future__ import annotations

import math
import sys
from fractions import Fraction


def _numpy_types() -> tuple[tuple, tuple, tuple]:
    """numpy's (bool, integer, floating) scalar types, or empty tuples while numpy is not
    imported (no numpy scalar can exist then): formats and the CLI's help load without it."""
    np = sys.modules.get("numpy")
    return ((np.bool_,), (np.integer,), (np.floating,)) if np is not None else ((), (), ())


class ArgumentTypeError(TypeError, ValueError):
    """A parameter of the wrong type (8.0 for a width, True for sr_bits). A TypeError, and also
    a ValueError so the callers that turn bad values into usage errors (the CLI, configuration
    readers) catch it as well instead of showing a traceback."""


def _range_text(lo: int | None, hi: int | None) -> str:
    if lo is not None and hi is not None:
        return f"{lo}..{hi}"
    if lo is not None:
        return f">= {lo}"
    return f"<= {hi}"


def integer(value, name: str, lo: int | None = None, hi: int | None = None, hint: str = "") -> int:
    """``value`` as a Python int in [lo, hi]: TypeError if it is not an integer (bool, float,
    str, ...), ValueError naming the valid range (and ``hint``) if it is outside."""
    nb, ni, _ = _numpy_types()
    if isinstance(value, (bool, *nb)) or not isinstance(value, (int, *ni)):
        raise ArgumentTypeError(f"{name} must be an integer, not {type(value).__name__} {value!r}")
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ValueError(f"{name}={v} out of range; valid: {_range_text(lo, hi)}"
                         + (f" ({hint})" if hint else ""))
    return v


def optional_integer(value, name: str, lo: int | None = None, hi: int | None = None) -> int | None:
    """``integer`` for parameters where None means "the default"."""
    return None if value is None else integer(value, name, lo, hi)


def real(value, name: str) -> float | Fraction:
    """A finite real number (int, float, Fraction, numpy scalar; not bool), unchanged in value:
    floats stay floats, ints and Fractions stay exact."""
    nb, ni, nf = _numpy_types()
    if isinstance(value, (bool, *nb)) or not isinstance(value, (int, float, Fraction, *ni, *nf)):
        raise ArgumentTypeError(f"{name} must be a real number, not {type(value).__name__} {value!r}")
    if isinstance(value, ni):
        return int(value)
    if isinstance(value, (float, *nf)):
        if not math.isfinite(value):
            raise ValueError(f"{name}={value!r} must be finite")
        return float(value)
    return value


def flag(value, name: str) -> bool:
    """A bool (or numpy bool): a flag given as 1, "yes" or None is refused, not guessed."""
    if not isinstance(value, (bool, *_numpy_types()[0])):
        raise ArgumentTypeError(f"{name} must be True or False, not {type(value).__name__} {value!r}")
    return bool(value)
