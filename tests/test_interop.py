"""NumPy interop of Registers (docs/semantics.md §1): np.asarray decodes, ml_dtypes views share the
codes bit for bit, DLPack exports the codes, ``@`` is emu.matmul and ``.T`` a transpose; and
emu.interop.host_array turns ml_dtypes arrays into exact NumPy floats for quantize."""

from __future__ import annotations

import math

import numpy as np
import pytest
import reference as ref

import emu
from emu.interop import DTYPE_NAMES, dtype_for, format_for, host_array

ml_dtypes = pytest.importorskip("ml_dtypes")
# casting a signalling NaN between float types quiets it; NaN-ness and sign are what is compared
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")

# every pairing, written out here from the ml_dtypes documentation (not read from emu.interop)
ALL_PAIRS = [("e4m3", "float8_e4m3fn"), ("e5m2", "float8_e5m2"), ("e4m3fnuz", "float8_e4m3fnuz"),
         ("e5m2fnuz", "float8_e5m2fnuz"), ("e4m3fnuzb11", "float8_e4m3b11fnuz"),
         ("e3m4", "float8_e3m4"), ("e4m3ieee", "float8_e4m3"), ("e2m3", "float6_e2m3fn"),
         ("e3m2", "float6_e3m2fn"), ("e2m1", "float4_e2m1fn"), ("bf16", "bfloat16"),
         ("fp16", "float16"), ("fp32", "float32")]
PAIRS = [(f, d) for f, d in ALL_PAIRS if d in ("float16", "float32") or hasattr(ml_dtypes, d)]


def _dtype(name: str) -> np.dtype:
    return np.dtype(getattr(np, name) if name in ("float16", "float32") else getattr(ml_dtypes, name))


def _codes(fmt) -> np.ndarray:
    """Every code (up to 16 bits); for fp32 every code of the top 16 bits with low bits 0, 1,
    0x400000 (the quiet bit) and 0xffff, so every NaN kind and payload class is there."""
    if fmt.bits <= 16:
        return np.arange(1 << fmt.bits, dtype=np.uint64)
    hi = np.arange(1 << 16, dtype=np.uint64) << np.uint64(16)
    return np.concatenate([hi | np.uint64(low) for low in (0, 1, 0x4000, 0xFFFF)])


def _same_floats(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal values, NaN where NaN, and the same sign bit everywhere (-0 and NaN signs too)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    nan = np.isnan(a)
    return bool(np.array_equal(nan, np.isnan(b)) and np.array_equal(a[~nan], b[~nan])
                and np.array_equal(np.signbit(a), np.signbit(b)))


def test_the_pairs_are_the_ones_emu_interop_maps():
    assert DTYPE_NAMES == dict(ALL_PAIRS)


@pytest.mark.parametrize("name, dtype_name", PAIRS)
def test_every_code_round_trips_zero_copy_bit_for_bit(name, dtype_name):
    fmt = emu.format(name)
    r = emu.Registers.from_codes(_codes(fmt), fmt)
    m = r.to_ml_dtypes()
    assert m.dtype == _dtype(dtype_name) and m.shape == r.shape
    assert np.shares_memory(m, r.codes) and not m.flags.writeable
    assert np.array_equal(m.view(r.codes.dtype), r.codes)  # NaN payloads included
    back = emu.Registers.from_ml_dtypes(m)
    assert back == r and back.format == fmt
    owned = emu.Registers.from_ml_dtypes(m, copy=True)
    assert owned == r and not np.shares_memory(owned.codes, m)
    if fmt.bits % 8 == 0:  # every bit pattern of the items is a code: shared
        assert np.shares_memory(back.codes, m) and not back.codes.flags.writeable
        assert emu.Registers.from_ml_dtypes(m, copy=False) == r
    else:  # 4- and 6-bit codes in bytes: a checked copy
        assert not np.shares_memory(back.codes, m)
        with pytest.raises(ValueError, match="copy=False"):
            emu.Registers.from_ml_dtypes(m, copy=False)


@pytest.mark.slow  # numerics (fp32: every value class, ~10 s cold): CI runs it once, in the main run
@pytest.mark.parametrize("name, dtype_name", PAIRS)
def test_values_agree_with_ml_dtypes_and_the_reference(name, dtype_name):
    """Same layout *and* specials: ml_dtypes' own float conversion of every code equals the
    Fraction reference's value (so the pairing is right), and np.asarray(registers) equals both."""
    fmt = emu.format(name)
    codes = _codes(fmt)
    r = emu.Registers.from_codes(codes, fmt)
    theirs = r.to_ml_dtypes().astype(np.float64)
    want = [ref.decode(fmt, int(c)) for c in codes.tolist()]
    for c, w, t in zip(codes.tolist(), want, theirs.tolist(), strict=True):
        assert (math.isnan(t) if isinstance(w, float) and math.isnan(w) else t == w), hex(c)
    ours = np.asarray(r)
    assert ours.dtype == np.float64 and ours.shape == r.shape
    assert _same_floats(ours, theirs) and _same_floats(ours, r.to_float())


def test_asarray_dtype_copy_and_object_arrays():
    r = emu.quantize([[1.5, -0.0], [448.0, np.nan]], "e4m3")
    v = np.asarray(r)
    assert v.dtype == np.float64 and v.shape == (2, 2) and v.flags.writeable
    assert _same_floats(v, [[1.5, -0.0], [448.0, np.nan]])
    assert np.asarray(r, dtype=np.float32).dtype == np.float32
    assert np.array(r, copy=True).tolist()[0] == [1.5, 0.0]
    with pytest.raises(ValueError, match="copy cannot be avoided"):
        np.asarray(r, copy=False)
    with pytest.raises(TypeError, match="to_exact"):
        np.array(r, dtype=object)
    assert r.codes.dtype == np.uint8 and r.codes.tolist() == [[0x3C, 0x80], [0x7E, 0x7F]]


def test_numpy_operands_are_refused_not_computed_in_float64():
    r = emu.quantize([1.5, 2.0], "e4m3")
    for op in (lambda: np.ones(2) + r, lambda: r + np.ones(2), lambda: np.float64(2) * r,
               lambda: 1.0 - r, lambda: np.ones((2, 2)) @ r, lambda: np.add(r, r)):
        with pytest.raises(TypeError):
            op()


def test_unsupported_formats_and_dtypes_list_the_supported_ones():
    for name in ("s8.4", "e5m2b10", "e3m0", "e4m3fnuzb10"):
        with pytest.raises(ValueError, match="supported: e4m3 <-> float8_e4m3fn"):
            emu.Registers.from_codes([0], name).to_ml_dtypes()
    for dt in (np.float64, np.int8, np.uint8, ml_dtypes.float8_e8m0fnu, ml_dtypes.int4):
        with pytest.raises(ValueError, match="supported: .*bf16 <-> bfloat16"):
            emu.Registers.from_ml_dtypes(np.zeros(2, dt))
    with pytest.raises(ValueError, match="byte order"):
        emu.Registers.from_ml_dtypes(np.zeros(2, ">f2"))
    with pytest.raises(TypeError, match="numpy array"):
        emu.Registers.from_ml_dtypes([1.0, 2.0])
    assert dtype_for(emu.FloatFormat(4, 3, family="fn")) == np.dtype(ml_dtypes.float8_e4m3fn)
    assert format_for(np.float16) == emu.format("fp16")


def test_narrow_types_refuse_bytes_that_are_not_codes():
    """ml_dtypes stores float4/float6 in a byte; a byte with the upper bits set is no code."""
    arr = np.array([0x07, 0x80], np.uint8).view(ml_dtypes.float4_e2m1fn)
    with pytest.raises(ValueError, match="code 0x80 at index 1 does not fit the 4-bit format e2m1"):
        emu.Registers.from_ml_dtypes(arr)


def test_from_ml_dtypes_strided_and_zero_d():
    x = np.arange(-8, 8, dtype=np.float32).reshape(4, 4).astype(ml_dtypes.bfloat16)
    r = emu.Registers.from_ml_dtypes(x[:, ::2].T)
    assert r.shape == (2, 4) and np.shares_memory(r.codes, x)
    assert np.array_equal(np.asarray(r), x[:, ::2].T.astype(np.float64))
    s = emu.Registers.from_ml_dtypes(np.asarray(ml_dtypes.float8_e4m3fn(1.5)))
    assert s.shape == () and s.codes.tolist() == 0x3C
    y = np.arange(-8, 8, dtype=np.float32).reshape(4, 4).astype(ml_dtypes.float8_e4m3fn)
    y.flags.writeable = False
    e = emu.Registers.from_ml_dtypes(y[:, ::2])  # read-only and strided, computed on in place
    assert np.shares_memory(e.codes, y)
    assert np.array_equal(np.asarray(e + e), 2 * y[:, ::2].astype(np.float64))  # all exact


def test_from_ml_dtypes_shares_as_asarray_does():
    w = np.zeros(3, ml_dtypes.bfloat16)
    r = emu.Registers.from_ml_dtypes(w)
    w[0] = 1.5  # the registers view w's memory: the write shows through, as documented
    assert np.asarray(r).tolist() == [1.5, 0.0, 0.0]
    owned = emu.Registers.from_ml_dtypes(w, copy=True)
    w[1] = 2.0
    assert np.asarray(owned).tolist() == [1.5, 0.0, 0.0]


def test_dlpack_exports_the_codes_read_only():
    r = emu.quantize(np.arange(6.0).reshape(2, 3), "e5m2")
    d = np.from_dlpack(r)
    assert d.dtype == np.uint8 and np.array_equal(d, r.codes) and np.shares_memory(d, r.codes)
    assert not d.flags.writeable
    assert r.__dlpack_device__() == (1, 0)  # kDLCPU


@pytest.mark.parametrize("fa, fb", [("e4m3", "e4m3"), ("s8.4", "s8.3"), ("bf16", "e5m2")])
def test_matmul_operator_is_emu_matmul_with_defaults(fa, fb):
    rng = np.random.default_rng(3)
    a = emu.quantize(rng.standard_normal((3, 5)), fa)
    b = emu.quantize(rng.standard_normal((5, 2)), fb)
    assert a @ b == emu.matmul(a, b)
    assert (a @ b).shape == (3, 2)


def test_transpose():
    a = emu.quantize(np.arange(6.0).reshape(2, 3) / 4, "e4m3")
    assert a.T.shape == (3, 2) and a.T.format == a.format and a.ndim == 2
    assert np.array_equal(a.T.codes, a.codes.T) and a.T.T == a
    assert a @ a.T == emu.matmul(a, emu.Registers.from_codes(a.codes.T.copy(), a.format))


# --- host_array: ml_dtypes inputs for quantize -------------------------------------------------
ML_FLOATS = [n for n in ("bfloat16", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz",
                         "float8_e5m2fnuz", "float8_e4m3b11fnuz", "float8_e3m4", "float8_e4m3",
                         "float8_e8m0fnu", "float6_e2m3fn", "float6_e3m2fn", "float4_e2m1fn")
             if hasattr(ml_dtypes, n)]


@pytest.mark.parametrize("name", ML_FLOATS)
def test_host_array_is_exact_for_every_value(name):
    dt = _dtype(name)
    bits = 16 if dt.itemsize == 2 else {"float6": 6, "float4": 4}.get(name[:6], 8)
    x = np.arange(1 << bits, dtype=np.uint16 if bits == 16 else np.uint8).view(dt)
    h = host_array(x)
    assert h.dtype == np.float32 and h.shape == x.shape
    assert _same_floats(h, x.astype(np.float64))  # ml_dtypes' own conversion, exactly
    fmt = next((f for f, d in PAIRS if d == name), None)
    if fmt:  # and emu's decode of the same codes
        assert _same_floats(h, emu.Registers.from_ml_dtypes(x).to_float())


def test_host_array_scalars_and_everything_else_unchanged():
    s = host_array(ml_dtypes.bfloat16(1.5))
    assert s.dtype == np.float32 and s.shape == () and float(s) == 1.5
    for x in (np.ones(3), np.ones(3, np.float16), np.arange(3), [1.0, 2.0], 1.5, "1.5",
              np.zeros(2, ml_dtypes.int4), np.float32(2)):
        assert host_array(x) is x


@pytest.mark.parametrize("name", ["bfloat16", "float8_e5m2", "float8_e4m3fn", "float4_e2m1fn"])
def test_quantize_takes_ml_dtypes_arrays(name):
    x = np.array([1.3, -2.7, 100.0, 0.01, -np.inf, np.nan], np.float32).astype(_dtype(name))
    for fmt in ("e4m3", "e5m2", "s8.4"):
        kw = {"overflow": "sat"} if fmt == "s8.4" else {"saturate": True}
        y = x if fmt != "s8.4" else x[:4]  # fixed point has no code for inf or NaN
        assert emu.quantize(y, fmt, "rne", **kw) == emu.quantize(y.astype(np.float32), fmt, **kw)
