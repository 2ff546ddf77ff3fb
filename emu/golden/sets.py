"""The data of a golden vector set (ports, vectors) and the names every golden module shares:
a leaf module, so the op modules (emu.golden.vectors, emu.golden.mx) and the checks build on it
without importing each other. No numpy at import: the command line's help reads the names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..rounding import Rounding

if TYPE_CHECKING:
    import numpy as np

    from ..lfsr import LFSR

MX_OPS = ("mx-quantize", "mx-dot")  # block-scaled formats (emu.golden.mx, docs/semantics.md §10.10)
BLOCK_SUMS = ("exact", "products")
ORDERS = ("sequential", "pairwise", "exact", "truncating")


@dataclass
class Port:
    name: str
    direction: str  # "in" | "out"
    bits: int
    values: np.ndarray  # uint64
    fmt: object = None  # the format the codes belong to (None for raw words)


@dataclass
class VectorSet:
    spec: dict
    ports: list[Port]

    @property
    def count(self) -> int:
        return int(self.ports[0].values.size)

    def port(self, name: str) -> Port:
        for p in self.ports:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def outputs(self) -> list[Port]:
        return [p for p in self.ports if p.direction == "out"]

    @property
    def inputs(self) -> list[Port]:
        return [p for p in self.ports if p.direction == "in"]

    @classmethod
    def concatenate(cls, sets: list[VectorSet]) -> VectorSet:
        """Sets of one spec and the same ports, one after the other (vector order kept)."""
        import numpy as np

        first = sets[0]
        return cls(first.spec, [Port(p.name, p.direction, p.bits,
                                     np.concatenate([s.port(p.name).values for s in sets]), p.fmt)
                                for p in first.ports])


# --- input generators ------------------------------------------------------------------------
def lfsr_from_spec(cfg: dict) -> LFSR:
    """The LFSR a spec's ``lfsr`` settings describe (docs/semantics.md §10.1)."""
    from ..lfsr import LFSR

    cfg = dict(cfg or {})
    poly = cfg.get("poly")
    return LFSR(width=cfg.get("width", 32), poly=int(poly, 0) if isinstance(poly, str) else poly,
                config=cfg.get("config", "fibonacci"), shifts=cfg.get("shifts"),
                seed=cfg.get("seed", 1), lanes=cfg.get("lanes", 1), seeds=cfg.get("seeds"),
                reverse=cfg.get("reverse", False), invert=cfg.get("invert", False))


SATURATING_RNE = Rounding("rne", saturate=True, overflow="sat")
