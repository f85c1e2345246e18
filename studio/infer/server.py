"""An OpenAI-compatible HTTP server over any engine (chat completions, streaming, models, adapters).

The Chat tab, evaluation and any OpenAI client talk to this, whichever engine is behind it. It
binds to 127.0.0.1 and requires a bearer token that only the workspace owner can read.

An engine that batches (`engine.concurrent`, vLLM) gets every request at once, so panes asking
together are answered in one batch; the others (transformers) take requests one at a time.
Beyond the OpenAI fields, a request may name a chat template preset (`chat_template`: one of
`studio.models.templates.TEMPLATES`; never template code from the network) and `top_k`,
`repetition_penalty` as vLLM's server accepts them.

No `from __future__ import annotations` here: FastAPI reads the handlers' annotations (Request)
at run time, and they are imported inside `build_app` to keep fastapi out of light imports.
"""

import asyncio
import contextlib
import json
import threading
import time
import uuid

from pydantic import ValidationError

from ..errors import StudioError
from .base import BASE, Sampling


def _sampling(body: dict) -> Sampling:
    known = {k: body[k] for k in ("temperature", "top_p", "top_k", "repetition_penalty", "seed", "min_tokens")
             if k in body
             and body[k] is not None}
    known["max_tokens"] = body.get("max_tokens") or body.get("max_completion_tokens") or 256
    return Sampling(**known)


def _template(body: dict) -> str | None:
    from ..models.templates import TEMPLATES

    name = body.get("chat_template")
    if name and name not in TEMPLATES:
        raise StudioError(key="infer.template_name", names=", ".join(TEMPLATES))
    return name or None


def _messages(body: dict) -> list[dict]:
    out = []
    for m in body.get("messages") or []:
        content = m.get("content")
        if isinstance(content, list):  # OpenAI content parts: keep the text parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        out.append({"role": m.get("role", "user"), "content": content or ""})
    if not out:
        raise StudioError(key="infer.no_messages")
    return out


def build_app(engine, token: str, base_name: str):
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.responses import JSONResponse, StreamingResponse

    app = FastAPI(title="Tune Studio inference", docs_url=None, redoc_url=None, openapi_url=None)
    gate = contextlib.nullcontext() if getattr(engine, "concurrent", False) else threading.Lock()

    @app.middleware("http")
    async def require_token(request: Request, call_next):
        if request.url.path != "/health" and request.headers.get("authorization") != f"Bearer {token}":
            return JSONResponse({"error": {"message": "missing or wrong API key"}}, status_code=401)
        return await call_next(request)

    @app.get("/health")
    async def health():
        return {"status": "ok", "engine": engine.name, "model": base_name}

    @app.get("/v1/models")
    async def models():
        names = [BASE] + list(engine.adapters())
        return {"object": "list", "data": [{"id": n, "object": "model", "owned_by": "tune-studio",
                                            "root": base_name, "engine": engine.name} for n in names]}

    @app.post("/v1/load_lora_adapter")
    async def load_adapter(request: Request):
        body = await request.json()
        name, path = body.get("lora_name"), body.get("lora_path")
        if not name or not path:
            raise HTTPException(400, "lora_name and lora_path are required")
        try:
            await asyncio.to_thread(engine.add_adapter, name, path)
        except StudioError as exc:
            raise HTTPException(400, exc.one_line()) from None
        return {"loaded": name}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        model = body.get("model") or BASE
        adapter = None if model in (BASE, base_name) else model
        if adapter and adapter not in engine.adapters():
            raise HTTPException(404, f"model '{model}' is not served here; load it first")
        try:
            messages, sampling, template = _messages(body), _sampling(body), _template(body)
        except (StudioError, ValidationError) as exc:
            raise HTTPException(400, str(exc).splitlines()[0]) from None
        rid = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        created = int(time.time())
        job = (messages, sampling, adapter, template)
        if body.get("stream"):
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(_sse(engine, gate, job, rid, created, model, usage),
                                     media_type="text/event-stream")
        result = await asyncio.to_thread(_generate, engine, gate, job)
        return {"id": rid, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": result.text},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
                          "total_tokens": result.prompt_tokens + result.completion_tokens}}

    return app


def _generate(engine, gate, job):
    messages, sampling, adapter, template = job
    with gate:
        return engine.generate([messages], sampling, adapter, template=template)[0]


def _chunk(rid: str, created: int, model: str, delta: dict, finish: str | None = None) -> str:
    body = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def _counts(completion) -> dict:
    return {"prompt_tokens": completion.prompt_tokens, "completion_tokens": completion.completion_tokens,
            "total_tokens": completion.prompt_tokens + completion.completion_tokens}


def _usage(engine, messages: list[dict], text: str) -> dict:
    """Token counts for a streamed answer without an engine report, counted with the engine's tokenizer."""
    tok = getattr(engine, "tokenizer", None)
    if tok is None:
        return {}
    completion = len(tok(text, add_special_tokens=False)["input_ids"]) if text else 0
    prompt = sum(len(tok(m["content"], add_special_tokens=False)["input_ids"]) for m in messages)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


async def _sse(engine, gate, job, rid, created, model, usage: bool = False):
    """Stream an engine's pieces as SSE; a client that goes away stops the generation."""
    messages, sampling, adapter, template = job
    queue: asyncio.Queue = asyncio.Queue()
    loop = asyncio.get_running_loop()
    gone = threading.Event()
    done: list = []

    def produce():
        try:
            with gate:
                pieces = engine.stream(messages, sampling, adapter, template=template)
                try:
                    while not gone.is_set():
                        try:
                            piece = next(pieces)
                        except StopIteration as end:
                            done.append(end.value)  # the engine's Completion: real token counts
                            break
                        loop.call_soon_threadsafe(queue.put_nowait, ("text", piece))
                finally:
                    pieces.close()  # stops the engine's work for this request
        except Exception as exc:  # noqa: BLE001 - sent to the client as an error event
            message = exc.one_line() if isinstance(exc, StudioError) else f"{type(exc).__name__}: {exc}"
            loop.call_soon_threadsafe(queue.put_nowait, ("error", message))
        loop.call_soon_threadsafe(queue.put_nowait, ("end", None))

    threading.Thread(target=produce, daemon=True).start()
    text = []
    try:
        yield _chunk(rid, created, model, {"role": "assistant", "content": ""})
        while True:
            kind, value = await queue.get()
            if kind == "end":
                break
            if kind == "error":
                yield f"data: {json.dumps({'error': {'message': value}})}\n\n"
                break
            text.append(value)
            yield _chunk(rid, created, model, {"content": value})
        yield _chunk(rid, created, model, {}, "stop")
        if usage:
            counts = _counts(done[0]) if done and done[0] is not None else \
                await asyncio.to_thread(_usage, engine, messages, "".join(text))
            body = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model, "choices": [],
                    "usage": counts}
            yield f"data: {json.dumps(body)}\n\n"
        yield "data: [DONE]\n\n"
    finally:
        gone.set()
