"""Bad invocations of every subcommand: exit status 2, a one-line error, never a traceback.

The reliability contract (README, "Reliability"): exit 0 = success, 1 = a mismatch verdict or a
failed task, 2 = bad usage or malformed input; nothing a user can type or feed in produces a
Python traceback.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import main
from emu.golden import generate, write_set


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    s = write_set(generate({"op": "convert", "src": "e5m2", "dst": "e4m3", "inputs": ["random"],
                            "count": 4}), d / "set", "test")
    (d / "notaset").mkdir()
    (d / "garbage.hex").write_text("garbage\n")
    (d / "short.hex").write_text("00\n01\n")
    (d / "xz.hex").write_text("0x\n1z\n00\n00\n")
    (d / "a_file").write_text("x")
    (d / "bad_types.toml").write_text('epochs = "three"\n')
    (d / "bad_lr.toml").write_text('lr = "0.5"\n')
    (d / "bad_batch.toml").write_text("batch = 2.5\n")
    (d / "bad_weights.toml").write_text('weights = ["e4m3"]\n')
    (d / "bad_eps.toml").write_text('eps = "abc"\n')
    (d / "not_toml.toml").write_text("this is = = not toml\n")
    (d / "sweep_base5.toml").write_text("base = 5\n")
    (d / "sweep_runs.toml").write_text("runs = [1, 2]\n")
    (d / "sweep_grid.toml").write_text("grid = [1]\n")
    (d / "sweep_value.toml").write_text('[base]\nrounding = "bogus"\nepochs = 1\n')
    (d / "sweep_missing.toml").write_text('[base]\ndata = "/nonexistent/data.npz"\nepochs = 1\n')
    (d / "sweep_ok.toml").write_text('[base]\nepochs = 1\nmodel = "logistic"\ndata = "logistic"\n')
    (d / "corrupt.npz").write_bytes(b"PK\x03\x04 not really a zip")
    np.save(d / "array.npy", np.ones((4, 2)))
    (d / "array.npy").rename(d / "array.npz")  # a single array under an .npz name
    (d / "data_int.toml").write_text("data = 5\n")
    (d / "out_int.toml").write_text("out = 5\n")
    (d / "values.txt").write_text("1.5\nabc\n")
    (d / "m_huge").mkdir()  # an IDX header claiming 2^31 x 65536 x 65536 images, and no data
    (d / "m_huge" / "train-images-idx3-ubyte").write_bytes(
        bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (2**31, 65536, 65536)))
    (d / "m_huge" / "train-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 2, 0, 1]))
    (d / "m_t10k").mkdir()  # t10k images 3x3, train images 2x2
    for prefix, side in (("train", 2), ("t10k", 3)):
        (d / "m_t10k" / f"{prefix}-images-idx3-ubyte").write_bytes(
            bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, side, 0, 0, 0, side]) + bytes(2 * side * side))
        (d / "m_t10k" / f"{prefix}-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 2, 0, 1]))
    (d / "three.csv").write_text("0,1,0\n1,0,1\n2,1,2\n")
    (d / "ragged.csv").write_text("1,2,0\n1,1\n")
    (d / "empty.csv").write_text("")
    np.savez(d / "neg_test.npz", X=np.zeros((2, 2)), y=np.array([0, 1]), X_test=np.zeros((1, 2)),
             y_test=np.array([-1]))
    return {"set": s, **{p.name: p for p in d.iterdir()}}


# (id, argv): "@NAME" stands for the fixture's file NAME, "@NAME/x" for a path below it, and OUT
# for an output path that must not be created
BAD = [
    ("unknown command", ["bogus-command"]),
    ("formats: unknown option", ["formats", "--bogus"]),
    # quantize
    ("quantize: no format", ["quantize", "1.5"]),
    ("quantize: unknown format", ["quantize", "-f", "e9x", "1.5"]),
    ("quantize: not a number", ["quantize", "-f", "e4m3", "abc"]),
    ("quantize: unknown rounding", ["quantize", "-f", "e4m3", "-r", "bogus", "1.5"]),
    ("quantize: no values", ["quantize", "-f", "e4m3"]),
    ("quantize: missing input file", ["quantize", "-f", "e4m3", "--input", "/nonexistent/v.txt"]),
    ("quantize: malformed input file", ["quantize", "-f", "e4m3", "--input", "@values.txt"]),
    ("quantize: --saturate on fixed", ["quantize", "-f", "s8.4", "--saturate", "1"]),
    ("quantize: --overflow on float", ["quantize", "-f", "e4m3", "--overflow", "sat", "1"]),
    ("quantize: sr bits 0", ["quantize", "-f", "e4m3", "-r", "sr", "--sr-bits", "0", "1"]),
    ("quantize: zero LFSR seed", ["quantize", "-f", "e4m3", "-r", "sr", "--seed", "0", "1"]),
    ("quantize: eps out of range", ["quantize", "-f", "e4m3", "-r", "sr_eps", "--eps", "1.5", "1"]),
    ("quantize: threads 0", ["quantize", "-f", "e4m3", "--threads", "0", "1"]),
    ("quantize: NaN into e2m1", ["quantize", "-f", "e2m1", "nan"]),
    ("quantize: Inf cannot wrap", ["quantize", "-f", "s8.4", "--overflow", "wrap", "inf"]),
    ("quantize: --eps with rne", ["quantize", "-f", "e4m3", "--eps", "0.25", "1"]),
    ("quantize: --direction with sr", ["quantize", "-f", "e4m3", "-r", "sr", "--direction", "1", "1"]),
    ("quantize: --seed with rne", ["quantize", "-f", "e4m3", "--seed", "5", "1"]),
    ("quantize: bad --lfsr-poly", ["quantize", "-f", "e4m3", "-r", "sr", "--lfsr-poly", "x", "1"]),
    # lfsr
    ("lfsr: width 1", ["lfsr", "--width", "1"]),
    ("lfsr: width 65", ["lfsr", "--width", "65"]),
    ("lfsr: zero seed", ["lfsr", "--seed", "0"]),
    ("lfsr: poly not a number", ["lfsr", "--poly", "xyz"]),
    ("lfsr: negative count with lanes", ["lfsr", "--count", "-1", "--lanes", "2"]),
    ("lfsr: zero lanes", ["lfsr", "--lanes", "0"]),
    ("lfsr: zero shifts", ["lfsr", "--shifts", "0"]),
    # golden
    ("golden: no --out", ["golden", "convert", "--dst", "e4m3"]),
    ("golden: no --dst", ["golden", "convert", "--out", "@a_file/x"]),
    ("golden: unknown op", ["golden", "bogus", "--out", "@a_file/x"]),
    ("golden: unknown src format", ["golden", "convert", "--dst", "e4m3", "--src", "e99", "--out", "OUT"]),
    ("golden: unknown rounding", ["golden", "convert", "--dst", "e4m3", "-r", "bogus", "--out", "OUT"]),
    ("golden: mac of a float format", ["golden", "mac", "--format", "e4m3", "--out", "OUT"]),
    ("golden: count 1e12", ["golden", "convert", "--dst", "e4m3", "--count", "1e12", "--out", "OUT"]),
    ("golden: huge count", ["golden", "convert", "--dst", "e4m3", "--count", "1000000000000",
                            "--out", "OUT"]),
    ("golden: negative count", ["golden", "convert", "--dst", "e4m3", "--count", "-5", "--out", "OUT"]),
    ("golden: empty inputs", ["golden", "convert", "--dst", "e4m3", "--inputs", "", "--out", "OUT"]),
    ("golden: unknown inputs", ["golden", "convert", "--dst", "e4m3", "--inputs", "bogus", "--out", "OUT"]),
    ("golden: mac k 0", ["golden", "mac", "--format", "s8.4", "--k", "0", "--out", "OUT"]),
    ("golden: mac k -1", ["golden", "mac", "--format", "s8.4", "--k", "-1", "--out", "OUT"]),
    ("golden: exhaustive too big", ["golden", "fma", "--format", "e5m2", "--inputs", "exhaustive",
                                    "--out", "OUT"]),
    ("golden: --workers without shards", ["golden", "convert", "--dst", "e4m3", "--workers", "2",
                                          "--out", "OUT"]),
    ("golden: sr bits 0", ["golden", "sr", "--dst", "e4m3", "--sr-bits", "0", "--out", "OUT"]),
    ("golden: zero LFSR seed", ["golden", "sr", "--dst", "e4m3", "--lfsr-seed", "0", "--out", "OUT"]),
    ("golden: unknown layout", ["golden", "convert", "--dst", "e4m3", "--layout", "bogus", "--out", "OUT"]),
    ("golden: --out is a file", ["golden", "convert", "--dst", "e4m3", "--out", "@a_file"]),
    ("golden: --out is not an emu set", ["golden", "convert", "--dst", "e4m3", "--out", "@notaset/.."]),
    ("golden: --eps with rne", ["golden", "convert", "--dst", "e4m3", "--eps", "0.25", "--out", "OUT"]),
    ("golden: --direction with sr", ["golden", "sr", "--dst", "e4m3", "--direction", "1", "--out", "OUT"]),
    ("golden: sr_eps without --eps", ["golden", "sr", "--dst", "e4m3", "-r", "sr_eps", "--out", "OUT"]),
    ("golden: --k with convert", ["golden", "convert", "--dst", "e4m3", "--k", "3", "--out", "OUT"]),
    ("golden: --lfsr-seed with rne", ["golden", "convert", "--dst", "e4m3", "--lfsr-seed", "5",
                                      "--out", "OUT"]),
    ("golden: bad --lfsr-poly", ["golden", "sr", "--dst", "e4m3", "--lfsr-poly", "xyz", "--out", "OUT"]),
    ("golden: --threads 0", ["golden", "convert", "--dst", "e4m3", "--threads", "0", "--out", "OUT"]),
    # check
    ("check: no args", ["check"]),
    ("check: no set", ["check", "/nonexistent/set", "@garbage.hex"]),
    ("check: missing dump", ["check", "@set", "/nonexistent/y.hex"]),
    ("check: garbage dump", ["check", "@set", "@garbage.hex"]),
    ("check: --first -1", ["check", "@set", "--first", "-1", "@short.hex"]),
    ("check: not a set", ["check", "@notaset", "@short.hex"]),
    ("check: short dump", ["check", "@set", "@short.hex"]),
    ("check: x/z digits", ["check", "@set", "@xz.hex"]),
    # bench
    ("bench: size 0", ["bench", "--size", "0"]),
    ("bench: negative size", ["bench", "--size", "-1"]),
    ("bench: repeat 0", ["bench", "--repeat", "0"]),
    # train
    ("train: unknown model", ["train", "--model", "bogus"]),
    ("train: unknown rounding", ["train", "--rounding", "bogus"]),
    ("train: unknown weights format", ["train", "--weights", "e99"]),
    ("train: missing data", ["train", "--data", "/nonexistent/data.npz"]),
    ("train: corrupt npz", ["train", "--data", "@corrupt.npz"]),
    ("train: .npy named .npz", ["train", "--data", "@array.npz"]),
    ("train: config data an int", ["train", "--config", "@data_int.toml"]),
    ("train: config out an int", ["train", "--config", "@out_int.toml"]),
    ("train: --trace inside --out", ["train", "--out", "OUT", "--trace", "OUT/trace"]),
    ("lfsr: 10^8 lanes", ["lfsr", "--lanes", "100000000"]),
    ("train: negative epochs", ["train", "--epochs", "-1"]),
    ("train: negative batch", ["train", "--batch", "-1"]),
    ("train: lr nan", ["train", "--lr", "nan"]),
    ("train: lr inf", ["train", "--lr", "inf"]),
    ("train: missing config", ["train", "--config", "/nonexistent/c.toml"]),
    ("train: config epochs string", ["train", "--config", "@bad_types.toml"]),
    ("train: config lr string", ["train", "--config", "@bad_lr.toml"]),
    ("train: config batch float", ["train", "--config", "@bad_batch.toml"]),
    ("train: config weights list", ["train", "--config", "@bad_weights.toml"]),
    ("train: config eps string", ["train", "--config", "@bad_eps.toml"]),
    ("train: config not TOML", ["train", "--config", "@not_toml.toml"]),
    ("train: --plot without --out", ["train", "--plot"]),
    ("train: eps out of range", ["train", "-r", "sr_eps", "--eps", "1.5"]),
    ("train: --out is a file", ["train", "--epochs", "1", "--out", "@a_file"]),
    ("train: IDX header claims more than the file", ["train", "--data", "mnist:@m_huge",
                                                     "--train-size", "200", "--epochs", "1"]),
    ("train: mnist: without a directory", ["train", "--data", "mnist:"]),
    ("train: empty --data", ["train", "--data", ""]),
    ("train: fixed MAC over 64 bits", ["train", "--weights", "s32.16", "--epochs", "1",
                                       "--train-size", "200"]),
    ("train: fixed MAC over 64 bits, mixed", ["train", "--weights", "s64.32", "--activations", "s8.4"]),
    ("train: seed 0 is the LFSR's start", ["train", "--seed", "0", "--epochs", "1"]),
    ("train: seed over 32 bits", ["train", "--seed", "99999999999999999999", "--epochs", "1"]),
    ("train: rng seed 2^32", ["train", "--rng-seed", "4294967296", "--epochs", "1"]),
    ("train: sr bits 64", ["train", "--sr-bits", "64", "--epochs", "1"]),
    ("train: unsigned gradients", ["train", "--grads", "u8.4", "--epochs", "1"]),
    ("train: step rounding under scheme update", ["train", "--step-rounding", "sr", "--epochs", "1"]),
    ("train: logistic on 3 labels", ["train", "--model", "logistic", "--data", "@three.csv"]),
    ("train: t10k of another image size", ["train", "--data", "mnist:@m_t10k", "--epochs", "1"]),
    ("train: ragged CSV", ["train", "--data", "@ragged.csv"]),
    ("train: empty CSV", ["train", "--data", "@empty.csv"]),
    ("train: npz y_test -1", ["train", "--data", "@neg_test.npz"]),
    ("train: empty --out", ["train", "--epochs", "1", "--train-size", "2", "--out", ""]),
    ("train: empty --trace", ["train", "--epochs", "1", "--train-size", "2", "--trace", ""]),
    ("train: empty --plot", ["train", "--epochs", "1", "--train-size", "2", "--plot", ""]),
    # experiments, demo
    ("experiments: no preset", ["experiments"]),
    ("experiments: unknown preset", ["experiments", "nope"]),
    ("experiments: one seed", ["experiments", "xia-fixed", "--seeds", "1"]),
    ("experiments: --out is a file", ["experiments", "xia-fixed", "--quick", "--out", "@a_file"]),
    ("experiments: --out empty", ["experiments", "xia-fixed", "--quick", "--out", ""]),
    ("demo: too few steps", ["demo", "--steps", "10"]),
    ("demo: negative steps", ["demo", "--steps", "-1"]),
    # sweep
    ("sweep: missing file", ["sweep", "/nonexistent/s.toml"]),
    ("sweep: base not a table", ["sweep", "@sweep_base5.toml", "--local", "--out", "OUT"]),
    ("sweep: runs not tables", ["sweep", "@sweep_runs.toml", "--local", "--out", "OUT"]),
    ("sweep: grid not a table", ["sweep", "@sweep_grid.toml", "--local", "--out", "OUT"]),
    ("sweep: bad value", ["sweep", "@sweep_value.toml", "--local", "--out", "OUT"]),
    ("sweep: missing data file", ["sweep", "@sweep_missing.toml", "--local", "--out", "OUT"]),
    ("sweep: --local with --workers", ["sweep", "@sweep_ok.toml", "--local", "--workers", "2",
                                       "--out", "OUT"]),
    ("sweep: --out is a file", ["sweep", "@sweep_ok.toml", "--local", "--out", "@a_file"]),
]


@pytest.mark.parametrize("argv", [a for _, a in BAD], ids=[i for i, _ in BAD])
def test_bad_invocation_exits_2_with_one_line(argv, files, tmp_path):
    def resolve(a: str) -> str:
        if a == "OUT" or a.startswith("OUT/"):
            return str(tmp_path / "out" / a[4:])
        if a.startswith("mnist:@"):
            return "mnist:" + resolve(a[len("mnist:"):])
        if a.startswith("@"):
            name, _, rest = a[1:].partition("/")
            return str(files[name] / rest) if rest else str(files[name])
        return a

    args = [resolve(a) for a in argv]
    r = CliRunner().invoke(main, args)
    assert r.exception is None or isinstance(r.exception, SystemExit), \
        f"traceback: {r.exception!r}\n{r.output}"
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    errors = [ln for ln in r.output.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1, r.output
    assert r.output.rstrip().splitlines()[-1] == errors[0], r.output  # the message is one line
    assert not (tmp_path / "out").exists()  # nothing written
    if argv[0] == "train":
        assert not re.search(r"^\w+ on .* \(\d+ samples?", r.output, re.M), r.output  # no header:
        #                                                                     refused before it


def test_the_table_is_large():
    assert len(BAD) >= 60 and len({a[0] for a in BAD}) == len(BAD)
