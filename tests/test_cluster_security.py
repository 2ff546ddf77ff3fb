"""emu's local Dask cluster serves only its own client: mutual TLS with temporary credentials on
127.0.0.1, no HTTP server, a private scratch directory removed at close; a tls:// scheduler
takes the client's credentials from dask's environment variables."""

import operator
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("dask.distributed")
import psutil  # noqa: E402 - installed with distributed

from emu import cluster  # noqa: E402

# One connection attempt per process: after a Client fails to start, dask can deadlock when it
# collects that Client while another starts, so each attempt runs alone and exits hard.
ATTEMPT = r"""
import operator, os, sys
from pathlib import Path
mode, addr, marker = sys.argv[1:]

def intrude():
    Path(marker).write_text("ran")  # what another local user's code would do on our workers

try:
    if mode.startswith("emu"):  # emu's own client for an external scheduler
        from emu.cluster import client
        with client(addr) as c:
            print("ran", c.submit(operator.add, 40, 2).result(timeout=10), flush=True)
    else:
        from distributed import Client
        from distributed.security import Security
        security = Security.temporary() if mode == "other-credentials" else None
        if mode == "plain-tcp":
            addr = addr.replace("tls://", "tcp://")
        c = Client(addr, security=security, timeout="3s")
        c.submit(intrude, pure=False).result(timeout=5)
        print("ran", flush=True)
except Exception as err:
    print("refused", type(err).__name__, str(err).replace("\n", " ")[:1000], flush=True)
os._exit(0)
"""


def _attempts(modes, addr, marker, env=None):
    """Run the ATTEMPT script once per mode, all at once; {mode: its output}."""
    procs = {m: subprocess.Popen([sys.executable, "-c", ATTEMPT, m, addr, str(marker)],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                 env={**os.environ, **(env or {})}) for m in modes}
    out = {}
    for m, p in procs.items():
        try:
            out[m] = p.communicate(timeout=120)[0].strip()
        except subprocess.TimeoutExpired:
            p.kill()
            out[m] = "hung: " + p.communicate()[0].strip()
    return out


def _listening(proc):
    """(ip, port) of every socket ``proc`` listens on."""
    conns = getattr(proc, "net_connections", None) or proc.connections  # psutil < 6
    return {(c.laddr.ip, c.laddr.port) for c in conns(kind="inet") if c.status == psutil.CONN_LISTEN}


@pytest.fixture(scope="module")
def local():
    """emu's local cluster with one worker, and what this process listened on before it."""
    before = _listening(psutil.Process())
    with cluster.client(workers=1) as c:
        yield c, before


def test_only_emus_client_can_submit(local, tmp_path):
    c, _ = local
    marker = tmp_path / "intruded"
    out = _attempts(["plain-tcp", "no-credentials", "other-credentials"], c.scheduler.address, marker)
    assert all(v.startswith("refused") for v in out.values()), out
    assert not marker.exists()
    assert c.scheduler.address.startswith("tls://127.0.0.1:")
    assert c.submit(operator.add, 40, 2).result(timeout=30) == 42  # emu's client still works


def test_external_tls_scheduler_takes_credentials_from_the_environment(local, tmp_path):
    c, _ = local
    sec = c.security
    env = {}
    for var, pem in [("CA_FILE", sec.tls_ca_file), ("CLIENT__CERT", sec.tls_client_cert),
                     ("CLIENT__KEY", sec.tls_client_key)]:
        path = tmp_path / var.lower()
        path.write_text(pem)
        path.chmod(0o600)
        env[f"DASK_DISTRIBUTED__COMM__TLS__{var}"] = str(path)
    out = _attempts(["emu-with-credentials"], c.scheduler.address, tmp_path / "x", env)
    assert out["emu-with-credentials"] == "ran 42", out
    out = _attempts(["emu-without-credentials"], c.scheduler.address, tmp_path / "x")
    assert out["emu-without-credentials"].startswith("refused ValueError cannot reach"), out
    assert "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT" in out["emu-without-credentials"]


def test_nothing_listens_beyond_loopback_or_on_http_ports(local):
    c, before = local
    info = c.scheduler_info()
    addrs = [c.scheduler.address, *info["workers"], *(w["nanny"] for w in info["workers"].values())]
    ports = {int(a.rsplit(":", 1)[1]) for a in addrs}
    me = psutil.Process()
    workers = me.children(recursive=True)
    assert workers, "no worker processes found"
    listening = _listening(me) - before
    for p in workers:
        listening |= _listening(p)
    assert all(ip == "127.0.0.1" for ip, _ in listening), listening
    assert 8787 not in {port for _, port in listening}
    # the scheduler, the nanny and the worker: no HTTP server (dashboard, /info, /json, metrics)
    assert {port for _, port in listening} == ports, (listening, ports)
    assert "dashboard" not in info["services"]


def _scratch(c) -> list[Path]:
    """The scheduler's and the workers' local directories."""
    dirs = list(c.run(lambda dask_worker: dask_worker.local_directory).values())
    dirs.append(c.run_on_scheduler(lambda dask_scheduler: dask_scheduler.local_directory))
    return [Path(d) for d in dirs]


def test_scratch_directory_is_private_and_removed():
    shared = Path(tempfile.gettempdir(), "dask-scratch-space")
    with cluster.client(workers=1) as c:
        dirs = _scratch(c)
        roots = {d.parent for d in dirs}
        assert len(roots) == 1
        root = roots.pop()
        st = root.stat()
        assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.getuid()
        assert all(shared != d and shared not in d.parents for d in dirs), dirs
        assert all(d.is_dir() for d in dirs)
    assert not root.exists()
    assert not any(p == str(root) or p.startswith(str(root) + os.sep) for p in sys.path)


def test_scratch_directory_is_removed_when_the_body_raises():
    with pytest.raises(RuntimeError, match="stop"):
        with cluster.client(workers=1) as c:
            root = _scratch(c)[0].parent
            assert root.is_dir()
            raise RuntimeError("stop")
    assert not root.exists()
