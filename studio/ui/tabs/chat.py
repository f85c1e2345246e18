"""Chat tab: start an engine job for a model and its adapters, then compare answers side by side.

Every pane is an OpenAI-compatible client of the engine job (the page never runs a model itself),
so answers stream into each pane with time to first token and tokens per second.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import gradio as gr

from ...errors import StudioError
from ...infer import Sampling
from ...infer.base import BASE
from ...infer.client import stream_chat
from ...infer.engines import available
from ...infer.serve import server_info
from ...jobs.events import read_progress
from ...models import known_models
from ...runs import finished_adapters
from ...workspace import safe_name
from ..forms import ConfigForm

PANES = 2


def current_server(studio):
    """The newest serve job that is queued or running, and its server.json once it is up."""
    for job in studio.manager.list(kind="serve", limit=20):
        if job.state in ("queued", "running"):
            return job, server_info(job.run_dir) if job.state == "running" else None
    return None, None


def engine_status(studio) -> str:
    t = studio.t
    job, info = current_server(studio)
    if job is None:
        return t("chat.no_engine")
    if info is None:
        prog = read_progress(job.run_dir)
        return t("chat.engine_starting", message=prog.get("message", t("state." + job.state)))
    adapters = ", ".join(info["adapters"]) or "—"
    return t("chat.engine_up", engine=info["engine"], model=info["model"], adapters=adapters)


def pane_choices(studio) -> list[str]:
    _job, info = current_server(studio)
    return [BASE] + list((info or {}).get("adapters", {}))


def build(studio, handles):
    t = studio.t
    adapters = finished_adapters(studio.manager)
    with gr.Row():
        model = gr.Dropdown(known_models(studio.workspace.root), value="smollm2-135m-instruct",
                            allow_custom_value=True, label=t("chat.model"), elem_id="chat-model", scale=2)
        adapter_pick = gr.CheckboxGroup(choices=adapters, label=t("chat.adapters"), elem_id="chat-adapters", scale=3)
        engine = gr.Dropdown(["auto"] + available(), value="auto", label=t("chat.engine"), scale=1,
                             elem_id="chat-engine")
    with gr.Row():
        start = gr.Button(t("chat.start_engine"), variant="primary", elem_id="start-engine")
        stop = gr.Button(t("chat.stop_engine"), elem_id="stop-engine")
        refresh = gr.Button(t("chat.refresh"), size="sm", elem_id="chat-refresh")
    status = gr.Markdown(engine_status(studio), elem_id="engine-status")
    panes, bots, stats = [], [], []
    with gr.Row():
        for i in range(PANES):
            with gr.Column():
                panes.append(gr.Dropdown(pane_choices(studio), value=BASE, label=t("chat.pane", n=i + 1),
                                         allow_custom_value=True, elem_id=f"pane-{i}-model"))
                bots.append(gr.Chatbot(height=360, label=t("chat.pane", n=i + 1), elem_id=f"pane-{i}-chat"))
                stats.append(gr.Markdown(elem_id=f"pane-{i}-stats"))
    with gr.Row():
        prompt = gr.Textbox(label=t("chat.prompt"), placeholder=t("chat.prompt_hint"), scale=5, elem_id="chat-prompt")
        send = gr.Button(t("chat.send"), variant="primary", scale=1, elem_id="chat-send")
        clear = gr.Button(t("chat.clear"), scale=1)
    with gr.Accordion(t("chat.settings"), open=False):
        system = gr.Textbox(label=t("chat.system"), elem_id="chat-system")
        sampling_form = ConfigForm(Sampling, t.lang, advanced_label=t("common.advanced"))

    def on_start(request: gr.Request, model_name, chosen, engine_name):
        current, _ = current_server(studio)
        if current is not None:
            studio.manager.cancel(current.id)
        named = {safe_name(Path(p).parent.name): p for p in (chosen or [])}
        spec = {"model": model_name, "adapters": named, "engine": engine_name}
        studio.manager.submit("serve", spec, title=f"serve · {Path(model_name).name}",
                              owner=getattr(request, "username", None))
        return engine_status(studio)

    start.click(on_start, [model, adapter_pick, engine], status)

    def on_stop():
        job, _ = current_server(studio)
        if job is not None:
            studio.manager.cancel(job.id)
        return engine_status(studio)

    stop.click(on_stop, None, status)

    def on_refresh():
        choices = pane_choices(studio)
        return [engine_status(studio), gr.update(choices=finished_adapters(studio.manager))] + \
            [gr.update(choices=choices) for _ in panes]

    refresh.click(on_refresh, None, [status, adapter_pick, *panes])
    gr.Timer(3.0).tick(lambda: engine_status(studio), None, status, show_progress="hidden")

    def on_send(text, system_text, *rest):
        pane_models = rest[:PANES]
        histories = [list(h or []) for h in rest[PANES:2 * PANES]]
        sampling_values = rest[2 * PANES:]
        if not (text or "").strip():
            raise gr.Error(t("chat.empty"))
        _job, info = current_server(studio)
        if info is None:
            raise gr.Error(t("chat.no_engine"))
        sampling = Sampling(**sampling_form.values(sampling_values))
        updates: queue.Queue = queue.Queue()
        for i, pane_model in enumerate(pane_models):
            histories[i] = histories[i] + [{"role": "user", "content": text}, {"role": "assistant", "content": ""}]
            messages = ([{"role": "system", "content": system_text}] if system_text else []) + histories[i][:-1]
            messages = [{"role": m["role"], "content": m["content"]} for m in messages]
            threading.Thread(target=_stream_pane, daemon=True,
                             args=(i, info, pane_model or BASE, messages, sampling, updates)).start()
        texts = [""] * PANES
        lines = [""] * PANES
        finished = 0
        while finished < PANES:
            i, kind, value = updates.get()
            if kind == "done":
                finished += 1
                continue
            if kind == "error":
                texts[i] = f"⚠️ {value}"
            else:
                texts[i] = value.text
                lines[i] = _stats_line(t, value)
            for j in range(PANES):
                histories[j][-1]["content"] = texts[j]
            yield ["", *[list(h) for h in histories], *lines]
        yield ["", *[list(h) for h in histories], *lines]

    send_inputs = [prompt, system, *panes, *bots, *sampling_form.components]
    outs = [prompt, *bots, *stats]
    send.click(on_send, send_inputs, outs, concurrency_limit=4)
    prompt.submit(on_send, send_inputs, outs, concurrency_limit=4)
    clear.click(lambda: [[] for _ in bots] + ["" for _ in stats], None, [*bots, *stats])
    return None


def _stream_pane(index, info, model, messages, sampling, updates) -> None:
    try:
        for stats in stream_chat(info["url"], model, messages, sampling, api_key=info["token"]):
            updates.put((index, "text", stats))
    except StudioError as exc:
        updates.put((index, "error", exc.one_line()))
    except Exception as exc:  # noqa: BLE001 - shown in the pane
        updates.put((index, "error", f"{type(exc).__name__}: {exc}"))
    updates.put((index, "done", None))


def _stats_line(t, stats) -> str:
    ttft = f"{stats.ttft_s:.2f}s" if stats.ttft_s is not None else "—"
    tps = f"{stats.tokens_per_s:.1f}" if stats.tokens_per_s else "—"
    return t("chat.stats", ttft=ttft, total=f"{stats.total_s:.2f}s", tps=tps)
