"""The fused MX quantization (emu.kernels.blockquant, emu.blocks._quantize_fused) against the
general path (emu.blocks._quantize_general: numpy passes and one emu.quantize), bit for bit:
codes, scale codes, layout, random words and errors."""

import numpy as np
import pytest

import emu
from emu import blocks
from emu.lfsr import LFSR

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the general path casts sNaNs

MX = ("mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4", "mxint8")
FLOAT_MX = MX[:-1]
DETERMINISTIC = ("rne", "rna", "rnz", "rnu", "rnd", "rtz", "rdn", "rup", "raz", "rto")
RULES = ("floor", "ceil", "rceil")


def _patterns(finite_only: bool, seed: int) -> np.ndarray:
    """Every float32 top-16-bit pattern once (low bits random: the sticky bit varies)."""
    rng = np.random.default_rng(seed)
    top = np.arange(1 << 16, dtype=np.uint32)
    if finite_only:
        top = top[((top >> 7) & 0xFF) != 0xFF]
    bits = (top << 16) | rng.integers(0, 1 << 16, top.size, dtype=np.uint32) * (seed % 2)
    return bits.view(np.float32)


def _arrangements() -> dict[str, np.ndarray]:
    """The patterns in blocks of varying amax: sorted by magnitude (blocks of neighbours:
    elements near the block max, subnormal blocks), shuffled (elements far below the max),
    and shuffled with NaN and Inf (about one block in eight holds one)."""
    finite = _patterns(True, 1)
    rng = np.random.default_rng(2)
    sorted_ = finite[np.argsort(np.abs(finite), kind="stable")]
    return {"sorted": sorted_, "shuffled": rng.permutation(finite),
            "specials": rng.permutation(_patterns(False, 0))}


ARR = _arrangements()


def _same(fast, general, words=None):
    if words is not None:
        (fast, wf), (general, wg) = fast, general
        assert np.array_equal(wf, wg) and wf.dtype == wg.dtype
    assert type(fast) is type(general) and fast.format == general.format
    assert fast.axis == general.axis and fast.tensor_scale == general.tensor_scale
    assert fast.codes.dtype == general.codes.dtype and fast.scales.dtype == general.scales.dtype
    assert fast.codes.shape == general.codes.shape and fast.scales.shape == general.scales.shape
    bad = np.flatnonzero(fast.codes.reshape(-1) != general.codes.reshape(-1))
    assert bad.size == 0, f"{bad.size} element codes differ, first at {bad[:5]}"
    bad = np.flatnonzero(fast.scales.reshape(-1) != general.scales.reshape(-1))
    assert bad.size == 0, f"{bad.size} scale codes differ, first at {bad[:5]}"


def _check(x, fmt, rounding="rne", **kw):
    seed = kw.pop("seed", None)
    if seed is not None:
        kw["rng"] = LFSR(seed=seed, lanes=kw.pop("lanes", 1))
    fast = blocks.quantize(x, fmt, rounding, **kw)
    if seed is not None:
        kw["rng"] = LFSR(seed=seed, lanes=kw["rng"].lanes)
    general = blocks._quantize_general(x, fmt, rounding, **kw)
    _same(fast, general, kw.get("return_words"))
    return fast


@pytest.mark.parametrize("fmt", MX)
@pytest.mark.parametrize("rule", RULES)
def test_every_top16_pattern_rne_every_rule(fmt, rule):
    for name, x in ARR.items():
        _check(x, fmt, scale_rule=rule)
        if name != "specials":
            _check(x.reshape(64, -1), fmt, scale_rule=rule, axis=0)  # blocks down the columns


@pytest.mark.parametrize("fmt", FLOAT_MX)
def test_every_deterministic_mode_with_and_without_saturation(fmt):
    x = np.concatenate([ARR["sorted"], ARR["specials"]])
    for mode in DETERMINISTIC:
        for sat in (True, False):
            try:
                _check(x, fmt, mode, saturate=sat)
            except ValueError as e:  # e2m1 has no Inf nor NaN: both paths must refuse alike
                assert not sat and fmt in ("mxfp6_e3m2", "mxfp6_e2m3", "mxfp4"), e
                with pytest.raises(ValueError, match="not representable") as general:
                    blocks._quantize_general(x, fmt, mode, saturate=sat)
                assert str(general.value) == str(e)


@pytest.mark.parametrize("fmt", MX)
def test_stochastic_modes_same_words(fmt):
    """sr (fused tables where r <= 10), the biased modes and sr_equal (the general rounding of
    the fused scaling), both SR forms, lanes, return_words."""
    x = ARR["shuffled"][:20000]
    for mode, opts in (("sr", {}), ("sr", {"sr_bits": 4, "form": "compare"}),
                       ("sr", {"sr_bits": 10}), ("sr", {"sr_bits": 16}),
                       ("sr_eps", {"eps": 0.25}), ("sr_equal", {}),
                       ("signed_sr_eps", {"eps": 0.25, "direction": np.sign(x).astype(np.int8)})):
        _check(x, fmt, mode, seed=5, lanes=3, return_words=True, **opts)
    for rule in RULES:
        _check(ARR["specials"], fmt, "sr", seed=7, scale_rule=rule, return_words=True)


def test_float64_inputs_tiny_huge_subnormal_and_clamped_scales():
    """float64 elements below 2**-1022 after scaling (+-2**-1000 in both paths), amax in the
    subnormal range, scales clamped at 2**-127 and 2**127, and beyond float32's range."""
    x32 = ARR["shuffled"].astype(np.float64)
    # blocks with a large amax and elements that fall below 2**-1022 once scaled
    tiny = np.tile([2.0 ** 100, 2.0 ** -1000, -2.0 ** -1000, 5e-324, -5e-324, 2.0 ** -900,
                    -2.0 ** -923, 0.0], 4) * np.repeat([1.0, -1.0, 2.0 ** 27, 2.0 ** -50], 8)
    cases = [x32, x32 * 2.0 ** -1000, x32 * 2.0 ** -960, x32 * 2.0 ** 900, x32 * 2.0 ** 200,
             np.ldexp(1.0, np.arange(-1074, 1024)), np.array([5e-324, -5e-324, 0.0] * 11),
             np.array([1e-300] + [1e-310] * 31), np.array([3e38, 4e38, 1e39, -1e300]),
             tiny, np.array([np.finfo(np.float64).max, -np.finfo(np.float64).max, 1.0])]
    f32max = np.finfo(np.float32).max
    for fmt in MX:
        _check(np.array([f32max, -f32max, np.float32(2.0 ** -149)] * 12, np.float32), fmt)
    for x in cases:
        for fmt in MX:
            for rule in RULES:
                _check(x, fmt, scale_rule=rule)
            _check(x, fmt, "rup")
            _check(x, fmt, "rdn", scale_rule="ceil")
            _check(x, fmt, "sr", seed=3, return_words=True)


def test_axes_partial_blocks_and_layouts():
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((33, 5, 45)) * np.exp2(rng.integers(-30, 30, (33, 5, 45))))
    x = x.astype(np.float32)
    x[1, 2, 3] = np.nan
    x[20, 4, :] = 0
    x[7, 1, 40] = -np.inf
    for fmt in ("mxfp8_e4m3", "mxfp4", "mxint8"):
        for axis in (0, 1, 2, -1, -2):
            for mode, seed in (("rne", None), ("sr", 9)):
                _check(x, fmt, mode, axis=axis, seed=seed)
            _check(x.astype(np.float64), fmt, axis=axis)
        _check(np.asfortranarray(x), fmt, axis=1)  # not C-contiguous
        _check(x[:, ::2, 1:], fmt, "rtz", axis=0)  # a strided view
        _check(x[0, 0, :1], fmt)  # a single element: one partial block
    big = rng.standard_normal((40, 100)).astype(np.float32)  # units of 3200 elements: in pieces
    big[5, 7] = np.inf
    _check(big, "mxfp8_e4m3", axis=0)
    _check(big, "mxfp8_e4m3", "sr", axis=0, seed=2, return_words=True)


def test_generic_block_formats_and_what_falls_back():
    """Generic formats (other block sizes, elements), non-OCP profiles, other input dtypes and
    NVFP4 all agree with the general path (fused, fused scaling only, or not fused)."""
    x = ARR["shuffled"][:8192]
    for fmt in (emu.block_format("e4m3", 16), emu.block_format("e2m1", 7),
                emu.block_format("e5m2", 1), emu.block_format("fp16", 32),
                emu.block_format("bf16", 64), emu.block_format("s8.4", 32), "nvfp4"):
        _check(x, fmt)
        _check(x, fmt, "sr", seed=1)
    y = np.concatenate([x, x[:1811] * 1e-3])  # blocks of more than the kernel's 2048-element
    y[5000] = np.nan                           # scratch: rounded in pieces
    for fmt in (emu.block_format("e4m3", 4096), emu.block_format("e2m1", 3000),
                emu.block_format("e5m2", 2049)):
        _check(y, fmt)
        _check(y, fmt, "sr", seed=6, return_words=True)
        _check(y.reshape(-1, 1).repeat(3, axis=1), fmt, axis=0)
    for profile in ("nvidia", "riscv", "amd"):
        for sat in (True, False):
            _check(x, "mxfp8_e4m3", saturate=sat, profile=profile)
    _check(x, "mxfp8_e4m3", "sr", seed=4, sr_bits=20, profile="amd", return_words=True)
    for dtype in (np.float16, np.int32):
        _check((x[:512] * 4).astype(dtype), "mxfp6_e3m2")
    with emu.context(profile="riscv"):
        _check(x, "mxfp8_e5m2", saturate=False)


def test_errors_are_the_general_paths():
    x = ARR["shuffled"][:64]
    for kw in ({"rounding": "sr"}, {"rounding": "rne", "rng": LFSR()},
               {"rounding": "bogus"}, {"rounding": "sr", "rng": LFSR(), "threads": 0},
               {"rounding": "rne", "axis": 1}, {"rounding": "rne", "scale_rule": "up"},
               {"rounding": "rne", "return_words": 1}, {"rounding": "rne", "saturate": "yes"},
               {"rounding": "rne", "overflow": "wrap"}, {"rounding": "rne", "bogus": 1}):
        errors = []
        for fn in (blocks.quantize, blocks._quantize_general):
            with pytest.raises((ValueError, TypeError)) as e:
                fn(x, "mxfp8_e4m3", **kw)
            errors.append((type(e.value), str(e.value)))
        assert errors[0] == errors[1], kw


def test_threads_do_not_change_a_bit():
    x = (np.random.default_rng(4).standard_normal(300_001) * 100).astype(np.float32)
    x[77_777] = np.nan
    for fmt, mode, axis, shape in (("mxfp8_e4m3", "rne", -1, (-1,)), ("mxfp4", "sr", -1, (-1,)),
                                   ("mxfp8_e5m2", "sr", 0, (-1, 7)), ("mxint8", "rne", 0, (-1, 7))):
        xs = x[:300_001 - 300_001 % 7].reshape(shape) if shape != (-1,) else x
        res = []
        for threads in (1, 2):
            opts = {"rng": LFSR(seed=11, lanes=2), "return_words": True} if mode == "sr" else {}
            res.append(blocks.quantize(xs, fmt, mode, axis=axis, threads=threads, **opts))
        _same(*res, mode == "sr" or None)
        _same(res[0][0] if mode == "sr" else res[0],
              _check(xs, fmt, mode, axis=axis, **({"seed": 11, "lanes": 2} if mode == "sr"
                                                  else {})))


def test_the_fused_path_runs_where_it_should():
    """The fast cases take the fused kernel (no call of the general path), in both strategies."""
    x = ARR["shuffled"][:4096]
    calls = []
    real = blocks._quantize_general
    try:
        blocks._quantize_general = lambda *a, **k: calls.append(1) or real(*a, **k)
        emu.quantize(x, "mxfp8_e4m3")
        emu.quantize(x, "mxfp4", "sr", rng=LFSR())
        emu.quantize(x.astype(np.float64), "mxint8", axis=0)
        emu.quantize(x, "mxfp6_e2m3", "sr_eps", eps=0.5, rng=LFSR())
        assert not calls
        emu.quantize(x, "nvfp4")
        assert calls
    finally:
        blocks._quantize_general = real
    plan = blocks._fused_plan(emu.block_format("mxfp4"), "rne", True, None, {})
    assert plan is not None and plan[3] == 1  # PACKED
    plan = blocks._fused_plan(emu.block_format("mxfp4"), "sr", True, None, {"rng": LFSR()})
    assert plan is not None and plan[3] == 2  # SR
    assert blocks._fused_plan(emu.block_format("mxfp4"), "sr", True, None,
                              {"rng": LFSR(), "sr_bits": 11}) is None  # beyond sr_hi16
