"""The lists every page offers (datasets, models, adapters, merged models, runs), in one place.

Each function asks the core (the dataset store, the model registry, the job manager) and returns
what a Dropdown or CheckboxGroup takes, so no page keeps its own copy of "which adapters are
there". `purpose` says what the list is for ("chat", "serve", "eval", "merge"): an artifact a
purpose cannot use is left out.
"""

from __future__ import annotations

from pathlib import Path

BUILTIN_MODELS = ("smollm2-135m-instruct", "tiny-random-llama")
DEFAULT_MODEL = "smollm2-135m-instruct"


def datasets(studio) -> list[str]:
    """Saved datasets by name (the Data page saves them)."""
    from ..data import store

    return store.list_datasets(studio.workspace.datasets)


def models(studio) -> list[str]:
    """Every model name the registry knows: built-in, registered and merged."""
    from ..models import known_models

    return known_models(studio.workspace.root)


def adapters(studio, purpose: str = "chat") -> list[tuple[str, str]]:
    """(label, folder) of finished runs' adapters and of combined adapters kept beside merged models."""
    from ..runs import finished_adapters

    out = list(finished_adapters(studio.manager))
    for folder in sorted(studio.workspace.merged.glob("*/adapter")):
        if (folder / "adapter_config.json").is_file():
            out.append((studio.t("common.combined", name=folder.parent.name), str(folder)))
    return [(label, path) for label, path in out if usable(path, purpose)]


def merged_models(studio, purpose: str = "chat") -> list[str]:
    """Models the studio made (merges, soups): every known model but the built-in ones."""
    return [m for m in models(studio) if m not in BUILTIN_MODELS]


def runs(studio, kind: str = "train", limit: int = 100) -> list[tuple[str, str]]:
    """(label, job id) of jobs of one kind, newest first (for pickers and run comparison)."""
    from .monitor import job_label

    return [(job_label(j), j.id) for j in studio.manager.list(limit=limit, kind=kind)]


def usable(folder: str | Path, purpose: str) -> bool:
    """Whether an artifact folder can be used for `purpose`, as `studio.merge.artifacts` says
    (when it has an opinion; otherwise every existing folder is offered)."""
    try:
        from ..merge import artifacts
    except ImportError:  # pragma: no cover - the merge package is part of the studio
        return Path(folder).exists()
    check = getattr(artifacts, "usable_for", None)
    if check is None:
        return Path(folder).exists()
    try:
        return bool(check(folder, purpose))
    except Exception:  # noqa: BLE001 - an unreadable folder is simply not offered
        return False
