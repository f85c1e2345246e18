"""Rendering a job's progress and state for the page (pure functions, easy to test); curves are in charts.py."""

from __future__ import annotations

import html
import time

from ..jobs.failure import error_text

STATE_COLORS = {"queued": "#6b7280", "running": "#2563eb", "succeeded": "#16a34a", "failed": "#dc2626",
                "cancelled": "#9ca3af", "interrupted": "#d97706"}


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def progress_html(job, progress: dict, t) -> str:
    if job is None:
        return f"<div class='studio-progress empty'>{html.escape(t('train.no_job'))}</div>"
    fraction = progress.get("fraction")
    pct = 0 if fraction is None else round(100 * fraction)
    color = STATE_COLORS.get(job.state, "#6b7280")
    bar_class = "indeterminate" if fraction is None and job.state == "running" else ""
    eta = progress.get("eta_s") if job.state == "running" else None
    bits = [f"<b style='color:{color}' class='job-state' data-state='{job.state}'>{t('state.' + job.state)}</b>",
            html.escape(progress.get("message", ""))]
    if eta is not None:
        bits.append(f"{t('train.eta')} {fmt_seconds(eta)}")
    if progress.get("elapsed_s") is not None:
        bits.append(f"{t('train.elapsed')} {fmt_seconds(progress['elapsed_s'])}")
    error = (f"<div class='studio-error'>{html.escape(error_text(job, t.lang))}</div>"
             if job.error and job.state != "succeeded" else "")
    return (f"<div class='studio-progress' data-job='{html.escape(job.id)}'>"
            f"<div class='bar {bar_class}'><div class='fill' style='width:{pct}%;background:{color}'></div></div>"
            f"<div class='line'>{' · '.join(bits)} <span class='pct'>{pct}%</span></div>{error}</div>")


def job_label(job, t=None) -> str:
    """'<title> · <state> · <when>' for pickers, the state in the reader's language when `t` is given."""
    when = time.strftime("%m-%d %H:%M", time.localtime(job.created_at))
    state = t("state." + job.state) if t is not None else job.state
    return f"{job.title} · {state} · {when}"
