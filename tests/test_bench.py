"""`emu bench` (the default kernels job): its rows, same-run ceilings and the command's table."""

import numpy as np
import pytest
from click.testing import CliRunner
from numba.core.registry import CPUDispatcher

import emu.bench
import emu.jitcache
from cli.main import main
from emu.bench import MNIST_MIN, MNIST_SAMPLES, mnist_samples, run_suite

ROWS = {  # issue 18's rows -> the ceiling each must quote
    "float32 -> e4m3 rne encode": "copy u32->u8",
    "float32 -> e4m3 sr r=8 (LFSR32, 1 lane)": "copy u32->u8",
    "float32 -> e4m3 sr r=8 (LFSR32, 8 lanes)": "copy u32->u8",
    "e4m3 -> float64 decode": "copy u8->f64",
    "e4m3 add rne": "u8,u8->u8 loop",
    "e4m3 256^3 matmul, fp32 sequential acc (MMAC/s)": "BLAS sgemm",
    "e4m3 matmul, e8m13 rtz acc (MMAC/s)": "fp32-acc path (peer)",
    "s8.4 256^3 MAC into s32.8 (MMAC/s)": "BLAS dgemm",
    "digits softmax, 1 epoch e4m3/fp32-acc/sr (Msamples/s)": "fp32/rne epoch (peer)",
    f"MNIST-shaped {MNIST_MIN} x 784, 1 epoch, softmax, e4m3 weights, sr update (Msamples/s)": None,
}


@pytest.fixture(scope="module")
def jobs():
    return run_suite(size=4096, repeat=1, threads=2)


def test_kernels_rows_and_ceilings(jobs):
    by = {j["job"]: j for j in jobs}
    assert set(ROWS) <= set(by) and len(by) == len(jobs)
    assert jobs[-1]["job"].startswith("MNIST-shaped")
    for name, kind in ROWS.items():
        assert by[name]["ceiling"] == kind, name
    for j in jobs:
        assert j["threads"] == 2 and j["emu_melem_s"] > 0 and j["emu_1thread_melem_s"] > 0
        assert j["speedup"] == pytest.approx(j["emu_melem_s"] / j["emu_1thread_melem_s"])
        assert j["agrees"] in (True, None)
        if j["ceiling"] is None:
            assert j["ceiling_melem_s"] is None and j["ceiling_fraction"] is None
        else:
            assert j["ceiling_fraction"] == pytest.approx(j["emu_melem_s"] / j["ceiling_melem_s"])
        copy = (j["ceiling"] or "").startswith("copy") or j["ceiling"] == "u8,u8->u8 loop"
        assert (j["ceiling_alloc_melem_s"] is not None) == copy, j["job"]
        if copy:
            assert j["ceiling_alloc_fraction"] == pytest.approx(
                j["emu_melem_s"] / j["ceiling_alloc_melem_s"])
    fp32 = by["e4m3 256^3 matmul, fp32 sequential acc (MMAC/s)"]
    assert by["e4m3 matmul, e8m13 rtz acc (MMAC/s)"]["ceiling_melem_s"] == fp32["emu_melem_s"]
    for name in list(ROWS)[-2:]:  # the epochs: samples and seconds per epoch
        j = by[name]
        assert j["epoch_s"] == pytest.approx(j["samples"] / j["emu_melem_s"] / 1e6)
    assert by[list(ROWS)[-1]]["samples"] == MNIST_MIN


def test_mnist_row_scales_with_size():
    assert mnist_samples(10_000_000) == MNIST_SAMPLES == mnist_samples(10 ** 9)
    assert mnist_samples(100_000) == 600  # --quick
    assert mnist_samples(1) == MNIST_MIN


def test_table_shows_threads_speedup_and_ceilings(jobs, monkeypatch):
    monkeypatch.setattr(emu.bench, "run_suite", lambda **kw: jobs)
    r = CliRunner().invoke(main, ["bench", "--size", "4096", "--repeat", "1"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    header = next(line for line in lines if line.startswith("job"))
    assert header.split()[1:4] == ["emu", "2T", "1T"] and "2T/1T" in header
    assert {"ceiling", "%ceil", "+alloc", "%alloc"} <= set(header.split())
    decode = next(line for line in lines if line.startswith("e4m3 -> float64 decode"))
    j = next(j for j in jobs if j["job"] == "e4m3 -> float64 decode")
    assert f"{j['speedup']:.2f}x" in decode and "copy u8->f64" in decode
    assert f"{100 * j['ceiling_fraction']:.0f}%" in decode.split()
    assert f"{100 * j['ceiling_alloc_fraction']:.0f}%" in decode.split()
    assert sum("s per epoch on 2 threads" in line for line in lines) == 2


def test_blas_ceiling_leaves_blas_threads_as_found():
    setter = emu.bench._blas_setter()
    before = setter[1]() if setter else None
    a = np.eye(8)
    c = emu.bench._matmul_ceiling(a, a, 1, "BLAS dgemm")
    assert c.melem_s > 0 and c.kind.startswith("BLAS dgemm")
    assert setter is None or setter[1]() == before


def test_bench_module_holds_no_kernel():
    """Its copy loops live in emu.kernels.memory: editing emu/bench.py invalidates no cached
    kernel (it is not among the sources every kernel is stamped with)."""
    assert emu.jitcache.PACKAGE / "bench.py" not in emu.jitcache.SOURCES
    assert emu.jitcache.PACKAGE / "kernels" / "memory.py" in emu.jitcache.SOURCES
    assert not [n for n, o in vars(emu.bench).items()
                if isinstance(o, CPUDispatcher) and o.__module__ == "emu.bench"]
    src = np.arange(10, dtype=np.uint32)
    out = np.empty(10, np.uint8)
    emu.bench.memory.copy(src, out)
    assert np.array_equal(out, src)
