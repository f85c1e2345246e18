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
