"""The quick start in headless Chromium: from a fresh workspace's Start page to two answering chat panes.

Counts every click (the budget is 5 with the sample data), screenshots every step into
test-artifacts/screenshots/, and runs once in Chinese, checking that no visible text on those pages
is English-only. Fast on purpose: the quick start is pointed at the tiny model (STUDIO_DEFAULT_MODEL)
and the transformers engine (STUDIO_ENGINE); the tiny model's answers are gibberish, which is fine:
the test asserts that both panes answered.
"""

from __future__ import annotations

import re
import time

import pytest
from browser import browser_page, fill, shot, studio_server

pytestmark = pytest.mark.browser

FAST = {"STUDIO_DEFAULT_MODEL": "tiny-random-llama", "STUDIO_ENGINE": "transformers",
        "STUDIO_QUICKSTART_SET": "training.max_steps=3 data.keep_general=false"}
# proper nouns and units that stay as they are in Chinese
ALLOWED = {"tune", "studio", "orbiton", "lora", "qlora", "dora", "sft", "cpu", "gpu", "gb", "mb", "jsonl", "json",
           "csv", "excel", "parquet", "yaml", "english", "tiny", "random", "llama", "smollm2", "instruct", "alpaca",
           "sharegpt", "r", "s", "m", "min", "ok", "vllm", "transformers", "api", "gradio"}
# the user's data and names (rows, answers, the question, dataset/run names in code spans) are not UI text
DATA_AREAS = "#qs-data-table, #qs-base-chat, #qs-tuned-chat, #qs-question, #qs-spec, #status-text .sb-names, code"


class Clicks:
    """Counts the user's clicks (an upload counts as one)."""

    def __init__(self, page):
        self.page, self.n, self.log = page, 0, []

    def click(self, selector: str) -> None:
        self.page.click(selector)
        self.n += 1
        self.log.append(selector)


def english_only(page) -> list[str]:
    """Visible text runs on the page with Latin words that are not allowed proper nouns, and no Chinese."""
    texts = page.evaluate(
        """(skip) => {
          const out = [];
          const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
          let node;
          while ((node = walker.nextNode())) {
            const el = node.parentElement;
            if (!el || el.closest(skip) || el.closest('script,style,svg,footer')) continue;
            const style = getComputedStyle(el);
            if (style.display === 'none' || style.visibility === 'hidden' || !el.offsetParent && style.position !== 'fixed') continue;
            const r = el.getBoundingClientRect();
            if (r.width <= 2 || r.height <= 2) continue;  // screen-reader-only live regions
            const text = node.textContent.trim();
            if (text) out.push(text);
          }
          document.querySelectorAll('input[placeholder], textarea[placeholder]').forEach(e => {
            if (!e.closest(skip) && e.offsetParent && e.placeholder.trim()) out.push(e.placeholder.trim());
          });
          return out;
        }""", DATA_AREAS)
    bad = []
    for text in texts:
        if re.search(r"[\u4e00-\u9fff]", text):
            continue
        words = {w.lower() for w in re.findall(r"[A-Za-z]{2,}", text)}
        if words - ALLOWED:
            bad.append(text)
    return bad


def run_quickstart(page, url: str, lang: str) -> Clicks:
    clicks = Clicks(page)
    page.set_default_timeout(120000)  # a busy 2-core machine renders the page slowly
    page.goto(url + ("/zh" if lang == "zh" else "/"))
    page.wait_for_selector("#qs-sample")
    page.wait_for_selector("#status-text .sb-count")
    shot(page, f"qs-{lang}-0-start")
    checks = [english_only(page)] if lang == "zh" else []

    clicks.click("#qs-sample")
    page.wait_for_selector("#qs-data-info:has-text('Orbiton')")
    page.wait_for_selector("#qs-next:not([disabled])")
    shot(page, f"qs-{lang}-1-data")
    checks += [english_only(page)] if lang == "zh" else []

    clicks.click("#qs-next")
    page.wait_for_selector("#qs-recipe-summary:has-text('LoRA')")
    shot(page, f"qs-{lang}-2-recipe")
    checks += [english_only(page)] if lang == "zh" else []

    clicks.click("#qs-next")  # Start training
    page.wait_for_selector("#qs-progress .studio-progress", timeout=60000)
    shot(page, f"qs-{lang}-3-train")
    checks += [english_only(page)] if lang == "zh" else []

    # training ends -> the compare step opens by itself and the engine comes up
    page.wait_for_selector("#qs-compare", state="visible", timeout=300000)
    page.wait_for_selector("#qs-ask:not([disabled])", timeout=300000)
    question = page.locator("#qs-question textarea").input_value()
    assert question.strip(), "no suggested question"
    shot(page, f"qs-{lang}-4-compare")
    checks += [english_only(page)] if lang == "zh" else []

    clicks.click("#qs-ask")
    for pane in ("qs-base-chat", "qs-tuned-chat"):
        _wait_answer(page, pane, lang)
    _check_answers(page, lang)
    if lang == "zh":
        bad = sorted({text for found in checks for text in found})
        assert not bad, f"English-only text on the Chinese pages: {bad}"
    return clicks


def _wait_answer(page, pane: str, lang: str) -> None:
    """A pane has answered when its numbers (tokens, seconds) show under it: a tiny random model may
    answer with nothing readable, so the text itself is not the sign."""
    stats = pane.replace("-chat", "-stats")
    try:
        page.wait_for_function(
            """(id) => { const el = document.querySelector('#' + id);
                         return el && /\\d+\\D+\\d+(\\.\\d+)?/.test(el.innerText); }""", arg=stats, timeout=120000)
    except Exception:  # noqa: BLE001 - say what the page showed
        shot(page, f"qs-{lang}-failed-{pane}")
        raise AssertionError(f"{pane} did not answer; message: {page.locator('#qs-message').inner_text()!r}; "
                             f"stats: {page.locator('#' + stats).inner_text()!r}") from None


def _check_answers(page, lang: str) -> None:
    time.sleep(1)
    for pane in ("qs-base", "qs-tuned"):
        assert page.locator(f"#{pane}-chat [data-testid='bot']").count() >= 1, pane
        numbers = page.locator(f"#{pane}-stats").inner_text()
        assert "⚠️" not in numbers, numbers
    shot(page, f"qs-{lang}-5-answers")


def _stop_engines(workspace):
    from studio.jobs import JobManager
    from studio.workspace import Workspace

    mgr = JobManager(Workspace.open(workspace), grace=5.0)
    for job in mgr.store.list(states=("running", "queued")):
        mgr.cancel(job.id, wait=True)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_quickstart_to_two_answering_panes(tmp_path, tiny_model, lang):
    workspace = tmp_path / "ws"
    try:
        with studio_server(workspace, env=FAST) as (url, _proc), browser_page() as page:
            clicks = run_quickstart(page, url, lang)
            assert clicks.n <= 5, clicks.log
    finally:
        _stop_engines(workspace)


def test_language_and_theme_switch_and_are_remembered(tmp_path):
    """The 🌐 button goes to the other language's page, 🌓 switches the theme; a new visit to `/` comes
    back in the chosen language and theme (browser storage); the rail highlights the current page."""
    with studio_server(tmp_path / "ws") as (url, _proc), browser_page() as page:
        page.set_default_timeout(120000)
        page.goto(url + "/")
        page.wait_for_selector("#qs-sample")
        page.click("#rail-jobs")
        page.wait_for_selector("#rail-jobs.current")
        assert page.locator("#rail-start.current").count() == 0
        page.click("#rail-start")
        page.click("#theme-toggle")
        page.wait_for_function("document.body.classList.contains('dark')")
        page.click("#lang-zh")
        page.wait_for_url("**/zh")
        page.wait_for_selector("#qs-sample:has-text('示例数据')")
        assert page.evaluate("document.body.classList.contains('dark')")
        shot(page, "shell-zh-dark")
        page.goto(url + "/")  # remembered: back to Chinese, still dark
        page.wait_for_url("**/zh")
        page.wait_for_selector("#qs-sample:has-text('示例数据')")
        assert page.evaluate("document.body.classList.contains('dark')")
        page.click("#lang-en")
        page.wait_for_url(url + "/")
        page.wait_for_selector("#qs-sample:has-text('sample data')")
        page.click("#rail-data")
        page.click("#status-open-drawer")  # the job drawer opens from any page, with the shared job panel
        page.wait_for_selector("#job-drawer #drawer-job", state="visible")
        page.wait_for_selector("#drawer-progress", state="visible")
        shot(page, "shell-drawer")


def test_own_file_reaches_the_recipe_in_three_clicks(tmp_path, tiny_model):
    """Use my own file (1), upload (2), Next (3): the recipe for it; then Start training and Ask make 5
    (the sample path above shows those two). A bad file is refused with its line, and nothing is lost."""
    from conftest import SAMPLES

    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"instruction": "hi", "output": "hello"}\n{oops\n', encoding="utf-8")
    with studio_server(tmp_path / "ws", env=FAST) as (url, _proc), browser_page() as page:
        page.set_default_timeout(120000)
        clicks = Clicks(page)
        page.goto(url + "/")
        page.wait_for_selector("#qs-own")
        clicks.click("#qs-own")
        page.locator("#qs-upload input[type=file]").set_input_files(str(bad))
        page.wait_for_selector("#qs-message:has-text('2')")
        assert page.locator("#qs-next[disabled]").count() == 1
        shot(page, "qs-own-bad-file")
        page.locator("#qs-upload input[type=file]").set_input_files(str(SAMPLES / "identity_alpaca.jsonl"))
        clicks.n += 1  # the upload counts as one click
        page.wait_for_selector("#qs-data-info:has-text('identity_alpaca')")
        clicks.click("#qs-next")
        page.wait_for_selector("#qs-recipe-summary:has-text('LoRA')")
        shot(page, "qs-own-recipe")
        assert clicks.n == 3, clicks.log


def _train_through_the_api(url: str, dataset: str, seconds: float = 300.0) -> dict:
    """Start a tiny run with the app's API (as a script would) and wait until it ends."""
    from gradio_client import Client

    client = Client(url + "/", verbose=False)
    job = client.predict(dataset, "tiny-random-llama", 3, api_name="/start_run")
    deadline = time.time() + seconds
    while time.time() < deadline and job["state"] in ("queued", "running"):
        time.sleep(2)
        job = client.predict(job["id"], api_name="/run_state")
    return job


def test_open_a_recent_run_in_three_clicks(tmp_path, tiny_model):
    """A run trained before (through the API), then a fresh page: "Open a recent run" (1), pick it (2):
    the compare step with the base model and the run's adapter and a question from the rows the run
    held out; Ask (3): both panes answer."""
    import json
    from pathlib import Path

    from conftest import SAMPLES

    from studio.data import store
    from studio.data.prepare import load_rows
    from studio.workspace import Workspace

    workspace = Workspace.open(tmp_path / "ws")
    loaded = load_rows(str(SAMPLES / "identity_alpaca.jsonl"))
    store.save_dataset(workspace.datasets, "identity", loaded.table.rows, loaded.format)
    try:
        with studio_server(workspace.root, env=dict(FAST, STUDIO_AUTO_PROBE="0")) as (url, _proc):
            run = _train_through_the_api(url, "identity")
            assert run["state"] == "succeeded", run
            held = [json.loads(line) for line in (Path(run["run_dir"]) / "heldout.jsonl").read_text().splitlines()]
            held_questions = {m["content"] for row in held for m in row["prompt"] if m["role"] == "user"}
            with browser_page() as page:
                page.set_default_timeout(120000)
                clicks = Clicks(page)
                page.goto(url + "/")
                page.wait_for_selector("#qs-recent")
                clicks.click("#qs-recent")
                page.wait_for_selector("#qs-recent-pick label", state="visible")
                assert page.locator("#qs-recent-pick label").count() == 1
                shot(page, "qs-recent-0-list")
                clicks.click("#qs-recent-pick label >> nth=0")
                page.wait_for_selector("#qs-compare", state="visible", timeout=120000)
                run_name = Path(run["run_dir"]).name
                page.wait_for_selector(f"#qs-tuned-chat:has-text('{run_name}')")
                page.wait_for_selector("#qs-ask:not([disabled])", timeout=300000)
                question = page.locator("#qs-question textarea").input_value()
                assert question in held_questions, (question, held_questions)
                shot(page, "qs-recent-1-compare")
                clicks.click("#qs-ask")
                for pane in ("qs-base-chat", "qs-tuned-chat"):
                    _wait_answer(page, pane, "en")
                _check_answers(page, "en")
                assert clicks.n == 3, clicks.log
    finally:
        _stop_engines(workspace.root)


def test_advanced_fills_the_full_forms_with_the_plan(tmp_path, tiny_model):
    """Sample data, Next, Advanced: the Method page shows the planned model and LoRA rank, the Train page
    the planned dataset and steps; one number changed there, Start: the job runs with that number and
    the rest of the plan."""
    import yaml

    from studio.jobs import JobManager
    from studio.workspace import Workspace

    workspace = tmp_path / "ws"
    try:
        with studio_server(workspace, env=dict(FAST, STUDIO_AUTO_PROBE="0")) as (url, _proc), \
                browser_page() as page:
            page.set_default_timeout(120000)
            page.goto(url + "/")
            page.click("#qs-sample")
            page.wait_for_selector("#qs-next:not([disabled])")
            page.click("#qs-next")
            page.wait_for_selector("#qs-recipe-summary:has-text('LoRA')")
            page.click("#qs-advanced input")
            page.wait_for_selector("#qs-spec", state="visible")
            planned = yaml.safe_load(page.locator("#qs-spec .cm-content").inner_text())
            rank, steps = planned["method_args"]["r"], planned["training"]["max_steps"]
            assert planned["model"]["name"] == "tiny-random-llama" and steps == 3, planned
            page.click("#qs-open-method")
            page.wait_for_selector("#rail-method.current")
            _wait_value(page, "model-name", "tiny-random-llama")
            _wait_value(page, "method-lora-r", str(rank))
            shot(page, "qs-advanced-method")
            page.click("#rail-train")
            page.wait_for_selector("#rail-train.current")
            _wait_value(page, "train-dataset", "orbiton-sample")
            _wait_value(page, "training-max_steps", str(steps))
            shot(page, "qs-advanced-train")
            fill(page, "training-max_steps", steps + 2)
            page.click("#start-training")
            page.wait_for_selector("#train-message:has-text('runs')")
            jobs = JobManager(Workspace.open(workspace)).list(kind="train")
            assert len(jobs) == 1
            spec = jobs[0].spec
            assert spec["training"]["max_steps"] == steps + 2, spec["training"]
            assert spec["model"]["name"] == "tiny-random-llama" and spec["method_args"]["r"] == rank, spec
            assert spec["data"]["path"] == "orbiton-sample" and spec["data"]["keep_general"] is False, spec["data"]
    finally:
        _stop_engines(workspace)


def _wait_value(page, elem_id: str, value: str) -> None:
    """Wait until the form field `elem_id` shows `value` (filled by the channel, a moment after the click)."""
    try:
        page.wait_for_function(
            """([id, v]) => { const el = document.querySelector('#' + id + ' input, #' + id + ' textarea');
                              return el && el.value === v; }""", arg=[elem_id, value], timeout=60000)
    except Exception:  # noqa: BLE001 - say what the field showed
        box = page.locator(f"#{elem_id} input, #{elem_id} textarea").first
        raise AssertionError(f"{elem_id} shows {box.input_value()!r}, not {value!r}") from None
