"""emu sweep: grids of training runs on Dask (emu's private local cluster on 127.0.0.1), resumable."""

import json
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import main
from emu.train import sweep as sw
from emu.train.data import load
from emu.train.linear import TrainConfig, train

pytest.importorskip("dask.distributed")

DOC = {"base": {"model": "softmax", "epochs": 2, "batch": 256},
       "grid": {"rounding": ["rne", "sr"], "seed": [1, 2]}}


def _one_by_one(opts):
    _, hist = train(load(opts["data"]), TrainConfig(**{k: opts[k] for k in sw.TRAIN_FIELDS}))
    return [e["loss"] for e in hist.epochs], hist.epochs[-1]


def test_expand_grid_order_and_defaults():
    tasks = sw.expand(DOC)
    assert [(t["rounding"], t["seed"]) for t in tasks] == [("rne", 1), ("rne", 2), ("sr", 1),
                                                           ("sr", 2)]
    assert all(t["lr"] == 0.5 and t["data"] == "digits" and t["epochs"] == 2 for t in tasks)
    assert len({sw.task_id(t) for t in tasks}) == 4
    runs = sw.expand({"runs": [{"weights": "e4m3"}, {"weights": "e5m2"}], "grid": {"seed": [1, 2]}})
    assert [(t["weights"], t["seed"]) for t in runs] == [("e4m3", 1), ("e4m3", 2), ("e5m2", 1),
                                                         ("e5m2", 2)]


@pytest.mark.parametrize("doc,match", [
    ({"grid": {"lrate": [1]}}, "unknown option.*lrate.*valid"),
    ({"base": {"rounding": "nearest"}}, "nearest"),
    ({"grid": {"seed": []}}, "non-empty list"),
    ({"grids": {}}, "unknown table"),
    ({"grid": {"model": ["logistic", "softmax"]}},  # the digits have 10 classes: before any run
     r"run model=logistic: logistic needs labels 0 and 1; digits-train has 10 classes"),
    ({"grid": {"seed": [1, 0]}}, "run seed=0: seed = 0 is also the LFSR's start state"),
])
def test_expand_errors(doc, match):
    with pytest.raises(ValueError, match=match):
        sw.expand(doc, "s.toml")


def test_local_cluster_matches_one_by_one(tmp_path):
    tasks = sw.expand(DOC)
    results = sw.sweep(tasks, tmp_path / "out", workers=2)
    for opts, res in zip(tasks, results, strict=True):
        losses, last = _one_by_one(opts)
        assert res["status"] == "ok" and res["config"] == opts
        assert res["losses"] == losses  # bit-identical floats, not approximately
        assert res["accuracy"] == last["accuracy"]
        assert res["stagnant_share"] == last["stagnant_share"]
    rows = (tmp_path / "out" / "results.csv").read_text().splitlines()
    assert len(rows) == 5 and rows[0].endswith(
        "id,status,final_loss,accuracy,test_loss,test_accuracy,stagnant_share,wall_s")
    assert json.loads((tmp_path / "out" / "results.json").read_text())["results"] == results


def test_resume_runs_only_the_missing_tasks(tmp_path):
    tasks = sw.expand(DOC)
    seen = []

    def interrupt_after_two(res):
        seen.append(res["id"])
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sw.sweep(tasks, tmp_path, workers=2, progress=interrupt_after_two)
    finished = sorted(p.stem for p in (tmp_path / "tasks").glob("*.json"))
    assert finished == sorted(seen)
    with pytest.raises(FileExistsError, match="--resume"):
        sw.sweep(tasks, tmp_path, workers=2)
    ran = []
    results = sw.sweep(tasks, tmp_path, resume=True, workers=2, progress=lambda r: ran.append(r["id"]))
    assert sorted(ran) == sorted(set(map(sw.task_id, tasks)) - set(seen))
    assert [r["losses"] for r in results] == [_one_by_one(t)[0] for t in tasks]


def test_failed_task_is_reported(tmp_path):
    data = tmp_path / "gone.npz"
    np.savez(data, X=np.ones((4, 2)), y=np.array([0, 1, 0, 1]))
    tasks = sw.expand({"base": {"epochs": 1, "data": str(data), "model": "logistic"}})
    data.unlink()  # expand checked it; by the time the task runs it is gone
    results = sw.sweep(tasks, tmp_path / "o", local=True)
    assert results[0]["status"] == "failed" and "gone.npz" in results[0]["error"]
    assert not list((tmp_path / "o" / "tasks").glob("*.json"))  # a resume would retry it


def test_cli_sweep_local_and_resume(tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text('[base]\nepochs = 1\nbatch = 512\n[grid]\nrounding = ["rne", "sr"]\n')
    out = tmp_path / "res"
    r = CliRunner().invoke(main, ["sweep", str(cfg), "--local", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "rounding" in r.output and "results.csv" in r.output
    r = CliRunner().invoke(main, ["sweep", str(cfg), "--local", "--out", str(out)])
    assert r.exit_code == 2 and "--resume" in r.output
    r = CliRunner().invoke(main, ["sweep", str(cfg), "--local", "--out", str(out), "--resume",
                                  "--json"])
    assert r.exit_code == 0 and len(json.loads(r.output[r.output.index("{"):])["results"]) == 2
    cfg.write_text("[grid]\nrounding = ['nearest']\n")
    r = CliRunner().invoke(main, ["sweep", str(cfg), "--local", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "nearest" in r.output


def test_cli_without_dask_says_how_to_install(tmp_path, monkeypatch):
    cfg = tmp_path / "s.toml"
    cfg.write_text("[base]\nepochs = 1\n")
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import fails
    r = CliRunner().invoke(main, ["sweep", str(cfg), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and 'pip install "emu[sweep]"' in r.output


def test_results_csv_has_the_test_columns_of_results_json(tmp_path):
    import csv

    doc = {"base": {"model": "logistic", "data": "logistic", "train_size": 32, "test_size": 16,
                    "epochs": 1, "batch": 16, "weights": "e5m2"}}
    results = sw.sweep(sw.expand(doc), tmp_path / "out", local=True)
    rows = list(csv.DictReader((tmp_path / "out" / "results.csv").open()))
    assert len(rows) == 1 and results[0]["test_loss"] is not None
    for k in ("test_loss", "test_accuracy", "final_loss", "accuracy"):
        assert float(rows[0][k]) == results[0][k]


@pytest.mark.filterwarnings("error")
def test_results_json_is_strict_when_a_run_diverges(tmp_path):
    """A run whose loss is not finite (targets of 1e200: (p - y)^2 overflows) is written
    "inf": results.json parses under a strict reader."""
    data = tmp_path / "huge.npz"
    y = np.full(8, 1e200)
    y[0] = 0.5  # not all whole numbers: a regression
    np.savez(data, X=np.ones((8, 2)), y=y)
    doc = {"base": {"model": "least_squares", "data": str(data), "epochs": 1}}
    results = sw.sweep(sw.expand(doc), tmp_path / "out", local=True)
    assert not np.isfinite(results[0]["final_loss"])
    text = (tmp_path / "out" / "results.json").read_text()
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in results.json"))
    assert doc["results"][0]["final_loss"] in ("nan", "inf", "-inf")
