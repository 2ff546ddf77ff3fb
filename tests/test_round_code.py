"""The rounding core's ``sticky`` input against the Fraction reference: a value wider than 64 bits,
given as its top bits ``sig`` plus a sticky bit (the rest is nonzero), rounds exactly like the
exact value in every mode, SR form and overflow policy, for float and fixed targets (the contract
of emu.kernels.core: sig keeps at least SR_MAX_BITS + 2 bits below the target's LSB)."""

from fractions import Fraction

import numpy as np
import pytest
import reference as ref

import emu
from emu.codes import SR_MAX_BITS
from emu.kernels.core import round_code, round_pack
from emu.rounding import FIXED_OVERFLOW, MODES

R = 8  # random bits
EOFF = 37  # the biased modes' offset E (eps = 37/256)
# where the sticky value lies strictly between sig and sig + 1 (units of 2**exp)
DELTAS = (Fraction(1, 2 ** 80), Fraction(1, 3), 1 - Fraction(1, 2 ** 80))


def _cases(fmt, rng, n):
    """(neg, sig, exp) with sig's LSB at least SR_MAX_BITS + 2 bits below the target's LSB:
    random values, values a hair above a tie (discarded part exactly one half), and values whose
    discarded part is exactly an SR threshold T / 2**r (the sticky decides T for a negative fixed
    value: its fraction is measured from the floor)."""
    guard = SR_MAX_BITS + 2
    for _ in range(n):
        neg = bool(rng.integers(0, 2))
        nbits = int(rng.integers(guard + 8, 63))
        sig = int(rng.integers(1 << (nbits - 1), 1 << nbits))
        if isinstance(fmt, emu.FloatFormat):
            # leading-bit exponent anywhere from below the subnormals to beyond max
            ev = int(rng.integers(fmt.emin - fmt.man_bits - 3, fmt.emax + 3))
            exp = ev - (nbits - 1)
            lsb = max(ev, fmt.emin) - fmt.man_bits
        else:
            lsb = -fmt.frac
            exp = lsb - int(rng.integers(guard, nbits + 2))
        shift = lsb - exp  # discarded bits of sig, >= guard
        if shift < 64:
            kept = sig >> shift << shift
            pick = int(rng.integers(0, 3))
            if pick == 1:  # exactly half, then the sticky: just above the tie
                sig = kept | (1 << (shift - 1))
            elif pick == 2:  # exactly an SR threshold T / 2**r
                sig = kept | (int(rng.integers(0, 1 << R)) << (shift - R))
        yield neg, sig, exp


def _reference(v, fmt, mode, ovf_name, rword, direction, compare):
    kw = {"saturate": ovf_name == "sat"} if isinstance(fmt, emu.FloatFormat) else {"overflow": ovf_name}
    if mode >= 10:
        kw.update(rbits=R, rword=rword, eoff=EOFF, direction=direction, compare=compare)
    return ref.round_value(v, fmt, next(k for k, c in MODES.items() if c == mode), **kw)


@pytest.mark.parametrize("name", ["e4m3", "e5m2fnuz", "e3m0", "bf16", "e2m1", "s8.4", "u8.2",
                                  "s16.-3"])
def test_sticky_rounds_like_the_exact_value(name):
    fmt = emu.format(name)
    fixed = isinstance(fmt, emu.FixedFormat)
    policies = ["wrap", "sat", "sat_sym"] if fixed else ["inf", "sat"]
    rng = np.random.default_rng(sum(map(ord, name)))
    for mode in MODES.values():
        for ovf_name in policies:
            ovf = FIXED_OVERFLOW[ovf_name] if fixed else int(ovf_name == "sat")
            for neg, sig, exp in _cases(fmt, rng, 12):
                rword = int(rng.integers(0, 1 << R))
                direction = int(rng.integers(-1, 2))
                compare = bool(rng.integers(0, 2))
                rnd = (mode, ovf, R, EOFF, int(compare))
                got = int(round_code(neg, np.uint64(sig), np.int64(exp), 1, fmt.descriptor, rnd,
                                     rword, direction))
                assert got == int(round_pack(neg, np.uint64(sig), np.int64(exp), 1,
                                             fmt.descriptor, mode, ovf, R, rword, EOFF, direction,
                                             compare))
                for delta in DELTAS:
                    v = (sig + delta) * Fraction(2) ** exp * (-1 if neg else 1)
                    want = _reference(v, fmt, mode, ovf_name, rword, direction, compare)
                    assert got == want, (name, mode, ovf_name, neg, hex(sig), exp, rword,
                                         direction, compare, float(delta))


@pytest.mark.parametrize("name", ["e4m3", "s8.4"])
def test_sticky_moves_the_sr_threshold_for_every_word(name):
    """A discarded part of exactly T / 2**r plus a sticky: every word R of sr (both forms),
    both signs. For fixed point and a negative value the sticky lowers 2**r - T by one."""
    fmt = emu.format(name)
    ovf = 1  # saturate (floats) / sat (fixed)
    lsb = -fmt.frac if isinstance(fmt, emu.FixedFormat) else -fmt.man_bits  # e4m3: 1.011 * 2**0
    sig, exp = 0b1011 << 40 | 0xB6 << 32, lsb - 40  # kept 0b1011, discarded T = 0xb6 exactly
    for neg in (False, True):
        for compare in (False, True):
            for rword in range(1 << R):
                got = int(round_code(neg, np.uint64(sig), np.int64(exp), 1, fmt.descriptor,
                                     (MODES["sr"], ovf, R, 0, int(compare)), rword, 0))
                v = (sig + Fraction(1, 2)) * Fraction(2) ** exp * (-1 if neg else 1)
                want = _reference(v, fmt, MODES["sr"], "sat", rword, 0, compare)
                assert got == want, (name, neg, compare, rword)
