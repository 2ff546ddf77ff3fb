"""Gradient descent on emulated registers: the qualitative results of Xia et al. at small size,
with exact (not statistical) checks where the outcome is deterministic."""

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from helpers import rerun_from_history

from emu.train import PrecisionPolicy, run_gd
from emu.train.problems import SEEDS_QUADRATIC as Q

U = 2.0**-8  # s16.8 grid
T = 0.1


def test_rne_stagnation_is_an_exact_fixed_point():
    """Under rne the iterate stops once |t*g_i| < u/2 for every component (SEEDS.md), and the
    frozen state is a fixed point of the rounded update, bit for bit."""
    r = run_gd(Q, (2.0, 2.0), T, 400, PrecisionPolicy("s16.8", "update", update="rne"))
    assert r.stagnant[-100:] == [1.0] * 100
    g = Q.grad(r.x)
    assert np.all(np.abs(T * g) <= U / 2)
    # x_2 froze where 0.1 * 0.1 * |x_2 - 0.7| first fell below 2^-9, about 0.195 away from x*
    assert 0.19 < r.x[1] - 0.7 < 0.1953125 + U
    again = run_gd(Q, (2.0, 2.0), T, 400, PrecisionPolicy("s16.8", "update", update="rne"))
    assert np.array_equal(again.x, r.x) and again.loss == r.loss
    assert r.shrinkage[-1] == 0.0  # Yun 2025: q = 0 once frozen


@pytest.mark.slow  # compile-bound on a cold numba cache (~10-65 s): CI runs it once, in the main run
def test_sr_never_freezes_and_beats_the_rne_floor():
    """SR's expected suboptimality after k steps is <= rho^k (f0 - f*) + L n u^2 / (8 (1 - rho)),
    rho = 1 - 2 mu t (1 - L t / 2) (SEEDS.md). Deterministic here (fixed seeds): the mean final
    suboptimality over 8 seeds must be within 2x that bound, and far below the rne floor."""
    rho = 1 - 2 * Q.mu * T * (1 - Q.L * T / 2)
    k = 1500
    f0 = Q.loss(np.array([2.0, 2.0]))
    bound = rho**k * f0 + Q.L * 2 * U**2 / (8 * (1 - rho))
    finals = [run_gd(Q, (2.0, 2.0), T, k, PrecisionPolicy("s16.8", "update", update="sr"), seed=s).loss[-1]
              for s in range(1, 9)]
    rne = run_gd(Q, (2.0, 2.0), T, k, PrecisionPolicy("s16.8", "update", update="rne")).loss[-1]
    assert np.mean(finals) <= 2 * bound
    assert np.mean(finals) < rne / 5


def test_descent_biased_sr_is_faster_in_the_transient():
    def loss_at(mode, eps, step):
        losses = [run_gd(Q, (2.0, 2.0), T, step, PrecisionPolicy("s16.8", "update", update=mode, eps=eps),
                         seed=s).loss[step] for s in range(1, 6)]
        return np.mean(losses)

    sr, e25, e50 = loss_at("sr", 0, 60), loss_at("signed_sr_eps", 0.25, 60), loss_at("signed_sr_eps", 0.5, 60)
    assert e50 < e25 < sr  # ordered by eps


def test_every_op_fp8_rne_stagnates_sr_eps_converges():
    """2202.12276's setting: every operation rounded in e4m3; x_2 = 2 never moves under rne
    (t*g = 0.013 is below half an ulp of 2, 0.125), the SR schemes reach much lower loss."""
    rne = run_gd(Q, (2.0, 2.0), T, 300, PrecisionPolicy("e4m3", "every_op"))
    assert rne.x[1] == 2.0
    eps = run_gd(Q, (2.0, 2.0), T, 300, PrecisionPolicy("e4m3", "every_op", update="signed_sr_eps",
                                                        grad="sr_eps", step="sr_eps", eps=0.25))
    sr = run_gd(Q, (2.0, 2.0), T, 300, PrecisionPolicy("e4m3", "every_op", update="sr", grad="sr", step="sr"))
    assert eps.loss[-1] < rne.loss[-1] / 10 and sr.loss[-1] < rne.loss[-1] / 10


def test_policy_validation():
    with pytest.raises(ValueError, match="update, every_op"):
        PrecisionPolicy(scheme="both")
    with pytest.raises(ValueError, match="rne, rna"):
        PrecisionPolicy(update="nearest")


# --- linear models on emulated registers ------------------------------------------------------
from emu.train.data import digits, load, load_split, synthetic_least_squares, synthetic_logistic  # noqa: E402
from emu.train.linear import TrainConfig, train  # noqa: E402


def test_digits_shipped_with_attribution():
    d = digits()
    assert d.X.shape == (1797, 64) and d.n_classes == 10 and d.X.max() == 1.0
    from emu.train.data import DATA_DIR

    assert "CC BY 4.0" in (DATA_DIR / "DIGITS_LICENSE.md").read_text()


def test_softmax_digits_rne_stalls_sr_and_signed_sr_eps_converge():
    """Xia et al. 2202.12276 at small size: e4m3 weights, fp32 sequential accumulation."""
    d = digits()
    final = {}
    for mode, eps in (("rne", 0.0), ("sr", 0.0), ("signed_sr_eps", 0.25)):
        _, h = train(d, TrainConfig(model="softmax", weights="e4m3", rounding=mode, eps=eps, lr=0.5,
                                    epochs=3, batch=32, seed=1))
        final[mode] = h.epochs[-1]
    share = {k: v["stagnant_share"] for k, v in final.items()}
    assert share["rne"] > share["sr"] > share["signed_sr_eps"]
    assert final["signed_sr_eps"]["loss"] < final["sr"]["loss"] < final["rne"]["loss"]
    assert final["signed_sr_eps"]["accuracy"] > 0.9


def test_training_is_deterministic_and_every_op_scheme_runs():
    d = synthetic_logistic(n=128)
    cfg = TrainConfig(model="logistic", weights="e5m2", rounding="sr", lr=0.5, epochs=2, batch=16, seed=4)
    m1, h1 = train(d, cfg)
    m2, h2 = train(d, cfg)
    assert m1.W == m2.W and h1.epochs[-1]["loss"] == h2.epochs[-1]["loss"]
    cfg = TrainConfig(model="least_squares", weights="s16.8", scheme="every_op", rounding="signed_sr_eps",
                      step_rounding="sr_eps", eps=0.25, lr=0.2, epochs=3, batch=0)
    _, h = train(synthetic_least_squares(n=64), cfg)
    assert h.epochs[-1]["loss"] < h.epochs[0]["loss"]


def test_user_data_files(tmp_path):
    X = np.random.default_rng(0).standard_normal((20, 3))
    y = (X[:, 0] > 0).astype(int)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    assert load(str(tmp_path / "d.npz")).n_classes == 2
    np.savetxt(tmp_path / "d.csv", np.column_stack([X, y]), delimiter=",")
    assert load(str(tmp_path / "d.csv")).X.shape == (20, 3)
    np.savez(tmp_path / "bad.npz", A=X)
    with pytest.raises(ValueError, match="bad.npz: needs arrays named X and y"):
        load(str(tmp_path / "bad.npz"))
    with pytest.raises(ValueError, match="unknown model"):
        TrainConfig(model="mlp2")


def test_train_cli(tmp_path):
    import json

    from click.testing import CliRunner

    from cli.main import main

    r = CliRunner().invoke(main, ["train", "--model", "logistic", "--data", "logistic", "--weights", "e5m2",
                                  "--epochs", "1", "--out", str(tmp_path), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "history.json").read_text())
    assert doc["config"]["weights"] == "e5m2" and len(doc["epochs"]) == 2
    assert CliRunner().invoke(main, ["train", "--rounding", "bogus"]).exit_code == 2


def test_mlp_trains_on_emulated_registers():
    d = digits()
    m, h = train(d, TrainConfig(model="mlp", weights="e4m3", rounding="signed_sr_eps", eps=0.25, lr=0.1,
                                epochs=2, batch=32, hidden=16, seed=2))
    assert h.epochs[-1]["loss"] < h.epochs[0]["loss"] / 2 and h.epochs[-1]["accuracy"] > 0.7
    assert m.W1.format.name == "e4m3" and m.W2.shape == (16, 10)


def test_mnist_idx_loader_and_config(tmp_path):
    import gzip
    import json

    from click.testing import CliRunner

    from cli.main import main
    from emu.train.data import mnist

    imgs = np.arange(3 * 4 * 4, dtype=np.uint8).reshape(3, 4, 4)
    hdr = bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in imgs.shape)
    with gzip.open(tmp_path / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(hdr + imgs.tobytes())
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + (3).to_bytes(4, "big")
                                                       + bytes([1, 0, 1]))
    d = mnist(tmp_path)
    assert d.X.shape == (3, 16) and d.y.tolist() == [1, 0, 1] and d.X[2, 15] == 47 / 255
    (tmp_path / "bad-images").write_bytes(b"\x01\x02")
    with pytest.raises(ValueError, match="not an IDX file"):
        from emu.train.data import read_idx

        read_idx(tmp_path / "bad-images")
    cfg = tmp_path / "run.toml"
    cfg.write_text('[train]\nmodel = "logistic"\ndata = "logistic"\nweights = "e5m2"\nepochs = 3\n')
    r = CliRunner().invoke(main, ["train", "--config", str(cfg), "--epochs", "1", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["config"]["weights"] == "e5m2" and len(doc["epochs"]) == 2  # --epochs 1 wins
    cfg.write_text("bogus = 1\n")
    r = CliRunner().invoke(main, ["train", "--config", str(cfg)])
    assert r.exit_code == 2 and "unknown option(s) bogus" in r.output


def test_trace_words_and_updates_replay_bit_exactly(tmp_path):
    """--trace: the words of step k are the LFSR stream, and W_next is exactly the SR rounding of
    the exact W - t * dW with those words (checked with the reference model)."""
    import reference as ref

    from emu.golden.hexio import read_hex

    d = synthetic_logistic(n=64)
    cfg = TrainConfig(model="logistic", weights="e5m2", rounding="sr", lr=0.1, epochs=1, batch=32, seed=3)
    _, h = train(d, cfg, trace_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == \
        ["step_000001", "step_000002", "trace.json"]  # (dot files: emu.outdir's bookkeeping)
    import emu

    words = emu.LFSR(seed=3).random_words(2 * 9, 8)
    f = emu.format("e5m2")
    for k, step in enumerate(("step_000001", "step_000002")):
        s = tmp_path / step
        r = read_hex(s / "r.hex", 8)
        assert r.tolist() == words[9 * k: 9 * k + 9].tolist()
        w, g, w2 = (read_hex(s / n, 8) for n in ("W.hex", "W_grad.hex", "W_next.hex"))
        for i in range(8):  # the exact value, t = the float64 0.1 (not 1/10), rounded once
            x = f.code_value(int(w[i])) - Fraction(0.1) * f.code_value(int(g[i]))
            assert ref.round_value(x, f, "sr", saturate=True, rbits=8, rword=int(r[i])) == w2[i]
    assert all("shrinkage" in st for st in h.steps)


@pytest.mark.slow  # compile-bound on a cold numba cache (~10-65 s): CI runs it once, in the main run
def test_rosenbrock_and_himmelblau_rne_stagnates_sr_moves_on():
    from emu.train.problems import Himmelblau, Rosenbrock

    for prob, x0, lr in ((Rosenbrock(), (-0.5, 0.5), 0.001), (Himmelblau(), (1.0, 1.0), 0.005)):
        rne = run_gd(prob, x0, lr, 3000, PrecisionPolicy("s16.8", "update", update="rne"))
        assert rne.stagnant[-200:] == [1.0] * 200  # frozen, bit for bit
        srs = [run_gd(prob, x0, lr, 3000, PrecisionPolicy("s16.8", "update", update="sr"), seed=s).loss[-1]
               for s in (1, 2, 3)]
        assert np.mean(srs) < rne.loss[-1]


@pytest.mark.slow  # compile-bound on a cold numba cache (~10-65 s): CI runs it once, in the main run
def test_shipped_experiment_configs_show_the_published_outcome():
    """Each shipped example config (emu train --config) run as a sweep task runs it."""
    from emu.train import experiments, sweep
    from emu.train.options import read_toml

    paths = sorted(Path(experiments.__file__).parent.glob("*.toml"))
    res = {p.stem: sweep.run_task(sweep.expand({"base": read_toml(p)["train"]})[0]) for p in paths}
    assert len(res) == 7  # and the MX run (tests/test_train_mx.py checks it)
    for fam in ("logistic_s16.8", "softmax_digits_e4m3"):
        rne, sr, eps = (res[f"{fam}_{m}"] for m in ("rne", "sr", "signed_sr_eps"))
        assert rne["stagnant_share"] > sr["stagnant_share"] > eps["stagnant_share"]
        assert min(sr["final_loss"], eps["final_loss"]) < rne["final_loss"]
    assert res["logistic_s16.8_rne"]["stagnant_share"] == 1.0  # frozen: every weight
    digits_eps, digits_sr = res["softmax_digits_e4m3_signed_sr_eps"], res["softmax_digits_e4m3_sr"]
    assert digits_eps["final_loss"] < digits_sr["final_loss"]


# --- one engine ---------------------------------------------------------------------------------
def test_one_learning_rate_default():
    """TrainConfig, emu train --lr and sweep files share one default step size."""
    from cli.train import train as train_cmd
    from emu.train import sweep
    from emu.train.engine import LR

    cli_lr = next(p.default for p in train_cmd.params if p.name == "lr")
    assert TrainConfig().lr == LR == sweep.DEFAULTS["lr"] == cli_lr


def test_a_step_returns_its_metrics():
    """model.step returns the minibatch loss and accuracy, the update's statistics and the
    gradients; History.steps holds exactly those records (nothing travels on the side)."""
    from emu.train.linear import LinearModel

    d = synthetic_logistic(n=64)
    cfg = TrainConfig(model="logistic", weights="e5m2", rounding="rne", epochs=1, batch=0, seed=2)
    m = LinearModel(d, cfg)
    W0, b0 = m.W, m.b
    res = m.step(d, np.arange(64))
    assert set(res.grads) == {"W", "b"} and res.grads["W"].shape == W0.shape
    same = np.count_nonzero(m.W.codes == W0.codes) + np.count_nonzero(m.b.codes == b0.codes)
    assert res.stats.stagnant_share == same / (W0.size + b0.size) < 1
    _, h = train(d, cfg)
    assert h.steps == [res.record(1)]
    assert not hasattr(m, "last") and not hasattr(m, "batch_metrics")


def test_run_gd_every_op_rounds_the_gradient_then_the_step():
    """run_gd's every_op step is the engine's: g rounded with `grad`, s = t*g with `step`, then
    x - s, each once (checked against the reference, rne and rtz)."""
    import reference as ref

    import emu

    f = emu.format("e4m3")
    r = run_gd(Q, (2.0, 2.0), T, 1, PrecisionPolicy("e4m3", "every_op", update="rtz", grad="rne",
                                                       step="rtz"))
    x0 = [Fraction(2)] * 2
    g = Q.grad(np.array([2.0, 2.0]))
    t = f.code_value(ref.round_value(Fraction(T), f, "rne", saturate=True))
    for i in range(2):
        gq = f.code_value(ref.round_value(float(g[i]), f, "rne", saturate=True))
        s = f.code_value(ref.round_value(t * gq, f, "rtz", saturate=True))
        assert f.code_value(ref.round_value(x0[i] - s, f, "rtz", saturate=True)) == r.x[i]


def test_policy_and_config_share_the_rule_checks():
    for make, grad in ((PrecisionPolicy, "grad"), (TrainConfig, "grad_rounding")):
        with pytest.raises(ValueError, match="applies to sr_eps / signed_sr_eps"):
            make(eps=0.25)
        with pytest.raises(ValueError, match="no descent direction"):
            make(**{grad: "signed_sr_eps"})
    assert TrainConfig(scheme="every_op", step_rounding="sr_eps", eps=0.25).policy == \
        PrecisionPolicy("e4m3", "every_op", "sr", "rne", "sr_eps", 0.25, 8)


# --- q against the full-precision gradient (docs/semantics.md §11.1) ----------------------------
def _loss64(model: str, params: list[np.ndarray], X: np.ndarray, y: np.ndarray) -> float:
    """The minibatch loss in float64, written out apart from emu.train.linear."""
    if model == "mlp":
        W1, b1, W2, b2 = params
        z = np.maximum(X @ W1 + b1, 0.0) @ W2 + b2
    else:
        W, b = params
        z = X @ W + b
    if model == "least_squares":
        return 0.5 * np.mean((z[:, 0] - y) ** 2)
    if model == "logistic":
        return np.mean(np.log1p(np.exp(-z[:, 0])) + (1 - y) * z[:, 0])
    z = z - z.max(axis=1, keepdims=True)
    return -np.mean(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1)))


@pytest.mark.parametrize("model", ["least_squares", "logistic", "softmax", "mlp"])
def test_exact_gradient_matches_finite_differences(model):
    """g* (the float64 gradient at the decoded weights, float64 data) against central
    differences of the loss, every parameter element, on a tiny problem after one step (so the
    weights are not all zero)."""
    from emu.train.linear import MLP, LinearModel
    from emu.train.linear import _targets as targets

    rng = np.random.default_rng(5)
    X = rng.standard_normal((6, 3))
    y = {"least_squares": rng.standard_normal(6), "logistic": np.array([0, 1, 1, 0, 1, 0]),
         "softmax": np.array([0, 1, 2, 2, 1, 0]), "mlp": np.array([0, 1, 2, 2, 1, 0])}[model]
    from emu.train.data import Dataset

    d = Dataset(X, y, "tiny", {"least_squares": 0, "logistic": 2}.get(model, 3))
    cfg = TrainConfig(model=model, weights="e5m10", rounding="rne", batch=0, hidden=4, seed=3)
    m = (MLP if model == "mlp" else LinearModel)(d, cfg)
    m.step(d, np.arange(6))
    params = m.weights()
    g = m.exact_grads(X, targets(d, np.arange(6), m.link))
    h = 1e-6
    for k, p in enumerate(params):
        for i in np.ndindex(p.shape):
            up = [q.copy() for q in params]
            dn = [q.copy() for q in params]
            up[k][i] += h
            dn[k][i] -= h
            fd = (_loss64(model, up, X, y) - _loss64(model, dn, X, y)) / (2 * h)
            assert abs(fd - g[k][i]) < 1e-7 + 1e-6 * abs(fd), (model, k, i)


def test_e3m2_gradients_shrink_q_not_the_datapath_ratio():
    """Softmax on the digits, e4m3 weights, SR update: with e3m2 gradients most of dZ = (p - y)/B
    (B = 28) falls below e3m2's smallest subnormal, 2^-4, and flushes to 0. The update takes the
    datapath's gradient faithfully (datapath_shrinkage ~ 1 on average), but against the float64
    gradient q is far below 1; with e4m3 gradients both stay near 1. Measured: q 0.26 against
    1.005 (e3m2, 10 of 52 steps with the whole gradient flushed), 0.997 against 0.997 (e4m3)."""
    tr, _ = load_split("digits")
    q = {}
    for g in ("e3m2", "e4m3"):
        _, h = train(tr, TrainConfig(model="softmax", weights="e4m3", grads=g, rounding="sr",
                                     epochs=1, batch=28, seed=1))
        qs = np.array([s["shrinkage"] for s in h.steps])
        dp = np.array([s["datapath_shrinkage"] for s in h.steps])
        assert not np.isnan(qs).any()  # g* is never 0 here
        q[g] = (qs.mean(), np.nanmean(dp))  # dp is NaN where the whole e3m2 gradient flushed
    assert q["e3m2"][0] < 0.4 and abs(q["e3m2"][1] - 1) < 0.05
    assert q["e4m3"][0] > 0.95 and abs(q["e4m3"][1] - 1) < 0.05


def test_q_is_zero_when_frozen_and_nan_without_a_gradient():
    from emu.train.data import Dataset

    d = synthetic_logistic(n=32)
    cfg = TrainConfig(model="logistic", weights="e4m3", rounding="rne", lr=1e-4, epochs=1, batch=0)
    m, h = train(d, cfg)
    s = h.steps[0]  # every step rounds back to the old value (0 may become -0: a changed code)
    assert not m.W.to_float().any() and not m.b.to_float().any()
    assert s["shrinkage"] == 0.0 and s["datapath_shrinkage"] == 0.0
    zero = Dataset(d.X, np.zeros(32), "zero targets")  # W = 0 fits y = 0: g* = 0
    _, h = train(zero, TrainConfig(model="least_squares", weights="e4m3", rounding="sr", epochs=1,
                                   batch=0))
    s = h.steps[0]
    assert np.isnan(s["shrinkage"]) and np.isnan(s["datapath_shrinkage"])


# --- fixed-point weights with float activations (emu.matmul's mixed operands) -------------------
def test_fixed_weights_float_activations_forward_by_value():
    """s16.8 weights, e4m3 activations: X W in fp32 (the fixed operand by value), rounded rne
    into e4m3, plus the s16.8 bias by value, rounded once into e4m3. Checked against float64
    arithmetic on two features (every sum exact in float64), then float32 and e4m3 roundings."""
    import emu
    from emu.train.data import Dataset
    from emu.train.linear import LinearModel

    rng = np.random.default_rng(7)
    d = Dataset(rng.uniform(-2, 2, (16, 2)), np.arange(16) % 3, "tiny", 3)
    m = LinearModel(d, TrainConfig(model="softmax", weights="s16.8", activations="e4m3", lr=0.3,
                                   rounding="sr", batch=0))
    for _ in range(3):  # nonzero weights and biases, off e4m3's grid
        m.step(d, np.arange(16))
    W, b = m.W.to_float(), m.b.to_float()
    assert m.W.format.name == "s16.8" and not np.all(np.isin(W, emu.quantize(W, "e4m3").to_float()))
    Xq = m.inputs(d.X)
    z = m._bias_add(m._mm(Xq, m.W, m.af), m.b).to_float()

    def e4m3(v):
        return emu.quantize(v, "e4m3", rounding="rne", saturate=True).to_float()

    xw = Xq.to_float() @ W  # two exact products, an exact float64 sum
    assert np.array_equal(z, e4m3(e4m3(xw.astype(np.float32).astype(np.float64)) + b))


@pytest.mark.parametrize("model, lr, epochs", [("softmax", "0.5", "2"), ("mlp", "0.3", "4")])
def test_fixed_weights_float_activations_train_end_to_end(tmp_path, model, lr, epochs):
    """Through the CLI on 300 digits, scored on 100 held out. Chance is the best constant guess,
    p0 = the largest class share among the 100 (0.13); a model at chance scores above
    p0 + 5 sqrt(p0 (1 - p0) / 100) = 0.30 with probability below 3e-7. Measured: 0.70 (softmax),
    0.68 (mlp)."""
    import json

    from click.testing import CliRunner

    from cli.main import main

    r = CliRunner().invoke(main, ["train", "--model", model, "--hidden", "16", "--weights", "s16.8",
                                  "--activations", "e4m3", "--lr", lr, "--epochs", epochs,
                                  "--train-size", "300", "--test-size", "100", "--out",
                                  str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "o" / "history.json").read_text())
    ep = doc["epochs"]
    assert doc["config"]["weights"] == "s16.8" and ep[-1]["loss"] < ep[0]["loss"]
    p0 = np.bincount(load_split("digits", test_size=100)[1].y).max() / 100
    assert ep[-1]["test_accuracy"] > p0 + 5 * np.sqrt(p0 * (1 - p0) / 100)
    r = CliRunner().invoke(main, ["train", "--weights", "s16.8", "--grads", "e5m2", "--scheme",
                                  "every_op"])
    assert r.exit_code == 2 and "elementwise arithmetic takes one kind" in r.output


# --- refused at config time, before any work (a hostile-user pass) ------------------------------
@pytest.mark.parametrize("kw, match", [
    (dict(seed=0), r"seed = 0 is also the LFSR's start state \(rng_seed defaults to seed\), which "
                   r"must be 1..2\^32-1: give rng_seed"),
    (dict(seed=2**70), "seed = 1180591620717411303424 is also the LFSR's start state"),
    (dict(rng_seed=2**32), r"rng_seed=4294967296 out of range; valid: 1..4294967295"),
    (dict(sr_bits=64), r"sr_bits=64 out of range; valid: 1..32 \(random bits"),
    (dict(grads="u8.4"), "grads = u8.4 is unsigned: gradients have both signs"),
    (dict(weights="u8.4"), "the gradients take the weights' format u8.4 .* is unsigned"),
    (dict(weights="u8.4", grads="s9.4", scheme="every_op"), "u8.4 is unsigned"),
    (dict(weights="s32.16"), r"mac_accumulator\(s32.16, s32.16, 16 guard bits\), would need 80 "
                             r"bits, more than 64: give acc \(--acc\)"),
    (dict(weights="s64.32", activations="s8.4"), "would need 88 bits"),
    (dict(model="mlp", weights="s41.8", activations="s4.2", grads="s8.4"),  # dZ W2^T: mlp only
     r"grads s8.4 x weights s41.8.*would need 65 bits"),
    (dict(step_rounding="sr"), "step_rounding = 'sr' rounds the step s = t.g of scheme every_op"),
])
def test_config_refuses_what_would_fail_or_mislead_later(kw, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kw)


def test_config_accepts_the_ways_out():
    TrainConfig(seed=0, rng_seed=5)            # numpy's seed may be 0 when the LFSR's is given
    TrainConfig(seed=2**70, rng_seed=1)
    TrainConfig(weights="u8.4", grads="s9.4")  # unsigned weights, signed gradients
    TrainConfig(weights="s32.16", acc="fp32")
    TrainConfig(weights="s32.16", acc="s64.32")
    TrainConfig(scheme="every_op", step_rounding="sr")
    TrainConfig(step_rounding="RNE")           # the default, however spelled
    TrainConfig(model="softmax", weights="s41.8", activations="s4.2", grads="s8.4")


def test_history_config_reruns_the_run(tmp_path):
    """history.json's config holds the data options (the --data spec, train_size, test_size)
    beside the model's: written out as a TOML --config, it reruns the same run bit for bit."""
    import json

    from click.testing import CliRunner

    from cli.main import main

    args = ["train", "--model", "logistic", "--data", "logistic", "--train-size", "50",
            "--test-size", "20", "--epochs", "2", "--batch", "16", "--weights", "e5m2",
            "--rounding", "sr_eps", "--eps", "0.25", "--seed", "3"]
    r = CliRunner().invoke(main, args + ["--out", str(tmp_path / "run")])
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "run" / "history.json").read_text())
    cfg = doc["config"]
    assert (cfg["data"], cfg["train_size"], cfg["test_size"]) == ("logistic", 50, 20)
    assert doc["data"] == "logistic[:50]"  # the display name stays beside it
    rerun_from_history(tmp_path, doc)


def test_header_names_each_stage_and_counts_samples():
    from click.testing import CliRunner

    from cli.main import main

    r = CliRunner().invoke(main, ["train", "--train-size", "1", "--test-size", "1", "--epochs", "1",
                                  "-r", "sr_eps", "--eps", "0.25"])
    assert r.exit_code == 0, r.output
    head = r.output.splitlines()[0]
    assert "(1 sample, test digits-test[:1] (1 sample))" in head
    assert "rounding: grad rne, update sr_eps (eps 0.25); scheme update" in head
    r = CliRunner().invoke(main, ["train", "--train-size", "2", "--epochs", "0", "--scheme", "every_op",
                                  "--grad-rounding", "sr_eps", "--step-rounding", "sr", "--eps", "0.5"])
    assert r.exit_code == 0, r.output
    assert "(2 samples," in r.output
    assert "rounding: grad sr_eps, step sr, update sr (eps 0.5); scheme every_op" in r.output


def test_plot_hint_names_the_distribution(monkeypatch):
    import click

    import emu.train.plots as plots
    from cli.common import pyplot

    def missing():
        raise ImportError("no matplotlib")

    monkeypatch.setattr(plots, "pyplot", missing)
    with pytest.raises(click.UsageError, match=r"pip install 'emu-arith\[plot\]'"):
        pyplot()
