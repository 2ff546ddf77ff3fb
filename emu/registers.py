"""Registers: an array of raw codes together with the format that gives them meaning.

A container, below the arithmetic: this module imports no rounding or arithmetic (``to_float`` is
a conversion kernel, from emu.paths). The operators (``+ - * @``, unary ``-``, ``abs``,
``< <= > >=``) call functions that the layers above install (``install``): emu.operators
installs emu.arith's and emu.linalg's, and ``import emu`` loads it with ``emu.Registers``,
``emu.quantize`` and every other name that makes or takes registers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import interop
from .formats import Format, ScaleFormat, code_dtype  # noqa: F401 - code_dtype re-exported
from .formats import format as parse_format

# operator/decoder name -> the function that computes it (filled by ``install``)
_IMPL: dict[str, Callable] = {}
OPERATORS = ("add", "sub", "mul", "matmul", "neg", "abs", "lt", "le", "gt", "ge")


def install(**impl: Callable) -> None:
    """Plug the computing layers into Registers: ``install(add=emu.arith.add, ...)`` makes
    ``a + b`` call it (names: ``OPERATORS``). Called by the modules above this one, so this one
    never imports them."""
    unknown = sorted(set(impl) - set(OPERATORS))
    if unknown:
        raise ValueError(f"unknown Registers operator(s) {', '.join(unknown)}; valid: "
                         f"{', '.join(OPERATORS)}")
    bad = [k for k, f in impl.items() if not callable(f)]
    if bad:
        raise TypeError(f"install({bad[0]}=...) needs a function")
    _IMPL.update(impl)


def _impl(name: str, symbol: str) -> Callable:
    """The installed function for operator ``name``; a TypeError saying what to import if the
    arithmetic is not loaded (only a program that never touches ``emu.<name>`` gets it)."""
    f = _IMPL.get(name)
    if f is None:
        raise TypeError(f"Registers {symbol} needs emu's arithmetic, which is not loaded: "
                        "import emu.operators (emu.Registers, emu.quantize and the other "
                        "arithmetic names of emu load it)")
    return f


def _binary(name: str, symbol: str, reflected: bool = False) -> Callable:
    """The method for a binary operator: the installed function ``name``, on (self, other) or,
    reflected (a number or array on the left, which it refuses by name), on (other, self)."""
    def method(self, other):
        return _impl(name, symbol)(*((other, self) if reflected else (self, other)))

    method.__name__ = f"__{'r' if reflected else ''}{name}__"
    return method


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
    by emu's own kernels skip both (``Registers._wrap``). The one exception is asked for:
    ``from_ml_dtypes`` shares the array it is given, as ``np.asarray`` would (see there).
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

    # --- decoding ------------------------------------------------------------------------
    def to_float(self, threads: int | None = None) -> np.ndarray:
        """Decode to float64 (a conversion into float64 under rne, docs/semantics.md §1): exact
        for every float format and for fixed point up to 53 significant bits."""
        from .paths import decode  # a conversion kernel: below this module, not arithmetic

        if isinstance(self.format, ScaleFormat):  # e8m0: 2**(c - 127), 0xFF NaN (docs/semantics.md §14.1)
            return self.format.decode(self._codes)
        return decode(self._codes, self.format.descriptor, threads)

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

    @property
    def ndim(self) -> int:
        return self._codes.ndim

    @property
    def T(self) -> Registers:  # noqa: N802 - NumPy's name
        """The transpose (a view of the same codes)."""
        return Registers._wrap(self._codes.T, self.format)

    # --- NumPy interop --------------------------------------------------------------------
    __array_ufunc__ = None  # ndarray + registers is a TypeError, not silent float64 arithmetic

    def __array__(self, dtype=None, copy: bool | None = None) -> np.ndarray:
        """``np.asarray(r)``: the decoded float64 values (``to_float``), a new array; ``dtype``
        casts them as NumPy does. The codes themselves are ``r.codes``."""
        if dtype is not None and np.dtype(dtype) == object:
            raise TypeError("Registers as an object array: use r.to_exact() for exact values "
                            "or np.asarray(r) for float64")
        if copy is False:
            raise ValueError("np.asarray(registers, copy=False): the float64 values are decoded "
                             "into a new array, so a copy cannot be avoided; r.codes has the codes")
        values = self.to_float()
        return values if dtype is None else values.astype(dtype, copy=False)

    def to_ml_dtypes(self) -> np.ndarray:
        """The codes as the ml_dtypes (or NumPy) array of the same bit layout and specials, a
        read-only view (no copy): e4m3 -> float8_e4m3fn, bf16 -> bfloat16, fp16 -> float16, ...
        (``emu.interop.DTYPE_NAMES``); ValueError for a format no dtype holds exactly."""
        return self.codes.view(interop.dtype_for(self.format))

    @classmethod
    def from_ml_dtypes(cls, arr: np.ndarray, copy: bool | None = None) -> Registers:
        """Registers holding the bits of an ml_dtypes (or float16/float32) array, in the format
        of the same layout. ``copy=None`` shares ``arr``'s memory where every bit pattern of its
        items is a code (later writes to ``arr`` show through, as with ``np.asarray``) and
        copies the 4- and 6-bit types after checking their codes; ``copy=True`` always copies;
        ``copy=False`` never does (ValueError where it must)."""
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"from_ml_dtypes takes a numpy array, not {type(arr).__name__}")
        fmt = interop.format_for(arr.dtype)
        codes = arr.view(code_dtype(fmt.bits))
        narrow = fmt.bits < codes.dtype.itemsize * 8  # a byte could hold a code out of width
        if copy is False and narrow:
            raise ValueError(f"copy=False: {arr.dtype} stores {fmt.bits}-bit codes in bytes, so "
                             "the registers keep a checked copy")
        return cls(codes, fmt) if copy or narrow else cls._wrap(codes, fmt)

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """DLPack export of the codes (read-only, as ``codes``): ``np.from_dlpack(r)``."""
        given = {"stream": stream, "max_version": max_version, "dl_device": dl_device, "copy": copy}
        return self.codes.__dlpack__(**{k: v for k, v in given.items() if v is not None})

    def __dlpack_device__(self):
        return self._codes.__dlpack_device__()

    # --- operators: emu.arith and emu.linalg install them (see ``install``) ----------------
    __add__, __radd__ = _binary("add", "+"), _binary("add", "+", reflected=True)
    __sub__, __rsub__ = _binary("sub", "-"), _binary("sub", "-", reflected=True)
    __mul__, __rmul__ = _binary("mul", "*"), _binary("mul", "*", reflected=True)
    __matmul__, __rmatmul__ = _binary("matmul", "@"), _binary("matmul", "@", reflected=True)
    __lt__, __le__ = _binary("lt", "<"), _binary("le", "<=")
    __gt__, __ge__ = _binary("gt", ">"), _binary("ge", ">=")

    def __neg__(self):
        return _impl("neg", "unary -")(self)

    def __abs__(self):
        return _impl("abs", "abs()")(self)

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

