"""Golden vector sets for RTL test benches and hardware-dump cross-checks."""

from .check import CheckResult, check
from .hexio import DumpError, format_hex, parse_hex, read_hex
from .vectors import VectorSet, generate, read_manifest, regenerate, write_set
from .verify import SetError

__all__ = ["CheckResult", "DumpError", "SetError", "VectorSet", "check", "format_hex", "generate",
           "parse_hex", "read_hex", "read_manifest", "regenerate", "write_set"]
