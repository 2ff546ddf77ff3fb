"""Shared test helpers: edge-case inputs built from a format's values, direct core calls, and
the simulators' skip-or-fail convention."""

from __future__ import annotations

import math
import os
import shutil

import numpy as np
import pytest
import reference as ref

import emu
from emu.kernels.convert import F64, convert_codes
from emu.registers import code_dtype
from emu.rounding import mode_code, overflow_code

DET_MODES = ["rne", "rna", "rnz", "rnu", "rnd", "rtz", "rdn", "rup", "raz", "rto"]


def finite_values(fmt, codes=None) -> np.ndarray:
    """Sorted distinct nonnegative finite values of a float format (exact in float64)."""
    s = ref.spec(fmt)
    if codes is None:
        codes = range(1 << (fmt.bits - 1))
    vals = set()
    for c in codes:
        v = s.decode(int(c))
        if not isinstance(v, float):
            vals.add(float(v))
    return np.array(sorted(vals))


def edge_inputs(fmt, rng=None, sample=None) -> np.ndarray:
    """Values, midpoints (ties), midpoints +- one float64 ulp, overflow thresholds, underflow,
    both signs, +-0, +-Inf, NaN."""
    if fmt.bits <= 12 or sample is None:
        v = finite_values(fmt)
    else:
        rng = rng or np.random.default_rng(1)
        codes = rng.integers(0, 1 << (fmt.bits - 1), sample)
        codes = np.concatenate([codes, np.arange(0, 8), [fmt.max_code - k for k in range(4)]])
        codes = codes[codes <= fmt.max_code]
        v = finite_values(fmt, codes)
        # neighbours of sampled codes, so midpoints are between consecutive values
        v = np.unique(np.concatenate([v, finite_values(fmt, np.minimum(codes + 1, fmt.max_code))]))
    mx = float(fmt.max)
    top_ulp = mx - float(fmt.code_value(fmt.max_code - 1)) if fmt.max_code > 0 else mx
    with np.errstate(over="ignore"):
        mids = (v[:-1] + v[1:]) / 2  # exact in float64 (both are short-significand values)
    extra = np.array([mx + top_ulp / 2, mx + top_ulp, 2 * mx, 1e300, float(fmt.min_subnormal) / 2,
                      float(fmt.min_subnormal) / 4, float(fmt.min_subnormal) * 0.75, 5e-324])
    base = np.concatenate([v, mids, extra])
    base = np.concatenate([base, np.nextafter(base, np.inf), np.nextafter(base, -np.inf)])
    base = base[np.isfinite(base)]
    return np.concatenate([base, -base, [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan]])


def core_codes(x, fmt, mode, saturate=None, overflow=None):
    """The rounding core alone (no fast path): float64 values -> codes; -1 where unrepresentable."""
    x = np.ascontiguousarray(x, np.float64)
    out = np.empty(x.size, code_dtype(fmt.bits))
    bad = np.zeros(x.size, np.uint8)
    convert_codes(x.view(np.uint64), F64, out, fmt.descriptor, mode_code(mode),
                  overflow_code(fmt, saturate, overflow), 1, np.empty(0, np.uint64), 0,
                  np.empty(0, np.int8), False, bad)
    res = np.array(out.tolist(), dtype=object)
    res[bad != 0] = -1
    return res


def api_codes(x, fmt, mode, saturate=None, overflow=None):
    """emu.quantize element by element where it raises; -1 where unrepresentable."""
    try:
        codes = emu.quantize(x, fmt, mode, saturate=saturate, overflow=overflow).codes
        return np.array(codes.tolist(), dtype=object)
    except ValueError:
        out = []
        for xi in np.asarray(x).reshape(-1):
            try:
                out.append(int(emu.quantize(xi, fmt, mode, saturate=saturate, overflow=overflow).codes))
            except ValueError:
                out.append(-1)
        return np.array(out, dtype=object)


def show_mismatch(x, got, want, fmt):
    bad = [i for i in range(len(want)) if got[i] != want[i]]
    rows = [f"x={x[i]!r} got={got[i]:#x} want={want[i]:#x}" for i in bad[:10]]
    return f"{len(bad)} mismatches in {fmt.name}:\n" + "\n".join(rows)


# --- experiment results (tests/test_experiments_*.py) ---------------------------------------
def se_gap(a, b) -> float:
    """(a - b) in standard errors of the difference of two independent estimates: a, b are
    Estimates or (mean, se) pairs; +-inf when both are exact (se 0) and differ, 0 when equal."""
    (ma, sa), (mb, sb) = ((x.mean, x.se) if hasattr(x, "mean") else x for x in (a, b))
    se = math.hypot(sa, sb)
    d = ma - mb
    return d / se if se else math.copysign(math.inf, d) if d else 0.0


def json_cell(doc: dict, column: str, **match) -> tuple[float, float]:
    """(mean, se) of ``column`` in the one row of an experiment's result.json matching ``match``
    (a plain number or a single run has se 0)."""
    rows = [r for r in doc["rows"] if all(r.get(k) == v for k, v in match.items())]
    assert len(rows) == 1, (match, len(rows))
    v = rows[0][column]
    return (v["mean"], v["se"] or 0.0) if isinstance(v, dict) else (v, 0.0)


def run_experiment(preset: str, out, *options: str) -> dict:
    """``emu experiments PRESET --quick --out OUT [options]`` through the CLI (exit 0 asserted);
    the result.json it wrote."""
    import json

    from click.testing import CliRunner

    from cli.main import main

    r = CliRunner().invoke(main, ["experiments", preset, "--quick", "--out", str(out), *options])
    assert r.exit_code == 0, r.output
    return json.loads((out / "result.json").read_text())


# what each simulator needs on PATH, and the Debian package that brings it (Verilator's
# generated makefile calls g++ by name; Debian's verilator package depends on neither g++ nor make)
NEEDS = {"icarus": {"iverilog": "iverilog", "vvp": "iverilog"},
         "verilator": {"verilator": "verilator", "make": "make", "g++": "g++"}}


def require_tools(needs: dict[str, str], what: str) -> None:
    """Skips (fails under CI=true, where .ci/run installs them) unless every tool of ``needs``
    (tool -> Debian package) is on PATH."""
    missing = [tool for tool in needs if shutil.which(tool) is None]
    if missing:
        pkgs = " ".join(sorted({needs[t] for t in missing}))
        if os.environ.get("CI"):
            pytest.fail(f"{', '.join(missing)} not installed; .ci/run installs {pkgs} with apt-get")
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install {pkgs}); {what} skipped")


def rerun_from_history(directory, doc: dict) -> dict:
    """Write a run's recorded config (history.json's "config") as a TOML file in ``directory``,
    train again from it, and check the rerun records the same config, epochs and steps: a
    history is a config that reproduces its run. Returns the rerun's JSON."""
    import json
    from pathlib import Path

    from click.testing import CliRunner

    from cli.main import main

    cfg = doc["config"]
    path = Path(directory) / "again.toml"
    path.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in cfg.items() if v is not None))
    r = CliRunner().invoke(main, ["train", "--config", str(path), "--json"])
    assert r.exit_code == 0, r.output
    again = json.loads(r.output)
    assert again["config"] == cfg and again["epochs"] == doc["epochs"] and again["steps"] == doc["steps"]
    return again
