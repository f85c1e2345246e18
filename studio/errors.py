"""User-facing errors.

A `StudioError` is a problem the user can fix (bad file, bad key, unknown model). Its message is one
line that names what is wrong and what to do; the UI and CLI show it instead of a traceback.
"""

from __future__ import annotations


class StudioError(Exception):
    """A problem caused by user input, with a one-line message and a hint on what to do."""

    def __init__(self, message: str, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class JobCancelled(Exception):
    """Raised inside a worker when the job was asked to stop."""
