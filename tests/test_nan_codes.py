"""``properties()["nan_codes"]`` lists every code that decodes to NaN (issue 16, item 6), as
inclusive ranges of hex codes: checked against decoding every code of each 8- and 16-bit named
format, and by construction for fp32 (docs/semantics.md §2.2-§2.3)."""

from __future__ import annotations

import numpy as np
import pytest

import emu
from emu.formats import NAMED_FORMATS


def _ranges(props: dict) -> list[tuple[int, int]]:
    """The inclusive ranges the "nan_codes" strings spell ("0x7d..0x7f", or one code "0x7f")."""
    out = []
    for text in props["nan_codes"]:
        lo, _, hi = text.partition("..")
        out.append((int(lo, 16), int(hi or lo, 16)))
    return out


SMALL = [n for n, f in NAMED_FORMATS.items() if f.bits <= 16] + ["e4m3ieee", "e5m2fn", "e3m0",
                                                                   "e3m0fnuz", "e3m0finite"]


@pytest.mark.parametrize("name", SMALL)
def test_nan_codes_are_exactly_the_codes_that_decode_to_nan(name):
    fmt = emu.format(name)
    codes = np.arange(1 << fmt.bits)
    decoded_nan = np.isnan(emu.Registers.from_codes(codes, fmt).to_float())
    listed = np.zeros(codes.size, bool)
    props = fmt.properties()
    for lo, hi in _ranges(props):
        assert lo <= hi and not listed[lo:hi + 1].any()  # disjoint ranges
        listed[lo:hi + 1] = True
    assert (listed == decoded_nan).all(), np.flatnonzero(listed != decoded_nan)[:8]
    assert props["nan_count"] == int(decoded_nan.sum())
    assert (fmt.nan_mask(codes) == decoded_nan).all()
    # the canonical NaNs emu writes are among them
    assert all(listed[int(c, 16)] for c in props["canonical_nan"])


def test_e5m2_lists_every_nan_code_and_keeps_the_canonical_ones_apart():
    props = emu.format("e5m2").properties()
    assert props["nan_codes"] == ["0x7d..0x7f", "0xfd..0xff"]
    assert props["nan_count"] == 6
    assert props["canonical_nan"] == ["0x7e", "0xfe"]
    e4m3 = emu.format("e4m3").properties()
    assert e4m3["nan_codes"] == ["0x7f", "0xff"] and e4m3["canonical_nan"] == ["0x7f", "0xff"]
    fnuz = emu.format("e4m3fnuz").properties()
    assert fnuz["nan_codes"] == ["0x80"] and fnuz["nan_count"] == 1
    assert emu.format("e2m1").properties()["nan_codes"] == []
    assert emu.format("e2m1").properties()["nan_count"] == 0


def test_fp32_nan_codes_by_construction():
    """fp32 has 2 * (2**23 - 1) NaN codes: exponent all ones, mantissa nonzero, either sign."""
    props = emu.format("fp32").properties()
    assert props["nan_codes"] == ["0x7f800001..0x7fffffff", "0xff800001..0xffffffff"]
    assert props["nan_count"] == 2 * (2**23 - 1)
    assert props["canonical_nan"] == ["0x7fc00000", "0xffc00000"]
    # the ends and their neighbours decode as the ranges say (Inf and the largest finite value
    # just outside)
    edges = [0x7F7FFFFF, 0x7F800000, 0x7F800001, 0x7FC00000, 0x7FFFFFFF, 0x80000000, 0xFF800000,
             0xFF800001, 0xFFFFFFFF]
    decoded = np.isnan(np.array(edges, np.uint32).view(np.float32))
    listed = emu.format("fp32").nan_mask(np.array(edges, np.uint64))
    assert (decoded == listed).all()
    assert [emu.format("fp32").is_nan_code(c) for c in edges] == decoded.tolist()


def test_nan_codes_strings_are_zero_padded_hex():
    assert emu.format("fp16").properties()["nan_codes"] == ["0x7c01..0x7fff", "0xfc01..0xffff"]
    assert emu.format("e2m1ieee").properties()["nan_codes"] == ["0x7", "0xf"]
