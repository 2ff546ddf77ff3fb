"""Independent LFSR start states for repeated runs (docs/semantics.md §11.2).

``seed=`` stays the LFSR's literal state (what a test bench loads). Literal seeds 1, 2, 3, ...
are no good for averaging, though: every state lies on the one cycle of a maximal-length LFSR,
and in a Fibonacci register state 2 is state 1 one shift later, so runs seeded 1, 2, 3 draw the
same bits a step apart. A hash of the run seed (splitmix64) spreads states at random instead,
but on a cycle of 2^32 - 1 steps 64 random starts leave about 8 pairs whose first 2^20 eight-bit
words overlap. ``derive_seed`` places run seeds on the cycle by a Weyl (golden-ratio) sequence
instead: run seed s starts s * G single steps after state 1 (mod 2^W - 1), G the integer nearest
(2^W - 1) / phi coprime to 2^W - 1, so the starts of any N consecutive run seeds are spread
nearly evenly (the three-gap theorem): for W = 32, run seeds 1..64 start at least 4.1 * 2^23
steps apart (2^20 words of r = 8 bits each), 1..128 at least 2.5 * 2^23.
"""

from __future__ import annotations

import math

from ..lfsr import LFSR
from ..validate import integer


def stride(width: int) -> int:
    """G: the integer nearest (2^W - 1) / phi that is coprime to 2^W - 1 (so s -> s * G is a
    bijection on the cycle's positions)."""
    period = (1 << width) - 1
    k = 2 * width + 16  # (sqrt 5 - 1)/2 = 1/phi to k bits, in integers: exact for every W <= 64
    g = (period * (math.isqrt(5 << 2 * k) - (1 << k)) + (1 << k)) >> (k + 1)
    while math.gcd(g, period) != 1:
        g += 1
    return g


def derive_seed(run_seed: int, width: int = 32, poly: int | None = None,
                config: str = "fibonacci") -> int:
    """The LFSR start state of run ``run_seed``: LFSR(width, poly, config, seed=1) advanced by
    (run_seed * G) mod (2^W - 1) single-bit shifts (see the module doc). Run seed 0 is state 1."""
    run_seed = integer(run_seed, "run_seed", 0)
    rng = LFSR(width, poly, config, seed=1)
    n = run_seed * stride(rng.width) % ((1 << rng.width) - 1)
    rng.skip(n // 2, shifts=1)  # in two parts: one skip counts at most 2^63 - 1 (W = 64)
    rng.skip(n - n // 2, shifts=1)
    return rng.state[0]
