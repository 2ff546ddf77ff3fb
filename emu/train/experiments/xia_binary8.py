"""Xia, Massei, Hochstenbach, Koren (arXiv 2202.12276; JOTA 200, 2024): gradient descent with
every operation rounded into an 8-bit float; SR_eps on the gradient and on t*g, signed SR_eps on
the update, against round-to-nearest and plain SR (`emu experiments xia-binary8`).

binary8: the paper's 8-bit format has 1 sign, 4 exponent and 3 fraction bits; we read it as the
IEEE-style layout (bias 7, subnormals, Inf and NaN, largest finite 240), which is what chop's
custom formats (Higham & Pranesh) give and what emu calls ``e4m3ieee``. OCP's e4m3 (no Inf,
largest 448) differs only above 240 and in the special codes; training roundings saturate, so
no value here reaches either difference. (The paper's full text was not available to us: the
layout, step size and eps values are our choices, stated in the table notes.)

Datapath (emu.train.linear, TrainConfig scheme="every_op"): weights, activations and gradients
in binary8; products X W, X^T dZ through emu.matmul with an fp32 accumulator, rounded into
binary8 (forward rne, backward with the gradient rounding); dZ = (p - y)/B computed in float64
and rounded into binary8 with the gradient rounding; s = fl(t * g) with the step rounding;
w = fl(w - s) with the update rounding. Modes:

  RN        rne everywhere
  SR        sr (r = 8) for the gradient, the step and the update
  SR_eps    sr_eps for the gradient and the step, signed_sr_eps (d = -sign(g)) for the update

The float64 reference trains the same model in numpy float64 (same initial weights before
rounding, same minibatch order, unrounded inputs): emu has no float64 register format.

Data (emu.train.data.load_split): full size Fashion-MNIST ('fashion-mnist': the first
TRAIN_FULL training images and the first TEST_FULL t10k images, pixels / 255), or the digits
when those files are absent; quick size (CI, and the tests) always the 8x8 digits shipped with
emu, in load_split's fixed split (numpy default_rng(0).permutation(1797): 1,438 train, 359
test), of which the first TRAIN_QUICK training samples.
"""

from __future__ import annotations

import numpy as np

from ..data import FASHION_MNIST_DIR, Dataset, load_split
from ..linear import TrainConfig, epoch_batches, forward64, grads64, initial_weights, metrics, train
from .report import Curve, Estimate, Panel, Result, rng_seed, run_seeds

TITLE = "binary8 gradient descent, every operation rounded: RN vs SR vs SR_eps"
SOURCE = "Xia, Massei, Hochstenbach, Koren, arXiv 2202.12276 (JOTA 2024)"
SEEDS = 16

FORMAT = "e4m3ieee"
LR = 0.1
HIDDEN = 32
BATCH = 32
TRAIN_FULL, TEST_FULL = 1000, 2000
TRAIN_QUICK = 1000  # the first 1,000 of the digits' 1,438 training samples
EPS = (0.1, 0.2)

MODES = {"RN": dict(rounding="rne", grad_rounding="rne", step_rounding="rne"),
         "SR": dict(rounding="sr", grad_rounding="sr", step_rounding="sr")}
for _e in EPS:
    MODES[f"SR_eps {_e}"] = dict(rounding="signed_sr_eps", grad_rounding="sr_eps",
                                 step_rounding="sr_eps", eps=_e)


def settings(quick: bool) -> list[tuple[str, int, int]]:
    """(model, batch, epochs): full batch (batch 0; an epoch is one step) and minibatch."""
    if quick:
        return [("softmax", 0, 8), ("softmax", BATCH, 1), ("mlp", BATCH, 1)]
    return [("softmax", 0, 30), ("softmax", BATCH, 2), ("mlp", BATCH, 1)]


def load(quick: bool) -> tuple[Dataset, Dataset]:
    """(training set, test set) of the preset's size (see the module doc)."""
    if not quick:
        if FASHION_MNIST_DIR.is_dir():  # installed: a broken file is an error, not the digits
            return load_split("fashion-mnist", TRAIN_FULL, TEST_FULL)
        return load_split("digits")
    return load_split("digits", TRAIN_QUICK)


# --- the float64 reference (numpy, the same model, init and order as emu.train.linear) ---------
def train64(data: Dataset, model: str, batch: int, epochs: int, seed: int,
            lr: float = LR) -> tuple[list[np.ndarray], list[float]]:
    """Float64 SGD: LinearModel's zeros or MLP's Glorot draws from default_rng(seed), minibatches
    from another default_rng(seed)'s permutations, dZ = (p - y)/B; the weights and the training
    loss after each epoch (epoch 0 first)."""
    n, d = data.X.shape
    params = initial_weights(model, d, data.n_classes, HIDDEN, seed)
    T = np.eye(data.n_classes)[data.y]
    order = np.random.default_rng(seed)
    losses = [_loss64(params, data, T)]
    for _ in range(epochs):
        for idx in epoch_batches(n, batch, order):
            grads = grads64("softmax", params, data.X[idx], T[idx])
            params = [p - lr * g for p, g in zip(params, grads, strict=True)]
        losses.append(_loss64(params, data, T))
    return params, losses


def _loss64(params, data, T) -> float:
    return metrics(forward64("softmax", params, data.X)[1], T, data.y, "softmax")["loss"]


def accuracy64(params, data: Dataset) -> float:
    return metrics(forward64("softmax", params, data.X)[1], np.eye(data.n_classes)[data.y], data.y,
                   "softmax")["accuracy"]


def run(quick: bool = False, seeds: int = SEEDS, progress=None) -> Result:
    train_set, test_set = load(quick)
    seeds_ = run_seeds(seeds)
    grid = settings(quick)

    def deterministic(model, batch, mode):  # nothing of the run seed reaches the run
        return mode == "RN" and model != "mlp" and batch == 0

    total = sum(1 if deterministic(m, b, mode) else seeds for m, b, _ in grid for mode in MODES)
    done = 0
    res = Result("xia-binary8", TITLE, SOURCE,
                 ["model", "batch", "epochs", "rounding", "test accuracy", "train loss",
                  "stagnant share"], size="quick" if quick else "full", seeds=seeds)
    cells = {}
    for model, batch, epochs in grid:
        panel = f"{model}, " + ("full batch" if batch == 0 else f"batch {batch}")
        res.panels[panel] = Panel(f"{panel}, {FORMAT}, lr {LR}", "epoch", "training loss")
        for mode, kw in MODES.items():
            accs, losses, stag, curves = [], [], [], []
            for s in seeds_[:1] if deterministic(model, batch, mode) else seeds_:
                cfg = TrainConfig(model=model, weights=FORMAT, scheme="every_op", lr=LR,
                                  epochs=epochs, batch=batch, seed=s, rng_seed=rng_seed(s),
                                  hidden=HIDDEN, **kw)
                m, hist = train(train_set, cfg)
                accs.append(m.loss_accuracy(test_set)[1])
                losses.append(hist.epochs[-1]["loss"])
                stag.append(hist.epochs[-1]["stagnant_share"])
                curves.append([e["loss"] for e in hist.epochs])
                done += 1
                if progress:
                    progress(done, total)
            cells[model, batch, mode] = (accs, losses)
            res.row(model=model, batch=batch or "full", epochs=epochs, rounding=mode,
                    **{"test accuracy": Estimate.of(accs), "train loss": Estimate.of(losses),
                       "stagnant share": Estimate.of(stag)})
            res.curves.append(Curve(panel, mode, np.arange(epochs + 1), np.array(curves)))
        ref = [train64(train_set, model, batch, epochs, s)
               for s in (seeds_[:1] if model != "mlp" and batch == 0 else seeds_)]
        accs = [accuracy64(p, test_set) for p, _ in ref]
        cells[model, batch, "float64"] = (accs, [ls[-1] for _, ls in ref])
        res.row(model=model, batch=batch or "full", epochs=epochs, rounding="float64 (numpy)",
                **{"test accuracy": Estimate.of(accs),
                   "train loss": Estimate.of([ls[-1] for _, ls in ref])})
        res.curves.append(Curve(panel, "float64", np.arange(epochs + 1),
                                np.array([ls for _, ls in ref])))
    res.notes += [
        f"Data: {train_set.name} ({len(train_set)} training, {len(test_set)} test samples, "
        f"{train_set.X.shape[1]} features); {FORMAT} (binary8 read as IEEE-style 1/4/3, max 240) "
        f"for weights, activations and gradients, scheme every_op, fp32 matmul accumulation, "
        f"lr {LR}, r = 8 random bits, MLP hidden {HIDDEN} ReLU units; eps {', '.join(map(str, EPS))} "
        "(our choice: the paper's values were not available to us).",
        "Rows with one run (n = 1) are deterministic: RN with full batches and zero initial "
        "weights draws nothing from the run seed. Float64: numpy, same initial draws and order.",
    ]
    res.notes += _findings(cells, grid)
    return res


def _findings(cells: dict, grid) -> list[str]:
    out = []
    for model, batch, _ in grid:
        name = f"{model}, " + ("full batch" if batch == 0 else f"batch {batch}")
        acc = {k[2]: Estimate.of(v[0]) for k, v in cells.items() if k[:2] == (model, batch)}
        loss = {k[2]: Estimate.of(v[1]) for k, v in cells.items() if k[:2] == (model, batch)}
        out.append(f"{name}: test accuracy " + ", ".join(f"{m} {acc[m]}" for m in acc)
                   + "; train loss " + ", ".join(f"{m} {loss[m]}" for m in loss) + ".")
    return out
