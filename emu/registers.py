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


def _check_width(codes: np.ndarray, fmt: Format) -> None:
    """ValueError naming the first code outside [0, 2**bits) (one vectorised min/max)."""
    if not codes.size:
        return
    if codes.dtype.kind == "u" and codes.dtype.itemsize * 8 <= fmt.bits:
        return  # every value of the dtype fits
    lo, hi = (0 if codes.dtype.kind == "u" else codes.min()), codes.max()
    if int(lo) < 0 or int(hi) >= (1 << fmt.bits):
        bad = lo if int(lo) < 0 else hi
        flat = codes.reshape(-1)
        i = next(k for k, c in enumerate(flat.tolist()) if c == bad) if codes.dtype == object \
            else int(np.argmax(flat == bad))
        shown = f"{int(bad):#x}" if int(bad) >= 0 else str(int(bad))
        raise ValueError(f"code {shown} at index {i} does not fit the {fmt.bits}-bit format {fmt.name}")


class Registers:
    """An ndarray of codes (unsigned ints, what .hex files hold) plus their format.

    Registers never hold floats: ``to_float()`` decodes exactly (every float format; fixed point
    up to 53 significant bits), ``to_exact()`` gives Fractions for any width.

    Registers own their codes: the constructor copies the array it is given (so later writes
    to the caller's array cannot change a register) and checks every code fits the format's
    width; ``codes`` is a read-only view (``r.codes[0] = 999`` raises), so a register can never
    hold an out-of-width code that a kernel would index a table with. The copy and the check
    are one memcpy and one vectorised max (about 5 ms for 10 million codes); results computed
    by emu's own kernels skip both (``Registers._wrap``).
    """

    __slots__ = ("_codes", "_format")

    def __init__(self, codes: np.ndarray, fmt: Format | str):
        fmt = parse_format(fmt)
        if not isinstance(codes, np.ndarray | np.generic):
            raise TypeError(f"Registers takes a numpy array of {code_dtype(fmt.bits)} codes, not "
                            f"{type(codes).__name__}; use Registers.from_codes for lists")
        if codes.dtype != code_dtype(fmt.bits):
            raise TypeError(f"{fmt.name} codes must be {code_dtype(fmt.bits)}, not {codes.dtype}")
        codes = np.array(codes, copy=True)  # ours: the caller's array may change later
        _check_width(codes, fmt)
        self._codes = codes
        self._format = fmt

    @classmethod
    def _wrap(cls, codes: np.ndarray, fmt: Format) -> Registers:
        """Internal: codes a kernel just produced into a fresh array (of the right dtype, every
        code in range by construction). No copy, no check."""
        r = object.__new__(cls)
        r._codes = codes
        r._format = fmt
        return r

    @property
    def format(self) -> Format:
        """The format that gives the codes their meaning (fixed for the register's life)."""
        return self._format

    @property
    def codes(self) -> np.ndarray:
        """The raw codes as a read-only view."""
        v = self._codes.view()
        v.flags.writeable = False
        return v

    def __reduce__(self):  # pickle/copy through the checking constructor
        return (Registers, (self._codes, self.format))

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
        _check_width(arr, fmt)
        return cls._wrap(arr.astype(code_dtype(fmt.bits)), fmt)

    # --- decoding -------------------------------------------------------------------------
    def to_float(self, threads: int | None = None) -> np.ndarray:
        """Decode to float64. Exact for every float format and fixed point up to 53 bits."""
        from .ops import decode

        return decode(self, threads)

    def to_exact(self) -> np.ndarray:
        """Decode to an object array of Fractions (floats inf/nan for specials); any width."""
        out = np.empty(self._codes.shape, dtype=object)
        flat = out.reshape(-1)
        for i, c in enumerate(self._codes.reshape(-1).tolist()):
            flat[i] = self.format.code_value(int(c))
        return out

    def hex(self) -> list[str]:
        w = (self.format.bits + 3) // 4
        return [f"{int(c):0{w}x}" for c in self._codes.reshape(-1).tolist()]

    # --- array protocol -------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self._codes.shape

    @property
    def size(self) -> int:
        return self._codes.size

    def __len__(self) -> int:
        return len(self._codes)

    def __getitem__(self, idx) -> Registers:
        return Registers._wrap(np.asarray(self._codes[idx]), self.format)

    def reshape(self, *shape) -> Registers:
        return Registers._wrap(self._codes.reshape(*shape), self.format)

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
            and np.array_equal(self._codes, other._codes)
        )

    __hash__ = None

    def __repr__(self) -> str:
        body = np.array2string(self._codes, formatter={"int": lambda c: f"0x{int(c):x}"},
                               threshold=16)
        return f"Registers({self.format.name}, shape={self.shape}, codes={body})"

