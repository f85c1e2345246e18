"""The Start page: three choices, then data -> recipe -> train -> compare in one guided flow.

Clicks with the sample data: "Try it with sample data", Next, Start training, (training runs, the
engine starts, the compare step opens by itself), Ask = 4. With the user's own file: "Use my own
file", upload, Next, Start training, Ask = 5. With a run trained before: "Open a recent run", pick
it, Ask = 3 (a finished run opens the compare step, a running one its progress, a failed one says
why). The step list and Back/Next stay on screen; each step shows only what matters for it.

"Advanced" (on the recipe step) shows the planned spec and fills the full forms of the Method and
Train pages with it, through the `recipe.planned` channel (plan.PLANNED_CHANNEL): an expert changes
one number there and starts the run from the Train page.

The flow's memory is one dict in a gr.State (`data`, `rows`, `job`, `serve`, `question`, `spec`);
the watch timer runs only while a run or the engine it waits for is on its way.
"""

from __future__ import annotations

import html
import uuid

import gradio as gr
import pandas as pd

from ...data.findings import DataError
from ...errors import StudioError
from ...infer import compare
from ...infer.base import Sampling
from ...jobs.events import read_progress
from ..monitor import job_label, progress_html
from . import actions
from .plan import PLANNED_CHANNEL, default_model, form_values, plan

STEPS = ("start", "data", "recipe", "train", "compare")
WATCH_S = 1.5


def steps_html(t, current: int) -> str:
    items = []
    for i, name in enumerate(STEPS):
        cls = "done" if i < current else ("current" if i == current else "todo")
        items.append(f"<li class='qs-step {cls}' data-step='{name}'><span class='qs-num'>{i + 1}</span>"
                     f"{html.escape(t('quickstart.step_' + name))}</li>")
    return f"<ol class='qs-steps' data-current='{STEPS[current]}'>{''.join(items)}</ol>"


def _error(t, exc) -> str:
    """A StudioError (a DataError names the file and line) in the viewer's language."""
    return f"⚠️ {t.error(exc)}"


def _preview(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows[:actions.PREVIEW_ROWS])
    return frame.astype(str) if not frame.empty else frame


class Flow:
    """The components of the flow, and the updates that move between its steps."""

    def __init__(self, studio, nav, status_timer=None):
        self.studio, self.t, self.nav = studio, studio.t, nav
        self.status_timer = status_timer or gr.Timer(active=False)  # the status bar's: woken when jobs start

    # ---------------------------------------------------------------- layout

    def build(self) -> None:
        t = self.t
        self.state = gr.State({})
        self.key = gr.State(lambda: uuid.uuid4().hex)
        self.steps = gr.HTML(steps_html(t, 0), elem_id="qs-steps", padding=False)
        with gr.Column(visible=True, elem_id="qs-start") as self.box_start:
            gr.Markdown(f"### {t('quickstart.welcome')}\n{t('quickstart.welcome_text')}")
            with gr.Row(equal_height=True):
                self.sample = gr.Button(t("quickstart.try_sample"), variant="primary", elem_id="qs-sample",
                                        elem_classes=["qs-choice"])
                self.own = gr.Button(t("quickstart.use_own"), elem_id="qs-own", elem_classes=["qs-choice"])
                self.recent = gr.Button(t("quickstart.open_recent"), elem_id="qs-recent",
                                        elem_classes=["qs-choice"])
            self.recent_pick = gr.Radio([], label=t("quickstart.recent_runs"), info=t("quickstart.recent_info"),
                                        visible=False, elem_id="qs-recent-pick")
        with gr.Column(visible=False, elem_id="qs-data") as self.box_data:
            self.upload = gr.File(label=t("quickstart.upload"), file_count="single", visible=False,
                                  elem_id="qs-upload", height=120)
            self.data_info = gr.Markdown(elem_id="qs-data-info")
            self.data_table = gr.Dataframe(interactive=False, wrap=True, elem_id="qs-data-table", max_height=260,
                                           visible=False)
        with gr.Column(visible=False, elem_id="qs-recipe") as self.box_recipe:
            self.recipe = gr.Markdown(elem_id="qs-recipe-summary")
            with gr.Row():
                self.advanced = gr.Checkbox(False, label=t("quickstart.advanced"), elem_id="qs-advanced",
                                            info=t("quickstart.advanced_info"))
                self.open_method = gr.Button(t("quickstart.open_method"), visible=False, size="sm",
                                             elem_id="qs-open-method")
                self.open_train = gr.Button(t("quickstart.open_train"), visible=False, size="sm",
                                            elem_id="qs-open-forms")
            self.spec_yaml = gr.Code(language="yaml", interactive=False, visible=False, elem_id="qs-spec")
        with gr.Column(visible=False, elem_id="qs-train") as self.box_train:
            self.progress = gr.HTML(elem_id="qs-progress")
        with gr.Column(visible=False, elem_id="qs-compare") as self.box_compare:
            self.engine = gr.Markdown(elem_id="qs-engine")
            with gr.Row():
                with gr.Column():
                    self.base_chat = gr.Chatbot(label=t("quickstart.base_pane"), height=320, elem_id="qs-base-chat")
                    self.base_stats = gr.Markdown(elem_id="qs-base-stats")
                with gr.Column():
                    self.tuned_chat = gr.Chatbot(label=t("quickstart.tuned_pane"), height=320,
                                                 elem_id="qs-tuned-chat")
                    self.tuned_stats = gr.Markdown(elem_id="qs-tuned-stats")
            with gr.Row():
                self.question = gr.Textbox(label=t("quickstart.question"), scale=5, elem_id="qs-question")
                self.ask = gr.Button(t("quickstart.ask"), variant="primary", scale=1, interactive=False,
                                     elem_id="qs-ask")
        self.message = gr.Markdown(elem_id="qs-message")
        with gr.Row(elem_id="qs-nav"):
            self.back = gr.Button(t("quickstart.back"), interactive=False, elem_id="qs-back")
            self.next = gr.Button(t("quickstart.next"), variant="primary", interactive=False, elem_id="qs-next")
        self.timer = gr.Timer(WATCH_S, active=False)
        self.planned = self.studio.channel(PLANNED_CHANNEL)
        self._wire()

    @property
    def boxes(self) -> list:
        return [self.box_start, self.box_data, self.box_recipe, self.box_train, self.box_compare]

    @property
    def view_outputs(self) -> list:
        return [self.steps, *self.boxes, self.back, self.next]

    def view(self, step: int, *, can_next: bool = True, next_label: str | None = None) -> list:
        """Updates for `view_outputs` that show step `step`."""
        t = self.t
        label = next_label or t("quickstart.start_training" if STEPS[step] == "recipe" else "quickstart.next")
        return ([steps_html(t, step)] + [gr.Column(visible=i == step) for i in range(len(STEPS))]
                + [gr.Button(interactive=step > 0),
                   gr.Button(value=label, interactive=can_next and step not in (0, 3, 4),
                             visible=step < 4)])

    def _recent_choices(self) -> list[tuple[str, str]]:
        return [(job_label(j, self.t), j.id) for j in actions.recent_runs(self.studio.manager)]

    # ---------------------------------------------------------------- handlers

    def _wire(self) -> None:
        common = {"show_progress": "hidden"}
        data_out = [self.state, *self.view_outputs, self.upload, self.data_info, self.data_table, self.message]
        self.sample.click(self.on_sample, [self.state], data_out, **common, api_visibility="private")
        self.own.click(self.on_own, [self.state], data_out, **common, api_visibility="private")
        self.upload.upload(self.on_upload, [self.state, self.upload], data_out, **common, api_visibility="private")
        recent_out = [self.state, *self.view_outputs, self.progress, self.engine, self.question, self.ask,
                      self.base_chat, self.tuned_chat, self.message, self.timer, self.status_timer]
        self.recent.click(self.on_recent_list, None, [self.recent_pick, self.message], **common,
                          api_visibility="private")
        self.recent_pick.input(self.on_recent, [self.state, self.recent_pick], recent_out, **common,
                               api_visibility="private")
        next_out = [self.state, self.key, *self.view_outputs, self.recipe, self.spec_yaml, self.progress,
                    self.message, self.timer, self.status_timer, self.planned]
        self.next.click(self.on_next, [self.state, self.key, self.advanced], next_out, **common,
                        concurrency_limit=1, api_visibility="private")
        self.back.click(self.on_back, [self.state], [self.state, *self.view_outputs, self.timer, self.recent_pick],
                        **common, api_visibility="private")
        self.advanced.input(self.on_advanced, [self.state, self.advanced],
                            [self.spec_yaml, self.open_method, self.open_train, self.planned], **common,
                            api_visibility="private")
        self.open_method.click(lambda: self.nav.go("method"), None, self.nav.outputs, **common, queue=False,
                               api_visibility="private")
        self.open_train.click(lambda: self.nav.go("train"), None, self.nav.outputs, **common, queue=False,
                              api_visibility="private")
        self.timer.tick(self.on_watch, [self.state], recent_out, **common, api_visibility="private")
        ask_in = [self.state, self.question, self.base_chat, self.tuned_chat]
        ask_out = [self.question, self.base_chat, self.tuned_chat, self.base_stats, self.tuned_stats, self.message]
        self.ask.click(self.on_ask, ask_in, ask_out, concurrency_limit=4, api_visibility="private")
        self.question.submit(self.on_ask, ask_in, ask_out, concurrency_limit=4, api_visibility="private")

    def _data_step(self, state: dict, dataset, own: bool) -> list:
        t = self.t
        state = dict(state, step=1, data=dataset.name, rows=len(dataset.rows), own=own)
        info = t("quickstart.data_sample" if not own else "quickstart.data_own", rows=len(dataset.rows),
                 name=dataset.name, format=dataset.format)
        return [state, *self.view(1), gr.File(visible=own), info, gr.Dataframe(_preview(dataset.rows), visible=True), ""]

    def on_sample(self, state: dict):
        try:
            dataset = actions.use_sample(self.studio.workspace)
        except (StudioError, DataError) as exc:
            return [state, *self.view(0), gr.File(), "", gr.Dataframe(visible=False), _error(self.t, exc)]
        return self._data_step(state, dataset, own=False)

    def on_own(self, state: dict):
        state = {"step": 1, "own": True}
        return [state, *self.view(1, can_next=False), gr.File(visible=True, value=None),
                self.t("quickstart.upload_hint"), gr.Dataframe(None, visible=False), ""]

    def on_upload(self, state: dict, path):
        if not path:
            return [state, *self.view(1, can_next=False), gr.File(), "", gr.Dataframe(visible=False), ""]
        try:
            dataset = actions.save_file(self.studio.workspace, path)
        except (StudioError, DataError) as exc:
            return [dict(state, data=None), *self.view(1, can_next=False), gr.File(value=None), "",
                    gr.Dataframe(visible=False),
                    _error(self.t, exc) + "\n\n" + self.t("quickstart.upload_fix")]
        return self._data_step(state, dataset, own=True)

    def on_advanced(self, state: dict, on: bool):
        """Show the planned spec and the way to the full forms; the forms are filled from the plan."""
        shown = [gr.Code(visible=on), gr.Button(visible=on), gr.Button(visible=on)]
        return [*shown, _publish(state) if on and state.get("forms") else gr.update()]

    def on_next(self, state: dict, key: str, advanced: bool = False, request: gr.Request | None = None):
        step = state.get("step", 0)
        keep = [gr.Markdown(), gr.Code(), gr.HTML(), ""]
        if step == 1:  # data -> recipe: plan the run
            try:
                planned = plan(state["data"], self.studio.workspace.root, default_model())
            except (StudioError, DataError) as exc:
                return [state, key, *self.view(1), *keep[:3], _error(self.t, exc), gr.Timer(), gr.Timer(),
                        gr.update()]
            spec = planned.spec
            state = dict(state, step=2, spec=spec.model_dump(mode="json"), forms=form_values(planned),
                         question=actions.suggested_question(planned.held_out))
            sentence = f"### {self.t('quickstart.recipe_title')}\n{planned.summary(self.t.lang)}\n\n" + \
                self.t("quickstart.recipe_model", model=spec.model.name)
            return [state, key, *self.view(2), sentence, spec.to_yaml(), gr.HTML(), "", gr.Timer(), gr.Timer(),
                    _publish(state) if advanced else gr.update()]
        if step == 2:  # recipe -> train: start the run
            from ...spec import build_spec

            try:
                spec = build_spec(state["spec"], source="quickstart")
                job = actions.start_run(self.studio.manager, spec, owner=_user(request), key=key)
            except (StudioError, DataError) as exc:
                return [state, key, *self.view(2), gr.Markdown(), gr.Code(), gr.HTML(), _error(self.t, exc),
                        gr.Timer(), gr.Timer(), gr.update()]
            state = dict(state, step=3, job=job.id, serve=None)
            return [state, uuid.uuid4().hex, *self.view(3), gr.Markdown(), gr.Code(),
                    progress_html(job, read_progress(job.run_dir), self.t), self.t("quickstart.training"),
                    gr.Timer(active=True), gr.Timer(active=True), gr.update()]
        return [state, key, *self.view(step), *keep, gr.Timer(), gr.Timer(), gr.update()]

    def on_back(self, state: dict):
        step = max(0, state.get("step", 0) - 1)
        if step == 3 or (step == 2 and not state.get("spec")):  # from a finished or a reopened run: the start
            step = 0
        return [dict(state, step=step), *self.view(step, can_next=bool(state.get("data"))),
                gr.Timer(active=False), gr.Radio(value=None)]

    def _watch_result(self, state, step, *, progress=None, engine=None, question=None, ask=None,
                      panes=(None, None), message=None, active=False):
        keep = gr.update()
        return [state, *self.view(step), keep if progress is None else progress, keep if engine is None else engine,
                keep if question is None else question, keep if ask is None else gr.Button(interactive=ask),
                keep if panes[0] is None else gr.Chatbot(label=panes[0]),
                keep if panes[1] is None else gr.Chatbot(label=panes[1]),
                keep if message is None else message, gr.Timer(active=active),
                gr.Timer(active=True) if active else gr.Timer()]

    def on_recent_list(self):
        """The training runs, newest first, to pick one from (or a word that there is none yet)."""
        choices = self._recent_choices()
        if not choices:
            return gr.Radio(visible=False), self.t("quickstart.no_recent")
        return gr.Radio(choices=choices, value=None, visible=True), ""

    def on_recent(self, state: dict, job_id: str | None, request: gr.Request | None = None):
        """Open a picked run where it stands: progress, the compare step, or why it ended."""
        if not job_id:
            return self._watch_result(state, 0, message=self.t("quickstart.no_recent"))
        try:
            job = self.studio.manager.get(job_id)
        except StudioError as exc:
            return self._watch_result(state, 0, message=_error(self.t, exc))
        question = actions.run_question(job, self.studio.workspace.root)
        return self.on_watch({"step": 3, "job": job_id, "serve": None, "question": question}, request)

    def on_watch(self, state: dict, request: gr.Request | None = None):
        """Follow the run; when it succeeds start the engine, open the compare step, say when it answers."""
        t, manager = self.t, self.studio.manager
        if not state.get("job"):
            return self._watch_result(state, state.get("step", 0))
        job = manager.get(state["job"])
        bar = progress_html(job, read_progress(job.run_dir), t)
        if job.state in ("queued", "running"):
            return self._watch_result(dict(state, step=3), 3, progress=bar, active=True)
        if job.state != "succeeded":
            return self._watch_result(dict(state, step=3), 3, progress=bar, message=ended_text(t, job))
        try:
            serve = manager.get(state["serve"]) if state.get("serve") else \
                actions.start_compare(manager, job, owner=_user(request))
        except StudioError as exc:
            return self._watch_result(dict(state, step=3), 3, progress=bar, message=_error(t, exc))
        state = dict(state, step=4, serve=serve.id)
        run = job.run_dir.rstrip("/").split("/")[-1]
        panes = (t("quickstart.base_pane_of", model=job.spec.get("model", {}).get("name", "")),
                 t("quickstart.tuned_pane_of", run=run))
        question = state.get("question") or t("quickstart.default_question")
        if serve.state in ("failed", "cancelled", "interrupted"):
            return self._watch_result(state, 4, progress=bar, engine=compare.engine_status(manager, t),
                                      message=t("quickstart.engine_failed", error=serve.error or ""), panes=panes)
        if not actions.serving(manager, serve.id):
            return self._watch_result(state, 4, progress=bar, question=question, ask=False, panes=panes,
                                      engine=t("quickstart.engine_starting"), active=True)
        return self._watch_result(state, 4, progress=bar, question=question, ask=True, panes=panes,
                                  engine=t("quickstart.engine_ready"), message="")

    def on_ask(self, state: dict, question: str, base_history, tuned_history):
        manager = self.studio.manager
        try:
            job, serve = manager.get(state["job"]), manager.get(state["serve"])
            targets = [compare.target_for(manager, v) for v in actions.pane_values(serve, job)]
            turns = compare.run_turn(targets, [list(base_history or []), list(tuned_history or [])], question,
                                     Sampling(max_tokens=96))
            for histories, stats in turns:
                yield "", histories[0], histories[1], self._stats(stats[0]), self._stats(stats[1]), ""
        except (StudioError, KeyError, TypeError) as exc:
            text = _error(self.t, exc) if isinstance(exc, StudioError) else self.t("quickstart.not_ready")
            yield gr.update(), gr.update(), gr.update(), gr.update(), gr.update(), text

    def _stats(self, stats) -> str:
        """"12 tokens · 0.8 s" under a pane once it has answered (an error string as it is)."""
        if isinstance(stats, str):
            return f"⚠️ {stats}"
        numbers = compare.stats_numbers(stats)
        if not numbers:
            return ""
        return self.t("quickstart.stats", tokens=numbers["tokens"], seconds=f"{numbers['latency_s']:.1f}")


def ended_text(t, job) -> str:
    """Why a run did not finish, in plain words, and what to do next."""
    if job.state == "cancelled":
        return t("quickstart.run_cancelled")
    if job.state == "interrupted":
        return t("quickstart.run_interrupted")
    return t("quickstart.run_failed", error=actions.error_line(job.error))


def _publish(state: dict) -> dict:
    """The planned run for the full forms, marked anew each time so that the pages fill again."""
    return dict(state["forms"], _published=uuid.uuid4().hex)


def _user(request) -> str | None:
    return getattr(request, "username", None) if request is not None else None


def build(studio, nav, status_timer=None) -> Flow:
    flow = Flow(studio, nav, status_timer)
    flow.build()
    return flow
