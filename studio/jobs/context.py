"""What a job function gets inside its worker: its record, folder, events and the cancel flag."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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
    # while True, SIGTERM only sets the flag (a training loop stops at the next step boundary);
    # while False it raises JobCancelled right away.
    cooperative: bool = False

    @property
    def run_dir(self) -> Path:
        return Path(self.job.run_dir)

    @property
    def spec(self) -> dict:
        return self.job.spec

    def check_cancelled(self) -> None:
        if self.cancel_requested:
            raise JobCancelled()

    def progress(self, fraction: float | None, message: str, **extra) -> None:
        self.events.progress(fraction, message, **extra)
        self.check_cancelled()
