"""Where numba keeps emu's compiled kernels, and the ``njit`` every kernel is declared with.

Kernels are ``cache=True`` so nothing compiles twice on a user's machine. Two things make
numba's own cache unsafe or unusable for a package like emu, and this module fixes both with
a cache locator of its own that serves emu's kernels only:

- **Staleness.** numba stamps a cached kernel with its own source file only, but a kernel
  inlines code from other modules (every conversion inlines the rounding core): after a change
  to ``kernels/core.py`` the cached kernels of ``kernels/fast.py`` would go on computing the
  old rounding. emu stamps every kernel with a hash of all the kernel sources, and keeps each
  set of sources in its own subdirectory.
- **Read-only installs.** numba refuses to define a cached function when neither the package
  directory nor ``~/.cache`` is writable (EDA farm service accounts, containers). emu tries, in
  order: ``NUMBA_CACHE_DIR``/emu, the package's ``__pycache__``, ``$XDG_CACHE_HOME`` (or
  ``~/.cache``)/emu, and a private per-user directory in the system temp directory (owned by
  this user, writable by nobody else: a cache holds code that will run); if none is writable it
  compiles without caching, with one warning.

See the README, "Reliability". Other numba users in the process are not affected.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from pathlib import Path

import numba
from numba.core import caching

PACKAGE = Path(__file__).resolve().parent
# every module whose jitted code may be inlined into a cached kernel
SOURCES = sorted((PACKAGE / "kernels").glob("*.py")) + [PACKAGE / n for n in ("codes.py", "jitcache.py")]


def sources_hash() -> str:
    """One stamp for all kernel sources: any change to any of them invalidates every kernel."""
    h = hashlib.sha256()
    for p in SOURCES:
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


STAMP = sources_hash()


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
    """The last fallback: <tmp>/emu-numba-<uid>."""
    return Path(tempfile.gettempdir()) / f"emu-numba-{os.getuid()}"


def choose_root() -> tuple[str, Path | None]:
    """(where, directory): the first writable cache root (see module doc), or ("off", None)."""
    user = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "emu"
    candidates = [("package", PACKAGE / "__pycache__" / "numba"), ("user", user / "numba")]
    if numba.config.CACHE_DIR:
        candidates.insert(0, ("NUMBA_CACHE_DIR", Path(numba.config.CACHE_DIR) / "emu"))
    for where, root in candidates:
        if _writable(root):
            return where, root
    tmp = private_temp_cache()
    if _writable(tmp, private=True):
        return "temp", tmp
    return "off", None


CACHE, ROOT = choose_root()
if CACHE == "off":
    warnings.warn("emu: no writable directory for numba's kernel cache (NUMBA_CACHE_DIR, the "
                  "package directory, ~/.cache and the temp directory are read-only); kernels "
                  "compile in every process. Set NUMBA_CACHE_DIR to a writable directory.",
                  RuntimeWarning, stacklevel=2)


class EmuCacheLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
    """Caches emu's kernels under ROOT/STAMP/<source directory>, stamped with all kernel sources."""

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = str(ROOT / STAMP / Path(py_file).parent.name)

    def get_cache_path(self) -> str:
        return self._cache_path

    def get_source_stamp(self) -> str:
        return STAMP

    @classmethod
    def from_function(cls, py_func, py_file):
        if ROOT is None or not Path(py_file).resolve().is_relative_to(PACKAGE):
            return None  # not emu's: numba's own locators decide
        return super().from_function(py_func, py_file)


if ROOT is not None and EmuCacheLocator not in caching.CacheImpl._locator_classes:
    caching.CacheImpl._locator_classes.insert(0, EmuCacheLocator)


def njit(*args, **kwargs):
    """``numba.njit``, with ``cache=True`` honoured only where a cache directory is writable."""
    if CACHE == "off":
        kwargs["cache"] = False
    return numba.njit(*args, **kwargs)
