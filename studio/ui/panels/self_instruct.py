"""Self-Instruct panel: generate new examples from seed tasks with a teacher model (a `generate`
job, followed by the job panel), review them, and save or edit the kept ones."""

from __future__ import annotations

import time
import uuid

import gradio as gr
import pandas as pd

from ...data import session as sessions
from ...data import store
from ...data.filters import BLACKLIST
from ...errors import StudioError
from ...jobs.events import read_progress
from .. import choices
from ..context import bind
from ..job_panel import JobPanel
from .data_page import DataPage, err, require_rows, shown_values

REVIEW_HEADERS = ["keep", "instruction", "input", "output", "status", "detail"]


def build(studio, page: DataPage) -> None:
    t = studio.t
    with gr.Accordion(t("data.si_title"), open=False):
        gr.Markdown(t("data.si_help"))
        with gr.Row():
            seed_source = gr.Radio([(t("data.si_seed_current"), "current"), (t("data.si_seed_saved"), "saved")],
                                   value="current", label=t("data.si_seeds"), elem_id="si-seed-source")
            seed_saved = gr.Dropdown(choices.datasets(studio), label=t("data.si_seed_dataset"),
                                     elem_id="si-seed-dataset")
        with gr.Row():
            teacher_kind = gr.Radio([(t("data.si_embedded"), "embedded"), (t("data.si_local"), "local"),
                                     (t("data.si_endpoint"), "endpoint")], value="embedded",
                                    label=t("data.si_teacher"), elem_id="si-teacher")
            teacher_model = gr.Dropdown(choices.models(studio), value=choices.DEFAULT_MODEL, allow_custom_value=True,
                                        label=t("data.si_model"), elem_id="si-model")
            url = gr.Textbox(label=t("data.si_url"), placeholder="http://127.0.0.1:8000/v1", elem_id="si-url")
            key = gr.Textbox(label=t("data.si_key"), type="password", elem_id="si-key")
        with gr.Row():
            n_new = gr.Number(20, precision=0, minimum=1, label=t("data.si_count"), elem_id="si-count")
            max_req = gr.Number(0, precision=0, minimum=0, label=t("data.si_max_requests"), elem_id="si-max-requests")
            rouge = gr.Slider(0.1, 1.0, value=0.7, step=0.05, label=t("data.si_rouge"), elem_id="si-rouge")
            min_w = gr.Number(3, precision=0, minimum=1, label=t("data.si_min_words"), elem_id="si-min-words")
            max_w = gr.Number(150, precision=0, minimum=1, label=t("data.si_max_words"), elem_id="si-max-words")
        with gr.Row():
            blacklist = gr.Textbox(label=t("data.si_blacklist"), elem_id="si-blacklist", value=", ".join(BLACKLIST))
            pref = gr.Checkbox(False, label=t("data.si_preference"), elem_id="si-preference")
            judge = gr.Radio([(t("data.si_judge_rule"), "rule"), (t("data.si_judge_teacher"), "teacher")],
                             value="rule", label=t("data.si_judge"), elem_id="si-judge")
        si_start = gr.Button(t("data.si_start"), variant="primary", elem_id="si-start")
        panel = JobPanel.build(studio, kinds=("generate",), elem_prefix="si", log_lines=6, label=t("data.si_job"))
        si_counts = gr.Dataframe(headers=count_headers(t), interactive=False, elem_id="si-counts",
                                 label=t("data.si_counts"))
        si_load = gr.Button(t("data.si_review"), elem_id="si-review-load")
        review = gr.Dataframe(headers=REVIEW_HEADERS, datatype=["bool", "str", "str", "str", "str", "str"],
                              interactive=True, wrap=True, elem_id="si-review", label=t("data.si_review_grid"),
                              max_height=420)
        with gr.Row():
            si_name = gr.Textbox(label=t("data.name"), value="self-instruct", elem_id="si-name")
            si_save = gr.Button(t("data.si_save"), variant="primary", elem_id="si-save")
            si_to_editor = gr.Button(t("data.si_to_editor"), elem_id="si-to-editor")
        si_message = gr.Markdown(elem_id="si-message")
    job_key = gr.State(lambda: uuid.uuid4().hex)

    si_start.click(bind(on_si_start, studio),
                   [job_key, page.sess, seed_source, seed_saved, teacher_kind, teacher_model, url, key, n_new,
                    max_req, rouge, min_w, max_w, blacklist, pref, judge],
                   [panel.follow, si_message, job_key], concurrency_limit=1)
    # live counts ride on the panel's timer (it ticks only while the job runs) and show once it ends
    panel.timer.tick(bind(counts_frame, studio), panel.job_id, si_counts, show_progress="hidden")
    panel.finished.change(bind(counts_frame, studio), panel.finished, si_counts, show_progress="hidden")
    si_load.click(bind(on_review, studio), panel.job_id, [review, si_message])
    si_save.click(bind(on_si_save, studio), [review, si_name], [si_message, page.saved], concurrency_limit=1)
    si_to_editor.click(bind(on_to_editor, studio), review, page.shown())
    page.saved.change(bind(saved_update, studio), page.saved, seed_saved, show_progress="hidden")


# ---------------------------------------------------------------------------------------------- handlers

def count_headers(t) -> list[str]:
    return [t("data.si_count_name"), t("data.si_count_value")]


def counts_frame(studio, job_id: str | None) -> pd.DataFrame:
    """The generate job's counters (accepted, filtered by why, requests...) as a table."""
    counts = {}
    if job_id:
        try:
            counts = read_progress(studio.manager.get(job_id).run_dir).get("counts") or {}
        except StudioError:
            counts = {}
    return pd.DataFrame(list(counts.items()), columns=count_headers(studio.t))


def write_seeds(studio, sess) -> str:
    """The rows being edited, written as a seed file in the workspace for the generate job to read."""
    from ...atomic import write_jsonl

    require_rows(sess)
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    path = studio.workspace.uploads / f"self-instruct-seeds-{stamp}.jsonl"
    write_jsonl(path, sess.rows)
    return str(path)


def on_si_start(studio, request: gr.Request, job_key, sess, source, saved_ref, kind, teacher, url_text, api_key,
                count, requests, rouge_t, min_words, max_words, black, with_pref, judge_kind):
    """Queue a generate job from the form; the panel follows it. A new key per start."""
    from ...data.self_instruct import SelfInstructConfig, load_seeds

    t = studio.t
    try:
        if source == "saved":
            if not saved_ref:
                raise StudioError(key="ui.pick_seeds")
            seed_path = saved_ref
        else:
            seed_path = write_seeds(studio, sess)
        cfg = SelfInstructConfig.parse({
            "seed_path": seed_path, "num_instructions": int(count or 20), "max_requests": int(requests or 0),
            "teacher": {"kind": kind, "model": teacher or choices.DEFAULT_MODEL, "url": url_text or ""},
            "filters": {"rouge_threshold": float(rouge_t), "min_words": int(min_words or 1),
                        "max_words": int(max_words or 150),
                        "blacklist": [w.strip() for w in (black or "").split(",") if w.strip()]},
            "preference": {"enabled": bool(with_pref), "judge": judge_kind}})
        load_seeds(cfg.seed_path, studio.workspace.root)
        job = studio.manager.submit("generate", cfg.model_dump(mode="json"), key=job_key,
                                    title=f"Self-Instruct · {cfg.teacher.model}",
                                    owner=getattr(request, "username", None) if request else None,
                                    secrets={"api_key": api_key} if kind == "endpoint" and api_key else None)
    except StudioError as exc:
        return gr.update(), err(t, exc), job_key
    return job.id, t("data.si_started", id=job.id), uuid.uuid4().hex


def on_review(studio, job_id):
    from ...data.self_instruct import REVIEW_COLUMNS, review_rows

    t = studio.t
    if not job_id:
        return pd.DataFrame(columns=REVIEW_COLUMNS), t("data.si_no_job")
    rows = review_rows(studio.manager.get(job_id).run_dir)
    return pd.DataFrame(rows, columns=REVIEW_COLUMNS), t("data.si_reviewing", n=len(rows),
                                                        kept=sum(r["keep"] for r in rows))


def _kept(frame) -> list[dict]:
    from ...data.self_instruct import selected

    return selected(frame.to_dict(orient="records") if hasattr(frame, "to_dict") else [])


def on_si_save(studio, frame, dataset_name):
    t = studio.t
    rows = _kept(frame)
    try:
        out = store.save_dataset(studio.workspace.datasets, dataset_name or "self-instruct", rows, "alpaca",
                                 note="Self-Instruct, reviewed")
    except StudioError as exc:
        return err(t, exc), gr.update()
    return t("data.saved", name=out.parent.name, version=out.stem, rows=len(rows)), out.parent.name


def on_to_editor(studio, frame) -> list:
    """The kept rows become the dataset being edited (the grid panel shows them)."""
    rows = _kept(frame)
    sess = sessions.Session(rows, "alpaca", "self-instruct")
    sess.recheck()
    return shown_values(studio.t, sess, studio.t("data.edited", rows=len(rows)), name="self-instruct")


def saved_update(studio, _name=None):
    return gr.update(choices=choices.datasets(studio))
