"""NumPy and ml_dtypes interop: which emu formats an ml_dtypes (or NumPy) dtype holds bit for bit,
and host arrays of ml_dtypes values turned into exact NumPy floats.

A format maps to a dtype only when the bit layout *and* the special codes are the same
(docs/semantics.md §2.2-2.3), so viewing the codes as that dtype is exact in both directions:
zero-copy, NaN payloads included. ml_dtypes is optional (a test extra): it is imported only when
one of its dtypes is asked for.
"""

from __future__ import annotations

import importlib

import numpy as np

from .formats import Format
from .formats import format as parse_format

# emu format -> dtype name (ml_dtypes, or NumPy's own): same bits, same specials. Not here:
# float8_e8m0fnu (no sign bit; every emu float has one) and ml_dtypes' integer types.
DTYPE_NAMES = {
    "e4m3": "float8_e4m3fn",
    "e5m2": "float8_e5m2",
    "e4m3fnuz": "float8_e4m3fnuz",
    "e5m2fnuz": "float8_e5m2fnuz",
    "e4m3fnuzb11": "float8_e4m3b11fnuz",
    "e3m4": "float8_e3m4",
    "e4m3ieee": "float8_e4m3",
    "e2m3": "float6_e2m3fn",
    "e3m2": "float6_e3m2fn",
    "e2m1": "float4_e2m1fn",
    "bf16": "bfloat16",
    "fp16": "float16",
    "fp32": "float32",
}
_NUMPY_NAMES = ("float16", "float32")


def _ml_dtypes():
    """The ml_dtypes module (imported lazily: it is not a runtime dependency of emu)."""
    try:
        return importlib.import_module("ml_dtypes")
    except ImportError:
        raise ImportError("this needs ml_dtypes: pip install ml_dtypes") from None


def _supported() -> str:
    return ", ".join(f"{f} <-> {d}" for f, d in DTYPE_NAMES.items())


def dtype_for(fmt: Format | str) -> np.dtype:
    """The dtype whose values are the codes of ``fmt`` bit for bit; ValueError for a format no
    such dtype holds (the message lists the supported pairs)."""
    fmt = parse_format(fmt)
    name = next((d for f, d in DTYPE_NAMES.items() if parse_format(f) == fmt), None)
    if name is None:
        raise ValueError(f"no ml_dtypes/NumPy dtype holds the codes of {fmt.name} bit for bit; "
                         f"supported: {_supported()}")
    if name in _NUMPY_NAMES:
        return np.dtype(name)
    ml = _ml_dtypes()
    if not hasattr(ml, name):
        raise ValueError(f"{fmt.name} needs ml_dtypes.{name}, which ml_dtypes "
                         f"{getattr(ml, '__version__', '?')} does not have; upgrade ml_dtypes")
    return np.dtype(getattr(ml, name))


def _is_ml_dtype(dtype: np.dtype) -> bool:
    return dtype.type.__module__.split(".")[0] == "ml_dtypes"


def format_for(dtype) -> Format:
    """The emu format whose codes are the values of ``dtype`` bit for bit; ValueError otherwise
    (the message lists the supported pairs)."""
    dtype = np.dtype(dtype)
    if not dtype.isnative:
        raise ValueError(f"dtype {dtype} is not in this machine's byte order; convert it first: "
                         "arr.astype(arr.dtype.newbyteorder('='))")
    for f, name in DTYPE_NAMES.items():
        if dtype.name == name and (name in _NUMPY_NAMES) != _is_ml_dtype(dtype):
            return parse_format(f)
    raise ValueError(f"dtype {dtype} is not the bit layout of an emu format; supported: "
                     f"{_supported()}")


def host_array(x):
    """``x`` with ml_dtypes floats (bfloat16, float8/6/4 arrays or scalars) turned into NumPy
    float32, or float64 where float32 cannot hold every value: exact, so quantizing the result
    rounds each value once. Anything else is returned unchanged (NumPy's float16 included)."""
    dtype = getattr(x, "dtype", None)
    if not isinstance(x, np.ndarray | np.generic) or not _is_ml_dtype(dtype):
        return x
    try:
        info = _ml_dtypes().finfo(dtype)
    except (ValueError, TypeError):
        return x  # ml_dtypes' integer types: quantize refuses them by name
    for host in (np.float32, np.float64):
        h = np.finfo(host)
        if (info.nmant <= h.nmant and info.maxexp <= h.maxexp
                and info.minexp - info.nmant >= h.minexp - h.nmant):
            return np.asarray(x).astype(host)
    raise TypeError(f"{dtype} values are not all exact in float64")  # no such ml_dtypes type yet
