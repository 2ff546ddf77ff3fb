"""LFSR against the bit-serial reference, textbook PRBS generators, full periods, lanes, state."""

import math

import numpy as np
import pytest
import reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st

import emu
from emu.lfsr import MAXIMAL_POLYS


@settings(max_examples=150, deadline=None)
@given(
    width=st.integers(3, 64),
    shifts=st.integers(1, 96),
    config=st.sampled_from(["fibonacci", "galois"]),
    reverse=st.booleans(),
    invert=st.booleans(),
    seed=st.integers(1, 2**64 - 1),
    poly_kind=st.sampled_from(["table", "random"]),
    data=st.data(),
)
def test_lfsr_matches_bit_serial_reference(width, shifts, config, reverse, invert, seed, poly_kind, data):
    seed = seed % (1 << width) or 1
    poly = MAXIMAL_POLYS[width] if poly_kind == "table" else data.draw(st.integers(1, (1 << width) - 1))
    lf = emu.LFSR(width, poly, config, shifts, seed=seed, reverse=reverse, invert=invert)
    got = lf.draw(7)
    want, state = ref.lfsr_draws(width, poly, config, shifts, seed, 7, reverse, invert)
    assert [int(w) for w in got] == want
    assert lf.states == (state,)


def textbook_prbs(taps_hi, taps_lo, width, n, state):
    """ITU-T O.150 style: shift left, new bit = b[hi-1] XOR b[lo-1], output = new bit."""
    out = []
    for _ in range(n):
        nb = ((state >> (taps_hi - 1)) ^ (state >> (taps_lo - 1))) & 1
        state = ((state << 1) | nb) & ((1 << width) - 1)
        out.append(nb)
    return out


@pytest.mark.parametrize("width,poly,hi,lo", [(7, 0x41, 7, 6), (9, 0x021, 9, 5), (31, 0x10000001, 31, 28)])
def test_prbs_sequences(width, poly, hi, lo):
    seed = (1 << width) - 1  # all ones, the usual PRBS start
    bits = emu.LFSR(width, poly, "fibonacci", 1, seed=seed).draw(3000)
    assert bits.tolist() == textbook_prbs(hi, lo, width, 3000, seed)
    # the same stream, 8 bits per draw, MSB first
    words = emu.LFSR(width, poly, "fibonacci", 8, seed=seed).draw(100)
    stream = textbook_prbs(hi, lo, width, 800, seed)
    assert words.tolist() == [int("".join(map(str, stream[8 * i : 8 * i + 8])), 2) for i in range(100)]


@pytest.mark.parametrize("width", range(3, 21))
@pytest.mark.parametrize("config", ["fibonacci", "galois"])
def test_full_period(width, config):
    from emu.kernels.lfsr import draw_states

    period = (1 << width) - 1
    states = np.array([1], np.uint64)
    out = np.empty(period, np.uint64)
    draw_states(states, width, np.uint64(MAXIMAL_POLYS[width]), config == "galois", 1, period, out)
    assert out[-1] == 1 and np.count_nonzero(out == 1) == 1
    assert np.unique(out).size == period


def test_lanes_and_resume():
    lf = emu.LFSR(16, seeds=[1, 2, 3], shifts=8)
    words = lf.draw(30)
    for k, seed in enumerate([1, 2, 3]):
        alone = emu.LFSR(16, seed=seed, shifts=8).draw(10)
        assert words[k::3].tolist() == alone.tolist()
    # resume: element j of each call uses lane j mod L (docs/semantics.md §7.3), so calls whose lengths
    # are multiples of L continue the stream exactly; save/restore/copy resume it too
    a, b = emu.LFSR(32, seed=5, lanes=4, shifts=8), emu.LFSR(32, seed=5, lanes=4, shifts=8)
    assert np.array_equal(np.concatenate([a.draw(12), a.draw(8)]), b.draw(20))
    saved = a.states
    c = a.copy()
    first = a.draw(9)
    a.states = saved
    assert np.array_equal(a.draw(9), first) and np.array_equal(c.draw(9), first)


def test_lane_seed_derivation_documented():
    lf = emu.LFSR(32, seed=1, lanes=3)
    assert lf.states[0] == 1  # lane 0 is the seed itself
    from emu.lfsr import splitmix64

    assert lf.states[1] == splitmix64(1 + 0x9E3779B97F4A7C15) & 0xFFFFFFFF


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        ({"seed": 0}, "all-zero state"),
        ({"seeds": [1, 0]}, "lane 1"),
        ({"width": 8, "poly": 0x1FF}, "does not fit"),
        ({"lanes": 0}, "at least one lane"),
        ({"width": 1}, "2..64"),
        ({"config": "xor"}, "fibonacci, galois"),
        ({"shifts": 0}, "1..128"),
        ({"width": 8, "seed": 256}, "does not fit"),
    ],
)
def test_bad_configurations(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        emu.LFSR(**kwargs)


def test_amd_v_prng_b32():
    g = emu.AmdPrng(seed=0x12345678)
    s, want = 0x12345678, []
    for _ in range(50):
        s = ((s << 1) ^ (0xC5 if s >> 31 else 0)) & 0xFFFFFFFF
        want.append(s)
    assert g.draw(50).tolist() == want
    assert emu.AmdPrng(seed=0x12345678).random_words(3, 8).tolist() == [w >> 24 for w in want[:3]]
    assert math.gcd(1, 1) == 1


# --- every table polynomial is primitive (so every LFSR of the table has period 2^W - 1) -------
def _is_prime(n):
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):  # deterministic below 3.3e24
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def _factor(n, out):
    if n == 1:
        return
    if _is_prime(n):
        out.add(n)
        return
    for p in range(2, 1000):
        if n % p == 0:
            out.add(p)
            while n % p == 0:
                n //= p
            return _factor(n, out)
    c = 1
    while True:  # Pollard rho
        x = y = 2
        d = 1
        while d == 1:
            x = (x * x + c) % n
            y = (y * y + c) % n
            y = (y * y + c) % n
            d = math.gcd(abs(x - y), n)
        if d != n:
            _factor(d, out)
            _factor(n // d, out)
            return
        c += 1


def _polymulmod(a, b, p, w):
    r = 0
    while b:
        if b & 1:
            r ^= a
        b >>= 1
        a <<= 1
        if a >> w & 1:
            a ^= p
    return r


def _polypow_x(e, p, w):
    result, base = 1, 2  # the polynomials 1 and x
    while e:
        if e & 1:
            result = _polymulmod(result, base, p, w)
        base = _polymulmod(base, base, p, w)
        e >>= 1
    return result


@pytest.mark.parametrize("width", range(3, 65))
def test_table_polynomials_are_primitive(width):
    p = (1 << width) | MAXIMAL_POLYS[width]  # x^W implicit in the poly word
    order = (1 << width) - 1
    assert _polypow_x(order, p, width) == 1
    primes = set()
    _factor(order, primes)
    for q in primes:
        assert _polypow_x(order // q, p, width) != 1, f"x^W poly {p:#x} is not primitive (q={q})"
