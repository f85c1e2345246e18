"""The status bar: running and queued jobs, the device and the memory in use, always at the bottom.

It polls only while there is something to watch: its timer is switched on by a refresh that finds a
running or queued job and switched off by the tick that finds none. A refresh happens when the page
loads and shortly after any click on the page (a job may just have been started), never on its own.
"""

from __future__ import annotations

import html

import gradio as gr

from . import device

ACTIVE = ("running", "queued")
TICK_S = 2.0


def watched_jobs(manager) -> list:
    """Running and queued jobs from the shared snapshot: one reconciled read per interval for every open tab."""
    return [j for j in manager.snapshot(max_age=1.0).jobs if j.state in ACTIVE]


def status_html(studio, jobs: list | None = None) -> str:
    t = studio.t
    jobs = watched_jobs(studio.manager) if jobs is None else jobs
    running = [j for j in jobs if j.state == "running"]
    queued = [j for j in jobs if j.state == "queued"]
    dot = "busy" if running else "idle"
    names = ", ".join(html.escape(j.title or j.kind) for j in running[:3]) + (" …" if len(running) > 3 else "")
    dev = device.reading()
    pct = 0 if not dev["total_gb"] else min(100, round(100 * dev["used_gb"] / dev["total_gb"]))
    memory = t("shell.memory", used=f"{dev['used_gb']:.1f}", total=f"{dev['total_gb']:.1f}")
    return (f"<div class='sb'><div class='sb-jobs'><span class='sb-dot {dot}'></span>"
            f"<span class='sb-count' data-running='{len(running)}' data-queued='{len(queued)}'>"
            f"{html.escape(t('shell.jobs_count', running=len(running), queued=len(queued)))}</span>"
            f"{'<span class=sb-names>' + names + '</span>' if names else ''}</div>"
            f"<div class='sb-device'><span>{html.escape(t('shell.device', name=dev['device']))}</span>"
            f"<span class='sb-mem'><span class='sb-mem-fill' style='width:{pct}%'></span></span>"
            f"<span>{html.escape(memory)}</span></div></div>")


def refresh(studio):
    """(status html, timer update): the timer runs only while a job is running or queued."""
    jobs = watched_jobs(studio.manager)
    return status_html(studio, jobs), gr.Timer(active=bool(jobs))


# A click anywhere on the page (by the user, not by a script) asks for one refresh a moment later,
# so that a job started from any page switches the status timer on. Nothing fires without a click.
POKE_JS = """
() => {
  if (window.__studioPoke) return;
  window.__studioPoke = true;
  let pending = null;
  document.addEventListener('click', (ev) => {
    if (!ev.isTrusted || ev.target.closest('#status-poke')) return;
    clearTimeout(pending);
    pending = setTimeout(() => {
      const b = document.querySelector('#status-poke');
      if (b) b.click();
    }, 1500);
  }, true);
}
"""


def build(studio):
    """The bar's components: (html, jobs button, timer, poke button)."""
    with gr.Row(elem_id="studio-statusbar", equal_height=True):
        bar = gr.HTML(status_html(studio, []), elem_id="status-text", padding=False)
        open_jobs = gr.Button(studio.t("shell.open_drawer"), size="sm", elem_id="status-open-drawer", scale=0,
                              min_width=90)
        poke = gr.Button("refresh", visible="hidden", elem_id="status-poke")
    timer = gr.Timer(TICK_S, active=False)
    outputs = [bar, timer]
    def fn():
        return refresh(studio)
    timer.tick(fn, None, outputs, show_progress="hidden", queue=False)
    poke.click(fn, None, outputs, show_progress="hidden", queue=False)
    return bar, open_jobs, timer, fn, outputs
