"""A small OpenAI-compatible chat client with timing (time to first token, tokens per second).

Used by the Chat tab for every pane, whether it points at the studio's own server or an external
endpoint. The API key is passed per call and never logged.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Iterator

from ..errors import StudioError
from .base import Sampling


@dataclass
class StreamStats:
    text: str = ""
    ttft_s: float | None = None
    total_s: float = 0.0
    chunks: int = 0
    completion_tokens: int | None = None  # from the server's usage report, when it sends one
    done: bool = False
    started: float = field(default_factory=time.perf_counter)

    @property
    def tokens(self) -> int:
        return self.completion_tokens if self.completion_tokens is not None else self.chunks

    @property
    def tokens_per_s(self) -> float | None:
        """Generation speed after the first token (tokens from usage; chunks when there is none)."""
        gen = self.total_s - (self.ttft_s or 0)
        return (self.tokens - 1) / gen if gen > 0 and self.tokens > 1 else None


def _payload(model: str, messages: list[dict], sampling: Sampling, stream: bool, extra: dict | None = None) -> dict:
    body = {"model": model, "messages": messages, "stream": stream, "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature, "top_p": sampling.top_p, **(extra or {})}
    if stream:
        body["stream_options"] = {"include_usage": True}
    if sampling.top_k:
        body["top_k"] = sampling.top_k
    if sampling.repetition_penalty != 1.0:
        body["repetition_penalty"] = sampling.repetition_penalty
    if sampling.seed is not None:
        body["seed"] = sampling.seed
    if sampling.min_tokens:
        body["min_tokens"] = sampling.min_tokens
    return body


def stream_chat(base_url: str, model: str, messages: list[dict], sampling: Sampling, api_key: str | None = None,
                timeout: float = 300.0, extra: dict | None = None) -> Iterator[StreamStats]:
    """Yield the growing answer with its timings after every chunk; the last one has `done` set.

    `extra`: more request fields (the studio's own servers take `chat_template`: a preset name).
    """
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    stats = StreamStats()
    url = base_url.rstrip("/") + "/chat/completions"
    try:
        with httpx.stream("POST", url, json=_payload(model, messages, sampling, True, extra), headers=headers,
                          timeout=timeout) as resp:
            if resp.status_code != 200:
                resp.read()
                raise StudioError(f"{url} answered {resp.status_code}: {resp.text[:200]}",
                                  "check the model name, the URL and the API key")
            for line in resp.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                event = json.loads(data)
                if "error" in event:
                    raise StudioError(f"the server failed: {event['error'].get('message')}", "see the serve job's log")
                if event.get("usage"):
                    stats.completion_tokens = event["usage"].get("completion_tokens")
                delta = (event.get("choices") or [{}])[0].get("delta", {}).get("content")
                if delta:
                    if stats.ttft_s is None:
                        stats.ttft_s = time.perf_counter() - stats.started
                    stats.text += delta
                    stats.chunks += 1
                    stats.total_s = time.perf_counter() - stats.started
                    yield stats
    except httpx.HTTPError as exc:
        raise StudioError(f"cannot reach {base_url} ({type(exc).__name__})",
                          "is the engine running? start it in the Chat tab") from None
    if stats.ttft_s is None:  # no text at all: the latency is the whole wait
        stats.total_s = time.perf_counter() - stats.started
    stats.done = True
    yield stats


def chat(base_url: str, model: str, messages: list[dict], sampling: Sampling, api_key: str | None = None,
         extra: dict | None = None) -> str:
    final = StreamStats()
    for final in stream_chat(base_url, model, messages, sampling, api_key, extra=extra):  # noqa: B007 - the last
        pass
    return final.text
