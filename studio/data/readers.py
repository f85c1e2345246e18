"""Reading data files into rows of plain dicts, remembering which line each row came from.

pandas, pyarrow and `datasets` do the parsing; this module adds what they leave to the user:
encoding detection (Excel's GBK and UTF-16 CSVs, BOMs), Excel's quirks (a BOM glued to the first
column name, empty trailing columns and rows), line numbers for every row, and parse failures
turned into findings that name the line. Folders are read too: a `datasets` folder saved with
`save_to_disk`, and a LLaMA-Factory folder whose `dataset_info.json` maps columns (see `llamafactory`).

A path may end in `#name` to pick one dataset of a LLaMA-Factory folder, one split of a saved
`DatasetDict`, or one sheet of an Excel workbook.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import llamafactory
from .findings import DataError, Finding
from .limits import finding, limits

SUFFIXES = (".json", ".jsonl", ".csv", ".tsv", ".txt", ".parquet", ".xlsx", ".xls")


@dataclass
class Table:
    file: str
    rows: list[dict]
    lines: list[int | None] = field(default_factory=list)  # file line (or sheet row) of each row, 1-based
    format_hint: str | None = None  # set when the file itself says what it is (LLaMA-Factory folders)
    encoding: str | None = None
    notes: list[Finding] = field(default_factory=list)  # harmless things the reader fixed on the way

    def line_of(self, index: int) -> int | None:
        return self.lines[index] if index < len(self.lines) else None

    @property
    def columns(self) -> list[str]:
        seen: dict[str, None] = {}
        for row in self.rows:
            seen.update(dict.fromkeys(row))
        return list(seen)


# ---------------------------------------------------------------- text encodings

def sniff_encoding(raw: bytes) -> str:
    """The encoding Excel, Notepad or a script most likely used; BOMs first, then trial decoding."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    sample = raw[:4000]
    if len(sample) >= 4 and sample[1::2].count(0) > len(sample) // 4:
        return "utf-16-le"  # UTF-16 without a BOM: every other byte of ASCII text is zero
    if len(sample) >= 4 and sample[0::2].count(0) > len(sample) // 4:
        return "utf-16-be"
    for enc in ("utf-8", "gb18030"):
        try:
            raw.decode(enc)
            return enc
        except UnicodeDecodeError:
            continue
    raise UnicodeDecodeError("unknown", raw[:1], 0, 1, "not UTF-8, GB18030 or UTF-16")


def decode_text(path: Path) -> str:
    return _decode(path)[0]


def _decode(path: Path) -> tuple[str, str]:
    raw = path.read_bytes()
    try:
        enc = sniff_encoding(raw)
        text = raw.decode(enc)
        nul = text.find("\x00")
        if nul >= 0:  # Python's csv module takes NUL since 3.11; a text file with one is damaged or binary
            raise DataError([finding("nul_byte", path.name, line=text.count("\n", 0, nul) + 1)])
        return text, enc
    except UnicodeDecodeError:
        raise DataError([Finding.of("error", "readers.undecodable", file=path.name)]) from None


def _clean_key(key: object) -> str:
    return str(key).replace("\ufeff", "").strip()


# ---------------------------------------------------------------- JSON and JSON Lines

def _read_jsonl(path: Path) -> Table:
    text, enc = _decode(path)
    rows, lines, problems = [], [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except RecursionError:
            raise DataError([finding("too_deep", path.name, line=number)]) from None
        except json.JSONDecodeError as exc:
            problems.append(Finding.of("error", "readers.jsonl_invalid", file=path.name, line=number,
                                       row=len(rows) + 1, detail=exc.msg, column=exc.colno))
            rows.append({})
            lines.append(number)
            continue
        if not isinstance(obj, dict):
            problems.append(Finding.of("error", "readers.jsonl_not_object", file=path.name, line=number,
                                       row=len(rows) + 1, kind=type(obj).__name__))
        rows.append({_clean_key(k): v for k, v in obj.items()} if isinstance(obj, dict) else {})
        lines.append(number)
    if problems:
        raise DataError(problems)
    return Table(path.name, rows, lines, encoding=enc)


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
    text, enc = _decode(path)
    try:
        data = json.loads(text)
    except RecursionError:
        raise DataError([finding("too_deep", path.name)]) from None
    except json.JSONDecodeError as exc:
        if text.lstrip().startswith("{") and "\n{" in text:
            return _read_jsonl(path)  # JSON Lines saved with a .json name
        raise DataError([Finding.of("error", "readers.json_invalid", file=path.name, line=exc.lineno,
                                    detail=exc.msg, column=exc.colno)]) from None
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        data = lists[0] if len(lists) == 1 else [data]
    if not isinstance(data, list):
        raise DataError([Finding.of("error", "readers.json_not_list", file=path.name)])
    lines = _object_lines(text) if text.lstrip().startswith("[") else []
    rows, problems = [], []
    for index, obj in enumerate(data):
        if not isinstance(obj, dict):
            problems.append(Finding.of("error", "readers.json_row_not_object", file=path.name,
                                       line=lines[index] if index < len(lines) else None, row=index + 1,
                                       kind=type(obj).__name__))
            continue
        rows.append({_clean_key(k): v for k, v in obj.items()})
    if problems:
        raise DataError(problems)
    return Table(path.name, rows, lines[: len(rows)] if len(lines) >= len(rows) else [], encoding=enc)


# ---------------------------------------------------------------- CSV, TSV, plain text

def _delimiter(text: str, suffix: str) -> str:
    """Excel's "Unicode text" is tab-separated whatever the file is called; look at the header."""
    header = text.split("\n", 1)[0]
    if suffix == ".tsv":
        return "\t"
    counts = {sep: header.count(sep) for sep in (",", "\t", ";")}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


def _records(text: str, sep: str, name: str) -> tuple[list[int], list[Finding]]:
    """Start line of every non-blank record (the header first), and rows with too many fields."""
    reader = csv.reader(io.StringIO(text), delimiter=sep, strict=True)
    starts: list[int] = []
    problems: list[Finding] = []
    width = None
    start = 1
    try:
        for record in reader:
            if record:
                starts.append(start)
                if width is None:
                    width = len(record)
                elif len(record) > width:
                    problems.append(Finding.of("error", "readers.csv_too_many_fields", file=name, line=start,
                                               row=len(starts) - 1, count=len(record), width=width))
            start = reader.line_num + 1
    except csv.Error as exc:
        problems.append(Finding.of("error", "readers.csv_open_quote", file=name, line=start, row=len(starts),
                                   detail=exc))
    return starts, problems


def _read_csv(path: Path, sep: str | None = None) -> Table:
    import pandas as pd

    text, enc = _decode(path)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    sep = sep or _delimiter(text, path.suffix.lower())
    starts, problems = _records(text, sep, path.name)
    if problems:
        raise DataError(problems)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise DataError([Finding.of("error", "readers.csv_unparsable", file=path.name,
                                    line=int(match.group(1)) if match else None,
                                    kind="TSV" if sep == "\t" else "CSV", detail=exc)]) from None
    lines = starts[1:] if len(starts) - 1 == len(frame) else [None] * len(frame)
    table = _from_frame(frame, lines, path.name)
    table.encoding = enc
    return table


def _from_frame(frame, lines: list, name: str) -> Table:
    """Rows of a spreadsheet-like frame without Excel's leftovers: empty 'Unnamed' columns, blank rows."""
    frame.columns = [_clean_key(c) for c in frame.columns]
    notes = []
    empty_cols = [c for c in frame.columns
                  if (not c or c.startswith("Unnamed:")) and not frame[c].astype(str).str.strip().any()]
    if empty_cols:
        frame = frame.drop(columns=empty_cols)
        notes.append(Finding.of("info", "readers.empty_columns", file=name, count=len(empty_cols)))
    rows, kept_lines = [], []
    for record, line in zip(frame.to_dict(orient="records"), lines):
        if all(not str(v).strip() for v in record.values()):
            continue
        rows.append(record)
        kept_lines.append(line)
    return Table(name, rows, kept_lines, notes=notes)


def _read_txt(path: Path) -> Table:
    """Plain text for continued pre-training: one row per paragraph (blank lines between)."""
    text, enc = _decode(path)
    text = text.replace("\r\n", "\n")
    if "\t" in text.split("\n", 1)[0]:
        return _read_csv(path, "\t")
    rows, lines, buf, first = [], [], [], None
    for number, line in enumerate(text.split("\n") + [""], start=1):
        if line.strip():
            first = first or number
            buf.append(line)
        elif buf:
            rows.append({"text": "\n".join(buf)})
            lines.append(first)
            buf, first = [], None
    return Table(path.name, rows, lines, encoding=enc)


# ---------------------------------------------------------------- columnar and spreadsheet files

def _read_parquet(path: Path) -> Table:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
        unpacked = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    except Exception:  # noqa: BLE001 - a broken footer is reported below
        meta, unpacked = None, 0
    if meta is not None and meta.num_rows > limits().rows:
        raise DataError([finding("too_many_rows", path.name, rows=f"{meta.num_rows:,}", limit=f"{limits().rows:,}")])
    if unpacked > limits().unpacked_mb * 2**20:
        raise DataError([finding("unpacks_too_big", path.name, size=f"{unpacked / 2**20:,.0f}",
                                  limit=limits().unpacked_mb)])
    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a broken file
        raise DataError([Finding.of("error", "readers.parquet_unreadable", file=path.name,
                                    error=type(exc).__name__, detail=exc)]) from None
    return Table(path.name, [{_clean_key(k): v for k, v in r.items()} for r in rows], [])


def _check_unpacked(path: Path) -> None:
    """An .xlsx is a zip: refuse it before opening when its members unpack to more than the limit."""
    import zipfile

    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        return  # the Excel reader reports a broken file in its own words
    limit = limits().unpacked_mb
    if total > limit * 2**20:
        raise DataError([finding("unpacks_too_big", path.name, size=f"{total / 2**20:,.0f}", limit=limit)])


def _read_excel(path: Path, sheet: str | None) -> Table:
    import pandas as pd

    _check_unpacked(path)
    try:
        frame = pd.read_excel(path, sheet_name=sheet or 0, dtype=str, keep_default_na=False)
    except ValueError as exc:
        raise DataError([Finding.of("error", "readers.workbook_unreadable", file=path.name, detail=exc)]) from None
    except Exception as exc:  # noqa: BLE001 - openpyxl / xlrd raise their own types
        raise DataError([Finding.of("error", "readers.excel_unreadable", file=path.name,
                                    error=type(exc).__name__, detail=exc)]) from None
    return _from_frame(frame, [i + 2 for i in range(len(frame))], path.name)


def _read_saved(path: Path, split: str | None) -> Table:
    """A folder written by `Dataset.save_to_disk` or `DatasetDict.save_to_disk`."""
    from datasets import DatasetDict, load_from_disk

    data = load_from_disk(str(path))
    name = path.name
    if isinstance(data, DatasetDict):
        splits = list(data)
        pick = split or ("train" if "train" in splits else (splits[0] if len(splits) == 1 else None))
        if pick not in data:
            raise DataError([Finding.of("error", "readers.pick_split", file=name, splits=", ".join(splits),
                                        path=path, first=splits[0])])
        data, name = data[pick], f"{name}#{pick}"
    return Table(name, data.to_list(), [])


def is_saved_dataset(path: Path) -> bool:
    return path.is_dir() and ((path / "dataset_dict.json").is_file() or
                              ((path / "state.json").is_file() and (path / "dataset_info.json").is_file()))


# ---------------------------------------------------------------- entry point

def split_ref(path: str | Path) -> tuple[Path, str | None]:
    """`folder#name` -> (folder, name) when `folder` exists and the whole string does not."""
    text = str(path)
    whole = Path(text).expanduser()
    if whole.exists() or "#" not in text:
        return whole, None
    base, _, sub = text.rpartition("#")
    return Path(base).expanduser(), sub or None


def read_table(path: str | Path) -> Table:
    """Read a data file or folder in a separate, limited process (see `parse_worker`).

    The calling process (the studio server, a CLI command) never parses user files itself: a file
    that unpacks to gigabytes, nests 100,000 levels deep or makes a parser spin costs only the worker,
    which has a memory limit (RLIMIT_AS) and a time limit, and every such case comes back as one finding.
    """
    from . import parse_worker

    if parse_worker.inside():
        return read_here(path)
    return parse_worker.read(path, read_here)


def warm_parser() -> None:
    """Start the parsing worker's fork server now (the studio server calls this at start-up), so that
    the first upload does not wait for it."""
    try:
        read_table(Path(__file__).resolve().parents[2] / "assets" / "samples" / "identity_alpaca.jsonl")
    except Exception:  # noqa: BLE001 - warming is best effort; the first real read starts it anyway
        pass


def read_here(path: str | Path) -> Table:
    """Read in this process, with the size, row and nesting limits (the worker's side of `read_table`)."""
    table = _read_any(path)
    limit = limits().rows
    if len(table.rows) > limit:
        raise DataError([finding("too_many_rows", table.file, rows=f"{len(table.rows):,}", limit=f"{limit:,}")])
    return table


def _read_any(path: str | Path) -> Table:
    path, sub = split_ref(path)
    if not path.exists():
        raise DataError([Finding.of("error", "readers.not_found", file=str(path))])
    if path.is_dir():
        return _read_folder(path, sub)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return _read_jsonl(path)
    if suffix == ".json":
        return _read_json(path)
    if suffix in (".csv", ".tsv"):
        return _read_csv(path)
    if suffix == ".txt":
        return _read_txt(path)
    if suffix == ".parquet":
        return _read_parquet(path)
    if suffix in (".xlsx", ".xls"):
        return _read_excel(path, sub)
    raise DataError([Finding.of("error", "readers.unsupported", file=path.name, suffix=suffix or path.name)])


def _read_folder(path: Path, sub: str | None) -> Table:
    if is_saved_dataset(path):
        return _read_saved(path, sub)
    if (path / llamafactory.INFO).is_file():
        return llamafactory.read(path, sub, read_table)
    files = sorted(p.name for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
    if files:
        raise DataError([Finding.of("error", "readers.plain_folder", file=path.name, files=", ".join(files[:5]))])
    raise DataError([Finding.of("error", "readers.empty_folder", file=path.name)])
