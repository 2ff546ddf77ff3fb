"""Golden vector sets: byte-identical regeneration, cross-checks of dumps, malformed dumps."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import reference as ref
from click.testing import CliRunner

import emu
from cli.main import main
from emu.golden import DumpError, check, generate, read_hex, regenerate, write_set

ROOT = Path(__file__).resolve().parent.parent / "golden_vectors"
SETS = sorted(p.name for p in ROOT.iterdir() if (p / "manifest.json").exists())


def test_committed_sets_present():
    names = set(SETS)
    for needed in ("convert_fp32_e4m3_rne", "convert_fp32_e4m3_rne_sat", "convert_fp32_e5m2_rne",
                   "convert_fp32_e5m2_rne_sat", "sr_fp32_e4m3_r8", "sr_fp32_e5m2_r8", "mul_e4m3_rne",
                   "add_e4m3_rne", "lfsr32_fib_d8", "mac_s8.4_s32.8"):
        assert needed in names


@pytest.mark.parametrize("name", SETS)
def test_regenerates_byte_identical(name, tmp_path):
    out = regenerate(ROOT / name, tmp_path / name)
    for f in sorted((ROOT / name).iterdir()):
        assert (out / f.name).read_bytes() == f.read_bytes(), f.name
    manifest = json.loads((ROOT / name / "manifest.json").read_text())
    import hashlib

    for fname, digest in manifest["sha256"].items():
        assert hashlib.sha256((ROOT / name / fname).read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("name", SETS)
def test_expected_outputs_pass_check(name):
    m = json.loads((ROOT / name / "manifest.json").read_text())
    outs = [ROOT / name / p["file"] for p in m["ports"] if p["direction"] == "out"]
    assert check(ROOT / name, outs).ok


def test_committed_convert_set_matches_reference_and_ml_dtypes():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    s = ROOT / "convert_fp32_e4m3_rne"
    a = read_hex(s / "a.hex", 32).astype(np.uint32)
    y = read_hex(s / "y.hex", 8)
    assert np.array_equal(a.view(np.float32).astype(ml_dtypes.float8_e4m3fn).view(np.uint8), y)
    f = emu.format("e4m3")
    for code, want in list(zip(a.tolist(), y.tolist(), strict=True))[:300]:
        x = float(np.uint32(code).view(np.float32))
        assert ref.round_value(x, f, "rne") == want


def test_sr_set_words_are_the_lfsr_stream():
    s = ROOT / "sr_fp32_e4m3_r8"
    r = read_hex(s / "r.hex", 8)
    assert np.array_equal(r, emu.LFSR(seed=1, shifts=8).random_words(r.size, 8))


def flip_one(src: Path, dst: Path, line: int = 5, bit: int = 0):
    lines = src.read_text().splitlines()
    body = [i for i, ln in enumerate(lines) if ln and not ln.startswith("//")]
    i = body[line]
    w = len(lines[i])
    lines[i] = f"{int(lines[i], 16) ^ (1 << bit):0{w}x}"
    dst.write_text("\n".join(lines) + "\n")
    return body.index(i)


def test_check_reports_mismatch_and_exit_codes(tmp_path):
    s = ROOT / "convert_fp32_e4m3_rne"
    bad = tmp_path / "y.hex"
    idx = flip_one(s / "y.hex", bad, line=100)
    res = check(s, [bad])
    assert not res.ok and len(res.mismatches) == 1 and res.mismatches[0]["index"] == idx
    m = res.mismatches[0]
    assert m["y"]["ulps"] == 1 and "fields" in m["y"]["expected"] and "a" in m["inputs"]
    r = CliRunner().invoke(main, ["check", str(s), str(bad)])
    assert r.exit_code == 1 and "1 mismatches" in r.output and f"#{idx}" in r.output
    r = CliRunner().invoke(main, ["check", str(s), str(s / "y.hex"), "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["ok"] is True


def test_mismatch_classes(tmp_path):
    s = ROOT / "convert_fp32_e4m3_rne"
    y = read_hex(s / "y.hex", 8)
    a = read_hex(s / "a.hex", 32).astype(np.uint32).view(np.float32)
    got = y.copy()
    nan_i = int(np.nonzero(y == 0x7F)[0][0])
    sub_i = int(np.nonzero((y > 0) & (y < 8))[0][0])
    got[[nan_i, sub_i]] ^= 1
    (tmp_path / "y.hex").write_text("".join(f"{int(v):02x}\n" for v in got))
    res = check(s, [tmp_path / "y.hex"])
    classes = {m["index"]: m["class"] for m in res.mismatches}
    assert classes[nan_i] == "nan" and classes[sub_i] == "subnormal"
    assert np.isfinite(a[sub_i])


def test_dump_layouts(tmp_path):
    vs = generate({"op": "mul", "fmt": "e4m3", "inputs": ["random"], "count": 64, "seed": 3})
    d = write_set(vs, tmp_path / "set", "test")
    y = vs.port("y").values
    # CSV with a y column
    (tmp_path / "dump.csv").write_text("index,y\n" + "".join(f"{i},{int(v):02x}\n" for i, v in enumerate(y)))
    assert check(d, [tmp_path / "dump.csv"]).ok
    # packed, all fields
    lines = [f"{int(a):02x}_{int(b):02x}_{int(c):02x}" for a, b, c in
             zip(vs.port("a").values, vs.port("b").values, y, strict=True)]
    (tmp_path / "packed.hex").write_text("\n".join(lines) + "\n")
    assert check(d, [tmp_path / "packed.hex"], layout="packed").ok  # said, never guessed
    # a packed set round-trips too
    p = write_set(vs, tmp_path / "packed_set", "test", layout="packed")
    assert (p / "vectors.hex").exists() and check(p, [tmp_path / "packed.hex"]).ok
    # a directory dump
    (tmp_path / "dumpdir").mkdir()
    shutil.copy(d / "y.hex", tmp_path / "dumpdir" / "y.hex")
    assert check(d, [tmp_path / "dumpdir"]).ok


@pytest.mark.parametrize("text,needle", [
    ("1x", "line 3: '1x' has x/z digits"),
    ("123", "line 3: '123' is wider than 8 bits"),
    ("zz", "line 3: 'zz' has x/z digits"),
    ("q1", "line 3: 'q1' is not a hex word"),
    (None, "too few words"),
])
def test_malformed_dumps_name_file_and_line(tmp_path, text, needle):
    vs = generate({"op": "mul", "fmt": "e4m3", "inputs": ["random"], "count": 4, "seed": 3})
    d = write_set(vs, tmp_path / "set", "test")
    f = tmp_path / "y.hex"
    lines = [f"{int(v):02x}" for v in vs.port("y").values]
    body = lines[:2] if text is None else lines[:2] + [text] + lines[3:]  # bad word on line 3
    f.write_text("\n".join(body) + "\n")
    with pytest.raises(DumpError) as err:
        check(d, [f])
    assert str(f) in str(err.value) and needle in str(err.value)
    r = CliRunner().invoke(main, ["check", str(d), str(f)])
    assert r.exit_code == 2 and needle in r.output


def test_sr_diagnosis_detects_draw_offset(tmp_path):
    s = ROOT / "sr_fp32_e4m3_r8"
    m = json.loads((s / "manifest.json").read_text())
    a = emu.Registers.from_codes(read_hex(s / "a.hex", 32), "fp32")
    words = read_hex(s / "r.hex", 8)

    class Shifted:
        def random_words(self, n, bits, threads=None):
            return np.roll(words, -1)  # a DUT that consumed one extra draw at reset

    y = emu.convert(a, "e4m3", "sr", rng=Shifted(), sr_bits=8).codes
    (tmp_path / "y.hex").write_text("".join(f"{int(v):02x}\n" for v in y))
    res = check(s, [tmp_path / "y.hex"])
    assert not res.ok and any("offset by 1" in d for d in res.diagnosis)
    assert m["random_source"]["states"] == ["0x1"]


def test_atomic_write_keeps_old_set_on_failure(tmp_path, monkeypatch):
    vs = generate({"op": "lfsr", "lfsr": {"width": 16, "shifts": 8}, "count": 8})
    d = write_set(vs, tmp_path / "set", "first")
    before = {f.name: f.read_bytes() for f in d.iterdir()}
    import emu.golden.vectors as vmod

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(vmod, "_csv_text", boom)
    with pytest.raises(KeyboardInterrupt):
        write_set(vs, d, "second", force=True)
    assert {f.name: f.read_bytes() for f in d.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["set"]  # no temp directory left behind


def test_golden_cli_usage_errors(tmp_path):
    r = CliRunner().invoke(main, ["golden", "convert", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "--dst" in r.output
    r = CliRunner().invoke(main, ["golden", "fma", "--format", "e4m3", "--inputs", "exhaustive",
                                  "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "exhaustive" in r.output
    r = CliRunner().invoke(main, ["golden", "add", "--format", "e9m9x", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2
    r = CliRunner().invoke(main, ["check", str(tmp_path), str(tmp_path / "nope.hex")])
    assert r.exit_code == 2 and "manifest" in r.output


def test_lfsr_and_mac_sets_are_consistent():
    s = ROOT / "lfsr32_fib_d8"
    st = read_hex(s / "state.hex", 32)
    w = read_hex(s / "word.hex", 8)
    words, _ = ref.lfsr_draws(32, 0x00400007, "fibonacci", 8, 1, 16)
    assert w[:16].tolist() == words and st[0] == 1
    m = ROOT / "mac_s8.4_s32.8"
    a, b = read_hex(m / "a.hex", 8), read_hex(m / "b.hex", 8)
    acc_out = read_hex(m / "acc_out.hex", 32)
    f = emu.format("s8.4")
    total = 0
    for i in range(16):
        total += f.code_int(int(a[i])) * f.code_int(int(b[i]))
        assert emu.format("s32.8").code_int(int(acc_out[i])) == total
