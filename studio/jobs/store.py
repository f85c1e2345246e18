"""The job store: one SQLite table, WAL mode, `synchronous=FULL`, compare-and-set transitions.

A record is written (and fsynced) before anyone is told a job is queued, so an accepted job is
never lost. State changes go through `transition`, which only applies when the job is still in
an expected state; two processes racing to start or finish a job cannot both win.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import StudioError

STATES = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")
TERMINAL = ("succeeded", "failed", "cancelled")
ACTIVE = ("queued", "running")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    key TEXT UNIQUE,
    kind TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    pool TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    updated_at REAL NOT NULL,
    pid INTEGER,
    pid_started REAL,
    run_dir TEXT NOT NULL,
    exit_code INTEGER,
    error TEXT,
    artifacts TEXT NOT NULL DEFAULT '{}',
    attempts INTEGER NOT NULL DEFAULT 0,
    cancel_requested_at REAL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, pool, seq);
"""

_JSON_FIELDS = ("spec", "artifacts")


@dataclass
class Job:
    id: str
    kind: str
    spec: dict
    state: str
    pool: str
    run_dir: str
    created_at: float
    updated_at: float
    key: str | None = None
    title: str = ""
    owner: str = ""
    started_at: float | None = None
    ended_at: float | None = None
    pid: int | None = None
    pid_started: float | None = None
    exit_code: int | None = None
    error: str | None = None
    artifacts: dict = field(default_factory=dict)
    attempts: int = 0
    cancel_requested_at: float | None = None
    seq: int | None = None

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    def public(self) -> dict[str, Any]:
        """The record as shown by `studio jobs list --json` (no secrets are ever stored in it)."""
        data = asdict(self)
        data.pop("seq", None)
        return data


def new_job_id(kind: str) -> str:
    return f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


class JobStore:
    def __init__(self, db_path: str | Path):
        self.db_path = Path(db_path)
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
        finally:
            db.close()

    @contextmanager
    def _connect(self, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    @staticmethod
    def _row(row: sqlite3.Row) -> Job:
        data = dict(row)
        for name in _JSON_FIELDS:
            data[name] = json.loads(data[name]) if data[name] else {}
        return Job(**data)

    def insert(self, job: Job) -> Job:
        """Insert `job`; if a job with the same key exists, return that one instead (idempotent)."""
        data = job.public()
        for name in _JSON_FIELDS:
            data[name] = json.dumps(data[name], ensure_ascii=False, default=str)
        cols = ", ".join(data)
        marks = ", ".join(f":{c}" for c in data)
        with self._connect(immediate=True) as db:
            if job.key:
                found = db.execute("SELECT * FROM jobs WHERE key = ?", (job.key,)).fetchone()
                if found:
                    return self._row(found)
            db.execute(f"INSERT INTO jobs ({cols}) VALUES ({marks})", data)
            return self._row(db.execute("SELECT * FROM jobs WHERE id = ?", (job.id,)).fetchone())

    def get(self, job_id: str) -> Job | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._row(row) if row else None

    def list(self, states: tuple[str, ...] | None = None, kind: str | None = None, limit: int = 200) -> list[Job]:
        sql, args = "SELECT * FROM jobs", []
        where = []
        if states:
            where.append(f"state IN ({', '.join('?' * len(states))})")
            args += list(states)
        if kind:
            where.append("kind = ?")
            args.append(kind)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq DESC LIMIT ?"
        args.append(limit)
        with self._connect() as db:
            return [self._row(r) for r in db.execute(sql, args).fetchall()]

    def update(self, job_id: str, **fields: Any) -> None:
        self.transition(job_id, None, **fields)

    def transition(self, job_id: str, expected: tuple[str, ...] | None, **fields: Any) -> bool:
        """Set `fields` only if the job's state is in `expected` (None: any). True if applied."""
        fields["updated_at"] = time.time()
        for name in _JSON_FIELDS:
            if name in fields:
                fields[name] = json.dumps(fields[name], ensure_ascii=False, default=str)
        sets = ", ".join(f"{k} = :{k}" for k in fields)
        sql = f"UPDATE jobs SET {sets} WHERE id = :_id"
        params = dict(fields, _id=job_id)
        if expected:
            sql += f" AND state IN ({', '.join(f':_s{i}' for i in range(len(expected)))})"
            params.update({f"_s{i}": s for i, s in enumerate(expected)})
        with self._connect(immediate=True) as db:
            return db.execute(sql, params).rowcount == 1

    def claim_and_spawn(self, pool: str, limit: int, spawn: Callable[[Job], tuple[int, float | None]]) -> Job | None:
        """Move the oldest queued job of `pool` to running *and* start its worker, as one transaction.

        `spawn(job)` starts the worker while this process holds the write lock; its pid is written in
        the same commit. If this process dies before the commit, the claim rolls back (the job stays
        queued) and a worker already started finds the job not claimed for it and exits; so no record
        ever says "running" without a worker pid, and a claim and its spawn cannot be torn apart.
        If `spawn` raises OSError the job is recorded as failed.
        """
        with self._connect(immediate=True) as db:
            running = db.execute("SELECT COUNT(*) FROM jobs WHERE state = 'running' AND pool = ?",
                                 (pool,)).fetchone()[0]
            if running >= limit:
                return None
            row = db.execute("SELECT * FROM jobs WHERE state = 'queued' AND pool = ? ORDER BY seq LIMIT 1",
                             (pool,)).fetchone()
            if row is None:
                return None
            now = time.time()
            db.execute("UPDATE jobs SET state = 'running', started_at = ?, updated_at = ?, pid = NULL, "
                       "pid_started = NULL, exit_code = NULL, error = NULL, ended_at = NULL, "
                       "attempts = attempts + 1 WHERE id = ?", (now, now, row["id"]))
            job = self._row(db.execute("SELECT * FROM jobs WHERE id = ?", (row["id"],)).fetchone())
            try:
                pid, started = spawn(job)
            except (OSError, StudioError) as exc:  # a StudioError: a cluster refused the submission
                error = exc.one_line() if isinstance(exc, StudioError) else f"could not start the worker process: {exc}"
                db.execute("UPDATE jobs SET state = 'failed', ended_at = ?, error = ? WHERE id = ?",
                           (time.time(), error, job.id))
                return self._row(db.execute("SELECT * FROM jobs WHERE id = ?", (job.id,)).fetchone())
            db.execute("UPDATE jobs SET pid = ?, pid_started = ? WHERE id = ?", (pid, started, job.id))
            return self._row(db.execute("SELECT * FROM jobs WHERE id = ?", (job.id,)).fetchone())

    def confirm_worker(self, job_id: str, pid: int) -> Job | None:
        """The worker's first act: the job must be running *and* claimed for this very process."""
        with self._connect(immediate=True) as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ? AND state = 'running' AND pid = ?",
                             (job_id, pid)).fetchone()
            return self._row(row) if row else None

    def pools_with_queued(self) -> list[str]:
        with self._connect() as db:
            return [r[0] for r in db.execute("SELECT DISTINCT pool FROM jobs WHERE state = 'queued'").fetchall()]
