"""mac_accumulator(a, b, g) holds every sum of up to 2**g products exactly (the first build's was
one bit short for signed x signed: (-128) * (-128) = 2**14 overflowed s15 on its own)."""

from __future__ import annotations

import itertools

import pytest
import reference as ref

import emu


def ends(f) -> tuple[int, int]:
    """The smallest and largest integer code value of a fixed-point format."""
    if f.signed:
        return -(1 << (f.width - 1)), (1 << (f.width - 1)) - 1
    return 0, (1 << f.width) - 1


@pytest.mark.parametrize("fa, fb", [("s8.4", "s8.4"), ("s4.0", "s6.2"), ("u8.4", "u8.4"),
                                    ("s5.1", "u3.0"), ("u7.3", "s4.4")])
@pytest.mark.parametrize("guard", [0, 1, 3])
def test_worst_case_sums_fit(fa, fb, guard):
    a, b = emu.format(fa), emu.format(fb)
    acc = emu.mac_accumulator(a, b, guard)
    assert acc == ref.mac_accumulator(a, b, guard)
    prods = [x * y for x, y in itertools.product(ends(a), ends(b))]
    lo, hi = (1 << guard) * min(prods), (1 << guard) * max(prods)
    amin, amax = ends(acc)
    assert amin <= lo and hi <= amax, (acc.name, lo, hi)
    assert acc.frac == a.frac + b.frac


def test_s8_products_summed_in_the_accumulator_are_exact():
    A = emu.Registers.from_codes([[0x80, 0x80]], "s8.0")   # -128, -128
    B = emu.Registers.from_codes([[0x80], [0x80]], "s8.0")
    acc = emu.mac_accumulator("s8.0", "s8.0", 1)
    got = emu.matmul(A, B, acc=acc, acc_overflow="wrap")
    assert got.to_float().tolist() == [[32768.0]]


@pytest.mark.parametrize("op", ["mul", "fma"])
def test_fixed_products_wider_than_64_bits_are_refused_not_wrong(op):
    """The first build returned a wrong product for s40 x s40 into s64.-20, without an error."""
    a = emu.Registers.from_codes([(1 << 39) - 1], "s40.0")
    args = (a, a) if op == "mul" else (a, a, emu.Registers.from_codes([0], "s40.0"))
    with pytest.raises(ValueError, match="wider than 64 bits"):
        getattr(emu, op)(*args, out="s64.-20")
    b = emu.Registers.from_codes([(1 << 31) - 1], "s32.0")  # 64 bits: still exact
    assert int(emu.mul(b, b, out="s64.0").to_exact()[0]) == ((1 << 31) - 1) ** 2
