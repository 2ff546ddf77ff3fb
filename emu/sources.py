"""Random sources for stochastic rounding: the protocol, the one place words are taken, and the
per-call plan of draws (docs/semantics.md §6-§7: one draw per element, in C order).

A source is anything with ``words(n, bits, threads=None)``; emu.LFSR, emu.AmdPrng and
emu.ReplaySource implement the whole protocol. A new source is one class in one file (plus its
export): nothing else in emu needs to know it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

from .validate import ArgumentTypeError, flag

_EMPTY_U64 = np.empty(0, np.uint64)
_EMPTY_I8 = np.empty(0, np.int8)


@runtime_checkable
class RandomSource(Protocol):
    """What ``rng=`` must be.

    ``words(n, bits, threads=None)`` returns the n random words R of one call, one per element
    in C order, as a 1-D numpy integer array (uint64 preferred) of exactly n words, each in
    [0, 2**bits); ``threads`` is a hint a source may ignore. emu checks every call's words
    (count, integer dtype, 1-D, < 2**bits) and refuses anything else with an error instead of
    reading past them. (``random_words``, the former name, is still accepted.)

    The rest of the protocol, used where present: ``state`` (a snapshot of the stream position,
    what manifests record; settable to resume), ``copy()`` (an independent source at the same
    point of the stream), ``skip(n, bits)`` (advance as ``words(n, bits)`` would), and for
    manifests ``config_dict()`` and ``lanes``.
    """

    def words(self, n: int, bits: int, threads: int | None = None) -> np.ndarray: ...


def _method(rng):
    fn = getattr(rng, "words", None)
    return fn if callable(fn) else getattr(rng, "random_words", None)


def check_source(rng, what: str = "rng") -> RandomSource:
    """``rng`` itself if it has a callable ``words`` (or ``random_words``); TypeError naming
    what it is otherwise."""
    if not callable(_method(rng)):
        raise ArgumentTypeError(f"{what}= must be a random source with words(n, bits, threads=None) "
                                f"(e.g. emu.LFSR(seed=1)), not {type(rng).__name__}")
    return rng


def source_words(rng, n: int, bits: int, threads: int | None = None) -> np.ndarray:
    """The one place emu takes words from a random source, checked against the protocol, as a
    contiguous uint64 array: an undersized, misshapen or wide-word answer is an error, never
    read past."""
    words = _method(check_source(rng))(n, bits, threads)
    name = f"{type(rng).__name__}.words({n}, {bits})"
    if not isinstance(words, np.ndarray) or words.dtype.kind not in "iu":
        kind = words.dtype if isinstance(words, np.ndarray) else type(words).__name__
        raise ArgumentTypeError(f"{name} returned {kind}; a random source must return a numpy "
                                "array of unsigned integer words")
    if words.ndim != 1 or words.size != n:
        raise ValueError(f"{name} returned {words.size} words in shape {words.shape}; need a 1-D "
                         f"array of exactly {n} (one word per element)")
    # emu's own sources give r-bit words by construction (the class itself says so: a subclass
    # that overrides words() is checked like any other source)
    if n and not type(rng).__dict__.get("r_bit_words", False):
        lo, hi = int(words.min()), int(words.max())
        if lo < 0 or hi >= (1 << bits):
            big = words >= (1 << bits) if hi >= (1 << bits) else np.zeros(n, bool)
            i = int(np.argmax(big | (words < 0) if lo < 0 else big))  # the first bad word
            raise ValueError(f"{name} returned word {int(words[i])} at index {i}: random words must "
                             f"be in [0, 2**{bits})")
    return np.ascontiguousarray(words, dtype=np.uint64)


class Draws(NamedTuple):
    """The random inputs of one stochastic call (docs/semantics.md §6): r, the words R (one per
    element, C order), the biased modes' offset E, the signed mode's directions d (one per
    element, or empty), and the SR form. ``stream``: instead of ``words`` (then empty), the
    source's lazy stream of them (``emu.lfsr.Stream``: made block by block where they are
    consumed, see ``draws(lazy=True)``)."""

    rbits: int
    words: np.ndarray
    eoff: int
    dirs: np.ndarray
    compare: bool
    stream: object = None

    def block(self, a: int, b: int) -> Draws:
        """The draws of elements a..b-1 (a block of a parallel run)."""
        dirs = self.dirs[a:b] if self.dirs.size else self.dirs
        if self.stream is not None:
            return self._replace(stream=self.stream.block(a, b), dirs=dirs)
        return self._replace(words=self.words[a:b], dirs=dirs)

    def element(self, i: int) -> tuple[int, int, int]:
        """(R, E, d) of element i."""
        return int(self.words[i]), self.eoff, int(self.dirs[i]) if self.dirs.size else 0


NO_DRAWS = Draws(1, _EMPTY_U64, 0, _EMPTY_I8, False)  # deterministic modes: nothing to draw


def draws(rounding, shape: tuple, rng, direction=None, threads: int | None = None,
          lazy: bool = False) -> Draws:
    """The words and offsets a call with ``rounding`` (an emu.Rounding) over ``shape`` consumes:
    one draw per element from ``rng``. Deterministic modes refuse rng and direction and draw
    nothing (NO_DRAWS). ``lazy``: for a caller that takes its words block by block
    (``Draws.block``), a source with ``stream(n, bits)`` (emu.LFSR) may give a lazy stream of
    them instead of the array (the source advances past them at once either way)."""
    if not rounding.stochastic:
        for name, v in (("rng", rng), ("direction", direction)):
            if v is not None:
                raise ValueError(f"{name}= only applies to stochastic rounding modes, not "
                                 f"{rounding.mode}")
        return NO_DRAWS
    if rng is None:
        raise ValueError("stochastic rounding needs a random source: rng=emu.LFSR(...)")
    check_source(rng)
    n = int(np.prod(shape))
    dirs = _EMPTY_I8
    if rounding.needs_direction:
        if direction is None:
            raise ValueError("signed_sr_eps needs direction= (-1, 0 or +1 per element)")
        d = np.asarray(direction)
        try:
            d = np.broadcast_to(d, shape)
        except ValueError:
            raise ValueError(f"direction shape {d.shape} does not broadcast to {shape}") from None
        if not np.isin(d, (-1, 0, 1)).all():
            raise ValueError("direction values must be -1, 0 or +1")
        dirs = np.ascontiguousarray(d, dtype=np.int8).reshape(-1)
    elif direction is not None:
        raise ValueError("direction= only applies to signed_sr_eps")
    # the source's own class must offer it: a wrapper forwarding attributes (Recorder) must see
    # every word it passes on
    stream = rng.stream(n, rounding.bits) if lazy and hasattr(type(rng), "stream") else None
    if stream is not None:
        return Draws(rounding.bits, _EMPTY_U64, rounding.eoff, dirs, rounding.form == "compare",
                     stream)
    return Draws(rounding.bits, source_words(rng, n, rounding.bits, threads), rounding.eoff, dirs,
                 rounding.form == "compare")


def with_words(result, sr: Draws | None, return_words):
    """``result``, or with ``return_words`` the pair (result, the random words the call consumed:
    one per element in C order, empty for a deterministic mode)."""
    if not flag(return_words, "return_words"):
        return result
    return result, (sr or NO_DRAWS).words


@contextmanager
def starting_at(source, element: int) -> Iterator:
    """``source`` serving its next call as elements ``element``, ``element + 1``, ... of a
    longer stream: every call starts at lane 0 (docs/semantics.md §7.3), so the lanes are
    rotated for it (lane ``element mod L`` first) and rotated back after. A shard of a set and
    a DUT streaming one element at a time both continue a stream mid-lane."""
    k = element % getattr(source, "lanes", 1)
    if k:
        st = list(source.states)
        source.states = st[k:] + st[:k]
    try:
        yield source
    finally:
        if k:
            st = list(source.states)
            source.states = st[-k:] + st[:-k]


class Recorder:
    """A random source that passes another's words through and keeps them, in draw order: for
    a sequence of calls (a training step), what ``return_words`` is for one call. ``taken()``
    returns the words so far and starts a new record."""

    def __init__(self, source):
        self.source = check_source(source, "source")
        self._words: list[np.ndarray] = []

    def words(self, n: int, bits: int, threads: int | None = None) -> np.ndarray:
        w = source_words(self.source, n, bits, threads)
        self._words.append(w)
        return w

    def taken(self) -> np.ndarray:
        """The words drawn since the last call, concatenated in draw order."""
        out = np.concatenate(self._words) if self._words else _EMPTY_U64.copy()
        self._words.clear()
        return out

    @property
    def state(self):
        return self.source.state

    @state.setter
    def state(self, value) -> None:
        self.source.state = value

    def skip(self, n: int, bits: int | None = None) -> None:
        self.source.skip(n, bits)

    def copy(self) -> Recorder:
        twin = Recorder(self.source.copy())
        twin._words = list(self._words)
        return twin

    def __getattr__(self, name):  # lanes, states, config_dict, ... of the recorded source
        if name == "source":
            raise AttributeError(name)
        return getattr(self.source, name)
