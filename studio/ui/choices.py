"""The lists every page offers (datasets, models, adapters, merged models, runs), in one place.

Each function asks the core (the dataset store, the model registry, the job manager) and returns
what a Dropdown or CheckboxGroup takes, so no page keeps its own copy of "which adapters are
there". `purpose` says what the list is for ("chat", "serve", "eval", "merge"): an artifact a
purpose cannot use is left out (`studio.merge.artifacts` decides).
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
    """(label, folder) of trained artifacts usable for `purpose` ("chat", "serve", "eval", "merge"), newest
    first, as `studio.merge.artifacts.list_usable` decides (finished runs and combined adapters)."""
    from ..merge import artifacts

    out = []
    for label, folder in artifacts.list_usable(studio.workspace, purpose):
        if " (combined)" in label:
            label = label.replace(f"{Path(folder).parent.name} (combined)",
                                  studio.t("common.combined", name=Path(folder).parent.name))
        out.append((label, folder))
    return out


def merged_models(studio, purpose: str = "chat") -> list[str]:
    """Models the studio made (merges, soups): every known model but the built-in ones."""
    return [m for m in models(studio) if m not in BUILTIN_MODELS]


def runs(studio, kind: str = "train", limit: int = 100) -> list[tuple[str, str]]:
    """(label, job id) of jobs of one kind, newest first (for pickers and run comparison)."""
    from .monitor import job_label

    return [(job_label(j, studio.t), j.id) for j in studio.manager.list(limit=limit, kind=kind)]
