"""Reading data files into rows of plain dicts, remembering which line each row came from.

pandas and `datasets` do the parsing; this module adds encoding detection (Excel's GBK and UTF-16
CSVs, BOMs) and turns parse failures into findings that name the line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .findings import DataError, Finding

TEXT_ENCODINGS = ("utf-8-sig", "gb18030", "utf-16")


@dataclass
class Table:
    file: str
    rows: list[dict]
    lines: list[int | None] = field(default_factory=list)  # file line of each row (1-based)

    def line_of(self, index: int) -> int | None:
        return self.lines[index] if index < len(self.lines) else None


def decode_text(path: Path) -> str:
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    for enc in TEXT_ENCODINGS:
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise DataError([Finding("error", "cannot decode the file as UTF-8, GBK/GB18030 or UTF-16",
                             "save it as UTF-8 (in Excel: CSV UTF-8)", file=path.name)])


def _clean_key(key: object) -> str:
    return str(key).lstrip("\ufeff").strip()


def _read_jsonl(path: Path) -> Table:
    rows, lines, problems = [], [], []
    for number, line in enumerate(decode_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Finding("error", f"not valid JSON ({exc.msg} at column {exc.colno})",
                                    "fix or delete this line", file=path.name, line=number))
            continue
        if not isinstance(obj, dict):
            problems.append(Finding("error", f"expected a JSON object, found {type(obj).__name__}",
                                    "each line must be one {...} object", file=path.name, line=number))
            continue
        rows.append({_clean_key(k): v for k, v in obj.items()})
        lines.append(number)
    if problems:
        raise DataError(problems)
    return Table(path.name, rows, lines)


def _object_lines(text: str) -> list[int]:
    """Line numbers where each top-level array element starts (for `[{...}, {...}]` files)."""
    decoder = json.JSONDecoder()
    starts, i = [], text.find("[") + 1
    while i < len(text):
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        if i >= len(text) or text[i] == "]":
            break
        starts.append(text.count("\n", 0, i) + 1)
        try:
            _, i = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            break
    return starts


def _read_json(path: Path) -> Table:
    text = decode_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if text.lstrip().startswith("{") and "\n{" in text:
            return _read_jsonl(path)  # JSON Lines saved with a .json name
        raise DataError([Finding("error", f"not valid JSON ({exc.msg} at column {exc.colno})",
                                 "fix the file there (a missing comma or quote is common)",
                                 file=path.name, line=exc.lineno)]) from None
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) == 1:
            data = lists[0]
        else:
            data = [data]
    if not isinstance(data, list):
        raise DataError([Finding("error", "expected a list of rows", "the file must hold [ {...}, {...} ]",
                                 file=path.name)])
    lines = _object_lines(text) if text.lstrip().startswith("[") else []
    rows, problems = [], []
    for index, obj in enumerate(data):
        if not isinstance(obj, dict):
            problems.append(Finding("error", f"expected an object, found {type(obj).__name__}",
                                    "each row must be a {...} object", file=path.name,
                                    line=lines[index] if index < len(lines) else None, row=index + 1))
            continue
        rows.append({_clean_key(k): v for k, v in obj.items()})
    if problems:
        raise DataError(problems)
    return Table(path.name, rows, lines[: len(rows)])


def _read_csv(path: Path, sep: str) -> Table:
    import io

    import pandas as pd

    try:
        frame = pd.read_csv(io.StringIO(decode_text(path)), sep=sep, dtype=str, keep_default_na=False)
    except pd.errors.ParserError as exc:
        raise DataError([Finding("error", f"cannot parse as {'TSV' if sep == chr(9) else 'CSV'}: {exc}",
                                 "check quoting and the number of columns", file=path.name)]) from None
    frame.columns = [_clean_key(c) for c in frame.columns]
    return Table(path.name, frame.to_dict(orient="records"), [i + 2 for i in range(len(frame))])


def read_table(path: str | Path) -> Table:
    path = Path(path)
    if not path.exists():
        raise DataError([Finding("error", "file not found", "check the path", file=str(path))])
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return _read_jsonl(path)
    if suffix == ".json":
        return _read_json(path)
    if suffix in (".csv", ".tsv"):
        sep = "\t" if suffix == ".tsv" else ","
        return _read_csv(path, sep)
    if suffix == ".parquet":
        import pandas as pd

        frame = pd.read_parquet(path)
        return Table(path.name, frame.to_dict(orient="records"), [])
    if suffix in (".xlsx", ".xls"):
        import pandas as pd

        frame = pd.read_excel(path, dtype=str, keep_default_na=False)
        frame.columns = [_clean_key(c) for c in frame.columns]
        return Table(path.name, frame.to_dict(orient="records"), [i + 2 for i in range(len(frame))])
    raise DataError([Finding("error", f"unsupported file type '{suffix or path.name}'",
                             "use JSON, JSONL, CSV, TSV, Parquet or Excel", file=path.name)])
