"""Where numba keeps emu's compiled kernels, and the ``njit`` every kernel is declared with.

Kernels are ``cache=True`` so nothing compiles twice on a user's machine. numba looks for a
writable cache directory in this order: ``NUMBA_CACHE_DIR``, the package's own ``__pycache__``,
the user-wide ``~/.cache/numba``; if none is writable (a read-only install run by a service
account whose HOME is read-only, as on EDA farms and in containers) it refuses to define a
cached function at all. emu then adds a private per-user directory in the system temp
directory (owned by this user, not writable by others: a cache holds code that will be run),
and if even that is impossible it compiles without caching, with one warning. See the
README, "Reliability".
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numba
from numba.misc.appdirs import AppDirs


def _writable(path: Path, private: bool = False) -> bool:
    """numba's own test (create the directory, then a file in it); ``private``: also owned by
    this user and writable by nobody else."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        if private:
            st = path.stat()
            if st.st_uid != os.getuid() or st.st_mode & 0o022:
                return False
        tempfile.TemporaryFile(dir=path).close()
        return True
    except OSError:
        return False


def private_temp_cache() -> Path:
    """The per-user fallback directory: <tmp>/emu-numba-<uid>."""
    return Path(tempfile.gettempdir()) / f"emu-numba-{os.getuid()}"


def configure() -> str:
    """Decide where kernels are cached; returns ``"numba"`` (numba's own choice works),
    ``"temp"`` (the private temp directory) or ``"off"`` (no caching)."""
    candidates = [Path(__file__).parent / "kernels" / "__pycache__",
                  Path(AppDirs(appname="numba", appauthor=False).user_cache_dir)]
    if numba.config.CACHE_DIR:
        candidates.insert(0, Path(numba.config.CACHE_DIR))
    if any(_writable(p) for p in candidates):
        return "numba"
    tmp = private_temp_cache()
    if _writable(tmp, private=True):
        numba.config.CACHE_DIR = str(tmp)
        return "temp"
    warnings.warn("emu: no writable directory for numba's kernel cache (the package directory, "
                  "~/.cache and the temp directory are read-only); kernels compile in every "
                  "process. Set NUMBA_CACHE_DIR to a writable directory to cache them.",
                  RuntimeWarning, stacklevel=2)
    return "off"


CACHE = configure()


def njit(*args, **kwargs):
    """``numba.njit``, with ``cache=True`` honoured only where a cache directory is writable."""
    if CACHE == "off":
        kwargs["cache"] = False
    return numba.njit(*args, **kwargs)
