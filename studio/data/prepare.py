"""From a DataSpec to trl-ready `datasets.Dataset`s, failing early with findings that name the row."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StudioError
from . import formats, mapping, store
from .checks import check_rows
from .findings import DataError, Finding
from .readers import Table, read_table, split_ref

__all__ = ["Loaded", "Prepared", "locate", "load_rows", "prepare", "check_rows", "apply_columns"]


@dataclass
class Loaded:
    table: Table
    format: str
    warnings: list[Finding] = field(default_factory=list)
    source: Path | None = None


@dataclass
class Prepared:
    train: object  # datasets.Dataset
    eval: object | None
    format: str
    rows: int
    warnings: list[Finding] = field(default_factory=list)


def locate(path: str, workspace_root: Path | None) -> Path:
    """A file, a folder (`folder#name` picks one dataset in it), or a saved dataset `name[@vN]`."""
    if not path:
        raise StudioError(key="data_prepare.no_data")
    base, sub = split_ref(path)
    if base.exists():
        return Path(f"{base}#{sub}") if sub else base
    if workspace_root is not None:
        found = store.resolve(Path(workspace_root) / "datasets", path)
        if found is not None:
            return found
    raise StudioError(key="data_prepare.not_found", path=path)


def apply_columns(table: Table, columns: dict[str, str]) -> None:
    if not columns:
        return
    present = set(table.columns)
    missing = [src for src in columns if src not in present]
    if missing:
        raise StudioError(key="data_prepare.no_such_column", file=table.file, column=missing[0],
                          columns=", ".join(sorted(present)))
    table.rows = [{columns.get(k, k): v for k, v in row.items()} for row in table.rows]


_apply_columns = apply_columns  # the name the first version used


def detect_format(table: Table) -> str:
    if table.format_hint:
        return table.format_hint
    present = table.columns
    detected = formats.detect(set(present))
    if detected is None:
        guess, suggestion = mapping.suggest(present)
        columns = ", ".join(sorted(present))
        if guess:
            raise StudioError(key="data_prepare.unknown_format_map", file=table.file, columns=columns,
                              mapping=mapping.as_args(suggestion))
        known = "; ".join(f"{f.name}: {', '.join(f.required)}" for f in formats.FORMATS.values())
        raise StudioError(key="data_prepare.unknown_format", file=table.file, columns=columns, known=known)
    return detected


def load_rows(path: str, fmt_name: str = "auto", columns: dict[str, str] | None = None,
              workspace_root: Path | None = None) -> Loaded:
    """Read, map and check a data file; raise DataError listing every row-level error."""
    source = locate(path, workspace_root)
    table = read_table(source)
    if not table.rows:
        raise DataError([Finding.of("error", "data_checks.no_rows", file=table.file)])
    apply_columns(table, columns or {})
    fmt_name = detect_format(table) if fmt_name in ("auto", "", None) else fmt_name
    fmt = formats.get(fmt_name)
    errors, warnings = check_rows(table, fmt)
    if errors:
        raise DataError(errors)
    return Loaded(table, fmt_name, warnings, source)


def convert_all(loaded: Loaded, target: str, system_prompt: str | None = None) -> list[dict]:
    return formats.convert_rows(formats.get(loaded.format), target, loaded.table.rows, system_prompt)


def split_rows(rows: list[dict], val_size: float, seed: int) -> tuple[list[dict], list[dict]]:
    if val_size <= 0 or len(rows) < 2:
        return rows, []
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    n_eval = min(len(rows) - 1, max(1, int(round(len(rows) * val_size))))
    return [rows[i] for i in order[n_eval:]], [rows[i] for i in order[:n_eval]]


def prepare(spec, target: str, workspace_root: Path | None = None, seed: int = 42) -> Prepared:
    """Rows of `spec` (a DataSpec) converted for a stage's `target`, split into train/eval.

    A saved dataset version with a held-out split (saved from the Data tab) uses that split unless
    the spec asks for its own `val_size`.
    """
    from datasets import Dataset

    loaded = load_rows(spec.path, spec.format, spec.columns, workspace_root)
    rows = convert_all(loaded, target, spec.system_prompt)
    if spec.max_rows:
        rows = rows[: spec.max_rows]
    saved_eval = store.validation_of(loaded.source) if loaded.source and spec.val_size <= 0 else None
    if saved_eval is not None:
        held = load_rows(str(saved_eval), loaded.format, None)
        eval_rows = convert_all(held, target, spec.system_prompt)
    else:
        rows, eval_rows = split_rows(rows, spec.val_size, seed)
    train = Dataset.from_list(rows)
    evaluation = Dataset.from_list(eval_rows) if eval_rows else None
    note = formats.conversion_finding(formats.get(loaded.format), target, len(loaded.table.rows),
                                      file=str(loaded.source or spec.path))
    warnings = loaded.warnings + ([note] if note else [])
    return Prepared(train, evaluation, loaded.format, len(rows), warnings)
