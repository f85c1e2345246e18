"""Starting and finding training runs: the one path the UI and the CLI both use."""

from __future__ import annotations

from pathlib import Path

from .jobs import Job, JobManager
from .spec import RunSpec


def preflight(spec: RunSpec, workspace_root: Path) -> list[str]:
    """Check what can be checked before a job exists (model name, data rows); returns warnings."""
    from . import stages
    from .data import formats
    from .data.prepare import load_rows
    from .models.registry import check_name

    check_name(spec.model.name, spec.model.allow_pickle)
    loaded = load_rows(spec.data.path, spec.data.format, spec.data.columns, workspace_root)
    formats.converter(formats.get(loaded.format), stages.REGISTRY.get(spec.stage).data_target)
    from .estimate import check as memory_check  # refuses a run that cannot fit in memory

    return [f.one_line() for f in loaded.warnings] + memory_check(spec, workspace_root)


def start_training(manager: JobManager, spec: RunSpec, owner: str | None = None, key: str | None = None) -> Job:
    """Validate, make the run folder and queue the job (the record is durable before this returns)."""
    preflight(spec, manager.workspace.root)
    if key:
        for job in manager.store.list(limit=1000):
            if job.key == key:
                return job
    run_dir = manager.workspace.new_run_dir(spec.name, f"{spec.stage}-{spec.method}")
    title = f"{spec.stage.upper()} · {spec.method} · {Path(spec.model.name).name}"
    return manager.submit("train", spec.model_dump(mode="json"), title=title, owner=owner, key=key,
                          run_dir=run_dir)


def finished_adapters(manager: JobManager) -> list[tuple[str, str]]:
    """(label, adapter folder) of every succeeded training run, newest first."""
    out = []
    for job in manager.list(kind="train"):
        adapter = job.artifacts.get("adapter")
        if job.state == "succeeded" and adapter and Path(adapter).is_dir():
            out.append((f"{Path(job.run_dir).name} ({job.spec.get('model', {}).get('name', '')})", adapter))
    return out
