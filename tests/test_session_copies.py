"""A tab that polls an event which reads and updates the same component (the job drawer's picker) must not
grow its session in the server (studio/ui/session_copies.py). Real Gradio app, real HTTP on 127.0.0.1."""

from __future__ import annotations

import secrets

import gradio as gr
import httpx

from studio.ui.session_copies import keep_session_copy_ids

TICKS = 25


def _tick(job_id):
    """What the drawer's tick does to its picker: new choices and the shown job, every time."""
    n = int(job_id.removeprefix("job-")) + 1 if job_id else 0
    return gr.update(choices=[f"job-{i}" for i in range(n + 1)], value=f"job-{n}")


def _poll(ticks: int) -> tuple[gr.Blocks, int, object]:
    """Launch an app with one ticking picker, send `ticks` events from one session; (demo, picker id, session)."""
    with gr.Blocks(analytics_enabled=False) as demo:
        picker = gr.Dropdown(choices=[], value=None, allow_custom_value=True)
        gr.Button().click(_tick, picker, picker, queue=False)
    demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True, enable_monitoring=False)
    try:
        session, shown = secrets.token_hex(6), None
        with httpx.Client(base_url=demo.local_url.rstrip("/"), timeout=30) as client:
            for _ in range(ticks):
                resp = client.post("/gradio_api/run/predict", json={"data": [shown], "fn_index": 0,
                                                                     "session_hash": session, "trigger_id": None})
                resp.raise_for_status()
                shown = resp.json()["data"][0]["value"]
        assert shown == f"job-{ticks - 1}"
        return demo, picker._id, demo.state_holder[session]
    finally:
        demo.close()


def test_a_polling_session_keeps_one_copy_of_the_updated_component():
    assert keep_session_copy_ids()
    demo, picker_id, state = _poll(TICKS)
    # without the fix every tick after the first left one more component and config entry in the session
    assert len(state.blocks_config.blocks) == len(demo.blocks)
    assert len(state.config_values) <= len(demo.blocks)
    copy = state.blocks_config.blocks[picker_id]
    assert copy._id == picker_id
    # the session's copy is the latest update, and so is its config (what a reopened page is given)
    assert copy.choices[-1] == (f"job-{TICKS - 1}",) * 2
    assert tuple(state.config_values[picker_id]["props"]["choices"][-1]) == (f"job-{TICKS - 1}",) * 2
    assert state.config_values[picker_id]["props"]["value"] == f"job-{TICKS - 1}"


def test_patched_once():
    from gradio.state_holder import SessionState

    assert keep_session_copy_ids()
    patched = SessionState.__setitem__
    assert keep_session_copy_ids() and SessionState.__setitem__ is patched  # not wrapped twice
