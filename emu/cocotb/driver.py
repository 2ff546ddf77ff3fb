"""cocotb coroutines: drive a golden set into a DUT, or watch a DUT's ports and score every
transaction against emu's online reference model (docs/semantics.md §10.8). Needs cocotb 2.x
(``pip install 'emu-arith[cocotb]'``); ``emu.cocotb`` itself imports without it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from pathlib import Path

import numpy as np

try:
    import cocotb
    from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, Timer
except ImportError as err:  # pragma: no cover - exercised by tests/test_cocotb.py in a subprocess
    raise ImportError("emu.cocotb's driver and monitor need cocotb 2.x: "
                      "pip install 'emu-arith[cocotb]' (or pip install 'cocotb>=2')") from err

from ..golden.triage import KEEP, CheckResult, compare
from ..validate import integer
from .model import Scoreboard

__all__ = ["Monitor", "drive_set"]


def _signal(dut, name: str, role: str):
    """The DUT's signal ``name``, or an error naming the role and the DUT's signals."""
    try:
        return getattr(dut, name)
    except AttributeError:
        names = sorted(h._name for h in dut if not h._name.startswith("_"))
        raise AttributeError(f"the DUT {dut._name} has no signal {name!r} for {role}; "
                             f"its signals: {', '.join(names)}") from None


def _read(handle, what: str) -> int:
    """A signal's value as an unsigned integer (a vector: LogicArray; one bit: Logic)."""
    value = handle.value
    try:
        return value.to_unsigned() if hasattr(value, "to_unsigned") else int(value)
    except ValueError:
        raise AssertionError(f"{what}: {handle._name} is {value} (X or Z bits), not a code") from None


def _bind(dut, names: Mapping[str, str | None], ports: list, role: str) -> dict:
    """Set port name -> DUT handle, for every port not mapped to None."""
    out = {}
    for p in ports:
        name = names.get(p.name, p.name)
        if name is None:
            continue
        try:
            h = _signal(dut, name, f"the set's {role} port {p.name!r}")
        except AttributeError as err:
            hint = (f" (map it with ports={{{p.name!r}: None}} if the DUT makes its own)"
                    if role == "input" else "")
            raise AttributeError(f"{err}{hint}") from None
        if len(h) != p.bits:
            raise ValueError(f"the set's {role} port {p.name!r} is {p.bits} bits, the DUT's signal "
                             f"{name!r} {len(h)}: map the port to a signal of its width")
        out[p.name] = h
    return out


async def drive_set(dut, golden, *, ports: Mapping[str, str | None] | None = None,
                    clock: str | None = None, in_valid: str | None = None,
                    out_valid: str | None = None, latency: int | None = None,
                    settle_ns: float = 1.0, max_wait: int = 1000, keep: int = KEEP) -> CheckResult:
    """Apply a golden set's inputs to ``dut`` and compare its outputs with the set's, as
    ``emu check`` compares a dump (same triage, same report: ``result.text()``).

    ``golden``: a set directory or ``emu.golden.load``'s result. ``ports``: set port -> DUT
    signal name (default: the same name; None leaves a port undriven, e.g. the random words
    ``r`` of a DUT with its own LFSR). Without ``clock`` the DUT is combinational: each vector
    is applied, and its outputs read ``settle_ns`` later. With ``clock``: one vector per cycle,
    applied after each falling edge (``in_valid`` high while one is applied); outputs are read
    after rising edges, in order, where ``out_valid`` is high, or ``latency`` edges after their
    vector was sampled.
    """
    from ..golden import load

    gs = load(golden) if isinstance(golden, (str, Path)) else golden
    vs = gs.vectors
    names = dict(ports or {})
    drive = _bind(dut, names, [p for p in vs.ports if p.direction == "in"], "input")
    watch = _bind(dut, names, vs.outputs, "output")
    missing = [p.name for p in vs.outputs if p.name not in watch]
    if missing:
        raise ValueError(f"every output port is compared; map {', '.join(missing)} to a DUT signal")
    n = vs.count
    got = {name: np.zeros(n, np.uint64) for name in watch}
    columns = {name: vs.port(name).values.tolist() for name in drive}

    def apply(i: int) -> None:
        for name, h in drive.items():
            h.value = columns[name][i]

    def collect(i: int) -> None:
        for name, h in watch.items():
            got[name][i] = _read(h, f"vector {i}, output {name}")

    if clock is None:
        for i in range(n):
            apply(i)
            await Timer(settle_ns, unit="ns")
            collect(i)
    else:
        if out_valid is None and latency is None:
            raise ValueError("a clocked DUT needs out_valid= (a signal) or latency= (cycles)")
        if latency is not None:
            latency = integer(latency, "latency", 1, hint="rising edges from a vector's sampling "
                                                           "edge to the one its outputs follow")
        clk = _signal(dut, clock, "the clock")
        valid_in = _signal(dut, in_valid, "in_valid") if in_valid else None
        valid_out = _signal(dut, out_valid, "out_valid") if out_valid else None
        collector = None
        for i in range(n):
            await FallingEdge(clk)
            apply(i)
            if valid_in is not None:
                valid_in.value = 1
            if collector is None:  # its first rising edge samples vector 0
                collector = cocotb.start_soon(_collect_clocked(clk, valid_out, latency, n, collect,
                                                               max_wait))
        await FallingEdge(clk)
        if valid_in is not None:
            valid_in.value = 0
        if collector is not None:
            await collector
    return compare(vs, got, keep=keep, into=CheckResult(str(getattr(gs, "path", "set")), n))


async def _collect_clocked(clk, valid_out, latency: int | None, n: int, collect, max_wait: int) -> None:
    """Read n outputs: at rising edges where valid_out is high, or from edge ``latency`` on
    (edge 1 samples vector 0)."""
    done, edges, idle = 0, 0, 0
    while done < n:
        await RisingEdge(clk)
        await ReadOnly()
        edges += 1
        ready = (_read(valid_out, "out_valid") == 1) if valid_out is not None else edges >= latency
        if ready:
            collect(done)
            done += 1
            idle = 0
        elif edges > n:
            idle += 1
            if idle > max_wait:
                raise AssertionError(f"the DUT gave {done} of {n} outputs: no output for "
                                     f"{max_wait} cycles after the last input")


class Monitor:
    """Watches a clocked DUT's ports and scores each transaction on a Scoreboard: the inputs at
    every rising edge where ``in_valid`` is high, paired in order with the outputs at rising
    edges where ``out_valid`` is high. Any stimulus works (random, directed, with idle cycles).
    With ``reset`` (a signal name), a rising edge where it is high drops transactions in
    flight and resets the model's random source (to the value of ``seed``, a signal name, when
    given; else to the model's initial states).

    ``Monitor(dut, scoreboard, inputs={"a": "x"}, outputs={"y": "y"}).start()``; after the
    stimulus, ``await monitor.drain()``; then ``scoreboard.assert_ok()``.
    """

    def __init__(self, dut, scoreboard: Scoreboard, *, clock: str = "clk",
                 inputs: Mapping[str, str] | None = None, outputs: Mapping[str, str] | None = None,
                 in_valid: str = "in_valid", out_valid: str = "out_valid",
                 reset: str | None = None, seed: str | None = None):
        self.scoreboard = scoreboard
        ins = dict(inputs or {n: n for n in scoreboard.model.inputs})
        outs = dict(outputs or {"y": "y"})
        if sorted(ins) != sorted(scoreboard.model.inputs):
            raise ValueError(f"inputs= maps the model's input ports {', '.join(scoreboard.model.inputs)}")
        if list(outs) != ["y"]:
            raise ValueError("outputs= maps the model's output port 'y'")
        self._clk = _signal(dut, clock, "the clock")
        self._ins = {k: _signal(dut, v, f"input port {k}") for k, v in ins.items()}
        self._y = _signal(dut, outs["y"], "output port y")
        self._in_valid = _signal(dut, in_valid, "in_valid")
        self._out_valid = _signal(dut, out_valid, "out_valid")
        self._reset = _signal(dut, reset, "reset") if reset else None
        self._seed = _signal(dut, seed, "seed") if seed else None
        self._pending: deque[dict] = deque()
        self._task = None

    def start(self) -> Monitor:
        self._task = cocotb.start_soon(self._run())
        return self

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    @property
    def pending(self) -> int:
        """Transactions sampled whose outputs have not come yet."""
        return len(self._pending)

    async def drain(self, max_wait: int = 1000) -> None:
        """Wait until every sampled transaction has been scored, then stop."""
        for _ in range(max_wait):
            if not self._pending:
                break
            await RisingEdge(self._clk)
        else:
            raise AssertionError(f"{len(self._pending)} transaction(s) got no output in {max_wait} cycles")
        await ReadOnly()
        self.stop()
        self.scoreboard.flush()

    async def _run(self) -> None:
        while True:
            await RisingEdge(self._clk)
            await ReadOnly()
            if self._reset is not None and _read(self._reset, "reset") == 1:
                self._pending.clear()
                self.scoreboard.reset(_read(self._seed, "seed") if self._seed is not None else None)
                continue
            # inputs first: an output seen after this edge may be that of the input it sampled
            if _read(self._in_valid, "in_valid") == 1:
                self._pending.append({k: _read(h, f"input {k}") for k, h in self._ins.items()})
            if _read(self._out_valid, "out_valid") == 1:
                if not self._pending:
                    raise AssertionError(f"{self.scoreboard.name}: an output with no transaction in flight")
                self.scoreboard.push(_read(self._y, "y"), **self._pending.popleft())
