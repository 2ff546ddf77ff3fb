"""emu in a cocotb test bench (docs/semantics.md §10.8; README, "Using emu in a cocotb test bench").

- ``ReferenceModel`` and ``Scoreboard``: the online model. emu predicts each output from the
  stimulus actually driven, its random source in lockstep with the DUT's SR unit, and reports
  mismatches as ``emu check`` does. Plain Python: no cocotb needed.
- ``drive_set`` (a golden set into a DUT) and ``Monitor`` (watch a DUT's ports, score every
  transaction): cocotb coroutines, which need the optional extra:
  ``pip install 'emu-arith[cocotb]'`` (cocotb 2.x).

- ``reference_rtl()``: the Verilog of emu's reference DUT (emu/rtl), to try all of this before
  a DUT of your own exists.

This package imports without cocotb; the cocotb names raise an ImportError saying how to
install it when first used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .._lazy import exports

_EXPORTS = {
    **dict.fromkeys(("ReferenceModel", "Scoreboard"), "model"),
    **dict.fromkeys(("Monitor", "drive_set"), "driver"),
}
__all__ = sorted([*_EXPORTS, "reference_rtl"])

__getattr__, __dir__ = exports(__name__, _EXPORTS)


def reference_rtl() -> list[Path]:
    """The reference DUT's Verilog sources, shipped with emu: ``emu_dut.v`` (``emu_lfsr32``, the
    verilog-lfsr Fibonacci LFSR that emu.LFSR models, and ``emu_fp32_to_e4m3``, float32 ->
    E4M3 with round-to-nearest-even or 8-bit carry-form SR) and ``emu_sr_top.v`` (both behind an
    input register: ``emu_sr_top``, the cocotb examples' top level). Lint-clean under
    ``verilator --lint-only -Wall``; emu's tests check them bit for bit on Icarus and Verilator."""
    rtl = Path(__file__).resolve().parent.parent / "rtl"
    return [rtl / "emu_dut.v", rtl / "emu_sr_top.v"]

if TYPE_CHECKING:
    from .driver import Monitor, drive_set  # noqa: F401
    from .model import ReferenceModel, Scoreboard  # noqa: F401
