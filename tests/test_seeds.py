"""emu.train.derive_seed: run seeds give LFSR streams that do not overlap (docs/semantics.md
§11.2), checked on the output bits themselves, not on the construction."""

import numpy as np
import pytest

import emu
from emu.train import derive_seed
from emu.train.seeds import stride

WORDS = 1 << 20  # the window: 2^20 words of r = 8 bits (the training default), 2^23 shifts


def windows(seed: int, words: int = WORDS) -> list[np.ndarray]:
    """Every 32-bit window of the stream's first 8 * words output bits, by phase (bit offset
    8q + ph). In a maximal-length 32-bit LFSR each nonzero 32-bit window occurs once per period,
    so two streams share a window exactly when one is the other shifted."""
    b = emu.LFSR(seed=seed).draw(words + 4, shifts=8)  # bytes, first output bit most significant
    v = (b[:-4] << 32) | (b[1:-3] << 24) | (b[2:-2] << 16) | (b[3:-1] << 8) | b[4:]
    return [(v >> np.uint64(8 - ph)).astype(np.uint32) for ph in range(8)]  # low 32 bits


def overlaps(seeds) -> list[tuple[int, int]]:
    """(seed, bit offset) wherever some stream's first 32 bits occur inside another's window."""
    starts = np.array([windows(s, 1)[0][0] for s in seeds], np.uint32)
    low = np.zeros(1 << 16, bool)  # a start's low 16 bits: candidates, then checked whole
    low[starts & 0xFFFF] = True
    found = []
    for s in seeds:
        for ph, k in enumerate(windows(s)):
            q = np.flatnonzero(low[k & 0xFFFF])
            q = q[np.isin(k[q], starts)]
            found += [(s, 8 * int(i) + ph) for i in q if i or ph]
    return found


@pytest.mark.slow
def test_run_seeds_1_to_64_give_streams_that_are_not_shifts_within_2_20_words():
    # the check finds what the issue reported: literal seeds are one stream a few shifts apart
    # (state 3 is state 1 one shift later)
    assert (1, 1) in overlaps([1, 3])
    assert overlaps([derive_seed(s) for s in range(1, 65)]) == []


def test_derive_seed_is_a_documented_function_of_the_run_seed():
    assert derive_seed(0) == 1  # position 0 of the cycle: state 1
    assert stride(32) == 0x9E3779BB  # nearest (2^32 - 1) / phi coprime to 2^32 - 1
    # run seed 1 is state 1 advanced G single shifts, however the advance is made
    r = emu.LFSR(seed=1)
    r.skip(stride(32) // 2, shifts=1)
    r.skip(stride(32) - stride(32) // 2, shifts=1)
    assert derive_seed(1) == r.state[0]
    assert len({derive_seed(s) for s in range(256)}) == 256
    assert derive_seed(5, width=16) < 1 << 16
    # W = 64: (s * G) mod (2^64 - 1) exceeds one skip's count for about half the run seeds
    assert len({derive_seed(s, width=64) for s in range(1, 21)}) == 20


@pytest.mark.parametrize("bad", [-1, 1.5, "3", None])
def test_derive_seed_refuses_what_is_not_a_run_seed(bad):
    with pytest.raises((TypeError, ValueError), match="run_seed"):
        derive_seed(bad)
