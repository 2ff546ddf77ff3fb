"""Registers: an array of raw codes together with the format that gives them meaning."""

from __future__ import annotations

import numpy as np

from .formats import Format
from .formats import format as parse_format


def code_dtype(bits: int) -> np.dtype:
    """Smallest unsigned integer dtype that holds a ``bits``-wide code."""
    for dt in (np.uint8, np.uint16, np.uint32, np.uint64):
        if bits <= np.dtype(dt).itemsize * 8:
            return np.dtype(dt)
    raise ValueError(f"{bits}-bit codes do not fit 64 bits")


class Registers:
    """An ndarray of codes (unsigned ints, what .hex files hold) plus their format.

    Registers never hold floats: ``to_float()`` decodes exactly (every float format; fixed point
    up to 53 significant bits), ``to_exact()`` gives Fractions for any width.
    """

    __slots__ = ("codes", "format")

    def __init__(self, codes: np.ndarray, fmt: Format | str):
        fmt = parse_format(fmt)
        codes = np.asarray(codes)
        if codes.dtype != code_dtype(fmt.bits):
            raise TypeError(f"{fmt.name} codes must be {code_dtype(fmt.bits)}, not {codes.dtype}")
        self.codes = codes
        self.format = fmt

    @classmethod
    def from_codes(cls, codes, fmt: Format | str) -> Registers:
        """Wrap raw codes (any integer array-like), checking each fits the format's width."""
        fmt = parse_format(fmt)
        arr = codes if isinstance(codes, np.ndarray) else np.array(codes, dtype=object)
        if arr.dtype == object:  # Python ints of any size (np.asarray would go via float64)
            if not all(isinstance(c, int | np.integer) and not isinstance(c, bool)
                       for c in arr.reshape(-1).tolist()):
                raise TypeError("codes must be integers")
        elif arr.dtype.kind not in "iu":
            raise TypeError(f"codes must be integers, not {arr.dtype}")
        if arr.size:
            lo = int(arr.min())
            hi = int(arr.max())
            if lo < 0 or hi >= (1 << fmt.bits):
                bad = lo if lo < 0 else hi
                raise ValueError(f"code {bad} does not fit the {fmt.bits}-bit format {fmt.name}")
        return cls(arr.astype(code_dtype(fmt.bits)), fmt)

    # --- decoding -------------------------------------------------------------------------
    def to_float(self, threads: int | None = None) -> np.ndarray:
        """Decode to float64. Exact for every float format and fixed point up to 53 bits."""
        from .ops import decode

        return decode(self, threads)

    def to_exact(self) -> np.ndarray:
        """Decode to an object array of Fractions (floats inf/nan for specials); any width."""
        out = np.empty(self.codes.shape, dtype=object)
        flat = out.reshape(-1)
        for i, c in enumerate(self.codes.reshape(-1).tolist()):
            flat[i] = self.format.code_value(int(c))
        return out

    def hex(self) -> list[str]:
        w = (self.format.bits + 3) // 4
        return [f"{int(c):0{w}x}" for c in self.codes.reshape(-1).tolist()]

    # --- array protocol -------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.codes.shape

    @property
    def size(self) -> int:
        return self.codes.size

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, idx) -> Registers:
        return Registers(np.asarray(self.codes[idx]), self.format)

    def reshape(self, *shape) -> Registers:
        return Registers(self.codes.reshape(*shape), self.format)

    # --- operators (defaults from emu.context; see emu.arith) ------------------------------
    def __add__(self, other):
        from . import arith

        return arith.add(self, other)

    def __sub__(self, other):
        from . import arith

        return arith.sub(self, other)

    def __mul__(self, other):
        from . import arith

        return arith.mul(self, other)

    def __neg__(self):
        from . import arith

        return arith.neg(self)

    def __abs__(self):
        from . import arith

        return arith.abs_(self)

    def __lt__(self, other):
        from . import arith

        return arith.lt(self, other)

    def __le__(self, other):
        from . import arith

        return arith.le(self, other)

    def __gt__(self, other):
        from . import arith

        return arith.gt(self, other)

    def __ge__(self, other):
        from . import arith

        return arith.ge(self, other)

    def __eq__(self, other) -> bool:  # bitwise identity (same format and codes); values: emu.eq
        return (
            isinstance(other, Registers)
            and self.format == other.format
            and np.array_equal(self.codes, other.codes)
        )

    __hash__ = None

    def __repr__(self) -> str:
        body = np.array2string(self.codes, formatter={"int": lambda c: f"0x{int(c):x}"},
                               threshold=16)
        return f"Registers({self.format.name}, shape={self.shape}, codes={body})"

