"""Named, versioned datasets in the workspace: `datasets/<name>/v<N>.jsonl` plus `meta.json`.

Saving writes a new version atomically; an old version is never overwritten in place. A version
may carry a held-out split, `v<N>.validation.jsonl`, written before `v<N>.jsonl` so that a version
is complete as soon as its main file exists. Two saves racing for the same number cannot clobber
each other: the version file is claimed with an exclusive create before it is filled.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from ..atomic import write_json, write_jsonl
from ..errors import StudioError
from ..workspace import safe_name

_VERSION = re.compile(r"^v(\d+)\.jsonl$")
VALIDATION = ".validation.jsonl"


def versions(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for p in folder.iterdir() if (m := _VERSION.match(p.name)) and p.stat().st_size)


def _claim(folder: Path) -> int:
    """The next free version number, reserved by creating an empty placeholder file."""
    taken = {int(m.group(1)) for p in folder.iterdir() if (m := _VERSION.match(p.name))}
    version = max(taken, default=0) + 1
    while True:
        try:
            os.close(os.open(folder / f"v{version}.jsonl", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            return version
        except FileExistsError:
            version += 1


def validation_of(path: Path) -> Path | None:
    """The held-out split saved with a version file, if any."""
    candidate = Path(path).with_name(Path(path).stem + VALIDATION)
    return candidate if candidate.is_file() else None


def save_dataset(datasets_root: Path, name: str, rows: list[dict], fmt: str, note: str = "",
                 validation: list[dict] | None = None) -> Path:
    """Write rows as the next version of dataset `name`; returns the new file."""
    if not rows:
        raise StudioError(key="data_store.no_rows")
    folder = Path(datasets_root) / safe_name(name, "dataset name")
    folder.mkdir(parents=True, exist_ok=True)
    version = _claim(folder)
    path = folder / f"v{version}.jsonl"
    try:
        if validation:
            write_jsonl(folder / f"v{version}{VALIDATION}", validation)
        write_jsonl(path, rows)
    except BaseException:
        path.unlink(missing_ok=True)
        (folder / f"v{version}{VALIDATION}").unlink(missing_ok=True)
        raise
    meta_path = folder / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {"name": folder.name, "versions": {}}
    meta["versions"][str(version)] = {"format": fmt, "rows": len(rows), "validation_rows": len(validation or []),
                                      "created": time.time(), "note": note}
    meta["latest"] = max(int(v) for v in meta["versions"])
    write_json(meta_path, meta)
    return path


def list_datasets(datasets_root: Path) -> list[str]:
    root = Path(datasets_root)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and versions(p))


def info(datasets_root: Path, name: str) -> dict:
    """meta.json of a dataset: {name, latest, versions: {N: {format, rows, validation_rows, created, note}}}."""
    path = Path(datasets_root) / safe_name(name, "dataset name") / "meta.json"
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {"name": name, "versions": {}}


def resolve(datasets_root: Path, ref: str) -> Path | None:
    """`name` (latest) or `name@vN` to its file; None when no such dataset exists."""
    name, _, ver = ref.partition("@")
    try:
        folder = Path(datasets_root) / safe_name(name)
    except StudioError:
        return None
    found = versions(folder)
    if not found:
        return None
    if ver:
        number = int(ver.lstrip("v")) if ver.lstrip("v").isdigit() else -1
        if number not in found:
            raise StudioError(key="data_store.no_version", name=name, version=ver,
                              versions=", ".join(f"v{v}" for v in found))
        return folder / f"v{number}.jsonl"
    return folder / f"v{found[-1]}.jsonl"


def export_jsonl(exports_root: Path, name: str, rows: list[dict]) -> Path:
    """Write rows to a new file in the workspace's exports folder (never a path the user typed)."""
    base = safe_name(name, "file name")
    base = base[:-6] if base.endswith(".jsonl") else base
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(exports_root) / f"{base}-{stamp}.jsonl"
    n = 2
    while path.exists():
        path = Path(exports_root) / f"{base}-{stamp}-{n}.jsonl"
        n += 1
    return write_jsonl(path, rows)
