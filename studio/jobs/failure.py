"""Why a job did not succeed, in the reader's language.

The job store keeps one English line (`job.error`: logs, `studio jobs list`, any tool reading SQLite).
A job that ended on a StudioError also leaves the error's translation key and arguments in its
`exit.json` (jobs/worker.py), so the page and the CLI can say it in the viewer's own language; any
other failure (a crash, a missing output) is shown as recorded.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import StudioError
from . import events


def error_text(job, lang: str = "en") -> str:
    """`job.error` in `lang` when exit.json kept its key, else as recorded ('' when none)."""
    if not job.error:
        return ""
    record = _record(job)
    if record and record.get("key"):
        return StudioError.from_record(record).one_line(lang)
    return job.error


def _record(job) -> dict | None:
    try:
        data = json.loads((Path(job.run_dir) / events.EXIT).read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return None
    record = data.get("error_record") if isinstance(data, dict) else None
    return record if isinstance(record, dict) and data.get("error") == job.error else None
