"""Row-level checks: each problem becomes a Finding that names the file, line, row and field.

- missing or empty required fields, wrong types, malformed turns, chosen == rejected (the format's
  own `check`);
- mixed types in one column, caught before Arrow fails deep inside `Dataset.from_list` with
  "changed from string to number in row 1232";
- duplicate rows;
- rows longer than the chosen max length in tokens of the chosen model, measured the way trl
  tokenizes them (`lengths.row_token_lengths`), so what we report is what trl would cut.
"""

from __future__ import annotations

import json
from typing import Callable

from . import formats
from .findings import Finding
from .readers import Table


def type_name(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def mixed_types(table: Table, skip: set[tuple[int, str]]) -> list[Finding]:
    """Rows whose value has a different type than most rows of the same column.

    Warnings: the format's own check already makes a wrong type an error where training would
    break (text fields, turns); this catches the rest before any tool hands the file to Arrow.
    """
    seen: dict[str, dict[str, list[int]]] = {}
    for i, row in enumerate(table.rows):
        for key, value in row.items():
            kind = type_name(value)
            if kind is not None:
                seen.setdefault(key, {}).setdefault(kind, []).append(i)
    out = []
    for key, kinds in seen.items():
        if len(kinds) < 2:
            continue
        major = max(kinds, key=lambda k: len(kinds[k]))
        for kind, rows in kinds.items():
            if kind == major:
                continue
            for i in rows:
                if (i, key) in skip:
                    continue
                out.append(Finding("warning", f"is {kind} here but {major} in {len(kinds[major])} other rows",
                                   f"make every '{key}' {major} (Arrow stores one type per column)",
                                   file=table.file, line=table.line_of(i), row=i + 1, field=key))
    return out


def row_key(row: dict) -> str:
    return json.dumps(row, sort_keys=True, ensure_ascii=False, default=str)


def check_rows(table: Table, fmt: formats.Format) -> tuple[list[Finding], list[Finding]]:
    errors: list[Finding] = []
    warnings: list[Finding] = list(table.notes)
    seen: dict[str, int] = {}
    flagged: set[tuple[int, str]] = set()
    for i, row in enumerate(table.rows):
        where = dict(file=table.file, line=table.line_of(i), row=i + 1)
        missing = [name for name in fmt.required if name not in row]
        for name in missing:
            errors.append(Finding("error", "is missing", f"add '{name}' to this row", field=name, **where))
        if missing:
            continue
        for field_name, message, hint in fmt.check(row):
            errors.append(Finding("error", message, hint, field=field_name, **where))
            flagged.add((i, field_name.split("[")[0].split(".")[0]))
        key = row_key(row)
        if key in seen:
            warnings.append(Finding("warning", f"duplicate of row {seen[key]}", "drop duplicates in the Data tab",
                                    **where))
        else:
            seen[key] = i + 1
    warnings += mixed_types(table, flagged)
    errors.sort(key=lambda f: (f.row or 0))
    return errors, warnings


def length_findings(table: Table, rows: list[dict], target: str, tokenizer, max_length: int,
                    line_of: Callable[[int], int | None] | None = None, **options) -> tuple[list[Finding], list[int]]:
    """Rows (already converted for `target`) longer than `max_length` tokens; also returns every length."""
    from .preview import Preview, encode

    line_of = line_of or table.line_of
    out, lengths = [], []
    for i, seqs in enumerate(encode(rows, target, tokenizer, **options)):
        view = Preview(seqs, tokenizer, max_length)
        lengths.append(view.length)
        if not view.truncated():
            continue
        if view.dropped():
            message = f"is {view.length} tokens; its prompt alone fills max_length {max_length}, so trl drops the row"
        else:
            message = f"is {view.length} tokens, longer than max_length {max_length}: trl cuts the end off"
        out.append(Finding("warning", message, "raise max_length or shorten the row", file=table.file,
                           line=line_of(i), row=i + 1))
    return out, lengths
