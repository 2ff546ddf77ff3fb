"""Dask for sweeps and sharded vector sets: a local cluster bound to 127.0.0.1 by default (no
set-up, nothing listens beyond this machine), or an existing scheduler (``tcp://HOST:PORT``)
whose workers have emu installed. dask.distributed is the optional extra ``sweep``."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence

from . import parallel

INSTALL_HINT = 'pip install "emu[sweep]"   (installs dask[distributed])'


class DaskMissing(RuntimeError):
    """dask.distributed is not installed."""


@contextlib.contextmanager
def client(scheduler: str | None = None, workers: int | None = None) -> Iterator[object]:
    """A dask.distributed Client: connected to ``scheduler``, else to a fresh LocalCluster of
    ``workers`` single-threaded worker processes (default: one per core) on 127.0.0.1."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise DaskMissing(f"this needs dask.distributed: {INSTALL_HINT}") from None
    if scheduler:
        try:
            c = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as err:
            raise ValueError(f"cannot reach the Dask scheduler at {scheduler}: {err}") from None
        try:
            yield c
        finally:
            c.close()
        return
    if workers is not None and workers < 1:
        raise ValueError(f"workers={workers}: need at least one")
    cluster = LocalCluster(n_workers=workers or parallel.cores(), threads_per_worker=1,
                           processes=True, host="127.0.0.1", dashboard_address=None,
                           silence_logs=logging.ERROR)
    try:
        with Client(cluster) as c:
            yield c
    finally:
        cluster.close()


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
