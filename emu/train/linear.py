"""Models trained on emulated registers: least squares, logistic and softmax regression, and a
2-layer ReLU MLP.

Weights, activations and gradients are Registers. The forward product X W and the backward
product X^T dZ run through ``emu.matmul`` with the configured accumulator. The nonlinearities
(sigmoid, softmax) and the loss derivative dZ = (p - y) / B are computed in float64 from the
registers' exact values and then rounded into the gradient format (documented: the emulated
datapath starts at the rounded dZ). Beside it, each step computes g*, the float64 gradient of the
same minibatch loss at the same (decoded) weights from the float64 data, for the shrinkage q
(docs/semantics.md §11.1); a held-out test set is evaluated after each epoch by the emulated
forward pass. The update is the training engine's (emu.train.engine, as
for run_gd): ``update`` rounds the exact W - t * dW once (Xia et al. 2301.09511), ``every_op``
rounds s = fl(t * dW) and then W - s (Xia et al. 2202.12276); signed_sr_eps takes d = -sign(dW).

Block formats (MX, NVFP4) for weights, activations or gradients are formats of the products'
operands (emu.train.operands): each product quantizes its operand from the high-precision tensor
along its reduction axis (W along d_in, X along the features for X W; X and dZ along the batch
for X^T dZ; dZ along the classes and W2 along d_out for dZ W2^T); rne for weights and
activations, grad_rounding for gradients; NVFP4 operands with the per-tensor scale (amax), the
bias without it. A product's output stays in the accumulator's format
where its role is a block format; block-format weights keep an fp32 (``master``) copy, the
registers the update rounds into, as mixed-precision MX training does.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__, parallel
from ..arith import add, context, mul
from ..blockdot import carried
from ..blockformats import is_block_format
from ..formats import FixedFormat
from ..formats import format as parse_format
from ..front import matmul, quantize
from ..hexwords import format_hex
from ..lfsr import LFSR
from ..linalg import mac_accumulator, promoted
from ..outdir import staged, write_atomic
from ..registers import Registers
from ..rounding import Rounding, canonical
from ..sources import Recorder
from ..validate import integer, real
from .data import Dataset
from .engine import LR, PrecisionPolicy, StepStats, decoded, rounding_kwargs, training_rounding
from .operands import Operand, compatible, is_block, product_operands, train_format

LFSR_WIDTH = 32                 # the training LFSR (emu.lfsr.LFSR's default width)
LFSR_MAX = (1 << LFSR_WIDTH) - 1  # its start states: 1..2^32-1 (all-zero never leaves zero)
MAC_GUARD_BITS = 16             # fixed x fixed products: the default MAC's guard bits
MASTER = "fp32"                 # block-format weights: the master copy's default format

# emu.matmul's own defaults (rne) for the accumulator, the products and the promotion, given as
# the Rounding value they stand for: matmul then takes it as it is instead of building it from
# the name on every call
_DEFAULT_ROUNDINGS = {k: Rounding() for k in ("acc_rounding", "product_rounding",
                                              "promote_rounding")}

MODELS = {"least_squares": "identity", "logistic": "sigmoid", "softmax": "softmax", "mlp": "softmax"}


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
    lr: float = LR
    epochs: int = 5
    batch: int = 32                 # 0: full batch
    seed: int = 1                   # data order and initial weights
    rng_seed: int | None = None     # the LFSR's start state (default: seed), apart from seed so
    #                                 SR noise and data-order noise can be varied separately
    sr_bits: int = 8
    hidden: int = 32                # mlp: hidden ReLU units
    master: str | None = None       # block-format weights: the master copy's format (default fp32)

    def __post_init__(self):
        for name in ("model", "scheme", "rounding", "grad_rounding", "step_rounding", "weights",
                     "activations", "grads", "acc", "master"):
            v = getattr(self, name)
            if v is not None and not isinstance(v, str):
                raise ValueError(f"{name} = {v!r}: needs a name (a string)")
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; valid: {', '.join(MODELS)}")
        for name in ("weights", "activations", "grads"):
            v = getattr(self, name)
            if v is not None:
                train_format(v, name)  # block or element; an unknown name lists the valid ones
        for name, what in (("acc", "an accumulator holds sums"),
                           ("master", "the master copy holds the parameters")):
            v = getattr(self, name)
            if v is not None and is_block_format(v):
                raise ValueError(f"{name} = {v!r}: {what} in an element format (fp32, bf16, ...); "
                                 "block formats are for the operands of products (weights, "
                                 "activations, grads)")
            if v is not None:
                train_format(v, name)  # an unknown name lists the valid ones; e8m0 refused
        wf = train_format(self.weights, "weights")
        af = train_format(self.activations, "activations") if self.activations else None
        if is_block(wf) and isinstance(af, FixedFormat):  # its bias would be promoted by value
            raise ValueError(f"weights {self.weights} (a block format) with fixed-point activations "
                             f"{self.activations}: the bias add needs float activations (or "
                             "element-format weights)")
        if self.master is not None and not is_block(wf):
            raise ValueError(f"master = {self.master!r} is the master copy of block-format weights "
                             f"(mxfp4, ...); weights {self.weights} are registers of their own "
                             "format, updated in place: leave master out")
        for name, lo in (("epochs", 0), ("batch", 0), ("seed", 0), ("hidden", 1)):
            integer(getattr(self, name), name, lo)
        if self.rng_seed is not None:
            integer(self.rng_seed, "rng_seed", 1, LFSR_MAX,
                    hint=f"the start state of the {LFSR_WIDTH}-bit LFSR, 1..2^{LFSR_WIDTH}-1")
        if self.rng_seed is None and not 1 <= self.seed <= LFSR_MAX:
            raise ValueError(f"seed = {self.seed} is also the LFSR's start state (rng_seed defaults "
                             f"to seed), which must be 1..2^{LFSR_WIDTH}-1: give rng_seed "
                             "(--rng-seed)")
        integer(self.sr_bits, "sr_bits", 1, LFSR_WIDTH,
                hint=f"random bits per stochastic rounding, drawn from a {LFSR_WIDTH}-bit LFSR")
        real(self.lr, "lr")
        if not self.lr > 0:
            raise ValueError(f"lr = {self.lr!r}: needs a number > 0")
        if self.scheme == "update" and canonical(self.step_rounding) != "rne":
            raise ValueError(f"step_rounding = {self.step_rounding!r} rounds the step s = t*g of "
                             "scheme every_op; scheme update rounds x - t*g once (rounding): use "
                             "scheme every_op or drop step_rounding")
        self.policy  # noqa: B018 - builds (and so checks) scheme, roundings, eps and sr_bits
        self._check_formats()

    def formats(self) -> tuple:
        """The formats of the weights, activations and gradients (an element format or an
        emu.BlockFormat each) and of the parameters' registers: the weights' format, or for
        block-format weights their master copy's (``master``, default fp32)."""
        wf = train_format(self.weights, "weights")
        af = train_format(self.activations or self.weights, "activations")
        gf = train_format(self.grads or self.weights, "grads")
        pf = train_format(self.master or MASTER, "master") if is_block(wf) else wf
        return wf, af, gf, pf

    def _check_formats(self) -> None:
        """Gradients need a sign; the update's arithmetic one kind; the default MAC accumulator
        must fit 64 bits; block operands of one product one block size and scale."""
        wf, af, gf, pf = self.formats()
        if isinstance(gf, FixedFormat) and not gf.signed:
            what = (f"grads = {self.grads}" if self.grads else
                    f"the gradients take the weights' format {self.weights} (grads' default), which")
            raise ValueError(f"{what} is unsigned: gradients have both signs, and every negative "
                             f"one would saturate to 0; give a signed grads (--grads), e.g. "
                             f"s{gf.width + 1}.{gf.frac}")
        if self.scheme == "every_op" and isinstance(pf, FixedFormat) and not pf.signed:
            raise ValueError(f"scheme every_op rounds the step s = t*g into the weights' format, "
                             f"and {pf.name} is unsigned (every step of the other sign would "
                             "saturate to 0); use scheme update or signed weights")
        # the gradient registers the update takes: the gradient format's, or for block-format
        # gradients the products' output (the accumulator's format)
        greg = gf if not is_block(gf) else parse_format(self.acc or "fp32")
        if self.scheme == "every_op" and isinstance(greg, FixedFormat) != isinstance(pf, FixedFormat):
            g_what = (f"the gradients' ({greg.name})" if not is_block(gf) else
                      f"the {gf.name} gradients' products' output ({greg.name}, the accumulator's)")
            raise ValueError(f"scheme every_op multiplies t in the weights' format ({pf.name}) "
                             f"by g in {g_what}, and elementwise arithmetic "
                             "takes one kind (float or fixed point); use scheme update or "
                             "gradients of the weights' kind")
        # the products the models take (emu.train.linear._Model._mm): X W, X^T dZ, 1^T dZ, and
        # for the MLP H W2 and dZ W2^T
        pairs = [(("activations", af), ("weights", wf)), (("activations", af), ("grads", gf)),
                 (("grads", gf), ("grads", gf))]
        if self.model == "mlp":
            pairs.append((("grads", gf), ("weights", wf)))
        for (na, fa), (nb, fb) in pairs[:2] + pairs[3:]:  # 1^T dZ: ones of fp32 for block dZ
            if is_block(fa) and is_block(fb) and not compatible(fa, fb):
                raise ValueError(
                    f"{na} {fa.name} (blocks of {fa.block_size}, {fa.scale.name} scales) and {nb} "
                    f"{fb.name} (blocks of {fb.block_size}, {fb.scale.name} scales) meet in a "
                    "product, and block operands multiply as blocks of one size and scale format "
                    "(OCP MX §6); give block formats of one family (MX: blocks of 32, e8m0) or an "
                    "element format for one of them")
        if self.acc is not None:
            return
        for (na, fa), (nb, fb) in pairs:
            if isinstance(fa, FixedFormat) and isinstance(fb, FixedFormat):
                try:  # the accumulator _mm would build
                    mac_accumulator(fa, fb, MAC_GUARD_BITS)
                except ValueError:
                    raise ValueError(
                        f"the default accumulator of {na} {fa.name} x {nb} {fb.name}, "
                        f"mac_accumulator({fa.name}, {fb.name}, {MAC_GUARD_BITS} guard bits), "
                        f"would need {fa.width + fb.width + MAC_GUARD_BITS} bits, more than 64: "
                        "give acc (--acc), a fixed-point format of at most 64 bits or fp32") from None

    @property
    def policy(self) -> PrecisionPolicy:
        """The update rule (emu.train.engine) of this configuration."""
        params = (self.master or MASTER) if is_block_format(self.weights) else self.weights
        return PrecisionPolicy(params, self.scheme, self.rounding, self.grad_rounding,
                               self.step_rounding, self.eps, self.sr_bits)


@dataclass
class History:
    config: dict
    epochs: list[dict] = field(default_factory=list)   # loss, accuracy, stagnant_share,
    #                                                      test_loss, test_accuracy (None: no test set)
    seconds: list[float] = field(default_factory=list)  # wall time per epoch (apart: results
    #                                                      of identical runs compare byte for byte)
    steps: list[dict] = field(default_factory=list)    # loss (minibatch), stagnant_share,
    #                                                      shrinkage, datapath_shrinkage


@dataclass(frozen=True)
class StepResult:
    """One minibatch step: the minibatch's loss and accuracy (before the update), what the
    update did, and each parameter's gradient (for --trace)."""

    loss: float
    accuracy: float | None
    stats: StepStats
    grads: dict[str, Registers]

    def record(self, epoch: int) -> dict:
        """The step's entry in History.steps."""
        return {"epoch": epoch, "loss": self.loss, "accuracy": self.accuracy,
                "stagnant_share": self.stats.stagnant_share, "shrinkage": self.stats.shrinkage,
                "datapath_shrinkage": self.stats.datapath_shrinkage}


def _kw(mode, cfg, rng, direction=None) -> dict:
    return rounding_kwargs(mode, cfg.eps, rng, cfg.sr_bits, direction)


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


def metrics(p: np.ndarray, t: np.ndarray, y: np.ndarray, link: str) -> dict:
    """Loss (and accuracy for classifiers) of predictions p against targets t."""
    if link == "identity":  # a diverged run's loss is Inf, reported as such: no warning
        with np.errstate(over="ignore", invalid="ignore"):
            return {"loss": float(0.5 * np.mean((p - t) ** 2)), "accuracy": None}
    if link == "sigmoid":
        pc = np.clip(p, 1e-12, 1 - 1e-12)
        return {"loss": float(-np.mean(t * np.log(pc) + (1 - t) * np.log(1 - pc))),
                "accuracy": float(np.mean((p[:, 0] > 0.5) == (t[:, 0] > 0.5)))}
    return {"loss": float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)))),
            "accuracy": float(np.mean(p.argmax(axis=1) == y))}


def initial_weights(model: str, d: int, c: int, hidden: int, seed: int) -> list[np.ndarray]:
    """The float64 starting parameters, before rounding into the weights' format: zeros for the
    linear models ([W, b]); for the MLP ([W1, b1, W2, b2]) Glorot-uniform W1 then W2 from numpy
    default_rng(seed), zero biases."""
    if model != "mlp":
        return [np.zeros((d, c)), np.zeros((1, c))]
    rng = np.random.default_rng(seed)
    lim1, lim2 = np.sqrt(6 / (d + hidden)), np.sqrt(6 / (hidden + c))
    w1 = rng.uniform(-lim1, lim1, (d, hidden))
    w2 = rng.uniform(-lim2, lim2, (hidden, c))
    return [w1, np.zeros((1, hidden)), w2, np.zeros((1, c))]


def epoch_batches(n: int, batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch's minibatches of sample indices: a permutation from ``rng`` cut into pieces of
    ``batch`` (0: the whole set, in order, drawing nothing)."""
    perm = rng.permutation(n) if batch else np.arange(n)
    bs = batch or n
    return [perm[s:s + bs] for s in range(0, n, bs)]


def forward64(link: str, params: list[np.ndarray], X: np.ndarray):
    """Float64 forward pass of the linear models ([W, b]) or the MLP ([W1, b1, W2, b2], ReLU):
    (the MLP's hidden pre-activation or None, the predictions)."""
    if len(params) == 2:
        return None, _link(X @ params[0] + params[1], link)
    z1 = X @ params[0] + params[1]
    return z1, _link(np.maximum(z1, 0.0) @ params[2] + params[3], link)


def grads64(link: str, params: list[np.ndarray], X: np.ndarray, t: np.ndarray) -> list[np.ndarray]:
    """The float64 gradient of the mean loss of (X, t) at ``params`` (forward64's layout):
    dZ = (p - t)/B for each link's loss, dW = X^T dZ, db = the column sums of dZ, backpropagated
    through ReLU (derivative 1 where the pre-activation is > 0, as on the registers)."""
    z1, p = forward64(link, params, X)
    dz = (p - t) / len(X)
    if z1 is None:
        return [X.T @ dz, dz.sum(axis=0, keepdims=True)]
    dz1 = (dz @ params[2].T) * (z1 > 0)
    return [X.T @ dz1, dz1.sum(axis=0, keepdims=True), np.maximum(z1, 0.0).T @ dz,
            dz.sum(axis=0, keepdims=True)]


class _Model:
    """Shared datapath: formats, the operands and accumulator of each product; the update is the
    engine's. A role of a block format (emu.train.operands) quantizes its high-precision tensor
    per product along the product's reduction axis; the parameters are then registers of the
    master copy's format."""

    def __init__(self, data: Dataset, cfg: TrainConfig):
        self.cfg = cfg
        self.link = MODELS[cfg.model]
        self.wf, self.af, self.gf, self.pf = cfg.formats()
        check_data(data, cfg)
        self.c = data.n_classes if self.link == "softmax" else 1
        self.rng = Recorder(LFSR(seed=cfg.seed if cfg.rng_seed is None else cfg.rng_seed))
        self.policy = cfg.policy  # the update rule (emu.train.engine)
        # products' outputs: into the activation / gradient format, or for a block format the
        # accumulator's (the high-precision tensor the next product quantizes)
        self.a_out = None if is_block(self.af) else self.af
        self.g_out = None if is_block(self.gf) else self.gf
        # per-run caches of values that never change (each entry holds the object it was made
        # from, so an id is never reused while cached): the accumulator of each pair of operand
        # formats, the ones of 1^T dZ, the decoded parameters, and (within train()) each data
        # set's features rounded into the activation format
        self._accs: dict = {}
        self._ones: dict = {}
        self._decoded: dict = {}
        self._rounded: dict = {}
        self._bias_row = self._merged_bias_row()

    def _q(self, x: np.ndarray, fmt) -> Registers:
        return quantize(x, fmt, **_kw("rne", self.cfg, None))

    def _mm(self, a, b, out, rounding: str = "rne") -> Registers:
        """a @ b with the configured accumulator (both operands fixed point: a MAC with 16 guard
        bits; else fp32, a fixed operand multiplying by value, emu.matmul); block operands
        multiply as blocks, or by value beside registers (emu.train.operands.product_operands).
        ``out`` None: the result stays in the accumulator's format."""
        a, b, alpha = product_operands(a, b)
        acc = self._accumulator(a.format, b.format)
        kw = _kw(rounding if out is not None else "rne", self.cfg, self.rng)
        rnd = kw.pop("rounding")
        if alpha == 1.0:
            return matmul(a, b, acc=acc, out=out, out_rounding=rnd, **kw, **_DEFAULT_ROUNDINGS
                          if isinstance(a, Registers) and isinstance(b, Registers) else {})
        # an NVFP4 operand beside registers: its tensor scale times the accumulated result,
        # rounded once into out (as emu.blockdot applies alpha)
        r = matmul(a, b, acc=acc)
        return mul(r, quantize(np.full(r.shape, alpha), "fp32"), out or r.format, rnd, **kw)

    def _accumulator(self, fa, fb):
        """The accumulator of a product of operands of formats fa and fb (see _mm), made once
        per pair of formats."""
        key = (fa, fb)
        acc = self._accs.get(key)
        if acc is None:
            if self.cfg.acc:
                acc = parse_format(self.cfg.acc)
            elif isinstance(fa, FixedFormat) and isinstance(fb, FixedFormat):
                acc = mac_accumulator(fa, fb, MAC_GUARD_BITS)
            else:
                acc = parse_format("fp32")
            self._accs[key] = acc
        return acc

    def _bias_add(self, z: Registers, b: Registers) -> Registers:
        """z + b rounded once (rne) into the activation format (a block activation format: z's,
        the accumulator's); a bias of the other kind (fixed weights, float activations or the
        reverse) takes part by value, as in emu.matmul. Block-format weights: the bias (1 x c)
        quantized rne along its one axis, by value."""
        if is_block(self.wf):  # (NVFP4: without the per-tensor scale, so carried is exact)
            b = carried(quantize(b.to_float(), self.wf, **_kw("rne", self.cfg, None), axis=1))
        b = promoted(b, z.format, None)  # (1, c): add broadcasts it over z's rows
        return add(z, b, out=self.a_out or z.format, **_kw("rne", self.cfg, None))

    def _weight(self, name: str) -> Operand:
        """Parameter ``name`` as the products take it (block weights: its master copy,
        quantized rne per product)."""
        return Operand.of(getattr(self, name), self.wf, _kw("rne", self.cfg, None))

    def _grads_of_bias(self, dz) -> Registers:
        """1^T dZ: ones of the gradient format, or fp32 ones beside a block dZ (taken by value,
        the sum in the accumulator's format)."""
        if isinstance(dz, Registers):
            return self._mm(self._ones_of(dz.shape[0], self.gf), dz, self.gf)
        return self._mm(self._ones_of(dz.shape[0], parse_format("fp32")), dz, None)

    def _ones_of(self, n: int, fmt) -> Registers:
        """A 1 x n row of ones rounded rne into fmt (the same registers every step: the rounding
        is deterministic and draws nothing)."""
        key = (n, fmt)
        ones = self._ones.get(key)
        if ones is None:
            ones = self._ones[key] = self._q(np.ones((1, n)), fmt)
        return ones

    def _param_grads(self, x: Operand, dz: Operand) -> tuple[Registers, Registers]:
        """A layer's gradients from its input x (B x d) and dZ (B x c), both reducing over the
        batch: X^T dZ (rounded with grad_rounding) and 1^T dZ (_grads_of_bias).

        Where the two are one product's rows they are computed as one: [X | 1]^T dZ, whose last
        row is 1^T dZ. That is so when both round rne into the gradient format (no words
        drawn), take one accumulator, and the 1 in the activation format is the 1 of the
        gradient format: each output is then the same exact products summed in the same order
        by the same accumulator and rounded the same way (an error falls back to the two
        products, which raise it as they always did)."""
        dz0 = dz.along(0)
        if self._bias_row is not None and isinstance(dz0, Registers):
            xr = x.along(0)
            n, d = xr.shape
            codes = np.empty((d + 1, n), xr.codes.dtype)
            codes[:d] = xr.codes.T
            codes[d] = self._bias_row
            with contextlib.suppress(ValueError):
                g = self._mm(Registers(codes, self.af), dz0, self.g_out, self.cfg.grad_rounding)
                return g[:d], g[d:]
        return self._mm(x.T(0), dz0, self.g_out, self.cfg.grad_rounding), self._grads_of_bias(dz0)

    def _merged_bias_row(self):
        """The code of 1 in the activation format when _param_grads may compute X^T dZ and
        1^T dZ as one product (see there), else None."""
        af, gf = self.af, self.gf
        if (is_block(af) or is_block(gf) or canonical(self.cfg.grad_rounding) != "rne"
                or isinstance(af, FixedFormat) != isinstance(gf, FixedFormat)
                or self._accumulator(af, gf) != self._accumulator(gf, gf)):
            return None
        one = self._q(np.ones((1, 1)), af)
        if one.to_float()[0, 0] != self._ones_of(1, gf).to_float()[0, 0]:
            return None
        return one.codes[0, 0]

    def _apply(self, metrics: dict, grads: list[Registers], exact: list[np.ndarray]) -> StepResult:
        """Move every parameter by the engine's update rule (``exact``: g*, for q); the step's
        result."""
        params = [getattr(self, n) for n in self.param_names]
        values = self._weights()
        groups = self._update_groups(params, grads)
        if len(groups) == len(params):
            new, values, stats = self.policy.apply_decoded(params, grads, self.cfg.lr, self.rng,
                                                           exact, values)
        else:
            def joined(arrays):
                return np.concatenate([np.asarray(a).reshape(-1) for a in arrays])

            parts = [[params[i] for i in g] for g in groups]
            merged, merged_values, stats = self.policy.apply_decoded(
                [Registers(joined([p.codes for p in ps]), ps[0].format) for ps in parts],
                [Registers(joined([grads[i].codes for i in g]), grads[g[0]].format)
                 for g in groups],
                self.cfg.lr, self.rng,
                [joined([np.asarray(exact[i], np.float64) for i in g]) for g in groups],
                [joined([values[i] for i in g]) for g in groups])
            new, values = [], []
            for ps, w, v in zip(parts, merged, merged_values, strict=True):
                start = 0
                for p in ps:
                    new.append(w[start:start + p.size].reshape(p.shape))
                    values.append(v[start:start + p.size].reshape(p.shape))
                    start += p.size
        for name, w, v in zip(self.param_names, new, values, strict=True):
            setattr(self, name, w)
            self._remember(name, w, v)
        return StepResult(metrics["loss"], metrics["accuracy"], stats,
                          dict(zip(self.param_names, grads, strict=True)))

    def _update_groups(self, params: list[Registers], grads: list) -> list[tuple[int, ...]]:
        """The parameters the update moves in one call: each layer's weights and bias (W, b)
        together where that is the same as one after the other: scheme update (one rounding
        per element, x - t*g from its exact value, elementwise), gradients of one format, and
        the words of one call the words of the two calls in turn (a deterministic update
        rounding, or a one-lane LFSR: a stream, where a bank of lanes restarts each call at
        lane 0). The moved parameters, their statistics and the words drawn are then those of
        moving each in turn; otherwise every parameter is its own group."""
        single = [(i,) for i in range(len(params))]
        if self.policy.scheme != "update":
            return single
        if training_rounding(self.policy.update, self.policy.eps, self.policy.sr_bits).stochastic:
            src = self.rng.source if isinstance(self.rng, Recorder) else self.rng
            if not (type(src) is LFSR and src.lanes == 1):
                return single
        groups = []
        for i in range(0, len(params), 2):
            pair = (i, i + 1)
            if (i + 1 < len(params) and all(isinstance(grads[k], Registers) for k in pair)
                    and grads[i].format == grads[i + 1].format
                    and params[i].format == params[i + 1].format):
                groups.append(pair)
            else:
                groups.extend((k,) for k in pair if k < len(params))
        return groups

    def inputs(self, X: np.ndarray) -> Registers | Operand:
        """X rounded rne into the activation format: Registers, or for a block format an
        Operand (quantized rne per product: along the features for X W, the batch for X^T dZ)."""
        held = self._rounded.get(id(X))
        if held is not None and held[0] is X:  # a data set train() rounded once (round_inputs)
            return held[1]
        x = Operand.of(X, self.af, _kw("rne", self.cfg, None))
        return x if is_block(self.af) else x.along(1)

    def round_inputs(self, *sets: Dataset | None) -> None:
        """Round the features of each data set into an element activation format once, for the
        run (``inputs`` and the steps then take rows of those registers: the rounding is
        elementwise and deterministic, so the rows of the rounded set are exactly the rounded
        rows). A block format rounds per product and batch, so it is left alone."""
        if is_block(self.af):
            return
        for data in sets:
            if data is not None and id(data.X) not in self._rounded:
                self._rounded[id(data.X)] = (data.X, self.inputs(data.X))

    def forget_inputs(self) -> None:
        """Drop the rounded data sets (train() does at its end: the model outlives the run, and
        its data may change after it)."""
        self._rounded.clear()

    def _batch_inputs(self, data: Dataset, idx: np.ndarray, X: np.ndarray) -> Registers | Operand:
        """The minibatch's inputs (inputs(X) of X = data.X[idx]): rows of the rounded set where
        train() holds one."""
        held = self._rounded.get(id(data.X))
        if held is not None and held[0] is data.X:
            return held[1][idx]
        return self.inputs(X)

    def _activations(self, x: Registers | Operand) -> Operand:
        return x if isinstance(x, Operand) else Operand.of(x, self.af, {})

    def loss_accuracy(self, data: Dataset) -> tuple[float, float | None]:
        p = self.forward(self.inputs(data.X))
        m = metrics(p, _targets(data, np.arange(len(data)), self.link), data.y, self.link)
        return m["loss"], m["accuracy"]

    def _grad(self, x) -> Operand:
        """A gradient operand (float64 values or registers) rounded with grad_rounding: an
        element format at once, a block format per product."""
        return Operand.of(x, self.gf, _kw(self.cfg.grad_rounding, self.cfg, self.rng))

    def _dz(self, t: np.ndarray, y: np.ndarray, p: np.ndarray) -> tuple[Operand, dict]:
        """dZ = (p - t) / B rounded into the gradient format, and the minibatch's metrics."""
        return self._grad((p - t) / len(t)), metrics(p, t, y, self.link)

    def weights(self) -> list[np.ndarray]:
        """The parameters' exact values (float64), in param_names order."""
        return [v.copy() for v in self._weights()]

    def _weights(self) -> list[np.ndarray]:
        """weights(), shared (read-only): each parameter is decoded once per value it takes."""
        out = []
        for name in self.param_names:
            r = getattr(self, name)
            held = self._decoded.get(name)
            if held is None or held[0] is not r:
                held = self._remember(name, r, decoded(r))
            out.append(held[1])
        return out

    def _remember(self, name: str, r: Registers, values: np.ndarray) -> tuple:
        values.flags.writeable = False
        self._decoded[name] = (r, values)
        return self._decoded[name]

    def exact_grads(self, X: np.ndarray, t: np.ndarray) -> list[np.ndarray]:
        """g*: the float64 gradient of the loss of (X, t) at the decoded weights (grads64)."""
        return grads64(self.link, self._weights(), X, t)


class LinearModel(_Model):
    """W (d x c) and b (c) in the weights format (block weights: in the master copy's); see the
    module doc for the datapath."""

    param_names = ("W", "b")

    def __init__(self, data: Dataset, cfg: TrainConfig):
        super().__init__(data, cfg)
        d = data.X.shape[1]
        self.W, self.b = (self._q(w, self.pf) for w in initial_weights(cfg.model, d, self.c,
                                                                       cfg.hidden, cfg.seed))

    def forward(self, x: Registers | Operand) -> np.ndarray:
        x = self._activations(x)
        z = self._bias_add(self._mm(x.along(1), self._weight("W").along(0), self.a_out), self.b)
        return _link(decoded(z), self.link)

    def step(self, data: Dataset, idx: np.ndarray) -> StepResult:
        """One (minibatch) gradient step."""
        X, t = data.X[idx], _targets(data, idx, self.link)
        exact = self.exact_grads(X, t)
        x = self._activations(self._batch_inputs(data, idx, X))
        dz, metrics = self._dz(t, data.y[idx], self.forward(x))
        return self._apply(metrics, list(self._param_grads(x, dz)), exact)


class MLP(_Model):
    """Two layers: H = relu(X W1 + b1) (relu is exact on registers: max(h, 0)), softmax(H W2 + b2).
    Weights start from a seeded Glorot-uniform draw rounded to the weights format (block
    weights: to the master copy's)."""

    param_names = ("W1", "b1", "W2", "b2")

    def __init__(self, data: Dataset, cfg: TrainConfig):
        super().__init__(data, cfg)
        d, h = data.X.shape[1], cfg.hidden
        self.W1, self.b1, self.W2, self.b2 = (
            self._q(w, self.pf) for w in initial_weights(cfg.model, d, self.c, h, cfg.seed))

    def _hidden(self, x: Registers | Operand) -> tuple[Operand, np.ndarray]:
        x = self._activations(x)
        z1 = self._bias_add(self._mm(x.along(1), self._weight("W1").along(0), self.a_out), self.b1)
        positive = decoded(z1) > 0
        h = Registers(np.where(positive, z1.codes, 0).astype(z1.codes.dtype), z1.format)  # relu
        return Operand.of(h, self.af, _kw("rne", self.cfg, None)), positive

    def forward(self, x: Registers | Operand) -> np.ndarray:
        h, _ = self._hidden(x)
        z2 = self._bias_add(self._mm(h.along(1), self._weight("W2").along(0), self.a_out), self.b2)
        return _link(decoded(z2), self.link)

    def step(self, data: Dataset, idx: np.ndarray) -> StepResult:
        X, t = data.X[idx], _targets(data, idx, self.link)
        exact = self.exact_grads(X, t)
        x = self._activations(self._batch_inputs(data, idx, X))
        h, positive = self._hidden(x)
        W2 = self._weight("W2")
        z2 = self._bias_add(self._mm(h.along(1), W2.along(0), self.a_out), self.b2)
        dz2, metrics = self._dz(t, data.y[idx], _link(decoded(z2), self.link))
        gr = self.cfg.grad_rounding
        gW2, gb2 = self._param_grads(h, dz2)  # (1^T dZ2 draws no words: computed here or
        #                                          after gW1, its bits are the same)
        dh = self._mm(dz2.along(1), W2.T(1), self.g_out, gr)  # dZ W2^T reduces over the classes
        dz1 = self._grad(Registers(np.where(positive, dh.codes, 0).astype(dh.codes.dtype),
                                   dh.format))  # relu'
        gW1, gb1 = self._param_grads(x, dz1)
        return self._apply(metrics, [gW1, gb1, gW2, gb2], exact)


def _trace_step(trace_dir, step: int, model: _Model, before: dict, result: StepResult,
                words: np.ndarray) -> None:
    """Per-step golden vectors for a training accelerator: each parameter before and after the
    update, its gradient, and every random word the step drew (in draw order)."""
    d = Path(trace_dir) / f"step_{step:06d}"
    d.mkdir(parents=True, exist_ok=True)
    for name in model.param_names:
        w_old, w_new, g = before[name], getattr(model, name), result.grads[name]
        write_atomic(d / f"{name}.hex", format_hex(w_old.codes, w_old.format.bits, f"{name} before, "
                                                   f"{w_old.format.name}, shape {w_old.shape}"))
        write_atomic(d / f"{name}_next.hex", format_hex(w_new.codes, w_new.format.bits, f"{name} after"))
        write_atomic(d / f"{name}_grad.hex", format_hex(g.codes, g.format.bits, f"d{name}, {g.format.name}"))
    write_atomic(d / "r.hex", format_hex(words, model.cfg.sr_bits, "random words in draw order"))


def train(data: Dataset, cfg: TrainConfig, progress=None, trace_dir=None,
          threads: int | None = None, force: bool = False, on_step=None,
          test: Dataset | None = None) -> tuple[_Model, History]:
    """SGD with a fixed step size; minibatches from a numpy permutation seeded by cfg.seed.
    ``test``: a held-out set whose loss and accuracy (the emulated forward pass, which draws no
    random words) every epoch record gets as test_loss / test_accuracy (None without one).
    ``trace_dir``: write per-step golden vectors (see _trace_step) into this directory, built
    aside and swapped in at the end (emu.outdir: an existing trace is replaced only with
    ``force``, so two runs never mix their steps). ``threads``: every kernel's thread count
    (emu.parallel; the trained bits never depend on it). ``progress(epoch record with its
    seconds)`` after each epoch, ``on_step(steps done, steps in all)`` after each minibatch."""
    with contextlib.ExitStack() as stack:
        if threads is not None:
            stack.enter_context(context(threads=parallel.resolve(threads)))
        if trace_dir is None:
            return _train(data, cfg, progress, None, on_step, test)
        tmp = stack.enter_context(staged(trace_dir, "training trace", force))
        model, hist = _train(data, cfg, progress, tmp, on_step, test)
        write_atomic(tmp / "trace.json", json.dumps(
            {"kind": "emu training trace", "emu_version": __version__, "config": hist.config,
             "steps": len(hist.steps)}, indent=2, sort_keys=True) + "\n")
        return model, hist


def check_data(data: Dataset, cfg: TrainConfig, test: Dataset | None = None) -> None:
    """Data the model can train on (and a test set it can score), checked before any work:
    softmax and mlp need class labels, logistic the labels 0 and 1; a test set needs the
    training set's features and kind of targets, labels among its classes."""
    link = MODELS[cfg.model]
    if link == "softmax" and data.n_classes < 2:
        raise ValueError(f"{cfg.model} needs class labels; {data.name} has "
                         + ("one class" if data.n_classes else "regression targets"))
    if link == "sigmoid" and data.n_classes != 2:
        raise ValueError(f"logistic needs labels 0 and 1; {data.name} has "
                         + (f"{data.n_classes} classes" if data.n_classes else
                            "regression targets"))
    if test is not None:
        _check_test(data, test)


def _check_test(data: Dataset, test: Dataset) -> None:
    """A test set the model can score: the training set's features and kind of targets, labels
    among its classes."""
    if test.X.shape[1] != data.X.shape[1]:
        raise ValueError(f"test set {test.name}: {test.X.shape[1]} features, the training set "
                         f"{data.name} {data.X.shape[1]}")
    if bool(test.n_classes) != bool(data.n_classes) or test.n_classes > data.n_classes:
        def kind(ds):
            return f"{ds.n_classes} classes" if ds.n_classes else "regression targets"
        raise ValueError(f"test set {test.name}: {kind(test)}, the training set {data.name} "
                         f"{kind(data)}")


def _evaluate(model: _Model, data: Dataset, test: Dataset | None) -> dict:
    """An epoch record's loss and accuracy on the training set and, if given, the test set."""
    loss, acc = model.loss_accuracy(data)
    test_loss, test_acc = model.loss_accuracy(test) if test is not None else (None, None)
    return {"loss": loss, "accuracy": acc, "test_loss": test_loss, "test_accuracy": test_acc}


def _train(data: Dataset, cfg: TrainConfig, progress, trace_dir, on_step,
           test: Dataset | None = None) -> tuple[_Model, History]:
    if test is not None:
        _check_test(data, test)
    model = MLP(data, cfg) if cfg.model == "mlp" else LinearModel(data, cfg)
    model.round_inputs(data, test)
    try:
        return model, _epochs(model, data, cfg, progress, trace_dir, on_step, test)
    finally:
        model.forget_inputs()


def _epochs(model: _Model, data: Dataset, cfg: TrainConfig, progress, trace_dir, on_step,
            test: Dataset | None) -> History:
    hist = History(asdict(cfg))
    order_rng = np.random.default_rng(cfg.seed)
    hist.epochs.append({"epoch": 0, **_evaluate(model, data, test), "stagnant_share": None})
    n = len(data)
    bs = cfg.batch or n
    for ep in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        shares = []
        for idx in epoch_batches(n, cfg.batch, order_rng):
            before = {k: getattr(model, k) for k in model.param_names}
            model.rng.taken()  # start the step's record
            result = model.step(data, idx)
            shares.append(result.stats.stagnant_share)
            hist.steps.append(result.record(ep))
            if trace_dir is not None:
                _trace_step(trace_dir, len(hist.steps), model, before, result, model.rng.taken())
            if on_step:
                on_step(len(hist.steps), cfg.epochs * -(-n // bs))
        seconds = time.perf_counter() - t0
        hist.epochs.append({"epoch": ep, **_evaluate(model, data, test),
                            "stagnant_share": float(np.mean(shares))})
        hist.seconds.append(seconds)
        if progress:
            progress({**hist.epochs[-1], "seconds": seconds})
    return hist
