"""Data page panel: question–answer rows from documents (a `docs` job), reviewed, then saved.

`build(studio)` needs nothing shared with the other Data panels. The handlers are module-level
functions of plain values (tests call them); they call `studio.data.docs`, which does the work.
"""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

import gradio as gr

from ...data.docs import REVIEW_COLUMNS, SUFFIXES
from ...errors import StudioError
from ...jobs.failure import error_text
from ..job_panel import timer_update

DEFAULT_TEACHER = "smollm2-135m-instruct"


def _err(t, exc: StudioError) -> str:
    return f"⚠️ {t.error(exc)}"


def job_choices(studio) -> list[tuple[str, str]]:
    return [(f"{j.title} · {studio.t('state.' + j.state)}", j.id) for j in studio.manager.list(kind="docs", limit=50)]


def keep_uploads(studio, paths: list[str]) -> list[str]:
    """Uploaded documents copied into the workspace (uploads/docs-…/), keeping their names for the rows."""
    folder = studio.workspace.uploads / f"docs-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for p in paths:
        src = Path(getattr(p, "name", p))
        target = folder / src.name
        shutil.copyfile(src, target)
        out.append(str(target))
    return out


def on_start(studio, files, kind: str, model: str, url: str, api_key: str, questions, chunk_chars, min_support,
             owner: str | None = None):
    """Submit the job; returns (job dropdown update, message)."""
    from ...data.docs import config_from

    t = studio.t
    try:
        if not files:
            raise StudioError(key="docs.no_files")
        cfg = config_from(keep_uploads(studio, files if isinstance(files, list) else [files]), kind,
                          model or (DEFAULT_TEACHER if kind == "embedded" else ""), url, int(questions or 2),
                          int(chunk_chars or 1500), 0, float(min_support if min_support is not None else 0.6))
        names = ", ".join(Path(f).name for f in cfg.files[:3]) + ("…" if len(cfg.files) > 3 else "")
        job = studio.manager.submit("docs", cfg.model_dump(mode="json"), title=f"Q&A · {names}", owner=owner,
                                    secrets={"api_key": api_key} if kind == "endpoint" and api_key else None)
    except StudioError as exc:
        return gr.update(), _err(t, exc)
    return gr.update(choices=job_choices(studio), value=job.id), t("docs.started", id=job.id)


def on_status(studio, job_id: str | None) -> str:
    """State, progress and the documents that could not be used (in the viewer's language)."""
    from ...data.docs import problems
    from ...jobs.events import read_progress

    t = studio.t
    if not job_id:
        return ""
    try:
        job = studio.manager.get(job_id)
    except StudioError as exc:
        return _err(t, exc)
    lines = [f"**{t('state.' + job.state)}** · {read_progress(job.run_dir).get('message', '')}"]
    lines += [f"⚠️ {p}" for p in problems(job.run_dir, t.lang)]
    if job.error and job.state not in ("succeeded", "running"):
        lines.append(f"⚠️ {error_text(job, t.lang)}")
    return "  \n".join(lines)


def on_action(studio, action: str, job_id: str | None) -> str:
    t = studio.t
    if not job_id:
        return t("docs.no_job")
    try:
        job = getattr(studio.manager, action)(job_id)
    except StudioError as exc:
        return _err(t, exc)
    return t(f"docs.{action}_sent", id=job.id)


def on_review(studio, job_id: str | None):
    """The job's questions and answers in the review grid, `keep` ticked for those the filters kept."""
    import pandas as pd

    from ...data.docs import review_rows

    t = studio.t
    if not job_id:
        return pd.DataFrame(columns=REVIEW_COLUMNS), t("docs.no_job")
    rows = review_rows(studio.manager.get(job_id).run_dir)
    return pd.DataFrame(rows, columns=REVIEW_COLUMNS), t("docs.reviewing", n=len(rows),
                                                         kept=sum(bool(r["keep"]) for r in rows))


def on_save(studio, frame, name: str) -> str:
    """The ticked rows saved as the next version of dataset `name` (checked like any dataset)."""
    from ...data.docs import save_reviewed
    from ...data.findings import DataError

    t = studio.t
    records = frame.to_dict(orient="records") if hasattr(frame, "to_dict") else list(frame or [])
    try:
        path, count = save_reviewed(studio.workspace.datasets, (name or "").strip() or "documents-qa", records)
    except DataError as exc:
        return "⚠️ " + "; ".join(f.one_line() for f in exc.findings[:5])
    except StudioError as exc:
        return _err(t, exc)
    return t("docs.saved", name=path.parent.name, version=path.stem, rows=count)


def build(studio) -> None:
    t = studio.t
    with gr.Accordion(t("docs.title"), open=False, elem_id="docs-panel"):
        gr.Markdown(t("docs.help"))
        files = gr.File(file_count="multiple", file_types=sorted(SUFFIXES), label=t("docs.files"),
                        elem_id="docs-files")
        with gr.Row():
            kind = gr.Radio([(t("docs.teacher_embedded"), "embedded"), (t("docs.teacher_local"), "local"),
                             (t("docs.teacher_endpoint"), "endpoint")], value="embedded", label=t("docs.teacher"),
                            elem_id="docs-teacher")
            model = gr.Textbox(DEFAULT_TEACHER, label=t("docs.model"), elem_id="docs-model")
            url = gr.Textbox(label=t("docs.url"), placeholder="http://127.0.0.1:8000/v1", elem_id="docs-url")
            key = gr.Textbox(label=t("docs.key"), type="password", elem_id="docs-key")
        with gr.Row():
            questions = gr.Number(2, precision=0, minimum=1, maximum=10, label=t("docs.questions"),
                                  elem_id="docs-questions")
            chunk_chars = gr.Number(1500, precision=0, minimum=200, label=t("docs.chunk_chars"),
                                    elem_id="docs-chunk-chars")
            support = gr.Slider(0.0, 1.0, value=0.6, step=0.05, label=t("docs.min_support"), elem_id="docs-support")
        start = gr.Button(t("docs.start"), variant="primary", elem_id="docs-start")
        with gr.Row():
            job = gr.Dropdown(job_choices(studio), label=t("docs.job"), elem_id="docs-job", scale=4)
            cancel = gr.Button(t("docs.cancel"), size="sm", scale=1, elem_id="docs-cancel")
            resume = gr.Button(t("docs.resume"), size="sm", scale=1, elem_id="docs-resume")
        status = gr.Markdown(elem_id="docs-status")
        load = gr.Button(t("docs.review"), elem_id="docs-review-load")
        review = gr.Dataframe(headers=REVIEW_COLUMNS, datatype=["bool"] + ["str"] * (len(REVIEW_COLUMNS) - 1),
                              interactive=True, wrap=True, elem_id="docs-review", label=t("docs.review_grid"),
                              max_height=420)
        with gr.Row():
            name = gr.Textbox("documents-qa", label=t("docs.dataset_name"), elem_id="docs-dataset-name", scale=3)
            save = gr.Button(t("docs.save"), variant="primary", scale=1, elem_id="docs-save")
        message = gr.Markdown(elem_id="docs-message")

    def start_click(request: gr.Request, *values):
        return on_start(studio, *values, owner=getattr(request, "username", None) if request else None)

    start.click(start_click, [files, kind, model, url, key, questions, chunk_chars, support], [job, message],
                concurrency_limit=1)
    job.change(lambda j: on_status(studio, j), job, status, show_progress="hidden")
    timer = gr.Timer(3.0, active=False)  # ticks only while the job is queued or running
    timer.tick(lambda j: on_status(studio, j), job, status, show_progress="hidden")
    gr.on([job.change, timer.tick], lambda j: timer_update(studio, j), job, timer, show_progress="hidden")
    cancel.click(lambda j: on_action(studio, "cancel", j), job, message)
    resume.click(lambda j: on_action(studio, "resume", j), job, message).then(
        lambda j: timer_update(studio, j), job, timer, show_progress="hidden")
    load.click(lambda j: on_review(studio, j), job, [review, message])
    save.click(lambda f, n: on_save(studio, f, n), [review, name], message, concurrency_limit=1)
