"""The Python face of golden vector sets (docs/semantics.md §10.8): ``write`` is ``emu golden``,
``load`` reads a set (single or sharded, any layout and radix) back as numpy arrays.

>>> import tempfile, emu.golden
>>> d = emu.golden.write(tempfile.mkdtemp() + "/set", "convert", dst="e4m3", count=8)
>>> gs = emu.golden.load(d)
>>> gs["y"].dtype, gs.values("y").dtype, [p.name for p in gs.inputs]
(dtype('uint8'), dtype('float64'), ['a'])

``load`` verifies the set exactly as ``emu check`` trusts it (emu.golden.verify: schema, every
file inside the set, sha256 of every file, each file read again and hashed as it is parsed), so
a set that ``load`` returns is the set ``check`` compares against; a bad set raises SetError
naming the file (and line) and the problem.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..formats import Format, code_dtype
from ..formats import format as parse_format
from ..outdir import check_target
from ..registers import Registers
from ..validate import flag
from .hexio import check_radix
from .layouts import SET_LAYOUTS
from .mx import MX_OPS, block_of, check_packed, check_size
from .spec import build_spec, lfsr_settings, refuse_unused, setting
from .triage import KEEP, CheckResult, compare
from .vectors import Port, VectorSet
from .verify import SetError, read_expected, trust

# write()'s options beyond the spec's settings, with their defaults (emu golden's)
WRITER_DEFAULTS = {"layout": "ports", "radix": "hex", "address": False, "shards": None,
                   "scheduler": None, "workers": None, "local": False, "force": False}


@dataclass(frozen=True)
class GoldenPort:
    """One port of a set, as its manifest describes it (§10.2)."""

    name: str
    direction: str  # "in" | "out"
    bits: int
    format: str | None  # the format's name; None for raw words (r, state, word)
    file: str  # its file, relative to the set (or to each shard) directory

    @property
    def fmt(self) -> Format | None:
        """The port's format, or None for raw words."""
        return parse_format(self.format) if self.format is not None else None


@dataclass(frozen=True, eq=False)
class GoldenSet:
    """A verified vector set in memory: each port's codes (read-only unsigned arrays of the
    smallest dtype that holds the port's bits), in vector order (a sharded set's shards
    concatenated, as ``emu check`` sees them)."""

    path: Path
    manifest: dict  # the set's manifest.json (a sharded set: the top-level one)
    ports: tuple[GoldenPort, ...]
    codes: dict[str, np.ndarray]
    count: int
    radix: str = "hex"  # the digits of its files: hex ($readmemh) or bin ($readmemb)
    address: int | None = None  # the @address its files start with (None: no @ line)
    _values: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        ports = ", ".join(f"{p.name}[{p.bits}] {p.direction}" for p in self.ports)
        return (f"GoldenSet({str(self.path)!r}: {self.manifest.get('op')}, {self.count} vectors, "
                f"ports {ports}, radix {self.radix}{'' if self.address is None else ', @ lines'})")

    def __getitem__(self, name: str) -> np.ndarray:
        """The codes of port ``name``."""
        return self.codes[self.port(name).name]

    def __contains__(self, name: object) -> bool:
        return name in self.codes

    def port(self, name: str) -> GoldenPort:
        """The port called ``name``; KeyError listing the ports otherwise."""
        for p in self.ports:
            if p.name == name:
                return p
        raise KeyError(f"no port {name!r} in {self.path}; ports: {', '.join(self.names)}")

    def values(self, name: str) -> np.ndarray:
        """The codes of port ``name`` decoded to float64 through its format, exactly as
        ``emu.Registers.from_codes(codes, fmt).to_float()`` decodes them (read-only). Ports of
        raw words (r, state, word) have no format: ValueError."""
        if name not in self._values:
            arr = self.registers(name).to_float()
            arr.setflags(write=False)
            self._values[name] = arr
        return self._values[name]

    def registers(self, name: str) -> Registers:
        """The codes of port ``name`` as emu Registers of its format (ValueError for raw words)."""
        p = self.port(name)
        if p.format is None:
            raise ValueError(f"port {name!r} holds raw {p.bits}-bit words, not codes of a format: "
                             f"use its codes, set[{name!r}]")
        return Registers.from_codes(self.codes[name], p.format)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.ports)

    def block_codes(self, prefix: str) -> np.ndarray:
        """Block sets (§10.10): ports ``prefix0 .. prefix{k-1}`` (``x``, ``y``, ``a``, ``b``, ``r``)
        as one read-only (count, k) array, vector by vector."""
        names = [p.name for p in self.ports if p.name.startswith(prefix)
                 and p.name[len(prefix):].isdigit()]
        if not names:
            raise KeyError(f"no ports {prefix}0, {prefix}1, ... in {self.path}; ports: "
                           f"{', '.join(self.names)}")
        arr = np.stack([self.codes[f"{prefix}{i}"] for i in range(len(names))], axis=1)
        arr.setflags(write=False)
        return arr

    def blocks(self, operand: str = "y"):
        """Block sets: the blocks of ``operand`` as emu.BlockRegisters of shape (count, k), blocks
        along axis 1: mx-quantize ``y`` (the element codes ``y0 ..`` with ``scale``), mx-dot
        ``a`` or ``b`` (with ``scale_a`` / ``scale_b``)."""
        from ..blocks import BlockRegisters

        spec = self.spec
        scale = {("mx-quantize", "y"): "scale", ("mx-dot", "a"): "scale_a",
                 ("mx-dot", "b"): "scale_b"}.get((spec.get("op"), operand))
        if scale is None:
            raise ValueError(f"{self.path} ({spec.get('op')}) has no blocks {operand!r}: mx-quantize "
                             "sets have y, mx-dot sets a and b")
        return BlockRegisters(self.block_codes(operand), self.codes[scale].reshape(-1, 1),
                              block_of(spec), axis=1)

    @property
    def inputs(self) -> tuple[GoldenPort, ...]:
        return tuple(p for p in self.ports if p.direction == "in")

    @property
    def outputs(self) -> tuple[GoldenPort, ...]:
        return tuple(p for p in self.ports if p.direction == "out")

    @property
    def vectors(self) -> VectorSet:
        """The set as vectors in memory (spec and ports with their codes), as ``compare`` and
        emu.cocotb take them."""
        return VectorSet(self.spec, [Port(p.name, p.direction, p.bits, self.codes[p.name].astype(np.uint64),
                                          p.fmt) for p in self.ports])

    def compare(self, got: dict[str, np.ndarray], keep: int = KEEP) -> CheckResult:
        """Compare a device's outputs (port name -> codes, in vector order) with the set's, as
        ``emu check`` compares a dump: ``result.ok``, ``result.text()``. An mx-quantize set also
        takes ``y`` as one (count, k) array of element codes (for its ports y0 .. y{k-1})."""
        if self.spec.get("op") == "mx-quantize" and "y" in got:
            got = dict(got)
            y = np.asarray(got.pop("y"))
            k = block_of(self.spec).block_size
            if y.ndim != 2 or y.shape[1] != k:
                raise ValueError(f"actual 'y': element codes of shape {y.shape}; an mx-quantize set "
                                 f"takes (count, {k}) (or its ports y0 .. y{k - 1})")
            got.update({f"y{i}": y[:, i] for i in range(k)})
        return compare(self.vectors, got, keep=keep, name=str(self.path))

    @property
    def spec(self) -> dict:
        """The spec the set was generated from (§10.1)."""
        return self.manifest["spec"]

    @property
    def layout(self) -> str:
        return self.manifest["layout"]

    @property
    def sharded(self) -> bool:
        return "shards" in self.manifest


def load(path: Path | str) -> GoldenSet:
    """Load the vector set at ``path`` (a set directory, or the top of a sharded set), verified
    as ``emu check`` verifies it (emu.golden.verify.trust and read_expected: the same checks, the
    same reader). Raises SetError (a ValueError) naming the file and the problem."""
    ts = trust(path)
    first = ts.parts[0].vset
    parts = [read_expected(part.vset) for part in ts.parts]
    codes = {}
    for p in first.ports:
        arr = np.concatenate([words[p["name"]] for words in parts]).astype(code_dtype(p["bits"]))
        arr.setflags(write=False)
        codes[p["name"]] = arr
    ports = tuple(GoldenPort(p["name"], p["direction"], p["bits"], p["format"], p["file"])
                  for p in first.ports)
    return GoldenSet(Path(path), ts.manifest, ports, codes, ts.count, ts.radix, ts.address)


def write(directory: Path | str, op: str, *, src: str = "fp32", dst: str | None = None,
          fmt: str | None = None, rounding: str | None = None, saturate: bool | None = None,
          overflow: str | None = None, inputs: str | Sequence[str] = "corners,random",
          count: int = 1000, seed: int = 1, sr_bits: int = 8, lfsr: dict | None = None,
          eps: float | None = None, direction: int | None = None, k: int = 16,
          acc: str | None = None, acc_overflow: str = "wrap", out_format: str | None = None,
          profile: str | None = None, block_size: int | None = None, scale_format: str | None = None,
          scale_rule: str = "floor", acc_rounding: str | None = None, block_sum: str = "exact",
          order: str = "sequential", layout: str = "ports", radix: str = "hex", address: bool = False,
          shards: int | None = None, scheduler: str | None = None, workers: int | None = None,
          local: bool = False, force: bool = False, command: str | None = None,
          progress: Callable[[int, int], None] | None = None,
          spell: Callable[[str, object], str] = setting) -> Path:
    """Write a golden vector set of ``op`` into ``directory``: what ``emu golden OP --out
    DIRECTORY`` does, each option a keyword argument with the option's default (``fmt`` is
    ``--format``, ``k`` is ``--k``, ``lfsr`` a dict of the ``--lfsr-*`` settings, ``local`` is
    ``--local``, ``profile`` is ``--profile``; the block sets' ``block_size``, ``scale_format``,
    ``scale_rule``, ``acc_rounding``, ``block_sum`` and ``order`` are ``--block-size`` ...,
    ``saturate`` None is the op's default). The spec settings are build_spec's; a setting
    the op or rounding mode does not use must keep its default (ValueError otherwise, as the
    command refuses the option).
    ``radix`` hex or bin: $readmemh ``<port>.hex`` or $readmemb ``<port>.bin`` files;
    ``address``: each vector file starts with ``@`` its first vector's address (0; a shard's
    global index). ``shards``: K shard directories, built on Dask (``scheduler``, ``workers``)
    or here (``local``). ``command``: what the manifest records (default: this call, spelled
    in Python); ``progress(done, total)`` counts shard tasks; ``spell`` names settings in error
    messages (the command line passes its option names). The directory follows emu.outdir's
    rules (a new path, or an emu set replaced with ``force``; written atomically)."""
    settings = dict(src=src, dst=dst, fmt=fmt, rounding=rounding, saturate=saturate,
                    overflow=overflow, inputs=inputs, count=count, seed=seed, sr_bits=sr_bits,
                    lfsr=lfsr, eps=eps, direction=direction, k=k, acc=acc,
                    acc_overflow=acc_overflow, out_format=out_format, profile=profile,
                    block_size=block_size, scale_format=scale_format, scale_rule=scale_rule,
                    acc_rounding=acc_rounding, block_sum=block_sum, order=order)
    settings["lfsr"] = lfsr_settings(lfsr)  # an emu.LFSR as its settings: the recorded call replays
    given = refuse_unused(op, settings, spell)
    spec = build_spec(op, **settings, spell=spell)
    address = flag(address, "address")
    if layout not in SET_LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; valid: {', '.join(SET_LAYOUTS)}")
    check_radix(radix)
    if shards is None and (scheduler or workers or local):
        raise ValueError(f"{spell('scheduler')}, {spell('workers')} and {spell('local')} apply to "
                         f"{spell('shards', 'K')}")
    options = dict(layout=layout, radix=radix, address=address, shards=shards, scheduler=scheduler,
                   workers=workers, local=local, force=force)
    if command is None:
        command = python_call(directory, op, {**given, **{name: v for name, v in options.items()
                                                           if v != WRITER_DEFAULTS[name]}})
    if spec["op"] in MX_OPS:
        check_size(spec, shards)  # a set of blocks too large for one process (or shard)
        check_packed(spec, layout, radix)  # a packed line too long for $readmem readers
    check_target(directory, "vector set", force)  # before any work
    if shards is None:
        from .vectors import generate, write_set

        return write_set(generate(spec), directory, command, layout, force, radix,
                         0 if address else None)
    from ..cluster import client
    from .shards import write_sharded

    with contextlib.nullcontext() if local else client(scheduler, workers) as c:
        return write_sharded(spec, directory, command, shards, layout, c, force, progress, radix,
                             address)


def python_call(directory: Path | str, op: str, options: dict) -> str:
    """How a manifest records a set written from Python: the call, with every argument that is
    not the default (``emu.golden.write('set', 'convert', dst='e4m3')``)."""
    args = [repr(str(directory)), repr(op), *(f"{name}={v!r}" for name, v in options.items())]
    return f"emu.golden.write({', '.join(args)})"


__all__ = ["GoldenPort", "GoldenSet", "SetError", "load", "python_call", "write"]
