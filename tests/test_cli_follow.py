"""studio/cli/follow.py through real commands and real jobs: what a followed job prints, and the exit codes."""

from __future__ import annotations

import socket
from pathlib import Path

from conftest import SAMPLES


def cli(capsys, workspace, *args: str) -> tuple[int, str, str]:
    from studio.cli import main

    code = main(["--workspace", str(workspace.root), *args])
    printed = capsys.readouterr()
    return code, printed.out, printed.err


def newest(manager, kind: str, seen: set[str]):
    jobs = [j for j in manager.list(kind=kind) if j.id not in seen]
    assert len(jobs) == 1, jobs
    return jobs[0]


def unfinished_run(tmp_path: Path) -> Path:
    """A run folder with a spec and no trained weights: its probe job fails in the worker, in seconds."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "spec.yaml").write_text("name: run\n")
    return run


def test_failed_job_is_one_error_line_in_the_cli_language_and_exit_1(workspace, manager, tmp_path, capsys,
                                                                     monkeypatch):
    run = unfinished_run(tmp_path)
    monkeypatch.setenv("STUDIO_LANG", "en")
    code, out, err = cli(capsys, workspace, "probe", str(run))
    job = newest(manager, "probe", set())
    assert code == 1 and out == "", err
    lines = err.splitlines()
    assert lines[0] in (f"job {job.id} queued", f"job {job.id} running")
    assert job.state == "failed" and "no trained adapter or model yet" in job.error
    assert lines[-1] == f"error: job {job.id} failed: {job.error}"

    monkeypatch.setenv("STUDIO_LANG", "zh")
    code, out, err = cli(capsys, workspace, "probe", str(run))
    again = newest(manager, "probe", {job.id})
    # the store keeps the English line; the worker's exit.json kept the key, so the reason is Chinese too
    from studio.errors import StudioError
    from studio.jobs.failure import error_text
    from studio.ui.i18n import Translator
    from studio.ui.monitor import progress_html

    reason = StudioError(key="probe.no_model", run=str(run)).one_line("zh")
    assert reason != again.error and error_text(again, "zh") == reason and error_text(again, "en") == again.error
    assert code == 1 and err.splitlines()[-1] == f"error: 任务 {again.id} failed：{reason}"
    assert reason in progress_html(again, {}, Translator("zh"))  # the job panel says it in the viewer's language


def test_detach_returns_at_once_and_leaves_the_job_to_the_queue(workspace, manager, tmp_path, capsys):
    code, out, err = cli(capsys, workspace, "probe", str(unfinished_run(tmp_path)), "--detach")
    job = newest(manager, "probe", set())
    assert code == 0 and out == "" and err.startswith(f"job {job.id} ")
    assert manager.wait(job.id, poll=0.2, timeout=120).state == "failed"  # it ran without the terminal


def write_config(tmp_path: Path, teacher: str) -> Path:
    config = tmp_path / "si.yaml"
    config.write_text(f"seed_path: {SAMPLES / 'self_instruct_seeds.jsonl'}\nnum_instructions: 2\n"
                      f"max_requests: 2\nbatch_size: 2\nmax_tokens: 16\nteacher: {teacher}\n")
    return config


def test_self_instruct_prints_counts_then_the_output_file(workspace, manager, tiny_model, tmp_path, capsys):
    from studio.data.self_instruct import summary
    from studio.jobs.events import read_progress

    config = write_config(tmp_path, "{kind: local, model: tiny-random-llama}")
    code, out, err = cli(capsys, workspace, "data", "self-instruct", str(config))
    job = newest(manager, "generate", set())
    assert code == 0, err
    assert out.splitlines() == [job.artifacts["output"]] and Path(job.artifacts["output"]).is_file()
    assert err.splitlines()[-1] == summary(read_progress(job.run_dir)["counts"])

    code, out, err = cli(capsys, workspace, "data", "self-instruct", str(config), "--detach")
    queued = newest(manager, "generate", {job.id})
    assert code == 0 and out.splitlines() == [queued.run_dir]  # the run folder, for a script to pick up
    manager.cancel(queued.id, wait=True)


def test_self_instruct_failure_is_raised_with_the_resume_hint(workspace, manager, tmp_path, capsys, monkeypatch):
    from studio.data.self_instruct import summary
    from studio.jobs.events import read_progress

    with socket.socket() as sock:  # a port nothing listens on: the teacher cannot be reached
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = write_config(tmp_path, f"{{kind: endpoint, model: base, url: 'http://127.0.0.1:{port}/v1'}}")
    monkeypatch.setenv("STUDIO_LANG", "en")
    code, out, err = cli(capsys, workspace, "data", "self-instruct", str(config))
    job = newest(manager, "generate", set())
    assert code == 2 and out == "" and job.state == "failed", err
    lines = err.splitlines()
    assert summary(read_progress(job.run_dir).get("counts") or {}) in lines  # the counts, even on failure
    assert lines[-1] == f"error: job {job.id} failed: {job.error} — resume it with: studio jobs resume {job.id}"
