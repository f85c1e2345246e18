"""Assembles the Blocks app: a desktop-style shell around the pages, all over one job manager.

Layout of a page: the navigation rail on the left (Start, Data, Method, Train, Merge, Chat, Jobs),
a header (title, language, theme, jobs), the current page, and the status bar at the bottom; the job
drawer slides in from the right. Each language is one page of the app (the launch language at `/`,
the other at `/<code>`), so the language can be switched at any time (studio/ui/shell/prefs.py).

Start-up time (bench/startup.py) is mostly importing Gradio and Gradio turning the pages into its
config and web app. So Gradio is imported without its optional MCP integration (shell/gradio_import.py),
both pages are built inside one `with` of the Blocks (each `with` that ends makes Gradio compute the
whole config and web app again), and nothing heavy (torch, transformers, datasets) is imported until
a job or an action needs it (tests/test_quickstart.py checks that in a fresh process).
"""

from __future__ import annotations

import importlib
import inspect
import threading
import time
from pathlib import Path

from ..jobs import JobManager
from ..workspace import Workspace
from .context import Studio
from .i18n import LANGS, Translator
from .shell.gradio_import import gr

ASSETS = Path(__file__).resolve().parents[2] / "assets"
TABS = ["data", "method", "train", "merge", "chat", "jobs"]
PAGES = ["start", *TABS]
LANG_NAMES = {"en": "English", "zh": "中文"}


def css() -> str:
    """The studio's stylesheet (assets/style.css), given to Gradio at launch."""
    path = ASSETS / "style.css"
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def page_paths(lang: str) -> dict[str, str]:
    """Language -> page path: the launch language is the root page, every other one `/<code>`."""
    return {code: ("" if code == lang else code) for code in (lang, *[c for c in LANGS if c != lang])}


def build_app(workspace: Workspace, manager: JobManager | None = None, lang: str = "en") -> gr.Blocks:
    manager = manager or JobManager(workspace)
    lang = lang if lang in LANGS else "en"
    paths = page_paths(lang)
    studios = {code: Studio(workspace=workspace, manager=manager, t=Translator(code)) for code in paths}
    with gr.Blocks(title="Tune Studio", analytics_enabled=False) as demo:
        for code, path in paths.items():
            _enter_page(demo, LANG_NAMES[code], path)
            _page(studios[code], paths)
            if not path:
                from .shell import api

                api.register(studios[lang])
        _enter_page(demo, "", "")
    demo.studio = studios[lang]  # for tests and the launcher
    demo.studios = studios
    return demo


def _enter_page(demo: gr.Blocks, name: str, path: str) -> None:
    """What `with demo.route(name, "/" + path, show_in_navbar=False)` does, without leaving the Blocks:
    what is built next belongs to that page ("" is the root page)."""
    if path and path not in [page[0] for page in demo.pages]:
        demo.pages.append((path, name, False))
    demo.current_page = path


def _page(studio: Studio, paths: dict[str, str]) -> None:
    """One language's page: rail, header, pages, status bar and job drawer."""
    from .quickstart import flow
    from .shell import drawer, prefs, status
    from .shell import nav as rail

    t = studio.t
    gr.Navbar(visible=False)
    start_page = "start"
    _bar, open_jobs, timer, refresh, outputs = status.build(studio)  # fixed at the bottom (style.css)
    with gr.Row(elem_id="studio-shell", equal_height=False):
        with gr.Column(scale=0, min_width=92, elem_id="studio-rail"):
            nav = rail.build_rail(t, PAGES, current=start_page)
        with gr.Column(scale=1, elem_id="studio-main"):
            with gr.Row(elem_id="studio-header", equal_height=True):
                gr.Markdown(f"## {t('app.title')}\n{t('app.subtitle')}", elem_id="studio-title")
                others = [c for c in paths if c != studio.lang]
                lang_buttons = {c: gr.Button(f"🌐 {LANG_NAMES[c]}", size="sm", scale=0, min_width=90,
                                             elem_id=f"lang-{c}") for c in others}
                theme = gr.Button(f"🌓 {t('shell.theme')}", size="sm", scale=0, min_width=90, elem_id="theme-toggle")
            with gr.Tabs(selected=start_page, elem_id="studio-pages") as nav.tabs:
                handles: dict = {}
                with gr.Tab(t("shell.start"), id="start", elem_id="page-start"):
                    flow.build(studio, nav, timer)
                for name in TABS:
                    with gr.Tab(t(f"{name}.tab"), id=name, elem_id=f"page-{name}"):
                        handles[name] = _mount(name, studio, handles)
    drawer.build(studio, open_jobs)
    rail.wire(nav)
    for code, button in lang_buttons.items():
        button.click(None, js=prefs.switch_js(code, paths))
    theme.click(None, js=prefs.THEME_JS)
    _load(studio, paths, refresh, outputs)


def _load(studio: Studio, paths, refresh, outputs) -> None:
    """On page load: apply the remembered theme/language, arm the click poke, one status refresh."""
    from .shell import prefs, status

    blocks = _current_blocks()
    blocks.load(None, js=prefs.load_js(studio.lang, paths))
    blocks.load(None, js=status.POKE_JS)
    blocks.load(refresh, None, outputs, show_progress="hidden", queue=False, api_visibility="private")


def _current_blocks() -> gr.Blocks:
    from gradio.context import get_blocks_context

    return get_blocks_context().root_block


def _mount(name: str, studio: Studio, handles: dict):
    """Call a page module's `build(studio)` (or the older `build(studio, handles)`)."""
    module = importlib.import_module(f"{__package__}.tabs.{name}")
    if len(inspect.signature(module.build).parameters) >= 2:
        return module.build(studio, handles)
    return module.build(studio)


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
