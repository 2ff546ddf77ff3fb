"""Hostile-user checks of issue 18's speed work (the LFSR stream, lazy draws)."""

import numpy as np
import pytest

import emu
from emu.lfsr import LFSR


class _ZeroDraws(LFSR):
    """A subclass that redefines the draws themselves (a stuck-at fault model, say)."""

    def draw(self, n, shifts=None, threads=None):
        return np.zeros(n, np.uint64)


def test_a_subclass_drawing_its_own_words_is_what_words_and_sr_take():
    # words() took self.draw() before the leap-forward stream; the stream must not bypass an
    # overridden draw()
    assert _ZeroDraws(seed=1).stream(100, 8) is None
    assert not _ZeroDraws(seed=1).words(5, 8).any()
    x = np.full(64, 1.0625, np.float32)  # halfway between e4m3 1.0 and 1.125
    down = emu.quantize(x, "e4m3", "rtz")._codes
    assert np.array_equal(emu.quantize(x, "e4m3", "sr", rng=_ZeroDraws(seed=1))._codes, down)


@pytest.mark.parametrize("n,bits", [(-1, 8), (4, 0), (4, 129)])
def test_stream_refuses_bad_arguments(n, bits):
    with pytest.raises(ValueError):
        LFSR(seed=1).stream(n, bits)
