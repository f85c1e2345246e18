"""bench/load.py reads the real app's config as a browser would: only the root page, only events with a
backend fn, only timers that are mounted (not in a hidden tab), the status bar found by its elem_id, and
the Data page's upload / grid / apply-edit components the editor needs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_load", ROOT / "bench" / "load.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    from studio.ui.app import build_app
    from studio.workspace import Workspace

    app = build_app(Workspace.open(tmp_path_factory.mktemp("bench") / "ws"), lang="en")
    return _bench().Layout(app.get_config_file())


def test_root_page_backend_events_only(layout):
    assert layout.deps and all(d.get("backend_fn") for d in layout.deps)
    loads = [d for d in layout.deps if any(e == "load" for _t, e in d["targets"])]
    assert loads and all(d["id"] in [x["id"] for x in layout.deps] for d in loads)
    # the Chinese page's own status bar is not on "/"
    status = [c for c in layout.components.values() if c.get("props", {}).get("elem_id") == "status-text"]
    assert len(status) == 1


def test_mounted_timers_are_the_ones_a_browser_ticks(layout):
    labels = {layout.label(d) for tid in layout.timers() for d in layout.on(tid, "tick")}
    assert "status bar" in labels and "drawer-job" in labels
    assert "jobs-table" not in labels  # its timer sits in the Jobs tab, not shown at start
    status_timer = next(tid for tid in layout.timers() if any(layout.label(d) == "status bar"
                                                               for d in layout.on(tid, "tick")))
    assert layout.timers()[status_timer] == 2.0
    tick = layout.on(status_timer, "tick")[0]
    assert layout.wanted(tick, "studio-status") and layout.wanted(tick, "status-text")
    assert not layout.wanted(tick, "drawer-job")


def test_the_editor_finds_the_data_page_events(layout):
    upload, grid, apply = (layout.elem(e) for e in ("data-upload", "data-grid", "data-apply-edits"))
    assert None not in (upload, grid, apply)
    assert layout.on(upload, "upload") and layout.on(apply, "click")
    assert grid in layout.on(apply, "click")[0]["inputs"]
