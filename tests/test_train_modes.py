"""Every training stage takes every rounding mode through the CLI (or refuses it with a reason):
the papers' central scheme, sr_eps gradients with a signed_sr_eps update, crashed with a
TypeError in the first build."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli.main import main
from emu.rounding import MODES

BASE = ["train", "--model", "logistic", "--data", "logistic", "--epochs", "1", "--batch", "0",
        "--weights", "e5m2", "--json"]
STAGES = {"rounding": [], "grad-rounding": [], "step-rounding": ["--scheme", "every_op"]}


@pytest.mark.parametrize("stage", sorted(STAGES))
@pytest.mark.parametrize("mode", sorted(MODES))
def test_every_stage_takes_every_mode(stage, mode):
    eps = ["--eps", "0.25"] if mode in ("sr_eps", "signed_sr_eps") else []
    r = CliRunner().invoke(main, BASE + STAGES[stage] + [f"--{stage}", mode] + eps)
    if stage == "grad-rounding" and mode == "signed_sr_eps":
        assert r.exit_code == 2 and "no descent direction" in r.output
        return
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["config"][stage.replace("-", "_")] == mode and len(doc["epochs"]) == 2
