"""Dask for sweeps and sharded vector sets: a private local cluster, or an existing scheduler
(``tcp://HOST:PORT`` or ``tls://HOST:PORT``) whose workers have emu installed. dask.distributed
is the optional extra ``sweep``.

The local cluster serves this user only. Scheduler, nannies and workers listen on 127.0.0.1 and
talk mutual TLS with credentials made for the run (``Security.temporary()``, kept in memory), so
another local user can neither connect nor submit work; no HTTP server (dashboard, /info, /json,
prometheus) is started; workers keep their files in a fresh mode-0700 directory that is removed
at close. For a ``tls://`` scheduler, dask reads this client's credentials from its configuration,
e.g. DASK_DISTRIBUTED__COMM__TLS__CA_FILE, DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT and
DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY (paths to PEM files)."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence

from . import parallel

INSTALL_HINT = 'pip install "emu[sweep]"   (installs dask[distributed])'
TLS_HINT = ("a tls:// scheduler needs this client's credentials in DASK_DISTRIBUTED__COMM__TLS__CA_FILE, "
            "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT and DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY")


class DaskMissing(RuntimeError):
    """dask.distributed is not installed (or cryptography, which the local cluster's TLS needs)."""


def _no_http_server(self, *args, **kwargs) -> None:
    """Stands in for ServerNode.start_http_server, which every dask Scheduler (on 8787 by
    default, whatever ``dashboard_address`` says) and Worker calls: emu needs no HTTP server."""
    from distributed.http.routing import RoutingApplication

    self.http_application = RoutingApplication([])  # what closing looks at; nothing listens


@functools.cache
def _without_http(base: type) -> type:
    """``base`` (a dask Scheduler or Worker) that starts no HTTP server."""
    return type(base.__name__, (base,), {"start_http_server": _no_http_server, "__module__": __name__})


def _worker(**kwargs):
    """The Nanny's worker factory, called in the worker process (pickled by reference)."""
    from distributed import Worker

    return _without_http(Worker)(**kwargs)


@contextlib.contextmanager
def client(scheduler: str | None = None, workers: int | None = None) -> Iterator[object]:
    """A dask.distributed Client: connected to ``scheduler``, else to a fresh private cluster of
    ``workers`` single-threaded worker processes (default: one per core) on 127.0.0.1."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise DaskMissing(f"this needs dask.distributed: {INSTALL_HINT}") from None
    if scheduler:
        try:
            c = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, TypeError) as err:  # TypeError: tls:// without credentials
            hint = f"; {TLS_HINT}" if scheduler.startswith("tls://") else ""
            raise ValueError(f"cannot reach the Dask scheduler at {scheduler}: {err}{hint}") from None
        try:
            yield c
        finally:
            c.close()
        return
    if workers is not None and workers < 1:
        raise ValueError(f"workers={workers}: need at least one")
    with _local_cluster(workers or parallel.cores()) as cluster, \
            Client(cluster, security=cluster.security) as c:
        yield c


@contextlib.contextmanager
def _local_cluster(n: int) -> Iterator[object]:
    """n Nanny-managed worker processes and a scheduler in this process (what LocalCluster
    builds, less the HTTP servers): TLS on 127.0.0.1 with temporary credentials, scratch files
    in a private directory that is removed afterwards, also when starting fails."""
    from distributed import Nanny, Scheduler, SpecCluster
    from distributed.security import Security

    try:
        security = Security.temporary()
    except ImportError as err:
        raise DaskMissing(f"{err}: {INSTALL_HINT}") from None
    # Dask adds "dask-scratch-space" below a directory unless its name holds that string, and
    # puts the scheduler's and the nanny's directories on sys.path (undone below).
    scratch = tempfile.mkdtemp(prefix="emu-dask-scratch-space-")  # mode 0700, ours
    common = {"host": "127.0.0.1", "protocol": "tls://", "security": security,
              "local_directory": scratch}
    worker = {"cls": Nanny, "options": {
        **common, "nthreads": 1, "memory_limit": 1 / n, "worker_class": _worker,
        "silence_logs": logging.ERROR}}
    try:
        cluster = SpecCluster(
            scheduler={"cls": _without_http(Scheduler), "options": {**common, "dashboard": False}},
            workers=dict.fromkeys(range(n), worker), security=security,
            silence_logs=logging.ERROR, name="emu")
        try:
            yield cluster
        finally:
            cluster.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        sys.path[:] = [p for p in sys.path if p != scratch and not p.startswith(scratch + os.sep)]


def run_all(c, fn: Callable, args: Sequence[tuple], retries: int = 1,
            names: Sequence[str] | None = None) -> Iterator[tuple[int, object, BaseException | None]]:
    """Submit fn(*a) for every a; yield (index, result, None) or (index, None, error) as tasks
    finish. A task whose worker dies is rescheduled by Dask; one that raises is retried
    ``retries`` times, then reported."""
    from dask.distributed import as_completed

    futures = {}
    for i, a in enumerate(args):
        fut = c.submit(fn, *a, retries=retries, pure=False, key=names[i] if names else None)
        futures[fut] = i
    for fut in as_completed(futures):
        i = futures[fut]
        try:
            yield i, fut.result(), None
        except Exception as err:  # noqa: BLE001 - reported per task, the sweep goes on
            yield i, None, err
