"""The CLI's conventions: strict JSON, deterministic result files, separate seeds, checked
inputs, limits on huge sweeps, quiet when piped."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import main
from emu.train.data import load, mnist
from emu.train.linear import TrainConfig, train

TRAIN = ["train", "--model", "logistic", "--data", "logistic", "--epochs", "2", "--weights", "e5m2"]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def strict_json(text: str):
    def no_constant(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=no_constant)


def test_train_json_is_strict_even_with_nan_loss():
    r = run("train", "--model", "least_squares", "--data", "least_squares", "--epochs", "1",
            "--weights", "fp16", "--lr", "1e4", "--json")
    assert r.exit_code == 0, r.output
    doc = strict_json(r.output)
    assert "nan" in json.dumps(doc["epochs"]) or "inf" in json.dumps(doc["epochs"])


def test_demo_and_experiments_json_are_strict():
    strict_json(run("demo", "--steps", "60", "--json").output)
    strict_json(run("demo", "--tour", "--json").output)


def test_history_is_byte_identical_and_timings_are_apart(tmp_path):
    for name in ("a", "b"):
        assert run(*TRAIN, "--out", tmp_path / name).exit_code == 0
    assert (tmp_path / "a" / "history.json").read_bytes() == (tmp_path / "b" / "history.json").read_bytes()
    assert "seconds" not in (tmp_path / "a" / "history.json").read_text()
    t = json.loads((tmp_path / "a" / "timing.json").read_text())
    assert len(t["epoch_seconds"]) == 2


def _weights(**kw):
    from emu.train.data import synthetic_logistic

    model, hist = train(synthetic_logistic(n=64), TrainConfig(model="logistic", weights="e5m2",
                                                                 rounding="sr", epochs=1, batch=16, **kw))
    return model.W.codes.tolist(), hist.epochs


def test_rng_seed_is_apart_from_seed():
    same = _weights(seed=3)
    assert _weights(seed=3, rng_seed=3) == same  # default: the LFSR starts at --seed
    other_noise = _weights(seed=3, rng_seed=7)
    other_order = _weights(seed=4, rng_seed=3)
    assert other_noise != same and other_order != same and other_noise != other_order
    with pytest.raises(ValueError, match="rng_seed"):
        TrainConfig(rng_seed=0)


def test_cli_rng_seed_and_toml_spellings(tmp_path):
    a = strict_json(run(*TRAIN, "--rng-seed", "5", "--json").output)
    assert a["config"]["rng_seed"] == 5
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'out = "{tmp_path / "o"}"\nrng_seed = 5\nepochs = 2\nmodel = "logistic"\n'
                   'data = "logistic"\nweights = "e5m2"\n')
    assert run("train", "--config", cfg).exit_code == 0
    assert json.loads((tmp_path / "o" / "history.json").read_text())["epochs"] == a["epochs"]


def test_sweep_max_runs(tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text('[base]\nepochs = 1\n[grid]\nseed = [1, 2, 3]\nlr = [0.1, 0.2]\n')
    r = run("sweep", cfg, "--local", "--out", tmp_path / "o", "--max-runs", "5")
    assert r.exit_code == 2 and "--max-runs 6" in r.output and not (tmp_path / "o").exists()
    big = tmp_path / "big.toml"  # 10^6 runs: refused at once, without expanding them
    keys = ("seed", "epochs", "batch", "sr_bits", "hidden", "rng_seed")
    big.write_text("[grid]\n" + "".join(f"{k} = {list(range(1, 11))}\n" for k in keys))
    r = run("sweep", big, "--local", "--out", tmp_path / "o")
    assert r.exit_code == 2 and "1000000 runs" in r.output


@pytest.mark.parametrize("arrays, msg", [
    ({"X": np.ones((4, 2)), "y": np.array(["a", "b", "a", "b"])}, "must hold numbers"),
    ({"X": np.ones((4, 2)), "y": np.zeros((4, 2))}, "must be (n, d) and y (n,)"),
    ({"X": np.array([[1.0, np.nan]] * 4), "y": np.array([0, 1, 0, 1])}, "non-finite"),
    ({"X": np.ones((4, 2)), "y": np.array([0, 1, 0, 1e9])}, "classes"),
    ({"X": np.ones((4, 2)) + 1j, "y": np.array([0, 1, 0, 1])}, "must hold numbers"),
    ({"X": np.ones((0, 2)), "y": np.zeros(0)}, "n, d >= 1"),
])
def test_bad_training_data_is_refused(tmp_path, arrays, msg):
    p = tmp_path / "d.npz"
    np.savez(p, **arrays)
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        load(str(p))
    r = run("train", "--data", p, "--epochs", "1")
    assert r.exit_code == 2 and "Traceback" not in r.output


def _idx(path, arr: np.ndarray) -> None:
    head = bytes([0, 0, 0x08, arr.ndim]) + b"".join(struct.pack(">I", n) for n in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(head + arr.astype(np.uint8).tobytes())


def test_mnist_labels_above_9_are_refused(tmp_path):
    _idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((3, 2, 2)))
    _idx(tmp_path / "train-labels-idx1-ubyte.gz", np.array([1, 12, 3]))
    with pytest.raises(ValueError, match="0..9"):
        mnist(tmp_path)
    _idx(tmp_path / "train-labels-idx1-ubyte.gz", np.array([1, 9, 3]))
    assert mnist(tmp_path).n_classes == 10


def test_demo_table_is_aligned_with_a_legend():
    lines = run("demo", "--steps", "60").output.splitlines()
    h = next(i for i, ln in enumerate(lines) if "rounding" in ln and "final x" in ln)
    rows = lines[h + 1:h + 5]
    assert len(rows) == 4 and any("signed_sr_eps" in r for r in rows)
    for row in rows:  # the columns of every row end where the header's do
        assert row.rindex("   ") + 3 == lines[h].index("final x"), row
    assert any(ln.startswith("stagnant:") and "q (shrink)" in ln for ln in lines)


def test_piped_runs_print_no_progress_bar():
    r = CliRunner().invoke(main, TRAIN + ["--json"])
    strict_json(r.output)  # stdout holds the JSON alone
    r = CliRunner().invoke(main, TRAIN)
    assert "steps" not in r.output and "\r" not in r.output


def _set(tmp_path, name, *args):
    r = run("golden", *args, "--count", "40", "--inputs", "random", "--out", tmp_path / name,
            "--threads", "2")
    assert r.exit_code == 0, r.output
    from emu.golden import read_hex
    from emu.golden.vectors import read_manifest

    m = read_manifest(tmp_path / name)
    return m, {p["name"]: read_hex(tmp_path / name / p["file"], p["bits"]) for p in m["ports"]}


def test_golden_biased_sr_sets_use_eps_and_direction(tmp_path):
    import emu

    _, plain = _set(tmp_path, "sr", "sr", "--dst", "e4m3")
    m, eps = _set(tmp_path, "eps", "sr", "--dst", "e4m3", "-r", "signed_sr_eps", "--eps", "0.5",
                  "--direction", "1")
    assert (plain["r"] == eps["r"]).all() and (plain["y"] != eps["y"]).any()
    assert m["spec"]["eps"] == 0.5 and m["spec"]["direction"] == 1
    assert "--threads" not in m["command"]

    class Words:
        def random_words(self, n, bits, threads=None):
            return eps["r"].astype(np.uint64)

    a = emu.Registers.from_codes(eps["a"].astype(np.uint32), "fp32")
    y = emu.convert(a, "e4m3", "signed_sr_eps", rng=Words(), sr_bits=8, eps=0.5, direction=1)
    assert y.codes.tolist() == eps["y"].tolist()


def test_golden_takes_every_lfsr_parameter(tmp_path):
    import emu

    m, ports = _set(tmp_path, "g", "sr", "--dst", "e5m2", "--sr-bits", "6", "--lfsr-config", "galois",
                    "--lfsr-poly", "0x80200003", "--lfsr-reverse", "--lfsr-invert", "--lfsr-lanes", "3",
                    "--lfsr-seed", "7", "--lfsr-width", "32", "--lfsr-shifts", "9")
    lf = emu.LFSR(width=32, poly=0x80200003, config="galois", shifts=9, seed=7, lanes=3, reverse=True,
                  invert=True)
    assert ports["r"].tolist() == lf.random_words(ports["r"].size, 6).tolist()
    assert m["random_source"]["config"] == "galois" and m["random_source"]["invert"] is True


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["formats"], ["quantize", "1.5", "-f", "e4m3", "--json"]])
def test_stdout_on_a_full_disk_is_one_line_not_a_traceback(args):
    import subprocess
    import sys

    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "emu", *args], stdout=full, stderr=subprocess.PIPE,
                           text=True, timeout=300)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == ["emu: error: No space left on device"]


def test_help_and_format_listing_import_neither_numba_nor_numpy():
    """Start-up: `emu --help` and `emu formats` must not pay for numba (0.5 s) or numpy."""
    import subprocess
    import sys

    code = ("import sys; from cli.main import main\n"
            "for args in (['--help'], ['formats'], ['golden', '--help'], ['check', '--help']):\n"
            "    try:\n"
            "        main(args)\n"
            "    except SystemExit:\n"
            "        pass\n"
            "print([m for m in ('numba', 'numpy', 'emu.kernels.core') if m in sys.modules])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       cwd=Path(__file__).resolve().parent.parent)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("name, canonical", [("RNE", "rne"), ("AP_RND", "rnu"), ("ap_trn_zero", "rtz"),
                                             ("Sr", "sr")])
def test_rounding_names_any_case_and_ap_fixed_everywhere(tmp_path, name, canonical):
    q = strict_json(run("quantize", "1.3", "-f", "e4m3", "-r", name, "--json").output)
    assert q["rounding"] == canonical
    r = run("golden", "convert", "--dst", "e4m3", "-r", name, "--count", "5", "--out", tmp_path / "g")
    assert r.exit_code == 0, r.output
    r = run("train", "--model", "logistic", "--data", "logistic", "--epochs", "1", "-r", name, "--json")
    assert r.exit_code == 0, r.output


def test_quantize_json_is_strict_and_takes_every_lfsr_parameter():
    import emu

    doc = strict_json(run("quantize", "nan", "-inf", "1.3", "-f", "e5m2", "--json").output)
    assert [v["value"] for v in doc["values"]][:2] == ["nan", "-inf"]
    doc = strict_json(run("quantize", "1.3", "0.7", "-1.1", "-f", "e4m3", "-r", "sr", "--sr-bits", "6",
                          "--lfsr-seed", "9", "--lfsr-config", "galois", "--lfsr-lanes", "2",
                          "--lfsr-reverse", "--lfsr-invert", "--lfsr-width", "20", "--json").output)
    lf = emu.LFSR(width=20, config="galois", seed=9, lanes=2, reverse=True, invert=True)
    assert [int(v["random_word"], 16) for v in doc["values"]] == lf.random_words(3, 6).tolist()


def test_every_json_output_is_strict(tmp_path):
    """formats, lfsr, golden and check (with NaN values in its mismatch report) print strict JSON."""
    for args in (["formats", "--json"], ["lfsr", "--count", "3", "--json"]):
        r = run(*args)
        assert r.exit_code == 0 and strict_json(r.output), args
    r = run("golden", "convert", "--dst", "e4m3", "--count", "40", "--out", tmp_path / "s", "--json")
    assert r.exit_code == 0 and strict_json(r.output)["count"] > 40
    y = (tmp_path / "s" / "y.hex").read_text()
    (tmp_path / "bad.hex").write_text(y.replace("\n7e\n", "\n7f\n"))  # 448 -> NaN in the dump
    r = run("check", tmp_path / "s", tmp_path / "bad.hex", "--json")
    doc = strict_json(r.output)
    assert r.exit_code == 1 and doc["mismatches"] > 0
    assert doc["first"][0]["y"]["actual"]["value"] == "nan"


@pytest.mark.parametrize("src", ["-", "/dev/stdin"])
def test_quantize_reads_values_from_a_pipe(src):
    """The values are read twice (check, then print): a pipe is spooled once, not read empty."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "emu", "quantize", "-f", "e4m3", "--input", src, "--json"],
                       input="1.5 -2.5\n3e3\n", capture_output=True, text=True, timeout=300,
                       cwd=Path(__file__).resolve().parent.parent)
    assert r.returncode == 0, r.stderr
    assert [v["code"] for v in strict_json(r.stdout)["values"]] == ["0x3c", "0xc2", "0x7f"]
