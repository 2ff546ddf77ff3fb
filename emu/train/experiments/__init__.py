"""The literature, one command per result: `emu experiments PRESET` (see README).

Each preset is a module here with ``TITLE``, ``SOURCE`` and ``run(quick, seeds, progress)``
returning an ``emu.train.experiments.report.Result`` (mean ± standard error over run seeds;
docs/semantics.md §11.2). ``quick`` is the size CI runs and the tests assert the published
claims at; the full size makes the README's tables. The TOML files are example training
configurations (``emu train --config``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

# preset name -> (module emu.train.experiments.<module>, what it reproduces)
PRESETS = {
    "xia-fixed": ("xia_fixed", "Xia et al. 2301.09511: PL problems in fixed point, RN/SR/SR_eps"),
    "xia-binary8": ("xia_binary8", "Xia et al. 2202.12276: every op in an 8-bit float, SR_eps"),
    "lp-sgd": ("lp_sgd", "Li & De Sa 2019: LP-SGD, excess loss vs bits and dimension"),
    "shrinkage": ("shrinkage", "Yun 2508.07142: gradient shrinkage q vs gradient format"),
}


def preset(name: str) -> ModuleType:
    """The module of preset ``name``; an unknown name lists the valid ones."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid: {', '.join(PRESETS)}")
    return importlib.import_module(f"{__name__}.{PRESETS[name][0]}")


def run_preset(name: str, quick: bool = False, seeds: int | None = None, progress=None):
    """Run preset ``name`` (``seeds``: run seeds 1..seeds, default the preset's); its Result."""
    from .report import DEFAULT_SEEDS

    mod = preset(name)
    if seeds is not None and (isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 2):
        raise ValueError(f"seeds = {seeds!r}: needs a whole number >= 2 (a standard error needs "
                         "two runs)")
    return mod.run(quick=quick, seeds=seeds or getattr(mod, "SEEDS", DEFAULT_SEEDS),
                   progress=progress)
