"""$readmemb sets and @address lines (docs/semantics.md §10.4, §10.7): emu writes binary words and
@address headers that a test bench reads, and emu check reads $writememb dumps (as Icarus and
Verilator write them) in the radix the set or --radix names, placing words at their addresses;
anything malformed is exit 2 naming file and line, a wrong bit exit 1."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import NEEDS, require_tools  # the simulators' convention: skip if missing, fail under CI

from cli.main import main
from emu.golden import check, format_words, generate, load, parse_hex, write
from emu.golden.hexio import DumpError

SPEC = dict(dst="e4m3", inputs="random", count=40, seed=2)  # convert fp32 -> e4m3: a[32] in, y[8] out


def cli(*args):
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)  # no traceback
    return r


def expect(r, code: int, *needles: str) -> None:
    assert r.exit_code == code, r.output
    for n in needles:
        assert n in r.output, (n, r.output)


def body(path: Path) -> list[str]:
    """A vector file's words (its comment and @ lines left out)."""
    return [ln for ln in path.read_text().splitlines() if not ln.startswith(("//", "@"))]


@pytest.fixture
def bset(tmp_path) -> Path:
    return write(tmp_path / "set", "convert", **SPEC, radix="bin", address=True)


def test_bin_files_are_readmemb_files(bset):
    vs = generate(load(bset).spec)
    lines = (bset / "y.bin").read_text().splitlines()
    assert lines[:2] == ["// y: out 8 bits, e4m3", "@0"]
    assert lines[2:] == [f"{int(v):08b}" for v in vs.port("y").values]
    assert all(len(w) == 32 and set(w) <= {"0", "1"} for w in body(bset / "a.bin"))
    m = json.loads((bset / "manifest.json").read_text())
    assert (m["schema_version"], m["radix"], m["address"]) == (2, "bin", 0)
    assert [p["file"] for p in m["ports"]] == ["a.bin", "y.bin"]
    assert not list(bset.glob("*.hex"))
    row = (bset / "vectors.csv").read_text().splitlines()[1].split(",")
    assert row[3] == f"{int(vs.port('y').values[0]):02x}"  # the CSV view stays hex


def test_the_one_writer():
    assert format_words(np.array([5, 0]), 5, "bin", "c", 16) == "// c\n@10\n00101\n00000\n"  # @ is hex
    assert format_words(np.array([5, 0]), 5, "hex") == "05\n00\n"
    assert parse_hex("@3 101\n@1 1 11\n@0 0\n", 3, "t", radix="bin").tolist() == [0, 1, 3, 5]
    with pytest.raises(ValueError, match="unknown radix 'oct'; valid: hex, bin"):
        format_words(np.array([1]), 4, "oct")


def test_check_passes_on_a_bin_dump(bset, tmp_path):
    expect(cli("check", bset, bset / "y.bin"), 0, " 0 mismatches")
    (tmp_path / "dump").mkdir()
    shutil.copy(bset / "y.bin", tmp_path / "dump" / "y.bin")
    expect(cli("check", bset, tmp_path / "dump"), 0, " 0 mismatches")  # a directory of <port>.bin
    words = body(bset / "y.bin")
    plain = tmp_path / "plain.bin"  # no comment, no @ line: a plain $writememb dump
    plain.write_text("\n".join(words) + "\n")
    expect(cli("check", bset, plain), 0)


def test_check_reads_icarus_and_verilator_dumps(bset, tmp_path):
    words = body(bset / "y.bin")
    icarus = tmp_path / "icarus.bin"  # Icarus: a // 0x<address> comment every 16 words
    icarus.write_text("".join((f"// 0x{i:08x}\n" if i % 16 == 0 else "") + w + "\n"
                              for i, w in enumerate(words)))
    expect(cli("check", bset, icarus), 0)
    verilator = tmp_path / "verilator.bin"  # @address lines where a write jumps (any order)
    half = len(words) // 2
    verilator.write_text(f"@{half:x}\n" + "\n".join(words[half:]) + "\n@0\n" + "\n".join(words[:half]) + "\n")
    expect(cli("check", bset, verilator), 0)


def test_check_fails_on_a_flipped_bit(bset, tmp_path):
    words = body(bset / "y.bin")
    words[7] = words[7][:-1] + ("1" if words[7][-1] == "0" else "0")
    (tmp_path / "y.bin").write_text("\n".join(words) + "\n")
    expect(cli("check", bset, tmp_path / "y.bin"), 1, "1 mismatches", "#7 ")


@pytest.mark.parametrize("lines, needle", [
    ({3: "0101x010"}, "line 4: '0101x010' has x/z digits"),
    ({3: "01012010"}, "line 4: '01012010' is not a binary word"),
    ({3: "7e"}, "line 4: '7e' is not a binary word (binary digits are 0 and 1); a $readmemh dump? "
                "use --radix hex"),
    ({3: "110100101"}, "line 4: '110100101' is wider than 8 bits"),
    ({3: "@5", 4: None}, "line 4: this address leaves vector 3 without a word"),  # a gap
    ({3: "@1"}, "line 5: a second word for vector 1"),  # an overlap
    ({3: "@40"}, "line 4: address @40 is beyond the last vector (the set has 40 vectors, @0..@27)"),
    ({3: "@zz"}, "line 4: '@zz' is not an address"),
    ({39: None}, "too few words"),
])
def test_malformed_bin_dumps_exit_2_naming_file_and_line(bset, tmp_path, lines, needle):
    words = body(bset / "y.bin")
    for i, text in lines.items():
        words[i] = text
    dump = tmp_path / "y.bin"
    dump.write_text("\n".join(w for w in words if w is not None) + "\n")
    expect(cli("check", bset, dump), 2, f"{dump}, " if "line" in needle else str(dump), needle)
    with pytest.raises(DumpError, match="line|too few"):
        check(bset, [dump])


def test_the_radix_is_the_sets_or_the_one_asked_for(bset, tmp_path):
    y = load(bset)["y"]
    hexdump = tmp_path / "y.hex"
    hexdump.write_text("".join(f"{int(v):02x}\n" for v in y))
    expect(cli("check", bset, hexdump, "--radix", "hex"), 0)
    expect(cli("check", bset, hexdump), 2, "a $readmemh dump? use --radix hex")  # never guessed
    # a hex set read with --radix bin, and a binary dump read as hex (0101... is valid hex)
    hset = write(tmp_path / "hset", "convert", **SPEC)
    expect(cli("check", hset, bset / "y.bin", "--radix", "bin"), 0)
    expect(cli("check", hset, bset / "y.bin"), 2, "is wider than 8 bits; a $readmemb dump? use --radix bin")
    expect(cli("check", hset, hexdump, "--radix", "oct"), 2, "'oct' is not one of 'hex', 'bin'")
    with pytest.raises(ValueError, match="unknown radix 'oct'; valid: hex, bin"):
        check(hset, [hexdump], radix="oct")


def test_csv_dumps_are_hex_unless_told(bset, tmp_path):
    y = load(bset)["y"]
    (tmp_path / "d.csv").write_text("index,y\n" + "".join(f"{i},{int(v):02x}\n" for i, v in enumerate(y)))
    expect(cli("check", bset, tmp_path / "d.csv"), 0)
    expect(cli("check", bset, bset / "vectors.csv"), 0)  # the set's own CSV view is hex
    (tmp_path / "b.csv").write_text("y\n" + "".join(f"{int(v):08b}\n" for v in y))
    expect(cli("check", bset, tmp_path / "b.csv", "--radix", "bin"), 0)


def test_packed_bin_sets(tmp_path):
    d = write(tmp_path / "set", "mul", fmt="e4m3", inputs="random", count=30, layout="packed",
              radix="bin", address=True)
    lines = (d / "vectors.bin").read_text().splitlines()
    assert lines[:2] == ["// packed: a[8]_b[8]_y[8]", "@0"] and len(lines[2]) == 26 and lines[2][8] == "_"
    expect(cli("check", d, d / "vectors.bin"), 0)
    expect(cli("check", d, d), 0)  # a directory: its vectors.bin


def test_sharded_address_sets_start_each_shard_at_its_global_index(tmp_path):
    d = write(tmp_path / "set", "convert", **SPEC, radix="bin", address=True, shards=3, local=True)
    m = json.loads((d / "manifest.json").read_text())
    for e in m["shards"]:
        assert (d / e["dir"] / "y.bin").read_text().splitlines()[1] == f"@{e['offset']:x}"
    # the shards' files, concatenated in order, are a dump of the whole set
    whole = tmp_path / "y.bin"
    whole.write_text("".join((d / e["dir"] / "y.bin").read_text() for e in m["shards"]))
    expect(cli("check", d, whole), 0, f"{m['count']} vectors, 0 mismatches")
    # a whole-set dump is compared shard by shard, streamed: it may not go back to a shard done
    whole.write_text("".join((d / e["dir"] / "y.bin").read_text() for e in reversed(m["shards"])))
    expect(cli("check", d, whole), 2, f"{whole}, line 2: this address leaves vector 0 without a word")
    expect(cli("check", d, d), 0)  # a directory of shard directories
    # a shard on its own: its dump's addresses are the shard's own (global) ones
    last = m["shards"][-1]
    expect(cli("check", d / last["dir"], d / last["dir"] / "y.bin"), 0)
    local = tmp_path / "local.bin"
    local.write_text("@0\n" + "\n".join(body(d / last["dir"] / "y.bin")) + "\n")
    expect(cli("check", d / last["dir"], local), 2, "address @0 is before the first vector (the set "
                                                   f"has {last['count']} vectors, @{last['offset']:x}..")


def test_golden_cli_writes_radix_and_address(tmp_path):
    r = cli("golden", "lfsr", "--count", "5", "--lfsr-width", "16", "--radix", "bin", "--address",
            "--out", tmp_path / "set")
    expect(r, 0, "wrote 5 vectors")
    assert (tmp_path / "set" / "state.bin").read_text().splitlines()[1:3] == ["@0", "0000000000000001"]
    expect(cli("golden", "lfsr", "--radix", "dec", "--out", tmp_path / "x"), 2,
           "'dec' is not one of 'hex', 'bin'")


# --- a test bench reads what emu writes: Icarus Verilog and Verilator ---------------------------
def _simulate(simulator: str, bench: Path, out: Path) -> None:
    if simulator == "icarus":
        subprocess.run(["iverilog", "-g2005", "-o", str(out / "tb"), str(bench)], check=True,
                       capture_output=True, text=True)
        cmd = ["vvp", "-n", str(out / "tb")]
    else:  # unoptimised C++: the simulation is tiny, the compile is what takes time
        subprocess.run(["verilator", "--binary", "-Wno-fatal", "-O1", "--build-jobs", "2", "-Mdir",
                        str(out / "obj"), "-MAKEFLAGS", "OPT_FAST=-O0", "-MAKEFLAGS", "OPT_SLOW=-O0",
                        "-MAKEFLAGS", "OPT_GLOBAL=-O0", str(bench)], check=True, capture_output=True,
                       text=True, timeout=600)
        cmd = [str(out / "obj" / "Vtb")]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "WARNING" not in run.stdout + run.stderr, run.stdout + run.stderr


@pytest.mark.slow  # a Verilator build (~10 s): run once in CI, in the main run
@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_simulators_read_readmemb_with_addresses_and_emu_checks_their_writememb(simulator, tmp_path):
    """Every shard file of a sharded --address set loads into one memory by its @ lines alone
    ($readmemb without a range); the simulator's $writememb of that memory (Icarus adds
    ``// 0x...`` address comments, Verilator writes bare words) passes emu check."""
    require_tools(NEEDS[simulator], f"the $readmemb round trip under {simulator}")
    d = write(tmp_path / "set", "convert", src="e5m2", dst="e4m3", inputs="exhaustive", radix="bin",
              address=True, shards=3, local=True)
    m = json.loads((d / "manifest.json").read_text())
    n = m["count"]
    reads = "\n".join(f'    $readmemb("{d / e["dir"] / "y.bin"}", y);' for e in m["shards"])
    (tmp_path / "tb.v").write_text(f"""module tb;
  reg [7:0] y [0:{n - 1}];
  initial begin
{reads}
    $writememb("{tmp_path / 'dump.bin'}", y);
    $writememb("{tmp_path / 'bad.bin'}", y, 0, {n - 2});
    $finish;
  end
endmodule
""")
    _simulate(simulator, tmp_path / "tb.v", tmp_path)
    first = (tmp_path / "dump.bin").read_text().splitlines()[0]
    assert first == ("// 0x00000000" if simulator == "icarus" else body(d / "shard-0000" / "y.bin")[0])
    expect(cli("check", d, tmp_path / "dump.bin"), 0, f"{n} vectors, 0 mismatches")
    expect(cli("check", d, tmp_path / "bad.bin"), 2, "too few words")
