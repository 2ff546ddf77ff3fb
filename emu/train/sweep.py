"""Experiment grids: many independent training runs, on Dask or in this process.

A sweep file (TOML) has three optional tables, every key one of ``emu train``'s options:

    [base]            # shared by every run
    model = "softmax"
    epochs = 3
    [grid]            # every combination of these lists (keys in file order)
    rounding = ["rne", "sr"]
    seed = [1, 2]
    [[runs]]          # and/or explicit runs; each is combined with the whole grid
    weights = "e4m3"

Each run is a task named by a hash of its full option set. A finished task's result is written
at once, atomically, to ``OUT/tasks/<id>.json``; ``resume`` skips tasks whose file is there, so
an interrupted sweep redoes only what it had not finished. Results are gathered in task order
into ``OUT/results.json`` and ``OUT/results.csv``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import math
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

from .. import __version__
from ..jsonfile import dumps
from ..outdir import check_target, is_artefact, locked, staged, write_atomic
from .data import load_split
from .linear import TrainConfig, check_data, train
from .options import DATA_OPTIONS, TRAIN_FIELDS, load_data, train_config

OPTIONS = DATA_OPTIONS + TRAIN_FIELDS
DEFAULTS = {"data": "digits", "train_size": None, "test_size": None,
            **{f.name: f.default for f in fields(TrainConfig)}}
TABLES = ("base", "grid", "runs")
COLUMNS = ("id", "status", "final_loss", "accuracy", "test_loss", "test_accuracy", "stagnant_share",
           "wall_s")


def _check_keys(where: str, keys) -> None:
    unknown = sorted(set(keys) - set(OPTIONS))
    if unknown:
        raise ValueError(f"{where}: unknown option(s) {', '.join(unknown)}; valid: "
                         f"{', '.join(OPTIONS)}")


MAX_RUNS = 1000


def expand(doc: dict, source: str = "sweep", max_runs: int = MAX_RUNS) -> list[dict]:
    """Every run's full option set (defaults filled in), in grid order; invalid options or
    values, a missing data file, or more than ``max_runs`` runs raise before anything runs."""
    extra = sorted(set(doc) - set(TABLES))
    if extra:
        raise ValueError(f"{source}: unknown table(s) {', '.join(extra)}; valid: {', '.join(TABLES)}")
    base = doc.get("base", {})
    grid = doc.get("grid", {})
    runs = doc.get("runs", [{}]) or [{}]
    if not isinstance(base, dict):
        raise ValueError(f"{source}: base must be a table ([base] with key = value lines)")
    if not isinstance(grid, dict):
        raise ValueError(f"{source}: grid must be a table ([grid] with key = [values] lines)")
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        raise ValueError(f"{source}: runs must be tables ([[runs]] blocks)")
    n = len(runs) * math.prod(len(v) if isinstance(v, list) else 1 for v in grid.values())
    if n > max_runs:
        raise ValueError(f"{source}: {n} runs; more than {max_runs} needs --max-runs {n}")
    _check_keys(f"{source} [base]", base)
    _check_keys(f"{source} [grid]", grid)
    for k, v in grid.items():
        if not isinstance(v, list) or not v:
            raise ValueError(f"{source} [grid] {k}: need a non-empty list of values")
    for i, r in enumerate(runs):
        _check_keys(f"{source} [[runs]] #{i + 1}", r)
    tasks = []
    for run in runs:
        for combo in itertools.product(*grid.values()):
            opts = {**DEFAULTS, **base, **run, **dict(zip(grid, combo, strict=True))}
            try:
                train_config(opts)
            except (TypeError, ValueError) as err:
                raise ValueError(f"{source}: run {_label(opts)}: {err}") from None
            tasks.append(opts)
    loaded = {}
    for data in dict.fromkeys(tuple(t[k] for k in DATA_OPTIONS) for t in tasks):  # each must load
        try:
            if not isinstance(data[0], str):
                raise ValueError(f"data = {data[0]!r}: needs a name or a file path")
            loaded[data] = load_split(*data)
        except ValueError as err:
            raise ValueError(f"{source}: {err}") from None
    for t in tasks:  # and suit its runs' models (labels, a test set's features)
        train_set, test_set = loaded[tuple(t[k] for k in DATA_OPTIONS)]
        try:
            check_data(train_set, train_config(t), test_set)
        except ValueError as err:
            raise ValueError(f"{source}: run {_label(t)}: {err}") from None
    return tasks


def task_id(opts: dict) -> str:
    return hashlib.sha256(json.dumps(opts, sort_keys=True).encode()).hexdigest()[:12]


def _label(opts: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in opts.items() if DEFAULTS.get(k) != v) or "defaults"


def run_task(opts: dict, threads: int = 1) -> dict:
    """One training run (what a worker executes): final loss, accuracy, test loss and accuracy
    (None without a test set), stagnant share of the last epoch, the per-epoch losses and the
    wall time."""
    t0 = time.perf_counter()
    data, test = load_data(opts)
    _, hist = train(data, train_config(opts), threads=threads, test=test)
    last = hist.epochs[-1]
    return {"id": task_id(opts), "status": "ok", "config": opts, "final_loss": last["loss"],
            "accuracy": last["accuracy"], "test_loss": last["test_loss"],
            "test_accuracy": last["test_accuracy"], "stagnant_share": last["stagnant_share"],
            "losses": [e["loss"] for e in hist.epochs], "wall_s": time.perf_counter() - t0}


def sweep(tasks: list[dict], out_dir: Path | str, *, resume: bool = False, force: bool = False,
          scheduler: str | None = None, workers: int | None = None, local: bool = False,
          task_threads: int = 1, retries: int = 1,
          progress: Callable[[dict], None] | None = None) -> list[dict]:
    """Run the tasks (on Dask, or one by one in this process when ``local``); returns one
    result per task, in task order (status "ok" or "failed" with the error).

    ``out_dir`` (emu.outdir's rules): a new or empty directory, or an emu sweep to continue
    (``resume``) or to replace (``force``: the new sweep is built aside and swapped in when it
    ends, so an interrupted one leaves the old results). One sweep writes a directory at a
    time (a lock); anything that is not an emu sweep is refused before any task runs."""
    out = Path(out_dir)
    if is_artefact(out, "sweep") and not (resume or force or out.is_symlink()):
        n = len(list((out / "tasks").glob("*.json")))
        raise FileExistsError(f"{out} already holds an emu sweep ({n} finished task(s)); pass "
                              "--resume to keep them and run the rest, --force to replace it, "
                              "or choose a new --out")
    check_target(out, "sweep", force=force, resume=resume)
    if is_artefact(out, "sweep") and not resume:
        with staged(out, "sweep", force=True) as tmp:
            return _run_into(tmp, tasks, {}, scheduler, workers, local, task_threads, retries,
                             progress)
    with locked(out):
        check_target(out, "sweep", force=resume, resume=resume)
        done = _finished(out / "tasks") if resume else {}
        (out / "tasks").mkdir(parents=True, exist_ok=True)
        if not is_artefact(out, "sweep"):
            _mark(out, len(tasks))
        return _run_into(out, tasks, done, scheduler, workers, local, task_threads, retries,
                         progress)


def _mark(out: Path, n: int) -> None:
    """The file that identifies ``out`` as an emu sweep (emu.outdir)."""
    write_atomic(out / "sweep.json", json.dumps({"kind": "emu sweep", "emu_version": __version__,
                                                 "tasks": n}, indent=2) + "\n")


def _finished(tdir: Path) -> dict[str, dict]:
    """The finished tasks' results by id; a malformed file is an error naming it."""
    done = {}
    for f in sorted(tdir.glob("*.json")):
        try:
            res = json.loads(f.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{f}, line {err.lineno}: malformed result ({err.msg}); delete it "
                             "to run that task again") from None
        except (OSError, UnicodeDecodeError) as err:
            raise ValueError(f"{f}: unreadable result ({err}); delete it to run that task "
                             "again") from None
        if not isinstance(res, dict) or not isinstance(res.get("id"), str) or "config" not in res:
            raise ValueError(f"{f}: not an emu task result (no id/config); delete it to run that "
                             "task again")
        done[res["id"]] = res
    return done


def _run_into(out: Path, tasks, done, scheduler, workers, local, task_threads, retries,
              progress) -> list[dict]:
    tdir = out / "tasks"
    tdir.mkdir(parents=True, exist_ok=True)
    if not is_artefact(out, "sweep"):
        _mark(out, len(tasks))
    ids = [task_id(t) for t in tasks]
    results = {i: done[i] for i in ids if i in done}
    first = {}
    for k, i in enumerate(ids):
        first.setdefault(i, k)
    todo = [k for k, i in enumerate(ids) if i not in done and first[i] == k]  # once per id

    def finish(k: int, res: dict | None, err: BaseException | None) -> None:
        if err is not None:
            res = {"id": ids[k], "status": "failed", "config": tasks[k],
                   "error": f"{type(err).__name__}: {err}"}
        else:  # written at once: a later interruption keeps it
            write_atomic(tdir / f"{ids[k]}.json", json.dumps(res, indent=2) + "\n")
        results[ids[k]] = res
        if progress:
            progress(res)

    if local:
        for k in todo:
            try:
                res, err = run_task(tasks[k], task_threads), None
            except Exception as e:  # noqa: BLE001 - reported like a failed Dask task
                res, err = None, e
            finish(k, res, err)
    elif todo:
        from ..cluster import client, run_all

        with client(scheduler, workers) as c:
            for j, res, err in run_all(c, run_task, [(tasks[k], task_threads) for k in todo],
                                       retries, [f"emu-train-{ids[k]}" for k in todo]):
                finish(todo[j], res, err)
    ordered = [results[i] for i in ids]
    write_atomic(out / "results.json", dumps({"results": ordered}) + "\n")  # strict: "nan"
    write_atomic(out / "results.csv", results_csv(ordered))
    return ordered


def results_csv(results: list[dict]) -> str:
    """One row per run: the options, then the outcome columns."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(OPTIONS) + list(COLUMNS))
    for r in results:
        w.writerow([r["config"].get(k) for k in OPTIONS] + [r.get(c) for c in COLUMNS])
    return buf.getvalue()
