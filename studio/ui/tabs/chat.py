"""Chat tab: serve models as jobs, compare them side by side in 2-4 panes, and evaluate them in batch.

The handlers only translate between components and `studio.infer.compare` / `studio.eval.results`
(which the tests drive directly): the page never runs a model itself. Each pane is an OpenAI client
of a serve job (one job per base model; adapters ride on their base's job) or of an external
endpoint whose API key stays in this browser tab (a component value, never stored or logged).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import gradio as gr

from ...models.templates import TEMPLATES
from ...errors import StudioError
from ...infer import compare
from ...infer.base import Sampling
from ...infer.engines import available, default_engine, fallback_note
from .. import choices
from ..context import bind
from ..forms import ConfigForm
from ..job_panel import JobPanel
from ..panels import lmeval

MAX_PANES = 4


def starting(studio) -> bool:
    """Whether an engine is on its way up (queued, or running without its server.json yet): the
    page's timer ticks only then, to show the engine and fill the panes' lists when it is ready."""
    jobs = compare.serve_jobs(studio.manager)
    up = {job.id for job, _info in compare.servers(studio.manager)}
    return any(j.id not in up for j in jobs)


def engine_line(studio) -> str:
    note = fallback_note()
    return compare.engine_status(studio.manager, studio.t) + (f"\n\n_{studio.t('chat.fallback')}_" if note else "")


def _pane_updates(studio, values):
    choices = compare.pane_choices(studio.manager)
    valid = {v for _l, v in choices}
    served = [v for _l, v in choices if v != compare.ENDPOINT]
    out = []
    for i, current in enumerate(values):
        # keep the pane's pick while it is served; else the i-th served model (none yet: no pick)
        value = current if current in valid else (served[min(i, len(served) - 1)] if served else None)
        out.append(gr.update(choices=choices, value=value))
    return out


def _stats_text(t, stats) -> str:
    if isinstance(stats, str) or stats is None:
        return ""
    n = compare.stats_numbers(stats)
    ttft = f"{n['ttft_s']:.2f} s" if n.get("ttft_s") is not None else "—"
    tps = f"{n['tokens_per_s']:.1f}" if n.get("tokens_per_s") else "—"
    return t("chat.stats", total=f"{n['latency_s']:.2f} s", ttft=ttft, tps=tps, tokens=n["tokens"])


def build(studio) -> None:
    t = studio.t
    with gr.Tabs():
        with gr.Tab(t("chat.chat_sub"), id="chat-compare"):
            _side_by_side(studio, t)
        with gr.Tab(t("chat.eval_tab"), id="chat-eval"):
            _evaluation(studio, t)
            lmeval.build(studio)  # standard benchmarks (lm-evaluation-harness), base and tuned side by side


# ---------------------------------------------------------------------------------------------- side by side

def _side_by_side(studio, t) -> None:
    with gr.Row():
        model = gr.Dropdown(choices.models(studio), value=choices.DEFAULT_MODEL, allow_custom_value=True,
                            label=t("chat.model"), elem_id="chat-model", scale=2)
        adapter_pick = gr.CheckboxGroup(choices=choices.adapters(studio, "serve"), label=t("chat.adapters"),
                                        elem_id="chat-adapters", scale=3)
        merged_pick = gr.CheckboxGroup(choices=choices.merged_models(studio, "serve"), label=t("chat.merged"),
                                       elem_id="chat-merged", scale=2)
        engine = gr.Dropdown(["auto"] + available(), value="auto", label=t("chat.engine"), scale=1,
                             info=f"{t('chat.engine_help')} → {default_engine()}", elem_id="chat-engine")
    with gr.Row():
        start = gr.Button(t("chat.start_engine"), variant="primary", elem_id="start-engine")
        stop = gr.Button(t("chat.stop_engine"), elem_id="stop-engine")
        refresh = gr.Button(t("chat.refresh"), size="sm", elem_id="chat-refresh")
        count = gr.Radio([2, 3, 4], value=2, label=t("chat.panes"), elem_id="chat-pane-count")
    status = gr.Markdown(engine_line(studio), elem_id="engine-status")
    with gr.Accordion(t("chat.engine_jobs"), open=False):
        serve_panel = JobPanel.build(studio, kinds=("serve",), elem_prefix="serve", actions=("cancel",),
                                     log_lines=8, label=t("chat.engine_job"))

    columns, panes, bots, stats, urls, names, keys = [], [], [], [], [], [], []
    with gr.Row():
        for i in range(MAX_PANES):
            with gr.Column(visible=i < 2, min_width=240) as col:
                columns.append(col)
                panes.append(gr.Dropdown([], label=t("chat.pane_model", n=i + 1), allow_custom_value=False,
                                         elem_id=f"pane-{i}-model"))
                with gr.Group(visible=False) as endpoint_box:
                    urls.append(gr.Textbox(label=t("chat.endpoint_url"), elem_id=f"pane-{i}-url"))
                    names.append(gr.Textbox(label=t("chat.endpoint_model"), elem_id=f"pane-{i}-endpoint-model"))
                    keys.append(gr.Textbox(label=t("chat.endpoint_key"), type="password", elem_id=f"pane-{i}-key"))
                bots.append(gr.Chatbot(height=360, label=t("chat.pane", n=i + 1), elem_id=f"pane-{i}-chat"))
                stats.append(gr.Markdown(elem_id=f"pane-{i}-stats"))
                panes[-1].change(lambda v: gr.update(visible=v == compare.ENDPOINT), panes[-1], endpoint_box,
                                 show_progress="hidden")
    with gr.Row():
        prompt = gr.Textbox(label=t("chat.prompt"), placeholder=t("chat.prompt_hint"), scale=5, elem_id="chat-prompt")
        send = gr.Button(t("chat.send"), variant="primary", scale=1, elem_id="chat-send")
        clear = gr.Button(t("chat.clear"), scale=1, elem_id="chat-clear")
    with gr.Accordion(t("chat.settings"), open=False):
        system = gr.Textbox(label=t("chat.system"), elem_id="chat-system")
        template = gr.Dropdown([(t("chat.template_own"), "")] + [(n, n) for n in TEMPLATES], value="",
                               label=t("chat.template"), elem_id="chat-template")
        sampling_form = ConfigForm(Sampling, t.lang, advanced_label=t("common.advanced"), elem_prefix="sampling")
    with gr.Row():
        fmt = gr.Radio(["json", "md"], value="json", label=t("chat.export_format"), scale=1)
        export = gr.Button(t("chat.export"), scale=1, elem_id="chat-export")
        exported = gr.Markdown(elem_id="chat-exported")
        download = gr.File(label=t("chat.export"), interactive=False, scale=2, height=90)
    turn_stats = gr.State([[] for _ in range(MAX_PANES)])  # numbers of each answer, per pane

    timer = gr.Timer(3.0, active=False)
    start.click(bind(on_start_engines, studio), [model, adapter_pick, merged_pick, engine],
                [status, timer, serve_panel.follow])
    stop.click(bind(on_stop_engines, studio), None, [status, timer])
    refresh.click(bind(on_refresh, studio), panes, [status, adapter_pick, merged_pick, timer, *panes])
    timer.tick(bind(on_tick, studio), panes, [status, timer, *panes], show_progress="hidden")
    gr.on(None, bind(on_chat_load, studio), None, [status, timer, *panes], show_progress="hidden",
          queue=False)
    count.change(lambda n: [gr.update(visible=i < int(n)) for i in range(MAX_PANES)], count, columns)

    send_inputs = [prompt, system, template, count, turn_stats, *panes, *bots, *urls, *names, *keys,
                   *sampling_form.components]
    outs = [prompt, *bots, *stats, turn_stats]
    send.click(bind(on_send, studio, sampling_form), send_inputs, outs, concurrency_limit=4)
    prompt.submit(bind(on_send, studio, sampling_form), send_inputs, outs, concurrency_limit=4)
    clear.click(lambda: [[] for _ in bots] + ["" for _ in stats] + [[[] for _ in range(MAX_PANES)]], None,
                [*bots, *stats, turn_stats])
    export.click(bind(on_export, studio, sampling_form),
                 [fmt, system, count, turn_stats, *panes, *bots, *sampling_form.components], [exported, download])


def on_send(studio, sampling_form, text, system_text, template_name, n, pane_stats, *rest):
    """Ask the first `n` panes the same question, streaming every answer; then keep each answer's numbers."""
    t = studio.t
    n = int(n)
    picks, histories = rest[:MAX_PANES], [list(h or []) for h in rest[MAX_PANES:2 * MAX_PANES]]
    url_v, name_v, key_v = (rest[2 * MAX_PANES + k * MAX_PANES: 3 * MAX_PANES + k * MAX_PANES] for k in range(3))
    sampling_values = rest[5 * MAX_PANES:]
    try:
        sampling = Sampling(**sampling_form.values(sampling_values))
        targets = [compare.target_for(studio.manager, picks[i],
                                      {"url": url_v[i], "model": name_v[i], "api_key": key_v[i]})
                   for i in range(n)]
        turns = compare.run_turn(targets, histories[:n], text, sampling, system_text or None, template_name or None)
        final_stats = [None] * n
        for new_histories, numbers in turns:
            final_stats = numbers
            yield ["", *new_histories, *histories[n:], *[_stats_text(t, s) for s in numbers],
                   *[gr.update()] * (MAX_PANES - n), gr.update()]
    except StudioError as exc:
        raise gr.Error(t.error(exc)) from None
    pane_stats = [list(s) for s in pane_stats]
    for i, s in enumerate(final_stats):
        pane_stats[i].append(compare.stats_numbers(s))
    yield [gr.update()] * (1 + 2 * MAX_PANES) + [pane_stats]


def on_export(studio, sampling_form, fmt_name, system_text, n, pane_stats, *rest):
    """The conversation of the shown panes as JSON or Markdown (saved in the workspace, served from a temp copy)."""
    t = studio.t
    picks, histories = rest[:MAX_PANES], rest[MAX_PANES:2 * MAX_PANES]
    sampling_values = rest[2 * MAX_PANES:]
    labels = {v: label for label, v in compare.pane_choices(studio.manager)}
    panes_out = [{"label": labels.get(picks[i], picks[i]), "messages": histories[i] or [],
                  "stats": pane_stats[i]} for i in range(int(n))]
    try:
        path = compare.export_conversation(studio.workspace, panes_out, fmt_name, system_text or None,
                                           Sampling(**sampling_form.values(sampling_values)))
    except StudioError as exc:
        raise gr.Error(t.error(exc)) from None
    copy = Path(tempfile.mkdtemp(prefix="studio-export-")) / path.name  # served from the temp dir only
    shutil.copyfile(path, copy)
    return t("chat.exported", path=str(path)), str(copy)

def on_start_engines(studio, request: gr.Request, model_name, chosen, merged, engine_name):
    """Start the engines; the timer ticks until they are up, the serve panel follows the first."""
    try:
        named = compare.adapter_names(chosen or [])
        jobs = compare.start_engines(studio.manager, model_name, named, merged or [], engine_name,
                                     owner=getattr(request, "username", None))
    except StudioError as exc:
        raise gr.Error(studio.t.error(exc)) from None
    return engine_line(studio), gr.update(active=True), jobs[0].id if jobs else gr.update()


def on_stop_engines(studio):
    compare.stop_engines(studio.manager)
    return engine_line(studio), gr.update(active=False)


def on_refresh(studio, *values):
    return [engine_line(studio), gr.update(choices=choices.adapters(studio, "serve")),
            gr.update(choices=choices.merged_models(studio, "serve")), gr.update(active=starting(studio))] + \
        _pane_updates(studio, values)


def on_tick(studio, *values):
    """Pane lists follow the servers as they come up; the tick that finds none starting stops the timer."""
    return [engine_line(studio), gr.update(active=starting(studio))] + _pane_updates(studio, values)


def on_chat_load(studio):
    return on_tick(studio, *([None] * MAX_PANES))


# ---------------------------------------------------------------------------------------------- evaluation

def _evaluation(studio, t) -> None:
    with gr.Row():
        data = gr.Dropdown(choices.datasets(studio), allow_custom_value=True, label=t("chat.eval_data"),
                           elem_id="eval-data", scale=3)
        base = gr.Dropdown(choices.models(studio), value=choices.DEFAULT_MODEL, allow_custom_value=True,
                           label=t("chat.eval_model"), elem_id="eval-model", scale=2)
        engine = gr.Dropdown(["auto"] + available(), value="auto", label=t("chat.engine"), scale=1)
    with gr.Row():
        adapter = gr.Dropdown(choices.adapters(studio, "eval"), label=t("chat.eval_tuned"), elem_id="eval-adapter",
                              scale=3)
        tuned_model = gr.Dropdown([""] + choices.merged_models(studio, "eval"), value="",
                                  label=t("chat.eval_tuned_model"), elem_id="eval-tuned-model", scale=2)
        limit = gr.Number(50, precision=0, label=t("chat.eval_limit"), scale=1)
        max_tokens = gr.Number(128, precision=0, label=t("chat.eval_max_tokens"), scale=1)
    with gr.Row():
        judge_kind = gr.Radio([(t("chat.eval_judge_none"), "none"), (t("chat.eval_judge_endpoint"), "endpoint"),
                               (t("chat.eval_judge_model_kind"), "model")],
                              value="none", label=t("chat.eval_judge"), scale=2)
        judge_url = gr.Textbox(label=t("chat.eval_judge_url"), scale=2)
        judge_model = gr.Textbox(label=t("chat.eval_judge_model"), scale=2)
        judge_key = gr.Textbox(label=t("chat.eval_judge_key"), type="password", scale=2)
    with gr.Row():
        go = gr.Button(t("chat.eval_start"), variant="primary", elem_id="eval-start")
        refresh = gr.Button(t("chat.refresh"), size="sm")
    message = gr.Markdown(elem_id="eval-message")
    panel = JobPanel.build(studio, kinds=("eval",), elem_prefix="eval", actions=("cancel", "clone"), log_lines=6)
    summary = gr.Markdown(elem_id="eval-summary")
    table = gr.Dataframe(label=t("chat.eval_rows"), interactive=False, wrap=True, elem_id="eval-table")
    csv = gr.File(label=t("chat.eval_csv"), interactive=False, height=90)

    go.click(bind(on_eval_start, studio),
             [data, base, engine, adapter, tuned_model, limit, max_tokens, judge_kind, judge_url, judge_model,
              judge_key], [panel.follow, message])
    refresh.click(bind(eval_sources, studio), None, [data, adapter, tuned_model])
    panel.finished.change(bind(on_eval_finished, studio), panel.finished, [summary, table, csv],
                          show_progress="hidden")


def on_eval_start(studio, request: gr.Request, data_path, base_model, engine_name, adapter_path, merged, n, tokens,
                  kind, url, judge_name, key):
    """Queue an evaluation; its panel follows the job (the judge's key travels as a job secret only)."""
    from ...eval import results

    t = studio.t
    if not data_path or not (adapter_path or merged):
        return gr.update(), f"⚠️ {t('chat.eval_pick')}"
    raw = {"model": base_model, "adapter": adapter_path or None, "tuned_model": None if adapter_path else merged,
           "engine": engine_name, "data": {"path": data_path, "limit": int(n or 0)},
           "sampling": {"max_tokens": int(tokens or 128)},
           "judge": {"kind": kind, "url": url or None, "model": judge_name or None}}
    try:
        job = results.submit(studio.manager, raw, key or None, getattr(request, "username", None))
    except StudioError as exc:
        return gr.update(), f"⚠️ {t.error(exc)}"
    return job.id, t("chat.eval_queued", id=job.id)


def eval_sources(studio) -> list:
    return [gr.update(choices=choices.datasets(studio)), gr.update(choices=choices.adapters(studio, "eval")),
            gr.update(choices=[""] + choices.merged_models(studio, "eval"))]


def on_eval_finished(studio, job_id: str | None):
    """Summary, per-example table and CSV of the evaluation the panel shows, once it has ended."""
    from ...eval import results

    job = studio.manager.get(job_id) if job_id else None
    found = results.summary_of(job) if job is not None else None
    if found is None:
        return "", None, None
    copy = Path(tempfile.mkdtemp(prefix="studio-eval-")) / Path(found["csv"]).name
    shutil.copyfile(found["csv"], copy)  # served from the temp dir, not the workspace
    return results.summary_markdown(found, studio.t), results.rows_of(job), str(copy)
