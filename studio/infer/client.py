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
    started: float = field(default_factory=time.perf_counter)

    @property
    def tokens_per_s(self) -> float | None:
        gen = self.total_s - (self.ttft_s or 0)
        return self.chunks / gen if gen > 0 and self.chunks > 1 else None


def _payload(model: str, messages: list[dict], sampling: Sampling, stream: bool) -> dict:
    body = {"model": model, "messages": messages, "stream": stream, "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature, "top_p": sampling.top_p}
    if sampling.top_k:
        body["top_k"] = sampling.top_k
    if sampling.repetition_penalty != 1.0:
        body["repetition_penalty"] = sampling.repetition_penalty
    if sampling.seed is not None:
        body["seed"] = sampling.seed
    return body


def stream_chat(base_url: str, model: str, messages: list[dict], sampling: Sampling, api_key: str | None = None,
                timeout: float = 300.0) -> Iterator[StreamStats]:
    """Yield the growing answer with its timings after every chunk."""
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    stats = StreamStats()
    url = base_url.rstrip("/") + "/chat/completions"
    try:
        with httpx.stream("POST", url, json=_payload(model, messages, sampling, True), headers=headers,
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
    stats.total_s = time.perf_counter() - stats.started
    yield stats


def chat(base_url: str, model: str, messages: list[dict], sampling: Sampling, api_key: str | None = None) -> str:
    final = StreamStats()
    for final in stream_chat(base_url, model, messages, sampling, api_key):
        pass
    return final.text
