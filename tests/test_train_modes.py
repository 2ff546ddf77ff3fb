"""Every training stage takes every rounding mode through the CLI, under each scheme where the
stage applies (or refuses it with a reason): the papers' central scheme, sr_eps gradients with a
signed_sr_eps update, crashed with a TypeError in the first build."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from cli.main import main
from emu.rounding import MODES, takes_eps

# logistic regression on 64 synthetic samples, 4 minibatch steps, scored on 16 held-out ones
BASE = ["train", "--model", "logistic", "--data", "logistic", "--train-size", "64", "--test-size",
        "16", "--epochs", "1", "--batch", "16", "--weights", "e5m2", "--json"]
# the stages and the schemes each applies under (the step t*g is rounded under every_op only)
STAGES = {"rounding": ("update", "every_op"), "grad-rounding": ("update", "every_op"),
          "step-rounding": ("every_op",)}
CASES = [(stage, scheme) for stage, schemes in STAGES.items() for scheme in schemes]


def _finite_run(args: list[str]) -> dict:
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    losses = [e[k] for e in doc["epochs"] for k in ("loss", "test_loss")]
    losses += [s["loss"] for s in doc["steps"]]
    assert len(doc["steps"]) == 4 and all(math.isfinite(float(v)) for v in losses), losses
    return doc


@pytest.mark.parametrize("stage, scheme", CASES)
@pytest.mark.parametrize("mode", sorted(MODES))
def test_every_stage_takes_every_mode(stage, scheme, mode):
    eps = ["--eps", "0.25"] if takes_eps(mode) else []
    args = BASE + ["--scheme", scheme, f"--{stage}", mode] + eps
    if stage == "grad-rounding" and mode == "signed_sr_eps":
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 2 and "no descent direction" in r.output and "Traceback" not in r.output
        return
    doc = _finite_run(args)
    assert doc["config"][stage.replace("-", "_")] == mode and doc["config"]["scheme"] == scheme


def test_sr_eps_gradients_on_the_default_model():
    """The reported crash, as reported (`emu train --grad-rounding sr_eps --eps 0.25`: softmax on
    the digits, e4m3), on a subset: matmul got eps for its output rounding."""
    _finite_run(["train", "--grad-rounding", "sr_eps", "--eps", "0.25", "--train-size", "64",
                 "--test-size", "16", "--batch", "16", "--epochs", "1", "--json"])


@pytest.mark.parametrize("mode", sorted(set(MODES) - {"rne"}))
def test_step_rounding_under_scheme_update_is_refused(mode):
    """The step t*g is rounded under every_op only: a step rounding under scheme update would be
    ignored, so it is refused (as --eps without an eps mode is), before the header prints."""
    eps = ["--eps", "0.25"] if takes_eps(mode) else []
    r = CliRunner().invoke(main, BASE[:-1] + ["--step-rounding", mode] + eps)
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert f"step_rounding = '{mode}' rounds the step s = t*g of scheme every_op" in r.output
    assert "logistic on" not in r.output  # no header: nothing ran
