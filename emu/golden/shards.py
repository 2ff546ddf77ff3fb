"""Sharded golden sets: one large set as K shard directories plus one top-level manifest.

Shard k builds candidate vectors lo_k..hi_k of the whole set (``generate`` with a ``shard``
entry in its spec). Stochastic sets need each shard's random words to start where the previous
shards' words ended; since undefined vectors are dropped before words are drawn, a first round
counts each shard's surviving vectors and the second round skips the LFSR (a jump) past the
words of the shards before it (a block set's vector takes d draws: its shard skips d words per
vector kept before it). MAC shards start on dot-product boundaries. Concatenating the
shards' ports gives exactly the set a single process writes.

Shards run on Dask (``emu.cluster``) or one by one here; every shard directory is a complete
set (its manifest holds its spec), written into a temporary directory that replaces the target
only when all shards are done. With ``address``, each shard's files start with ``@`` its global
index (the offset of its first vector in the whole set), so a test bench can load every shard
into one memory (docs/semantics.md §10.5).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from .. import __version__
from ..outdir import check_target, staged
from ..rounding import is_stochastic
from .hexio import check_radix, write_atomic
from .mx import MAX_ELEMENTS, MX_OPS, block_of
from .vectors import _source, candidates, generate, read_manifest, schema_fields, set_mode, write_set

MAX_SHARDS = 1 << 16
MAX_SHARD_VECTORS = 1 << 24  # candidate vectors per shard (memory of one worker)


def shard_specs(spec: dict, shards: int) -> list[dict]:
    """Specs of the K shards (candidate ranges; skips filled in later for stochastic sets)."""
    if not isinstance(shards, int) or not 1 <= shards <= MAX_SHARDS:
        raise ValueError(f"shards={shards!r} out of range; valid: 1..{MAX_SHARDS}")
    total = candidates(spec)
    align = int(spec.get("k", 16)) if spec["op"] == "mac" else 1
    bounds = [min(total, (total * i // shards) // align * align) for i in range(shards)] + [total]
    widest = max(hi - lo for lo, hi in zip(bounds[:-1], bounds[1:], strict=True))
    most = MAX_SHARD_VECTORS
    if spec["op"] in MX_OPS:  # a vector is a block: the limit is on its elements
        most = max(1, MAX_ELEMENTS // block_of(spec).block_size)
    if widest > most:
        raise ValueError(f"{total} vectors in {shards} shards is up to {widest} per shard (max "
                         f"{most}); use --shards {-(-total // most)} or more")
    return [{**spec, "shard": {"index": i, "of": shards, "lo": lo, "hi": hi, "skip": 0}}
            for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))]


def _stochastic(spec: dict) -> bool:
    return spec["op"] != "lfsr" and spec["op"] != "mac" and is_stochastic(set_mode(spec))


def _kept(spec: dict) -> int:
    return generate(spec, kept_only=True)


def _run(fn, specs: list[dict], client, tick=None) -> list:
    """fn(spec) for every spec, here or on Dask; ``tick()`` after each one finishes."""
    if client is None:
        out = []
        for s in specs:
            out.append(fn(s))
            if tick:
                tick()
        return out
    from ..cluster import run_all

    out = [None] * len(specs)
    for i, res, err in run_all(client, fn, [(s,) for s in specs], retries=1):
        if err is not None:
            raise err
        out[i] = res
        if tick:
            tick()
    return out


def write_sharded(spec: dict, directory: Path | str, command: str, shards: int,
                  layout: str = "ports", client=None, force: bool = False,
                  progress: Callable[[int, int], None] | None = None, radix: str = "hex",
                  address: bool = False) -> Path:
    """Generate and write a sharded set (see module doc); ``client``: a Dask client, or None
    to build the shards in this process. ``directory`` follows emu.outdir's rules.
    ``progress(done, total)`` counts shard tasks (two rounds for stochastic sets). ``radix`` and
    ``address`` as for write_set (each shard's files start at its global index)."""
    check_target(directory, "vector set", force)  # before any work
    check_radix(radix)
    specs = shard_specs(spec, shards)
    rounds = 2 if _stochastic(spec) else 1
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, rounds * len(specs))

    if _stochastic(spec):
        kept = _run(_kept, specs, client, tick)
        skip = 0
        for s, n in zip(specs, kept, strict=True):
            s["shard"]["skip"] = skip
            skip += n
    directory = Path(directory)
    with staged(directory, "vector set", force) as tmp:
        entries, offset = [], 0
        for s, vs in zip(specs, _run(generate, specs, client, tick), strict=True):
            name = f"shard-{s['shard']['index']:04d}"
            write_set(vs, tmp / name, command, layout, radix=radix, address=offset if address else None)
            entries.append({"dir": name, "lo": s["shard"]["lo"], "hi": s["shard"]["hi"],
                            "count": vs.count, "offset": offset, "manifest_sha256": hashlib.sha256(
                                (tmp / name / "manifest.json").read_bytes()).hexdigest()})
            offset += vs.count
        manifest = {**schema_fields(radix, 0 if address else None), "emu_version": __version__,
                    "command": command, "spec": spec, "op": spec["op"], "layout": layout,
                    "count": offset, "random_source": _source(spec), "shards": entries}
        write_atomic(tmp / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return directory


def regenerate(directory: Path | str, into: Path | str, force: bool = False) -> Path:
    """Rebuild a set (single or sharded) from its manifest (spec, command, layout, radix,
    address) into another directory."""
    m = read_manifest(directory)
    radix, address = m.get("radix", "hex"), m.get("address")
    if "shards" in m:
        return write_sharded(m["spec"], into, m["command"], len(m["shards"]), m["layout"],
                             force=force, radix=radix, address=address is not None)
    return write_set(generate(m["spec"]), into, m["command"], m.get("layout", "ports"), force,
                     radix, address)
