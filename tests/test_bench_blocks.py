"""`emu bench --job blocks`: the MX rows, their references and the command's output."""

import json

import pytest
from click.testing import CliRunner

from cli.main import main
from emu.bench import run_suite

ROWS = ("float32 -> e4m3 rne encode (no blocks: same-run ceiling)",
        "float32 -> MXFP8 e4m3 rne quantize", "float32 -> MXFP8 e4m3 sr r=8 quantize (LFSR32, 1 lane)",
        "float32 -> MXFP4 e2m1 rne quantize", "float32 -> MXFP4 e2m1 sr r=8 quantize (LFSR32, 1 lane)",
        "MXFP8 64x256x256 matmul, fp32 seq acc, block_sum=exact (MMAC/s)",
        "MXFP8 64x256x256 matmul, fp32 seq acc, block_sum=products (MMAC/s)")


def test_block_rows_and_references():
    jobs = run_suite(size=4096, repeat=1, threads=1, job="blocks")
    names = [j["job"] for j in jobs]
    assert [n for i, n in enumerate(names) if n not in names[:i]] == list(ROWS)
    assert all(j["emu_melem_s"] > 0 and j["threads"] == 1 for j in jobs)
    assert all(j["agrees"] in (True, None) for j in jobs)
    quantize = [j for j in jobs if j["job"] in ROWS[1:5]]
    assert all(j["ceiling_melem_s"] > 0 for j in quantize)
    refs = {(j["job"], j["reference"]) for j in jobs if j["reference"]}
    try:
        import gfloat  # noqa: F401 - the test extra
    except ImportError:
        return
    assert {(ROWS[1], "gfloat"), (ROWS[3], "gfloat")} <= refs
    assert all(j["agrees"] for j in jobs if j["reference"] == "gfloat")


@pytest.mark.slow  # compile-bound on a cold numba cache
def test_bench_blocks_quick_command():
    r = CliRunner().invoke(main, ["bench", "--job", "blocks", "--quick", "--json"])
    assert r.exit_code == 0, r.output
    jobs = json.loads(r.output)["jobs"]
    assert {j["job"] for j in jobs} == set(ROWS)
    r = CliRunner().invoke(main, ["bench", "--job", "blocks", "--quick", "--threads", "1"])
    assert r.exit_code == 0, r.output
    assert "MXFP8 e4m3 rne quantize" in r.output and "NO" not in r.output.split()
