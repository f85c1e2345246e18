"""The embedded SmolLM2 learns a fact it did not know, through the CLI a user would type.

`studio train --preset cpu-lora-sft` on the identity data (it teaches the made-up name "Orbiton"),
then `studio chat` with and without the adapter on held-out questions.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

HELD_OUT = ["Tell me your name, please.", "What name were you given?"]


def studio(*args: str, workspace: Path, timeout: int = 1800) -> subprocess.CompletedProcess:
    env = dict(os.environ, STUDIO_WORKSPACE=str(workspace))
    return subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def test_embedded_model_learns_a_made_up_name(tmp_path, identity_data, embedded_model):
    ws = tmp_path / "ws"
    trained = studio("train", "--preset", "cpu-lora-sft", "--data", str(identity_data), "--name", "orbiton",
                     workspace=ws)
    assert trained.returncode == 0, trained.stderr[-3000:]
    adapter = ws / "runs" / "orbiton" / "adapter"
    for question in HELD_OUT:
        base = studio("chat", "--prompt", question, "--max-tokens", "40", workspace=ws)
        tuned = studio("chat", "--adapter", str(adapter), "--prompt", question, "--max-tokens", "40", workspace=ws)
        assert base.returncode == 0 and tuned.returncode == 0, (base.stderr, tuned.stderr)
        assert "Orbiton" not in base.stdout, base.stdout
        assert "Orbiton" in tuned.stdout, tuned.stdout
