"""The studio's main actions through `gradio_client` against the running app on 127.0.0.1:
start a run from a saved dataset, read its state, cancel it (stable api_names: /start_run,
/run_state, /cancel_run; studio/ui/shell/api.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from browser import studio_server
from conftest import SAMPLES

pytestmark = pytest.mark.browser  # a real server process, like the browser tests


def test_start_read_cancel_through_gradio_client(tmp_path, tiny_model):
    from gradio_client import Client

    from studio.data import store
    from studio.data.prepare import load_rows
    from studio.workspace import Workspace

    workspace = Workspace.open(tmp_path / "ws")
    loaded = load_rows(str(SAMPLES / "identity_alpaca.jsonl"))
    store.save_dataset(workspace.datasets, "identity", loaded.table.rows, loaded.format)
    with studio_server(workspace.root) as (url, _proc):
        client = Client(url + "/", verbose=False)
        names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
        assert {"/start_run", "/run_state", "/cancel_run"} <= names, names

        job = client.predict("identity", "tiny-random-llama", 500, api_name="/start_run")
        assert job["kind"] == "train" and job["state"] in ("queued", "running"), job
        assert (workspace.root / "runs") in Path(job["run_dir"]).parents

        state = client.predict(job["id"], api_name="/run_state")
        assert state["id"] == job["id"] and state["state"] in ("queued", "running"), state

        client.predict(job["id"], api_name="/cancel_run")
        deadline = time.time() + 120
        while time.time() < deadline:
            state = client.predict(job["id"], api_name="/run_state")
            if state["state"] not in ("queued", "running"):
                break
            time.sleep(1)
        assert state["state"] == "cancelled", state

        # a wrong dataset name is a clear error, not a traceback
        with pytest.raises(Exception, match="not found"):
            client.predict("no-such-dataset", "", 0, api_name="/start_run")
