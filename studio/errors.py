"""User-facing errors.

A `StudioError` is a problem the user can fix (bad file, bad key, unknown model). Its message is one
line that names what is wrong and what to do; the UI and CLI show it instead of a traceback.

New errors carry a translation key and arguments instead of English text:

    raise StudioError(key="data.file_not_found", path=str(path))

renders `data.file_not_found.msg` and `data.file_not_found.hint` from `studio/locales/<lang>/data.yaml`
(see `studio.i18n`) in whatever language the reader uses: `exc.one_line("zh")`. The positional
(message, hint) form is kept for errors that wrap text from a library.
"""

from __future__ import annotations

from . import i18n


class StudioError(Exception):
    """A problem caused by user input, with a one-line message and a hint on what to do."""

    def __init__(self, message: str | None = None, hint: str | None = None, *, key: str | None = None, **args):
        self.key = key
        self.args_ = {k: str(v) if not isinstance(v, (int, float)) else v for k, v in args.items()}
        self.message = message if message is not None else self._render("msg", "en") or (key or "")
        self.hint = hint if hint is not None else self._render("hint", "en")
        super().__init__(self.one_line())

    def _render(self, part: str, lang: str) -> str | None:
        if not self.key:
            return None
        name = f"{self.key}.{part}"
        value = i18n.text(name, lang, **self.args_)
        return None if value == name else value

    def one_line(self, lang: str = "en") -> str:
        message = (self._render("msg", lang) or self.message) if lang != "en" else self.message
        hint = (self._render("hint", lang) or self.hint) if lang != "en" else self.hint
        return f"{message} — {hint}" if hint else message

    def record(self) -> dict:
        """What a job record keeps, so a reader can show the error in their own language later."""
        return {"message": self.one_line(), "key": self.key, "args": self.args_}

    @classmethod
    def from_record(cls, record: dict) -> StudioError:
        """The error again from `record()` (e.g. raised in another process), still translatable."""
        if record.get("key"):
            return cls(key=record["key"], **(record.get("args") or {}))
        return cls(record.get("message") or "")


class JobCancelled(Exception):
    """Raised inside a worker when the job was asked to stop."""
