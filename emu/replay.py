"""ReplaySource: stochastic rounding fed with given words, e.g. the random words a DUT used
(dumped from its SR unit), so the emulator rounds with exactly the hardware's randomness."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .validate import integer


class ReplaySource:
    """Serves ``words`` (an array of unsigned integers, or a $readmemh ``.hex`` file of
    ``width``-bit words) in order, one per element. A call asking for more words than remain,
    or for ``bits`` narrower than a served word, is an error naming the word, never a wrap or a
    silent truncation. ``state`` is the position in the stream."""

    r_bit_words = False  # every served word is range-checked against the call's bits

    def __init__(self, words, width: int | None = None):
        if isinstance(words, str | Path):
            from .golden.hexio import read_hex

            if width is None:
                raise ValueError("ReplaySource from a .hex file needs width= (bits per word)")
            self.origin = str(words)
            words = read_hex(words, integer(width, "width", 1, 64))
        else:
            self.origin = "array"
            arr = np.asarray(words)
            if arr.size == 0 and arr.ndim == 1:
                arr = arr.astype(np.uint64)  # an empty stream: any call that needs words fails
            if arr.dtype == object and arr.ndim == 1 and all(isinstance(w, int) for w in arr):
                wide = next((i for i, w in enumerate(arr) if not 0 <= w < 1 << 64), None)
                if wide is not None:
                    raise ValueError(f"ReplaySource word {wide} = {arr[wide]} is not a 64-bit "
                                     "unsigned word")
                arr = arr.astype(np.uint64)
            if arr.dtype == object or arr.dtype.kind not in "iu" or arr.ndim != 1:
                raise TypeError(f"ReplaySource takes a 1-D array of unsigned integer words, not "
                                f"{arr.dtype} with shape {arr.shape}")
            if arr.size and arr.dtype.kind == "i" and int(arr.min()) < 0:
                raise ValueError(f"ReplaySource word {int(np.argmax(arr < 0))} is negative")
            words = arr
        self._words = np.ascontiguousarray(words, dtype=np.uint64)
        self._words.setflags(write=False)
        self._pos = 0

    lanes = 1  # one stream, served in order

    @property
    def remaining(self) -> int:
        return self._words.size - self._pos

    @property
    def state(self) -> int:
        """How many words have been served."""
        return self._pos

    @state.setter
    def state(self, pos) -> None:
        self._pos = integer(pos, "state", 0, self._words.size)

    def words(self, n: int, bits: int, threads: int | None = None) -> np.ndarray:
        n, bits = integer(n, "n", 0), integer(bits, "bits", 1, 64)
        if n > self.remaining:
            raise ValueError(f"ReplaySource ({self.origin}): the call needs {n} words, "
                             f"{self.remaining} of {self._words.size} remain")
        out = self._words[self._pos:self._pos + n]
        if bits < 64 and out.size and int(out.max()) >> bits:
            i = self._pos + int(np.argmax(out >> np.uint64(bits)))
            raise ValueError(f"ReplaySource ({self.origin}): word {i} = {int(self._words[i]):#x} "
                             f"does not fit the call's {bits} random bits")
        self._pos += n
        return out

    def skip(self, n: int, bits: int | None = None) -> None:
        n = integer(n, "n", 0)
        if n > self.remaining:
            raise ValueError(f"ReplaySource ({self.origin}): cannot skip {n} words, "
                             f"{self.remaining} remain")
        self._pos += n

    def copy(self) -> ReplaySource:
        new = object.__new__(ReplaySource)
        new.__dict__.update(self.__dict__)  # the words are read-only: shared, not copied
        return new

    def config_dict(self) -> dict:
        return {"source": "replay", "origin": self.origin, "words": int(self._words.size),
                "position": self._pos}

    def __repr__(self) -> str:
        return f"ReplaySource({self.origin}, {self._pos}/{self._words.size} served)"
