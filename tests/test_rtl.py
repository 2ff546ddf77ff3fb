"""RTL co-simulation: the reference DUT (emu/rtl/emu_dut.v: the LFSR of docs/semantics.md §7.2,
a float32 -> e4m3 rne unit, an SR unit fed by the LFSR) and its test bench (tests/rtl/tb_emu.v)
run under Icarus Verilog and under Verilator on the committed golden sets; ``emu check`` must pass
on each simulator's dumps and fail on a dump with one flipped bit. The DUT built with
BUG_TIE_AWAY=1 must fail the rne set and match an rna (ties away) set of the same inputs. The
reference RTL (emu/rtl, the cocotb top level included) is lint-clean under ``verilator
--lint-only -Wall``. In CI (CI=true) a missing simulator is a failure; elsewhere its tests skip
and say why."""

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import NEEDS, require_tools

from cli.main import main
from emu.cocotb import reference_rtl

HERE = Path(__file__).resolve().parent
BENCH = HERE / "rtl" / "tb_emu.v"
DUT, TOP = reference_rtl()  # emu/rtl/emu_dut.v, emu/rtl/emu_sr_top.v
SOURCES = [str(BENCH), str(DUT)]
GOLDEN = HERE.parent / "golden_vectors"
SETS = {"rne": "convert_fp32_e4m3_rne", "sr": "sr_fp32_e4m3_r8", "lfsr": "lfsr32_fib_d8"}


def _count(name):
    return json.loads((GOLDEN / name / "manifest.json").read_text())["count"]


def _run(cmd, timeout=600):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(cmd)}\nexit {r.returncode}\n{r.stdout}{r.stderr}"
    return r.stdout + r.stderr


def _build(simulator, out, bug_tie_away=0):
    """Compiles tb_emu.v + emu_dut.v into out; returns the command that runs the simulation."""
    if simulator == "icarus":
        exe = out / "tb.vvp"
        _run(["iverilog", "-g2005", f"-Ptb_emu.BUG_TIE_AWAY={bug_tie_away}", "-o", str(exe),
              *SOURCES])
        return ["vvp", "-n", str(exe)]
    # --binary: Verilator's own main(); --timing: the bench's delays and event controls (C++20
    # coroutines, g++ >= 10). -Wno-fatal: lint is test_verilator_lint_clean's verdict, this one
    # is on behaviour. The C++ is compiled at -O0: the default -Os took 15-30 % more compile time
    # here, and the simulation runs in ~0.1 s either way.
    obj = out / "obj"
    _run(["verilator", "--binary", "--timing", "-Wno-fatal", "-O1", "--build-jobs", "2",
          "--top-module", "tb_emu", f"-GBUG_TIE_AWAY={bug_tie_away}", "-Mdir", str(obj),
          "-MAKEFLAGS", "OPT_FAST=-O0", "-MAKEFLAGS", "OPT_SLOW=-O0",
          "-MAKEFLAGS", "OPT_GLOBAL=-O0", *SOURCES])
    return [str(obj / "Vtb_emu")]


def _simulate(run_cmd, out):
    args = [f"+SET_RNE={GOLDEN / SETS['rne']}", f"+SET_SR={GOLDEN / SETS['sr']}",
            f"+SET_LFSR={GOLDEN / SETS['lfsr']}", f"+OUT={out}", f"+N_RNE={_count(SETS['rne'])}",
            f"+N_SR={_count(SETS['sr'])}", f"+N_LFSR={_count(SETS['lfsr'])}"]
    log = _run([*run_cmd, *args])
    assert "WARNING" not in log and "ERROR" not in log, log
    return out


@pytest.fixture(scope="module", params=["icarus", "verilator"])
def sim(request, tmp_path_factory):
    """The dumps of one simulation per simulator, built once per module."""
    require_tools(NEEDS[request.param], f"RTL co-simulation under {request.param}")
    out = tmp_path_factory.mktemp(request.param)
    return _simulate(_build(request.param, out), out)


def _check(set_name, *dumps):
    return CliRunner().invoke(main, ["check", str(set_name), *[str(d) for d in dumps]])


@pytest.mark.parametrize("key,dumps", [("rne", ["rne_y.hex"]), ("sr", ["sr_y.hex"]),
                                       ("lfsr", ["lfsr_state.hex", "lfsr_word.hex"])])
def test_dut_matches_emu(sim, key, dumps):
    r = _check(GOLDEN / SETS[key], *[sim / d for d in dumps])
    assert r.exit_code == 0, r.output
    assert " 0 mismatches" in r.output


def test_one_flipped_bit_fails(sim, tmp_path):
    # Icarus's $writememh writes `// 0x...` address comments, Verilator's none: keep them as they
    # are and flip a bit in the 1234th word
    lines = (sim / "sr_y.hex").read_text().splitlines()
    body = [i for i, ln in enumerate(lines) if ln.strip() and not ln.startswith("//")]
    i = body[1234]
    lines[i] = f"{int(lines[i], 16) ^ 0x04:02x}"
    bad = tmp_path / "sr_y.hex"
    bad.write_text("\n".join(lines) + "\n")
    r = _check(GOLDEN / SETS["sr"], bad)
    assert r.exit_code == 1 and "1 mismatches" in r.output and "#1234" in r.output, r.output


def test_bug_tie_away_is_caught(tmp_path):
    """BUG_TIE_AWAY=1 flips exactly the rne path's tie decision: the dumps fail the rne set and
    match an rna set of the same inputs; the SR unit and the LFSR are untouched. (Icarus only:
    Verilator builds the same parameter in test_verilator_lint_clean and costs seconds a build.)"""
    require_tools(NEEDS["icarus"], "BUG_TIE_AWAY test")
    out = tmp_path / "bug"
    out.mkdir()
    _simulate(_build("icarus", out, bug_tie_away=1), out)
    r = _check(GOLDEN / SETS["rne"], out / "rne_y.hex")
    assert r.exit_code == 1 and " 0 mismatches" not in r.output, r.output
    spec = json.loads((GOLDEN / SETS["rne"] / "manifest.json").read_text())["spec"]
    rna = tmp_path / "rna"
    r = CliRunner().invoke(main, ["golden", "convert", "--src", "fp32", "--dst", "e4m3",
                                  "--rounding", "rna", "--inputs", ",".join(spec["inputs"]),
                                  "--count", str(spec["count"]), "--seed", str(spec["seed"]),
                                  "--out", str(rna)])
    assert r.exit_code == 0, r.output
    assert (rna / "a.hex").read_text() == (GOLDEN / SETS["rne"] / "a.hex").read_text()
    r = _check(rna, out / "rne_y.hex")
    assert r.exit_code == 0 and " 0 mismatches" in r.output, r.output
    r = _check(GOLDEN / SETS["sr"], out / "sr_y.hex")
    assert r.exit_code == 0, r.output


# every module of the reference RTL as top (the conversion unit and the cocotb top level with
# each bug switched on), and the test bench with the DUT
LINT = {"emu_lfsr32": [DUT], "emu_fp32_to_e4m3": [DUT], "emu_fp32_to_e4m3 -GBUG_TIE_AWAY=1": [DUT],
        "emu_sr_top": [DUT, TOP], "emu_sr_top -GBUG_TIE_AWAY=1": [DUT, TOP],
        "emu_sr_top -GLFSR_LATE=1": [DUT, TOP], "tb_emu --timing": [BENCH, DUT]}


@pytest.mark.parametrize("top", list(LINT))
def test_verilator_lint_clean(top):
    require_tools({"verilator": "verilator"}, "RTL lint test")
    module, *opts = top.split()
    cmd = ["verilator", "--lint-only", "-Wall", "--top-module", module, *opts, *map(str, LINT[top])]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and not (r.stdout + r.stderr), \
        f"{' '.join(cmd)}\nexit {r.returncode}\n{r.stdout}{r.stderr}"
