"""Side-by-side chat: what the Chat tab's handlers call (and the tests drive), with no Gradio in it.

- `start_engines`: one serve job per distinct base model (the chosen base with its adapters, and
  one for each merged model), because an engine holds one base; adapters share their base's job.
- `pane_choices` / `target_for`: every pane picks a model served by one of those jobs (base,
  adapter or merged) or an external OpenAI-compatible endpoint; the pane is routed to its server.
- `ask_panes`: one prompt to all panes at once; each streams through its own thread, and the
  updates come back merged, so the page shows tokens as they arrive with TTFT and tok/s.
- `export_conversation`: the panes' transcripts as JSON or Markdown in the workspace's exports/.

Endpoint API keys live only in the caller's memory (the browser session); they are never in a
job spec, a file or a log.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..atomic import write_text
from ..errors import StudioError
from ..jobs.events import read_progress
from ..workspace import safe_name
from .base import BASE, Sampling
from .client import StreamStats, stream_chat
from .serve import server_info

ENDPOINT = "endpoint"  # the pane choice that means "an external OpenAI-compatible server"
SEP = "::"  # pane choice values: "<serve job id>::<model name on that server>"


@dataclass
class Target:
    """Where one pane sends its conversation."""

    label: str
    url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    engine: str = "external"
    own: bool = False  # one of the studio's servers (understands chat_template presets)


# ------------------------------------------------------------------ serve jobs

def serve_jobs(manager) -> list:
    return [j for j in manager.list(kind="serve", limit=50) if j.state in ("queued", "running")]


def servers(manager) -> list[tuple[object, dict]]:
    """(job, server.json) of every serve job that is up."""
    out = []
    for job in serve_jobs(manager):
        info = server_info(job.run_dir) if job.state == "running" else None
        if info:
            out.append((job, info))
    return out


def start_engines(manager, model: str, adapters: dict[str, str] | None = None, merged: list[str] | None = None,
                  engine: str = "auto", chat_template: str | None = None, owner: str | None = None,
                  options: dict | None = None) -> list:
    """Stop the running engines, then start one serve job per distinct base model."""
    from .spec import serve_spec

    stop_engines(manager)
    bases: dict[str, dict[str, str]] = {model: dict(adapters or {})} if model else {}
    for folder in merged or []:
        bases.setdefault(str(folder), {})
    if not bases:
        raise StudioError("Nothing to serve", "choose a base model or a merged model")
    jobs = []
    for base, its_adapters in bases.items():
        spec = serve_spec(base, its_adapters, engine, chat_template, options)  # the builder `studio serve` uses
        jobs.append(manager.submit("serve", spec.model_dump(mode="json"), title=f"serve · {Path(base).name}",
                                   owner=owner))
    return jobs


def stop_engines(manager, wait: bool = False) -> int:
    jobs = serve_jobs(manager)
    for job in jobs:
        manager.cancel(job.id, wait=wait)
    return len(jobs)


def adapter_names(folders: list[str]) -> dict[str, str]:
    """A served name for each adapter folder: its run's folder name, made unique."""
    named: dict[str, str] = {}
    for folder in folders:
        base = safe_name(Path(folder).parent.name if Path(folder).name == "adapter" else Path(folder).name)
        name, n = base, 2
        while name in named:
            name, n = f"{base}-{n}", n + 1
        named[name] = str(folder)
    return named


def engine_status(manager, t) -> str:
    """One line per serve job: starting (with its progress) or serving (engine, model, adapters)."""
    lines = []
    for job in serve_jobs(manager):
        info = server_info(job.run_dir) if job.state == "running" else None
        if info is None:
            prog = read_progress(job.run_dir)
            lines.append(t("chat.engine_starting", model=Path(job.spec.get("model", "")).name,
                           message=prog.get("message") or t("state." + job.state),
                           percent=int(100 * (prog.get("fraction") or 0))))
            continue
        line = t("chat.engine_up", engine=info["engine"], model=Path(info["model"]).name,
                 adapters=", ".join(info["adapters"]) or "—", seconds=info.get("startup_s", "?"))
        if info.get("fallback"):
            line += " — " + t("chat.fallback_failed" if info["fallback"] == "failed" else "chat.fallback")
        lines.append(line)
    return "\n\n".join(lines) if lines else t("chat.no_engine")


# ------------------------------------------------------------------ panes

def pane_choices(manager) -> list[tuple[str, str]]:
    """(label, value) for every model a pane can talk to, then the external endpoint choice."""
    out = []
    for job, info in servers(manager):
        name = Path(info["model"]).name
        out.append((f"{name} · {BASE} ({info['engine']})", f"{job.id}{SEP}{BASE}"))
        for adapter in info["adapters"]:
            out.append((f"{name} + {adapter} ({info['engine']})", f"{job.id}{SEP}{adapter}"))
    out.append(("external endpoint (OpenAI-compatible)", ENDPOINT))
    return out


def target_for(manager, choice: str, endpoint: dict | None = None) -> Target:
    """The server, model name and key a pane's choice stands for."""
    if choice == ENDPOINT:
        endpoint = endpoint or {}
        url, model = (endpoint.get("url") or "").strip(), (endpoint.get("model") or "").strip()
        if not url.startswith(("http://", "https://")) or not model:
            raise StudioError("The endpoint pane needs a URL (http://… ending in /v1) and a model name",
                              "fill in the endpoint fields under the pane")
        return Target(f"{model} @ {url}", url, model, endpoint.get("api_key") or None)
    job_id, _, model = (choice or "").partition(SEP)
    for job, info in servers(manager):
        if job.id == job_id:
            if model != BASE and model not in info["adapters"]:
                break
            label = Path(info["model"]).name + ("" if model == BASE else f" + {model}")
            return Target(label, info["url"], model, info["token"], info["engine"], own=True)
    raise StudioError(f"The model '{choice}' is not being served any more",
                      "start the engine again, then pick the pane's model")


def _pane_messages(history: list[dict], system: str | None) -> list[dict]:
    msgs = [{"role": m["role"], "content": _text(m.get("content"))} for m in history
            if m.get("role") in ("user", "assistant")]
    return ([{"role": "system", "content": system}] if system else []) + msgs


def _text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # Gradio may hand back content parts
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return "" if content is None else str(content)


@dataclass
class PaneUpdate:
    index: int
    kind: str  # "text" | "error" | "done"
    stats: StreamStats | None = None
    error: str | None = None


def ask_panes(targets: list[Target], histories: list[list[dict]], prompt: str, sampling: Sampling,
              system: str | None = None, chat_template: str | None = None,
              timeout: float = 600.0) -> Iterator[PaneUpdate]:
    """Send `prompt` (after each pane's own history) to every pane at once; yield updates as they come."""
    if not (prompt or "").strip():
        raise StudioError("The message is empty", "type a message first")
    updates: queue.Queue = queue.Queue()
    for i, target in enumerate(targets):
        messages = _pane_messages(histories[i], system) + [{"role": "user", "content": prompt}]
        extra = {"chat_template": chat_template} if chat_template and target.own else None
        threading.Thread(target=_stream_pane, args=(i, target, messages, sampling, extra, timeout, updates),
                         daemon=True, name=f"pane-{i}").start()
    finished = 0
    while finished < len(targets):
        update = updates.get()
        if update.kind == "done":
            finished += 1
        yield update


def _stream_pane(index, target: Target, messages, sampling, extra, timeout, updates: queue.Queue) -> None:
    try:
        for stats in stream_chat(target.url, target.model, messages, sampling, api_key=target.api_key,
                                 timeout=timeout, extra=extra):
            updates.put(PaneUpdate(index, "text", stats))
    except StudioError as exc:
        updates.put(PaneUpdate(index, "error", error=exc.one_line()))
    except Exception as exc:  # noqa: BLE001 - shown in the pane, never raised into the page
        updates.put(PaneUpdate(index, "error", error=f"{type(exc).__name__}: {exc}"))
    updates.put(PaneUpdate(index, "done"))


def run_turn(targets: list[Target], histories: list[list[dict]], prompt: str, sampling: Sampling,
             system: str | None = None, chat_template: str | None = None) -> Iterator[tuple[list, list]]:
    """`ask_panes` folded into the panes' histories: yields (histories, stats) after every update.

    Each history gains the user turn and a growing assistant turn; `stats` holds each pane's
    latest StreamStats (or an error string).
    """
    histories = [list(h) + [{"role": "user", "content": prompt}, {"role": "assistant", "content": ""}]
                 for h in histories]
    stats: list = [None] * len(targets)
    for update in ask_panes(targets, [h[:-2] for h in histories], prompt, sampling, system, chat_template):
        if update.kind == "text":
            histories[update.index][-1] = {"role": "assistant", "content": update.stats.text}
            stats[update.index] = update.stats
        elif update.kind == "error":
            histories[update.index][-1] = {"role": "assistant", "content": f"⚠️ {update.error}"}
            stats[update.index] = update.error
        yield histories, stats


def stats_numbers(stats) -> dict:
    """Latency, time to first token and tokens per second of one pane's answer."""
    if not isinstance(stats, StreamStats):
        return {}
    return {"latency_s": round(stats.total_s, 3),
            "ttft_s": None if stats.ttft_s is None else round(stats.ttft_s, 3),
            "tokens": stats.tokens,
            "tokens_per_s": None if stats.tokens_per_s is None else round(stats.tokens_per_s, 1)}


# ------------------------------------------------------------------ export

def export_conversation(workspace, panes: list[dict], fmt: str = "json", system: str | None = None,
                        sampling: Sampling | None = None) -> Path:
    """Write the panes' conversations to exports/chat-<time>.<json|md>; returns the file.

    `panes`: [{"label", "engine", "messages", "stats"}]. Keys and tokens are not part of a pane.
    """
    if fmt not in ("json", "md"):
        raise StudioError(f"Unknown export format '{fmt}'", "choose json or md")
    clean = [{"label": p.get("label", f"pane {i + 1}"), "engine": p.get("engine"),
              "messages": [{"role": m["role"], "content": _text(m.get("content"))} for m in p.get("messages") or []],
              "stats": p.get("stats") or []} for i, p in enumerate(panes)]
    if not any(p["messages"] for p in clean):
        raise StudioError("There is no conversation to export yet", "send a message first")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    doc = {"exported_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "system": system or None,
           "sampling": sampling.model_dump() if sampling else None, "panes": clean}
    path = _free_path(Path(workspace.exports) / f"chat-{stamp}.{fmt}")
    write_text(path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n" if fmt == "json" else _markdown(doc))
    return path


def _free_path(path: Path) -> Path:
    n, candidate = 2, path
    while candidate.exists():
        candidate, n = path.with_name(f"{path.stem}-{n}{path.suffix}"), n + 1
    return candidate


def _markdown(doc: dict) -> str:
    lines = [f"# Chat export ({doc['exported_at']})", ""]
    if doc["system"]:
        lines += [f"**System prompt:** {doc['system']}", ""]
    if doc["sampling"]:
        lines += ["**Sampling:** " + ", ".join(f"{k}={v}" for k, v in doc["sampling"].items()), ""]
    for i, pane in enumerate(doc["panes"]):
        lines += [f"## Pane {i + 1}: {pane['label']}" + (f" ({pane['engine']})" if pane.get("engine") else ""), ""]
        turn = 0
        for m in pane["messages"]:
            if m["role"] == "assistant":
                numbers = pane["stats"][turn] if turn < len(pane["stats"]) else None
                turn += 1
                suffix = f" _(latency {numbers.get('latency_s')} s, first token {numbers.get('ttft_s')} s, " \
                         f"{numbers.get('tokens_per_s')} tok/s)_" if numbers else ""
                lines += [f"**Assistant:**{suffix}", "", m["content"], ""]
            else:
                lines += [f"**{m['role'].capitalize()}:**", "", m["content"], ""]
    return "\n".join(lines)
