"""The emu command: outputs, JSON shapes and exit codes (2 = usage error)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import main


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_formats_table_and_json():
    r = run("formats")
    assert r.exit_code == 0 and "e4m3" in r.output and "448" in r.output
    data = json.loads(run("formats", "--json").output)
    names = [f["name"] for f in data["formats"]]
    assert names[:4] == ["e4m3", "e5m2", "e4m3fnuz", "e5m2fnuz"]
    e5 = data["formats"][1]
    assert e5["max"] == 57344 and e5["inf_codes"] == ["0x7c", "0xfc"]


def codes(*args):
    r = run("quantize", *args, "--json")
    assert r.exit_code == 0, r.output
    return [v["code"] for v in json.loads(r.output)["values"]]


def test_acceptance_codes():
    # docs/semantics.md §5.1: e4m3 464 -> 448 (tie to even), beyond overflows to NaN 0x7F|s; 2^-10 is a
    # tie between 0 and the smallest subnormal 2^-9 -> 0.
    assert codes("464", "464.5", "-61440", "0.0009765625", "--format", "e4m3") == \
        ["0x7e", "0x7f", "0xff", "0x00"]
    assert codes("464", "464.5", "-61440", "0.0009765625", "--format", "e4m3", "--saturate") == \
        ["0x7e", "0x7e", "0xfe", "0x00"]
    # e5m2: 61440 is the tie above max 57344 (0x7B, odd) -> Inf; 2^-10 is exact (0x14)
    assert codes("464", "464.5", "-61440", "0.0009765625", "--format", "e5m2") == \
        ["0x5f", "0x5f", "0xfc", "0x14"]
    assert codes("464", "464.5", "-61440", "0.0009765625", "--format", "e5m2", "--saturate") == \
        ["0x5f", "0x5f", "0xfb", "0x14"]


def test_quantize_fields_value_error():
    r = run("quantize", "1.3", "--format", "s8.4", "--rounding", "rdn", "--json")
    v = json.loads(r.output)["values"][0]
    assert v["code"] == "0x14" and v["value"] == 1.25 and v["fields"] == "int 20"
    assert abs(v["error"] - (1.25 - 1.3)) < 1e-15
    r = run("quantize", "-1.5", "--format", "e4m3")
    assert r.exit_code == 0 and "1|0111|100" in r.output


def test_quantize_input_files(tmp_path):
    np.save(tmp_path / "x.npy", np.array([1.0, 2.0, 464.0]))
    assert codes("--input", str(tmp_path / "x.npy"), "--format", "e4m3") == ["0x38", "0x40", "0x7e"]
    (tmp_path / "x.txt").write_text("# values\n1.0 2.0\n464\n")
    assert codes("--input", str(tmp_path / "x.txt"), "--format", "e4m3") == ["0x38", "0x40", "0x7e"]
    (tmp_path / "bad.txt").write_text("1.0\nabc\n")
    r = run("quantize", "--input", str(tmp_path / "bad.txt"), "--format", "e4m3")
    assert r.exit_code == 2 and "bad.txt" in r.output


@pytest.mark.parametrize("args,needle", [
    (["1", "--format", "e4m9x"], "named formats"),
    (["1", "--format", "e4m3", "--rounding", "nearest"], "rne, rna"),
    (["1", "--format", "s8.4", "--saturate"], "--overflow"),
    (["1", "--format", "e4m3", "--overflow", "wrap"], "--saturate"),
    (["nan", "--format", "e2m1"], "NaN has no code"),
    (["abc", "--format", "e4m3"], "not a number"),
    (["--format", "e4m3"], "VALUES"),
])
def test_usage_errors_exit_2(args, needle):
    r = run("quantize", *args)
    assert r.exit_code == 2
    assert needle in r.output


@pytest.mark.slow  # compile-bound on a cold numba cache (~10-65 s): CI runs it once, in the main run
def test_demo_runs():
    r = run("demo")
    assert r.exit_code == 0 and "rne" in r.output and "signed_sr_eps" in r.output
    data = json.loads(run("demo", "--json").output)
    assert [x["rounding"] for x in data["runs"]][:2] == ["rne", "sr"]
    assert {"rounding", "final_loss", "accuracy", "stagnant_share"} <= set(data["runs"][0])
    assert run("demo", "--tour").exit_code == 0


@pytest.mark.slow  # compile-bound on a cold numba cache (~10-65 s): CI runs it once, in the main run
def test_bench_quick_shape_and_agreement():
    r = run("bench", "--quick", "--json")
    assert r.exit_code == 0, r.output
    jobs = json.loads(r.output)["jobs"]
    assert {"job", "emu_melem_s", "reference", "reference_melem_s", "ratio",
            "ceiling_melem_s", "agrees"} <= set(jobs[0])
    assert all(j["agrees"] in (True, None) for j in jobs)
    assert sum(j["agrees"] is True for j in jobs) >= 3


def test_bench_mnist_epoch_quick_runs_every_row():
    """--job mnist-epoch --quick: 640 MNIST-shaped samples, one epoch per row (softmax e4m3 sr,
    mlp e4m3 sr, softmax fp32 rne), each timed."""
    from emu.bench import MNIST_EPOCHS, mnist_shaped

    r = run("bench", "--job", "mnist-epoch", "--quick", "--json")
    assert r.exit_code == 0, r.output
    jobs = json.loads(r.output)["jobs"]
    assert len(jobs) == len(MNIST_EPOCHS)
    assert all("640 x 784" in j["job"] and j["emu_melem_s"] > 0 for j in jobs)
    d = mnist_shaped(100, seed=0)
    assert d.X.shape == (100, 784) and d.n_classes == 10
    assert np.array_equal(d.X * 255, np.round(d.X * 255)) and len(set(d.y.tolist())) > 1


def test_lfsr_command_matches_reference():
    import reference as ref

    r = run("lfsr", "--width", "16", "--shifts", "8", "--seed", "3", "--count", "6", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    words, state = ref.lfsr_draws(16, emu_poly(16), "fibonacci", 8, 3, 6)
    assert [int(d["word"], 16) for d in data["draws"]] == words
    assert int(data["final_states"][0], 16) == state
    assert run("lfsr", "--seed", "0").exit_code == 2
    assert run("lfsr", "--width", "8", "--poly", "0x1ff").exit_code == 2


def emu_poly(width):
    from emu.lfsr import MAXIMAL_POLYS

    return MAXIMAL_POLYS[width]


def test_quantize_sr_prints_random_words():
    import reference as ref

    r = run("quantize", "1.3", "1.3", "-0.7", "--format", "e4m3", "--rounding", "sr", "--sr-bits", "8",
            "--seed", "1", "--json")
    assert r.exit_code == 0, r.output
    vals = json.loads(r.output)["values"]
    words = ref.lfsr_draws(32, 0x00400007, "fibonacci", 8, 1, 3)[0]
    assert [int(v["random_word"], 16) for v in vals] == words
    for v, w in zip(vals, words, strict=True):
        assert int(v["code"], 16) == ref.round_value(v["input"], emu_format("e4m3"), "sr", rbits=8, rword=w)


def emu_format(name):
    import emu

    return emu.format(name)


def test_demo_and_train_plots(tmp_path):
    pytest.importorskip("matplotlib")
    r = run("demo", "--steps", "60", "--plot", str(tmp_path / "demo.png"))
    assert r.exit_code == 0 and (tmp_path / "demo.png").read_bytes()[:4] == b"\x89PNG"
    r = run("train", "--model", "logistic", "--data", "logistic", "--epochs", "1", "--plot",
            str(tmp_path / "loss.png"))
    assert r.exit_code == 0 and (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"
