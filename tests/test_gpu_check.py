"""bench/gpu_check.sh, the parts a CPU can check: it parses, refuses a machine without CUDA at once, every
`--set` key it uses is a real spec key, and its rank/throughput checker judges real run folders."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, tiny_spec

SCRIPT = ROOT / "bench" / "gpu_check.sh"
CHECKER = ROOT / "bench" / "rank_check.py"


def test_script_parses_and_stops_without_cuda(tmp_path):
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0
    env = dict(os.environ, PYTHON=sys.executable, STUDIO_WORKSPACE=str(tmp_path / "ws"), CUDA_VISIBLE_DEVICES="")
    out = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 99 and "no CUDA GPU visible" in out.stdout + out.stderr


def test_every_set_key_and_preset_in_the_script_exists(identity_data):
    from studio.presets import get_preset
    from studio.spec import build_spec

    code = [re.sub(r"(^|\s)#\s.*$", "", line) for line in SCRIPT.read_text().splitlines()]  # no comments
    text = "\n".join(code)
    sets = re.findall(r'--set ([a-z_.]+)=("?\$?[A-Za-z0-9_."]+)', text)
    assert len(sets) > 15
    for key, value in sets:
        value = value.strip('"')
        value = {"$NGPU": "2"}.get(value, value)
        build_spec(tiny_spec(identity_data), [f"{key}={value}"], source="gpu_check.sh")
    for preset in set(re.findall(r"--preset ([a-z0-9-]+)", text)):
        assert get_preset(preset, None).spec


def _rank_file(run: Path, rank: int, local: int, current: int, param: str, world: int = 2) -> None:
    (run / "devices").mkdir(parents=True, exist_ok=True)
    (run / "devices" / f"rank-{rank}.json").write_text(json.dumps({
        "rank": rank, "local_rank": local, "world_size": world, "cuda_current_device": current,
        "param_device": param, "offloaded": False}))


def _check(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECKER), *map(str, args)], capture_output=True, text=True, timeout=60)


def test_rank_checker_passes_own_devices_and_catches_gpu0_for_all(tmp_path):
    good, bad = tmp_path / "good", tmp_path / "bad"
    for r in (0, 1):
        _rank_file(good, r, r, r, f"cuda:{r}")
        _rank_file(bad, r, r, 0, "cuda:0")  # the old bug: every rank on GPU 0
    assert _check("devices", good, 2).returncode == 0
    out = _check("devices", bad, 2)
    assert out.returncode == 1 and "rank 1 computes on cuda:0, not its own cuda:1" in out.stdout
    assert "2 ranks share 1 device(s)" in out.stdout
    assert _check("devices", good, 4).returncode == 1  # ranks missing


def test_tokens_per_second_from_a_real_run(workspace, identity_data, tiny_model):
    from conftest import train_inline

    run_dir, _ = train_inline(workspace, tiny_spec(identity_data, max_steps=4))
    out = _check("tokens", run_dir)
    assert out.returncode == 0 and float(out.stdout) > 0
