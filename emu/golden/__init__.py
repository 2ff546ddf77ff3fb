"""Golden vector sets for RTL test benches and hardware-dump cross-checks.

Names load on first use (as in ``emu``), so the command line's help does not import the
kernels through this package."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import exports

_EXPORTS = {
    **dict.fromkeys(("GoldenPort", "GoldenSet", "load", "write"), "api"),
    **dict.fromkeys(("CheckResult", "check", "compare"), "triage"),
    **dict.fromkeys(("DumpError", "format_hex", "format_words", "parse_hex", "read_hex"), "hexio"),
    **dict.fromkeys(("VectorSet", "generate", "read_manifest", "write_set"), "vectors"),
    "regenerate": "shards",
    "SetError": "verify",
}
__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .api import GoldenPort, GoldenSet, load, write  # noqa: F401
    from .hexio import DumpError, format_hex, format_words, parse_hex, read_hex  # noqa: F401
    from .shards import regenerate  # noqa: F401
    from .triage import CheckResult, check, compare  # noqa: F401
    from .vectors import VectorSet, generate, read_manifest, write_set  # noqa: F401
    from .verify import SetError  # noqa: F401
