"""Vendor conversion profiles (docs/semantics.md §3.5, issue 16 item 5): every NaN, Inf, overflow
and SR convention each profile sets, pinned by value and checked bit for bit against the slow
reference (tests/reference.py: ``profile_code`` and ``_vendor_words``) and against the vendors'
own algorithms as their sources state them (``cuda_fp8``, ``amd_fnuz_sr``, ``amd_ocp_sr``)."""

from __future__ import annotations

import numpy as np
import pytest
import reference as ref

import emu
from emu.profiles import PROFILES, Profile

F32_NANS = [0x7F800001, 0x7F800002, 0x7FBFFFFF, 0x7FC00000, 0x7FC00001, 0x7FFFFFFE, 0x7FFFFFFF,
            0x7FA55555, 0x7FD2AAAA]
F32_NANS += [c | 0x80000000 for c in F32_NANS]  # both signs, quiet and signalling, payload ends
F64_NANS = [0x7FF0000000000001, 0x7FF4000000000000, 0x7FF8000000000000, 0x7FFC000000000000,
            0x7FFFFFFFFFFFFFFF, 0x7FF7FFFFFFFFFFFF, 0x7FFBFFFFFFFFFFFF]
F64_NANS += [c | 1 << 63 for c in F64_NANS]


def f32(bits) -> np.ndarray:
    return np.array(bits, np.uint32).view(np.float32)


def f64(bits) -> np.ndarray:
    return np.array(bits, np.uint64).view(np.float64)


def codes(r) -> list[int]:
    return r.codes.tolist()


# --- the value, its lookup, the context -----------------------------------------------------------
def test_profiles_by_name_and_errors():
    assert list(PROFILES) == ["ocp", "nvidia", "amd", "riscv"]
    assert emu.Profile.named("NVIDIA") is PROFILES["nvidia"] and str(PROFILES["amd"]) == "amd"
    assert emu.Profile.named(PROFILES["riscv"]) is PROFILES["riscv"]
    with pytest.raises(ValueError, match="unknown profile 'intel'; valid: ocp, nvidia, amd, riscv"):
        emu.quantize([1.0], "e4m3", profile="intel")
    with pytest.raises(ValueError, match="valid: ocp, nvidia, amd, riscv"):
        emu.Profile.named(3)
    with pytest.raises(ValueError, match="Profile nan='quiet'; valid: sign, positive, cuda"):
        Profile("mine", nan="quiet")
    assert PROFILES["ocp"].is_ocp and not PROFILES["riscv"].is_ocp
    assert all(p.source for p in PROFILES.values())  # each cites where its rules come from
    mine = Profile("mine", nan="positive")  # a profile of one's own: any combination of rules
    assert codes(emu.quantize([float("-nan")], "e5m2", profile=mine)) == [0x7E]


def test_context_sets_the_profile_for_operators_and_conversions():
    a = emu.Registers.from_codes([0xFD, 0x3C], "e5m2")
    with emu.context(profile="riscv"):
        assert codes(a + a) == [0x7E, 0x40]
        assert codes(emu.quantize([float("-nan")], "fp32")) == [0x7FC00000]
        assert codes(emu.add(a, a, profile="ocp")) == [0xFE, 0x40]  # the call's own wins
    assert codes(a + a) == [0xFE, 0x40]
    with pytest.raises(ValueError, match="unknown profile"), emu.context(profile="arm"):
        pass


def test_ocp_is_no_profile_bit_for_bit():
    """The default changes nothing: every e4m3 x e5m2 add into e4m3 (all 65,536 pairs, both
    overflow policies), and conversions of every fp16 value."""
    a = emu.Registers.from_codes(np.repeat(np.arange(256), 256), "e4m3")
    b = emu.Registers.from_codes(np.tile(np.arange(256), 256), "e5m2")
    for sat in (False, True):
        assert emu.add(a, b, out="e4m3", saturate=sat, profile="ocp") == \
            emu.add(a, b, out="e4m3", saturate=sat)
    x = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    for fmt in ("e4m3", "e5m2", "e4m3fnuz"):
        assert emu.quantize(x, fmt, profile="ocp") == emu.quantize(x, fmt)


# --- nvidia: cuda_fp8.hpp -------------------------------------------------------------------------
@pytest.mark.parametrize("sat", [False, True])
def test_nvidia_float_path_nan_is_0x7f_sign_dropped(sat):
    """__nv_cvt_float_to_fp8 makes every float32 NaN 0x7fffffff first: 0x7f for e4m3 and e5m2."""
    x = f32(F32_NANS)
    for fmt in ("e4m3", "e5m2"):
        assert codes(emu.quantize(x, fmt, saturate=sat, profile="nvidia")) == [0x7F] * x.size
        # emu's own rule keeps the sign (and e5m2's canonical NaN is 0x7e)
        assert codes(emu.quantize(x, fmt, saturate=sat))[-1] == (0xFF if fmt == "e4m3" else 0xFE)
    # float16 (__nv_cvt_halfraw_to_fp8) and bfloat16 go through float: the same
    h = np.array([0x7C01, 0x7E00, 0xFE00, 0xFFFF], np.uint16).view(np.float16)
    assert codes(emu.quantize(h, "e5m2", saturate=sat, profile="nvidia")) == [0x7F] * 4
    ml_dtypes = pytest.importorskip("ml_dtypes")
    bf = np.array([0x7FC0, 0xFFC0, 0xFF81], np.uint16).view(ml_dtypes.bfloat16)
    assert codes(emu.quantize(bf, "e4m3", saturate=sat, profile="nvidia")) == [0x7F] * 3
    # registers convert through float too
    r = emu.Registers.from_codes([0x7D, 0xFE, 0xFF], "e5m2")
    assert codes(emu.convert(r, "e4m3", saturate=sat, profile="nvidia")) == [0x7F] * 3


@pytest.mark.parametrize("sat", [False, True])
def test_nvidia_double_path_keeps_sign_and_e5m2_payload_bit(sat):
    """__nv_cvt_double_to_fp8: e4m3 0x7f | sign; e5m2 0x7e | bit 50 | sign."""
    x = f64(F64_NANS)
    e4 = codes(emu.quantize(x, "e4m3", saturate=sat, profile="nvidia"))
    e5 = codes(emu.quantize(x, "e5m2", saturate=sat, profile="nvidia"))
    for bits, c4, c5 in zip(F64_NANS, e4, e5, strict=True):
        sign = (bits >> 63) << 7
        assert c4 == 0x7F | sign
        assert c5 == 0x7E | (bits >> 50) & 1 | sign
    assert e5[:3] == [0x7E, 0x7F, 0x7E]  # 0x7ff0..01, 0x7ff4.. (bit 50 set), 0x7ff8..
    # Python numbers and exact inputs are float64 values: the double path
    assert codes(emu.quantize([float("-nan"), "nan"], "e4m3", profile="nvidia")) == [0xFF, 0x7F]
    assert ref.quantize(x, "e5m2", saturate=sat, profile="nvidia") == e5


def test_nvidia_overflow_and_values_are_emus():
    """Overflow keeps its sign (NOSAT: 0x7f|s in e4m3, Inf in e5m2; SATFINITE: ±max), and
    Inf is an overflow, not a NaN."""
    x = np.array([500.0, -500.0, np.inf, -np.inf, 1e6, -61440.0], np.float32)
    assert codes(emu.quantize(x, "e4m3", profile="nvidia")) == [0x7F, 0xFF, 0x7F, 0xFF, 0x7F, 0xFF]
    assert codes(emu.quantize(x, "e4m3", saturate=True, profile="nvidia")) == \
        [0x7E, 0xFE, 0x7E, 0xFE, 0x7E, 0xFE]
    assert codes(emu.quantize(x, "e5m2", profile="nvidia")) == [0x60, 0xE0, 0x7C, 0xFC, 0x7C, 0xFC]
    # other targets keep emu's rules: NVIDIA's FP8 conversions are into e4m3 and e5m2 only
    nan = f32([0xFFC00000])
    assert codes(emu.quantize(nan, "fp16", profile="nvidia")) == [0xFE00]
    assert codes(emu.quantize(nan, "e4m3fnuz", profile="nvidia")) == [0x80]


@pytest.mark.parametrize("fmt,sat", [("e4m3", False), ("e5m2", True)])
def test_nvidia_agrees_with_the_cuda_model_on_every_fp16_value(fmt, sat):
    """Every float16 value (as float32, NaNs included) against the bit model of
    __nv_cvt_float_to_fp8 (tests/reference.py ``cuda_fp8_float``)."""
    x = np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32)
    f = emu.format(fmt)
    want = [ref.cuda_fp8_float(b, f, sat) for b in x.view(np.uint32).tolist()]
    assert codes(emu.quantize(x, fmt, saturate=sat, profile="nvidia")) == want


@pytest.mark.parametrize("fmt,sat", [("e4m3", True), ("e5m2", False)])
def test_nvidia_agrees_with_the_cuda_model_on_sampled_floats_and_doubles(fmt, sat):
    rng = np.random.default_rng(16)
    bits = rng.integers(0, 1 << 32, 20000, dtype=np.uint64).astype(np.uint32)
    bits[:len(F32_NANS)] = F32_NANS
    x = bits.view(np.float32)
    f = emu.format(fmt)
    want = [ref.cuda_fp8_float(b, f, sat) for b in bits.tolist()]
    assert codes(emu.quantize(x, fmt, saturate=sat, profile="nvidia")) == want
    # doubles: the float32 values widened, their midpoints' neighbours, and NaN payloads
    with np.errstate(invalid="ignore"):  # signalling NaNs widen quietly
        d = np.concatenate([x.astype(np.float64) * (1 + 2.0**-40), f64(F64_NANS)])
    want = [ref.cuda_fp8(v, f, sat) for v in d.tolist()]
    assert codes(emu.quantize(d, fmt, saturate=sat, profile="nvidia")) == want


# --- amd: MI300 FNUZ and gfx950 OCP conversions ---------------------------------------------------
@pytest.mark.parametrize("fmt", ["e4m3fnuz", "e5m2fnuz"])
def test_amd_inf_into_fnuz_is_nan_also_when_saturating(fmt):
    x = np.array([np.inf, -np.inf, np.nan, 1e30, -1e30, 1.0], np.float32)
    one = codes(emu.quantize([1.0], fmt))[0]
    mx = emu.format(fmt).max_code
    assert codes(emu.quantize(x, fmt, saturate=True, profile="amd")) == \
        [0x80, 0x80, 0x80, mx, mx | 0x80, one]
    assert codes(emu.quantize(x, fmt, saturate=True)) == [mx, mx | 0x80, 0x80, mx, mx | 0x80, one]
    assert codes(emu.quantize(x, fmt, profile="amd")) == [0x80] * 5 + [one]
    assert codes(emu.quantize(x.astype(np.float64), fmt, saturate=True, profile="amd"))[:2] == \
        [0x80, 0x80]
    inf = emu.Registers.from_codes([0x7C, 0xFC, 0x7B], "e5m2")
    assert codes(emu.convert(inf, fmt, saturate=True, profile="amd"))[:2] == [0x80, 0x80]
    assert ref.quantize(x, fmt, saturate=True, profile="amd") == \
        codes(emu.quantize(x, fmt, saturate=True, profile="amd"))


def _edge_floats(fmt: str, rng) -> np.ndarray:
    """float32 values on every grid point of fmt, the midpoints, their float32 neighbours, both
    signs, zeros, tiny and huge values, Inf, NaN, and random magnitudes."""
    v = emu.Registers.from_codes(np.arange(256), fmt).to_float()
    v = np.unique(v[np.isfinite(v)]).astype(np.float32)
    v = np.concatenate([v, ((v[:-1].astype(np.float64) + v[1:]) / 2).astype(np.float32)])
    v = np.concatenate([v, np.nextafter(v, np.float32(np.inf)), np.nextafter(v, np.float32(-1))])
    extra = np.array([0.0, -0.0, 1e-30, 1e-45, 3e38, 1e5, np.inf, np.nan], np.float32)
    wild = rng.standard_normal(1500) * np.exp2(rng.integers(-24, 20, 1500))
    return np.concatenate([v, -v, extra, -extra, wild.astype(np.float32)])


def _words(n: int, r: int, rng, trial: int) -> np.ndarray:
    """32-bit random operands: edge words (0, 1, 2**r - 1, 2**r, ... 2**32 - 1) or random."""
    if trial:
        return rng.integers(0, 1 << 32, n, dtype=np.uint64)
    edge = np.array([0, 1, (1 << r) - 1, 1 << r, (1 << r) + 1, 1 << (r - 1), 0x80000000,
                     0xFFFFFFFF, 0xFFFFFFFF ^ ((1 << r) - 1)], np.uint64)
    return edge[rng.integers(0, edge.size, n)]


def _sr_cases(fmt: str, seed: int):
    """(format, r, float32 inputs, their bits, 32-bit operands) for two sets of operands."""
    rng = np.random.default_rng(seed)
    f = emu.format(fmt)
    r = 23 - f.man_bits
    x = _edge_floats(fmt, rng)
    bits = x.view(np.uint32).tolist()
    for trial in range(2):
        yield f, r, x, bits, _words(x.size, r, rng, trial)


@pytest.mark.parametrize("fmt", ["e4m3fnuz", "e5m2fnuz"])
def test_amd_fnuz_sr_is_the_mi300_software_model_bit_for_bit(fmt):
    """R = the low 23 - M bits of the 32-bit operand, carry form: emu equals AMD's model
    (``amd_fnuz_sr``) wherever the model saturates (clip), and without clip everywhere except an
    overflow, where the model returns the all-ones exponent with a zero mantissa (±128 in
    e4m3fnuz, ±32768 in e5m2fnuz: finite codes) and emu the NaN 0x80 (not modelled)."""
    for f, r, x, bits, w in _sr_cases(fmt, 942):
        for sat in (True, False):
            got = codes(emu.quantize(x, fmt, "sr", sr_bits=r, rng=emu.ReplaySource(w),
                                     saturate=sat, profile="amd"))
            model = [ref.amd_fnuz_sr(b, int(k), f, clip=sat) for b, k in zip(bits, w.tolist(),
                                                                             strict=True)]
            assert got == ref.quantize(x, fmt, "sr", words=w.tolist(), sr_bits=r, saturate=sat,
                                       profile="amd")
            differ = [i for i in range(x.size) if got[i] != model[i]]
            if sat:
                assert not differ
            else:
                top = ((1 << f.exp_bits) - 1) << f.man_bits
                assert differ and all(model[i] & 0x7F == top and got[i] == 0x80 for i in differ)


@pytest.mark.parametrize("fmt,sat", [("e4m3", False), ("e5m2", True)])
def test_amd_ocp_sr_is_the_gfx950_host_model_bit_for_bit(fmt, sat):
    """R = the high 23 - M bits of the operand (emu's own alignment): emu equals AMD's host model
    (``amd_ocp_sr``) everywhere under the overflow policy the model follows for that format: it
    gives ±0x7b for e5m2 overflow and Inf (saturate=True), but 0x7f|s, a NaN, for e4m3 (emu's
    saturate=False; emu's saturate=True gives ±448 there)."""
    for f, r, x, bits, w in _sr_cases(fmt, 950):
        got = codes(emu.quantize(x, fmt, "sr", sr_bits=r, rng=emu.ReplaySource(w), saturate=sat,
                                 profile="amd"))
        assert got == [ref.amd_ocp_sr(b, int(k), f) for b, k in zip(bits, w.tolist(), strict=True)]
        assert got == ref.quantize(x, fmt, "sr", words=w.tolist(), sr_bits=r, saturate=sat,
                                   profile="amd")


def test_amd_sr_operand_alignment_pinned():
    """1.0625, halfway between 1 and 1.125 (T = 2**19 of r = 20), with operands that carry only
    through their low 20 bits (read by FNUZ) or only through their high 20 bits (read by OCP)."""
    x = np.array([1.0 + 2.0**-3 / 2], np.float32)  # e4m3: halfway between 1 and 1.125
    half = 1 << 19  # T = 2**19 of r = 20
    for fmt in ("e4m3fnuz", "e4m3"):
        lo = emu.quantize(x, fmt, "sr", sr_bits=20, rng=emu.ReplaySource([half]), profile="amd")
        hi = emu.quantize(x, fmt, "sr", sr_bits=20, rng=emu.ReplaySource([half << 12]),
                          profile="amd")
        up, down = codes(emu.quantize([1.125], fmt))[0], codes(emu.quantize([1.0], fmt))[0]
        # FNUZ reads the low 20 bits (half -> T + R = 2**20: up); OCP the high 20 (half << 12)
        assert codes(lo) == [up if fmt == "e4m3fnuz" else down]
        assert codes(hi) == [down if fmt == "e4m3fnuz" else up]


def test_amd_sr_words_are_the_32_bit_operands_and_replay():
    x = np.linspace(-3, 3, 101, dtype=np.float32)
    y, used = emu.quantize(x, "e5m2fnuz", "sr", sr_bits=21, rng=emu.AmdPrng(seed=3),
                           profile="amd", return_words=True)
    assert used.tolist() == emu.AmdPrng(seed=3).draw(101).tolist()  # the raw V_PRNG_B32 words
    assert emu.quantize(x, "e5m2fnuz", "sr", sr_bits=21, rng=emu.ReplaySource(used),
                        profile="amd") == y
    # OCP targets: the high bits, which is exactly emu's own reading of an AmdPrng's words
    assert emu.quantize(x, "e4m3", "sr", sr_bits=20, rng=emu.AmdPrng(seed=3), profile="amd") == \
        emu.quantize(x, "e4m3", "sr", sr_bits=20, rng=emu.AmdPrng(seed=3))
    # arithmetic into an FP8 format reads the operand the same way
    a = emu.quantize(x, "e5m2fnuz")
    s1 = emu.add(a, a, "e4m3fnuz", "sr", sr_bits=20, rng=emu.AmdPrng(seed=9), profile="amd")
    s2 = emu.add(a, a, "e4m3fnuz", "sr", sr_bits=20, profile="amd",
                 rng=emu.ReplaySource(emu.AmdPrng(seed=9).draw(101)))
    assert s1 == s2
    # targets outside the four FP8 formats keep emu's rule
    assert emu.quantize(x, "fp16", "sr", rng=emu.AmdPrng(seed=3), profile="amd") == \
        emu.quantize(x, "fp16", "sr", rng=emu.AmdPrng(seed=3))


def test_amd_sr_refuses_what_the_hardware_does_not_do():
    x, rng = [1.3], emu.AmdPrng(seed=1)
    with pytest.raises(ValueError, match=r"r = 20 random bits .* pass sr_bits=20"):
        emu.quantize(x, "e4m3fnuz", "sr", rng=rng, profile="amd")
    with pytest.raises(ValueError, match="mode sr, form carry"):
        emu.quantize(x, "e4m3fnuz", "sr", sr_bits=20, form="compare", rng=rng, profile="amd")
    with pytest.raises(ValueError, match="mode sr, form carry"):
        emu.quantize(x, "e5m2", "sr_eps", eps=0.1, sr_bits=21, rng=rng, profile="amd")


# --- riscv: the canonical NaN ---------------------------------------------------------------------
RISCV_NAN = {"e5m2": 0x7E, "e4m3ieee": 0x7C, "fp32": 0x7FC00000, "fp16": 0x7E00, "bf16": 0x7FC0,
             "e4m3": 0x7F, "e4m3fnuz": 0x80}


@pytest.mark.parametrize("fmt", RISCV_NAN)
def test_riscv_conversions_give_the_positive_canonical_nan(fmt):
    want = RISCV_NAN[fmt]
    assert codes(emu.quantize(f32(F32_NANS), fmt, profile="riscv")) == [want] * len(F32_NANS)
    assert codes(emu.quantize(f64(F64_NANS), fmt, profile="riscv")) == [want] * len(F64_NANS)
    r = emu.Registers.from_codes([0xFD, 0xFF, 0x7D], "e5m2")
    assert codes(emu.convert(r, fmt, profile="riscv")) == [want] * 3
    assert ref.quantize(f32(F32_NANS), fmt, profile="riscv") == [want] * len(F32_NANS)


def test_riscv_arithmetic_nan_operands_and_invalid_operations():
    e5 = emu.Registers.from_codes
    a = e5([0xFD, 0x3C, 0x7C, 0x00, 0xFF, 0x7C], "e5m2")  # -NaN, 1, Inf, 0, -NaN, Inf
    b = e5([0x3C, 0xFE, 0xFC, 0x7C, 0x3C, 0x7C], "e5m2")  # 1, -NaN, -Inf, Inf, 1, Inf
    assert codes(emu.add(a, b, profile="riscv")) == [0x7E, 0x7E, 0x7E, 0x7C, 0x7E, 0x7C]
    assert codes(emu.add(a, b)) == [0xFE, 0xFE, 0x7E, 0x7C, 0xFE, 0x7C]
    assert codes(emu.sub(a, b, profile="riscv"))[:3] == [0x7E, 0x7E, 0x7C]
    assert codes(emu.mul(a, b, profile="riscv")) == [0x7E, 0x7E, 0xFC, 0x7E, 0x7E, 0x7C]
    assert codes(emu.fma(a, b, b, profile="riscv")) == [0x7E, 0x7E, 0xFC, 0x7E, 0x7E, 0x7C]
    assert codes(emu.minimum(a, b, profile="riscv"))[:2] == [0x7E, 0x7E]
    assert codes(emu.maximum(a, b, out="fp32", profile="riscv"))[:2] == [0x7FC00000] * 2
    # into formats whose NaN is not e5m2's
    assert codes(emu.add(a, b, out="e4m3ieee", profile="riscv"))[:3] == [0x7C] * 3
    assert codes(emu.mul(a, b, out="fp32", profile="riscv")) == \
        [0x7FC00000, 0x7FC00000, 0xFF800000, 0x7FC00000, 0x7FC00000, 0x7F800000]
    # a sign injection is not an operation that makes a NaN (fsgnjn keeps the payload)
    assert codes(-a)[0] == 0x7D and codes(emu.neg(a, profile="riscv"))[0] == 0x7D
    assert codes(emu.abs_(a, out="fp32", profile="riscv"))[0] == 0x7FC00000


# --- every profile against the reference, over the special and boundary pairs -----------------------
PAIR_CODES = {"e4m3": [0x00, 0x80, 0x01, 0x38, 0xB8, 0x3C, 0x76, 0x77, 0x7E, 0xFE, 0x7F, 0xFF],
              "e5m2": [0x00, 0x80, 0x01, 0x3C, 0xBC, 0x7A, 0x7B, 0xFB, 0x7C, 0xFC, 0x7D, 0x7E,
                       0x7F, 0xFD, 0xFE, 0xFF]}


@pytest.mark.parametrize("profile", ["nvidia", "amd", "riscv"])
@pytest.mark.parametrize("fa,fb,out", [("e4m3", "e4m3", None), ("e5m2", "e5m2", None),
                                       ("e5m2", "e5m2", "e4m3"), ("e4m3", "e5m2", "e4m3fnuz"),
                                       ("e5m2", "e4m3", "e4m3ieee")])
def test_arithmetic_profiles_against_the_reference(profile, fa, fb, out):
    ca, cb = PAIR_CODES[fa], PAIR_CODES[fb]
    a = emu.Registers.from_codes(np.repeat(ca, len(cb)), fa)
    b = emu.Registers.from_codes(np.tile(cb, len(ca)), fb)
    if out is None and fa != fb:
        return
    for sat in (False, True):
        for op in ("add", "sub", "mul", "minimum", "maximum"):
            got = codes(getattr(emu, op)(a, b, out=out, saturate=sat, profile=profile))
            assert got == getattr(ref, op)(a, b, out=out, saturate=sat, profile=profile), op
        c = emu.Registers.from_codes(np.tile(cb[::-1], len(ca)), fb)
        if fa == fb:
            got = codes(emu.fma(a, b, c, out=out, saturate=sat, profile=profile))
            assert got == ref.fma(a, b, c, out=out, saturate=sat, profile=profile)


def test_nvidia_arithmetic_nan_result_is_0x7f_overflow_keeps_its_sign():
    """CUDA has no FP8 arithmetic: a result is converted by __nv_cvt_float_to_fp8, so a NaN
    result is 0x7f while an overflow to e4m3's NaN code keeps its sign."""
    a = emu.Registers.from_codes([0xFF, 0xFE, 0x7E, 0x38], "e4m3")  # -NaN, -448, 448, 1
    b = emu.Registers.from_codes([0x38, 0xFE, 0x7E, 0xFF], "e4m3")
    assert codes(emu.add(a, b, profile="nvidia")) == [0x7F, 0xFF, 0x7F, 0x7F]
    assert codes(emu.add(a, b)) == [0xFF, 0xFF, 0x7F, 0xFF]
    assert codes(emu.add(a, b, saturate=True, profile="nvidia")) == [0x7F, 0xFE, 0x7E, 0x7F]
    # stochastic rounding recomputes the NaN test with the same words
    w = emu.ReplaySource(np.full(4, 0xFF, np.uint64))
    assert codes(emu.add(a, b, rounding="sr", rng=w, profile="nvidia")) == [0x7F, 0xFF, 0x7F, 0x7F]


# --- the command line -------------------------------------------------------------------------
def test_emu_quantize_profile_option():
    import json

    from click.testing import CliRunner

    from cli.main import main

    def run(*args):
        r = CliRunner().invoke(main, ["quantize", *args])
        return r.exit_code, r.output

    rc, out = run("nan", "-nan", "-500", "-f", "e5m2", "--profile", "riscv", "--json")
    doc = json.loads(out)
    assert rc == 0 and doc["profile"] == "riscv"
    assert [v["code"] for v in doc["values"]] == ["0x7e", "0x7e", "0xe0"]
    # typed values are exact: CUDA's double path keeps the sign
    rc, out = run("-nan", "-f", "e4m3", "--profile", "NVIDIA")
    assert rc == 0 and "profile nvidia" in out.splitlines()[0] and "0xff" in out
    rc, out = run("-nan", "-f", "e4m3")
    assert rc == 0 and "profile" not in out.splitlines()[0]  # ocp, the default: not shown
    # AMD's SR: the 32-bit operand is the random word shown
    rc, out = run("1.0625", "-f", "e4m3fnuz", "-r", "sr", "--sr-bits", "20", "--profile", "amd",
                  "--seed", "5", "--json")
    word = int(json.loads(out)["values"][0]["random_word"], 16)
    assert rc == 0 and word == int(emu.LFSR(seed=5).random_words(1, 32)[0])
    rc, out = run("1.3", "-f", "e4m3fnuz", "-r", "sr", "--profile", "amd")
    assert rc == 2 and "sr_bits=20" in out
    rc, out = run("1", "-f", "e4m3", "--profile", "arm")
    assert rc == 2 and "'ocp', 'nvidia', 'amd', 'riscv'" in out
