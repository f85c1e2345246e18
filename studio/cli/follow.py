"""Following a job from a terminal: say which job it is, wait while showing its progress, report the end.

Every command that runs as a job (train, merge, eval, eval --harness, export, probe, data self-instruct,
data from-docs) does the same steps after it submits its spec; they live here once so that what a user
reads while waiting, how a failure is told (in the CLI's language, STUDIO_LANG) and the exit codes are
the same for all of them:

    0    the job succeeded (its result printed by the command's `report`), or it was queued with --detach
    1    the job failed or was cancelled (`error: job ID STATE: what went wrong`)
    2    the same, for the commands that report it as a StudioError (`main` prints it, with the hint)
    130  Ctrl-C while following: the job goes on, and the line says how to cancel it

A command keeps only what is its own: building the spec, submitting it, and printing its result.
Commands whose job is a server they stay attached to (serve, tensorboard) only `announce` here.
"""

from __future__ import annotations

import sys
from typing import Callable


def printer():
    """A job-update callback that prints the state and progress line when it changes."""
    last = {"text": ""}

    def show(job) -> None:
        from ..jobs.events import read_progress

        prog = read_progress(job.run_dir)
        text = f"[{job.state}] {prog.get('message', '')}"
        if prog.get("eta_s"):
            text += f"  ETA {int(prog['eta_s'] // 60)}m{int(prog['eta_s'] % 60):02d}s"
        if text != last["text"]:
            print(text, file=sys.stderr, flush=True)
            last["text"] = text

    return show


def announce(job) -> None:
    """The first line every job command prints (stderr): which job, and whether it started or waits."""
    print(f"job {job.id} {job.state}", file=sys.stderr, flush=True)


def follow(manager, job, report: Callable | None = None, *, detach: bool = False, before: Callable | None = None,
           raise_failure: bool = False, progress: bool = True, run_dir_on_detach: bool = False) -> int:
    """Announce `job`, wait for it and report how it ended; the exit code (see the module docstring).

    `before(job)` runs on the ended job whatever its state (warnings, counts), `report(job)` only on
    success (the result); `raise_failure` reports a failure as a StudioError instead of a line and
    exit code 1; `run_dir_on_detach` prints the run folder (stdout) for a script to pick up."""
    announce(job)
    if detach:
        if run_dir_on_detach:
            print(job.run_dir)
        return 0
    done = wait(manager, job, progress)
    if done is None:
        return 130
    if before:
        before(done)
    if done.state != "succeeded":
        return failed(done, raise_failure)
    if report:
        report(done)
    return 0


def wait(manager, job, progress: bool = True):
    """The ended job, or None when the user pressed Ctrl-C (the job goes on without the terminal)."""
    try:
        return manager.wait(job.id, poll=1.0, on_update=printer() if progress else None)
    except KeyboardInterrupt:
        print(f"\nstopped following; the job goes on. Cancel it with: studio jobs cancel {job.id}", file=sys.stderr)
        return None


def failure(job):
    """Why `job` did not succeed, as a StudioError: its error, or where its log is when it has none."""
    from .. import i18n
    from ..errors import StudioError
    from ..jobs.failure import error_text

    if job.error:
        return StudioError(key="cli.job_failed", id=job.id, state=job.state,
                           detail=error_text(job, i18n.default_lang()))
    return StudioError(key="cli.job_failed_log", id=job.id, state=job.state, log=f"{job.run_dir}/worker.log")


def failed(job, raise_failure: bool = False) -> int:
    """Tell the user the job failed: raised (exit 2, with the hint) or one `error:` line and exit 1."""
    from .. import i18n

    error = failure(job)
    if raise_failure:
        raise error
    print(f"error: {i18n.text(error.key + '.msg', i18n.default_lang(), **error.args_)}", file=sys.stderr)
    return 1


def read_artifact(job, name: str) -> dict:
    """A JSON file the job listed among its artifacts (a report, a summary)."""
    import json
    from pathlib import Path

    return json.loads(Path(job.artifacts[name]).read_text(encoding="utf-8"))
