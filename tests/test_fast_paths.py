"""Fast paths (emu.kernels.fast) against the rounding core: same codes, bit for bit."""

import numpy as np
import pytest

import emu
from emu.kernels import convert as kc
from emu.kernels import fast
from emu.kernels.core import SR

EMPTY_I8 = np.empty(0, np.int8)
EMPTY_U8 = np.empty(0, np.uint8)


def probe_f32(n_random=300_000, seed=1):
    """Every top-16-bit pattern with low parts 0, 1, half, all-ones, and random patterns."""
    rng = np.random.default_rng(seed)
    hi = np.arange(1 << 16, dtype=np.uint32) << 16
    lows = np.array([0, 1, 0x8000, 0xFFFF, 0x1234], np.uint32)
    u = (hi[:, None] | lows[None, :]).reshape(-1)
    return np.concatenate([u, rng.integers(0, 2**32, n_random, dtype=np.uint64).astype(np.uint32)])


@pytest.mark.parametrize("name", ["e4m3", "e5m2", "e4m3fnuz", "e5m2fnuz", "e4m3ieee"])
@pytest.mark.parametrize("sat", [0, 1])
@pytest.mark.parametrize("r,compare", [(1, False), (8, False), (8, True), (13, True), (32, False)])
def test_sr_lookup_path_equals_core(name, sat, r, compare):
    fmt = emu.format(name)
    u = probe_f32()
    words = np.random.default_rng(r).integers(0, 2**r, u.size, dtype=np.uint64)
    out = np.empty(u.size, np.uint8)
    want = np.empty(u.size, np.uint8)
    assert fast.convert_sr(u, kc.F32, out, fmt.descriptor, sat, r, words, compare)
    kc.convert_codes(u, kc.F32, want, fmt.descriptor, SR, sat, r, words, 0, EMPTY_I8, compare, EMPTY_U8)
    assert np.array_equal(out, want)


@pytest.mark.parametrize("name", ["e4m3", "e5m2", "e2m1", "e3m2", "e4m3fnuz", "e3m0"])
@pytest.mark.parametrize("mode", range(10))
def test_hi16_tables_equal_core_f32(name, mode):
    fmt = emu.format(name)
    u = probe_f32(100_000)
    out = np.empty(u.size, np.uint8)
    want = np.empty(u.size, np.uint8)
    bad = np.zeros(u.size, np.uint8)
    kc.convert_codes(
        u, kc.F32, want, fmt.descriptor, mode, 0, 1, np.empty(0, np.uint64), 0, EMPTY_I8, False, bad
    )
    ok = fast.convert(u, kc.F32, out, fmt.descriptor, mode, 0)
    assert ok == (not bad.any())
    keep = bad == 0
    assert np.array_equal(out[keep], want[keep])


def test_hi16_exactness_condition():
    f32, f64 = kc.F32, kc.F64
    assert fast.hi16_exact(f32, emu.format("e4m3").descriptor)
    assert fast.hi16_exact(f64, emu.format("e5m2").descriptor)
    assert not fast.hi16_exact(f64, emu.format("e3m4").descriptor)  # M=4: half bit in low 48
    assert not fast.hi16_exact(f32, emu.format("bf16").descriptor)  # M=7: half bit in low 16
    assert not fast.hi16_exact(f32, emu.format("s8.4").descriptor)


def test_fpu_fixed_path_equals_core():
    rng = np.random.default_rng(2)
    x = np.concatenate(
        [rng.standard_normal(200_000) * 300, (rng.integers(-(2**20), 2**20, 100_000) + 0.5) / 256]
    )
    for name in ["s16.8", "u8.8", "s8.4", "s32.0", "u12.3"]:
        fmt = emu.format(name)
        for mode in (0, 5, 6, 7):  # rne rtz rdn rup
            for ovf in (0, 1, 2):
                out = np.empty(x.size, emu.registers.code_dtype(fmt.bits))
                want = np.empty_like(out)
                assert fast.convert(x.view(np.uint64), kc.F64, out, fmt.descriptor, mode, ovf, x)
                kc.convert_codes(
                    x.view(np.uint64),
                    kc.F64,
                    want,
                    fmt.descriptor,
                    mode,
                    ovf,
                    1,
                    np.empty(0, np.uint64),
                    0,
                    EMPTY_I8,
                    False,
                    EMPTY_U8,
                )
                assert np.array_equal(out, want), (name, mode, ovf)
