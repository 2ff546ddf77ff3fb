"""Output directories never lose data (emu.outdir): golden sets, training runs and traces, sweeps.

Each case here was a real loss on the first build: ``emu golden --out proj`` deleted proj/src,
``--out golden_vectors/`` wiped every committed set, a kill between two renames left nothing,
and a second ``--trace`` run mixed its steps with the first.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from emu import outdir
from emu.golden import generate, write_set
from emu.golden.shards import write_sharded
from emu.outdir import OutputError

SPEC = {"op": "lfsr", "lfsr": {"width": 16, "shifts": 8}, "count": 8}
GOLDEN = ["golden", "convert", "--dst", "e4m3", "--count", "10", "--inputs", "random"]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def valid_set(path: Path) -> bool:
    m = json.loads((path / "manifest.json").read_text())
    return all(hashlib.sha256((path / f).read_bytes()).hexdigest() == h for f, h in m["sha256"].items())


def test_golden_refuses_a_directory_that_is_not_a_vector_set(tmp_path):
    proj = tmp_path / "proj"
    (proj / "src").mkdir(parents=True)
    (proj / "src" / "a.v").write_text("module a; endmodule\n")
    before = tree(proj)
    for extra in ([], ["--force"]):
        r = run(*GOLDEN, "--out", proj, *extra)
        assert r.exit_code == 2 and "not an emu vector set" in r.output and "Traceback" not in r.output
        assert tree(proj) == before


def test_golden_refuses_the_parent_of_sets(tmp_path):
    """--out golden_vectors/ must not wipe the sets inside it."""
    parent = tmp_path / "golden_vectors"
    write_set(generate(SPEC), parent / "a", "test")
    write_set(generate(SPEC), parent / "b", "test")
    before = tree(parent)
    r = run(*GOLDEN, "--out", parent, "--force")
    assert r.exit_code == 2 and tree(parent) == before


def test_golden_replaces_an_emu_set_only_with_force(tmp_path):
    out = tmp_path / "set"
    assert run(*GOLDEN, "--out", out).exit_code == 0
    first = tree(out)
    r = run(*GOLDEN[:-4], "--count", "12", "--inputs", "random", "--out", out)
    assert r.exit_code == 2 and "--force" in r.output and tree(out) == first
    r = run(*GOLDEN[:-4], "--count", "12", "--inputs", "random", "--out", out, "--force")
    assert r.exit_code == 0 and tree(out) != first and valid_set(out)
    assert json.loads((out / "manifest.json").read_text())["count"] == 12
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]  # no staging dir or lock left


def test_an_empty_directory_may_be_used(tmp_path):
    (tmp_path / "empty").mkdir()
    assert run(*GOLDEN, "--out", tmp_path / "empty").exit_code == 0
    assert valid_set(tmp_path / "empty")


def test_a_file_or_a_symlink_is_refused_before_work(tmp_path, monkeypatch):
    import emu.golden

    def no_work(*a, **k):
        raise AssertionError("generated although --out is unusable")

    monkeypatch.setattr(emu.golden, "generate", no_work)
    f = tmp_path / "f"
    f.write_text("keep me")
    write_set(generate(SPEC), tmp_path / "set", "test")
    (tmp_path / "link").symlink_to(tmp_path / "set")
    for target, msg in ((f, "not a directory"), (tmp_path / "link", "symbolic link"),
                        (f / "sub", "not a directory")):
        r = run(*GOLDEN, "--out", target, "--force")
        assert r.exit_code == 2 and msg in r.output, r.output
    assert f.read_text() == "keep me" and valid_set(tmp_path / "set")


def test_sharded_sets_follow_the_same_rules(tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "notes.txt").write_text("x")
    spec = {"op": "convert", "src": "e5m2", "dst": "e4m3", "inputs": ["exhaustive"]}
    with pytest.raises(OutputError):
        write_sharded(spec, proj, "test", 2)
    top = write_sharded(spec, tmp_path / "s", "test", 2)
    with pytest.raises(OutputError, match="--force"):
        write_sharded(spec, top, "test", 3)
    write_sharded(spec, top, "test", 3, force=True)
    assert len(json.loads((top / "manifest.json").read_text())["shards"]) == 3
    assert (proj / "notes.txt").read_text() == "x"


def test_a_second_writer_fails_clearly(tmp_path):
    out = tmp_path / "set"
    write_set(generate(SPEC), out, "first")
    before = tree(out)
    with outdir.locked(out):
        with pytest.raises(OutputError, match="another emu run is writing"):
            write_set(generate(SPEC), out, "second", force=True)
    assert tree(out) == before
    write_set(generate(SPEC), out, "third", force=True)  # the lock is released
    assert not (tmp_path / ".set.lock").exists()


def test_concurrent_processes_never_corrupt_a_set(tmp_path):
    out = tmp_path / "set"
    write_set(generate(SPEC), out, "first")
    code = ("import sys; from cli.main import main; sys.argv = ['emu'] + sys.argv[1:]; main()")
    args = [sys.executable, "-c", code, *GOLDEN[:-4], "--count", "3000", "--inputs", "random",
            "--out", str(out), "--force"]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=Path(__file__).parent.parent) for _ in range(4)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert any(rc == 0 for rc, _ in results)
    for rc, err in results:
        assert rc == 0 or (rc == 2 and "another emu run is writing" in err), err
    assert valid_set(out) and json.loads((out / "manifest.json").read_text())["count"] >= 3000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]


def test_there_is_never_an_instant_without_a_set(tmp_path, monkeypatch):
    """Every rename the swap makes leaves a complete set at the path (RENAME_EXCHANGE)."""
    out = tmp_path / "set"
    write_set(generate(SPEC), out, "first")
    seen = []
    real = outdir._renameat2

    def watched(src, dst, flags):
        ok = real(src, dst, flags)
        seen.append((out / "manifest.json").exists() and valid_set(out))
        return ok

    real_rename = os.rename

    def watched_rename(a, b):
        real_rename(a, b)
        seen.append((out / "manifest.json").exists())

    monkeypatch.setattr(outdir, "_renameat2", watched)
    monkeypatch.setattr(os, "rename", watched_rename)
    write_set(generate({**SPEC, "count": 9}), out, "second", force=True)
    assert seen and all(seen)
    assert json.loads((out / "manifest.json").read_text())["count"] == 9


def test_a_reader_polling_during_replacements_always_finds_a_set(tmp_path):
    out = tmp_path / "set"
    write_set(generate(SPEC), out, "first")
    missing = []
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            try:
                json.loads((out / "manifest.json").read_text())
            except (OSError, ValueError) as err:
                missing.append(err)

    t = threading.Thread(target=poll)
    t.start()
    try:
        for i in range(30):
            write_set(generate({**SPEC, "count": 8 + i}), out, "again", force=True)
    finally:
        stop.set()
        t.join()
    assert not missing


KILLED = """
import sys, time
import emu.golden.vectors as v
from emu.golden import generate, write_set
def slow(vs):
    print("staging", flush=True)
    time.sleep(60)
v._csv_text = slow
write_set(generate({spec!r}), sys.argv[1], "killed", force=True)
"""


def test_a_killed_run_leaves_the_old_set_and_its_leftovers_are_cleaned(tmp_path):
    out = tmp_path / "set"
    write_set(generate(SPEC), out, "first")
    before = tree(out)
    p = subprocess.Popen([sys.executable, "-c", KILLED.format(spec={**SPEC, "count": 5}), str(out)],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "staging"
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert tree(out) == before
    leftovers = [q.name for q in tmp_path.iterdir() if q.name != "set"]
    assert leftovers and all(q.startswith(".set.") for q in leftovers)  # staging dir, lock file
    write_set(generate(SPEC), out, "next", force=True)
    assert sorted(q.name for q in tmp_path.iterdir()) == ["set"]


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_files_respect_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        out = write_set(generate(SPEC), tmp_path / "set", "test")
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o777 & ~mask
    for f in out.iterdir():
        assert f.stat().st_mode & 0o777 == 0o666 & ~mask, f


# --- training runs, traces and sweeps ----------------------------------------------------------
TRAIN = ["train", "--model", "logistic", "--data", "logistic", "--epochs", "1", "--weights", "e5m2"]


def test_train_trace_is_replaced_whole_never_mixed(tmp_path):
    trace = tmp_path / "trace"
    assert run(*TRAIN, "--batch", "64", "--trace", trace).exit_code == 0
    first = sorted(p.name for p in trace.iterdir())
    r = run(*TRAIN, "--batch", "128", "--trace", trace)
    assert r.exit_code == 2 and "--force" in r.output
    assert sorted(p.name for p in trace.iterdir()) == first
    assert run(*TRAIN, "--batch", "128", "--trace", trace, "--force").exit_code == 0
    steps = sorted(p.name for p in trace.iterdir() if p.name.startswith("step_"))
    assert len(steps) < len(first) - 1  # the longer first run's steps are gone
    assert json.loads((trace / "trace.json").read_text())["steps"] == len(steps)


def test_train_out_is_checked_before_training(tmp_path, monkeypatch):
    import emu.train.linear

    def no_training(*a, **k):
        raise AssertionError("trained although --out is unusable")

    monkeypatch.setattr(emu.train.linear, "train", no_training)
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "keep.txt").write_text("x")
    for target in (proj, tmp_path / "proj" / "keep.txt" / "sub", Path("/proc/emu-no/out")):
        r = run(*TRAIN, "--out", target)
        assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert (proj / "keep.txt").read_text() == "x"
    r = run(*TRAIN, "--out", tmp_path / "o", "--trace", tmp_path / "o")
    assert r.exit_code == 2 and "different" in r.output


def test_train_out_replaced_only_with_force(tmp_path):
    out = tmp_path / "run"
    assert run(*TRAIN, "--out", out).exit_code == 0
    first = (out / "history.json").read_text()
    assert run(*TRAIN, "--out", out, "--lr", "0.25").exit_code == 2
    assert (out / "history.json").read_text() == first
    assert run(*TRAIN, "--out", out, "--lr", "0.25", "--force").exit_code == 0
    assert json.loads((out / "history.json").read_text())["config"]["lr"] == 0.25


def test_sweep_out_rules(tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text('[base]\nmodel = "logistic"\ndata = "logistic"\nepochs = 1\nweights = "e5m2"\n'
                   '[grid]\nseed = [1, 2]\n')
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "keep.txt").write_text("x")
    r = run("sweep", cfg, "--local", "--out", proj)
    assert r.exit_code == 2 and "not an emu sweep" in r.output
    out = tmp_path / "sw"
    assert run("sweep", cfg, "--local", "--out", out).exit_code == 0
    r = run("sweep", cfg, "--local", "--out", out)
    assert r.exit_code == 2 and "--resume" in r.output and "--force" in r.output
    assert run("sweep", cfg, "--local", "--out", out, "--resume").exit_code == 0
    cfg.write_text(cfg.read_text().replace("[1, 2]", "[3]"))
    assert run("sweep", cfg, "--local", "--out", out, "--force").exit_code == 0
    assert len(list((out / "tasks").glob("*.json"))) == 1  # replaced, not mixed
    assert run("sweep", cfg, "--local", "--out", out, "--force", "--resume").exit_code == 2
    with outdir.locked(out):
        r = run("sweep", cfg, "--local", "--out", out, "--resume")
        assert r.exit_code == 2 and "another emu run" in r.output
    assert (proj / "keep.txt").read_text() == "x"


def test_sweep_resume_reports_a_malformed_task_file(tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text('[base]\nmodel = "logistic"\ndata = "logistic"\nepochs = 1\n')
    out = tmp_path / "sw"
    assert run("sweep", cfg, "--local", "--out", out).exit_code == 0
    for text in ("{not json", "[1, 2]", '{"id": 5}'):
        bad = next((out / "tasks").glob("*.json"))
        bad.write_text(text)
        r = run("sweep", cfg, "--local", "--out", out, "--resume")
        assert r.exit_code == 2 and bad.name in r.output and "Traceback" not in r.output, r.output



def test_files_written_into_an_existing_directory_respect_the_umask(tmp_path):
    """Sweeps write task files straight into their directory (no staged swap)."""
    from emu.golden.hexio import write_atomic

    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "t.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "t.json").stat().st_mode & 0o777 == 0o640


def test_leftover_cleaning_matches_its_own_name_only(tmp_path):
    """A name with glob characters must not match (and delete) another path's staging dir."""
    busy = tmp_path / ".set1.emu-tmp-abcd"  # another writer's work in progress for "set1"
    busy.mkdir()
    write_set(generate(SPEC), tmp_path / "set[1]", "test")
    assert busy.exists()
    write_set(generate(SPEC), tmp_path / "*", "test")
    assert busy.exists()


# --- mount points: the swap cannot replace them ------------------------------------------------
def test_a_mount_point_is_refused_before_work(tmp_path, monkeypatch):
    import emu.golden

    def no_work(*a, **k):
        raise AssertionError("generated although --out is a mount point")

    mnt = tmp_path / "mnt"
    mnt.mkdir()
    real = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda p: Path(p) == mnt or real(p))
    monkeypatch.setattr(emu.golden, "generate", no_work)
    r = run(*GOLDEN, "--out", mnt)
    assert r.exit_code == 2 and "mount point" in r.output and str(mnt / "run") in r.output, r.output
    with pytest.raises(OutputError, match="mount point"):
        outdir.check_target(mnt, "training run", force=True)
    outdir.check_target(mnt / "run", "training run")  # a directory inside it is fine
    assert not any(mnt.iterdir())


def test_a_failed_swap_says_why_and_keeps_the_old_content(tmp_path, monkeypatch):
    """Should a mount point slip past the check (EBUSY at the swap): a clear error."""
    out = write_set(generate(SPEC), tmp_path / "set", "first")
    before = tree(out)

    def busy(new, path):
        raise OSError(16, os.strerror(16), str(path))

    monkeypatch.setattr(outdir, "move_into_place", busy)
    with pytest.raises(OutputError, match="mount point"):
        write_set(generate(SPEC), out, "second", force=True)
    assert tree(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["set"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0 or not Path("/proc/mounts").exists(),
                    reason="mounting a tmpfs needs root on Linux")
def test_a_real_tmpfs_mount_point(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)],
                      capture_output=True).returncode:
        pytest.skip("mount is not permitted here")
    try:
        r = run(*GOLDEN, "--out", mnt)
        assert r.exit_code == 2 and "mount point" in r.output, r.output
        assert not any(mnt.iterdir())
        assert run(*GOLDEN, "--out", mnt / "run").exit_code == 0 and valid_set(mnt / "run")
        assert run(*GOLDEN, "--out", mnt / "run", "--force").exit_code == 0
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


# --- --force never deletes what emu did not write ----------------------------------------------
def listing(path: Path) -> list[str]:
    return [json.loads(line) for line in (path / ".emu-files").read_text().splitlines()]


def test_an_artefact_records_what_it_consists_of(tmp_path):
    out = write_set(generate(SPEC), tmp_path / "set", "test")
    assert listing(out) == sorted(p.name for p in out.iterdir() if p.name != ".emu-files")
    spec = {"op": "convert", "src": "e5m2", "dst": "e4m3", "inputs": ["exhaustive"]}
    top = write_sharded(spec, tmp_path / "s", "test", 2)
    assert "shard-0000/" in listing(top) and "shard-0001/manifest.json" in listing(top)


def test_force_refuses_files_a_user_added_to_a_set(tmp_path):
    out = write_set(generate(SPEC), tmp_path / "set", "first")
    (out / "NOTES.txt").write_text("mine")
    write_set(generate(SPEC), out / "nested", "another run inside")
    before = tree(out)
    r = run(*GOLDEN, "--out", out, "--force")
    assert r.exit_code == 2 and "NOTES.txt" in r.output and "nested/" in r.output, r.output
    assert "move them out" in r.output and "nested/manifest.json" not in r.output
    assert tree(out) == before
    (out / "NOTES.txt").unlink()
    r = run(*GOLDEN, "--out", out, "--force")
    assert r.exit_code == 2 and "nested/" in r.output and "NOTES" not in r.output
    (out / "nested" / "manifest.json").rename(tmp_path / "kept.json")
    r = run(*GOLDEN, "--out", out, "--force")  # an empty directory, or one file deep: still named
    assert r.exit_code == 2 and "nested/" in r.output
    import shutil

    shutil.rmtree(out / "nested")
    assert run(*GOLDEN, "--out", out, "--force").exit_code == 0 and valid_set(out)


def test_force_names_a_few_extras_and_counts_the_rest(tmp_path):
    out = write_set(generate(SPEC), tmp_path / "set", "first")
    for i in range(5):
        (out / f"n{i}.txt").write_text("x")
    with pytest.raises(OutputError, match=r"n0.txt, n1.txt, n2.txt and 2 more"):
        outdir.check_target(out, "vector set", force=True)


def test_force_refuses_a_user_file_inside_a_shard(tmp_path):
    spec = {"op": "convert", "src": "e5m2", "dst": "e4m3", "inputs": ["exhaustive"]}
    top = write_sharded(spec, tmp_path / "s", "test", 2)
    (top / "shard-0001" / "plot.png").write_bytes(b"x")
    with pytest.raises(OutputError, match="shard-0001/plot.png"):
        write_sharded(spec, top, "test", 3, force=True)
    assert (top / "shard-0001" / "plot.png").exists()


def test_an_older_artefact_without_a_listing_is_replaced_as_before(tmp_path):
    out = write_set(generate(SPEC), tmp_path / "set", "first")
    (out / ".emu-files").unlink()
    (out / "extra.txt").write_text("x")  # nothing says whether emu wrote it: the old rule
    write_set(generate({**SPEC, "count": 9}), out, "second", force=True)
    assert not (out / "extra.txt").exists() and (out / ".emu-files").exists()


def test_a_leftover_temporary_file_of_emu_does_not_block_force(tmp_path):
    out = write_set(generate(SPEC), tmp_path / "set", "first")
    (out / ".manifest.json.ab_cd123.tmp").write_text("killed inside write_atomic")
    write_set(generate(SPEC), out, "second", force=True)
    (out / ".notes.txt.ab_cd123.tmp").write_text("not a temporary of emu's")
    with pytest.raises(OutputError, match="notes"):
        write_set(generate(SPEC), out, "third", force=True)


def test_force_refuses_a_run_nested_in_a_training_run_or_trace(tmp_path):
    out = tmp_path / "conc"
    assert run(*TRAIN, "--out", out, "--trace", tmp_path / "tr").exit_code == 0
    assert run(*TRAIN, "--out", out / "sub").exit_code == 0
    (tmp_path / "tr" / "NOTES.txt").write_text("x")
    before = tree(out)
    r = run(*TRAIN, "--out", out, "--force")
    assert r.exit_code == 2 and "sub/" in r.output, r.output
    r = run(*TRAIN, "--trace", tmp_path / "tr", "--force")
    assert r.exit_code == 2 and "NOTES.txt" in r.output, r.output
    assert tree(out) == before and (tmp_path / "tr" / "NOTES.txt").exists()


def test_force_refuses_notes_in_an_experiment(tmp_path):
    out = tmp_path / "exp"
    with outdir.staged(out, "experiment") as tmp:
        (tmp / "result.json").write_text('{"preset": "p", "rows": []}')
    (out / "NOTES.txt").write_text("x")
    with pytest.raises(OutputError, match="NOTES.txt"):
        outdir.check_target(out, "experiment", force=True)
    r = run("experiments", "shrinkage", "--quick", "--seeds", "2", "--out", out, "--force")
    assert r.exit_code == 2 and "NOTES.txt" in r.output and (out / "NOTES.txt").exists()


def test_sweeps_own_their_layout_through_resumes(tmp_path):
    """A sweep gains task files after it is written (resume): its layout, not a frozen
    listing, says what is its own, with or without a listing."""
    cfg = tmp_path / "s.toml"
    cfg.write_text('[base]\nmodel = "logistic"\ndata = "logistic"\nepochs = 1\nweights = "e5m2"\n'
                   '[grid]\nseed = [1]\n')
    out = tmp_path / "sw"
    assert run("sweep", cfg, "--local", "--out", out).exit_code == 0  # written in place: no listing
    (out / "NOTES.txt").write_text("x")
    r = run("sweep", cfg, "--local", "--out", out, "--force")
    assert r.exit_code == 2 and "NOTES.txt" in r.output and (out / "NOTES.txt").exists()
    (out / "NOTES.txt").unlink()
    assert run("sweep", cfg, "--local", "--out", out, "--force").exit_code == 0  # staged: listed
    assert (out / ".emu-files").exists()
    cfg.write_text(cfg.read_text().replace("[1]", "[1, 2, 3]"))
    assert run("sweep", cfg, "--local", "--out", out, "--resume").exit_code == 0
    assert len(list((out / "tasks").glob("*.json"))) == 3
    (out / "tasks" / ".0123456789ab.json.abcd_123.tmp").write_text("{")  # a killed write
    outdir.check_target(out, "sweep", force=True)
    (out / "tasks" / "mine.json").write_text("{}")
    with pytest.raises(OutputError, match="tasks/mine.json"):
        outdir.check_target(out, "sweep", force=True)
    (out / "tasks" / "mine.json").unlink()
    assert run("sweep", cfg, "--local", "--out", out, "--force").exit_code == 0
