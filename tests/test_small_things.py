"""Small things users meet (issue 14, item 5): names in any script, half-made run folders, `| head`,
library noise."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.workspace import STALE_EMPTY_RUN_S, Workspace, safe_name

ROOT = Path(__file__).resolve().parents[1]


def studio(workspace, *args, timeout=600, env=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT), STUDIO_WORKSPACE=str(workspace), **(env or {}))
    return subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=ROOT)


@pytest.mark.parametrize("name, expected", [("中文运行", "中文运行"), ("运行 一号", "运行-一号"), ("été", "été"),
                                            ("e\u0301te\u0301", "été"),  # NFC: one code point per letter
                                            ("русский", "русский"), ("my run", "my-run"), ("a..b", "a.b")])
def test_names_in_any_script(name, expected):
    assert safe_name(name) == expected


@pytest.mark.parametrize("name", ["../../etc/passwd", "..", "/abs/path", "a/../../b", "..\\..\\win", "x\x00y",
                                  "\n\t", "中文/../../逃逸", "\u202e..", "．．/x", "-.-"])
def test_no_name_leaves_its_folder(tmp_path, name):
    try:
        cleaned = safe_name(name)
    except StudioError as exc:
        assert "no usable characters" in str(exc)
        return
    assert "/" not in cleaned and "\\" not in cleaned and ".." not in cleaned
    assert all(ord(ch) >= 32 for ch in cleaned)
    assert (tmp_path / cleaned).resolve().parent == tmp_path.resolve()


def test_long_cjk_names_fit_a_file_name():
    assert len(safe_name("长" * 300).encode()) <= 200


def test_a_chinese_run_name_trains(tmp_path, identity_data, tiny_model):
    ws = tmp_path / "ws"
    out = studio(ws, "train", "--preset", "cpu-lora-sft", "--model", "tiny-random-llama", "--data", str(identity_data),
                 "--name", "我的第一次训练", "--set", "max_steps=2", "--set", "batch_size=2", "--set", "max_length=64",
                 "--set", "save_steps=2")
    assert out.returncode == 0, out.stderr
    run_dir = Path(out.stdout.strip().splitlines()[0])
    assert run_dir == ws / "runs" / "我的第一次训练"
    assert (run_dir / "adapter" / "adapter_config.json").is_file()
    listed = studio(ws, "jobs", "list")
    assert "succeeded" in listed.stdout


def test_empty_run_folder_left_by_a_dead_submission_is_reused(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    # a real submitter dies right after making its run folder, before any job record exists
    script = textwrap.dedent(f"""
        import os, signal
        from studio.workspace import Workspace
        Workspace.open({str(ws.root)!r}).new_run_dir("实验", "sft-lora")
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert proc.returncode == -signal.SIGKILL
    left = ws.runs / "实验"
    assert left.is_dir() and not any(left.iterdir())
    assert ws.new_run_dir("实验", "x") == ws.runs / "实验-2"  # a fresh empty folder may be a submission in progress
    old = time.time() - STALE_EMPTY_RUN_S - 5
    os.utime(left, (old, old))
    assert ws.new_run_dir("实验", "x") == left  # taken over once it is clearly abandoned
    (left / "job.yaml").write_text("id: x\n")
    os.utime(left, (old, old))
    assert ws.new_run_dir("实验", "x") == ws.runs / "实验-3"  # a folder with anything in it is never reused
    assert sorted(p.name for p in ws.runs.iterdir()) == ["实验", "实验-2", "实验-3"]


def test_cli_output_into_a_closed_pipe_ends_quietly(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    from studio.jobs import JobManager

    manager = JobManager(ws)
    for i in range(200):
        manager.submit("sleep", {"steps": 1, "padding": "x" * 600}, title=f"job {i}", start=False)
    env = dict(os.environ, PYTHONPATH=str(ROOT), STUDIO_WORKSPACE=str(ws.root), STUDIO_MAX_COMPUTE_JOBS="0")
    for command in ("jobs list --json", "jobs list"):
        out = subprocess.run(f"{sys.executable} -m studio {command} | head -1", shell=True, capture_output=True,
                             text=True, env=env, timeout=120, cwd=ROOT)
        assert out.stdout.count("\n") == 1
        assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr, out.stderr


def test_no_bitsandbytes_noise_on_the_command_line(tmp_path, identity_data, tiny_model):
    out = studio(tmp_path / "ws", "data", "check", str(identity_data), "--model", "tiny-random-llama")
    assert out.returncode == 0, out.stderr
    assert "gemm_4bit" not in out.stderr + out.stdout and "kernels" not in out.stderr
