"""Named, versioned datasets in the workspace: `datasets/<name>/v<N>.jsonl` plus `meta.json`.

Saving writes a new version atomically; an old version is never overwritten in place.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from ..atomic import write_json, write_jsonl
from ..errors import StudioError
from ..workspace import safe_name

_VERSION = re.compile(r"^v(\d+)\.jsonl$")


def versions(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for p in folder.iterdir() if (m := _VERSION.match(p.name)))


def save_dataset(datasets_root: Path, name: str, rows: list[dict], fmt: str, note: str = "") -> Path:
    """Write rows as the next version of dataset `name`; returns the new file."""
    folder = Path(datasets_root) / safe_name(name, "dataset name")
    folder.mkdir(parents=True, exist_ok=True)
    version = (versions(folder) or [0])[-1] + 1
    path = write_jsonl(folder / f"v{version}.jsonl", rows)
    meta_path = folder / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {"name": folder.name, "versions": {}}
    meta["versions"][str(version)] = {"format": fmt, "rows": len(rows), "created": time.time(), "note": note}
    meta["latest"] = version
    write_json(meta_path, meta)
    return path


def list_datasets(datasets_root: Path) -> list[str]:
    root = Path(datasets_root)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and versions(p))


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
            raise StudioError(f"Dataset '{name}' has no version {ver}",
                              f"available: {', '.join(f'v{v}' for v in found)}")
        return folder / f"v{number}.jsonl"
    return folder / f"v{found[-1]}.jsonl"
