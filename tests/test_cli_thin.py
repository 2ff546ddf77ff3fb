"""The command line is thin: the spec ``emu golden`` writes is emu.golden.spec.build_spec's, and its
plots are emu.train.plots' (library functions a user can call without the CLI)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli.main import main
from emu.golden.spec import build_spec


def cli_spec(tmp_path, *args) -> dict:
    r = CliRunner().invoke(main, ["golden", *args, "--out", str(tmp_path / "set")])
    assert r.exit_code == 0, r.output
    return json.loads((tmp_path / "set" / "manifest.json").read_text())["spec"]


@pytest.mark.parametrize("args, kwargs", [
    (["convert", "--dst", "e4m3", "--count", "5"], dict(dst="e4m3", count=5)),
    (["sr", "--dst", "e5m2", "--count", "5", "--lfsr-seed", "7", "--lfsr-config", "galois",
      "--sr-bits", "4"],
     dict(dst="e5m2", count=5, sr_bits=4, lfsr={"seed": 7, "config": "galois"})),
    (["add", "--format", "s8.4", "--inputs", "corners", "-r", "AP_RND", "--overflow", "wrap"],
     dict(fmt="s8.4", inputs=["corners"], rounding="ap_rnd", overflow="wrap")),
    (["mac", "--format", "s8.4", "--k", "4", "--count", "3", "--out-format", "s8.2"],
     dict(fmt="s8.4", k=4, count=3, out_format="s8.2")),
    (["lfsr", "--count", "4", "--lfsr-width", "16", "--lfsr-poly", "0xb400"],
     dict(count=4, lfsr={"width": 16, "poly": 0xB400})),
    (["convert", "--dst", "e4m3", "-r", "signed_sr_eps", "--eps", "0.25", "--direction", "-1",
      "--count", "5"], dict(dst="e4m3", rounding="signed_sr_eps", eps=0.25, direction=-1, count=5)),
])
def test_the_command_writes_the_library_spec(tmp_path, args, kwargs):
    assert cli_spec(tmp_path, *args) == build_spec(args[0], **kwargs)


def test_library_defaults_and_spec_layout():
    assert build_spec("sr", dst="e4m3") == {
        "op": "convert", "inputs": ["corners", "random"], "count": 1000, "seed": 1, "src": "fp32",
        "dst": "e4m3", "rounding": "sr", "lfsr": {"width": 32, "seed": 1, "lanes": 1, "shifts": 8},
        "sr_bits": 8}
    assert build_spec("lfsr", lfsr={"width": 16, "reverse": True})["lfsr"] == {
        "width": 16, "seed": 1, "lanes": 1, "shifts": 16, "reverse": True}
    assert "lfsr" not in build_spec("convert", dst="e4m3")


@pytest.mark.parametrize("kwargs, library, command_line", [
    (dict(op="convert"), "convert needs dst=FORMAT", "convert needs --dst FORMAT"),
    (dict(op="fma"), "fma needs fmt=FORMAT", "fma needs --format FORMAT"),
    (dict(op="convert", dst="e4m3", inputs=" , "), "inputs names no generator",
     "--inputs names no generator"),
    (dict(op="sr", dst="e4m3", sr_bits=40), "sr_bits=40 out of range; valid: 1..32",
     "--sr-bits 40 out of range; valid: 1..32"),
    (dict(op="mac", fmt="e4m3"), "mac models a fixed-point MAC unit: fmt, acc and out_format",
     "mac models a fixed-point MAC unit: --format, --acc and --out-format"),
    (dict(op="convert", dst="e4m3", rounding="sr_eps"), "rounding=sr_eps needs eps (in [0, 1))",
     "--rounding sr_eps needs --eps (in [0, 1))"),
    (dict(op="convert", dst="e4m3", rounding="signed_sr_eps", eps=0.5),
     "rounding=signed_sr_eps needs direction -1, 0 or +1",
     "--rounding signed_sr_eps needs --direction -1, 0 or +1"),
])
def test_errors_name_the_setting_or_the_option(tmp_path, kwargs, library, command_line):
    with pytest.raises(ValueError) as err:
        build_spec(**kwargs)
    assert library in str(err.value)
    op = kwargs.pop("op")
    flags = {"dst": "--dst", "fmt": "--format", "inputs": "--inputs", "sr_bits": "--sr-bits",
             "rounding": "-r", "eps": "--eps"}
    args = ["golden", op, "--out", str(tmp_path / "set")]
    for k, v in kwargs.items():
        args += [flags[k], str(v)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and command_line in r.output, r.output


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="unknown golden op 'div'; valid: convert, sr"):
        build_spec("div")
    with pytest.raises(ValueError, match="unknown LFSR setting.*bogus"):
        build_spec("lfsr", lfsr={"bogus": 1})
    with pytest.raises(ValueError, match="unknown input generator 'gauss'"):
        build_spec("convert", dst="e4m3", inputs="corners,gauss")


def test_plots_write_pngs(tmp_path):
    pytest.importorskip("matplotlib")
    from emu.train import plots

    plots.plot_history({"config": {"model": "logistic", "weights": "e4m3", "rounding": "sr"},
                        "data": "logistic", "epochs": [{"epoch": 1, "loss": 0.7},
                                                       {"epoch": 2, "loss": 0.5}]},
                       tmp_path / "h.png")
    plots.plot_sweep([{"status": "ok", "losses": [1.0, 0.5], "config": {"lr": 0.1}},
                      {"status": "failed", "config": {"lr": 9}}], ["lr"], tmp_path / "s.png")
    plots.plot_stagnation({"format": "s16.8", "runs": [
        {"rounding": "rne", "eps": None, "curve": [1.0, 0.0]},
        {"rounding": "signed_sr_eps", "eps": 0.25, "curve": [1.0, 0.1]}]}, tmp_path / "d.png")
    for name in ("h", "s", "d"):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
