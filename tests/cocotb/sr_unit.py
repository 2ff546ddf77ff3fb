"""cocotb tests of the reference SR unit (emu/rtl/emu_sr_top.v), run under Icarus by
tests/test_cocotb.py (this is a cocotb test module, not a pytest one): two committed golden sets
driven through ``emu.cocotb.drive_set``, and random and directed stimulus scored online by
``emu.cocotb.Monitor`` against emu's reference model.

Each test writes what a user would see (the report's text) to $EMU_REPORT_DIR/<test>.txt, then
asserts that the DUT matched: a broken DUT variant fails these tests with that report.
"""

from __future__ import annotations

import os
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

import emu
from emu.cocotb import Monitor, ReferenceModel, Scoreboard, drive_set

GOLDEN = Path(__file__).resolve().parents[2] / "golden_vectors"
F32 = emu.format("fp32")


def _report(name: str, text: str) -> None:
    out = os.environ.get("EMU_REPORT_DIR")
    if out:
        Path(out, f"{name}.txt").write_text(text + "\n")
    cocotb.log.info("%s\n%s", name, text)


async def _start(dut, seed: int = 1) -> None:
    """Clock, idle inputs, one reset cycle that loads ``seed`` into the LFSR."""
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.in_valid.value = 0
    dut.sr.value = 0
    dut.x.value = 0
    dut.seed.value = seed
    dut.rst.value = 1
    await FallingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0


async def _golden(dut, name: str, sr: int) -> None:
    await _start(dut)
    dut.sr.value = sr
    res = await drive_set(dut, GOLDEN / name, ports={"a": "x", "r": None}, clock="clk",
                          in_valid="in_valid", out_valid="out_valid")
    _report(name, res.text())
    assert res.ok, res.text()


@cocotb.test()
async def golden_rne(dut):
    """The committed float32 -> E4M3 round-to-nearest-even set."""
    await _golden(dut, "convert_fp32_e4m3_rne", sr=0)


@cocotb.test()
async def golden_sr(dut):
    """The committed float32 -> E4M3 stochastic set: the DUT's own LFSR (seed 1) must make the
    set's random words (port r, left undriven)."""
    await _golden(dut, "sr_fp32_e4m3_r8", sr=1)


def _stimulus(rng: np.random.Generator, n: int) -> np.ndarray:
    """float32 codes around E4M3's range: random magnitudes 2^-12 .. 2^10, and exact ties
    (a 4-bit significand: halfway between two E4M3 neighbours) of both signs."""
    mags = np.exp2(rng.uniform(-12, 10, n)).astype(np.float32)
    ties = (np.float32(rng.integers(16, 32, n)) * np.exp2(rng.integers(-8, 4, n))).astype(np.float32)
    x = np.where(rng.random(n) < 0.3, ties, mags) * np.where(rng.random(n) < 0.5, -1, 1)
    return x.astype(np.float32).view(np.uint32)


async def _online(dut, model: ReferenceModel, sr: int, name: str) -> None:
    """Random stimulus with idle cycles and one reset to a new seed mid-stream, scored online."""
    await _start(dut, seed=1)
    board = Scoreboard(model, name=name)
    mon = Monitor(dut, board, inputs={"a": "x"}, reset="rst", seed="seed").start()
    rng = np.random.default_rng(7)
    dut.sr.value = sr
    for seed in (None, 0xACE1):
        if seed is not None:  # the DUT reloads its LFSR; the monitor resets the model with it
            await FallingEdge(dut.clk)
            dut.in_valid.value = 0
            dut.seed.value = seed
            dut.rst.value = 1
            await FallingEdge(dut.clk)
            dut.rst.value = 0
        for x in _stimulus(rng, 800).tolist():
            await FallingEdge(dut.clk)
            busy = rng.random() < 0.8  # idle cycles: no element, no draw
            dut.in_valid.value = int(busy)
            dut.x.value = x
    await FallingEdge(dut.clk)
    dut.in_valid.value = 0
    await mon.drain()
    _report(name, board.report())
    assert board.count > 1100, board.count  # 1600 cycles, 80 % of them busy
    board.assert_ok()


@cocotb.test()
async def online_sr(dut):
    """The SR unit against the online model: the model's LFSR follows the DUT's (reset, seed)."""
    model = ReferenceModel("sr", dst="e4m3", sr_bits=8, lfsr=emu.LFSR(shifts=8, seed=1))
    await _online(dut, model, sr=1, name="online_sr")


@cocotb.test()
async def online_rne(dut):
    """The round-to-nearest-even path against the online model, ties included."""
    await _online(dut, ReferenceModel("convert", dst="e4m3"), sr=0, name="online_rne")


@cocotb.test()
async def drive_set_refuses_misuse(dut):
    """A set port bound to a signal of another width, or a latency below 1, is an error before
    anything is driven (not a run of puzzling mismatches)."""
    await _start(dut)
    sr_set = GOLDEN / "sr_fp32_e4m3_r8"
    cases = (({"ports": {"a": "x", "r": None, "y": "x"}}, "is 8 bits, the DUT's signal 'x' 32"),
             ({"ports": {"a": "x", "r": None}, "latency": 0}, "latency=0 out of range"))
    for kwargs, message in cases:
        try:
            await drive_set(dut, sr_set, clock="clk", **kwargs)
        except ValueError as err:
            assert message in str(err), err
        else:
            raise AssertionError(f"drive_set accepted {kwargs}")

