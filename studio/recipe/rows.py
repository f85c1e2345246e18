"""Reading a spec's data for the recipe: row counts, the held-out rows, `auto` resolved from the data."""

from __future__ import annotations

from pathlib import Path

from ..errors import StudioError
from ..spec import RunSpec
from .auto import Resolved, resolve


def count_rows(spec: RunSpec, workspace_root: Path | None) -> tuple[int, int | None, list[dict]]:
    """(rows used, rows of a saved validation split or None, the rows the run will hold out as prompt/reference)."""
    from ..data import store
    from ..data.prepare import convert_all, load_rows

    loaded = load_rows(spec.data.path, spec.data.format, spec.data.columns, workspace_root)
    rows = convert_all(loaded, "sft", spec.data.system_prompt) if spec.stage == "sft" else loaded.table.rows
    if spec.data.max_rows:
        rows = rows[: spec.data.max_rows]
    saved = store.validation_of(loaded.source) if loaded.source else None
    saved_rows = len(load_rows(str(saved), loaded.format, None).table.rows) if saved is not None else None
    return len(rows), saved_rows, rows


def resolve_for(spec: RunSpec, workspace_root: Path | None = None) -> tuple[RunSpec, Resolved]:
    """Resolve every `auto` of `spec` from its data (reads the data file)."""
    from ..replay.prompts import available_for_mix

    rows, saved_rows, _ = count_rows(spec, workspace_root)
    return resolve(spec, rows, available_for_mix(), saved_rows)


def held_out_rows(concrete: RunSpec, all_rows: list[dict]) -> list[dict]:
    """The prompt/reference pairs the train job will hold out (same split, same seed)."""
    from ..data.prepare import split_rows

    _train, held = split_rows(all_rows, float(concrete.data.val_size), concrete.training.seed)
    out = []
    for row in held:
        if "prompt" in row and "completion" in row:
            users = [m["content"] for m in row["prompt"] if m["role"] == "user"]
            answers = [m["content"] for m in row["completion"] if m["role"] == "assistant"]
            if users and answers:
                out.append({"prompt": users[-1], "reference": answers[-1]})
    return out


def concrete(spec: RunSpec, workspace_root: Path | None = None) -> RunSpec:
    """`spec` with its `auto` values resolved from the data, for code that needs numbers (the estimate).

    Data that cannot be read yet (none chosen) resolves as zero rows: the smallest run the rules allow.
    """
    from .auto import has_auto

    if not has_auto(spec):
        return spec
    try:
        return resolve_for(spec, workspace_root)[0]
    except StudioError:
        return resolve(spec, 0)[0]
