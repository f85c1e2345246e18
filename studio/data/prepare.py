"""From a DataSpec to trl-ready `datasets.Dataset`s, failing early with findings that name the row."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StudioError
from . import formats, store
from .findings import DataError, Finding
from .readers import Table, read_table


@dataclass
class Loaded:
    table: Table
    format: str
    warnings: list[Finding] = field(default_factory=list)


@dataclass
class Prepared:
    train: object  # datasets.Dataset
    eval: object | None
    format: str
    rows: int
    warnings: list[Finding] = field(default_factory=list)


def locate(path: str, workspace_root: Path | None) -> Path:
    if not path:
        raise StudioError("No training data chosen", "upload a file in the Data tab or pass --data FILE")
    candidate = Path(path).expanduser()
    if candidate.exists():
        return candidate
    if workspace_root is not None:
        found = store.resolve(Path(workspace_root) / "datasets", path)
        if found is not None:
            return found
    raise StudioError(f"Data '{path}' not found: not a file and not a saved dataset",
                      "check the path, or save the data in the Data tab first")


def _apply_columns(table: Table, columns: dict[str, str]) -> None:
    if not columns:
        return
    present = set().union(*(r.keys() for r in table.rows)) if table.rows else set()
    missing = [src for src in columns if src not in present]
    if missing:
        raise StudioError(f"{table.file}: column '{missing[0]}' in the mapping is not in the file",
                          f"columns found: {', '.join(sorted(present))}")
    table.rows = [{columns.get(k, k): v for k, v in row.items()} for row in table.rows]


def check_rows(table: Table, fmt: formats.Format) -> tuple[list[Finding], list[Finding]]:
    errors: list[Finding] = []
    warnings: list[Finding] = []
    seen: dict[str, int] = {}
    for i, row in enumerate(table.rows):
        where = dict(file=table.file, line=table.line_of(i), row=i + 1)
        for name in fmt.required:
            if name not in row:
                errors.append(Finding("error", "missing", f"add '{name}' to this row", field=name, **where))
        if any(name not in row for name in fmt.required):
            continue
        for field_name, message, hint in fmt.check(row):
            errors.append(Finding("error", message, hint, field=field_name, **where))
        key = repr(sorted(row.items(), key=lambda kv: kv[0]))
        if key in seen:
            warnings.append(Finding("warning", f"duplicate of row {seen[key]}", "drop duplicates in the Data tab",
                                    **where))
        else:
            seen[key] = i + 1
    return errors, warnings


def load_rows(path: str, fmt_name: str = "auto", columns: dict[str, str] | None = None,
              workspace_root: Path | None = None) -> Loaded:
    """Read, map and check a data file; raise DataError listing every row-level error."""
    table = read_table(locate(path, workspace_root))
    if not table.rows:
        raise DataError([Finding("error", "has no rows", "add at least one example", file=table.file)])
    _apply_columns(table, columns or {})
    if fmt_name == "auto":
        present = set().union(*(r.keys() for r in table.rows))
        detected = formats.detect(present)
        if detected is None:
            known = "; ".join(f"{f.name}: {', '.join(f.required)}" for f in formats.FORMATS.values())
            raise StudioError(f"{table.file}: cannot tell the format from columns {', '.join(sorted(present))}",
                              f"map your columns to one of these ({known})")
        fmt_name = detected
    fmt = formats.get(fmt_name)
    errors, warnings = check_rows(table, fmt)
    if errors:
        raise DataError(errors)
    return Loaded(table, fmt_name, warnings)


def prepare(spec, target: str, workspace_root: Path | None = None, seed: int = 42) -> Prepared:
    """Rows of `spec` (a DataSpec) converted for a stage's `target`, split into train/eval."""
    from datasets import Dataset

    loaded = load_rows(spec.path, spec.format, spec.columns, workspace_root)
    convert = formats.converter(formats.get(loaded.format), target)
    rows = [convert(r, spec.system_prompt) for r in loaded.table.rows]
    if spec.max_rows:
        rows = rows[: spec.max_rows]
    eval_rows: list[dict] = []
    if spec.val_size > 0 and len(rows) > 1:
        order = list(range(len(rows)))
        random.Random(seed).shuffle(order)
        n_eval = max(1, int(round(len(rows) * spec.val_size)))
        eval_rows = [rows[i] for i in order[:n_eval]]
        rows = [rows[i] for i in order[n_eval:]]
    train = Dataset.from_list(rows)
    evaluation = Dataset.from_list(eval_rows) if eval_rows else None
    return Prepared(train, evaluation, loaded.format, len(rows), loaded.warnings)
