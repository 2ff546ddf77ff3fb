"""Block-scaled formats (MX, NVFP4) in the trainer (docs/semantics.md §11): the policy's names,
a step checked against an independent model of the datapath (emu.quantize along each product's
reduction axis with the same LFSR words, exact block sums accumulated in fp32, the fp32 master
update), determinism, the shipped MX run, and the CLI."""

import json
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import rerun_from_history

import emu
from emu.blockformats import ALIASES, NAMED_BLOCKS
from emu.sources import Recorder
from emu.train import PrecisionPolicy
from emu.train.data import Dataset, load_split
from emu.train.linear import MLP, LinearModel, TrainConfig, _link, train

K = 32  # the MX block size
TOML = Path(__file__).resolve().parent.parent / "emu" / "train" / "experiments" / \
    "softmax_digits_mxfp4_sr.toml"


def tiny(n=64, d=40, c=3, seed=0) -> Dataset:
    """d = 40 features: blocks of 32 + 8 along the reduction axis of X W (a partial block)."""
    rng = np.random.default_rng(seed)
    return Dataset(rng.uniform(0, 1, (n, d)), np.arange(n) % c, "tiny", c)


# --- the policy's names -----------------------------------------------------------------------
@pytest.mark.parametrize("name", list(NAMED_BLOCKS) + list(ALIASES))
def test_every_block_format_is_accepted_and_trains_a_step(name):
    for role in ("weights", "activations", "grads"):
        TrainConfig(**{role: name})
    cfg = TrainConfig(weights=name, grad_rounding="sr", rounding="sr", batch=32)
    assert cfg.policy.fmt == "fp32"  # the update rounds into the master copy
    d = tiny()
    for model in (LinearModel, MLP):
        m = model(d, TrainConfig(model="mlp" if model is MLP else "softmax", weights=name,
                                 grad_rounding="sr", hidden=8))
        before = [w.to_float() for w in (getattr(m, n) for n in m.param_names)]
        res = m.step(d, np.arange(32))
        assert all(getattr(m, n).format.name == "fp32" for n in m.param_names)
        assert all(g.format.name == "fp32" for g in res.grads.values())  # the products' output
        moved = [not np.array_equal(w, getattr(m, n).to_float())
                 for w, n in zip(before, m.param_names, strict=True)]
        assert any(moved) and np.isfinite(res.loss)


@pytest.mark.parametrize("kw, match", [
    (dict(weights="mxfp3"), r"weights = 'mxfp3': not a format\. Block formats: mxfp8_e4m3, "
     r"mxfp8_e5m2, mxfp6_e3m2, mxfp6_e2m3, mxfp4, mxint8, nvfp4 \(aliases mxfp8, mxfp6, "
     r"mxfp4_e2m1\); element formats: named formats: e4m3"),
    (dict(grads="nvfp8"), r"grads = 'nvfp8': not a format\. Block formats: .*nvfp4"),
    (dict(activations="e8m0"), "e8m0 is the MX scale format"),
    (dict(weights="e8m0"), "e8m0 is the MX scale format"),
    (dict(weights="e4m3", master="fp32"), "master copy of block-format weights"),
    (dict(weights="mxfp4", master="mxfp8"), "master = 'mxfp8': the master copy holds the "
     "parameters in an element format"),
    (dict(weights="mxfp4", master="fp33"), "master = 'fp33': not a format"),
    (dict(weights="mxfp4", acc="mxfp8"), "acc = 'mxfp8': an accumulator holds sums"),
    (dict(weights="mxfp4", grads="nvfp4"), r"activations mxfp4 \(blocks of 32, e8m0 scales\) and "
     r"grads nvfp4 \(blocks of 16, e4m3 scales\) meet in a product"),
    (dict(weights="nvfp4", activations="mxfp8"), "activations mxfp8_e4m3 .* and weights nvfp4"),
    (dict(model="mlp", weights="nvfp4", activations="e4m3", grads="mxfp4"),
     "grads mxfp4 .* and weights nvfp4"),
    (dict(weights="mxfp4", master="s16.8", scheme="every_op"), r"s16.8\) by g in the mxfp4 "
     r"gradients' products' output \(fp32, the accumulator's\)"),
    (dict(weights="mxfp4", master=5), "master = 5: needs a name"),
])
def test_bad_formats_are_refused_with_the_valid_names(kw, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kw)


def test_the_update_rule_takes_the_master_copy_not_a_block_format():
    with pytest.raises(ValueError, match="a block format names the operands of products"):
        PrecisionPolicy("mxfp4")
    assert TrainConfig(weights="mxfp4", master="bf16").policy.fmt == "bf16"
    # element formats of either kind beside block operands; a fixed master, scheme update
    TrainConfig(weights="mxfp8", activations="e4m3", grads="s16.12", master="s16.8")
    TrainConfig(weights="mxfp8_e4m3", activations="mxfp8_e5m2", grads="mxfp4", model="mlp")


# --- one step against an independent model of the datapath -------------------------------------
def q(x, fmt, axis, mode="rne", rng=None, tensor_scale=True):
    """emu.quantize into a block format along ``axis`` (training saturates; SR: r = 8; NVFP4: the
    per-tensor scale from the tensor's amax, but not for the bias)."""
    extra = {"rng": rng, "sr_bits": 8} if rng is not None else {}
    if tensor_scale and not emu.block_format(fmt).power_of_two_scale:
        extra["tensor_scale"] = "amax"
    return emu.quantize(np.ascontiguousarray(x), fmt, mode, axis=axis, saturate=True, **extra)


def unscaled(r) -> np.ndarray:
    """Block registers' exact values without the tensor scale (block scale x element)."""
    return r.to_float() / r.tensor_scale  # exact: the quotient is a float64 value


def fp32(values) -> np.ndarray:
    """Exact values (Fractions) rounded rne into fp32, as float64."""
    arr = np.empty(np.shape(values), dtype=object)
    arr[...] = values
    return emu.quantize(arr, "fp32").to_float()


def block_mm(a, b, k: int = K) -> np.ndarray:
    """emu.blockdot's model (OCP MX §6.1) of a @ b, a and b block registers (blocked along K):
    per output, the exact sum of each block of k along K (block scale x element values), the
    block terms accumulated sequentially in fp32 with rne from 0; then NVFP4's tensor scales as
    alpha = fp32(t_a * t_b), alpha x the sum rounded once into fp32."""
    av, bv = unscaled(a), unscaled(b)
    m, kk = av.shape
    n = bv.shape[1]
    A = [[Fraction(v) for v in row] for row in av.tolist()]
    B = [[Fraction(v) for v in col] for col in bv.T.tolist()]
    acc = np.zeros((m, n))
    for s in range(0, kk, k):
        terms = [[Fraction(acc[i, j]) + sum(x * y for x, y in zip(A[i][s:s + k], B[j][s:s + k],
                                                                   strict=True))
                  for j in range(n)] for i in range(m)]
        acc = fp32(terms)
    alpha = float(np.float32(a.tensor_scale) * np.float32(b.tensor_scale))
    return acc if alpha == 1.0 else fp32([[Fraction(alpha) * Fraction(v) for v in row]
                                          for row in acc.tolist()])


def T(r):
    """Block registers transposed (the blocks stay on their elements)."""
    return emu.BlockRegisters(r.codes.T, r.scales.T, r.format, axis=1 - r.axis,
                              tensor_scale=r.tensor_scale)


def col_sums(r) -> np.ndarray:
    """1^T r (r: block registers): fp32 ones times the values (exact products), summed
    sequentially in fp32 with rne; NVFP4's tensor scale then multiplies the sum, rounded once."""
    acc = np.zeros(r.shape[1], np.float32)
    for row in unscaled(r).astype(np.float32):  # every value fp32-exact here; float32 + is rne
        acc = acc + row
    acc = acc.astype(np.float64)
    if r.tensor_scale != 1.0:
        acc = fp32([Fraction(r.tensor_scale) * Fraction(v) for v in acc.tolist()])
    return acc[None, :]


def bias_add(z: np.ndarray, b: np.ndarray, fmt) -> np.ndarray:
    """z + b rounded once into fp32; b (1 x c) quantized rne along its one axis."""
    bq = q(b, fmt, 1, tensor_scale=False).to_float()
    return fp32([[Fraction(x) + Fraction(y) for x, y in zip(row, bq[0], strict=True)]
                 for row in z.tolist()])


def update(params: list, grads: list, lr: float, rng, mode: str) -> list:
    """The fp32 master copies' update: the exact x - lr*g rounded once (SR: the run's words, one
    per element in C order, parameter by parameter)."""
    out = []
    for x, g in zip(params, grads, strict=True):
        exact = np.array([Fraction(a) - Fraction(lr) * Fraction(b)
                          for a, b in zip(x.ravel().tolist(), g.ravel().tolist(), strict=True)],
                         dtype=object).reshape(x.shape)
        kw = {"rng": rng, "sr_bits": 8} if mode == "sr" else {}
        out.append(emu.quantize(exact, "fp32", mode, saturate=True, **kw))
    return out


@pytest.mark.parametrize("fmt", ["mxfp4", "mxfp8_e5m2", "nvfp4"])
def test_softmax_steps_quantize_as_emu_quantize_with_the_same_words(fmt):
    """Two steps of softmax regression (weights, activations, gradients all ``fmt``; SR
    gradients, SR update of the fp32 master): every value matches the model above, built from
    emu.quantize with one LFSR drawing the same words in the documented order (dZ along the
    batch, then W, then b), and the step's recorded words are those words. NVFP4 (blocks of 16):
    operands with the per-tensor scale, 40 = 16 + 16 + 8 along d_in."""
    d = tiny()
    k = emu.block_format(fmt).block_size
    cfg = TrainConfig(weights=fmt, grad_rounding="sr", rounding="sr", lr=0.5, seed=5)
    m = LinearModel(d, cfg)
    rng = Recorder(emu.LFSR(seed=5))
    W, b = m.W.to_float(), m.b.to_float()
    for step, idx in enumerate((np.arange(32), np.arange(32, 64))):
        X, y = d.X[idx], d.y[idx]
        t = np.eye(3)[y]
        z = bias_add(block_mm(q(X, fmt, 1), q(W, fmt, 0), k), b, fmt)
        p = _link(z, "softmax")
        dz = q((p - t) / 32, fmt, 0, "sr", rng)
        gW = block_mm(T(q(X, fmt, 0)), dz, k)
        gb = col_sums(dz)
        Wn, bn = update([W, b], [gW, gb], 0.5, rng, "sr")
        m.rng.taken()  # start the step's record
        res = m.step(d, idx)
        assert np.array_equal(res.grads["W"].to_float(), gW), step
        assert np.array_equal(res.grads["b"].to_float(), gb), step
        assert np.array_equal(m.W.codes, Wn.codes) and np.array_equal(m.b.codes, bn.codes), step
        words = m.rng.taken()
        assert words.size == 32 * 3 + 40 * 3 + 3  # dZ, then the updates of W and b
        assert np.array_equal(words, rng.taken()), step
        W, b = Wn.to_float(), bn.to_float()
    assert np.any(W != 0) and np.any(b != 0)


def test_mlp_step_draws_and_values_follow_the_documented_order():
    """An MLP step (mxfp4 everywhere, SR gradients, rne master update): dZ2 is quantized along the
    batch (for H^T dZ2 and 1^T dZ2), then along the classes (for dZ2 W2^T), then dZ1 along the
    batch, each with fresh words; W2 along d_out for the backward product; values as the model."""
    fmt, h = "mxfp4", 8
    d = tiny()
    m = MLP(d, TrainConfig(model="mlp", weights=fmt, grad_rounding="sr", rounding="rne", lr=0.3,
                           hidden=h, seed=2))
    W1, b1, W2, b2 = (getattr(m, n).to_float() for n in m.param_names)
    rng = Recorder(emu.LFSR(seed=2))
    idx = np.arange(32)
    X, t = d.X[idx], np.eye(3)[d.y[idx]]
    z1 = bias_add(block_mm(q(X, fmt, 1), q(W1, fmt, 0)), b1, fmt)
    H = np.where(z1 > 0, z1, 0.0)
    z2 = bias_add(block_mm(q(H, fmt, 1), q(W2, fmt, 0)), b2, fmt)
    dz2 = (_link(z2, "softmax") - t) / 32
    dz2_b = q(dz2, fmt, 0, "sr", rng)   # 1st: along the batch
    dz2_c = q(dz2, fmt, 1, "sr", rng)   # 2nd: along the classes
    gW2 = block_mm(T(q(H, fmt, 0)), dz2_b)
    dh = block_mm(dz2_c, T(q(W2, fmt, 1)))
    dz1 = q(np.where(z1 > 0, dh, 0.0), fmt, 0, "sr", rng)  # 3rd
    gW1 = block_mm(T(q(X, fmt, 0)), dz1)
    new = update([W1, b1, W2, b2], [gW1, col_sums(dz1), gW2, col_sums(dz2_b)], 0.3, None, "rne")
    res = m.step(d, idx)
    words = m.rng.taken()
    assert words.size == 32 * 3 * 2 + 32 * h  # no words for the rne update
    assert np.array_equal(words, rng.taken())
    for name, g in zip(m.param_names, (gW1, None, gW2, None), strict=True):
        if g is not None:
            assert np.array_equal(res.grads[name].to_float(), g), name
    for name, w in zip(m.param_names, new, strict=True):
        assert np.array_equal(getattr(m, name).codes, w.codes), name


# --- determinism --------------------------------------------------------------------------------
def test_same_seed_same_run_and_threads_do_not_matter():
    tr, te = load_split("digits", 96, 40)
    cfg = TrainConfig(model="mlp", hidden=8, weights="mxfp4", grad_rounding="sr", rounding="sr",
                      epochs=1, batch=32, seed=4, lr=0.3)
    runs = [train(tr, cfg, threads=n, test=te) for n in (1, 2, 1)]
    for m, h in runs[1:]:
        assert h.epochs == runs[0][1].epochs and h.steps == runs[0][1].steps
        for n in m.param_names:
            assert np.array_equal(getattr(m, n).codes, getattr(runs[0][0], n).codes)
    other, _ = train(tr, replace(cfg, rng_seed=99), test=te)
    assert not np.array_equal(other.W1.codes, runs[0][0].W1.codes)  # the SR words matter


def test_gd_runs_take_a_block_gradient_format_per_run():
    """run_gd's gradient rounding (emu.train.gd.gd_runs) in mxfp4: each run's gradient vector is
    blocked along its one axis, and a batch of runs is bit for bit the single runs (lane j of
    the LFSR bank serves column j)."""
    from emu.train.gd import gd_runs
    from emu.train.problems import Quadratic

    prob = Quadratic(tuple(np.linspace(0.1, 1, 40)), tuple(np.linspace(-1, 1, 40)))
    pol = PrecisionPolicy("fp32", "update", update="rne")
    x0 = np.zeros((40, 2))
    both = gd_runs(prob, x0, 0.5, 3, pol, emu.LFSR(seeds=[3, 9]), grad_rounding=("mxfp4", "sr", 0))
    for j, s in enumerate((3, 9)):
        one = gd_runs(prob, x0[:, :1], 0.5, 3, pol, emu.LFSR(seed=s), grad_rounding=("mxfp4", "sr", 0))
        assert np.array_equal(one.x[:, 0], both.x[:, j])
    rng = emu.LFSR(seed=3)
    g = q(prob.grad(np.zeros(40))[:, None], "mxfp4", 0, "sr", rng).to_float()
    one = gd_runs(prob, x0[:, :1], 0.5, 1, pol, emu.LFSR(seed=3), grad_rounding=("mxfp4", "sr", 0))
    assert np.array_equal(one.x, emu.quantize(-0.5 * g, "fp32").to_float())


# --- the shipped MX run -------------------------------------------------------------------------
def test_shipped_mx_run_trains_the_digits():  # two 5-epoch runs: ~3.5 s on a warm numba cache
    """emu/train/experiments/softmax_digits_mxfp4_sr.toml, run as a sweep task (what `emu train
    --config` and `emu sweep` run): 5 epochs from zero weights, where the loss is ln 10 = 2.30
    and the accuracy chance's 0.1. The fp32 run of the same configuration (every format fp32,
    rne) reaches test accuracy 0.961 and loss 0.271 (measured); MXFP4 with SR gradients must stay
    within 0.03 of its test accuracy and reach a loss below 0.35 (measured: 0.950 and 0.283), an
    eighth of where it starts: gradients lost to the 4-bit grid (scales, SR) would stall it."""
    from emu.train import sweep
    from emu.train.options import read_toml

    opts = read_toml(TOML)["train"]
    mx = sweep.run_task(sweep.expand({"base": opts})[0])
    fp32 = {k: v for k, v in opts.items() if k != "master"} | {
        "weights": "fp32", "activations": "fp32", "grads": "fp32", "grad_rounding": "rne"}
    ref = sweep.run_task(sweep.expand({"base": fp32})[0])
    assert mx["config"]["weights"] == "mxfp4" and mx["config"]["grad_rounding"] == "sr"
    assert mx["losses"][0] == pytest.approx(np.log(10))
    assert mx["final_loss"] < 0.35 and ref["final_loss"] < 0.3
    assert mx["test_accuracy"] > ref["test_accuracy"] - 0.03 and ref["test_accuracy"] > 0.93


# --- the CLI ------------------------------------------------------------------------------------
def test_cli_round_trip(tmp_path):
    """emu train with block formats: the header names the master copy; history.json's config,
    written out as a --config TOML, reruns the run bit for bit; --trace writes the master copies
    and the fp32 gradients; bad names are usage errors listing the valid ones."""
    from cli.main import main

    args = ["train", "--model", "mlp", "--hidden", "8", "--train-size", "64", "--test-size", "32",
            "--epochs", "1", "--weights", "mxfp4", "--activations", "mxfp8_e4m3", "--grads",
            "mxfp4", "--grad-rounding", "sr", "--rounding", "rne", "--master", "bf16", "--lr", "0.3"]
    r = CliRunner().invoke(main, args + ["--out", str(tmp_path / "run"), "--trace",
                                         str(tmp_path / "trace")])
    assert r.exit_code == 0, r.output
    assert "weights mxfp4 (master bf16), activations mxfp8_e4m3, grads mxfp4, rounding: grad sr, " \
        "update rne" in r.output.splitlines()[0]
    doc = json.loads((tmp_path / "run" / "history.json").read_text())
    cfg = doc["config"]
    assert (cfg["weights"], cfg["master"], cfg["grad_rounding"]) == ("mxfp4", "bf16", "sr")
    assert "bf16" in (tmp_path / "trace" / "step_000001" / "W1.hex").read_text()
    assert "fp32" in (tmp_path / "trace" / "step_000001" / "W1_grad.hex").read_text()
    rerun_from_history(tmp_path, doc)
    r = CliRunner().invoke(main, ["train", "--config", str(TOML), "--train-size", "40",
                                  "--test-size", "8", "--epochs", "1", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["config"]["weights"] == "mxfp4"
    for bad, msg in ((["--weights", "mxfp3"], "Block formats: mxfp8_e4m3"),
                     (["--master", "fp32"], "master copy of block-format weights"),
                     (["--weights", "mxfp4", "--grads", "nvfp4"], "meet in a product")):
        r = CliRunner().invoke(main, ["train", "--epochs", "0", *bad])
        assert r.exit_code == 2 and msg in r.output, r.output
