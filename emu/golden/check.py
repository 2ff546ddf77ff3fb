"""Cross-check a device dump against a golden set: every mismatch, classified and explained."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..formats import FloatFormat
from ..formats import format as parse_format
from ..ops import convert
from ..registers import Registers
from ..rounding import is_stochastic
from .hexio import DumpError, hex_width, parse_hex, read_hex
from .vectors import generate, read_manifest

CLASSES = ("nan", "inf/overflow", "subnormal", "tie", "normal")


@dataclass
class CheckResult:
    set_dir: str
    total: int
    mismatches: list[dict] = field(default_factory=list)
    by_class: dict = field(default_factory=dict)
    diagnosis: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def to_json(self, first: int) -> dict:
        return {"set": self.set_dir, "total": self.total, "mismatches": len(self.mismatches),
                "by_class": self.by_class, "diagnosis": self.diagnosis,
                "first": self.mismatches[:first], "ok": self.ok}


def _load_expected(set_dir: Path, manifest: dict) -> dict[str, np.ndarray]:
    ports = {p["name"]: p for p in manifest["ports"]}
    if manifest.get("layout") == "packed":
        return _read_packed(set_dir / "vectors.hex", manifest["ports"], manifest["count"])
    return {name: read_hex(set_dir / p["file"], p["bits"], manifest["count"])
            for name, p in ports.items()}


def _read_packed(path: Path, ports: list[dict], count: int, only_out: bool = False) -> dict:
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise DumpError(f"{path}: {err.strerror}") from None
    fields = [p for p in ports if p["direction"] == "out"] if only_out else ports
    rows = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("//", 1)[0].strip()
        if not line:
            continue
        parts = line.split("_")
        if len(parts) == len(ports) and only_out:
            parts = [x for x, p in zip(parts, ports, strict=True) if p["direction"] == "out"]
        if len(parts) != len(fields):
            raise DumpError(f"{path}, line {lineno}: {len(parts)} fields, expected {len(fields)} "
                            f"({'_'.join(p['name'] for p in fields)})")
        rows.append([parse_hex(x, p["bits"], f"{path}, line {lineno}")[0]
                     for x, p in zip(parts, fields, strict=True)])
    if len(rows) != count:
        raise DumpError(f"{path}: {'too few' if len(rows) < count else 'too many'} vectors: "
                        f"{len(rows)}, expected {count}")
    arr = np.array(rows, dtype=np.uint64).reshape(count, len(fields))
    return {p["name"]: arr[:, i] for i, p in enumerate(fields)}


def _read_csv(path: Path, outs: list[dict], count: int) -> dict:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as err:
        raise DumpError(f"{path}: {err.strerror}") from None
    reader = csv.DictReader(lines)
    missing = [p["name"] for p in outs if p["name"] not in (reader.fieldnames or [])]
    if missing:
        raise DumpError(f"{path}, line 1: no column for output port(s) {', '.join(missing)}")
    cols = {p["name"]: [] for p in outs}
    for lineno, row in enumerate(reader, 2):
        for p in outs:
            cols[p["name"]].append(parse_hex(row[p["name"]], p["bits"], f"{path}, line {lineno}")[0])
    res = {}
    for p in outs:
        v = np.array(cols[p["name"]], dtype=np.uint64)
        if v.size != count:
            raise DumpError(f"{path}: {'too few' if v.size < count else 'too many'} rows: "
                            f"{v.size}, expected {count}")
        res[p["name"]] = v
    return res


def load_dump(paths: list[Path], manifest: dict) -> dict[str, np.ndarray]:
    """A dump: a directory of <port>.hex, .hex files per output port (named by port, or in port
    order), a packed file (fields joined with _), or a CSV with a column per output port."""
    outs = [p for p in manifest["ports"] if p["direction"] == "out"]
    count = manifest["count"]
    paths = [Path(p) for p in paths]
    if len(paths) == 1 and paths[0].is_dir():
        paths = [paths[0] / f"{p['name']}.hex" for p in outs]
    if len(paths) == 1 and paths[0].suffix == ".csv":
        return _read_csv(paths[0], outs, count)
    if len(paths) == 1:
        first = next((ln for ln in _lines(paths[0]) if ln), "")
        if "_" in first:
            return _read_packed(paths[0], manifest["ports"], count, only_out=True)
    by_name = {p.stem: p for p in paths}
    if all(p["name"] in by_name for p in outs):
        chosen = [by_name[p["name"]] for p in outs]
    elif len(paths) == len(outs):
        chosen = paths
    else:
        raise DumpError(f"give one dump file per output port ({', '.join(p['name'] for p in outs)}),"
                        " a directory, a packed file or a CSV")
    return {p["name"]: read_hex(f, p["bits"], count) for p, f in zip(outs, chosen, strict=True)}


def _lines(path: Path) -> list[str]:
    try:
        return [ln.split("//", 1)[0].strip() for ln in path.read_text().splitlines()]
    except OSError as err:
        raise DumpError(f"{path}: {err.strerror}") from None


def _ulps(fmt, a: int, b: int) -> int | None:
    """Distance in units in the last place: codes in value order (floats) or integer distance."""
    if isinstance(fmt, FloatFormat):
        if fmt.is_nan_code(a) or fmt.is_nan_code(b):
            return None

        def order(c):
            mag = c & (fmt.sign_bit - 1)
            return -mag if c & fmt.sign_bit else mag

        return abs(order(a) - order(b))
    return abs(fmt.code_int(a) - fmt.code_int(b))


def _classify(manifest, expected: dict, idx: np.ndarray) -> list[str]:
    spec = manifest["spec"]
    out_port = next(p for p in manifest["ports"] if p["direction"] == "out" and p.get("format"))
    fmt = parse_format(out_port["format"]) if out_port.get("format") else None
    classes = []
    ties = _ties(spec, expected, idx)
    for n, i in enumerate(idx):
        code = int(expected[out_port["name"]][i])
        if fmt is None:
            classes.append("normal")
        elif isinstance(fmt, FloatFormat) and fmt.is_nan_code(code):
            classes.append("nan")
        elif isinstance(fmt, FloatFormat) and (fmt.is_inf_code(code) or code & (fmt.sign_bit - 1)
                                               == fmt.max_code):
            classes.append("inf/overflow")
        elif (isinstance(fmt, FloatFormat) and code & (fmt.sign_bit - 1)
              and (code >> fmt.man_bits) & ((1 << fmt.exp_bits) - 1) == 0):
            classes.append("subnormal")
        elif ties[n]:
            classes.append("tie")
        else:
            classes.append("normal")
    return classes


def _ties(spec, expected, idx) -> list[bool]:
    """Was the exact result a tie? (convert: nearest-away and nearest-toward-zero differ)."""
    if spec["op"] != "convert" or not len(idx):
        return [False] * len(idx)
    src = parse_format(spec.get("src", "fp32"))
    dst = parse_format(spec["dst"])
    regs = Registers.from_codes(expected["a"][idx], src)
    kw = {"saturate": True} if isinstance(dst, FloatFormat) else {"overflow": "sat"}
    try:
        a = convert(regs, dst, "rna", **kw).codes
        z = convert(regs, dst, "rnz", **kw).codes
    except ValueError:
        return [False] * len(idx)
    return list(a != z)


def _describe(fmt, code: int) -> dict:
    w = hex_width(fmt.bits) if fmt is not None else 16
    d = {"hex": f"{code:0{w}x}"}
    if fmt is not None:
        from ..describe import fields

        v = fmt.code_value(code)
        d["fields"] = fields(fmt, code)
        d["value"] = float(v)
    return d


def check(set_dir: Path | str, dumps: list[Path | str]) -> CheckResult:
    """Compare a dump with a set. Raises DumpError for malformed files."""
    set_dir = Path(set_dir)
    manifest = read_manifest(set_dir)
    if "shards" in manifest:
        raise ValueError(f"{set_dir} is a sharded set: check each shard directory against the "
                         f"dump of its vectors ({manifest['shards'][0]['dir']}, ...)")
    expected = _load_expected(set_dir, manifest)
    got = load_dump([Path(d) for d in dumps], manifest)
    outs = [p for p in manifest["ports"] if p["direction"] == "out"]
    bad = np.zeros(manifest["count"], bool)
    for p in outs:
        bad |= got[p["name"]] != expected[p["name"]]
    idx = np.nonzero(bad)[0]
    res = CheckResult(str(set_dir), manifest["count"])
    if not idx.size:
        return res
    classes = _classify(manifest, expected, idx)
    fmts = {p["name"]: parse_format(p["format"]) if p.get("format") else None for p in manifest["ports"]}
    for n, i in enumerate(idx.tolist()):
        row = {"index": i, "class": classes[n],
               "inputs": {p["name"]: _describe(fmts[p["name"]], int(expected[p["name"]][i]))
                          for p in manifest["ports"] if p["direction"] == "in"}}
        for p in outs:
            e, g = int(expected[p["name"]][i]), int(got[p["name"]][i])
            row[p["name"]] = {"expected": _describe(fmts[p["name"]], e),
                              "actual": _describe(fmts[p["name"]], g)}
            if fmts[p["name"]] is not None:
                row[p["name"]]["ulps"] = _ulps(fmts[p["name"]], e, g)
        res.mismatches.append(row)
        res.by_class[classes[n]] = res.by_class.get(classes[n], 0) + 1
    res.diagnosis = _diagnose_sr(manifest, expected, got)
    return res


def _diagnose_sr(manifest, expected, got) -> list[str]:
    """For stochastic sets: do the actual outputs fit the random words offset by k draws, or the
    low r bits of each draw word instead of the high ones?"""
    spec = manifest["spec"]
    if spec.get("op") == "lfsr" or not is_stochastic(spec.get("rounding", "rne")) or "r" not in expected:
        return []
    notes = []
    words = expected["r"]
    actual = got["y"]
    n = words.size
    base = {k: v for k, v in spec.items()}
    for k in [d for d in range(-4, 5) if d]:
        shifted = np.roll(words, -k)
        sel = slice(max(0, -k), n - max(0, k))
        y = _recompute(base, expected, shifted)
        if y is not None and np.array_equal(y[sel], actual[sel]):
            notes.append(f"the outputs match the random words offset by {k} draw(s)")
    from .vectors import lfsr_from_spec

    lf = lfsr_from_spec(spec.get("lfsr"))
    r = int(spec.get("sr_bits", 8))
    d = lf.shifts or r
    if d > r and d <= 64:
        low = lf.draw(n, d) & np.uint64((1 << r) - 1)
        y = _recompute(base, expected, low)
        if y is not None and np.array_equal(y, actual):
            notes.append("the outputs match the LOW r bits of each draw word (emu uses the high ones)")
    return notes


def _recompute(spec, expected, words) -> np.ndarray | None:
    from .vectors import _Words

    if spec["op"] != "convert":
        return None
    src, dst = parse_format(spec.get("src", "fp32")), parse_format(spec["dst"])
    kw = {"saturate": bool(spec.get("saturate", False))} if isinstance(dst, FloatFormat) else \
        {"overflow": spec.get("overflow") or "sat"}
    extra = {"eps": spec.get("eps", 0.0)} if spec.get("rounding") in ("sr_eps", "signed_sr_eps") else {}
    try:
        return convert(Registers.from_codes(expected["a"], src), dst, spec["rounding"],
                       rng=_Words(words.astype(np.uint64)), sr_bits=int(spec.get("sr_bits", 8)),
                       form=spec.get("form", "carry"), **kw, **extra).codes.astype(np.uint64)
    except ValueError:
        return None


__all__ = ["CLASSES", "CheckResult", "DumpError", "check", "generate"]
