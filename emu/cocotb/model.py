"""The online reference model and scoreboard: emu predicts every DUT output from the stimulus the
test actually drove, with an emu random source kept in lockstep with the DUT's SR unit, and
reports mismatches through ``emu check``'s triage (docs/semantics.md §10.9). Plain Python and
numpy: cocotb is not needed here, only in ``emu.cocotb.driver``.

A model is described exactly as a golden set is (the settings of ``emu.golden.write``: op,
formats, rounding, SR bits, the LFSR), so a set and a model of the same settings agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..golden.spec import build_spec, refuse_unused
from ..golden.triage import KEEP, CheckResult, compare
from ..golden.vectors import VectorSet, evaluate, lfsr_from_spec, operand_formats, spec_rounding
from ..golden.verify import trust
from ..lfsr import LFSR
from ..registers import Registers
from ..sources import starting_at
from ..validate import integer

OPERANDS = ("a", "b", "c")
GENERATOR_SETTINGS = ("inputs", "count", "seed")  # golden-set settings a model has no use for


def _check_op(op: str) -> None:
    if op in ("lfsr", "mac"):
        raise ValueError(f"op {op!r} has no online model; valid: convert, sr, add, mul, fma")


class ReferenceModel:
    """Predicts a DUT's outputs from its stimulus.

    ``ReferenceModel("sr", dst="e4m3", sr_bits=8, lfsr=emu.LFSR(shifts=8, seed=1))`` models a
    float32 -> E4M3 SR unit fed by that LFSR; the keywords are ``emu.golden.write``'s.
    ``predict(a=codes)`` rounds each element (stochastic modes: one draw per element, lane
    ``(position + i) mod L``, as a DUT streaming elements one by one); ``reset()`` follows the
    DUT reloading its LFSR, ``skip(n)`` the DUT drawing words it did not use.
    """

    def __init__(self, op: str = "convert", *, lfsr: LFSR | dict | None = None, **settings):
        _check_op(op)
        generators = [k for k in GENERATOR_SETTINGS if k in settings]
        if generators:
            raise ValueError(f"{', '.join(generators)}: a model predicts from the stimulus driven, "
                             "it generates no vectors")
        refuse_unused(op, {**settings, **({"lfsr": lfsr} if lfsr is not None else {})})
        self._use(build_spec(op, lfsr=lfsr, **settings))

    def _use(self, spec: dict) -> None:
        _check_op(spec["op"])
        self.spec = spec
        self.formats, self.dst = operand_formats(spec)
        self.rounding = spec_rounding(spec)
        self.inputs = OPERANDS[:len(self.formats)]
        self.reset()

    @classmethod
    def from_set(cls, path: Path | str) -> ReferenceModel:
        """The model of a golden set's settings (its manifest's spec; the set verified as
        ``emu check`` verifies it, its vectors not read)."""
        model = cls.__new__(cls)
        spec = trust(path).parts[0].vset.spec  # a sharded set: its first shard's, less the shard
        model._use({k: v for k, v in spec.items() if k != "shard"})
        return model

    @property
    def stochastic(self) -> bool:
        return self.rounding.stochastic

    def reset(self, seed: int | None = None) -> None:
        """The DUT (re)loaded its random source: back to the initial lane states, or to ``seed``."""
        cfg = dict(self.spec.get("lfsr") or {})
        if seed is not None:  # one seed, expanded over the same lanes (docs/semantics.md §7.4)
            seeds = cfg.pop("seeds", None)
            cfg.update(seed=seed, lanes=len(seeds) if seeds else cfg.get("lanes", 1))
        self.source = lfsr_from_spec(cfg) if self.stochastic else None
        self.position = 0  # elements served since the reset: the next one's lane is position mod L

    def skip(self, n: int) -> None:
        """The DUT's random source advanced n draws without rounding an element."""
        if self.source is not None and n:
            with starting_at(self.source, self.position) as src:
                src.skip(n, self.rounding.bits)
        self.position += n

    def predict(self, **operands) -> VectorSet:
        """Expected outputs for the given input codes (one array, or one int, per operand port:
        ``a``, ``b``, ``c``): a VectorSet of the inputs, the random words used (port ``r``) and
        the expected output (port ``y``). Advances the random source one draw per element."""
        missing = [n for n in self.inputs if n not in operands]
        extra = [n for n in operands if n not in self.inputs]
        if missing or extra:
            raise ValueError(f"{self.spec['op']} takes input ports {', '.join(self.inputs)}"
                             + (f"; missing {', '.join(missing)}" if missing else "")
                             + (f"; unknown {', '.join(extra)}" if extra else ""))
        regs = [port_codes(operands[n], f, f"input {n}")
                for n, f in zip(self.inputs, self.formats, strict=True)]
        sizes = ", ".join(f"{n} {r.size}" for n, r in zip(self.inputs, regs, strict=True))
        if len({r.size for r in regs}) > 1:
            raise ValueError(f"input ports differ in length: {sizes}")
        if self.source is None:
            return evaluate(self.spec, regs, None)
        with starting_at(self.source, self.position) as src:
            vs = evaluate(self.spec, regs, src)
        self.position += vs.count
        return vs


def port_codes(value, fmt, what: str) -> Registers:
    """Codes given for a port (an int or an array of them), flattened and checked as
    Registers.from_codes checks them (integers that fit the format); errors name ``what``."""
    try:
        return Registers.from_codes(np.atleast_1d(np.asarray(value)).reshape(-1), fmt)
    except (ValueError, TypeError) as err:
        raise type(err)(f"{what}: {err}") from None


@dataclass
class _Segment:
    """Transactions between two resets: what was predicted, and what the DUT gave."""

    offset: int
    expected: list[VectorSet] = field(default_factory=list)
    actual: list[np.ndarray] = field(default_factory=list)


class Scoreboard:
    """Compares a DUT's outputs with a ReferenceModel's predictions, transaction by transaction,
    and reports every mismatch as ``emu check`` does (index, inputs, expected and actual with
    fields and values, ulps, class; for stochastic rounding, whether the outputs fit the random
    words offset by k draws). Indices count every transaction since the scoreboard began.

    ``compare(a=..., y=...)`` takes input and output codes (ints or arrays) and compares them
    at once; ``push(y, a=...)`` queues one transaction to compare in a batch (much faster one
    element at a time); ``reset()`` and ``skip(n)`` keep the model's random source in step with
    the DUT's; ``result`` is the CheckResult, ``report()`` its text, ``assert_ok()`` raises
    AssertionError with it.
    """

    def __init__(self, model: ReferenceModel, name: str = "scoreboard", keep: int = KEEP,
                 batch: int = 4096):
        self.model, self.name, self.keep = model, name, keep
        self.batch = integer(batch, "batch", 1)
        self.count = 0
        self._segments = [_Segment(0)]
        self._queue: list[tuple[int, dict]] = []

    def compare(self, y, **inputs) -> int:
        """Predict from ``inputs`` and compare with the DUT's outputs ``y``; the number of
        mismatches in this transaction batch."""
        # every argument is checked before the model draws: a refused call leaves it in step
        actual = port_codes(y, self.model.dst, f"{self.name}: output y").codes.astype(np.uint64)
        n = {np.size(v) for v in inputs.values()}
        if n and n != {actual.size}:
            raise ValueError(f"{self.name}: {actual.size} outputs y for {max(n)} inputs")
        expected = self.model.predict(**inputs)
        seg = self._segments[-1]
        seg.expected.append(expected)
        seg.actual.append(actual)
        self.count += expected.count
        return int(np.count_nonzero(actual != expected.port("y").values))

    def push(self, y: int, **inputs: int) -> None:
        """Record one transaction (output and input codes) to be compared later, in order:
        ``compare`` in batches of ``batch`` (the model predicts a batch ~100 times faster than
        one element at a time). ``reset``, ``skip`` and ``result`` compare what is queued
        first. Monitor scores through this."""
        self._queue.append((y, inputs))
        if len(self._queue) >= self.batch:
            self.flush()

    def flush(self) -> None:
        """Compare the queued transactions now."""
        if self._queue:
            queue, self._queue = self._queue, []
            self.compare(y=[y for y, _ in queue],
                         **{k: [ins[k] for _, ins in queue] for k in queue[0][1]})

    def reset(self, seed: int | None = None) -> None:
        """The DUT reloaded its random source (see ReferenceModel.reset)."""
        self.flush()
        self.model.reset(seed)
        self._segments.append(_Segment(self.count))

    def skip(self, n: int) -> None:
        """The DUT drew n words without rounding an element."""
        self.flush()
        self.model.skip(n)

    @property
    def result(self) -> CheckResult:
        """Every transaction so far, triaged segment by segment (random words never compared
        across a reset)."""
        self.flush()
        res = CheckResult(self.name, self.count)
        for seg in self._segments:
            if seg.expected:
                vs = VectorSet.concatenate(seg.expected)
                compare(vs, {"y": np.concatenate(seg.actual)}, offset=seg.offset, keep=self.keep,
                        into=res)
        return res

    def report(self, first: int = 10) -> str:
        """What ``emu check`` would print for these transactions."""
        return self.result.text(first)

    def assert_ok(self, first: int = 10) -> None:
        res = self.result
        if not res.ok:
            raise AssertionError(res.text(first))
