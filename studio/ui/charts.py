"""Pictures the studio shows instead of tables: plain functions that turn job records, metrics and
estimates into DataFrames (drawn by Gradio's native plots) or small HTML blocks.

Nothing here imports a plotting library: Gradio draws the DataFrames in the browser, so the
page starts fast and the tests check the numbers, not pixels.
"""

from __future__ import annotations

import html
import time
from pathlib import Path

import pandas as pd

from .monitor import STATE_COLORS

PART_COLORS = {"weights": "#4e79a7", "gradients": "#f28e2b", "optimizer": "#e15759", "activations": "#76b7b2",
               "extra_models": "#59a14f", "method_extra": "#edc948", "overhead": "#bab0ac"}


# ---------------------------------------------------------------------------------------------- curves

def metric_frame(rows: list[dict], key: str = "loss") -> pd.DataFrame:
    """(step, key) rows of one metric, for a LinePlot of one run (one metric per plot)."""
    out = [(int(r["step"]), float(r[key])) for r in rows
           if isinstance(r.get(key), (int, float)) and isinstance(r.get("step"), (int, float))]
    return pd.DataFrame(out, columns=["step", key]).astype({"step": "int64", key: "float64"})


def overlay_frame(runs: list[tuple[str, list[dict]]], key: str = "loss") -> pd.DataFrame:
    """Several runs' curves of one metric in one frame (step, value, run), for one LinePlot coloured by run."""
    out = []
    for label, rows in runs:
        frame = metric_frame(rows, key)
        out += [(int(s), float(v), label) for s, v in zip(frame["step"], frame[key])]
    return pd.DataFrame(out, columns=["step", key, "run"]).astype({"step": "int64", key: "float64", "run": "str"})


# ---------------------------------------------------------------------------------------------- probe

def probe_frame(probe: dict, t) -> pd.DataFrame:
    """Base vs tuned scores of a before/after probe as bars: one per (part, model).

    `probe` is a run's probe.json: {"learned": {"base", "tuned", "n", "metric"}, "kept": {...}, ...}.
    The bar labels are distinct strings ("learned · base"), so no grouping support is needed.
    """
    rows = []
    for part in ("learned", "kept"):
        scores = probe.get(part) or {}
        for model in ("base", "tuned"):
            value = scores.get(model)
            if isinstance(value, (int, float)):
                rows.append((f"{t('jobpanel.probe_' + part)} · {t('jobpanel.probe_' + model)}", float(value),
                             t("jobpanel.probe_" + model)))
    return pd.DataFrame(rows, columns=["bar", "score", "model"]).astype({"score": "float64"})


def probe_markdown(probe: dict, t) -> str:
    """The probe's numbers in one line each, plus its warning in the reader's language."""
    from ..i18n import text

    lines = []
    for part in ("learned", "kept"):
        s = probe.get(part) or {}
        if isinstance(s.get("base"), (int, float)) and isinstance(s.get("tuned"), (int, float)):
            lines.append(t("jobpanel.probe_line", part=t("jobpanel.probe_" + part), base=f"{s['base']:.2f}",
                           tuned=f"{s['tuned']:.2f}", n=s.get("n", "?"), metric=s.get("metric", "")))
    warning = probe.get("warning")
    if isinstance(warning, dict) and warning.get("key"):
        lines.append("⚠️ " + text(warning["key"], t.lang, **(warning.get("args") or {})))
    return "  \n".join(lines)


def read_probe(run_dir: str | Path) -> dict | None:
    import json

    path = Path(run_dir) / "probe.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, OSError):
        return None
    return data if isinstance(data, dict) else None


# ---------------------------------------------------------------------------------------------- jobs timeline

def timeline_frame(jobs, now: float | None = None) -> pd.DataFrame:
    """One row per job: when it was queued, started and ended (running jobs end 'now')."""
    now = time.time() if now is None else now
    rows = []
    for j in jobs:
        start = j.started_at or j.created_at
        end = j.ended_at or (now if j.state in ("running", "queued") else j.updated_at)
        rows.append((j.id, j.kind, j.state, j.title, float(j.created_at), float(start), float(max(end, start))))
    return pd.DataFrame(rows, columns=["id", "kind", "state", "title", "queued", "start", "end"])


def timeline_html(frame: pd.DataFrame, t, limit: int = 30) -> str:
    """A Gantt-like strip per job, newest on top, coloured by state (plain HTML: nothing to load)."""
    if frame.empty:
        return f"<div class='studio-timeline empty'>{html.escape(t('jobs.timeline_empty'))}</div>"
    frame = frame.sort_values("queued", ascending=False).head(limit)
    lo, hi = float(frame["queued"].min()), float(frame["end"].max())
    span = max(hi - lo, 1.0)
    rows = []
    for r in frame.itertuples():
        left = 100 * (r.start - lo) / span
        width = max(100 * (r.end - r.start) / span, 0.6)
        wait = 100 * (r.start - r.queued) / span
        color = STATE_COLORS.get(r.state, "#6b7280")
        tip = html.escape(f"{r.title} · {t('state.' + r.state)} · {int(r.end - r.start)} s")
        rows.append(
            f"<div class='tl-row' data-job='{html.escape(r.id)}' style='display:flex;align-items:center;gap:6px'>"
            f"<span style='width:9em;overflow:hidden;white-space:nowrap;font-size:12px'>{html.escape(r.kind)}</span>"
            f"<div style='position:relative;flex:1;height:12px;background:rgba(127,127,127,.12)'>"
            f"<div style='position:absolute;left:{100 * (r.queued - lo) / span:.2f}%;width:{wait:.2f}%;height:100%;"
            f"background:rgba(127,127,127,.35)'></div>"
            f"<div title='{tip}' style='position:absolute;left:{left:.2f}%;width:{width:.2f}%;height:100%;"
            f"background:{color};border-radius:2px'></div></div></div>")
    when = time.strftime("%m-%d %H:%M", time.localtime(lo))
    span_text = html.escape(t("jobs.timeline_span", start=when, seconds=int(span)))
    return (f"<div class='studio-timeline' style='display:flex;flex-direction:column;gap:3px'>{''.join(rows)}"
            f"<div style='font-size:11px;opacity:.7'>{span_text}</div></div>")


# ---------------------------------------------------------------------------------------------- memory

def memory_frame(parts: dict[str, int], memory: int | None) -> pd.DataFrame:
    """The estimate's parts in GiB plus the device's memory, for checking and for a bar."""
    rows = [(k, v / 2**30) for k, v in parts.items() if v > 0]
    if memory:
        rows.append(("device", memory / 2**30))
    return pd.DataFrame(rows, columns=["part", "gib"])


def memory_bar_html(parts: dict[str, int], memory: int | None, label, limit_label: str = "") -> str:
    """One horizontal bar, a segment per part, scaled to max(total, device memory), with the device's
    memory marked by a line: what fits is left of the line."""
    total = sum(v for v in parts.values() if v > 0)
    scale = max(total, memory or 0) or 1
    segments = []
    for key, size in parts.items():
        if size <= 0:
            continue
        tip = html.escape(label(key, size))
        segments.append(f'<div title="{tip}" class="mem-part" data-part="{key}" style="width:{100 * size / scale:.2f}%;'
                        f'background:{PART_COLORS.get(key, "#888")};height:18px"></div>')
    line = ""
    if memory:
        line = (f'<div class="mem-limit" title="{html.escape(limit_label)}" style="position:absolute;'
                f'left:{min(100 * memory / scale, 99.7):.2f}%;top:-3px;height:24px;border-left:2px solid currentColor">'
                "</div>")
    legend = " ".join(f'<span style="white-space:nowrap"><span style="display:inline-block;width:9px;height:9px;'
                      f'background:{PART_COLORS.get(k, "#888")}"></span> {html.escape(label(k, v))}</span>'
                      for k, v in parts.items() if v > 0)
    caption = f'<div style="font-size:12px;margin-top:4px">{legend}' + (
        f' · <b>{html.escape(limit_label)}</b>' if limit_label else "") + "</div>"
    return ('<div class="studio-membar"><div style="position:relative;display:flex;width:100%;'
            'background:rgba(127,127,127,.15);border-radius:3px">' + "".join(segments) + line + "</div>"
            + caption + "</div>")


# ---------------------------------------------------------------------------------------------- data

def length_histogram(lengths: list[int], max_length: int | None = None, bins: int = 20) -> pd.DataFrame:
    """Token lengths in bins (tokens, rows, fits): rows over `max_length` coloured apart."""
    from ..data.stats import histogram_frame

    frame = histogram_frame(lengths, bins)
    if frame.empty:
        return frame.assign(fits=pd.Series(dtype="str"))

    def fits(label: str) -> str:
        """A bin is 'over' when it holds lengths above max_length (its upper end is past it)."""
        try:
            high = int(str(label).split("–")[-1])
        except ValueError:
            return "fits"
        return "over" if max_length and high > max_length else "fits"

    return frame.assign(fits=[fits(x) for x in frame["tokens"]])
