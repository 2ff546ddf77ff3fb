"""Public names that load on first use (PEP 562), for packages whose imports are heavy."""

from __future__ import annotations

import importlib


def exports(package: str, names: dict[str, str], loads: dict[str, str] | None = None):
    """(``__getattr__``, ``__dir__``) for ``package``: ``names`` maps a public name to the
    submodule that defines it; the first access imports it and caches it on the package.
    ``loads`` maps a submodule to another one imported with it (one that plugs into what the
    first defines, such as emu.operators into emu.registers)."""
    def getattr_(name: str):
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", package), name)
        if loads and module in loads:
            importlib.import_module(f".{loads[module]}", package)
        setattr(importlib.import_module(package), name, value)  # the next access is plain
        return value

    def dir_() -> list[str]:
        return sorted(set(vars(importlib.import_module(package))) | set(names))

    return getattr_, dir_
