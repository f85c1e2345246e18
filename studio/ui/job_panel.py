"""One job panel for every page that runs jobs (Train, Self-Instruct, Merge, Evaluation, Serve).

A job picker, progress with ETA, live curves from metrics.jsonl, the log tail, cancel / resume /
clone, and (for training runs with a probe.json) base-vs-tuned bars. Its timer ticks only while
the shown job is queued or running: it is switched on when a job is started, followed or picked
and is active, and switched off by the tick that sees the job end. No page polls forever.

Public API (kept small):

    panel = JobPanel.build(studio, kinds=("train",), elem_prefix="train")
    panel.job_id    # gr.Dropdown: the selected job id (an input for anything that needs it)
    panel.follow    # gr.State: output a job id to it (e.g. from a Start button) to show that job
    panel.finished  # gr.State: becomes the job id when the shown job has ended (None while it runs);
                    #           subscribe with `panel.finished.change(...)` to show results
    panel.message   # gr.Markdown: what cancel / resume / clone did
    panel.timer     # gr.Timer: on only while the job runs; `panel.timer.tick(fn, panel.job_id, ...)` adds
                    #           per-tick outputs (Self-Instruct's live counts)

A job the panel follows is also published on the app's `jobs.latest` channel (the Jobs page wakes
on it). Pages that keep their own job display use `timer_update(studio, job_id)` for their timer.
The handlers are module-level functions of plain values (tests call them directly); `build`
binds them to the studio with `context.bind` (a partial Gradio can inspect).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from ..errors import StudioError
from ..jobs import shared_reads
from ..jobs.events import METRICS, read_progress
from . import charts
from .context import bind
from .monitor import job_label, progress_html

ACTIVE = ("queued", "running")
LATEST_CHANNEL = "jobs.latest"  # the id of the job a panel last followed (started, cloned, picked elsewhere)
TICK_SECONDS = 1.5
DEFAULT_CURVES = {"train": ("loss", "eval_loss", "learning_rate")}
CURVE_TITLES = {"loss": "train.loss", "eval_loss": "train.eval_loss", "learning_rate": "train.lr"}
# elem_ids the Train page had before the panel existed (the browser tests select them)
LEGACY_IDS = {("train", "loss"): "loss-plot", ("train", "eval_loss"): "eval-plot",
              ("train", "learning_rate"): "lr-plot"}


@dataclass
class Config:
    """What one panel shows: which job kinds, which curves, which actions."""

    kinds: tuple[str, ...]
    curves: tuple[str, ...] = ()
    actions: tuple[str, ...] = ("cancel", "resume", "clone")
    probe: bool = False
    log_lines: int = 10


# ---------------------------------------------------------------------------------------------- plain logic

def is_active(job) -> bool:
    """Whether the panel's timer should tick for this job."""
    return job is not None and job.state in ACTIVE


def jobs_of(studio, kinds) -> list:
    """Jobs of these kinds from the shared snapshot: every open panel's tick shares one read per second."""
    return [j for j in studio.manager.snapshot(max_age=1.0).jobs if j.kind in kinds][:100]


def choices_of(studio, kinds) -> list[tuple[str, str]]:
    return [(job_label(j, studio.t), j.id) for j in jobs_of(studio, kinds)]


def _get(studio, job_id):
    if not job_id:
        return None
    job = studio.manager.snapshot(max_age=1.0).find(job_id)
    if job is not None:
        return job
    try:  # submitted after the snapshot was taken
        return studio.manager.get(job_id)
    except StudioError:
        return None


def view(studio, cfg: Config, job_id: str | None, pick_latest: bool = False) -> list:
    """Every output of the panel for `job_id`, in `outputs()` order; the last two are the timer's
    `active` flag and the `finished` value."""
    t = studio.t
    jobs = jobs_of(studio, cfg.kinds)
    choices = [(job_label(j, studio.t), j.id) for j in jobs]
    if not job_id and pick_latest and jobs:
        job_id = jobs[0].id
    job = _get(studio, job_id)
    if job is None:
        out = [gr.update(choices=choices, value=None), progress_html(None, {}, t)]
        out += [charts.metric_frame([], c) for c in cfg.curves]
        out += [""]
        if cfg.probe:
            out += [gr.update(visible=False), ""]
        return out + [gr.update(active=False), None]
    # every open tab showing this job ticks: they share one read of its files per change (shared_reads)
    out = [gr.update(choices=choices, value=job.id), progress_html(job, shared_reads.progress(job.run_dir), t)]
    out += [curve_frame(job.run_dir, c) for c in cfg.curves]
    out += [shared_reads.log_tail(job.run_dir, 6000)]
    active = is_active(job)
    if cfg.probe:
        probe = charts.read_probe(job.run_dir)
        pending = None if probe or active else pending_probe(studio, job)
        if probe:
            out += [gr.update(visible=True, value=charts.probe_frame(probe, t)), charts.probe_markdown(probe, t)]
        elif pending is not None:  # the before/after probe runs after the training job: keep ticking
            message = read_progress(pending.run_dir).get("message") or t("state." + pending.state)
            out += [gr.update(visible=False), t("jobpanel.probe_running", message=message)]
            active = True
        else:
            out += [gr.update(visible=False), ""]
    return out + [gr.update(active=active), None if is_active(job) else job.id]


def curve_frame(run_dir, curve: str):
    """One curve of a run as a frame, built once per change of its metrics.jsonl for every tab that shows
    it (building it was most of a tick's work with a long run's metrics). Shared: do not modify it."""
    path = Path(run_dir) / METRICS
    return shared_reads.shared(("curve", str(path), curve), path,
                               lambda: charts.metric_frame(shared_reads.metrics(run_dir), curve))


def pending_probe(studio, job):
    """The queued or running before/after probe job of a finished training run (None if none)."""
    if job.state != "succeeded":
        return None
    for other in studio.manager.snapshot(max_age=1.0).of_kind("probe"):
        if other.state in ACTIVE and other.spec.get("run_dir") == job.run_dir:
            return other
    return None


def timer_update(studio, job_id: str | None):
    """`gr.update(active=...)` for a page's own timer that shows one job: on only while it is queued
    or running (for panels that keep their own job display; wire it to the timer's tick and to
    whatever sets the job)."""
    return gr.update(active=is_active(_get(studio, job_id)))


def on_pick(studio, cfg: Config, job_id):
    """The picker changed (by hand or by `follow`): show that job; tick only if it runs."""
    return view(studio, cfg, job_id)


def on_tick(studio, cfg: Config, job_id):
    """A timer tick: refresh; the tick that sees the job end switches the timer off."""
    return view(studio, cfg, job_id)


def on_load(studio, cfg: Config):
    """Page load: the newest job of the panel's kinds (its timer on only if it is active)."""
    return view(studio, cfg, None, pick_latest=True)


def on_follow(studio, cfg: Config, job_id, n_outputs: int):
    """Another component sent a job id: pick it and start ticking if it is active. Then `follow` is
    emptied (so the same id can be sent twice; that second call changes nothing) and the id is
    published on the app's `jobs.latest` channel (the Jobs page wakes up on it)."""
    if not job_id:
        return [gr.update()] * (n_outputs + 2)
    return view(studio, cfg, job_id) + [None, job_id]


def on_focus(studio, cfg: Config):
    """Opening the picker lists the jobs as they are now."""
    return gr.update(choices=choices_of(studio, cfg.kinds))


def act(studio, action: str, job_id: str | None, owner: str | None = None) -> tuple[str, str | None]:
    """cancel / resume / clone `job_id`; returns (message, job id to show next)."""
    t = studio.t
    if not job_id:
        return t("train.no_job"), None
    try:
        if action == "clone":
            job = clone(studio, job_id, owner)
            return t("jobpanel.cloned", id=job.id, source=job_id), job.id
        job = getattr(studio.manager, action)(job_id)
    except StudioError as exc:
        return f"⚠️ {t.error(exc)}", job_id
    return t(f"jobs.{action}_sent", id=job.id, state=t("state." + job.state)), job.id


def clone(studio, job_id: str, owner: str | None = None):
    """A new job with the same spec (a training run gets a fresh run folder and name)."""
    source = studio.manager.get(job_id)
    if source.kind == "train":
        from ..runs import start_training
        from ..spec import build_spec

        spec = build_spec(dict(source.spec, name=None), source="clone")
        return start_training(studio.manager, spec, owner=owner)
    return studio.manager.submit(source.kind, source.spec, title=source.title, owner=owner)


# ---------------------------------------------------------------------------------------------- component

class JobPanel:
    """The components of one panel; build it with `JobPanel.build(...)` inside a Blocks context."""

    job_id: gr.Dropdown
    follow: gr.State
    finished: gr.State
    message: gr.Markdown
    timer: gr.Timer

    @classmethod
    def build(cls, studio, kinds=("train",), elem_prefix: str = "train", *, curves: tuple[str, ...] | None = None,
              actions: tuple[str, ...] = ("cancel", "resume", "clone"), probe: bool = False,
              log_lines: int = 10, label: str | None = None) -> JobPanel:
        self = cls()
        t, p = studio.t, elem_prefix
        kinds = tuple(kinds)
        if curves is None:
            curves = DEFAULT_CURVES.get(kinds[0], ()) if len(kinds) == 1 else ()
        self.cfg = cfg = Config(kinds=kinds, curves=tuple(curves), actions=tuple(actions), probe=probe,
                                log_lines=log_lines)
        with gr.Group(elem_id=f"{p}-job-panel", elem_classes=["job-panel"]):
            with gr.Row():
                self.job_id = gr.Dropdown(label=label or t("train.job"), choices=[], value=None, elem_id=f"{p}-job",
                                          scale=4)
                buttons = {a: gr.Button(t(f"jobpanel.{a}"), size="sm", scale=1, elem_id=f"{p}-{a}")
                           for a in actions}
            self.progress = gr.HTML(progress_html(None, {}, t), elem_id=f"{p}-progress")
            self.plots = []
            if curves:
                first, *rest = curves
                self.plots.append(self._plot(t, p, first, 240))
                if rest:
                    with gr.Row():
                        self.plots += [self._plot(t, p, c, 160) for c in rest]
            self.probe_plot = self.probe_text = None
            if probe:
                with gr.Row():
                    self.probe_plot = gr.BarPlot(charts.probe_frame({}, t), x="bar", y="score", color="model",
                                                 title=t("jobpanel.probe_title"), sort=None, height=220,
                                                 visible=False, elem_id=f"{p}-probe-plot", scale=2)
                    self.probe_text = gr.Markdown(elem_id=f"{p}-probe-text")
            self.log = gr.Textbox(label=t("train.log"), lines=log_lines, max_lines=log_lines, autoscroll=True,
                                  interactive=False, elem_id=f"{p}-log")
            self.message = gr.Markdown(elem_id=f"{p}-job-message")
        self.follow = gr.State(None)
        self.finished = gr.State(None)
        self.timer = gr.Timer(TICK_SECONDS, active=False)

        outs = self.outputs()
        self.job_id.input(bind(on_pick, studio, cfg), self.job_id, outs, show_progress="hidden", queue=False)
        self.job_id.focus(bind(on_focus, studio, cfg), None, self.job_id, show_progress="hidden", queue=False)
        self.follow.change(bind(on_follow, studio, cfg, n_outputs=len(outs)), self.follow,
                           [*outs, self.follow, studio.channel(LATEST_CHANNEL)], show_progress="hidden")
        self.timer.tick(bind(on_tick, studio, cfg), self.job_id, outs, show_progress="hidden",
                        concurrency_limit=4)
        gr.on(None, bind(on_load, studio, cfg), None, outs, show_progress="hidden", queue=False)
        for action, button in buttons.items():
            button.click(bind(on_action, studio, cfg, action), self.job_id, [self.message, *outs],
                         show_progress="hidden", concurrency_limit=1)
        return self

    def outputs(self) -> list:
        outs = [self.job_id, self.progress, *self.plots, self.log]
        if self.cfg.probe:
            outs += [self.probe_plot, self.probe_text]
        return outs + [self.timer, self.finished]

    @staticmethod
    def _plot(t, prefix: str, curve: str, height: int):
        return gr.LinePlot(charts.metric_frame([], curve), x="step", y=curve, title=t(CURVE_TITLES.get(curve, curve))
                           if curve in CURVE_TITLES else curve, height=height,
                           elem_id=LEGACY_IDS.get((prefix, curve), f"{prefix}-{curve}-plot"))


def on_action(studio, cfg: Config, action: str, job_id, request: gr.Request | None = None):
    """Button handler: do the action, then show the job it leaves (a clone is a new job; a resumed
    job is queued again, so the timer comes back on)."""
    owner = getattr(request, "username", None) if request is not None else None
    text, shown = act(studio, action, job_id, owner)
    return [text, *view(studio, cfg, shown)]
