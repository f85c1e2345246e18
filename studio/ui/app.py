"""Assembles the Blocks app: a header, one tab per module in `TABS`, all over one job manager."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import gradio as gr

from ..jobs import JobManager
from ..workspace import Workspace
from .context import Studio
from .i18n import Translator

ASSETS = Path(__file__).resolve().parents[2] / "assets"
TABS = ["data", "method", "train", "merge", "chat", "jobs"]


def _css() -> str:
    path = ASSETS / "style.css"
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def build_app(workspace: Workspace, manager: JobManager | None = None, lang: str = "en") -> gr.Blocks:
    import importlib

    studio = Studio(workspace=workspace, manager=manager or JobManager(workspace), t=Translator(lang))
    t = studio.t
    with gr.Blocks(title="Tune Studio", analytics_enabled=False) as demo:
        with gr.Row(elem_id="studio-header"):
            gr.Markdown(f"## {t('app.title')}\n{t('app.subtitle')}")
            status = gr.Markdown(elem_id="studio-status")
        with gr.Tabs(elem_id="studio-tabs"):
            for name in TABS:
                module = importlib.import_module(f"{__package__}.tabs.{name}")
                with gr.Tab(t(f"{name}.tab"), id=name, elem_id=f"tab-{name}"):
                    module.build(studio)
        timer = gr.Timer(3.0)
        timer.tick(lambda: _status_text(studio), outputs=status, show_progress="hidden", queue=False)
        demo.load(lambda: _status_text(studio), outputs=status, queue=False)
    demo.studio = studio  # for tests and the launcher
    return demo


def _status_text(studio: Studio) -> str:
    snap = studio.manager.snapshot()  # shared by every open tab: one SQLite read per interval, not one per tab
    return studio.t("app.status", running=snap.running, queued=snap.queued, workspace=str(studio.workspace.root))


def start_scheduler(manager: JobManager, every: float = 2.0) -> threading.Thread:
    """Keep the queue moving while the studio runs (workers also start the next job themselves)."""

    def loop() -> None:
        while True:
            try:
                manager.tick()
            except Exception as exc:  # noqa: BLE001 - never let the scheduler thread die
                print(f"[studio] scheduler: {exc}", flush=True)
            time.sleep(every)

    thread = threading.Thread(target=loop, name="studio-scheduler", daemon=True)
    thread.start()
    return thread
