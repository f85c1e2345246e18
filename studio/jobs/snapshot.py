"""One shared, cached view of the job queue for everything that polls it (status bar, job panels).

Fifty open tabs each polling every few seconds must not mean fifty SQLite reads and fifty rounds of
process checks per interval: `snapshot(manager)` reconciles and reads at most once per `max_age`
seconds per workspace, for every caller in the process; while one caller refreshes, the others get
the previous snapshot at once instead of waiting.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from .store import Job

SIZE = 200  # jobs kept (newest first): what the job panels show


@dataclass(frozen=True)
class Snapshot:
    taken_at: float
    jobs: list[Job] = field(default_factory=list)

    @property
    def running(self) -> int:
        return sum(j.state == "running" for j in self.jobs)

    @property
    def queued(self) -> int:
        return sum(j.state == "queued" for j in self.jobs)

    def of_kind(self, kind: str) -> list[Job]:
        return [j for j in self.jobs if j.kind == kind]

    def find(self, job_id: str) -> Job | None:
        return next((j for j in self.jobs if j.id == job_id), None)


_lock = threading.Lock()
_cache: dict[str, Snapshot] = {}
_refreshing: set[str] = set()


def snapshot(manager, max_age: float = 2.0) -> Snapshot:
    """The queue as of at most `max_age` seconds ago (reconciled), shared by all callers of this process."""
    key = str(manager.store.db_path)
    with _lock:
        current = _cache.get(key)
        if current is not None and (time.time() - current.taken_at < max_age or key in _refreshing):
            return current
        _refreshing.add(key)
    try:
        fresh = Snapshot(time.time(), manager.list(limit=SIZE))
        with _lock:
            _cache[key] = fresh
        return fresh
    finally:
        with _lock:
            _refreshing.discard(key)


def invalidate(manager) -> None:
    """Drop the cached view (after this process changed the queue, so its user sees it at once)."""
    with _lock:
        _cache.pop(str(manager.store.db_path), None)
