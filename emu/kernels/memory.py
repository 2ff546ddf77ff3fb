"""Plain host loops that ``emu bench`` (emu.bench) times as same-run memory ceilings: no
rounding, no emulation, only the loads and stores that the emulating kernel set beside one
cannot do without. Each runs on a slice; the suite splits the work over its threads with
``emu.parallel``. No emu kernel inlines these.
"""

from __future__ import annotations

from ..jitcache import njit


@njit(cache=True, nogil=True)
def copy(src, out):
    """out[i] = src[i] (converting to out's type): a conversion's memory ceiling."""
    for i in range(src.size):
        out[i] = src[i]


@njit(cache=True, nogil=True)
def combine(a, b, out):
    """out[i] = a[i] ^ b[i]: an elementwise binary operation's memory ceiling (two codes in,
    one out)."""
    for i in range(a.size):
        out[i] = a[i] ^ b[i]

