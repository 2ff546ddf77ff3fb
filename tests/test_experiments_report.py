"""The experiment framework: mean ± standard error, the files a preset writes, and the CLI's
handling of presets and output directories (the presets' claims: tests/test_experiments_*.py)."""

import csv
import io
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import main
from emu.train.experiments import PRESETS, preset, run_preset
from emu.train.experiments.report import (
    Curve,
    Estimate,
    Panel,
    Result,
    csv_text,
    markdown,
    run_seeds,
    write,
)


def test_estimate_is_the_mean_and_the_standard_error_of_the_mean():
    e = Estimate.of([1.0, 2.0, 3.0, 6.0])
    assert e.mean == 3.0 and e.n == 4
    # s^2 = ((-2)^2 + (-1)^2 + 0 + 3^2) / 3 = 14/3; se = s / sqrt(4)
    assert math.isclose(e.se, math.sqrt(14 / 3) / 2)
    assert str(e) == "3 ± 1.1"
    assert Estimate.of([5.0]).se == 0.0 and str(Estimate.of([5.0])) == "5"
    assert str(Estimate.of([0.25, 0.25])) == "0.25 ± 0"  # two runs that agree: se 0, shown
    with pytest.raises(ValueError):
        Estimate.of([])


def test_curve_bands_and_shape_checks():
    c = Curve("p", "sr", [0, 1], [[1.0, 4.0], [3.0, 8.0]])
    assert c.mean.tolist() == [2.0, 6.0]
    assert np.allclose(c.se, [1.0, 2.0])  # s = sqrt(2), sqrt(8); / sqrt(2)
    with pytest.raises(ValueError, match="2 values per run for 3 x positions"):
        Curve("p", "x", [0, 1, 2], [[1.0, 2.0]])


def _result() -> Result:
    r = Result("demo", "A demo", "nobody 2026", ["mode", "loss", "note"], size="quick", seeds=2)
    r.row(mode="rne", loss=0.5, note=None)
    r.row(mode="sr", loss=Estimate.of([0.1, 0.3]), note="x")
    r.curves.append(Curve("main", "sr", [0, 1], [[1.0, 0.5], [1.0, 0.25]]))
    r.panels["main"] = Panel("loss", "step", "f - f*")
    r.notes.append("a note")
    return r


def test_rows_refuse_unknown_columns_and_find_one_row():
    r = _result()
    with pytest.raises(ValueError, match="not columns"):
        r.row(mode="x", bogus=1)
    assert r.find(mode="sr")["note"] == "x"
    with pytest.raises(KeyError):
        r.find(mode="nothing")


def test_csv_splits_estimates_into_mean_se_n_and_markdown_shows_them():
    r = _result()
    rows = list(csv.reader(io.StringIO(csv_text(r))))
    assert rows[0] == ["mode", "loss_mean", "loss_se", "loss_n", "note"]
    assert rows[1] == ["rne", "0.5", "", "", ""]
    assert rows[2][:2] == ["sr", "0.2"] and math.isclose(float(rows[2][2]), 0.1) and rows[2][3] == "2"
    md = markdown(r, "emu experiments demo --quick")
    assert "| sr | 0.2 ± 0.1 | x |" in md and "`emu experiments demo --quick`" in md
    assert "- a note" in md


def test_files_are_strict_json_and_one_run_has_no_standard_error(tmp_path):
    r = Result("demo", "A demo", "nobody", ["mode", "loss", "x"], seeds=2)
    r.row(mode="rne", loss=Estimate.of([0.5]), x=float("inf"))
    r.row(mode="sr", loss=Estimate.of([float("nan"), 1.0]), x=1.0)
    write(r, tmp_path, png=False)
    text = (tmp_path / "result.json").read_text()
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in result.json"))
    assert doc["rows"][0] == {"mode": "rne", "loss": {"mean": 0.5, "se": None, "n": 1}, "x": "inf"}
    assert doc["rows"][1]["loss"]["mean"] == "nan"
    rows = list(csv.reader(io.StringIO((tmp_path / "results.csv").read_text())))
    assert rows[1][:4] == ["rne", "0.5", "", "1"]


def test_write_puts_four_files(tmp_path):
    files = write(_result(), tmp_path)
    assert sorted(f.name for f in files) == ["figure.png", "result.json", "results.csv", "table.md"]
    doc = json.loads((tmp_path / "result.json").read_text())
    assert doc["rows"][1]["loss"] == {"mean": 0.2, "se": pytest.approx(0.1), "n": 2}
    assert (tmp_path / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_seeds_are_derived_not_literal():
    assert run_seeds(3) == [1, 2, 3]


def test_every_preset_is_a_module_with_the_contract():
    for name in PRESETS:
        mod = preset(name)
        assert mod.TITLE and mod.SOURCE and callable(mod.run)
        assert getattr(mod, "SEEDS", 16) >= 16
    with pytest.raises(ValueError, match="valid: xia-fixed"):
        preset("nope")
    with pytest.raises(ValueError, match="seeds"):
        run_preset("xia-fixed", quick=True, seeds=1)


def test_cli_refuses_to_replace_what_is_not_an_experiment(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "precious.txt").write_text("keep")
    r = CliRunner().invoke(main, ["experiments", "xia-fixed", "--quick", "--out",
                                  str(tmp_path / "mine")])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert (tmp_path / "mine" / "precious.txt").read_text() == "keep"
