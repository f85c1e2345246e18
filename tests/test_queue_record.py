"""Gradio's queue, as the studio sets it up (studio/ui/launch.py `quiet_queue`), keeps a short record of
the events it ran and never rebuilds the monitoring summary the studio does not show: with 50 open tabs
that record grew for minutes and its rebuild cost about 10 ms of CPU per event. Real queue, real HTTP on
127.0.0.1."""

from __future__ import annotations

import json
import secrets

import gradio as gr
import httpx

from studio.ui.launch import QUEUE_ENV, quiet_queue


def _run_queued_events(n: int) -> gr.Blocks:
    with gr.Blocks(analytics_enabled=False) as demo:
        box = gr.Number(0)
        gr.Button().click(lambda x: x + 1, box, box)
    demo.queue()
    demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True, enable_monitoring=False)
    try:
        with httpx.Client(base_url=demo.local_url.rstrip("/"), timeout=30) as client:
            session = secrets.token_hex(6)
            for i in range(n):
                client.post("/gradio_api/queue/join", json={"data": [i], "fn_index": 0, "session_hash": session,
                                                            "trigger_id": None, "event_data": None}).raise_for_status()
            done = 0
            with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
                for line in stream.iter_lines():
                    msg = json.loads(line[5:]) if line.startswith("data:") else {}
                    done += msg.get("msg") == "process_completed" and msg.get("success")
                    if msg.get("msg") == "close_stream" or done == n:
                        break
        assert done == n
    finally:
        demo.close()
    return demo


def test_the_queue_keeps_a_short_record_and_no_summary(monkeypatch):
    env: dict = {}
    quiet_queue(env)
    assert env == QUEUE_ENV
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    limit = int(QUEUE_ENV["GRADIO_ANALYTICS_MAX_EVENTS"])
    demo = _run_queued_events(limit + 30)
    assert len(demo._queue.event_analytics) == limit  # the newest `limit` events, not all of them
    assert demo._queue.cached_event_analytics_summary == {"functions": {}}  # never rebuilt


def test_a_setting_the_operator_made_is_kept():
    env = {"GRADIO_ANALYTICS_MAX_EVENTS": "5000"}
    quiet_queue(env)
    assert env["GRADIO_ANALYTICS_MAX_EVENTS"] == "5000"


def test_malloc_arenas_capped_unless_the_operator_chose():
    """launch.main caps glibc's arenas (fragmentation across Gradio's worker threads); MALLOC_ARENA_MAX wins."""
    import platform

    from studio.ui.launch import limit_malloc_arenas

    assert limit_malloc_arenas({"MALLOC_ARENA_MAX": "4"}) is False
    if platform.libc_ver()[0] == "glibc":
        assert limit_malloc_arenas({}) is True
