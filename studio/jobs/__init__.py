"""Jobs: every long action is a durable record in SQLite run by a detached worker process."""

from .manager import JobManager
from .store import ACTIVE, STATES, TERMINAL, Job, JobStore

__all__ = ["ACTIVE", "STATES", "TERMINAL", "Job", "JobManager", "JobStore"]
