"""Linear models trained on emulated registers: least squares, logistic and softmax regression.

Weights, activations and gradients are Registers. The forward product X W and the backward
product X^T dZ run through ``emu.matmul`` with the configured accumulator. The nonlinearities
(sigmoid, softmax) and the loss derivative dZ = (p - y) / B are computed in float64 from the
registers' exact values and then rounded into the gradient format (documented: the emulated
datapath starts at the rounded dZ). The update follows the precision policy's scheme:
``update`` rounds W - t * dW once (Xia et al. 2301.09511), ``every_op`` rounds s = fl(t * dW)
and then W - s (Xia et al. 2202.12276); signed_sr_eps takes d = -sign(dW).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from ..arith import add, mul, sub
from ..formats import FixedFormat
from ..formats import format as parse_format
from ..lfsr import LFSR
from ..linalg import mac_accumulator, matmul
from ..ops import quantize
from ..registers import Registers
from ..rounding import mode_code
from .data import Dataset

MODELS = {"least_squares": "identity", "logistic": "sigmoid", "softmax": "softmax"}


@dataclass(frozen=True)
class TrainConfig:
    model: str = "softmax"
    weights: str = "e4m3"
    activations: str | None = None  # default: the weights' format
    grads: str | None = None        # default: the weights' format
    acc: str | None = None          # default: fp32 for floats, a 16-guard-bit MAC for fixed
    rounding: str = "sr"            # the update's rounding
    grad_rounding: str = "rne"
    step_rounding: str = "rne"      # every_op: rounding of s = t * dW
    eps: float = 0.0
    scheme: str = "update"
    lr: float = 0.1
    epochs: int = 5
    batch: int = 32                 # 0: full batch
    seed: int = 1
    sr_bits: int = 8

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; valid: {', '.join(MODELS)}")
        if self.scheme not in ("update", "every_op"):
            raise ValueError(f"unknown scheme {self.scheme!r}; valid: update, every_op")
        for m in (self.rounding, self.grad_rounding, self.step_rounding):
            mode_code(m)
        if self.lr <= 0 or self.epochs < 0 or self.batch < 0:
            raise ValueError("lr must be > 0, epochs and batch >= 0")


@dataclass
class History:
    config: dict
    epochs: list[dict] = field(default_factory=list)   # loss, accuracy, stagnant_share, seconds
    steps: list[dict] = field(default_factory=list)    # loss (minibatch), stagnant_share


def _kw(fmt, mode, cfg, rng, direction=None) -> dict:
    kw = {"overflow": "sat"} if isinstance(fmt, FixedFormat) else {"saturate": True}
    if mode_code(mode) >= 10:
        kw.update(rng=rng, sr_bits=cfg.sr_bits)
        if mode in ("sr_eps", "signed_sr_eps"):
            kw["eps"] = cfg.eps
        if mode == "signed_sr_eps":
            kw["direction"] = direction
    return kw


def _link(z: np.ndarray, link: str) -> np.ndarray:
    if link == "identity":
        return z
    if link == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _targets(data: Dataset, idx: np.ndarray, link: str) -> np.ndarray:
    y = data.y[idx]
    if link == "softmax":
        t = np.zeros((len(idx), data.n_classes))
        t[np.arange(len(idx)), y] = 1.0
        return t
    return y.reshape(-1, 1).astype(np.float64)


class LinearModel:
    """W (d x c) and b (c) in the weights format; see the module doc for the datapath."""

    def __init__(self, data: Dataset, cfg: TrainConfig):
        self.cfg = cfg
        self.link = MODELS[cfg.model]
        self.wf = parse_format(cfg.weights)
        self.af = parse_format(cfg.activations or cfg.weights)
        self.gf = parse_format(cfg.grads or cfg.weights)
        if isinstance(self.af, FixedFormat):
            self.acc = parse_format(cfg.acc) if cfg.acc else mac_accumulator(self.af, self.wf, 16)
        else:
            self.acc = parse_format(cfg.acc or "fp32")
        if self.link == "softmax" and data.n_classes < 2:
            raise ValueError("softmax regression needs class labels")
        self.c = data.n_classes if self.link == "softmax" else 1
        d = data.X.shape[1]
        zeros = np.zeros((d, self.c))
        self.W = quantize(zeros, self.wf, "rne", **_kw(self.wf, "rne", cfg, None))
        self.b = quantize(np.zeros((1, self.c)), self.wf, "rne", **_kw(self.wf, "rne", cfg, None))
        self.rng = LFSR(seed=cfg.seed)
        self.t_W = quantize(np.full(self.W.shape, cfg.lr), self.wf, "rne",
                            **_kw(self.wf, "rne", cfg, None))
        self.t_b = self.t_W[:1]

    def inputs(self, X: np.ndarray) -> Registers:
        return quantize(X, self.af, "rne", **_kw(self.af, "rne", self.cfg, None))

    def forward(self, Xq: Registers) -> np.ndarray:
        z = matmul(Xq, self.W, acc=self.acc, out=self.af, **_kw(self.af, "rne", self.cfg, None))
        z = add(z, Registers(np.broadcast_to(self.b.codes, z.shape).copy(), self.wf), out=self.af,
                **_kw(self.af, "rne", self.cfg, None))
        return _link(z.to_float(), self.link)

    def loss_accuracy(self, data: Dataset) -> tuple[float, float | None]:
        p = self.forward(self.inputs(data.X))
        t = _targets(data, np.arange(len(data)), self.link)
        if self.link == "identity":
            return float(0.5 * np.mean((p - t) ** 2)), None
        if self.link == "sigmoid":
            pc = np.clip(p, 1e-12, 1 - 1e-12)
            loss = -np.mean(t * np.log(pc) + (1 - t) * np.log(1 - pc))
            return float(loss), float(np.mean((p[:, 0] > 0.5) == (t[:, 0] > 0.5)))
        loss = -np.mean(np.log(np.clip(p[np.arange(len(data)), data.y], 1e-12, None)))
        return float(loss), float(np.mean(p.argmax(axis=1) == data.y))

    def step(self, data: Dataset, idx: np.ndarray) -> float:
        """One (minibatch) gradient step; returns the share of weight codes left unchanged."""
        cfg = self.cfg
        Xq = self.inputs(data.X[idx])
        p = self.forward(Xq)
        dz = (p - _targets(data, idx, self.link)) / len(idx)
        dzq = quantize(dz, self.gf, cfg.grad_rounding, **_kw(self.gf, cfg.grad_rounding, cfg, self.rng))
        gW = matmul(Registers(np.ascontiguousarray(Xq.codes.T), self.af), dzq, acc=self.acc,
                    out=self.gf, out_rounding=cfg.grad_rounding,
                    **_kw(self.gf, cfg.grad_rounding, cfg, self.rng))
        ones = quantize(np.ones((1, len(idx))), self.gf, "rne", **_kw(self.gf, "rne", cfg, None))
        gb = matmul(ones, dzq, acc=self.acc, out=self.gf, **_kw(self.gf, "rne", cfg, None))
        moved = 0
        total = 0
        new = []
        for w, g, t in ((self.W, gW, self.t_W), (self.b, gb, self.t_b)):
            d = -np.sign(g.to_float()).astype(np.int8)
            if cfg.scheme == "update":
                w2 = quantize(w.to_float() - cfg.lr * g.to_float(), self.wf, cfg.rounding,
                              **_kw(self.wf, cfg.rounding, cfg, self.rng, d))
            else:
                s = mul(t, g, out=self.wf, rounding=cfg.step_rounding,
                        **_kw(self.wf, cfg.step_rounding, cfg, self.rng))
                w2 = sub(w, s, out=self.wf, rounding=cfg.rounding,
                         **_kw(self.wf, cfg.rounding, cfg, self.rng, d))
            moved += int(np.count_nonzero(w2.codes != w.codes))
            total += w.size
            new.append(w2)
        self.W, self.b = new
        return 1.0 - moved / total


def train(data: Dataset, cfg: TrainConfig, progress=None) -> tuple[LinearModel, History]:
    """SGD with a fixed step size; minibatches from a numpy permutation seeded by cfg.seed."""
    model = LinearModel(data, cfg)
    hist = History(asdict(cfg))
    order_rng = np.random.default_rng(cfg.seed)
    loss, acc = model.loss_accuracy(data)
    hist.epochs.append({"epoch": 0, "loss": loss, "accuracy": acc, "stagnant_share": None,
                        "seconds": 0.0})
    n = len(data)
    bs = cfg.batch or n
    for ep in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        perm = order_rng.permutation(n) if cfg.batch else np.arange(n)
        shares = []
        for s in range(0, n, bs):
            share = model.step(data, perm[s:s + bs])
            shares.append(share)
            hist.steps.append({"epoch": ep, "stagnant_share": share})
        seconds = time.perf_counter() - t0
        loss, acc = model.loss_accuracy(data)
        hist.epochs.append({"epoch": ep, "loss": loss, "accuracy": acc,
                            "stagnant_share": float(np.mean(shares)), "seconds": seconds})
        if progress:
            progress(hist.epochs[-1])
    return model, hist
