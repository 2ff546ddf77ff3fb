"""The public calls take the paths of emu.paths and give the core's codes.

tests/test_paths.py checks each path against its core exhaustively; here each public entry point
(quantize from lists and arrays, convert, decode, add, matmul) is spied on to show which path it
took, and its codes are compared with the core's run on the same inputs and words.
"""

import numpy as np
import pytest
from test_paths import EMPTY_I8, EMPTY_U64, core, core_matmul

import emu
from emu import paths
from emu.codes import OVF_WRAP, SR
from emu.kernels import arith as karith
from emu.kernels.convert import F32, F64
from emu.registers import code_dtype

N = 5000  # above paths.MIN_TABLE_SIZE


@pytest.fixture
def chosen(monkeypatch):
    """The paths the choosers returned during the test."""
    seen = []
    for name in ("convert_path", "binary_path", "matmul_path"):
        real = getattr(paths, name)

        def spy(*args, _real=real, **kw):
            seen.append(_real(*args, **kw))
            return seen[-1]

        monkeypatch.setattr(paths, name, spy)
    return seen


def core_codes(codes, src, fmt, mode, ovf, rbits=1, words=EMPTY_U64):
    """test_paths.core, narrowed to the format's codes; every element representable."""
    out, bad = core(codes.reshape(-1), src, fmt.descriptor, mode, ovf, rbits, words)
    assert not bad.any()
    return out.astype(code_dtype(fmt.bits))


def values(seed=1):
    """Values around the e4m3 range with ties and tiny magnitudes mixed in."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(N) * 10.0 ** rng.integers(-12, 4, N)
    x[::5] = np.round(x[::5] * 16) / 16 + 1 / 32  # halfway between s8.4 neighbours
    return x


def test_sr_from_a_python_list_takes_sr_hi16_from_float64(chosen):
    """Lists of 4,096+ numbers (and CLI inputs) arrive as float64: the sr_hi16 path from float64,
    the same codes as the core with the words the call used."""
    x = values()
    r, words = emu.quantize(x.tolist(), "e4m3", rounding="sr", sr_bits=10, rng=emu.LFSR(seed=3),
                            return_words=True)
    assert paths.SR_HI16 in chosen
    want = core_codes(x.view(np.uint64), F64, r.format, SR, 0, 10, words.astype(np.uint64))
    assert np.array_equal(r.codes, want)


def test_sr_hi16_keeps_tiny_float64_values_at_zero(chosen):
    """Regression: with r = 11, sr_hi16 rounded a float64 value far below the target's smallest
    subnormal up when the word was 2**r - 1 (the clamped rounding position gave T = 1, not 0).
    r = 11 now takes the core; r = 10 takes sr_hi16; both round to zero."""
    x = [8.599861409603106e-237] * N
    for r in (10, 11):
        chosen.clear()
        rng = emu.ReplaySource(np.full(N, (1 << r) - 1, np.uint64))
        q = emu.quantize(x, "e4m3", rounding="sr", sr_bits=r, rng=rng)
        assert chosen == [paths.SR_HI16 if r == 10 else paths.CORE]
        assert not q.codes.any()


@pytest.mark.parametrize("dtype,desc", [(np.float32, F32), (np.float64, F64)])
@pytest.mark.parametrize("name,mode,path", [("e5m2", "rna", paths.LUT_HI16),
                                            ("s8.4", "rdn", paths.FPU_FIXED),
                                            ("s8.4", "rnu", paths.CORE)])
def test_quantize_arrays(chosen, dtype, desc, name, mode, path):
    x = values(2).astype(dtype)
    fmt = emu.format(name)
    r = emu.quantize(x, fmt, rounding=mode, saturate=True if fmt.name == "e5m2" else None)
    assert chosen == [path]
    want = core_codes(x.view(np.uint32 if dtype == np.float32 else np.uint64), desc, fmt,
                emu.Rounding(mode).mode_code, 1)
    assert np.array_equal(r.codes, want)


def test_convert_and_decode_take_lut_direct(chosen):
    a = emu.quantize(values(3), "e4m3", saturate=True)
    chosen.clear()
    b = emu.convert(a, "s8.4", rounding="rtz")
    f = a.to_float()
    assert chosen == [paths.LUT_DIRECT, paths.LUT_DIRECT]
    assert np.array_equal(b.codes, core_codes(a.codes, a.format.descriptor, b.format,
                                              emu.Rounding("rtz").mode_code, 1))
    want, _ = core(a.codes, a.format.descriptor, F64, 0, 0)
    assert np.array_equal(f.view(np.uint64), want)


def test_add_takes_the_pair_table(chosen):
    a = emu.quantize(values(4), "e4m3", saturate=True)
    b = emu.quantize(values(5), "e4m3", saturate=True)
    chosen.clear()
    s = emu.add(a, b, rounding="rup")
    assert chosen == [paths.PAIR_TABLE]
    want = np.empty(N, np.uint64)
    assert karith.binary_codes(karith.OP_ADD, a.codes.astype(np.uint64), a.format.descriptor,
                               b.codes.astype(np.uint64), b.format.descriptor, want,
                               a.format.descriptor, emu.Rounding("rup").mode_code, 0, 1, EMPTY_U64,
                               0, EMPTY_I8, False) < 0
    assert np.array_equal(s.codes, want.astype(np.uint8))


@pytest.mark.parametrize("fmt,acc,path", [("e4m3", "fp32", paths.MATMUL_F32),
                                          ("s8.4", "s16.8", paths.MATMUL_INT)])  # s16.8 wraps
def test_matmul_takes_its_native_path(chosen, fmt, acc, path):
    fmt, acc = emu.format(fmt), emu.format(acc)
    sat = {"saturate": True} if isinstance(fmt, emu.FloatFormat) else {}
    ovf = {} if isinstance(acc, emu.FloatFormat) else {"acc_overflow": "wrap"}
    a = emu.quantize(values(6)[:600].reshape(20, 30), fmt, **sat)
    b = emu.quantize(values(7)[:600].reshape(30, 20), fmt, **sat)
    chosen.clear()
    got = emu.matmul(a, b, acc=acc, **ovf)
    assert chosen[0] == path  # then the fp32 path's operand conversions
    want = core_matmul(a.codes, a.format, b.codes, b.format, acc, aovf=OVF_WRAP if ovf else 0)
    assert np.array_equal(got.codes, want.astype(got.codes.dtype))
