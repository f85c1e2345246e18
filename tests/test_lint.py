"""ruff, configured once in pyproject.toml ([tool.ruff]), passes on the code base."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def ruff() -> list[str]:
    found = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(found).exists():
        pytest.skip("ruff is not installed (pip install ruff)")
    return [found]


def test_ruff_check_passes():
    proc = subprocess.run(ruff() + ["check", "studio", "tests", "bench", "launch.py"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_ruff_finds_what_it_is_configured_for(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n")
    proc = subprocess.run(ruff() + ["check", "--config", str(ROOT / "pyproject.toml"), str(bad)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "F401" in proc.stdout
