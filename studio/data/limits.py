"""What parsing one user file may cost, and the finding that says a file went over.

Shared by the readers (which check sizes and rows as they read) and the parsing worker (which limits
memory and time around them), so that neither imports the other's internals.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .findings import Finding


@dataclass(frozen=True)
class Limits:
    """What one read may cost; each can be raised with an environment variable."""

    memory_mb: int = 2048  # STUDIO_PARSE_MEMORY_MB: address space of the parsing worker beyond its start
    seconds: float = 120.0  # STUDIO_PARSE_TIMEOUT_S
    unpacked_mb: int = 200  # STUDIO_MAX_UNPACKED_MB: an .xlsx's members (or a Parquet file's data) unpacked
    rows: int = 2_000_000  # STUDIO_MAX_ROWS


FIXED: Limits | None = None  # set in a parsing worker: the limits its parent read from its environment


def limits() -> Limits:
    if FIXED is not None:
        return FIXED

    def num(name: str, default, cast):
        try:
            return cast(os.environ[name])
        except (KeyError, ValueError):
            return default

    d = Limits()
    return Limits(num("STUDIO_PARSE_MEMORY_MB", d.memory_mb, int), num("STUDIO_PARSE_TIMEOUT_S", d.seconds, float),
                  num("STUDIO_MAX_UNPACKED_MB", d.unpacked_mb, int), num("STUDIO_MAX_ROWS", d.rows, int))


def finding(key: str, file: str, line: int | None = None, **args) -> Finding:
    """A reader finding whose text lives in `locales/<lang>/readers.yaml`, shown in the reader's language."""
    return Finding.of("error", f"readers.{key}", file=file, line=line, **args)
