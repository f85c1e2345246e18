"""The workspace: the one folder that holds everything a user makes.

Datasets, runs (spec, logs, metrics, checkpoints, adapters), merged models, exports and the job
database all live below one root. The only thing written elsewhere is the model cache. Paths that
come from users go through `safe_name` / `inside` so nothing escapes the root.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import StudioError

ENV_WORKSPACE = "STUDIO_WORKSPACE"
ENV_CACHE = "STUDIO_CACHE"

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def default_root() -> Path:
    env = os.environ.get(ENV_WORKSPACE)
    return Path(env).expanduser() if env else Path.home() / "tune-studio"


def cache_root() -> Path:
    """Model cache (converted embedded model, tiny test model): outside the workspace, shared."""
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base) / "tune-studio"


def safe_name(name: str, what: str = "name") -> str:
    """Turn a user-typed name into one safe as a single path component."""
    cleaned = _SAFE.sub("-", (name or "").strip()).strip("-.")
    if not cleaned:
        raise StudioError(f"The {what} {name!r} is empty or has no usable characters",
                          "use letters, digits, '-', '_' or '.'")
    return cleaned[:80]


def timestamp_name(prefix: str) -> str:
    return f"{safe_name(prefix)}-{time.strftime('%Y%m%d-%H%M%S')}"


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def open(cls, root: str | os.PathLike | None = None) -> "Workspace":
        path = Path(root).expanduser() if root else default_root()
        path = path.resolve()
        try:
            for sub in ("datasets", "runs", "merged", "jobs", "exports", "uploads"):
                (path / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StudioError(f"Cannot use workspace folder {path}: {exc.strerror}",
                              "pass --workspace DIR with a folder you can write to") from exc
        return cls(path)

    @property
    def db_path(self) -> Path:
        return self.root / "studio.db"

    @property
    def datasets(self) -> Path:
        return self.root / "datasets"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def merged(self) -> Path:
        return self.root / "merged"

    @property
    def jobs(self) -> Path:
        return self.root / "jobs"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    def inside(self, path: str | os.PathLike) -> Path:
        """Resolve `path` and refuse it unless it lies inside the workspace."""
        resolved = Path(path).expanduser()
        if not resolved.is_absolute():
            resolved = self.root / resolved
        resolved = resolved.resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise StudioError(f"{path} is outside the workspace {self.root}",
                              "only files inside the workspace can be used here")
        return resolved

    def new_run_dir(self, name: str | None, prefix: str) -> Path:
        """A fresh, unique folder under runs/ (never reuses an existing run's folder)."""
        base = safe_name(name, "run name") if name else timestamp_name(prefix)
        candidate = self.runs / base
        n = 2
        while candidate.exists():
            candidate = self.runs / f"{base}-{n}"
            n += 1
        candidate.mkdir(parents=True)
        return candidate
