"""Sharded golden sets: K shard directories whose concatenation is the single-process set."""

import json

import pytest
from click.testing import CliRunner

from cli.main import main
from emu.golden import vectors
from emu.golden.shards import regenerate, shard_specs, write_sharded
from emu.golden.vectors import generate

LFSR3 = {"width": 32, "seed": 1, "lanes": 3, "shifts": 8}
SPECS = {
    "add exhaustive": {"op": "add", "fmt": "e4m3", "inputs": ["corners", "exhaustive", "random"],
                       "count": 3000, "seed": 3, "rounding": "rne"},
    "sr 3 lanes": {"op": "convert", "src": "fp32", "dst": "e4m3", "inputs": ["corners", "random"],
                   "count": 5000, "seed": 1, "rounding": "sr", "sr_bits": 8, "lfsr": LFSR3},
    # NaN/Inf have no s8.4 code: vectors are dropped per shard before words are drawn
    "sr with drops": {"op": "convert", "src": "fp32", "dst": "s8.4", "inputs": ["corners", "random"],
                      "count": 5000, "seed": 1, "rounding": "sr", "sr_bits": 8,
                      "lfsr": {**LFSR3, "lanes": 1}},
    "lfsr": {"op": "lfsr", "count": 1001, "lfsr": LFSR3},
    "mac": {"op": "mac", "fmt": "s8.4", "inputs": ["random"], "count": 1000, "k": 16,
            "rounding": "rne", "acc_overflow": "wrap", "out": "s8.4"},
}


def _data_lines(path):
    return [ln for ln in path.read_text().splitlines() if not ln.startswith("//")]


def _assert_concatenation(top, full):
    m = json.loads((top / "manifest.json").read_text())
    assert m["count"] == full.count and sum(e["count"] for e in m["shards"]) == full.count
    for port in full.ports:
        joined = []
        for e in m["shards"]:
            joined += _data_lines(top / e["dir"] / f"{port.name}.hex")
        assert joined == [f"{int(v):0{(port.bits + 3) // 4}x}" for v in port.values], port.name


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("shards", [1, 3, 7])
def test_shards_concatenate_to_the_single_set(tmp_path, name, shards):
    spec = SPECS[name]
    top = write_sharded(spec, tmp_path / "set", "test", shards)
    _assert_concatenation(top, generate(spec))


def test_mac_shards_start_on_dot_product_boundaries():
    for s in shard_specs(SPECS["mac"], 7):
        assert s["shard"]["lo"] % 16 == 0


def test_sharded_set_regenerates_byte_identical(tmp_path):
    top = write_sharded(SPECS["sr 3 lanes"], tmp_path / "a", "test", 3)
    again = regenerate(top, tmp_path / "b")
    files = sorted(p.relative_to(top) for p in top.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert all((top / f).read_bytes() == (again / f).read_bytes() for f in files)


def test_exhaustive_beyond_one_set_needs_shards(tmp_path, monkeypatch):
    monkeypatch.setattr(vectors, "MAX_VECTORS", 4096)
    spec = {"op": "mul", "fmt": "e4m3", "inputs": ["exhaustive"], "rounding": "rne"}
    with pytest.raises(ValueError, match="--shards"):
        generate(spec)
    top = write_sharded(spec, tmp_path / "s", "test", 4)
    assert json.loads((top / "manifest.json").read_text())["count"] == 65536
    monkeypatch.setattr("emu.golden.shards.MAX_SHARD_VECTORS", 10_000)
    with pytest.raises(ValueError, match="--shards 7 or more"):
        shard_specs(spec, 4)


def test_cli_shards_on_a_local_dask_cluster(tmp_path):
    pytest.importorskip("dask.distributed")
    args = ["golden", "sr", "--dst", "e5m2", "--inputs", "corners,random", "--count", "3000",
            "--lfsr-lanes", "2"]
    r = CliRunner().invoke(main, args + ["--out", str(tmp_path / "d"), "--shards", "3",
                                         "--workers", "2"])
    assert r.exit_code == 0, r.output
    assert "in 3 shards" in r.output
    r = CliRunner().invoke(main, args + ["--out", str(tmp_path / "one")])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "one" / "manifest.json").read_text())
    full = generate(m["spec"])
    _assert_concatenation(tmp_path / "d", full)
    r = CliRunner().invoke(main, ["check", str(tmp_path / "d"), str(tmp_path / "one" / "y.hex")])
    assert r.exit_code == 0, r.output  # the whole sharded set against the single set's outputs
    r = CliRunner().invoke(main, args + ["--out", str(tmp_path / "x"), "--workers", "2"])
    assert r.exit_code == 2 and "--shards" in r.output
