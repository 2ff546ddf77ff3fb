"""The package's import graph: no cycles between emu modules, and the layers import downwards only
(formats -> rounding -> kernels -> registers/ops -> linalg -> golden/train -> cli).

Imports are read with ``ast`` from every module of emu and of cli/ (installed as emu.cli): at
module level and inside functions, relative ones resolved; ``if TYPE_CHECKING:`` blocks are left
out (they never run). A module imports another when it names it or a name defined in it.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"emu": ROOT / "emu", "emu.cli": ROOT / "cli"}  # pyproject: package-dir emu.cli = cli
ALIASES = {"cli": "emu.cli"}  # the repository's tests import cli/ as a top-level package

def _modules() -> dict[str, Path]:
    mods = {}
    for pkg, top in PACKAGES.items():
        for path in sorted(top.rglob("*.py")):
            parts = path.relative_to(top).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join((pkg, *parts))] = path
    return mods


MODULES = _modules()


def _package_of(module: str) -> str:
    """The package a module's relative imports start from (a package is its own)."""
    return module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST):
    """Every Import/ImportFrom node that can run, anywhere in the tree."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _canonical(name: str) -> str:
    head, _, rest = name.partition(".")
    return ALIASES[head] + ("." + rest if rest else "") if head in ALIASES else name


def imports(module: str) -> list[tuple[str, int]]:
    """(imported name, line) for every import in ``module``, absolute, third-party included.
    ``from X import y`` gives ``X.y`` when that is a module of ours, else ``X``."""
    tree = ast.parse(MODULES[module].read_text(), str(MODULES[module]))
    out = []
    for node in _import_nodes(tree):
        if isinstance(node, ast.Import):
            out += [(_canonical(a.name), node.lineno) for a in node.names]
            continue
        if node.level:
            base = _package_of(module)
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = f"{base}.{node.module}" if node.module else base
        else:
            target = _canonical(node.module)
        for a in node.names:
            sub = f"{target}.{a.name}"
            out.append((sub if sub in MODULES else target, node.lineno))
    return out


def graph() -> dict[str, dict[str, int]]:
    """module -> {emu module it imports: first line}."""
    g: dict[str, dict[str, int]] = {}
    for m in MODULES:
        edges = g.setdefault(m, {})
        for name, line in imports(m):
            if name in MODULES and name != m:
                edges.setdefault(name, line)
    return g


def cycles(g: dict[str, dict[str, int]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in g:
        if root in index:
            continue
        work = [(root, iter(g[root]))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(g[w])))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(frozenset(comp))
    return out


def describe(comp: frozenset[str], g: dict[str, dict[str, int]]) -> str:
    """One cycle through the component, each step with the importing file and line."""
    start = min(comp)
    path, seen = [start], {start}
    while True:  # walk inside the component until a module repeats
        nxt = min(w for w in g[path[-1]] if w in comp)
        if nxt in seen:
            path = path[path.index(nxt):] + [nxt]
            break
        path.append(nxt)
        seen.add(nxt)
    steps = [f"{a} ({MODULES[a].relative_to(ROOT)}:{g[a][b]}) -> {b}" for a, b in pairwise(path)]
    return "; ".join(steps) + (f"  [component: {', '.join(sorted(comp))}]" if len(comp) > len(path) - 1
                               else "")


def reachable(start: str, g: dict[str, dict[str, int]]) -> dict[str, str]:
    """Every module ``start`` imports, directly or not: module -> the module that imports it."""
    seen, todo = {start: ""}, [start]
    while todo:
        v = todo.pop()
        for w in g[v]:
            if w not in seen:
                seen[w] = v
                todo.append(w)
    del seen[start]
    return seen


def _chain(start: str, end: str, via: dict[str, str]) -> str:
    path = [end]
    while path[-1] != start and via.get(path[-1]):
        path.append(via[path[-1]])
    return " -> ".join(reversed(path))


# --- the walker itself -------------------------------------------------------------------------
def test_walker_resolves_relative_function_level_and_aliased_imports(tmp_path, monkeypatch):
    assert "emu.kernels.core" in MODULES and "emu.cli.main" in MODULES and "emu" in MODULES
    src = ("from . import ops\nfrom .kernels import core\nfrom .formats import Format\n"
           "import numpy as np\nimport emu.rounding\nfrom typing import TYPE_CHECKING\n"
           "if TYPE_CHECKING:\n    from .arith import add\n"
           "def f():\n    from .linalg import matmul\n    from cli.main import main\n")
    path = tmp_path / "probe.py"
    path.write_text(src)
    monkeypatch.setitem(MODULES, "emu.probe", path)
    names = [n for n, _ in imports("emu.probe")]
    assert sorted(names) == ["emu.cli.main", "emu.formats", "emu.kernels.core", "emu.linalg",
                             "emu.ops", "emu.rounding", "numpy", "typing"]
    assert "emu.arith" not in names  # TYPE_CHECKING only


def test_cycle_finder_reports_the_cycle():
    g = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3, "d": 4}, "d": {}}
    assert cycles(g) == [frozenset("abc")]
    assert cycles({"a": {"b": 1}, "b": {}}) == []


# --- the rules ---------------------------------------------------------------------------------
def test_no_import_cycles():
    g = graph()
    found = cycles(g)
    assert not found, "import cycles:\n" + "\n".join(describe(c, g) for c in found)


def test_registers_is_below_the_arithmetic():
    """emu.registers is a container: arithmetic and conversions plug into it (emu.operators)."""
    g = graph()
    via = reachable("emu.registers", g)
    bad = [_chain("emu.registers", m, via) for m in ("emu.arith", "emu.ops", "emu.linalg") if m in via]
    assert not bad, "emu.registers imports the arithmetic: " + "; ".join(bad)


def test_training_does_not_import_golden():
    g = graph()
    bad = []
    for m in (m for m in MODULES if m == "emu.train" or m.startswith("emu.train.")):
        via = reachable(m, g)
        bad += [_chain(m, x, via) for x in via if x == "emu.golden" or x.startswith("emu.golden.")]
    assert not bad, "\n".join(bad)


KERNELS = sorted(m for m in MODULES if m.startswith("emu.kernels"))
KERNEL_OK = ("__future__", "math", "numpy", "numba", "emu.codes", "emu.jitcache", "emu.kernels",
             "llvmlite")  # numba's code generator: the IR of an @intrinsic (blockquant's bit casts)


@pytest.mark.parametrize("module", KERNELS)
def test_kernels_import_no_python_face(module):
    """emu.kernels holds jitted code: it imports numpy, numba, math (usable in jitted code),
    emu.codes, emu.jitcache and other kernels, never the Python face."""
    bad = [f"{name} (line {line})" for name, line in imports(module)
           if not any(name == ok or name.startswith(ok + ".") for ok in KERNEL_OK)]
    assert not bad, f"{module} imports {', '.join(bad)}"


# --- operators for every way of reaching Registers ---------------------------------------------
OPERATOR_CHECK = """
import json
import numpy as np
{imports}
a, b = q([1.5, -2.0, 0.375], "e4m3"), q([0.75, 3.0, -1.0], "e4m3")
A = q(np.arange(6.0).reshape(2, 3) / 8, "e4m3")
v = lambda r: np.asarray(r).tolist()
print(json.dumps([isinstance(a, Registers), v(a + b), v(a - b), v(a * b), v(-a), v(abs(a)),
                  (a < b).tolist(), (a <= b).tolist(), (a > b).tolist(), (a >= b).tolist(),
                  a == b, a == a, v(A @ A.T)]))
"""


@pytest.mark.parametrize("how", [
    "import emu\nRegisters, q = emu.Registers, emu.quantize",
    "import emu\nq = emu.quantize\nRegisters = type(q([1.0], 'e4m3'))",
    "from emu import Registers\nimport emu\nq = emu.quantize",
    "from emu.registers import Registers\nimport emu\nq = emu.quantize",
    "from emu.registers import Registers\nfrom emu import quantize as q",
])
def test_operators_work_however_registers_are_reached(how):
    """A fresh interpreter each time (the operators are installed on import). Every operand and
    result is exact in e4m3 (and the matmul in its fp32 output), so the values are plain sums."""
    r = subprocess.run([sys.executable, "-c", OPERATOR_CHECK.format(imports=how)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [
        True, [2.25, 1.0, -0.625], [0.75, -5.0, 1.375], [1.125, -6.0, -0.375], [-1.5, 2.0, -0.375],
        [1.5, 2.0, 0.375], [False, True, False], [False, True, False], [True, False, True],
        [True, False, True], False, True,
        [[1 / 64 + 1 / 16, 1 / 16 + 5 / 32], [1 / 16 + 5 / 32, 9 / 64 + 1 / 4 + 25 / 64]]]


def test_container_alone_says_what_to_import():
    code = ("from emu.registers import Registers\n"
            "r = Registers.from_codes([0x38], 'e4m3')\n"
            "try:\n    r + r\nexcept TypeError as e:\n    print(e)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert "import emu.operators" in r.stdout
