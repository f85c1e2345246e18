"""Dataset statistics for the Data tab and `studio data check --json`: rows, fields, token lengths."""

from __future__ import annotations

import math

from .checks import type_name


def fields_present(rows: list[dict]) -> list[dict]:
    """Per column: in how many rows it has a value, and of which types."""
    out: dict[str, dict] = {}
    for r in rows:
        for key, value in r.items():
            slot = out.setdefault(key, {"field": key, "rows": 0, "types": set()})
            if value not in (None, "", [], {}):
                slot["rows"] += 1
                slot["types"].add(type_name(value))
    return [dict(s, types=", ".join(sorted(t for t in s["types"] if t))) for s in out.values()]


def length_summary(lengths: list[int], max_length: int | None = None) -> dict:
    if not lengths:
        return {"rows": 0}
    ordered = sorted(lengths)

    def pct(p: float) -> int:
        return ordered[min(len(ordered) - 1, int(math.ceil(p * len(ordered))) - 1)]

    out = {"rows": len(lengths), "min": ordered[0], "mean": round(sum(ordered) / len(ordered), 1),
           "p50": pct(0.5), "p95": pct(0.95), "max": ordered[-1]}
    if max_length:
        out["over_max_length"] = sum(n > max_length for n in lengths)
    return out


def histogram(lengths: list[int], bins: int = 20) -> list[dict]:
    """Token-length histogram as rows {tokens (bin label), start, rows}, bins of a round width."""
    if not lengths:
        return []
    top, low = max(lengths), min(lengths)
    width = max(1, _round_width((top - low + 1) / bins))
    counts: dict[int, int] = {}
    for n in lengths:
        counts[n // width] = counts.get(n // width, 0) + 1
    return [{"tokens": f"{b * width}–{(b + 1) * width - 1}", "start": b * width, "rows": counts.get(b, 0)}
            for b in range(low // width, top // width + 1)]


def _round_width(raw: float) -> int:
    """1, 2, 5, 10, 20, 50... the first at least `raw`."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if step * m >= raw:
                return step * m
        step *= 10


def histogram_frame(lengths: list[int], bins: int = 20):
    import pandas as pd

    return pd.DataFrame(histogram(lengths, bins), columns=["tokens", "start", "rows"])
