"""Findings about data, each pinned to a place (file, line, row, field) with what to do about it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import StudioError


@dataclass(frozen=True)
class Finding:
    severity: str  # "error" | "warning" | "info" (something the reader fixed on the way)
    message: str
    hint: str = ""
    file: str | None = None
    line: int | None = None  # 1-based line in the file, where the format has lines
    row: int | None = None  # 1-based data row
    field: str | None = None

    def place(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file)
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.row is not None and self.row != self.line:
            parts.append(f"row {self.row}")
        if self.field:
            parts.append(f"field '{self.field}'")
        return ", ".join(parts)

    def one_line(self) -> str:
        where = self.place()
        text = f"{where}: {self.message}" if where else self.message
        return f"{text} — {self.hint}" if self.hint else text

    def to_dict(self) -> dict:
        return asdict(self)


class DataError(StudioError):
    """Data that cannot be used; `findings` holds every problem found, the first is the message."""

    def __init__(self, findings: list[Finding]):
        self.findings = findings
        first = findings[0]
        more = f" (and {len(findings) - 1} more problems)" if len(findings) > 1 else ""
        super().__init__(first.one_line() + more)


def group_repeated(findings: list[Finding], keep: int = 3) -> list[Finding]:
    """Fold findings that say the same thing about many rows into one line each.

    Findings are alike when severity, hint, field and message agree once numbers are ignored
    ("duplicate of row 1" on 999,999 rows). Up to `keep` alike findings stay as they are; more become
    one finding, pinned to the first of them: "999,999 rows: duplicate of row 1".
    """
    import re

    from ..i18n import default_lang, text

    groups: dict[tuple, list[Finding]] = {}
    for f in findings:
        key = (f.severity, re.sub(r"\d[\d,.]*", "#", f.message), f.hint, f.field, f.file)
        groups.setdefault(key, []).append(f)
    out: list[Finding] = []
    for f in findings:
        key = (f.severity, re.sub(r"\d[\d,.]*", "#", f.message), f.hint, f.field, f.file)
        same = groups.get(key)
        if same is None:
            continue  # already folded into its group's line
        if len(same) <= keep:
            out.append(f)
            continue
        del groups[key]
        message = text("readers.repeated.msg", default_lang(), count=f"{len(same):,}", message=f.message)
        out.append(Finding(f.severity, message, f.hint, file=f.file, line=f.line, row=f.row, field=f.field))
    return out
