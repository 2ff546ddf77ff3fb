"""Thread counts never change a bit: every parallel path run with 1, 2 and 4 threads gives the
same codes and leaves its random source in the same state. Sizes are chosen so that 2 and 4
threads really split the work (emu.parallel.MIN_BLOCK elements per block at least), and odd so
blocks do not line up with the lane count."""

import numpy as np
import pytest

import emu
from emu import parallel
from emu.kernels.lfsr import draw_words
from emu.train.data import digits
from emu.train.linear import TrainConfig, train

THREADS = (1, 2, 4)
N = 4 * parallel.MIN_BLOCK + 12_345


def _same(results):
    """results: one (codes, states) pair per thread count."""
    codes0, states0 = results[0]
    for codes, states in results[1:]:
        assert np.array_equal(codes, codes0)
        assert states == states0


@pytest.fixture(scope="module")
def x32():
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(N) * 64).astype(np.float32)
    x[::1001] = np.inf  # specials and overflow take the fallback paths inside blocks
    x[::997] = np.nan
    x[::991] = 1e6
    return x


def test_blocks_cover_the_range_once():
    for n in (0, 1, parallel.MIN_BLOCK, 3 * parallel.MIN_BLOCK + 5, 10**7 + 3):
        for t in (1, 2, 3, 4, 16):
            b = parallel.blocks(n, t)
            assert b[0][0] == 0 and b[-1][1] == n and len(b) <= t
            assert all(x[1] == y[0] for x, y in zip(b[:-1], b[1:], strict=True))
            assert len(b) == 1 or min(e - s for s, e in b) >= parallel.MIN_BLOCK


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_threads_must_be_positive_integers(bad):
    with pytest.raises(ValueError, match="threads"):
        emu.quantize([1.0], "e4m3", threads=bad)


@pytest.mark.parametrize("fmt,mode", [("e4m3", "rne"), ("e5m2", "rtz"), ("e8m13", "rne"),
                                      ("s16.8", "rne"), ("s8.4", "rna")])
def test_quantize_and_decode(x32, fmt, mode):
    finite = np.nan_to_num(x32, nan=0.0, posinf=1e6)
    src = x32 if fmt.startswith("e") else finite
    codes = [emu.quantize(src, fmt, mode, threads=t).codes for t in THREADS]
    _same([(c, ()) for c in codes])
    regs = emu.Registers(codes[0], fmt)
    dec = [regs.to_float(threads=t).view(np.uint64) for t in THREADS]
    _same([(d, ()) for d in dec])


@pytest.mark.parametrize("lanes,config,width", [(1, "fibonacci", 32), (3, "galois", 32),
                                                (8, "fibonacci", 48), (5, "galois", 64)])
@pytest.mark.parametrize("mode", ["sr", "signed_sr_eps"])
def test_stochastic_rounding(x32, lanes, config, width, mode):
    kw = {"eps": 0.25, "direction": np.where(np.arange(N) % 3 == 0, -1, 1)} \
        if mode == "signed_sr_eps" else {}
    out = []
    for t in THREADS:
        rng = emu.LFSR(width, config=config, seed=12345, lanes=lanes)
        out.append((emu.quantize(x32, "e4m3", mode, rng=rng, sr_bits=8, threads=t, **kw).codes,
                    rng.states))
    _same(out)


@pytest.mark.parametrize("lanes", [1, 3])
@pytest.mark.parametrize("reverse,invert", [(False, False), (True, True)])
def test_lfsr_words_match_the_bit_serial_kernel(lanes, reverse, invert):
    """The jumped, four-chain draw path equals the one-shift-at-a-time kernel, with any split."""
    n = 2 * parallel.MIN_BLOCK + 7
    for t in THREADS:
        serial = emu.LFSR(40, config="galois", seed=99, lanes=lanes, reverse=reverse,
                          invert=invert)
        first, rest = np.empty(n, np.uint64), np.empty(n, np.uint64)
        draw_words(serial._states, 40, np.uint64(serial.poly), True, 13, reverse, invert, n,
                   first, rest)
        fast = emu.LFSR(40, config="galois", seed=99, lanes=lanes, reverse=reverse,
                        invert=invert)
        assert np.array_equal(fast.draw(n, 13, threads=t), first)
        assert fast.states == serial.states


def test_amd_prng_draws():
    out = []
    for t in THREADS:
        rng = emu.AmdPrng(seed=77, lanes=4)
        out.append((rng.draw(N, threads=t), rng.states))
    _same(out)


def test_arithmetic(x32):
    a = emu.quantize(x32, "e5m2")
    b = emu.quantize(np.roll(x32, 1), "e5m2")
    c = emu.quantize(np.roll(x32, 2), "e5m2")
    f, g = emu.quantize(x32, "fp32"), emu.quantize(np.roll(x32, 3), "fp32")
    cases = [
        lambda t, r: emu.add(a, b, threads=t),                       # pair-table path
        lambda t, r: emu.mul(a, b, out="e8m13", threads=t),           # core path
        lambda t, r: emu.sub(a, b, rounding="sr", rng=r, threads=t),  # core with SR words
        lambda t, r: emu.fma(a, b, c, rounding="sr", rng=r, threads=t),
        lambda t, r: emu.maximum(a, b, threads=t),
        lambda t, r: emu.sub(f, g, threads=t),                        # native fp32 path
    ]
    for case in cases:
        out = []
        for t in THREADS:
            rng = emu.LFSR(seed=3, lanes=2)
            out.append((case(t, rng).codes, rng.states))
        _same(out)


@pytest.mark.parametrize("kind", ["fp32", "fp32_fma", "e8m13_sr", "mac", "exact"])
def test_matmul(kind):
    rng = np.random.default_rng(5)
    m, k, n = 67, 33, 41  # 2**16 / (41 * 33) = 48 rows per block: 2 blocks
    if kind == "mac":
        A = emu.Registers.from_codes(rng.integers(0, 256, (m, k)), "s8.4")
        B = emu.Registers.from_codes(rng.integers(0, 256, (k, n)), "s8.4")
        kw = {"acc": emu.mac_accumulator("s8.4", "s8.4", 8)}
    elif kind == "fp32_fma":  # fp32 operands: the float64 round-to-odd path
        A = emu.quantize(rng.standard_normal((m, k)) * 2.0 ** rng.integers(-60, 60, (m, k)), "fp32")
        B = emu.quantize(rng.standard_normal((k, n)), "fp32")
        kw = {"acc": "fp32"}
    else:
        A = emu.quantize(rng.standard_normal((m, k)), "e4m3")
        B = emu.quantize(rng.standard_normal((k, n)), "e4m3")
        kw = {"fp32": {"acc": "fp32"}, "exact": {"acc": "e5m2", "order": "exact"},
              "e8m13_sr": {"acc": "e8m13", "acc_rounding": "sr"}}[kind]
    out = []
    for t in THREADS:
        lf = emu.LFSR(seed=11)
        r = emu.matmul(A, B, rng=lf, **kw, threads=t) if kind == "e8m13_sr" else \
            emu.matmul(A, B, **kw, threads=t)
        out.append((r.codes, lf.states))
    _same(out)


def test_training_epoch():
    data = digits()
    cfg = TrainConfig(model="softmax", weights="e4m3", rounding="sr", epochs=1, batch=256)
    out = []
    for t in THREADS:
        model, hist = train(data, cfg, threads=t)
        params = np.concatenate([getattr(model, p).codes.reshape(-1) for p in model.param_names])
        out.append((params, (model.rng.states, hist.epochs[-1]["loss"])))
    _same(out)


def test_context_sets_the_default():
    x = np.linspace(-500, 500, N).astype(np.float32)
    with emu.context(threads=3):
        assert parallel.resolve(None) == 3
        a = emu.quantize(x, "e4m3").codes
    assert parallel.resolve(None) == parallel.cores()
    assert np.array_equal(a, emu.quantize(x, "e4m3", threads=1).codes)
