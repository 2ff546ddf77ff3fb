"""emu.golden.load and emu.golden.write (docs/semantics.md §10.8): load gives back exactly what
write wrote (single and sharded sets, every layout, both radixes, with and without @address
lines), decoded as emu decodes codes, verified as emu check verifies a set; write is emu golden."""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner

import emu
import emu.golden as golden
from cli.main import main
from emu.formats import code_dtype
from emu.golden import SetError, generate, load, write
from emu.golden.layouts import RADIXES, SET_LAYOUTS
from emu.golden.shards import regenerate
from emu.golden.spec import DEFAULTS, build_spec

ROOT = Path(__file__).resolve().parent.parent / "golden_vectors"
SR = dict(dst="e4m3", rounding="sr", count=40, lfsr={"lanes": 2})  # ports a, r (no format), y


def same_floats(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit-identical float64 arrays (NaN payloads and signed zeros included)."""
    return a.dtype == b.dtype == np.float64 and np.array_equal(a.view(np.uint64), b.view(np.uint64))


def assert_loads_as_generated(gs: golden.GoldenSet, spec: dict) -> None:
    vs = generate({k: v for k, v in spec.items() if k != "shard"})
    assert gs.count == vs.count and gs.names == tuple(p.name for p in vs.ports)
    for p in vs.ports:
        codes = gs[p.name]
        assert codes.dtype == code_dtype(p.bits) and not codes.flags.writeable
        assert np.array_equal(codes, p.values), p.name
        gp = gs.port(p.name)
        assert (gp.direction, gp.bits, gp.format) == (p.direction, p.bits, p.fmt.name if p.fmt else None)
        if p.fmt is None:
            with pytest.raises(ValueError, match="raw"):
                gs.values(p.name)
        else:
            want = emu.Registers.from_codes(p.values.astype(code_dtype(p.bits)), p.fmt).to_float()
            assert same_floats(gs.values(p.name), want), p.name


@pytest.mark.parametrize("layout", SET_LAYOUTS)
@pytest.mark.parametrize("radix", RADIXES)
@pytest.mark.parametrize("address", [False, True])
@pytest.mark.parametrize("shards", [None, 3])
def test_load_round_trips_write(tmp_path, layout, radix, address, shards):
    d = write(tmp_path / "set", "sr", **SR, layout=layout, radix=radix, address=address,
              shards=shards, local=shards is not None)
    gs = load(d)
    assert_loads_as_generated(gs, gs.spec)
    assert (gs.radix, gs.address, gs.layout, gs.sharded) == (radix, 0 if address else None, layout,
                                                             shards is not None)
    assert [p.name for p in gs.inputs] == ["a", "r"] and [p.name for p in gs.outputs] == ["y"]
    assert golden.check(d, [d]).ok  # the set's own files (of each shard) as the dump


@pytest.mark.parametrize("spec", [
    dict(op="mac", fmt="s8.4", k=4, count=24, out_format="s8.2"),  # five ports, fixed point
    dict(op="lfsr", count=20, lfsr={"width": 16, "shifts": 5}),  # raw words only
    dict(op="fma", fmt="e2m1", inputs="exhaustive"),
])
def test_load_every_op(tmp_path, spec):
    spec = dict(spec)
    op = spec.pop("op")
    gs = load(write(tmp_path / "set", op, **spec, radix="bin", address=True))
    assert_loads_as_generated(gs, gs.spec)


@pytest.mark.parametrize("name", sorted(p.name for p in ROOT.iterdir() if (p / "manifest.json").exists()))
def test_committed_schema_1_sets_load(name):
    gs = load(ROOT / name)
    assert gs.manifest["schema_version"] == 1 and (gs.radix, gs.address) == ("hex", None)
    assert_loads_as_generated(gs, gs.spec)
    for p in gs.ports:
        assert np.array_equal(gs[p.name], golden.read_hex(ROOT / name / p.file, p.bits))


def test_default_sets_are_schema_1_and_regenerate_byte_identical(tmp_path):
    d = write(tmp_path / "hex", "convert", dst="e5m2", count=20)
    m = json.loads((d / "manifest.json").read_text())
    assert m["schema_version"] == 1 and "radix" not in m and "address" not in m
    for radix, address, shards in [("bin", False, None), ("hex", True, None), ("bin", True, 3)]:
        a = write(tmp_path / f"{radix}{address}{shards}", "sr", **SR, radix=radix, address=address,
                  shards=shards, local=shards is not None)
        b = regenerate(a, tmp_path / "again", force=True)
        files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
        assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
        assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
        m = json.loads((a / "manifest.json").read_text())
        assert (m["schema_version"], m["radix"], m["address"]) == (2, radix, 0 if address else None)


def test_accessors(tmp_path):
    gs = load(write(tmp_path / "set", "mul", fmt="e4m3", inputs="random", count=10))
    assert "y" in gs and "q" not in gs and gs.port("a").fmt == emu.format("e4m3")
    with pytest.raises(KeyError, match="no port 'q'.*ports: a, b, y"):
        gs["q"]
    assert gs.registers("y") == emu.Registers.from_codes(gs["y"], "e4m3")
    assert not gs.values("y").flags.writeable
    with pytest.raises(ValueError):
        gs["y"][0] = 1  # read-only: a loaded set is what was verified
    assert "10 vectors" in repr(gs) and "y[8] out" in repr(gs)


# --- a set that cannot be trusted ------------------------------------------------------------
def test_load_refuses_a_tampered_set(tmp_path):
    d = write(tmp_path / "set", "convert", dst="e4m3", count=30, radix="bin")
    lines = (d / "y.bin").read_text().splitlines()
    lines[5] = lines[5][:-1] + ("1" if lines[5][-1] == "0" else "0")  # one flipped bit
    (d / "y.bin").write_text("\n".join(lines) + "\n")
    with pytest.raises(SetError, match=r"y\.bin: sha256 differs from the manifest's"):
        load(d)


def reseal(d: Path, name: str) -> None:
    m = json.loads((d / "manifest.json").read_text())
    m["sha256"][name] = hashlib.sha256((d / name).read_bytes()).hexdigest()
    (d / "manifest.json").write_text(json.dumps(m))


@pytest.mark.parametrize("radix", RADIXES)
def test_load_refuses_a_truncated_file(tmp_path, radix):
    d = write(tmp_path / "set", "convert", dst="e4m3", count=30, radix=radix)
    f = d / f"y.{radix}"
    n = json.loads((d / "manifest.json").read_text())["count"]
    f.write_text("".join(f.read_text().splitlines(keepends=True)[:-3]))  # a copy cut short
    with pytest.raises(SetError, match="sha256 differs"):
        load(d)
    reseal(d, f.name)  # even with a matching sha256, the file does not hold the manifest's count
    with pytest.raises(SetError, match=rf"{f}: too few words: {n - 3} words, expected {n} \(the set "
                                       "does not agree with its manifest"):
        load(d)


def test_load_refuses_a_malformed_word_naming_file_and_line(tmp_path):
    d = write(tmp_path / "set", "convert", dst="e4m3", count=30, radix="bin", address=True)
    lines = (d / "y.bin").read_text().splitlines()
    lines[4] = "0101x010"
    (d / "y.bin").write_text("\n".join(lines) + "\n")
    reseal(d, "y.bin")
    with pytest.raises(SetError, match=r"y\.bin, line 5: '0101x010' has x/z digits"):
        load(d)


def test_load_refuses_bad_schema_2_fields(tmp_path):
    d = write(tmp_path / "set", "convert", dst="e4m3", count=10, radix="bin")
    m = json.loads((d / "manifest.json").read_text())
    for edit, needle in [({"radix": "oct"}, "radix \"oct\" is not one of hex, bin"),
                         ({"address": -1}, "'address' must be null or an integer >= 0"),
                         ({"schema_version": 3}, "schema_version 3 is not supported")]:
        (d / "manifest.json").write_text(json.dumps({**m, **edit}))
        with pytest.raises(SetError, match=needle):
            load(d)
    del m["radix"]
    (d / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(SetError, match="no 'radix'"):
        load(d)


def test_load_refuses_shards_that_disagree_on_addresses(tmp_path):
    d = write(tmp_path / "set", "convert", dst="e4m3", count=60, address=True, shards=2, local=True)
    s = d / "shard-0001" / "manifest.json"
    m = json.loads(s.read_text())
    assert m["address"] == json.loads((d / "manifest.json").read_text())["shards"][1]["offset"]
    m["address"] = 0
    s.write_text(json.dumps(m))
    top = json.loads((d / "manifest.json").read_text())
    top["shards"][1]["manifest_sha256"] = hashlib.sha256(s.read_bytes()).hexdigest()
    (d / "manifest.json").write_text(json.dumps(top))
    with pytest.raises(SetError, match="address 0 differ from"):
        load(d)


# --- write is emu golden ---------------------------------------------------------------------
def test_write_has_the_options_and_defaults_of_emu_golden():
    params = inspect.signature(write).parameters
    assert {n: params[n].default for n in DEFAULTS} == DEFAULTS  # the spec settings: build_spec's
    cmd = main.commands["golden"]
    ctx = click.Context(cmd)  # get_default: click >= 8.3 keeps flags' default as a sentinel
    opts = {p.name: p.get_default(ctx) for p in cmd.params}
    cli_name = {"fmt": "fmt_name", "k": "k_len", "local": "in_process", "directory": "out_dir"}
    for name, p in params.items():
        if name in ("op", "lfsr", "command", "progress", "spell", "directory"):
            continue
        assert opts[cli_name.get(name, name)] == p.default, name


def test_write_records_a_python_call_and_matches_the_cli(tmp_path):
    d = write(tmp_path / "py", "sr", dst="e5m2", count=12, lfsr={"seed": 5}, radix="bin")
    m = json.loads((d / "manifest.json").read_text())
    assert m["command"] == (f"emu.golden.write({str(tmp_path / 'py')!r}, 'sr', dst='e5m2', count=12, "
                            "lfsr={'seed': 5}, radix='bin')")
    r = CliRunner().invoke(main, ["golden", "sr", "--dst", "e5m2", "--count", "12", "--lfsr-seed", "5",
                                  "--radix", "bin", "--out", str(tmp_path / "cli")])
    assert r.exit_code == 0, r.output
    c = json.loads((tmp_path / "cli" / "manifest.json").read_text())
    assert c["command"].startswith("emu golden sr") or c["command"] == "emu golden"
    assert {k: v for k, v in c.items() if k != "command"} == {k: v for k, v in m.items() if k != "command"}
    assert m["spec"] == build_spec("sr", dst="e5m2", count=12, lfsr={"seed": 5})


@pytest.mark.parametrize("kwargs, needle", [
    (dict(dst="e4m3", k=4), "k does not apply to golden convert"),
    (dict(dst="e4m3", lfsr={"seed": 2}), "lfsr applies to stochastic rounding only (rounding=rne)"),
    (dict(dst="e4m3", rounding="sr", direction=1), "direction applies to rounding=signed_sr_eps only"),
    (dict(dst="e4m3", radix="oct"), "unknown radix 'oct'; valid: hex, bin"),
    (dict(dst="e4m3", layout="flat"), "unknown layout 'flat'; valid: ports, packed"),
    (dict(dst="e4m3", workers=2), "scheduler, workers and local apply to shards=K"),
    (dict(), "convert needs dst=FORMAT"),
])
def test_write_refuses_bad_options(tmp_path, kwargs, needle):
    with pytest.raises(ValueError) as err:
        write(tmp_path / "set", "convert", **kwargs)
    assert needle in str(err.value)
    assert not (tmp_path / "set").exists()  # refused before any work


def test_write_follows_the_output_directory_rules(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(ValueError, match="not an emu vector set"):
        write(tmp_path / "mine", "convert", dst="e4m3", count=5)
    d = write(tmp_path / "set", "convert", dst="e4m3", count=5)
    with pytest.raises(ValueError, match="pass --force"):
        write(d, "convert", dst="e4m3", count=6)
    assert load(write(d, "convert", dst="e4m3", count=6, force=True, radix="bin")).radix == "bin"
    assert not list(d.glob("*.hex"))  # replaced whole: no hex file of the old set left


# --- vendor profiles in sets (docs/semantics.md §3.5, §10.1) ----------------------------------
def _nan_inputs(gs) -> np.ndarray:
    return np.isnan(gs.registers("a").to_float()) if "a" in gs else np.zeros(gs.count, bool)


def test_profile_sets_follow_the_vendor_and_check_against_themselves(tmp_path):
    """A set's profile is in its spec (only when not ocp, so old sets stay byte for byte), its
    outputs follow the profile (nvidia: a float32 NaN into e4m3 is 0x7f, sign dropped; riscv:
    every NaN result of add is the positive canonical NaN), equal emu's own calls with that
    profile, and its own files check clean."""
    ocp = write(tmp_path / "ocp", "convert", dst="e4m3", profile="ocp")
    assert "profile" not in load(ocp).spec
    nv = load(write(tmp_path / "nv", "convert", dst="e4m3", profile="NVIDIA"))
    assert nv.spec["profile"] == "nvidia"
    nan = _nan_inputs(nv)
    assert nan.any() and (nv["a"][nan] >> 31).any()  # negative NaNs among the inputs
    assert set(nv["y"][nan].tolist()) == {0x7F}
    assert np.array_equal(nv["y"], emu.convert(nv.registers("a"), "e4m3", profile="nvidia").codes)
    rv = load(write(tmp_path / "rv", "add", fmt="e5m2", profile="riscv", inputs="exhaustive"))
    y = rv.registers("y")
    assert set(y.codes[np.isnan(y.to_float())].tolist()) == {0x7E}
    assert np.array_equal(rv["y"], emu.add(rv.registers("a"), rv.registers("b"), profile="riscv").codes)
    for gs in (nv, rv):
        assert golden.check(gs.path, [gs.path / "y.hex"]).ok


def test_amd_stochastic_set_stores_the_32_bit_operands(tmp_path):
    """Under amd, SR into e4m3fnuz reads the low 20 bits of a 32-bit operand: the set's r port
    holds the whole operands (32 bits: what a DUT's SR unit takes as src1), drawn from a 32-shift
    LFSR, and replaying them reproduces y."""
    gs = load(write(tmp_path / "amd", "sr", dst="e4m3fnuz", sr_bits=20, profile="amd"))
    assert gs.port("r").bits == 32 and gs.spec["lfsr"]["shifts"] == 32
    assert int(gs["r"].max()) >= 1 << 20  # whole operands, not only the bits used
    again = emu.convert(gs.registers("a"), "e4m3fnuz", "sr", sr_bits=20, profile="amd",
                        rng=emu.ReplaySource(gs["r"].astype(np.uint64)))
    assert np.array_equal(again.codes, gs["y"])


@pytest.mark.parametrize("args,message", [
    (["lfsr", "--profile", "amd"], "--profile does not apply to golden lfsr"),
    (["mac", "--profile", "nvidia"], "--profile does not apply to golden mac"),
    (["convert", "--dst", "e4m3", "--profile", "intel"], "'intel' is not one of 'ocp', 'nvidia', 'amd'"),
    (["sr", "--dst", "e4m3fnuz", "--profile", "amd"], "r = 20 random bits"),
])
def test_profile_misuse_is_a_usage_error(tmp_path, args, message):
    r = CliRunner().invoke(main, ["golden", *args, "--out", str(tmp_path / "s")])
    assert r.exit_code == 2 and message in r.output, r.output
    with pytest.raises(ValueError, match="unknown profile 'intel'; valid: ocp, nvidia, amd, riscv"):
        build_spec("convert", dst="e4m3", profile="intel")


@pytest.mark.parametrize("kwargs,err,message", [
    ({"count": "10"}, TypeError, "count must be an integer, not str"),
    ({"count": True}, TypeError, "count must be an integer, not bool"),
    ({"count": 10.0}, TypeError, "count must be an integer, not float"),
    ({"count": 0}, ValueError, "count=0 out of range; valid: 1..16777216"),
    ({"count": 2 ** 40}, ValueError, "count=1099511627776 out of range"),
    ({"seed": -1}, ValueError, "seed=-1 out of range"),
    ({"seed": "1"}, TypeError, "seed must be an integer"),
    ({"inputs": None}, TypeError, "inputs takes generator names"),
    ({"rounding": "sr", "lfsr": [1, 2]}, TypeError, "lfsr= takes an emu.LFSR or a dict"),
    ({"rounding": "sr", "sr_bits": "8"}, TypeError, "sr_bits must be an integer"),
    ({"rounding": "sr", "sr_bits": 0}, ValueError, "sr_bits=0 out of range; valid: 1..32"),
    ({"address": 5}, TypeError, "address must be True or False"),
])
def test_write_refuses_wrong_types_naming_the_keyword(tmp_path, kwargs, err, message):
    """Python callers get the checks the command line's option types give (no numpy error, no
    8 TiB allocation, nothing stored in the spec as given)."""
    with pytest.raises(err, match=re.escape(message)):
        write(tmp_path / "s", "convert", dst="e4m3", **kwargs)
    assert not (tmp_path / "s").exists()


def test_write_takes_an_lfsr_object(tmp_path):
    """lfsr= takes an emu.LFSR as emu.cocotb's model does: its current lane states are the seeds."""
    lf = emu.LFSR(shifts=8, seeds=[5, 6])
    gs = load(write(tmp_path / "s", "sr", dst="e4m3", count=10, lfsr=lf))
    assert gs.spec["lfsr"]["seeds"] == [5, 6]
    assert "lfsr={'width': 32, " in gs.manifest["command"] and "object at" not in gs.manifest["command"]
    again = emu.convert(gs.registers("a"), "e4m3", "sr", sr_bits=8, rng=emu.LFSR(shifts=8, seeds=[5, 6]))
    assert np.array_equal(again.codes, gs["y"])
