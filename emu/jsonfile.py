"""JSON as emu writes it, to files and to stdout: strict (no NaN or Infinity literals, which
strict parsers refuse), non-finite floats spelled "nan", "inf", "-inf" (README, Reliability)."""

from __future__ import annotations

import json
import math


def strict(obj):
    """``obj`` with every non-finite float replaced by "nan", "inf" or "-inf"."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {k: strict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [strict(v) for v in obj]
    return obj


def dumps(obj, indent: int = 2) -> str:
    """JSON that strict parsers accept."""
    return json.dumps(strict(obj), indent=indent, allow_nan=False)
