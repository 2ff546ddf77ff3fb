"""Output directories that never lose data: golden sets, training traces, run results.

The rules (README, "Reliability"):
- A new path is created; an existing directory is replaced only if it is an emu artefact of
  the same kind (recognised by the file emu writes into it) and only when asked (``force``).
  Anything else (a project directory, a file, a symlink) is refused before any work starts.
- The new content is built in a temporary sibling (``tempfile``: unpredictable name) and
  swapped in with one atomic ``renameat2(RENAME_EXCHANGE)`` (Linux), so at every instant the
  path holds either the complete old artefact or the complete new one. Elsewhere the swap is
  two renames, with a moment in between where the path is absent.
- One writer at a time: a lock file beside the target (``flock``); a second writer fails at
  once with a clear error. While holding the lock, leftovers of killed runs (staging
  directories) are removed.
- Directories and files get the permissions the umask allows (not tempfile's private 0700).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import glob
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


class OutputError(ValueError):
    """The output path cannot be used (exists and is not ours, is busy, is not writable)."""


# kind -> (marker file emu writes, a check of its parsed JSON)
KINDS = {
    "vector set": ("manifest.json", lambda d: "schema_version" in d and "emu_version" in d),
    "training run": ("history.json", lambda d: "config" in d and "epochs" in d),
    "training trace": ("trace.json", lambda d: d.get("kind") == "emu training trace"),
    "sweep": ("sweep.json", lambda d: d.get("kind") == "emu sweep"),
    "experiment": ("result.json", lambda d: "preset" in d and "rows" in d),
}


def umask() -> int:
    """The process umask (read without changing it for other threads where /proc has it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def is_artefact(path: Path, kind: str) -> bool:
    """Does ``path`` hold an emu artefact of ``kind`` (its marker file, as emu writes it)?"""
    marker, ok = KINDS[kind]
    try:
        doc = json.loads((path / marker).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and bool(ok(doc))


def check_target(path: Path | str, kind: str, force: bool = False, resume: bool = False) -> None:
    """Refuse, before any work, an output path that would lose data (see module doc).
    ``resume``: an existing artefact of this kind is to be continued, not replaced."""
    path = Path(path)
    if path.is_symlink():
        raise OutputError(f"{path} is a symbolic link; give a real directory path")
    if not path.exists():
        if not path.parent.is_dir() and path.parent.exists():
            raise OutputError(f"{path.parent} is not a directory")
        return
    if not path.is_dir():
        raise OutputError(f"{path} exists and is not a directory; emu will not replace it")
    if resume and is_artefact(path, kind):
        return
    if not any(path.iterdir()):
        return  # an empty directory holds nothing to lose
    if not is_artefact(path, kind):
        raise OutputError(f"{path} exists and is not an emu {kind} (no {KINDS[kind][0]} written by "
                          f"emu); emu will not replace it: choose a new path")
    if not force:
        raise OutputError(f"{path} already holds an emu {kind}; pass --force to replace it")


def _staging_prefix(path: Path) -> str:
    return f".{path.name}.emu-tmp-"


@contextlib.contextmanager
def locked(path: Path | str) -> Iterator[None]:
    """Hold the writer lock of ``path`` (``.NAME.lock`` beside it; removed on release)."""
    path = Path(path)
    lock = path.with_name(f".{path.name}.lock")
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as err:
            raise OutputError(f"cannot write in {path.parent}: {err.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputError(f"another emu run is writing {path} (lock {lock}); wait for it or "
                              "choose another path") from None
        try:  # the file may have been unlinked by a releasing holder: lock the current one
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)


def _libc_renameat2():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn


_RENAMEAT2 = _libc_renameat2()
_AT_FDCWD, _RENAME_NOREPLACE, _RENAME_EXCHANGE = -100, 1, 2


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """renameat2(2); False where the system or file system does not offer it."""
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(dst))


def move_into_place(new: Path, path: Path) -> Path | None:
    """Put directory ``new`` at ``path``; returns where the old content now is (to delete),
    or None. Atomic where renameat2 exists (see module doc)."""
    if not path.exists():
        if not _renameat2(new, path, _RENAME_NOREPLACE):
            os.rename(new, path)
        return None
    if _renameat2(new, path, _RENAME_EXCHANGE):
        return new  # the old content is now at the staging name
    old = Path(tempfile.mkdtemp(dir=path.parent, prefix=_staging_prefix(path)))
    os.rename(path, old / "old")
    os.rename(new, path)
    return old


def _clean_leftovers(path: Path) -> None:
    for p in path.parent.glob(glob.escape(_staging_prefix(path)) + "*"):  # a name may hold [ or *
        shutil.rmtree(p, ignore_errors=True)


@contextlib.contextmanager
def staged(path: Path | str, kind: str, force: bool = False) -> Iterator[Path]:
    """Build an artefact for ``path`` in the yielded temporary directory; on success it
    replaces ``path`` atomically, on any exception the old content stays and the temporary
    directory goes. Checks ``check_target`` again under the writer lock."""
    path = Path(path)
    check_target(path, kind, force)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create {path.parent}: {err.strerror}") from None
    with locked(path):
        check_target(path, kind, force)
        _clean_leftovers(path)
        try:
            tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=_staging_prefix(path)))
        except OSError as err:
            raise OutputError(f"cannot write in {path.parent}: {err.strerror}") from None
        try:
            yield tmp
            finish_modes(tmp)
            old = move_into_place(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def finish_modes(root: Path) -> None:
    """Give a staged tree the modes the umask allows (tempfile makes them private)."""
    mask = umask()
    os.chmod(root, 0o777 & ~mask)
    for dirpath, dirs, files in os.walk(root):
        for d in dirs:
            os.chmod(os.path.join(dirpath, d), 0o777 & ~mask)
        for f in files:
            os.chmod(os.path.join(dirpath, f), 0o666 & ~mask)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file in the same directory and a rename; the file
    gets the mode the umask allows (tempfile's own is private 0600)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~umask())
        with os.fdopen(fd, "w", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
