"""The README runs as written: every ```python block executes (in order, one namespace) and every
```console block's commands exit 0 and print what the README shows.

Conventions in README.md: a ```python block whose first line is ``# file: NAME`` is a module the
reader saves (written to the scratch directory, not executed: a later block runs it); ```console
blocks hold commands (``$ ...``) run in one scratch directory, in order, each followed by the
lines it prints, if shown (compared line for line; a line ``...`` stands for any number of
lines); ```bash blocks are for reading only (installs, a remote cluster). A command's trailing
comment (two blanks, then ``#``) is not part of it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import NEEDS, require_tools

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def blocks(kind: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(README.read_text()) if lang == kind]


def console_steps() -> list[tuple[str, list[str]]]:
    """(command, expected output lines) of every console block, in order."""
    steps: list[tuple[str, list[str]]] = []
    for body in blocks("console"):
        for line in body.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            elif steps:
                steps[-1][1].append(line)
    return steps


def _strip_comment(cmd: str) -> str:
    """A comment starts at two or more blanks and a '#'."""
    return re.split(r"\s{2,}#", cmd, maxsplit=1)[0].strip()


def _matches(expected: list[str], actual: list[str]) -> bool:
    """Line-for-line equality (trailing blanks ignored), where '...' matches any run of lines."""
    exp = [e.rstrip() for e in expected]
    act = [a.rstrip() for a in actual]
    if "..." not in exp:
        return exp == act
    i = exp.index("...")
    head, tail = exp[:i], exp[i + 1:]
    return (act[:len(head)] == head and len(act) >= len(head) + len(tail)
            and _matches(tail, act[len(act) - len(tail):] if tail else []))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("readme")


def test_python_blocks_run(scratch, monkeypatch):
    code = blocks("python")
    assert code, "the README has Python examples"
    monkeypatch.chdir(scratch)
    monkeypatch.syspath_prepend(str(scratch))  # modules the blocks write import from here
    ns: dict = {"__name__": "__readme__"}
    for i, body in enumerate(code):
        name = re.match(r"# file: (\S+)\n", body)
        if name:  # a module the reader saves (a cocotb test module): written, run by a later block
            (scratch / name.group(1)).write_text(body)
            continue
        if "get_runner(" in body:  # a cocotb run: Icarus and cocotb installed (in CI they are)
            require_tools(NEEDS["icarus"], f"README python block {i + 1} (cocotb under Icarus)")
            pytest.importorskip("cocotb_tools.runner")
        try:
            exec(compile(body, f"README.md python block {i + 1}", "exec"), ns)
        except Exception as err:  # noqa: BLE001 - reported with the block
            pytest.fail(f"python block {i + 1} failed: {type(err).__name__}: {err}\n{body}")


@pytest.mark.slow
def test_console_blocks_run(scratch):
    steps = console_steps()
    assert len(steps) >= 10
    env = {**os.environ, "COLUMNS": "120"}
    bindir = Path(sys.executable).parent
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    for cmd, expected in steps:
        cmd = _strip_comment(cmd)
        r = subprocess.run(cmd, shell=True, cwd=scratch, env=env, capture_output=True, text=True,
                           timeout=600)
        assert r.returncode == 0, f"$ {cmd}\n{r.stdout}\n{r.stderr}"
        if expected:
            assert _matches(expected, r.stdout.splitlines()), \
                f"$ {cmd}\nREADME shows:\n" + "\n".join(expected) + "\nbut it printed:\n" + r.stdout
