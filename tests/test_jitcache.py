"""The numba kernel cache: nothing compiles twice, the index never grows, read-only installs work.

Numba keys a cached kernel's index entry by its argument types. A cached kernel that took a
jitted function as an argument got a new type in every process, so every process compiled
again and appended an entry, until (after ~73 processes) loading failed. These tests run the
same work in fresh processes and require the later ones to compile nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numba.core import types
from numba.core.registry import CPUDispatcher

import emu

WORK = """
import json, numpy as np
from numba.core import event
import emu
with event.install_recorder("numba:compile") as rec:
    x = np.linspace(-3, 3, 1000)
    emu.quantize(x, "e4m3", rounding="sr", sr_bits=8, rng=emu.LFSR(seed=5, lanes=3))
    emu.quantize(x, "e5m2", rounding="sr", sr_bits=6, rng=emu.LFSR(width=40, seed=9))
    emu.LFSR(width=20, config="galois", shifts=70).draw(3)
    for mode in ("rne", "rtz", "rdn", "rup"):  # the host-FPU fixed-point paths
        emu.quantize(np.linspace(-3, 3, 70_000), "s16.8", rounding=mode)
    emu.quantize(x, "s16.8")
print(json.dumps({"compiles": sum(1 for _, ev in rec.buffer if ev.is_start)}))
"""


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update(extra)
    return env


def _run(code: str, env: dict, cwd: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _indexes(cache: Path) -> dict[str, bytes]:
    return {str(p.relative_to(cache)): p.read_bytes() for p in cache.rglob("*.nbi")}


@pytest.mark.slow
def test_later_processes_compile_nothing(tmp_path):
    cache = tmp_path / "nbcache"
    env = _env(NUMBA_CACHE_DIR=str(cache))
    first = _run(WORK, env, tmp_path)
    assert first["compiles"] > 0  # a fresh cache: the first process compiles
    second = _run(WORK, env, tmp_path)
    after2 = _indexes(cache)
    third = _run(WORK, env, tmp_path)
    after3 = _indexes(cache)
    assert second["compiles"] == 0 and third["compiles"] == 0
    assert after2 == after3  # no index gained an entry
    assert all(len(b) < 16_384 for b in after3.values()), {k: len(b) for k, b in after3.items()}


STALE = """
import json
from numba.core import event
import emu
with event.install_recorder("numba:compile") as rec:
    code = int(emu.quantize([1.1], "e4m3", rounding="rtz").codes[0])
mods = sorted({ev.data["dispatcher"].py_func.__module__ for _, ev in rec.buffer if ev.is_start})
print(json.dumps({"code": code, "modules": mods}))
"""


@pytest.mark.slow
def test_a_change_in_the_core_recompiles_the_kernels_that_inline_it(tmp_path):
    """numba stamps a cached kernel with its own file only; the conversion kernels inline the
    rounding core, so a changed core must invalidate them too (else they keep the old rounding)."""
    site = tmp_path / "site"
    shutil.copytree(Path(emu.__file__).parent, site / "emu", ignore=shutil.ignore_patterns("__pycache__"))
    env = _env(PYTHONPATH=str(site), NUMBA_CACHE_DIR=str(tmp_path / "nb"))
    first = _run(STALE, env, tmp_path)
    assert first["code"] == 0x38 and "emu.kernels.convert" in first["modules"]  # 1.0
    assert _run(STALE, env, tmp_path)["modules"] == []  # cached
    core = site / "emu" / "kernels" / "core.py"
    text = core.read_text()  # a different core: rtz rounds like rup (a deliberate mutation)
    mutated = text.replace("_TABLES = (0b1010, 0b1111, 0b0000, 0b0011, 0b1100, 0b0000,",
                           "_TABLES = (0b1010, 0b1111, 0b0000, 0b0011, 0b1100, 0b0011,")
    assert mutated != text
    core.write_text(mutated)
    after = _run(STALE, env, tmp_path)
    assert "emu.kernels.convert" in after["modules"] and after["code"] == 0x39  # 1.125, not stale


def _emu_dispatchers():
    import emu.kernels.accumulate
    import emu.kernels.arith
    import emu.kernels.convert
    import emu.kernels.core
    import emu.kernels.fast
    import emu.kernels.lfsr
    import emu.kernels.memory
    import emu.kernels.seqacc

    for mod in (emu.kernels.accumulate, emu.kernels.arith, emu.kernels.convert, emu.kernels.core,
                emu.kernels.fast, emu.kernels.lfsr, emu.kernels.memory, emu.kernels.seqacc):
        for name, obj in vars(mod).items():
            if isinstance(obj, CPUDispatcher) and obj.__module__ == mod.__name__:
                yield f"{mod.__name__}.{name}", obj


def test_no_cached_kernel_takes_a_function():
    """Audit: after typical work, no cached kernel was compiled for a function-typed argument
    (such a type differs per process, see the module doc)."""
    x = np.linspace(-3, 3, 300)
    emu.quantize(x, "e4m3", rounding="sr", rng=emu.LFSR(lanes=2))
    emu.LFSR(width=48).draw(5)
    a = emu.quantize(x[:12].reshape(3, 4), "e4m3")
    emu.matmul(a, a.reshape(4, 3), acc="e8m13", out="e4m3", acc_rounding="rtz")
    emu.add(a, a, rounding="sr", rng=emu.LFSR())
    big = np.linspace(-3, 3, 70_000)
    for mode in ("rne", "rtz", "rdn", "rup"):  # table and host-FPU fast paths
        emu.quantize(big, "s16.8", rounding=mode)
        emu.quantize(big.astype(np.float32), "e4m3", rounding=mode)
    emu.quantize(big.astype(np.float32), "e4m3", rounding="sr", rng=emu.LFSR())
    emu.mul(emu.quantize(big, "e4m3"), emu.quantize(big, "e4m3"))
    bad = []
    for name, d in _emu_dispatchers():
        if not d._cache.__class__.__name__ == "FunctionCache":
            continue
        for sig in d.signatures:
            if any(isinstance(t, types.Dispatcher | types.FunctionType | types.WrapperAddressProtocol)
                   for t in sig):
                bad.append((name, sig))
    assert not bad


# --- read-only installs -----------------------------------------------------------------------
RO_SCRIPT = """set -e
mount --bind "$1" "$1"
mount -o remount,bind,ro "$1"
shift
exec "$@"
"""


def _can_unshare() -> bool:
    if not shutil.which("unshare"):
        return False
    r = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                        "mount -t tmpfs none /mnt 2>/dev/null || mount --bind / /mnt"],
                       capture_output=True)
    return r.returncode == 0


needs_unshare = pytest.mark.skipif(not _can_unshare(),
                                   reason="needs user+mount namespaces to make a read-only install")


def _read_only_install(tmp_path: Path) -> tuple[Path, Path]:
    ro = tmp_path / "ro"
    (ro / "site").mkdir(parents=True)
    (ro / "home").mkdir()
    shutil.copytree(Path(emu.__file__).parent, ro / "site" / "emu",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "ro.sh").write_text(RO_SCRIPT)
    return ro, tmp_path / "ro.sh"


def _run_read_only(tmp_path, code: str, tmpdir: Path | None) -> subprocess.CompletedProcess:
    """Run ``code`` with emu on a read-only mount, HOME read-only, and ``tempfile``'s directory
    ``tmpdir`` (None: read-only too)."""
    ro, script = _read_only_install(tmp_path)
    tmpdir = tmpdir or ro / "home"
    env = _env(HOME=str(ro / "home"), PYTHONPATH=str(ro / "site"))
    env.pop("XDG_CACHE_HOME", None)
    prog = f"import tempfile; tempfile.tempdir = {str(tmpdir)!r}\n" + code
    return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", str(script),
                           str(ro), sys.executable, "-W", "always", "-c", prog], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)


QUANTIZE = """
import emu
codes = emu.quantize([1.3, -0.7], "e4m3", rounding="sr", rng=emu.LFSR()).codes.tolist()
import emu.jitcache
print(emu.__file__, emu.jitcache.CACHE)
print(codes)
"""


@needs_unshare
@pytest.mark.slow
def test_read_only_install_caches_in_a_private_temp_dir(tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    r = _run_read_only(tmp_path, QUANTIZE, tmpdir)
    assert r.returncode == 0, r.stderr
    where, mode = r.stdout.split("\n")[0].split()
    assert where.startswith(str(tmp_path / "ro")) and mode == "temp"
    expect = emu.quantize([1.3, -0.7], "e4m3", rounding="sr", rng=emu.LFSR()).codes.tolist()
    assert r.stdout.split("\n")[1] == str(expect)
    cache = tmpdir / f"emu-numba-{os.getuid()}"
    assert any(cache.rglob("*.nbi"))
    assert (cache.stat().st_mode & 0o077) == 0  # private: a cache holds code that will run
    assert "Warning" not in r.stderr


@needs_unshare
@pytest.mark.slow
def test_read_only_everything_compiles_without_cache_and_warns_once(tmp_path):
    r = _run_read_only(tmp_path, QUANTIZE, None)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[0].split()[1] == "off"
    assert r.stderr.count("RuntimeWarning") == 1 and "NUMBA_CACHE_DIR" in r.stderr


def test_a_temp_cache_owned_by_someone_else_is_not_used(tmp_path, monkeypatch):
    from emu import jitcache

    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)  # writable by anyone: somebody could plant a kernel there
    assert not jitcache._writable(shared, private=True)
    mine = tmp_path / "mine"
    assert jitcache._writable(mine, private=True)
    assert mine.stat().st_mode & 0o777 == 0o700
