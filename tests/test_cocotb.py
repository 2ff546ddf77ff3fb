"""emu.cocotb: the online reference model and scoreboard (plain Python), and cocotb runs of the
reference SR unit (emu/rtl/emu_sr_top.v, tests/cocotb/sr_unit.py) under Icarus: the good DUT
passes through two golden sets and the online model; two deliberately broken variants (one
flipped rounding decision, an LFSR one step late) fail with the diagnosis a user sees.

cocotb 2.x supports Verilator from 5.036 only; Debian's is 5.006, so the cocotb runs use Icarus
(the file-based bench runs on both, tests/test_rtl.py). In CI (CI=true) a missing simulator or
cocotb is a failure; elsewhere these tests skip and say why.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import NEEDS, require_tools

import emu
import emu.golden
from emu.cocotb import ReferenceModel, Scoreboard, reference_rtl
from emu.golden import load

HERE = Path(__file__).resolve().parent
GOLDEN = HERE.parent / "golden_vectors"
RTL = reference_rtl()  # emu/rtl/emu_dut.v, emu/rtl/emu_sr_top.v


# --- the model, without a simulator ------------------------------------------------------------
@pytest.mark.parametrize("name", ["sr_fp32_e4m3_r8", "sr_fp32_e5m2_r8", "convert_fp32_e4m3_rne",
                                  "convert_fp32_e5m2_rne_sat", "add_e4m3_rne"])
def test_model_reproduces_committed_sets(name):
    """Fed a set's inputs element by element, in uneven batches, the model predicts the set's
    outputs and (stochastic) uses the set's random words: the same settings, the same bits."""
    gs = load(GOLDEN / name)
    model = ReferenceModel.from_set(GOLDEN / name)
    ins = {p: gs[p] for p in model.inputs}
    n = gs.count
    cuts = [0, 1, 2, 5, 77, 1000, n]
    ys, rs = [], []
    for lo, hi in zip(cuts, cuts[1:], strict=False):
        vs = model.predict(**{p: v[lo:hi] for p, v in ins.items()})
        ys.append(vs.port("y").values)
        if model.stochastic:
            rs.append(vs.port("r").values)
    assert np.array_equal(np.concatenate(ys), gs["y"])
    if model.stochastic:
        assert np.array_equal(np.concatenate(rs), gs["r"])


def test_model_lanes_follow_a_streaming_dut():
    """With L lanes, element j of the stream (since reset) uses lane j mod L, however the
    elements arrive: one at a time equals one call; skip(n) equals n unused elements."""
    x = emu.quantize(np.linspace(-3, 3, 50), "fp32").codes
    lfsr = emu.LFSR(shifts=8, seeds=[1, 2, 3])
    one = ReferenceModel("sr", dst="e4m3", lfsr=lfsr)
    step = ReferenceModel("sr", dst="e4m3", lfsr=lfsr)
    whole = one.predict(a=x)
    parts = [step.predict(a=int(c)) for c in x.tolist()]
    assert [int(p.port("y").values[0]) for p in parts] == whole.port("y").values.tolist()
    assert [int(p.port("r").values[0]) for p in parts] == whole.port("r").values.tolist()
    skipper = ReferenceModel("sr", dst="e4m3", lfsr=lfsr)
    skipper.predict(a=x[:7])
    skipper.skip(10)
    assert skipper.predict(a=x[17:]).port("r").values.tolist() == whole.port("r").values[17:].tolist()
    step.reset()
    assert step.predict(a=x).port("r").values.tolist() == whole.port("r").values.tolist()
    step.reset(seed=9)  # one seed over the same three lanes (§7.4)
    assert step.predict(a=x[:4]).port("r").values.tolist() == \
        ReferenceModel("sr", dst="e4m3", lfsr=emu.LFSR(shifts=8, seed=9, lanes=3)).predict(
            a=x[:4]).port("r").values.tolist()


def test_model_follows_a_vendor_profile(tmp_path):
    """A model takes a set's settings, the vendor profile included, and agrees with the set."""
    d = emu.golden.write(tmp_path / "s", "add", fmt="e5m2", inputs="exhaustive", profile="riscv")
    gs = load(d)
    model = ReferenceModel.from_set(d)
    assert model.spec["profile"] == "riscv"
    assert np.array_equal(model.predict(a=gs["a"], b=gs["b"]).port("y").values, gs["y"])
    neg_nan = 0xFE  # a negative NaN operand: riscv's result is the positive canonical NaN 0x7e
    y = ReferenceModel("add", fmt="e5m2", profile="riscv").predict(a=neg_nan, b=0x3C).port("y").values
    assert y.tolist() == [0x7E]


def test_model_refuses_bad_ports_and_ops():
    with pytest.raises(ValueError, match="input ports a, b; missing b"):
        ReferenceModel("add", fmt="e4m3").predict(a=[1])
    with pytest.raises(ValueError, match="unknown c"):
        ReferenceModel("convert", dst="e4m3").predict(a=[1], c=[2])
    with pytest.raises(ValueError, match="no online model"):
        ReferenceModel("lfsr")
    with pytest.raises(TypeError, match="emu.LFSR or a dict"):
        ReferenceModel("sr", dst="e4m3", lfsr=42)


def test_scoreboard_reports_as_emu_check_does():
    """A flipped output and a stream one draw late: index, class, inputs, expected and actual,
    and the draw-offset diagnosis."""
    gs = load(GOLDEN / "sr_fp32_e4m3_r8")
    board = Scoreboard(ReferenceModel.from_set(GOLDEN / "sr_fp32_e4m3_r8"), name="sr unit")
    y = gs["y"].copy()
    y[3] ^= 1
    assert board.compare(a=gs["a"][:100], y=y[:100]) == 1
    assert board.compare(a=gs["a"][100:], y=y[100:]) == 0
    text = board.report()
    assert "sr unit: 4255 vectors, 1 mismatches" in text and "#3 " in text
    with pytest.raises(AssertionError, match="#3 "):
        board.assert_ok()

    late = ReferenceModel.from_set(GOLDEN / "sr_fp32_e4m3_r8")
    words = np.concatenate([[0], gs["r"][:-1]]).astype(np.uint64)  # element i rounds with word i-1
    a = emu.Registers.from_codes(gs["a"], "fp32")
    dut_y = emu.convert(a, "e4m3", "sr", sr_bits=8, rng=emu.ReplaySource(words)).codes
    lboard = Scoreboard(late, name="late")
    lboard.compare(a=gs["a"], y=dut_y)
    res = lboard.result
    assert res.n_mismatches > 100
    assert any("offset by -1 draw" in d for d in res.diagnosis), res.diagnosis


def test_scoreboard_resets_split_the_stream():
    """After reset() the model's LFSR restarts; indices keep counting."""
    x = emu.quantize(np.linspace(-1, 1, 20), "fp32").codes
    board = Scoreboard(ReferenceModel("sr", dst="e4m3", lfsr=emu.LFSR(shifts=8, seed=3)))
    ref = ReferenceModel("sr", dst="e4m3", lfsr=emu.LFSR(shifts=8, seed=3)).predict(a=x).port("y").values
    board.compare(a=x, y=ref)
    board.reset()
    bad = ref.copy()
    bad[4] ^= 2
    board.compare(a=x, y=bad)
    assert board.result.n_mismatches == 1 and board.result.mismatches[0]["index"] == 24


def test_emu_cocotb_imports_without_cocotb():
    """``import emu.cocotb`` and the model work without cocotb; the cocotb names say how to
    install it."""
    code = ("import sys; sys.modules['cocotb'] = None\n"
            "import emu.cocotb as ec\n"
            "ec.ReferenceModel('convert', dst='e4m3')\n"
            "try:\n    ec.drive_set\nexcept ImportError as e:\n    print('ImportError:', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'emu-arith[cocotb]'" in out.stdout, out.stdout + out.stderr


# --- cocotb runs under Icarus -----------------------------------------------------------------
def _need_tools():
    require_tools(NEEDS["icarus"], "cocotb runs")
    try:
        import cocotb_tools.runner  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("cocotb is not installed; .ci/run installs it (the test extra)")
        pytest.skip("cocotb not installed (pip install 'emu-arith[cocotb]'): cocotb runs skipped")


def _simulate(tmp: Path, monkeypatch, tests: list[str] | None, **parameters) -> tuple[bool, dict[str, str]]:
    """Build emu_sr_top with ``parameters`` under Icarus, run ``tests`` of tests/cocotb/sr_unit.py
    (None: all); whether every one passed, and each one's report."""
    from cocotb_tools.runner import get_results, get_runner

    runner = get_runner("icarus")
    build = tmp / "build"
    runner.build(sources=RTL, hdl_toplevel="emu_sr_top", parameters=parameters, build_dir=build,
                 timescale=("1ns", "1ps"), always=True)
    reports = tmp / "reports"
    reports.mkdir()
    env = {"EMU_REPORT_DIR": str(reports)}
    monkeypatch.syspath_prepend(str(HERE / "cocotb"))  # the runner passes sys.path on
    xml = tmp / "results.xml"
    # the runner exits (SystemExit) when a cocotb test fails under pytest: a verdict, kept
    try:
        runner.test(hdl_toplevel="emu_sr_top", test_module="sr_unit", build_dir=build, test_dir=tmp,
                    extra_env=env, results_xml=str(xml), testcase=tests)
    except SystemExit:
        pass
    total, failed = get_results(xml)
    assert total == (len(tests) if tests else 5), (total, failed)
    return failed == 0, {p.stem: p.read_text() for p in reports.glob("*.txt")}


@pytest.mark.slow  # 5-15 s a variant; CI runs it once, in the main run (not on Python 3.10)
@pytest.mark.parametrize("variant", ["good", "tie_away", "lfsr_late"])
def test_cocotb_reference_dut(variant, tmp_path, monkeypatch):
    _need_tools()
    # the good DUT runs every test; a broken one the two that its bug concerns (the others are
    # unaffected: the good run and the bug's own logic show that)
    params, tests = {"good": ({}, None),
                     "tie_away": ({"BUG_TIE_AWAY": 1}, ["golden_rne", "online_rne"]),
                     "lfsr_late": ({"LFSR_LATE": 1}, ["golden_sr", "online_sr"])}[variant]
    ok, reports = _simulate(tmp_path, monkeypatch, tests, **params)
    if variant == "good":
        assert ok, reports
        assert sorted(reports) == ["convert_fp32_e4m3_rne", "online_rne", "online_sr", "sr_fp32_e4m3_r8"]
        for text in reports.values():
            assert " 0 mismatches" in text.splitlines()[0], text
        return
    assert not ok
    if variant == "tie_away":  # ties only: classed "tie", or "inf/overflow" for 464 (448 | 480)
        for name in ("convert_fp32_e4m3_rne", "online_rne"):
            head = reports[name].splitlines()[0]
            classes = dict(c.split(": ") for c in head.split("(", 1)[1].rstrip(")").split(", "))
            assert "tie" in classes and set(classes) <= {"tie", "inf/overflow"}, reports[name]
            assert "[tie] a=" in reports[name] and "1 ulp" in reports[name]
    else:  # the SR unit is one draw late: both SR checks say so
        for name in ("sr_fp32_e4m3_r8", "online_sr"):
            text = reports[name]
            # index, class, the input and the random word emu used; expected and actual y
            assert re.search(r"^  #\d+ \[[a-z/]+\] a=[0-9a-f]{8} \(\S+\) r=[0-9a-f]{2}$", text, re.M), text
            assert re.search(r"^      y: expected [0-9a-f]{2} .* actual [0-9a-f]{2} .*ulp$", text, re.M), text
            assert "diagnosis: the outputs match the random words offset by -1 draw(s)" in text, text


def test_scoreboard_refuses_bad_outputs_without_losing_step():
    """Outputs that are not codes of the model's format (floats, strings, bools, negative or too
    wide values, a wrong count) are refused naming the port, before the model draws: the next
    comparison is still in step."""
    mk = lambda: ReferenceModel("sr", dst="e4m3", sr_bits=8, lfsr=emu.LFSR(shifts=8, seed=1))  # noqa: E731
    x = emu.quantize(np.random.default_rng(1).normal(0, 50, 20), "fp32").codes
    good = mk().predict(a=x).port("y").values
    board = Scoreboard(mk(), name="sb")
    for y, err, message in ((good[:3], ValueError, "3 outputs y for 20 inputs"),
                            (0x138, ValueError, "output y: code 0x138 at index 0 does not fit"),
                            (-1, ValueError, "output y: code -1"),
                            (56.7, TypeError, "output y: codes must be integers"),
                            ("56", TypeError, "output y"), (True, TypeError, "output y"),
                            (None, TypeError, "output y")):
        with pytest.raises(err, match=re.escape(message)):
            board.compare(y=y, a=x if np.size(y) != 1 else x[0])
    assert board.compare(y=good, a=x) == 0 and board.result.ok
    with pytest.raises(ValueError, match="input ports differ in length: a 3, b 2"):
        ReferenceModel("add", fmt="e4m3").predict(a=[1, 2, 3], b=[1, 2])


@pytest.mark.parametrize("kwargs,err,message", [
    ({"dst": "e4m3", "sr_bits": 4}, ValueError, "sr_bits applies to stochastic rounding only"),
    ({"dst": "e4m3", "lfsr": emu.LFSR(seed=1)}, ValueError, "lfsr applies to stochastic rounding only"),
    ({"dst": "e4m3", "k": 4}, ValueError, "k does not apply"),
    ({"dst": "e4m3", "count": 5}, ValueError, "count: a model predicts from the stimulus driven"),
    ({"dst": "e4m3", "frobnicate": 1}, TypeError, "unknown setting(s) frobnicate; valid: src, dst"),
])
def test_model_refuses_settings_it_would_ignore(kwargs, err, message):
    with pytest.raises(err, match=re.escape(message)):
        ReferenceModel("convert", **kwargs)


def test_compare_refuses_codes_wider_than_the_port():
    gs = load(GOLDEN / "convert_fp32_e4m3_rne")
    y = gs["y"].astype(np.int64)
    y[7] = 0x1FF
    with pytest.raises(ValueError, match="actual 'y': code 511 at index 7 does not fit the port's 8 bits"):
        gs.compare({"y": y})
    with pytest.raises(TypeError, match="codes must be integers"):
        gs.compare({"y": gs["y"].astype(float)})


def test_push_queues_and_compares_in_order_across_resets():
    """push (Monitor's path) scores exactly as compare does: batches never cross a reset or a
    skip, lanes continue mid-batch, indices count every transaction."""
    x = emu.quantize(np.random.default_rng(3).normal(0, 50, 300), "fp32").codes
    lf = emu.LFSR(shifts=8, seed=4, lanes=3)
    ref = ReferenceModel("sr", dst="e4m3", lfsr=lf)
    y1 = ref.predict(a=x[:100]).port("y").values
    ref.skip(5)
    y2 = ref.predict(a=x[100:200]).port("y").values
    ref.reset()
    y3 = ref.predict(a=x[200:]).port("y").values.copy()
    y3[50] ^= 1
    board = Scoreboard(ReferenceModel("sr", dst="e4m3", lfsr=lf), batch=7)
    for i in range(100):
        board.push(int(y1[i]), a=int(x[i]))
    board.skip(5)
    for i in range(100):
        board.push(int(y2[i]), a=int(x[100 + i]))
    board.reset()
    for i in range(100):
        board.push(int(y3[i]), a=int(x[200 + i]))
    res = board.result
    assert res.total == 300 and res.n_mismatches == 1 and res.mismatches[0]["index"] == 250
