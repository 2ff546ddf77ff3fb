"""The training loop's shortcuts compute what the plain datapath computes, bit for bit: the
decode tables, the features rounded once per run, X^T dZ and 1^T dZ as one product, and W and b
moved by one update call (emu.train.linear, emu.train.engine)."""

import numpy as np
import pytest

import emu
from emu.formats import code_dtype
from emu.train import engine
from emu.train.data import Dataset, digits
from emu.train.linear import MLP, LinearModel, TrainConfig, _Model, epoch_batches, train


@pytest.mark.parametrize("fmt", ["e4m3", "e5m2", "e4m3fnuz", "e2m1", "e3m2", "bf16", "fp16",
                                 "s8.6", "u8.8", "s12.10", "s4.3"])
def test_decoded_is_to_float_for_every_code(fmt):
    f = emu.format(fmt)
    r = emu.Registers(np.arange(1 << f.bits, dtype=code_dtype(f.bits)), f)
    got, want = engine.decoded(r), r.to_float()
    assert got.dtype == np.float64 and got.shape == want.shape
    assert np.array_equal(got.view(np.uint64), want.view(np.uint64))  # NaN payloads included
    r2 = r[::3].reshape(-1, 1)[: (r.size // 3) // 2 * 2].reshape(2, -1)  # any shape
    assert np.array_equal(engine.decoded(r2).view(np.uint64), r2.to_float().view(np.uint64))


def test_decoded_binary32_is_to_float():
    """fp32 decodes by its fields (no table): normals, subnormals, zeros, the extremes, and a
    set holding Inf or NaN (decoded by to_float)."""
    f = emu.format("fp32")
    rng = np.random.default_rng(2)
    codes = np.concatenate([rng.integers(0, 1 << 32, 20000, dtype=np.uint64).astype(np.uint32),
                            np.arange(4096, dtype=np.uint32), np.arange(4096, dtype=np.uint32)
                            | np.uint32(0x80000000), np.array([0x007FFFFF, 0x00800000, 0x807FFFFF,
                                                               0x7F7FFFFF, 0xFF7FFFFF], np.uint32)])
    finite = codes[(codes >> 23) & 0xFF != 0xFF]
    for c in (finite, finite[:60].reshape(6, 10), codes,
              np.array([0x7F800000, 0xFFC00000, 1], np.uint32)):
        r = emu.Registers(c, f)
        assert np.array_equal(engine.decoded(r).view(np.uint64), r.to_float().view(np.uint64))


def _plain(monkeypatch):
    """Every shortcut off: 1^T dZ its own product, every parameter its own update call."""
    monkeypatch.setattr(_Model, "_merged_bias_row", lambda self: None)
    monkeypatch.setattr(_Model, "_update_groups",
                        lambda self, params, grads: [(i,) for i in range(len(params))])


CONFIGS = [
    dict(model="softmax", weights="e4m3", acc="fp32", rounding="sr"),
    dict(model="mlp", weights="e4m3", rounding="sr", hidden=8),
    dict(model="mlp", weights="e4m3", grads="e5m2", rounding="signed_sr_eps", eps=0.25, hidden=8),
    dict(model="softmax", weights="e4m3", grads="e5m2", acc="bf16", rounding="sr"),
    dict(model="softmax", weights="s8.6", activations="s12.10", grads="s12.10", rounding="sr"),
    dict(model="mlp", weights="s8.6", grads="s12.10", acc="s40.20", rounding="sr", hidden=8),
    dict(model="softmax", weights="bf16", scheme="every_op", rounding="sr", step_rounding="sr"),
    dict(model="softmax", weights="e4m3", rounding="sr", grad_rounding="sr"),
    dict(model="softmax", weights="mxfp8", rounding="sr"),
]


def _run(cfg, data, tmp_path, name):
    model, hist = train(data, cfg, trace_dir=tmp_path / name)
    params = {n: (getattr(model, n).codes.copy(), getattr(model, n).format.name)
              for n in model.param_names}
    words = [p.read_text() for p in sorted((tmp_path / name).glob("step_*/r.hex"))]
    return params, hist.epochs, hist.steps, words, model.rng.state


@pytest.mark.parametrize("kw", CONFIGS, ids=lambda kw: "-".join(str(v) for v in kw.values()))
def test_shortcuts_change_no_bit(kw, tmp_path, monkeypatch):
    data = digits().first(96)
    cfg = TrainConfig(epochs=1, batch=32, **kw)
    fast = _run(cfg, data, tmp_path, "fast")
    _plain(monkeypatch)
    plain = _run(cfg, data, tmp_path, "plain")
    for a, b in zip(fast[0].values(), plain[0].values(), strict=True):
        assert a[1] == b[1] and np.array_equal(a[0], b[0])
    assert fast[1:] == plain[1:]  # epochs, steps (losses, q), every step's words, end state


def test_the_shortcuts_are_taken_where_they_apply():
    d = digits().first(64)
    m = LinearModel(d, TrainConfig(model="softmax", weights="e4m3", acc="fp32", rounding="sr"))
    assert m._bias_row is not None
    assert m._update_groups([m.W, m.b], [m.W, m.b]) == [(0, 1)]
    m = MLP(d, TrainConfig(model="mlp", weights="e4m3", rounding="sr"))
    ps = [m.W1, m.b1, m.W2, m.b2]
    assert m._update_groups(ps, ps) == [(0, 1), (2, 3)]
    # not where they would differ: SR gradients (words), two accumulators, every_op's order
    for kw in (dict(grad_rounding="sr"), dict(weights="s8.6", grads="s12.10")):
        assert LinearModel(d, TrainConfig(model="softmax", **kw))._bias_row is None
    m = LinearModel(d, TrainConfig(model="softmax", weights="bf16", scheme="every_op"))
    assert m._update_groups([m.W, m.b], [m.W, m.b]) == [(0,), (1,)]
    m = LinearModel(d, TrainConfig(model="softmax", rounding="sr"))
    m.rng = emu.LFSR(seeds=[3, 5])  # a bank of lanes restarts each call at lane 0
    assert m._update_groups([m.W, m.b], [m.W, m.b]) == [(0,), (1,)]


@pytest.mark.parametrize("model", ["softmax", "mlp"])
def test_inputs_rounded_once_are_the_rounded_batches(model):
    """train() rounds the features once; stepping a model by hand rounds each batch."""
    rng = np.random.default_rng(4)
    d = Dataset(rng.uniform(-1, 1, (80, 5)), np.arange(80) % 3, "tiny", 3)
    cfg = TrainConfig(model=model, weights="e4m3", activations="e5m2", rounding="sr", epochs=1,
                      batch=16, hidden=4)
    trained, _ = train(d, cfg)
    by_hand = (MLP if model == "mlp" else LinearModel)(d, cfg)
    assert not by_hand._rounded
    for idx in epoch_batches(len(d), cfg.batch, np.random.default_rng(cfg.seed)):
        by_hand.step(d, idx)
    for n in trained.param_names:
        assert np.array_equal(getattr(trained, n).codes, getattr(by_hand, n).codes)
    assert not trained._rounded  # train() lets go of the rounded sets at its end


@pytest.mark.parametrize("model", ["softmax", "mlp"])
def test_trace_words_are_every_word_drawn(model, tmp_path):
    """r.hex holds every word a step drew, in order: the LFSR's stream (parameters large enough
    for a lazy stream to apply: its words must be recorded too)."""
    cfg = TrainConfig(model=model, weights="e4m3", rounding="sr", epochs=1, batch=32, seed=7)
    from emu.golden.hexio import read_hex

    m, _ = train(digits().first(64), cfg, trace_dir=tmp_path)
    got = np.concatenate([read_hex(tmp_path / s / "r.hex", 8)
                          for s in ("step_000001", "step_000002")])
    n = sum(getattr(m, p).size for p in m.param_names)
    assert got.size == 2 * n
    lfsr = emu.LFSR(seed=7)
    assert got.tolist() == lfsr.words(2 * n, 8).tolist()
    assert m.rng.state == lfsr.state  # and no word drawn beside the record


def test_weights_are_copies():
    m = LinearModel(digits().first(32), TrainConfig(model="softmax"))
    w = m.weights()
    w[0][:] = 7.0  # the caller's array: the model's decoded values are not touched
    assert not np.any(m.weights()[0] == 7.0)
