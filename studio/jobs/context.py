"""What a job function gets inside its worker: its record, folder, events and the cancel flag."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from ..errors import JobCancelled
from ..workspace import Workspace
from .events import Events
from .store import Job


@dataclass
class JobContext:
    job: Job
    workspace: Workspace
    events: Events
    secrets: dict[str, str] = field(default_factory=dict)
    cancel_requested: bool = False
    # the job manager's `submit`, given by the local worker: how a job queues the job that follows it
    submitter: Callable | None = None
    # while True, SIGTERM only sets the flag (a training loop stops at the next step boundary);
    # while False it raises JobCancelled right away.
    cooperative: bool = False
    # a StudioError that ended the job, as `StudioError.record()` (key + arguments): written to exit.json
    error_record: dict | None = None

    @staticmethod
    def for_rank(job: Job, workspace: Workspace, rank: int) -> JobContext:
        """The context one training process (rank) of `job` trains with, built in that process: rank 0 in
        the real run folder, every other rank in a private `ranks/rank-N/` whose `checkpoints` links to the
        shared one. A local launch's ranks call it from `studio.jobs.ranks`; a Ray Train worker gets it
        with its job (`studio.train.ray_train`), so the train layer never imports the jobs layer."""
        import os

        from ..train.launch import RANKS_DIR
        from ..train.runner import CHECKPOINTS
        from .secrets import read_secrets

        if rank != 0:
            own = Path(job.run_dir) / RANKS_DIR / f"rank-{rank}"
            own.mkdir(parents=True, exist_ok=True)
            shared = Path(job.run_dir) / CHECKPOINTS
            shared.mkdir(exist_ok=True)
            link = own / CHECKPOINTS
            if not link.is_symlink():
                link.symlink_to(os.path.relpath(shared, own))
            job = replace(job, run_dir=str(own))
        return JobContext(job=job, workspace=workspace, events=Events(Path(job.run_dir)),
                          secrets=read_secrets(workspace.root, job.id))

    @property
    def run_dir(self) -> Path:
        return Path(self.job.run_dir)

    @property
    def spec(self) -> dict:
        return self.job.spec

    def stop_on_signals(self) -> None:
        """SIGTERM/SIGINT set the cancel flag; outside a cooperative section they stop the job at once.

        One rule for a local worker, each rank of a multi-process run and a cluster's worker."""
        import signal

        def on_term(signum, _frame):
            first = not self.cancel_requested
            self.cancel_requested = True
            if first:
                print(f"[studio] received signal {signum}: stopping", flush=True)
            if not self.cooperative:
                raise JobCancelled()

        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_term)

    def check_cancelled(self) -> None:
        if self.cancel_requested:
            raise JobCancelled()

    def progress(self, fraction: float | None, message: str, **extra) -> None:
        self.events.progress(fraction, message, **extra)
        self.check_cancelled()

    def queue_followup(self, kind: str, spec: dict, *, title: str, key: str) -> str | None:
        """Queue a job that follows this one (e.g. the probe after training); its id, or None where this
        context cannot queue (a rank of a multi-process run, a job on a cluster).

        The worker hands its context the manager's `submit`, so the layers a job function belongs to
        (train, recipe) never import the job manager. Submission is idempotent by `key`: a resumed job
        does not queue its follow-up twice; whoever moves the queue next starts it (this worker's exit).
        """
        if self.submitter is None:
            return None
        return self.submitter(kind, spec, title=title, owner=self.job.owner, key=key, start=False).id
