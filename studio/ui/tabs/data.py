"""Data tab: import with format detection and column mapping, findings, what the model sees,
statistics, an editable grid, versioned saving and JSONL export, and Self-Instruct generation.

Handlers stay thin: they move values between components and the plain functions in
`studio.data` (session, edit, preview, stats, store, self_instruct), which have their own tests.
The dataset being edited lives in a per-browser-session `gr.State`; what is saved lives in the
workspace.
"""

from __future__ import annotations

import functools
import shutil
import time
import uuid
from pathlib import Path

import gradio as gr
import pandas as pd

from ...data import edit, formats, session as sessions, stats, store
from ...data.filters import BLACKLIST
from ...data.findings import DataError
from ...errors import StudioError
from ...jobs.events import read_progress
from ...models import known_models
from ...workspace import safe_name

MAP_SLOTS = 6  # mapping dropdowns: enough for the widest format (alpaca: 5 fields)
NONE = "—"
UPLOAD_TYPES = [".json", ".jsonl", ".csv", ".tsv", ".txt", ".parquet", ".xlsx", ".xls"]


def _copy_upload(studio, temp_path: str) -> Path:
    """Keep the uploaded file in the workspace (gradio's temp copy may be cleaned up)."""
    source = Path(temp_path)
    target = studio.workspace.uploads / safe_name(source.name, "file name")
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(source, tmp)
    tmp.replace(target)
    return target


def _err(exc: StudioError) -> str:
    return f"⚠️ {exc.one_line()}"


def _findings_frame(sess) -> pd.DataFrame:
    return pd.DataFrame(sessions.findings_rows(sess.findings if sess else []), columns=sessions.FINDING_COLUMNS)


def _summary(t, sess) -> str:
    if sess is None:
        return ""
    n_err = len(sess.errors)
    n_warn = len(sess.findings) - n_err
    text = t("data.detected", file=sess.file, rows=len(sess.rows), format=sess.format or "?",
             encoding=sess.encoding or "—")
    if sess.validation:
        text += " " + t("data.split_held", rows=len(sess.validation))
    return text + "  \n" + (t("data.problems", errors=n_err, warnings=n_warn) if sess.findings else t("data.clean"))


def _stages():
    from ... import stages

    return [(s.text("title"), s.name) for s in sorted(stages.REGISTRY, key=lambda s: s.order)]


def _target(stage_name: str) -> str:
    from ... import stages

    return stages.REGISTRY.get(stage_name or "sft").data_target


def _generate_jobs(studio):
    return [j for j in studio.manager.list(limit=50) if j.kind == "generate"]


def build(studio, handles):
    t = studio.t
    sess_state = gr.State(None)
    view_state = gr.State([])  # row indices shown in the grid
    source_state = gr.State(None)  # path of the imported file (for re-reading with a new mapping)

    # ---------------------------------------------------------------- import
    with gr.Row():
        with gr.Column(scale=2):
            upload = gr.File(label=t("data.upload"), file_types=UPLOAD_TYPES, elem_id="data-upload")
            with gr.Row():
                saved_pick = gr.Dropdown(store.list_datasets(studio.workspace.datasets), label=t("data.open_saved"),
                                         elem_id="data-open-saved", scale=3)
                open_saved = gr.Button(t("data.open"), size="sm", scale=1, elem_id="data-open")
            summary = gr.Markdown(elem_id="data-summary")
        with gr.Column(scale=3):
            with gr.Row():
                fmt_pick = gr.Dropdown(["auto"] + list(formats.FORMATS), value="auto", label=t("data.format"),
                                       elem_id="data-format")
                apply_map = gr.Button(t("data.apply_mapping"), size="sm", elem_id="data-apply-mapping")
            gr.Markdown(t("data.mapping_help"))
            with gr.Row():
                slots = [gr.Dropdown([NONE], value=NONE, label=f"field {i + 1}", visible=False,
                                     elem_id=f"data-map-{i}", allow_custom_value=False) for i in range(MAP_SLOTS)]
    findings = gr.Dataframe(headers=sessions.FINDING_COLUMNS, label=t("data.findings"), interactive=False,
                            elem_id="data-findings", wrap=True, max_height=260)

    # ---------------------------------------------------------------- preview and statistics
    with gr.Accordion(t("data.preview_title"), open=True):
        with gr.Row():
            model = gr.Dropdown(known_models(studio.workspace.root), value="smollm2-135m-instruct",
                                allow_custom_value=True, label=t("data.model"), elem_id="data-model", scale=3)
            template = gr.Dropdown([NONE, "chatml", "alpaca", "llama3"], value=NONE, label=t("data.template"),
                                   elem_id="data-template", scale=2)
            stage = gr.Dropdown(_stages(), value="sft", label=t("data.stage"), elem_id="data-stage", scale=2)
            max_len = gr.Number(1024, precision=0, minimum=16, label=t("data.max_length"), elem_id="data-max-length",
                                scale=1)
            row_no = gr.Number(1, precision=0, minimum=1, label=t("data.row"), elem_id="data-preview-row", scale=1)
        with gr.Row():
            show = gr.Button(t("data.show_preview"), elem_id="data-show-preview")
            measure = gr.Button(t("data.measure"), elem_id="data-measure")
        gr.Markdown(t("data.legend"))
        preview_html = gr.HTML(elem_id="data-preview")
        with gr.Row():
            fields_table = gr.Dataframe(headers=["field", "rows", "types"], label=t("data.fields"),
                                        interactive=False, elem_id="data-fields", scale=2)
            hist = gr.BarPlot(stats.histogram_frame([]), x="tokens", y="rows", title=t("data.histogram"),
                              elem_id="data-histogram", sort=None, x_label_angle=-45, height=260, scale=3)
        length_md = gr.Markdown(elem_id="data-lengths")

    # ---------------------------------------------------------------- editing
    with gr.Accordion(t("data.edit_title"), open=True):
        with gr.Row():
            query = gr.Textbox(label=t("data.search"), placeholder=t("data.search_hint"), elem_id="data-search",
                               scale=3)
            column = gr.Dropdown([NONE], value=NONE, label=t("data.column"), elem_id="data-search-column", scale=1)
            do_search = gr.Button(t("data.search_button"), size="sm", scale=1, elem_id="data-search-go")
        grid = gr.Dataframe(label=t("data.grid"), interactive=True, wrap=True, elem_id="data-grid", max_height=420)
        with gr.Row():
            apply_grid = gr.Button(t("data.apply_edits"), variant="primary", elem_id="data-apply-edits")
            add = gr.Button(t("data.add_row"), elem_id="data-add-row")
            delete_spec = gr.Textbox(label=t("data.delete_rows"), placeholder="3, 5-7", elem_id="data-delete-spec")
            delete = gr.Button(t("data.delete"), elem_id="data-delete")
        with gr.Row():
            dedupe = gr.Button(t("data.dedupe"), elem_id="data-dedupe")
            seed = gr.Number(42, precision=0, label=t("data.seed"), elem_id="data-seed")
            shuffle = gr.Button(t("data.shuffle"), elem_id="data-shuffle")
            val = gr.Slider(0.0, 0.5, value=0.1, step=0.05, label=t("data.val_share"), elem_id="data-val")
            split = gr.Button(t("data.split"), elem_id="data-split")
        with gr.Row():
            name = gr.Textbox(label=t("data.name"), elem_id="dataset-name")
            save = gr.Button(t("data.save"), variant="primary", elem_id="save-dataset")
            export = gr.Button(t("data.export"), elem_id="data-export")
        message = gr.Markdown(elem_id="data-saved")
        export_file = gr.File(label=t("data.exported"), interactive=False, elem_id="data-export-file")

    # ---------------------------------------------------------------- self-instruct
    with gr.Accordion(t("data.si_title"), open=False):
        gr.Markdown(t("data.si_help"))
        with gr.Row():
            seed_source = gr.Radio([(t("data.si_seed_current"), "current"), (t("data.si_seed_saved"), "saved")],
                                   value="current", label=t("data.si_seeds"), elem_id="si-seed-source")
            seed_saved = gr.Dropdown(store.list_datasets(studio.workspace.datasets), label=t("data.si_seed_dataset"),
                                     elem_id="si-seed-dataset")
        with gr.Row():
            teacher_kind = gr.Radio([(t("data.si_embedded"), "embedded"), (t("data.si_local"), "local"),
                                     (t("data.si_endpoint"), "endpoint")], value="embedded",
                                    label=t("data.si_teacher"), elem_id="si-teacher")
            teacher_model = gr.Dropdown(known_models(studio.workspace.root), value="smollm2-135m-instruct",
                                        allow_custom_value=True, label=t("data.si_model"), elem_id="si-model")
            url = gr.Textbox(label=t("data.si_url"), placeholder="http://127.0.0.1:8000/v1", elem_id="si-url")
            key = gr.Textbox(label=t("data.si_key"), type="password", elem_id="si-key")
        with gr.Row():
            n_new = gr.Number(20, precision=0, minimum=1, label=t("data.si_count"), elem_id="si-count")
            max_req = gr.Number(0, precision=0, minimum=0, label=t("data.si_max_requests"), elem_id="si-max-requests")
            rouge = gr.Slider(0.1, 1.0, value=0.7, step=0.05, label=t("data.si_rouge"), elem_id="si-rouge")
            min_w = gr.Number(3, precision=0, minimum=1, label=t("data.si_min_words"), elem_id="si-min-words")
            max_w = gr.Number(150, precision=0, minimum=1, label=t("data.si_max_words"), elem_id="si-max-words")
        with gr.Row():
            blacklist = gr.Textbox(label=t("data.si_blacklist"), elem_id="si-blacklist",
                                   value=", ".join(BLACKLIST))
            pref = gr.Checkbox(False, label=t("data.si_preference"), elem_id="si-preference")
            judge = gr.Radio([(t("data.si_judge_rule"), "rule"), (t("data.si_judge_teacher"), "teacher")],
                             value="rule", label=t("data.si_judge"), elem_id="si-judge")
        with gr.Row():
            si_start = gr.Button(t("data.si_start"), variant="primary", elem_id="si-start")
            si_job = gr.Dropdown([], label=t("data.si_job"), elem_id="si-job", scale=3)
            si_cancel = gr.Button(t("jobs.cancel"), size="sm", elem_id="si-cancel")
            si_resume = gr.Button(t("jobs.resume"), size="sm", elem_id="si-resume")
        si_status = gr.Markdown(elem_id="si-status")
        si_counts = gr.Dataframe(headers=["count", "value"], interactive=False, elem_id="si-counts", label=t("data.si_counts"))
        si_load = gr.Button(t("data.si_review"), elem_id="si-review-load")
        review = gr.Dataframe(headers=["keep", "instruction", "input", "output", "status", "detail"],
                              datatype=["bool", "str", "str", "str", "str", "str"], interactive=True, wrap=True,
                              elem_id="si-review", label=t("data.si_review_grid"), max_height=420)
        with gr.Row():
            si_name = gr.Textbox(label=t("data.name"), value="self-instruct", elem_id="si-name")
            si_save = gr.Button(t("data.si_save"), variant="primary", elem_id="si-save")
            si_to_editor = gr.Button(t("data.si_to_editor"), elem_id="si-to-editor")
        si_message = gr.Markdown(elem_id="si-message")
    si_key = gr.State(lambda: uuid.uuid4().hex)

    # ================================================================ handlers

    def grid_outputs(sess, indices=None):
        rows = sess.rows if sess else []
        indices = list(range(len(rows))) if indices is None else indices
        cols = edit.columns_of(rows, sess.format if sess else None)
        return (edit.to_grid(rows, indices, sess.format if sess else None), indices,
                gr.update(choices=[NONE] + cols, value=NONE))

    def mapping_updates(sess, fmt):
        if sess is None:
            return [gr.update(visible=False) for _ in range(MAP_SLOTS)]
        chosen = fmt if fmt in formats.FORMATS else (sess.format or None)
        guess = sessions.suggested_mapping(sess, chosen)
        if chosen is None and guess:
            from ...data import mapping as mapping_mod

            chosen = mapping_mod.suggest(sess.raw_columns)[0]
        schema = formats.get(chosen) if chosen else None
        fields = list(schema.required + schema.optional) if schema else []
        ups = []
        for i in range(MAP_SLOTS):
            if i < len(fields):
                req = "*" if fields[i] in schema.required else ""
                ups.append(gr.update(visible=True, label=f"{fields[i]}{req}", choices=[NONE] + sess.raw_columns,
                                     value=guess.get(fields[i], NONE)))
            else:
                ups.append(gr.update(visible=False, value=NONE))
        return ups

    def everything(sess, message_text=""):
        grid_frame, indices, col_update = grid_outputs(sess)
        return [sess, _summary(t, sess), _findings_frame(sess), grid_frame, indices, col_update,
                message_text, *mapping_updates(sess, sess.format if sess else None)]

    loaded_outputs = [sess_state, summary, findings, grid, view_state, column, message, *slots]

    def on_upload(file):
        if file is None:
            return [None, *everything(None)]
        path = _copy_upload(studio, file if isinstance(file, str) else file.name)
        sess = sessions.open_data(path)
        return [str(path), *everything(sess), ]

    upload.upload(on_upload, upload, [source_state, *loaded_outputs]).then(
        lambda s: gr.update(value=Path(s.file).stem if s and s.file else ""), sess_state, name)

    def on_open_saved(ref):
        if not ref:
            return [None, *everything(None, t("data.nothing"))]
        path = store.resolve(studio.workspace.datasets, ref)
        return [str(path), *everything(sessions.open_data(path))]

    open_saved.click(on_open_saved, saved_pick, [source_state, *loaded_outputs]).then(
        lambda r: gr.update(value=r or ""), saved_pick, name)

    def on_format(sess, fmt):
        return mapping_updates(sess, fmt)

    fmt_pick.change(on_format, [sess_state, fmt_pick], slots)

    def on_apply_mapping(path, sess, fmt, *values):
        if not path:
            return everything(sess, t("data.nothing"))
        chosen = fmt if fmt in formats.FORMATS else (sess.format if sess and sess.format else None)
        if chosen is None and sess is not None:
            from ...data import mapping as mapping_mod

            chosen = mapping_mod.suggest(sess.raw_columns)[0]
        fields = list(formats.get(chosen).required + formats.get(chosen).optional) if chosen else []
        columns = {src: field for field, src in zip(fields, values) if src and src != NONE and src != field}
        new = sessions.open_data(path, chosen or "auto", columns)
        return everything(new, t("data.mapped", format=new.format or "?"))

    apply_map.click(on_apply_mapping, [source_state, sess_state, fmt_pick, *slots], loaded_outputs)

    # preview and statistics
    def tokenizer_for(model_name, template_name):
        from ...data.preview import load_tokenizer

        return load_tokenizer(model_name, None if template_name in (None, NONE) else template_name)

    def converted(sess, stage_name):
        if sess is None or not sess.rows:
            raise StudioError(t("data.nothing"))
        if sess.errors:
            raise DataError(sess.errors)
        target = _target(stage_name)
        convert = formats.converter(formats.get(sess.format), target)
        return target, [convert(r, None) for r in sess.rows]

    def on_preview(sess, model_name, template_name, stage_name, max_length, row):
        from ...data.preview import preview_rows

        try:
            target, rows = converted(sess, stage_name)
            index = int(row or 1) - 1
            if not 0 <= index < len(rows):
                raise StudioError(t("data.no_such_row", row=index + 1, rows=len(rows)))
            tok = tokenizer_for(model_name, template_name)
            view = preview_rows([rows[index]], target, tok, int(max_length or 1024))[0]
        except StudioError as exc:
            return _err(exc)
        notes = list(view.notes)
        if view.dropped():
            notes.append(t("data.row_dropped", tokens=view.length))
        elif view.truncated():
            notes.append(t("data.row_cut", tokens=view.length, max=int(max_length)))
        head = t("data.preview_head", tokens=view.length,
                 trained=sum(sum(s.trained) for s in view.sequences))
        return f"<p>{head}</p>" + "".join(f"<p>⚠️ {n}</p>" for n in notes) + view.html()

    show.click(on_preview, [sess_state, model, template, stage, max_len, row_no], preview_html)

    def on_measure(sess, model_name, template_name, stage_name, max_length):
        from ...data.checks import length_findings

        fields = pd.DataFrame(stats.fields_present(sess.rows if sess else []), columns=["field", "rows", "types"])
        try:
            target, rows = converted(sess, stage_name)
            tok = tokenizer_for(model_name, template_name)
            long_rows, lengths = length_findings(sess.table(), rows, target, tok, int(max_length or 1024))
        except StudioError as exc:
            return fields, stats.histogram_frame([]), _err(exc), _findings_frame(sess), sess
        sess.recheck()
        sess.findings = sess.findings + long_rows
        s = stats.length_summary(lengths, int(max_length or 1024))
        text = t("data.lengths", **{k: s.get(k, 0) for k in ("rows", "min", "p50", "p95", "max", "over_max_length")})
        return fields, stats.histogram_frame(lengths), text, _findings_frame(sess), sess

    measure.click(on_measure, [sess_state, model, template, stage, max_len],
                  [fields_table, hist, length_md, findings, sess_state])

    # editing
    def after_edit(sess, text, indices=None):
        sess.recheck()
        grid_frame, indices, col_update = grid_outputs(sess, indices)
        return sess, _summary(t, sess), _findings_frame(sess), grid_frame, indices, col_update, text

    edit_outputs = [sess_state, summary, findings, grid, view_state, column, message]

    def guarded(fn):
        @functools.wraps(fn)
        def run(sess, *args):
            if sess is None:
                return [gr.update()] * 6 + [t("data.nothing")]
            try:
                return fn(sess, *args)
            except StudioError as exc:
                return [gr.update()] * 6 + [_err(exc)]
        return run

    @guarded
    def on_search(sess, q, col):
        indices = edit.search(sess.rows, q, None if col in (None, NONE) else col)
        grid_frame, indices, _ = grid_outputs(sess, indices)
        return sess, gr.update(), gr.update(), grid_frame, indices, gr.update(), t("data.found", n=len(indices))

    do_search.click(on_search, [sess_state, query, column], edit_outputs)
    query.submit(on_search, [sess_state, query, column], edit_outputs)

    @guarded
    def on_apply_grid(sess, frame, indices):
        sess.rows = edit.from_grid(sess.rows, frame)
        sess.lines = []
        return after_edit(sess, t("data.edited", rows=len(sess.rows)), indices)

    apply_grid.click(on_apply_grid, [sess_state, grid, view_state], edit_outputs)

    @guarded
    def on_add(sess):
        sess.rows = edit.add_row(sess.rows, sess.format or "alpaca")
        sess.lines = []
        return after_edit(sess, t("data.added", row=len(sess.rows)), [len(sess.rows) - 1])

    add.click(on_add, sess_state, edit_outputs)

    @guarded
    def on_delete(sess, spec):
        before = len(sess.rows)
        sess.rows = edit.delete_rows(sess.rows, spec)
        sess.lines = []
        return after_edit(sess, t("data.deleted", n=before - len(sess.rows)))

    delete.click(on_delete, [sess_state, delete_spec], edit_outputs)

    @guarded
    def on_dedupe(sess):
        sess.rows, removed = edit.drop_duplicates(sess.rows)
        sess.lines = []
        return after_edit(sess, t("data.deduped", n=removed))

    dedupe.click(on_dedupe, sess_state, edit_outputs)

    @guarded
    def on_shuffle(sess, s):
        sess.rows = edit.shuffle(sess.rows, int(s or 0))
        sess.lines = []
        return after_edit(sess, t("data.shuffled", seed=int(s or 0)))

    shuffle.click(on_shuffle, [sess_state, seed], edit_outputs)

    @guarded
    def on_split(sess, share, s):
        rows = sess.rows + sess.validation
        sess.rows, sess.validation = edit.split(rows, float(share), int(s or 0))
        sess.lines = []
        return after_edit(sess, t("data.split_done", train=len(sess.rows), val=len(sess.validation)))

    split.click(on_split, [sess_state, val, seed], edit_outputs)

    def on_save(sess, dataset_name):
        if sess is None:
            return t("data.nothing"), gr.update(), gr.update(), gr.update()
        try:
            out = sessions.save(sess, studio.workspace.datasets, dataset_name or Path(sess.file).stem or "dataset",
                                note=f"from {sess.file}")
        except StudioError as exc:
            return _err(exc), _findings_frame(sess), gr.update(), gr.update()
        names = store.list_datasets(studio.workspace.datasets)
        return (t("data.saved", name=out.parent.name, version=out.stem, rows=len(sess.rows)), _findings_frame(sess),
                gr.update(choices=names, value=out.parent.name), gr.update(choices=names))

    save.click(on_save, [sess_state, name], [message, findings, saved_pick, seed_saved], concurrency_limit=1)

    def on_export(sess, dataset_name):
        if sess is None or not sess.rows:
            return t("data.nothing"), None
        out = store.export_jsonl(studio.workspace.exports, dataset_name or Path(sess.file).stem or "dataset",
                                 sess.rows)
        return t("data.exported_to", path=out.name, rows=len(sess.rows)), str(out)

    export.click(on_export, [sess_state, name], [message, export_file])

    # self-instruct
    def on_si_start(request: gr.Request, job_key, sess, source, saved_ref, kind, teacher, url_text, api_key, count,
                    requests, rouge_t, min_words, max_words, black, with_pref, judge_kind):
        from ...data.self_instruct import SelfInstructConfig, load_seeds

        try:
            if source == "saved":
                if not saved_ref:
                    raise StudioError(t("data.si_pick_seeds"))
                seed_path = saved_ref
            else:
                if sess is None or not sess.rows:
                    raise StudioError(t("data.nothing"))
                seed_path = _write_seeds(studio, sess)
            cfg = SelfInstructConfig.parse({
                "seed_path": seed_path, "num_instructions": int(count or 20), "max_requests": int(requests or 0),
                "teacher": {"kind": kind, "model": teacher or "smollm2-135m-instruct", "url": url_text or ""},
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
            return gr.update(), _err(exc), job_key
        choices = [(j.title + " · " + j.state, j.id) for j in _generate_jobs(studio)]
        return gr.update(choices=choices, value=job.id), t("data.si_started", id=job.id), uuid.uuid4().hex

    si_start.click(on_si_start, [si_key, sess_state, seed_source, seed_saved, teacher_kind, teacher_model, url, key,
                                 n_new, max_req, rouge, min_w, max_w, blacklist, pref, judge],
                   [si_job, si_message, si_key], concurrency_limit=1)

    def si_refresh(job_id):
        jobs = _generate_jobs(studio)
        choices = [(j.title + " · " + j.state, j.id) for j in jobs]
        if not job_id:
            return gr.update(choices=choices), "", pd.DataFrame(columns=["count", "value"])
        try:
            job = studio.manager.get(job_id)
        except StudioError as exc:
            return gr.update(choices=choices), _err(exc), pd.DataFrame(columns=["count", "value"])
        prog = read_progress(job.run_dir)
        counts = prog.get("counts") or {}
        text = f"**{t('state.' + job.state)}** · {prog.get('message', '')}"
        if job.error and job.state != "succeeded":
            text += f"  \n⚠️ {job.error}"
        return (gr.update(choices=choices, value=job_id), text,
                pd.DataFrame(list(counts.items()), columns=["count", "value"]))

    si_timer = gr.Timer(2.0)
    si_timer.tick(si_refresh, si_job, [si_job, si_status, si_counts], show_progress="hidden", concurrency_limit=2)
    si_job.change(si_refresh, si_job, [si_job, si_status, si_counts], show_progress="hidden")

    def si_act(action, job_id):
        if not job_id:
            return t("data.si_no_job")
        try:
            job = getattr(studio.manager, action)(job_id)
        except StudioError as exc:
            return _err(exc)
        return t(f"jobs.{action}_sent", id=job.id, state=t("state." + job.state))

    si_cancel.click(lambda j: si_act("cancel", j), si_job, si_message)
    si_resume.click(lambda j: si_act("resume", j), si_job, si_message)

    def on_review(job_id):
        from ...data.self_instruct import REVIEW_COLUMNS, review_rows

        if not job_id:
            return pd.DataFrame(columns=REVIEW_COLUMNS), t("data.si_no_job")
        rows = review_rows(studio.manager.get(job_id).run_dir)
        return pd.DataFrame(rows, columns=REVIEW_COLUMNS), t("data.si_reviewing", n=len(rows),
                                                            kept=sum(r["keep"] for r in rows))

    si_load.click(on_review, si_job, [review, si_message])

    def on_si_save(frame, dataset_name):
        from ...data.self_instruct import selected

        rows = selected(frame.to_dict(orient="records") if hasattr(frame, "to_dict") else [])
        try:
            out = store.save_dataset(studio.workspace.datasets, dataset_name or "self-instruct", rows, "alpaca",
                                     note="Self-Instruct, reviewed")
        except StudioError as exc:
            return _err(exc), gr.update(), gr.update()
        names = store.list_datasets(studio.workspace.datasets)
        return (t("data.saved", name=out.parent.name, version=out.stem, rows=len(rows)),
                gr.update(choices=names), gr.update(choices=names))

    si_save.click(on_si_save, [review, si_name], [si_message, saved_pick, seed_saved], concurrency_limit=1)

    def on_to_editor(frame):
        from ...data.self_instruct import selected

        rows = selected(frame.to_dict(orient="records") if hasattr(frame, "to_dict") else [])
        sess = sessions.Session(rows, "alpaca", "self-instruct")
        sess.recheck()
        return everything(sess, t("data.edited", rows=len(rows)))

    si_to_editor.click(on_to_editor, review, loaded_outputs)
    return None


def _write_seeds(studio, sess) -> str:
    """The rows being edited, written as a seed file in the workspace for the generate job to read."""
    from ...atomic import write_jsonl

    if sess.errors:
        raise DataError(sess.errors)
    path = studio.workspace.uploads / f"self-instruct-seeds-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}.jsonl"
    write_jsonl(path, sess.rows)
    return str(path)
