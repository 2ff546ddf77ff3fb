"""Verify a golden set before trusting it (DESIGN, "Reliability contract").

``emu check`` bets its verdict on the set, so the set is verified before any expected value is
read: the manifest's schema (the type of every field check uses), that every file it names lies
inside the set directory (after resolving symlinks) and is a regular file, the sha256 of every
file it lists (a port file without one is refused), and that at least one output port exists.
For a sharded set, each shard's manifest is checked against the sha256 the top-level manifest
gives for it, every shard must have the same ports and layout, and the shards' counts and
offsets must add up. Errors name the file and the reason; the content of a refused file is
never read, let alone quoted. Schema 2 adds how the words are written (``radix``, ``address``);
schema 1 sets are hex without @ lines (docs/semantics.md §10.4).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..formats import format as parse_format
from .hexio import DumpError, Fields, quote, read_words
from .layouts import RADIXES, SET_LAYOUTS
from .mx import MX_OPS, block_of, port_layout
from .vectors import OPS, SCHEMA_VERSION, read_manifest

SUPPORTED_SCHEMAS = tuple(range(1, SCHEMA_VERSION + 1))
MAX_MANIFEST_BYTES = 64 << 20
_PORT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SHA256 = re.compile(r"[0-9a-f]{64}\Z")


class SetError(ValueError):
    """A vector set that cannot be trusted; the message names the file and why."""


class DirectedPorts:
    """``inputs`` and ``outputs`` of a class whose ``ports`` are manifest port dicts."""

    ports: list[dict]

    @property
    def outputs(self) -> list[dict]:
        return [p for p in self.ports if p["direction"] == "out"]

    @property
    def inputs(self) -> list[dict]:
        return [p for p in self.ports if p["direction"] == "in"]


@dataclass
class VerifiedSet(DirectedPorts):
    """One set (or one shard) whose manifest and files have been verified."""

    where: str  # the manifest's path, for messages
    root: Path  # the set directory, resolved
    manifest: dict
    count: int
    layout: str
    ports: list[dict]
    formats: dict  # port name -> Format or None
    files: dict[str, Path]  # port name -> its file, resolved inside root
    digests: dict[Path, str] = field(default_factory=dict)
    radix: str = "hex"  # the digits of its files (§10.4)
    address: int | None = None  # the @address its files start with (None: no @ line)

    @property
    def base(self) -> int:
        """The address of vector 0 in its files (and in a dump of it)."""
        return self.address or 0

    @property
    def spec(self) -> dict:
        return self.manifest["spec"]


@dataclass
class Part:
    """A verified set and where its vectors start in the whole (0 unless a shard)."""

    vset: VerifiedSet
    offset: int
    dir: str | None = None  # the shard's directory name


@dataclass
class Trusted:
    """What ``check`` compares against: a single set (one part) or every shard of a sharded set."""

    path: str
    count: int
    layout: str
    parts: list[Part]
    sharded: bool
    radix: str = "hex"
    address: int | None = None  # of vector 0 (a sharded set: 0 or None)
    manifest: dict = field(default_factory=dict)  # the set's (a sharded set: the top-level) manifest


def _show(value) -> str:
    """A short excerpt of a manifest value for a message."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


def _int(m: dict, key: str, where: str, low: int = 0) -> int:
    if key not in m:
        raise SetError(f"{where}: no {key!r}")
    v = m[key]
    if type(v) is not int or v < low:
        raise SetError(f"{where}: {key!r} must be an integer >= {low}, not {_show(v)}")
    return v


def _schema(m: dict, where: str) -> None:
    if "schema_version" not in m:
        raise SetError(f"{where}: no 'schema_version'; is this an emu vector set?")
    v = m["schema_version"]
    if type(v) is not int or v not in SUPPORTED_SCHEMAS:
        raise SetError(f"{where}: schema_version {_show(v)} is not supported (this emu reads "
                       f"{', '.join(map(str, SUPPORTED_SCHEMAS))}); check it with the emu that wrote "
                       f"it (emu_version {_show(m.get('emu_version'))})")


def _words(m: dict, where: str) -> tuple[str, int | None]:
    """(radix, address) of a manifest whose schema is supported: schema 1 is hex without @ lines;
    schema 2 records both (§10.4)."""
    if m["schema_version"] == 1:
        return "hex", None
    for key in ("radix", "address"):
        if key not in m:
            raise SetError(f"{where}: no {key!r} (schema_version {m['schema_version']} records it)")
    radix, address = m["radix"], m["address"]
    if radix not in RADIXES:
        raise SetError(f"{where}: radix {_show(radix)} is not one of {', '.join(RADIXES)}")
    if address is not None and (type(address) is not int or address < 0):
        raise SetError(f"{where}: 'address' must be null or an integer >= 0, not {_show(address)}")
    return radix, address


def _layout(m: dict, where: str) -> str:
    v = m.get("layout")
    if v not in SET_LAYOUTS:
        raise SetError(f"{where}: layout {_show(v)} is not one of {', '.join(SET_LAYOUTS)}")
    return v


def _ports(m: dict, where: str) -> tuple[list[dict], dict]:
    ports = m.get("ports")
    if not isinstance(ports, list) or not ports:
        raise SetError(f"{where}: 'ports' must be a non-empty list of ports, not {_show(ports)}")
    out, fmts = [], {}
    for i, p in enumerate(ports):
        at = f"{where}: ports[{i}]"
        if not isinstance(p, dict):
            raise SetError(f"{at} must be an object, not {_show(p)}")
        name = p.get("name")
        if not isinstance(name, str) or not _PORT_NAME.match(name):
            raise SetError(f"{at}: name {_show(name)} is not a port name (letters, digits, _)")
        if name in fmts:
            raise SetError(f"{at}: a second port named {name!r}")
        if p.get("direction") not in ("in", "out"):
            raise SetError(f"{at} ({name}): direction {_show(p.get('direction'))} is not 'in' or 'out'")
        bits = p.get("bits")
        if type(bits) is not int or not 1 <= bits <= 64:
            raise SetError(f"{at} ({name}): bits {_show(bits)} is not an integer in 1..64")
        if not isinstance(p.get("file"), str):
            raise SetError(f"{at} ({name}): file {_show(p.get('file'))} is not a file name")
        fmt = p.get("format")
        if fmt is not None:
            try:
                fmt = parse_format(fmt) if isinstance(fmt, str) else None
            except ValueError:
                fmt = None
            if fmt is None or fmt.bits != bits:
                raise SetError(f"{at} ({name}): format {_show(p.get('format'))} is not a {bits}-bit format")
        fmts[name] = fmt
        out.append({"name": name, "direction": p["direction"], "bits": bits, "file": p["file"],
                    "format": p.get("format")})
    if not any(p["direction"] == "out" for p in out):
        raise SetError(f"{where}: no output port: nothing would be compared")
    return out, fmts


_SPEC_TYPES = {"op": str, "src": str, "dst": str, "rounding": str, "form": str, "sr_bits": int,
               "saturate": bool, "eps": (int, float), "lfsr": (dict, type(None)),
               "overflow": (str, type(None)), "fmt": str, "block_size": int, "scale_format": str,
               "scale_rule": str, "acc": str, "acc_rounding": str, "block_sum": str, "order": str}


def _spec(m: dict, where: str) -> dict:
    """The spec fields check reads (classes, ties, SR diagnosis) must have their types."""
    spec = m.get("spec")
    if not isinstance(spec, dict):
        raise SetError(f"{where}: 'spec' must be an object, not {_show(spec)}")
    if spec.get("op") not in OPS:
        raise SetError(f"{where}: spec op {_show(spec.get('op'))} is not one of {', '.join(OPS)}")
    for key, types in _SPEC_TYPES.items():
        v = spec.get(key)
        if key in spec and (not isinstance(v, types) or isinstance(v, bool) != (types is bool)):
            raise SetError(f"{where}: spec {key!r} has the wrong type ({_show(spec[key])})")
    for key in ("src", "dst"):
        if key in spec:
            try:
                parse_format(spec[key])
            except ValueError as err:
                raise SetError(f"{where}: spec {key!r}: {err}") from None
    if spec["op"] == "convert" and "dst" not in spec:
        raise SetError(f"{where}: a convert spec needs 'dst'")
    if spec["op"] in MX_OPS:
        if "fmt" not in spec:
            raise SetError(f"{where}: a {spec['op']} spec needs 'fmt'")
        try:
            block_of(spec)
        except (ValueError, TypeError) as err:
            raise SetError(f"{where}: spec 'fmt': {err}") from None
    return spec


def _block_ports(spec: dict, ports: list[dict], where: str) -> None:
    """A block set's ports are the ones its spec gives (emu.golden.mx.port_layout): check reads
    them by name (x0 .., scale, y0 ..; a0 .., scale_a, b0 .., scale_b, r .., y)."""
    try:
        want = [(n, d, b, f.name if f is not None else None) for n, d, b, f in port_layout(spec)]
    except (ValueError, TypeError, KeyError) as err:
        raise SetError(f"{where}: its {spec['op']} spec does not describe ports ({err})") from None
    have = [(p["name"], p["direction"], p["bits"], p["format"]) for p in ports]
    if have != want:
        bad = next((i for i, (h, w) in enumerate(zip(have, want, strict=False)) if h != w),
                   min(len(have), len(want)))
        got = have[bad] if bad < len(have) else "none"
        exp = want[bad] if bad < len(want) else "none"
        raise SetError(f"{where}: ports[{bad}] is {got}, its {spec['op']} spec gives {exp} (name, "
                       "direction, bits, format)")


def inside(root: Path, name, where: str, kind: str = "file") -> Path:
    """``root / name`` resolved, refused unless it stays inside ``root`` and is a regular file
    (``kind`` "dir": a directory). Nothing of a refused path is read."""
    if not isinstance(name, str) or not name or "\0" in name:
        raise SetError(f"{where}: {kind} name {_show(name)} is not a path")
    if os.path.isabs(name):
        raise SetError(f"{where}: {kind} {quote(name)} is an absolute path; a set's files lie inside "
                       "its directory (refused, not read)")
    try:
        path = (root / name).resolve()
    except (OSError, RuntimeError):
        raise SetError(f"{where}: {kind} {quote(name)} cannot be resolved (a symlink loop?)") from None
    if root not in path.parents:
        raise SetError(f"{where}: {kind} {quote(name)} resolves outside the set directory {root} "
                       "(refused, not read)")
    try:
        mode = path.stat().st_mode
    except OSError:
        raise SetError(f"{where}: {kind} {quote(name)} is missing") from None
    if not (stat.S_ISDIR(mode) if kind == "dir" else stat.S_ISREG(mode)):
        raise SetError(f"{where}: {quote(name)} is not a {'directory' if kind == 'dir' else 'regular file'}")
    return path


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
    except OSError as err:
        raise SetError(f"{path}: {err.strerror or err}") from None
    return h.hexdigest()


def load_manifest(set_dir: Path | str) -> tuple[Path, dict, str]:
    """(resolved set directory, manifest object, manifest path) after checking that
    manifest.json is a regular file inside the directory, of sane size, holding a JSON object."""
    root = Path(set_dir).resolve()
    where = str(Path(set_dir) / "manifest.json")
    if not root.is_dir():
        raise SetError(f"{set_dir}: not a directory")
    try:
        path = inside(root, "manifest.json", str(set_dir))
    except SetError as err:
        raise SetError(f"{err}; is {set_dir} a vector set?") from None
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise SetError(f"{where}: larger than {MAX_MANIFEST_BYTES >> 20} MiB; not an emu manifest")
    try:
        m = read_manifest(set_dir)
    except UnicodeDecodeError:
        raise SetError(f"{where}: not UTF-8 text") from None
    except RecursionError:
        raise SetError(f"{where}: JSON nested too deeply") from None
    except ValueError as err:
        raise SetError(str(err)) from None
    if not isinstance(m, dict):
        raise SetError(f"{where}: the manifest is a JSON {type(m).__name__}, not an object")
    return root, m, where


def verify_set(root: Path, m: dict, where: str) -> VerifiedSet:
    """Verify one (unsharded) set's manifest ``m`` and files; see the module doc."""
    _schema(m, where)
    radix, address = _words(m, where)
    count = _int(m, "count", where)
    layout = _layout(m, where)
    ports, fmts = _ports(m, where)
    spec = _spec(m, where)
    if spec["op"] in MX_OPS:
        _block_ports(spec, ports, where)
    files = [p["file"] for p in ports]
    if layout == "packed" and len(set(files)) != 1:
        raise SetError(f"{where}: a packed set keeps every port in one file, not "
                       f"{', '.join(sorted(set(files)))}")
    if layout == "ports" and len(set(files)) != len(files):
        raise SetError(f"{where}: two ports share a file in a ports-layout set")
    sums = m.get("sha256")
    if not isinstance(sums, dict) or not all(isinstance(v, str) and _SHA256.match(v) for v in sums.values()):
        raise SetError(f"{where}: 'sha256' must map file names to sha256 hex digests")
    for p in ports:
        if p["file"] not in sums:
            raise SetError(f"{where}: port {p['name']}'s file {quote(p['file'])} has no sha256 in the "
                           "manifest; refused")
    paths = {name: inside(root, name, where) for name in sums}
    digests = {}
    for name, path in paths.items():
        digest = sha256_of(path)
        if digest != sums[name]:
            raise SetError(f"{root / name}: sha256 differs from the manifest's: the set was changed or "
                           "damaged since it was written (regenerate it or restore it)")
        digests[path] = digest
    for name in set(files):
        most = (paths[name].stat().st_size + 1) // 2  # a word is at least a digit and a newline
        if count > most:
            raise SetError(f"{where}: count {count} is more than {quote(name)} can hold ({most} words)")
    return VerifiedSet(where, root, m, count, layout, ports, fmts,
                       {p["name"]: paths[p["file"]] for p in ports}, digests, radix, address)


def _shard_entries(m: dict, where: str) -> list[dict]:
    shards = m.get("shards")
    if not isinstance(shards, list) or not shards:
        raise SetError(f"{where}: 'shards' must be a non-empty list of shards, not {_show(shards)}")
    offset, seen = 0, set()
    for i, e in enumerate(shards):
        at = f"{where}: shards[{i}]"
        if not isinstance(e, dict):
            raise SetError(f"{at} must be an object, not {_show(e)}")
        d = e.get("dir")
        if not isinstance(d, str) or d in ("", ".", "..") or "/" in d or "\\" in d or d in seen:
            raise SetError(f"{at}: dir {_show(d)} is not a new sub-directory name")
        seen.add(d)
        n = _int(e, "count", at)
        if _int(e, "offset", at) != offset:
            raise SetError(f"{at} ({d}): offset {e['offset']} is not the sum of the earlier counts "
                           f"({offset})")
        if not isinstance(e.get("manifest_sha256"), str) or not _SHA256.match(e["manifest_sha256"]):
            raise SetError(f"{at} ({d}): manifest_sha256 {_show(e.get('manifest_sha256'))} is not a "
                           "sha256 hex digest")
        offset += n
    if offset != m["count"]:
        raise SetError(f"{where}: the shards hold {offset} vectors, the manifest says count {m['count']}")
    return shards


def _signature(vs: VerifiedSet) -> list[tuple]:
    return [(p["name"], p["direction"], p["bits"], p["format"]) for p in vs.ports]


def trust(set_dir: Path | str) -> Trusted:
    """Verify the set (or every shard of a sharded set) at ``set_dir``: see the module doc."""
    root, m, where = load_manifest(set_dir)
    if "shards" not in m:
        vs = verify_set(root, m, where)
        return Trusted(str(set_dir), vs.count, vs.layout, [Part(vs, 0)], False, vs.radix, vs.address, m)
    _schema(m, where)
    radix, address = _words(m, where)
    count = _int(m, "count", where)
    layout = _layout(m, where)
    parts = []
    for e in _shard_entries(m, where):
        sub = inside(root, e["dir"], where, kind="dir")
        mpath = inside(sub, "manifest.json", str(Path(set_dir) / e["dir"]))
        if sha256_of(mpath) != e["manifest_sha256"]:
            raise SetError(f"{Path(set_dir) / e['dir'] / 'manifest.json'}: sha256 differs from the one "
                           f"in {where}: the shard was changed or damaged (refused)")
        sroot, sm, swhere = load_manifest(sub)
        if "shards" in sm:
            raise SetError(f"{swhere}: a shard may not be sharded itself")
        vs = verify_set(sroot, sm, swhere)
        if vs.count != e["count"] or vs.layout != layout:
            raise SetError(f"{swhere}: count {vs.count} / layout {vs.layout} differ from {where}'s entry "
                           f"({e['count']} / {layout})")
        if parts and _signature(vs) != _signature(parts[0].vset):
            raise SetError(f"{swhere}: its ports differ from those of {parts[0].vset.where}")
        at = None if address is None else address + e["offset"]  # a shard starts at its global index
        if (vs.radix, vs.address) != (radix, at):
            raise SetError(f"{swhere}: radix {vs.radix} / address {_show(vs.address)} differ from "
                           f"{where}'s (radix {radix}, address {_show(at)} for this shard)")
        parts.append(Part(vs, e["offset"], e["dir"]))
    return Trusted(str(set_dir), count, layout, parts, True, radix, address, m)


class _Hashing:
    """A read-only stream that hashes what passes through it."""

    def __init__(self, f: BinaryIO):
        self.f, self.h = f, hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.h.update(data)
        return data


def _read_verified(vs: VerifiedSet, path: Path, fields: Fields) -> np.ndarray:
    try:
        with open(path, "rb") as f:
            stream = _Hashing(f)
            words = read_words(stream, str(path), fields, vs.count, vs.base)
            while stream.read(1 << 20):
                pass
    except OSError as err:
        raise SetError(f"{path}: {err.strerror or err}") from None
    except DumpError as err:
        raise SetError(f"{err} (the set does not agree with its manifest {vs.where})") from None
    if stream.h.hexdigest() != vs.digests[path]:
        raise SetError(f"{path}: changed while it was being checked (sha256 differs now)")
    return words


def read_expected(vs: VerifiedSet) -> dict[str, np.ndarray]:
    """Every port's words (uint64 arrays of vs.count), from files verified by verify_set and
    hashed again as they are read (in the set's radix, vector 0 at its address)."""
    if vs.layout == "packed":
        names = tuple(p["name"] for p in vs.ports)
        words = _read_verified(vs, vs.files[names[0]], Fields(names, tuple(p["bits"] for p in vs.ports),
                                                              packed=True, radix=vs.radix))
        return {n: words[:, i] for i, n in enumerate(names)}
    return {p["name"]: _read_verified(vs, vs.files[p["name"]],
                                      Fields((p["name"],), (p["bits"],), radix=vs.radix))[:, 0]
            for p in vs.ports}
