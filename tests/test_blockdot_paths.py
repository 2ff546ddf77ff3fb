"""The block matmul's two ways to an output agree: the kernel (64-bit block sums) and the exact
rational path it falls back to where a block needs more than 62 bits (docs/semantics.md §14.4).
Forcing every output onto the rational path must change no code, in every reduction order, with
chunked promotion and with stochastic accumulation (same words)."""

from __future__ import annotations

import numpy as np
import pytest

import emu
from emu import blockdot

CASES = [dict(order="sequential"), dict(order="pairwise"), dict(order="exact"),
         dict(order="sequential", acc="bf16"), dict(order="pairwise", acc="fp16"),
         dict(order="sequential", acc="e5m2", acc_saturate=True),
         dict(order="sequential", acc="bf16", chunk=2, promote="fp32"),
         dict(order="sequential", acc="fp16", acc_rounding="sr", sr_bits=6),
         dict(order="sequential", acc="bf16", acc_rounding="rtz")]


@pytest.mark.parametrize("fmt", ["mxfp8_e4m3", "mxint8", "nvfp4"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c.values())))
def test_rational_path_equals_the_kernel(monkeypatch, fmt, case):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 80)) * np.exp2(rng.integers(-6, 6, (3, 80)))
    y = rng.standard_normal((80, 4)) * np.exp2(rng.integers(-6, 6, (80, 4)))
    x[0, :16] = 0.0  # a zero block and a cancelling one
    y[16:32, 1] = -y[16:32, 0]
    a = emu.quantize(x, fmt, axis=1)
    b = emu.quantize(y, fmt, axis=0)
    kw = dict(case, acc=case.get("acc", "fp32"))
    sr = kw.get("acc_rounding") == "sr"

    def run():
        return emu.matmul(a, b, **kw, **({"rng": emu.LFSR(seed=3, lanes=2)} if sr else {}),
                          return_words=True)

    kernel, words = run()
    monkeypatch.setattr(blockdot, "_ALL_EXACT_PATH", True)
    rational, words2 = run()
    assert np.array_equal(words, words2)
    assert rational.format == kernel.format
    assert rational.codes.tolist() == kernel.codes.tolist()


def test_a_wide_e5m2_block_takes_the_rational_path_in_every_order():
    a = np.zeros(64)
    a[[0, 1, 40]] = [57344.0, 2.0 ** -16, 3.0]
    b = np.zeros(64)
    b[[0, 1, 40]] = [-57344.0, 2.0 ** -16, 1.0]
    A = emu.quantize(a[None, :], "mxfp8_e5m2", axis=1)
    B = emu.quantize(b[:, None], "mxfp8_e5m2", axis=0)
    # exact: -57344**2 + 2**-32 + 3, one rounding into fp32 (its ulp at 2**31 is 256)
    want = np.float32(-57344.0 ** 2 + 3.0)  # the 2**-32 is far below half an ulp
    for order in ("sequential", "pairwise", "exact"):
        got = emu.matmul(A, B, "fp32", order=order).to_float()[0, 0]
        assert got == want, order
    chunked = emu.matmul(A, B, "bf16", chunk=1, promote="fp32").to_float()[0, 0]
    assert chunked == np.float32(float(emu.quantize([-57344.0 ** 2], "bf16").to_float()[0]) + 3.0)
