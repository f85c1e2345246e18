"""One dataset being worked on in the Data tab: rows, format, mapping and the findings about them.

Unlike `prepare.load_rows` (which refuses data with errors), a session keeps rows that have
problems so the user can fix them in the grid; saving is what refuses them. The tab's handlers
only move values between these functions and the components.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from .. import i18n
from ..errors import StudioError
from . import formats, mapping, store
from .checks import check_rows
from .findings import DataError, Finding
from .readers import Table, read_table

FINDING_COLUMNS = ["severity", "where", "field", "problem", "what to do"]


@dataclass
class Session:
    rows: list[dict] = field(default_factory=list)
    format: str | None = None
    file: str = ""
    raw_columns: list[str] = field(default_factory=list)  # as in the file, before the mapping
    mapping: dict[str, str] = field(default_factory=dict)
    lines: list[int | None] = field(default_factory=list)
    validation: list[dict] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    encoding: str | None = None

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def table(self) -> Table:
        lines = self.lines if len(self.lines) == len(self.rows) else []
        return Table(self.file, self.rows, lines)

    def recheck(self) -> list[Finding]:
        """Findings for the rows as they are now (after edits, line numbers no longer apply)."""
        if not self.rows:
            self.findings = [Finding.of("error", "data_checks.no_rows", file=self.file)]
        elif self.format is None:
            guess, suggestion = mapping.suggest(list(self.table().columns))
            if guess:
                pairs = ", ".join(f"{a} → {b}" for a, b in suggestion.items())
                self.findings = [Finding.of("error", "data_checks.unknown_format_map", pairs=pairs, file=self.file)]
            else:
                self.findings = [Finding.of("error", "data_checks.unknown_format", file=self.file)]
        else:
            errors, warnings = check_rows(self.table(), formats.get(self.format))
            self.findings = errors + warnings
        return self.findings


def open_data(path: str | Path, fmt: str = "auto", columns: dict[str, str] | None = None) -> Session:
    """Read a file or folder; keep its rows even when some are wrong (findings say which)."""
    try:
        table = read_table(path)
    except DataError as exc:
        return Session(file=Path(str(path)).name, findings=exc.findings)
    raw = table.columns
    columns = {k: v for k, v in (columns or {}).items() if k in raw and v}
    rows = [{columns.get(k, k): v for k, v in r.items()} for r in table.rows]
    chosen = fmt if fmt not in ("auto", "", None) else (table.format_hint or formats.detect(
        {columns.get(c, c) for c in raw}))
    session = Session(rows, chosen, table.file, raw, columns, list(table.lines), encoding=table.encoding)
    session.recheck()
    session.findings = list(table.notes) + session.findings
    return session


def suggested_mapping(session: Session, fmt: str | None) -> dict[str, str]:
    """schema field -> file column, for the mapping dropdowns (identity where the names match)."""
    if not fmt or fmt not in formats.FORMATS:
        fmt, _ = mapping.suggest(session.raw_columns)
    if not fmt:
        return {}
    schema = formats.get(fmt)
    guess = {dst: src for src, dst in mapping.for_format(session.raw_columns, fmt).items()}
    out = {}
    for name in schema.required + schema.optional:
        if name in session.raw_columns:
            out[name] = name
        elif name in guess:
            out[name] = guess[name]
    return out


def findings_rows(findings: list[Finding], limit: int = 500, lang: str = "en") -> list[list[str]]:
    """severity, where (line/row), field, problem, what to do: one table row per finding, in `lang`."""
    out = []
    from .findings import group_repeated

    for f in group_repeated(findings, lang=lang)[:limit]:
        place = replace(f, file=None, field=None).place(lang)  # the file and field have their own columns
        out.append([i18n.text(f"data_findings.severity_{f.severity}", lang), place or f.file or "", f.field or "",
                    f.text(lang), f.hint_text(lang)])
    return out


def save(session: Session, datasets_root: Path, name: str, note: str = "") -> Path:
    """A new version of dataset `name`; refuses (writing nothing) while any row has an error."""
    if session.format is None:
        raise StudioError(key="data_checks.save_no_format")
    session.recheck()
    if session.errors:
        raise DataError(session.errors)
    return store.save_dataset(datasets_root, name, session.rows, session.format, note=note,
                              validation=session.validation or None)
