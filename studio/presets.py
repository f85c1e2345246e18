"""Presets: YAML files holding a partial run spec plus a `preset:` block describing it.

Found in the project's `presets/` folder and in `<workspace>/presets/` (the user's own). A preset is
loaded by the Method tab and by `studio train --preset NAME`; it is plain spec YAML, so anything
`studio train RUN.yaml` accepts works in a preset too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import StudioError
from .spec import load_yaml

BUILTIN = Path(__file__).resolve().parents[1] / "presets"


@dataclass(frozen=True)
class Preset:
    name: str
    path: Path
    description: dict
    hardware: str
    spec: dict

    def text(self, lang: str = "en") -> str:
        return self.description.get(lang) or self.description.get("en", "")


def _folders(workspace_root: Path | None) -> list[Path]:
    folders = [BUILTIN]
    if workspace_root is not None:
        folders.append(Path(workspace_root) / "presets")
    return folders


def _read(path: Path) -> Preset:
    raw = load_yaml(path)
    meta = raw.pop("preset", {}) or {}
    desc = meta.get("description", {})
    if isinstance(desc, str):
        desc = {"en": desc}
    return Preset(path.stem, path, desc, str(meta.get("hardware", "")), raw)


def list_presets(workspace_root: Path | None = None) -> list[Preset]:
    found: dict[str, Preset] = {}
    for folder in _folders(workspace_root):
        if folder.is_dir():
            for path in sorted(folder.glob("*.yaml")):
                found[path.stem] = _read(path)
    return list(found.values())


def get_preset(name: str, workspace_root: Path | None = None) -> Preset:
    presets = {p.name: p for p in list_presets(workspace_root)}
    if name not in presets:
        raise StudioError(key="presets.unknown_preset", name=name, presets=', '.join(presets))
    return presets[name]
