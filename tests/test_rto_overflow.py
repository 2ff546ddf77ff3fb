"""Round-to-odd overflows like round-toward-zero: +-max finite, never Inf or NaN (docs/semantics.md,
"Overflow"). The first build gave NaN for e4m3 (the odd neighbour of 448 is the NaN code 0x7f)
and Inf for e5m2, both in the core and in the table fast paths."""

from __future__ import annotations

import numpy as np
import pytest
import reference as ref

import emu

MAX = {"e4m3": 0x7E, "e5m2": 0x7B, "fp16": 0x7BFF, "e4m3fnuz": 0x7F, "e3m2": 0x1F}


@pytest.mark.parametrize("name", sorted(MAX))
@pytest.mark.parametrize("n", [1, 70_000])  # one element: the core; many: the fast paths
def test_rto_overflow_gives_max_finite(name, n):
    fmt = emu.format(name)
    big = [float(fmt.max) * k for k in (1.0, 1.0001, 1.03, 1.5, 2.0, 1e4)] + [np.inf]
    xs = np.array(big + [-v for v in big], np.float32)
    xs = np.resize(xs, max(n, xs.size))
    codes = emu.quantize(xs, fmt, rounding="rto").codes.astype(np.int64)
    sign = np.where(xs < 0, fmt.sign_bit, 0)
    finite = np.isfinite(xs)
    assert (codes[finite] == MAX[name] | sign[finite]).all()
    assert codes[:14].tolist() == ref.quantize(xs[:14], fmt, "rto")
