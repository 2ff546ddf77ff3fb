"""Thread-level parallelism that never changes a bit.

Work is cut into blocks of whole elements (or whole output rows); each block runs the same
``nogil`` kernel on its own slice in a thread pool. Blocks are independent by construction:
elementwise kernels do not look at neighbours, and stochastic rounding gets each element's
random word at its exact position in the stream (``emu.lfsr`` jumps every lane ahead to the
block's first element), so results and LFSR end states do not depend on the thread count.

``threads`` everywhere means: None -> the innermost ``emu.context(threads=...)``, else every
core this process may use.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

MIN_BLOCK = 1 << 16  # elements; smaller blocks cost more in dispatch than they gain
_POOL: ThreadPoolExecutor | None = None


def cores() -> int:
    """CPU cores this process may run on (affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def resolve(threads: int | None) -> int:
    """The thread count to use: ``threads``, else the context's, else all cores."""
    if threads is None:
        from .defaults import current_context

        threads = current_context().threads
    if threads is None:
        return cores()
    from .validate import integer

    return integer(threads, "threads", 1)


def blocks(n: int, threads: int, min_block: int = MIN_BLOCK) -> list[tuple[int, int]]:
    """Split range(n) into at most ``threads`` contiguous blocks of at least ``min_block``
    elements (one block when n is small); sizes differ by at most one."""
    k = max(1, min(threads, n // max(min_block, 1)))
    q, r = divmod(n, k)
    out, start = [], 0
    for i in range(k):
        stop = start + q + (1 if i < r else 0)
        out.append((start, stop))
        start = stop
    return out


def run(fn: Callable[[int, int], object], ranges: Sequence[tuple[int, int]]) -> list:
    """fn(start, stop) for every range, concurrently when there are several; results in order.
    ``fn`` should spend its time in a ``nogil`` kernel."""
    if len(ranges) == 1 or threading.current_thread().name.startswith("emu"):
        return [fn(a, b) for a, b in ranges]  # one block, or already in a pool thread
    global _POOL
    if _POOL is None or _POOL._max_workers < len(ranges):
        _POOL = ThreadPoolExecutor(max_workers=max(len(ranges), cores()),
                                   thread_name_prefix="emu")
    futures = [_POOL.submit(fn, a, b) for a, b in ranges]
    return [f.result() for f in futures]


def first_bad(results: Sequence[int], ranges: Sequence[tuple[int, int]]) -> int:
    """Combine per-block 'first bad element' results (-1: none) into a global index."""
    for bad, (start, _) in zip(results, ranges, strict=True):
        if bad >= 0:
            return start + int(bad)
    return -1
