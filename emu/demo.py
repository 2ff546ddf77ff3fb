"""Built-in demonstration data for ``emu demo``."""

from __future__ import annotations

import numpy as np

from . import ops
from .describe import value_str

TOUR_VALUES = [0.1, 1.0625, 2.5, -2.5, 3.3, 464.0, 464.5, -61440.0, 0.0009765625, 1e-4]
TOUR_MODES = ["rne", "rna", "rtz", "rdn", "rup", "rto"]


def conversion_tour() -> dict:
    """The same values through e4m3, e5m2 and s8.4 under several roundings (saturating)."""
    blocks = []
    for fmt, kw in (("e4m3", {"saturate": True}), ("e5m2", {"saturate": True}),
                    ("s8.4", {"overflow": "sat"})):
        rows = []
        x = np.array(TOUR_VALUES)
        per_mode = [ops.quantize(x, fmt, m, **kw) for m in TOUR_MODES]
        f = per_mode[0].format
        for i, xi in enumerate(TOUR_VALUES):
            rows.append({"input": xi,
                         "values": [value_str(f.code_value(int(r.codes[i]))) for r in per_mode]})
        blocks.append({"title": f"{fmt} ({', '.join(f'{k}={v}' for k, v in kw.items())})",
                       "modes": TOUR_MODES, "rows": rows})
    return {"blocks": blocks}
