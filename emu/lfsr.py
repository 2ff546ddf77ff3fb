"""Random sources for stochastic rounding: the verilog-lfsr LFSR and AMD's V_PRNG_B32.

DESIGN Part B, "LFSR random source" and "Lanes". A source has L lanes, each its own generator;
element j of a flattened array uses lane j mod L, and within a lane draws are consumed in
increasing j, one draw per element whether or not it needed rounding.
"""

from __future__ import annotations

import copy as _copy

import numpy as np

from . import parallel
from .kernels.lfsr import (
    RING,
    chunk_size,
    draw_states,
    draw_words,
    jump,
    lags_hold,
    leap_draw_chains4,
    leap_draw_chains8,
    leap_tables,
    matrix_powers,
    reverse_bits,
    step_matrix,
    stream_init,
    stream_words,
)
from .sources import RandomSource, check_source, source_words  # noqa: F401 - re-exported
from .validate import flag, integer, optional_integer

MAX_LANES = 1 << 16  # a vector unit's lanes; each holds a state and tables of its own
MAX_DRAWS = (1 << 63) - 1  # draws per call or skip: lane counters are int64

# Maximal-length LFSR taps for widths 3..64, Xilinx XAPP052 (P. Alfke, "Efficient Shift
# Registers, LFSR Counters, and Long Pseudo-Random Sequence Generators", 1996), Table 3.
# Taps (n, a, b, ...) stand for x^n + x^a + x^b + ... + 1.
XAPP052_TAPS = {
    3: (3, 2), 4: (4, 3), 5: (5, 3), 6: (6, 5), 7: (7, 6), 8: (8, 6, 5, 4), 9: (9, 5),
    10: (10, 7), 11: (11, 9), 12: (12, 6, 4, 1), 13: (13, 4, 3, 1), 14: (14, 5, 3, 1),
    15: (15, 14), 16: (16, 15, 13, 4), 17: (17, 14), 18: (18, 11), 19: (19, 6, 2, 1),
    20: (20, 17), 21: (21, 19), 22: (22, 21), 23: (23, 18), 24: (24, 23, 22, 17), 25: (25, 22),
    26: (26, 6, 2, 1), 27: (27, 5, 2, 1), 28: (28, 25), 29: (29, 27), 30: (30, 6, 4, 1),
    31: (31, 28), 32: (32, 22, 2, 1), 33: (33, 20), 34: (34, 27, 2, 1), 35: (35, 33),
    36: (36, 25), 37: (37, 5, 4, 3, 2, 1), 38: (38, 6, 5, 1), 39: (39, 35), 40: (40, 38, 21, 19),
    41: (41, 38), 42: (42, 41, 20, 19), 43: (43, 42, 38, 37), 44: (44, 43, 18, 17),
    45: (45, 44, 42, 41), 46: (46, 45, 26, 25), 47: (47, 42), 48: (48, 47, 21, 20), 49: (49, 40),
    50: (50, 49, 24, 23), 51: (51, 50, 36, 35), 52: (52, 49), 53: (53, 52, 38, 37),
    54: (54, 53, 18, 17), 55: (55, 31), 56: (56, 55, 35, 34), 57: (57, 50), 58: (58, 39),
    59: (59, 58, 38, 37), 60: (60, 59), 61: (61, 60, 46, 45), 62: (62, 61, 6, 5), 63: (63, 62),
    64: (64, 63, 61, 60),
}


def taps_to_poly(taps: tuple[int, ...]) -> int:
    """verilog-lfsr poly word: bit j = coefficient of x^j for j < W (x^W implicit, +1 always)."""
    width = taps[0]
    return 1 | sum(1 << t for t in taps[1:] if t < width)


MAXIMAL_POLYS = {w: taps_to_poly(t) for w, t in XAPP052_TAPS.items()}
CONFIGS = ("fibonacci", "galois")
_LEAP: dict = {}  # leap tables by (width, poly, config, shifts, reverse)
_POWERS: dict = {}  # M**(2**k) of the D-step matrix M by (width, poly, config, shifts)
_LAGS: dict = {}  # the stream recurrence's lags by (width, poly, config), None if none holds
CHAINS = 4  # independent draw chains per lane and block (kernels.lfsr._draw_chains)
GOLDEN = 0x9E3779B97F4A7C15
M64 = (1 << 64) - 1


def splitmix64(x: int) -> int:
    """SplitMix64 finaliser (Steele, Lea, Flood 2014), used to derive lane seeds."""
    x = (x + GOLDEN) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def lane_seeds(seed: int, lanes: int, width: int) -> list[int]:
    """Documented derivation of lane states from one integer: lane 0 gets ``seed`` itself (so
    a one-lane source seeded with s starts in state s, as a test bench would); lane k >= 1 gets
    the low ``width`` bits of splitmix64(seed + k * 0x9E3779B97F4A7C15), or 1 if those are 0."""
    mask = (1 << width) - 1
    out = [seed]
    for k in range(1, lanes):
        s = splitmix64((seed + k * GOLDEN) & M64) & mask
        out.append(s or 1)
    return out


def _check_seed(s: int, width: int, what: str) -> int:
    s = integer(s, what)
    if s == 0:
        raise ValueError(f"{what} is 0: the all-zero state is illegal for an LFSR (it never leaves it)")
    if not 0 < s < (1 << width):
        raise ValueError(f"{what} {s:#x} does not fit a {width}-bit LFSR")
    return s


def _check_seeds(seeds, width: int) -> list[int]:
    if isinstance(seeds, str | bytes) or not hasattr(seeds, "__len__"):
        raise TypeError(f"seeds must be a list of lane states, not {type(seeds).__name__}")
    if len(seeds) == 0:
        raise ValueError("seeds is empty: an LFSR bank needs at least one lane")
    return [_check_seed(s, width, f"seed of lane {k}") for k, s in enumerate(seeds)]


class LFSR:
    """A bank of ``lanes`` LFSRs with verilog-lfsr semantics (see emu.kernels.lfsr).

    ``shifts`` (D, single-bit shifts per draw) defaults to the consumer's need: stochastic
    rounding with r bits uses D = r; ``draw()`` without ``bits`` uses D = width.
    """

    def __init__(self, width: int = 32, poly: int | None = None, config: str = "fibonacci",
                 shifts: int | None = None, seed: int = 1, lanes: int = 1,
                 seeds: list[int] | None = None, reverse: bool = False, invert: bool = False):
        width = integer(width, "width", 2, 64)
        if poly is None:
            if width not in MAXIMAL_POLYS:
                raise ValueError(f"no default polynomial for width {width}; pass poly=")
            poly = MAXIMAL_POLYS[width]
        poly = integer(poly, "poly")
        if not 0 < poly < (1 << width):
            raise ValueError(f"poly {poly:#x} does not fit width {width} (bit j = x^j for j < W; "
                             f"x^W is implicit): valid 1..{(1 << width) - 1:#x}")
        if config not in CONFIGS:
            raise ValueError(f"unknown config {config!r}; valid: {', '.join(CONFIGS)}")
        shifts = optional_integer(shifts, "shifts", 1, 128)
        if seeds is not None:
            states = _check_seeds(seeds, width)
        else:
            lanes = integer(lanes, "lanes", 1, MAX_LANES, hint="need at least one lane")
            seed = _check_seed(seed, width, "seed")
            states = [_check_seed(s, width, f"seed of lane {k}")
                      for k, s in enumerate(lane_seeds(seed, lanes, width))]
        reverse, invert = flag(reverse, "reverse"), flag(invert, "invert")
        self.width, self.poly, self.config = width, poly, config
        self.shifts, self.reverse, self.invert = shifts, reverse, invert
        self.initial_states = tuple(states)
        # internal orientation: verilog-lfsr's REVERSE bit-reverses the state on input/output
        self._states = np.array([self._orient(s) for s in states], dtype=np.uint64)

    def _orient(self, s: int) -> int:
        return int(reverse_bits(np.uint64(s), self.width)) if self.reverse else s

    @property
    def lanes(self) -> int:
        return int(self._states.size)

    @property
    def states(self) -> tuple[int, ...]:
        """Current state of every lane (user orientation, as seeds are given)."""
        return tuple(self._orient(int(s)) for s in self._states)

    @states.setter
    def states(self, values) -> None:
        values = list(values)
        if len(values) != self.lanes:
            raise ValueError(f"expected {self.lanes} lane states, got {len(values)}")
        checked = [_check_seed(v, self.width, f"state of lane {k}") for k, v in enumerate(values)]
        self._states = np.array([self._orient(s) for s in checked], dtype=np.uint64)

    def copy(self) -> LFSR:
        return _copy.deepcopy(self)

    def config_dict(self) -> dict:
        """Everything needed to reproduce the stream (what manifests record)."""
        return {"source": "lfsr", "width": self.width, "poly": f"{self.poly:#x}",
                "config": self.config, "shifts": self.shifts, "reverse": self.reverse,
                "invert": self.invert, "lanes": self.lanes,
                "states": [f"{s:#x}" for s in self.states]}

    def draw(self, n: int, shifts: int | None = None, threads: int | None = None) -> np.ndarray:
        """Draw n words of D bits (D = shifts, else self.shifts, else width). uint64 for D <= 64;
        Python ints (object array) for wider words. ``threads`` split the draws into blocks
        (each lane jumped ahead to its block's first element: the words do not change)."""
        n = integer(n, "n", 0)
        d = optional_integer(shifts, "shifts", 1, 128) or self.shifts or self.width
        stream = self.stream(n, d, shifts=d)
        if stream is not None:  # the leap-forward stream
            return self._fill(stream, n, threads)
        if d <= 64:  # reversed words: per-byte tables of the linear D-step map
            state_t, word_t = self._leap(d)
            out = np.empty(n, np.uint64)
            inv = np.uint64((1 << d) - 1 if self.invert else 0)
            chains = leap_draw_chains8 if state_t.shape[0] > 4 else leap_draw_chains4
            self._blocked(n, d, threads, CHAINS, lambda starts, first, counts: chains(
                starts, first, counts, self.lanes, state_t, word_t, inv, out))
            return out
        first = np.empty(n, np.uint64)
        rest = np.empty(n, np.uint64)
        draw_words(self._states, self.width, np.uint64(self.poly), self.config == "galois", d,
                   self.reverse, self.invert, n, first, rest)
        words = []
        for hi, lo in zip(first.tolist(), rest.tolist(), strict=True):
            w = (hi << (d - 64)) | lo
            if self.reverse:
                w = int(f"{w:0{d}b}"[::-1], 2)
            if self.invert:
                w ^= (1 << d) - 1
            words.append(w)
        return np.array(words, dtype=object)

    def _blocked(self, n: int, d: int, threads: int | None, chains: int, kernel) -> None:
        """Run ``kernel(starts, first, counts)`` once per block of the n draws (one block per
        thread). DESIGN Part B: element j uses lane j mod L, so in a block [a, b) lane l draws
        at elements first[l] + L * t, t < counts[l]; ``starts[l, c]`` is its state at draw
        c * (counts[l] // chains) of the block. States are jumped ahead exactly from the
        bank's state (the D-step map is linear: M**c), so the words, and the end state the
        bank is left in, never depend on the split."""
        threads = optional_integer(threads, "threads", 1)
        lanes = np.arange(self.lanes, dtype=np.int64)
        powers = self._powers(d)
        start = self._states
        served = self._served

        def jumped(counts: np.ndarray) -> np.ndarray:  # lane-major, counts.size // L per lane
            st = np.repeat(start, counts.size // self.lanes)
            jump(st, counts, powers)
            return st

        def block(a: int, b: int) -> None:
            counts = served(b) - served(a)
            q = counts // chains
            steps = served(a)[:, None] + q[:, None] * np.arange(chains)[None, :]
            kernel(jumped(steps.reshape(-1)).reshape(self.lanes, chains),
                   a + (lanes - a) % self.lanes, counts)

        parallel.run(block, parallel.blocks(n, parallel.resolve(threads)))
        self._states = jumped(served(n))

    def skip(self, n: int, bits: int | None = None, *, shifts: int | None = None) -> None:
        """Advance the bank exactly as ``words(n, bits)`` (D = shifts, else bits, else the
        width) would, without producing the words (a jump: O(W * log n) per lane). Lets a shard
        of a long stream start where it belongs."""
        n = integer(n, "n", 0, MAX_DRAWS)
        bits = optional_integer(bits, "bits", 1, 128)
        d = optional_integer(shifts, "shifts", 1, 128) or self.shifts or bits or self.width
        if bits is not None and d < bits:
            raise ValueError(f"an LFSR drawing {d} bits per element cannot supply {bits} random bits")
        st = self._states.copy()
        jump(st, self._served(n), self._powers(d))
        self._states = st

    def _served(self, j: int) -> np.ndarray:
        """Draws each lane makes for elements 0..j-1 of one call (lane l serves j = l mod L)."""
        lanes = np.arange(self.lanes, dtype=np.int64)
        return (j - lanes + self.lanes - 1) // self.lanes

    def _powers(self, d: int) -> np.ndarray:
        key = (self.width, self.poly, self.config, d)
        if key not in _POWERS:
            cols = step_matrix(self.width, np.uint64(self.poly), self.config == "galois", d)
            _POWERS[key] = matrix_powers(cols, 64)
        return _POWERS[key]

    def _leap(self, d: int, reverse: bool | None = None):
        """Per-byte tables of the D-shift map (``reverse``: folded into the words; default the
        bank's own)."""
        reverse = self.reverse if reverse is None else reverse
        key = (self.width, self.poly, self.config, d, reverse)
        if key not in _LEAP:
            _LEAP[key] = leap_tables(self.width, np.uint64(self.poly), self.config == "galois", d,
                                     reverse)
        return _LEAP[key]

    def _lags(self) -> np.ndarray | None:
        """Lags of the recurrence b[n] = XOR_j b[n - lag_j] of the output bits (Fibonacci: the
        taps; Galois: the companion polynomial's terms), checked by ``lags_hold``."""
        key = (self.width, self.poly, self.config)
        if key not in _LAGS:
            w, p = self.width, self.poly
            if self.config == "galois":
                lags = [w - j for j in range(w) if (p | 1) >> j & 1]
            else:
                taps = (p >> 1) | (1 << (w - 1))
                lags = [i + 1 for i in range(w) if taps >> i & 1]
            arr = np.array(lags, np.int64)
            _LAGS[key] = arr if lags_hold(w, np.uint64(p), self.config == "galois", arr) else None
        return _LAGS[key]

    def stream(self, n: int, bits: int, shifts: int | None = None) -> Stream | None:
        """The next n draws of ``words(n, bits)`` (D = shifts, else self.shifts, else bits) as
        a ``Stream`` made where they are consumed (the bank advances past them now), or None
        where the leap-forward stream does not apply (reversed words, draws wider than 64
        bits, a subclass with words or draws of its own)."""
        n = integer(n, "n", 0, MAX_DRAWS)
        bits = integer(bits, "bits", 1, 128)  # draw() asks for its D-bit draws
        d = optional_integer(shifts, "shifts", 1, 128) or self.shifts or bits
        if (self.reverse or d > 64 or d < bits or type(self).words is not LFSR.words
                or type(self).draw is not LFSR.draw or self._lags() is None):
            return None
        return Stream(self, n, d, bits)

    @staticmethod
    def _fill(stream: Stream, n: int, threads: int | None) -> np.ndarray:
        """The stream's n words, made in blocks on ``threads``."""
        out = np.empty(n, np.uint64)
        parallel.run(lambda a, b: stream.block(a, b).fill(out[a:b]),
                     parallel.blocks(n, parallel.resolve(threads)))
        return out

    r_bit_words = True  # words() gives r-bit words by construction: no range scan needed

    @property
    def state(self) -> tuple[int, ...]:
        """The lane states (RandomSource protocol; settable to resume)."""
        return self.states

    @state.setter
    def state(self, values) -> None:
        self.states = values

    def words(self, n: int, bits: int, threads: int | None = None) -> np.ndarray:
        """The r-bit words R that stochastic rounding consumes: the r most significant bits of
        each draw word (D = shifts, default r)."""
        n = integer(n, "n", 0, MAX_DRAWS)
        bits = integer(bits, "bits", 1, 64)  # words are uint64
        d = self.shifts or bits
        if d < bits:
            raise ValueError(f"an LFSR drawing {d} bits per element cannot supply {bits} random bits")
        if d > 64:
            return np.array([w >> (d - bits) for w in self.draw(n, d).tolist()], dtype=np.uint64)
        stream = self.stream(n, bits)
        if stream is not None:
            return self._fill(stream, n, threads)
        words = self.draw(n, d, threads)
        if d > bits:
            words >>= np.uint64(d - bits)
        return words

    random_words = words  # the protocol's former name

    def __repr__(self) -> str:
        return (f"LFSR(width={self.width}, poly={self.poly:#x}, config={self.config!r}, "
                f"shifts={self.shifts}, lanes={self.lanes}, reverse={self.reverse}, "
                f"invert={self.invert})")


class Stream:
    """One call's draws from an LFSR, made block by block where they are consumed by the
    leap-forward stream (emu.kernels.lfsr, "the bit stream"): ``block(a, b).at()`` is the
    generator state at element a of the call, every lane jumped exactly to its draw there
    (Part B's lane rule), so a block's words never depend on how the call is split. The words
    are those ``LFSR.words(n, bits)`` gives: R = (draw ^ invert) >> (D - r)."""

    def __init__(self, lfsr: LFSR, n: int, d: int, bits: int):
        self.d, self.drop, self.width = d, d - bits, lfsr.width
        self.lags = lfsr._lags()
        self.invert = np.uint64((1 << d) - 1 if lfsr.invert else 0)
        self._leap64 = lfsr._leap(64, reverse=False)  # 64 stream bits per leap
        self._powers = lfsr._powers(d)
        self._start = lfsr._states.copy()
        self._served = lfsr._served
        self.chunk = chunk_size(lfsr.lanes)
        self.first = 0
        lfsr._states = self._jumped(n)

    def _jumped(self, a: int) -> np.ndarray:
        """The lane states at element a of the call."""
        states = self._start.copy()
        jump(states, self._served(a), self._powers)
        return states

    def block(self, a: int, b: int) -> Stream:
        """The stream of elements a..b-1 of the call (``first``: its first element)."""
        part = _copy.copy(self)
        part.first = self.first + a
        return part

    def at(self) -> tuple:
        """(ring, words made, bit positions, lane of the first element): the kernels' generator
        state at element ``first`` of the call."""
        lanes = self._start.size
        ring = np.empty((lanes, RING), np.uint64)
        stream_init(self._jumped(self.first), *self._leap64, self.width, ring)
        return (ring, np.full(lanes, self.width, np.int64), np.zeros(lanes, np.int64),
                self.first % lanes)

    def fill(self, out: np.ndarray) -> None:
        """out = the words of elements first .. first + out.size - 1."""
        ring, made, pos, lane0 = self.at()
        stream_words(ring, made, pos, self.lags, self.d, lane0, out.size, self.invert, self.drop,
                     self.chunk, out)

    def words(self, n: int) -> np.ndarray:
        """The words of elements first .. first + n - 1."""
        out = np.empty(n, np.uint64)
        self.fill(out)
        return out


class AmdPrng:
    """AMD ``V_PRNG_B32`` (CDNA3 ISA reference): s = (s << 1) ^ (0xC5 if s >> 31 else 0) over
    32 bits; each draw outputs the new state, whose high bits feed stochastic rounding."""

    width = 32

    def __init__(self, seed: int = 1, lanes: int = 1, seeds: list[int] | None = None):
        if seeds is None:
            lanes = integer(lanes, "lanes", 1, MAX_LANES, hint="need at least one lane")
            seeds = lane_seeds(_check_seed(seed, 32, "seed"), lanes, 32)
        self.initial_states = tuple(_check_seeds(seeds, 32))
        # one galois shift with poly 0xC4 | 1 = 0xC5 is exactly V_PRNG_B32's update
        self._lfsr = LFSR(32, 0xC5, "galois", 1, seeds=list(self.initial_states))

    @property
    def lanes(self) -> int:
        return self._lfsr.lanes

    r_bit_words = True

    @property
    def states(self) -> tuple[int, ...]:
        return self._lfsr.states

    @property
    def state(self) -> tuple[int, ...]:
        return self._lfsr.states

    @state.setter
    def state(self, values) -> None:
        self._lfsr.states = values

    @states.setter
    def states(self, values) -> None:
        self._lfsr.states = values

    def copy(self) -> AmdPrng:
        return _copy.deepcopy(self)

    def config_dict(self) -> dict:
        return {"source": "amd_v_prng_b32", "lanes": self.lanes,
                "states": [f"{s:#x}" for s in self.states]}

    def draw(self, n: int, threads: int | None = None) -> np.ndarray:
        """n outputs (each the lane's new state), uint64; ``threads`` as in LFSR.draw."""
        n = integer(n, "n", 0)
        out = np.empty(n, np.uint64)
        lanes = self.lanes

        def kernel(starts, first, counts):  # one shift per draw: a short chain, one per lane
            for lane in range(lanes):
                draw_states(starts[lane], 32, np.uint64(0xC5), True, 1, counts[lane],
                            out[first[lane]::lanes])

        self._lfsr._blocked(n, 1, threads, 1, kernel)
        return out

    def words(self, n: int, bits: int, threads: int | None = None) -> np.ndarray:
        """The top ``bits`` bits of each output (1 <= bits <= 32)."""
        bits = integer(bits, "bits", 1, 32)
        return self.draw(n, threads) >> np.uint64(32 - bits)

    random_words = words  # the protocol's former name

    def skip(self, n: int, bits: int | None = None) -> None:
        """Advance as ``words(n, bits)`` would (one shift per output, whatever ``bits``)."""
        self._lfsr.skip(integer(n, "n", 0), shifts=1)
