"""Editing rows in the Data tab's grid: the plain functions behind its buttons.

The grid shows text: nested values (conversations, history, tool calls) appear as JSON and are
parsed back when the grid is read, with a finding naming the row and field when that JSON is
broken. Every grid row carries its row number in the `#` column, so edits made in a filtered
view land on the right rows; a grid row without a number is a new row.
"""

from __future__ import annotations

import json
import random
import re

from . import formats
from .checks import row_key
from .findings import DataError, Finding

INDEX = "#"


def nested_columns(rows: list[dict]) -> set[str]:
    return {k for r in rows for k, v in r.items() if isinstance(v, (list, dict))}


def _cell(value) -> str:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return ""
    return str(value) if not isinstance(value, str) else value


def columns_of(rows: list[dict], fmt: str | None = None) -> list[str]:
    """The rows' columns in file order, then the format's required fields none of them has yet."""
    cols: dict[str, None] = {}
    for r in rows:
        cols.update(dict.fromkeys(r))
    if fmt in formats.FORMATS:
        cols.update(dict.fromkeys(formats.get(fmt).required))
    return list(cols)


def to_grid(rows: list[dict], indices: list[int] | None = None, fmt: str | None = None, limit: int = 500):
    """A DataFrame of text cells: `#` (1-based row number) then the columns of the rows."""
    import pandas as pd

    indices = list(range(len(rows))) if indices is None else indices
    cols = columns_of(rows, fmt)
    data = [[i + 1] + [_cell(rows[i].get(c)) for c in cols] for i in indices[:limit]]
    return pd.DataFrame(data, columns=[INDEX] + cols)


def _parse_cell(value, nested: bool, where: dict, column: str):
    if isinstance(value, float) and value != value:  # NaN: an empty cell of a new grid row
        value = ""
    if not nested:
        return "" if value is None else (value if isinstance(value, str) else str(value))
    if isinstance(value, (list, dict)):
        return value
    try:
        return json.loads(value) if str(value).strip() else []
    except json.JSONDecodeError as exc:
        raise DataError([Finding.of("error", "data_edit.bad_json", detail=exc.msg, col=exc.colno, field=column,
                                    **where)]) from None


def _row_number(value) -> int | None:
    text = str(value if value is not None else "").strip()
    return int(float(text)) - 1 if re.fullmatch(r"\d+(\.0)?", text) else None


def from_grid(rows: list[dict], frame) -> list[dict]:
    """Apply a (possibly filtered) grid back onto `rows`; rows without a number are appended."""
    nested = nested_columns(rows)
    out = [dict(r) for r in rows]
    records = frame.to_dict(orient="records") if hasattr(frame, "to_dict") else list(frame)
    for record in records:
        index = _row_number(record.get(INDEX))
        existing = index is not None and 0 <= index < len(out)
        original = out[index] if existing else {}
        where = {"row": index + 1 if existing else len(out) + 1}
        values = {}
        for column, cell in record.items():
            if column == INDEX:
                continue
            parsed = _parse_cell(cell, column in nested, where, column)
            if existing and column not in original and parsed in ("", []):
                continue  # an empty cell in a column this row never had
            values[column] = parsed
        if existing:
            out[index] = values
        elif any(v not in ("", [], {}) for v in values.values()):
            out.append(values)
    return out


def blank_row(fmt: str, rows: list[dict]) -> dict:
    schema = formats.get(fmt)
    nested = nested_columns(rows)
    return {c: ([] if c in nested else "") for c in columns_of(rows, fmt) if c in schema.required + schema.optional
            or c in (rows[0] if rows else {})}


def add_row(rows: list[dict], fmt: str) -> list[dict]:
    return rows + [blank_row(fmt, rows)]


def parse_numbers(spec: str, count: int) -> list[int]:
    """'3, 5-7' -> [2, 4, 5, 6] (0-based), refusing numbers outside 1..count."""
    picked: set[int] = set()
    for part in re.split(r"[,\s，]+", spec or ""):
        if not part:
            continue
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match:
            raise DataError([Finding.of("error", "data_edit.bad_rows", part=part)])
        lo, hi = int(match.group(1)), int(match.group(2) or match.group(1))
        if lo < 1 or hi > count or lo > hi:
            raise DataError([Finding.of("error", "data_edit.rows_outside", part=part, count=count)])
        picked.update(range(lo - 1, hi))
    return sorted(picked)


def delete_rows(rows: list[dict], spec: str) -> list[dict]:
    drop = set(parse_numbers(spec, len(rows)))
    return [r for i, r in enumerate(rows) if i not in drop]


def search(rows: list[dict], query: str, column: str | None = None) -> list[int]:
    """Indices of rows whose text (or one column's) contains `query`, case-insensitive; `re:` for a regex."""
    query = (query or "").strip()
    if not query:
        return list(range(len(rows)))
    if query.startswith("re:"):
        try:
            pattern = re.compile(query[3:], re.IGNORECASE)
        except re.error as exc:
            raise DataError([Finding.of("error", "data_edit.bad_regex", detail=str(exc))]) from None
        match = pattern.search
    else:
        needle = query.lower()

        def match(text):
            return needle in text.lower()

    def text_of(row: dict) -> str:
        values = [row.get(column)] if column else list(row.values())
        return " ".join(_cell(v) for v in values)

    return [i for i, r in enumerate(rows) if match(text_of(r))]


def drop_duplicates(rows: list[dict]) -> tuple[list[dict], int]:
    seen: set[str] = set()
    out = []
    for r in rows:
        key = row_key(r)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out, len(rows) - len(out)


def shuffle(rows: list[dict], seed: int) -> list[dict]:
    out = list(rows)
    random.Random(seed).shuffle(out)
    return out


def split(rows: list[dict], validation: float, seed: int) -> tuple[list[dict], list[dict]]:
    """(train, validation): a seeded shuffle, then the first share held out (at least one row each)."""
    if not 0 < validation < 1:
        raise DataError([Finding.of("error", "data_edit.bad_share", share=validation)])
    if len(rows) < 2:
        raise DataError([Finding.of("error", "data_edit.split_too_few")])
    order = shuffle(rows, seed)
    n = min(len(rows) - 1, max(1, round(len(rows) * validation)))
    return order[n:], order[:n]
