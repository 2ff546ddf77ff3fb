"""Output directories that never lose data: golden sets, training traces, run results.

The rules (README, "Reliability"):
- A new path is created; an existing directory is replaced only if it is an emu artefact of
  the same kind (recognised by the file emu writes into it) and only when asked (``force``).
  Anything else (a project directory, a file, a symlink, a mount point) is refused before any
  work starts.
- An artefact records what it consists of (``.emu-files``, written into it before the swap; a
  sweep's layout is fixed instead). ``force`` refuses an artefact holding anything else (notes
  a user added, another emu run nested in it): replacing it would delete them.
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
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


class OutputError(ValueError):
    """The output path cannot be used (exists and is not ours, is busy, is not writable)."""


LISTING = ".emu-files"  # what an artefact consists of: one JSON string a line, a relative path
# ("/"-separated; a directory ends in "/"), written into the staged directory before the swap

# kinds whose directory grows after it is written (a sweep: task results, resumed runs): the
# whole layout, owned with or without a listing
LAYOUTS = {
    "sweep": re.compile(r"(sweep\.json|results\.json|results\.csv|tasks/|tasks/[0-9a-f]{12}\.json)"),
}
_TEMP = re.compile(r"\.(.+)\.[a-z0-9_]{8}\.tmp")  # write_atomic's temporary file for NAME


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


def is_mount(path: Path | str) -> bool:
    """Is ``path`` a mount point (including a bind mount on the same file system, which
    os.path.ismount cannot see: /proc/self/mountinfo is read where it exists)?"""
    if os.path.ismount(path):
        return True
    try:
        info = Path("/proc/self/mountinfo").read_bytes()
    except OSError:
        return False
    real = os.fsencode(os.path.realpath(path))
    for line in info.splitlines():
        fields = line.split()
        if len(fields) > 4 and re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m[1], 8)]),
                                      fields[4]) == real:
            return True
    return False


def _entries(root: Path) -> set[str]:
    """Every path below ``root`` ("/"-separated; directories end in "/"; symbolic links are not
    followed), the listing itself left out."""
    def fail(err: OSError) -> None:
        raise OutputError(f"cannot read {err.filename}: {err.strerror}")

    out = set()
    for dirpath, dirs, files in os.walk(root, onerror=fail):
        rel = os.path.relpath(dirpath, root)
        pre = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        out.update(pre + d + "/" for d in dirs)
        out.update(pre + f for f in files)
    out.discard(LISTING)
    return out


def write_listing(root: Path) -> None:
    """Record in ``root`` every path it holds now (``LISTING``)."""
    write_atomic(root / LISTING, "".join(json.dumps(p) + "\n" for p in sorted(_entries(root))))


def read_listing(root: Path) -> set[str] | None:
    """The paths ``root``'s listing records, or None where it has none (an artefact of an
    older emu, or a sweep not built aside); a line that is not a JSON string is skipped."""
    try:
        text = (root / LISTING).read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return None
    except OSError as err:
        raise OutputError(f"cannot read {root / LISTING}: {err.strerror}") from None
    listed = set()
    for line in text.splitlines():
        try:
            p = json.loads(line)
        except ValueError:
            continue
        if isinstance(p, str):
            listed.add(p)
    return listed


def foreign(path: Path | str, kind: str) -> list[str]:
    """What the artefact at ``path`` holds that emu did not write there (its listing and its
    kind's layout say what it did), outermost paths only; [] for an artefact without a listing
    whose kind has no fixed layout (the old rule: all of it is emu's)."""
    path = Path(path)
    listed, layout = read_listing(path), LAYOUTS.get(kind)
    if listed is None and layout is None:
        return []
    listed = listed or set()

    def ours(p: str) -> bool:
        if p in listed or (layout is not None and layout.fullmatch(p)):
            return True
        head, _, name = p.rpartition("/")
        m = _TEMP.fullmatch(name)  # a kill inside write_atomic leaves its temporary file
        return bool(m) and ours((head + "/" if head else "") + m[1])

    extra: list[str] = []
    for p in sorted(_entries(path)):
        if not ours(p) and not any(p.startswith(e) for e in extra if e.endswith("/")):
            extra.append(p)
    return extra


def check_target(path: Path | str, kind: str, force: bool = False, resume: bool = False) -> None:
    """Refuse, before any work, an output path that would lose data or cannot be replaced
    (see module doc). ``resume``: an existing artefact of this kind is to be continued, not
    replaced."""
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
    if is_mount(path):
        raise OutputError(f"{path} is a mount point: emu replaces its output directory whole "
                          f"(built aside, swapped in); give a directory inside it, e.g. "
                          f"{path / 'run'}")
    if not any(path.iterdir()):
        return  # an empty directory holds nothing to lose
    if not is_artefact(path, kind):
        raise OutputError(f"{path} exists and is not an emu {kind} (no {KINDS[kind][0]} written by "
                          f"emu); emu will not replace it: choose a new path")
    if not force:
        raise OutputError(f"{path} already holds an emu {kind}; pass --force to replace it")
    extra = foreign(path, kind)
    if extra:
        more = f" and {len(extra) - 3} more" if len(extra) > 3 else ""
        raise OutputError(f"{path} holds an emu {kind} and also what emu did not write there: "
                          f"{', '.join(extra[:3])}{more}; --force would delete them: move them "
                          f"out, or delete {path} yourself, then run again")


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
    directory goes. Checks ``check_target`` again under the writer lock. The listing of what
    the new artefact consists of (``LISTING``) is written into it just before the swap."""
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
            write_listing(tmp)
            finish_modes(tmp)
            try:
                old = move_into_place(tmp, path)
            except OSError as err:
                if err.errno not in (errno.EBUSY, errno.EXDEV):
                    raise
                raise OutputError(f"cannot swap the new {kind} into {path} ({err.strerror}): "
                                  "is it a mount point? Give a directory inside it") from None
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
