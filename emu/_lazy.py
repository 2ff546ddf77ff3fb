"""Public names that load on first use (PEP 562), for packages whose imports are heavy."""

from __future__ import annotations

import importlib


def exports(package: str, names: dict[str, str]):
    """(``__getattr__``, ``__dir__``) for ``package``: ``names`` maps a public name to the
    submodule that defines it; the first access imports it and caches it on the package."""
    def getattr_(name: str):
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", package), name)
        setattr(importlib.import_module(package), name, value)  # the next access is plain
        return value

    def dir_() -> list[str]:
        return sorted(set(vars(importlib.import_module(package))) | set(names))

    return getattr_, dir_
