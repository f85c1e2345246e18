"""Findings about data, each pinned to a place (file, line, row, field) with what to do about it.

A finding is made with a translation key (`Finding.of("error", "data_checks.missing", row=3, name=...)`)
and renders in the reader's language (`one_line("zh")`); a library's own message (a JSON decoder's, a
parser's) travels as an argument inside a translated sentence. `Finding.from_error` turns a
`StudioError` into a finding that keeps the error's key. Code outside this module never builds a
`Finding(...)` from text (tests/test_i18n.py checks it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from dataclasses import field as dc_field

from .. import i18n
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
    key: str | None = None  # `<section>.<name>`: texts at <key>.msg / <key>.hint in studio/locales
    args: dict = dc_field(default_factory=dict, hash=False, compare=False)

    @classmethod
    def of(cls, severity: str, key: str, *, file: str | None = None, line: int | None = None,
           row: int | None = None, field: str | None = None, **args) -> Finding:
        """A finding whose texts come from the locale files (English kept in message/hint)."""
        args = {k: v if isinstance(v, (int, float)) else str(v) for k, v in args.items()}
        return cls(severity, _render(key, "msg", "en", args) or key, _render(key, "hint", "en", args) or "",
                   file=file, line=line, row=row, field=field, key=key, args=args)

    @classmethod
    def from_error(cls, exc: StudioError, severity: str = "error", *, file: str | None = None) -> Finding:
        """A user error as a finding about `file`, still translatable: the error's key and arguments are
        carried over (an error made from a library's text keeps that text)."""
        return cls(severity, exc.message, exc.hint or "", file=file, key=exc.key, args=dict(exc.args_))

    def text(self, lang: str = "en") -> str:
        return (_render(self.key, "msg", lang, self.args) if self.key else None) or self.message

    def hint_text(self, lang: str = "en") -> str:
        return (_render(self.key, "hint", lang, self.args) if self.key else None) or self.hint

    def place(self, lang: str = "en") -> str:
        parts = []
        if self.file:
            parts.append(self.file)
        if self.line is not None:
            parts.append(i18n.text("data_findings.line", lang, n=self.line))
        if self.row is not None and self.row != self.line:
            parts.append(i18n.text("data_findings.row", lang, n=self.row))
        if self.field:
            parts.append(i18n.text("data_findings.field", lang, name=self.field))
        return i18n.text("data_findings.sep", lang).join(parts)

    def one_line(self, lang: str = "en") -> str:
        where = self.place(lang)
        message, hint = self.text(lang), self.hint_text(lang)
        text = where + i18n.text("data_findings.colon", lang) + message if where else message
        return f"{text} — {hint}" if hint else text

    def to_dict(self) -> dict:
        return asdict(self)


def _render(key: str | None, part: str, lang: str, args: dict) -> str | None:
    if not key:
        return None
    name = f"{key}.{part}"
    value = i18n.text(name, lang, **args)
    return None if value == name else value


class DataError(StudioError):
    """Data that cannot be used; `findings` holds every problem found, the first is the message."""

    def __init__(self, findings: list[Finding]):
        self.findings = findings
        super().__init__(self._line("en"))

    def _line(self, lang: str) -> str:
        more = len(self.findings) - 1
        text = self.findings[0].one_line(lang)
        return text + (i18n.text("data_findings.more", lang, n=more) if more > 0 else "")

    def one_line(self, lang: str = "en") -> str:
        return self._line(lang)


def group_repeated(findings: list[Finding], keep: int = 3, lang: str | None = None) -> list[Finding]:
    """Fold findings that say the same thing about many rows into one line each.

    Findings are alike when severity, hint, field and message agree once numbers are ignored
    ("duplicate of row 1" on 999,999 rows). Up to `keep` alike findings stay as they are; more become
    one finding, pinned to the first of them: "999,999 rows: duplicate of row 1".
    """
    import re

    lang = lang or i18n.default_lang()
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
        out.append(Finding.of(f.severity, "readers.repeated", file=f.file, line=f.line, row=f.row, field=f.field,
                              count=f"{len(same):,}", message=f.text(lang)))
    return out
