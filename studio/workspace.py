"""The workspace: the one folder that holds everything a user makes.

Datasets, runs (spec, logs, metrics, checkpoints, adapters), merged models, exports and the job
database all live below one root. The only thing written elsewhere is the model cache. Paths that
come from users go through `safe_name` / `inside` so nothing escapes the root.
"""

from __future__ import annotations

import os
import re
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .errors import StudioError

ENV_WORKSPACE = "STUDIO_WORKSPACE"
ENV_CACHE = "STUDIO_CACHE"

_DOTS = re.compile(r"\.{2,}")
_DASHES = re.compile(r"-{2,}")
MAX_NAME_BYTES = 200  # file systems allow 255 bytes per name; CJK letters take 3 bytes each in UTF-8
STALE_EMPTY_RUN_S = 60.0  # an empty run folder this old was left by a submission that died half-way


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


def _keep(ch: str) -> bool:
    """Letters, digits and combining marks of any script, and '-', '_', '.'; never a separator or control."""
    return ch in "-_." or unicodedata.category(ch)[0] in "LNM"


def safe_name(name: str, what: str = "name") -> str:
    """Turn a user-typed name (in any script: 中文运行, Ünïcode, русский) into one safe path component.

    NFC-normalised; path separators, control characters, spaces and punctuation become '-'; runs of
    dots collapse (no '..'); leading and trailing dots and dashes go. The result can never leave the
    folder it is joined to.
    """
    text = unicodedata.normalize("NFC", (name or "").strip())
    cleaned = "".join(ch if _keep(ch) else "-" for ch in text)
    cleaned = _DASHES.sub("-", _DOTS.sub(".", cleaned)).strip("-.")
    while len(cleaned.encode("utf-8")) > MAX_NAME_BYTES:
        cleaned = cleaned[:-1]
    cleaned = cleaned.rstrip("-.")
    if not cleaned:
        raise StudioError(key="security.unusable_name", what=what, name=repr(name))
    return cleaned


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
            raise StudioError(key="security.workspace_unusable", path=str(path), reason=exc.strerror) from exc
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
            raise StudioError(key="security.outside_workspace", path=str(path), root=str(self.root))
        return resolved

    def new_run_dir(self, name: str | None, prefix: str) -> Path:
        """A fresh, unique folder under runs/ (never another run's folder).

        An *empty* folder of that name older than a minute was left by a submission that died between
        making it and recording its job: it is taken over (rmdir, then mkdir: both atomic, so two
        submitters never get the same folder).
        """
        base = safe_name(name, "run name") if name else timestamp_name(prefix)
        n = 1
        while True:
            candidate = self.runs / (base if n == 1 else f"{base}-{n}")
            n += 1
            try:
                candidate.mkdir(parents=True)
                return candidate
            except FileExistsError:
                if not _abandoned(candidate):
                    continue
            try:
                candidate.rmdir()
                candidate.mkdir()
                return candidate
            except OSError:
                continue


def _abandoned(folder: Path) -> bool:
    try:
        return (folder.is_dir() and not any(folder.iterdir())
                and time.time() - folder.stat().st_mtime > STALE_EMPTY_RUN_S)
    except OSError:
        return False
