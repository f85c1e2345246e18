"""An OpenAI-compatible HTTP server over any engine (chat completions, streaming, models, adapters).

The Chat tab, evaluation and any OpenAI client talk to this, whichever engine is behind it. It
binds to 127.0.0.1 and requires a bearer token that only the workspace owner can read.
"""


import asyncio
import json
import threading
import time
import uuid

from .base import BASE, Sampling


def _sampling(body: dict) -> Sampling:
    known = {k: body[k] for k in ("temperature", "top_p", "top_k", "repetition_penalty", "seed") if k in body
             and body[k] is not None}
    known["max_tokens"] = body.get("max_tokens") or body.get("max_completion_tokens") or 256
    return Sampling(**known)


def build_app(engine, token: str, base_name: str):
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.responses import JSONResponse, StreamingResponse

    app = FastAPI(title="Tune Studio inference", docs_url=None, redoc_url=None, openapi_url=None)
    gate = threading.Lock()

    @app.middleware("http")
    async def require_token(request: Request, call_next):
        if request.url.path != "/health" and request.headers.get("authorization") != f"Bearer {token}":
            return JSONResponse({"error": {"message": "missing or wrong API key"}}, status_code=401)
        return await call_next(request)

    @app.get("/health")
    async def health():
        return {"status": "ok", "engine": engine.name}

    @app.get("/v1/models")
    async def models():
        names = [BASE] + list(engine.adapters())
        return {"object": "list", "data": [{"id": n, "object": "model", "owned_by": "tune-studio",
                                            "root": base_name} for n in names]}

    @app.post("/v1/load_lora_adapter")
    async def load_adapter(request: Request):
        body = await request.json()
        name, path = body.get("lora_name"), body.get("lora_path")
        if not name or not path:
            raise HTTPException(400, "lora_name and lora_path are required")
        await asyncio.to_thread(engine.add_adapter, name, path)
        return {"loaded": name}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        model = body.get("model") or BASE
        adapter = None if model in (BASE, base_name) else model
        if adapter and adapter not in engine.adapters():
            raise HTTPException(404, f"model '{model}' is not served; load it first")
        messages = body.get("messages") or []
        sampling = _sampling(body)
        rid = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        created = int(time.time())
        if body.get("stream"):
            return StreamingResponse(_sse(engine, gate, messages, sampling, adapter, rid, created, model),
                                     media_type="text/event-stream")
        result = (await asyncio.to_thread(_locked_generate, engine, gate, messages, sampling, adapter))
        return {"id": rid, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": result.text},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
                          "total_tokens": result.prompt_tokens + result.completion_tokens}}

    return app


def _locked_generate(engine, gate, messages, sampling, adapter):
    with gate:
        return engine.generate([messages], sampling, adapter)[0]


async def _sse(engine, gate, messages, sampling, adapter, rid, created, model):
    queue: asyncio.Queue = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def produce():
        try:
            with gate:
                for piece in engine.stream(messages, sampling, adapter):
                    loop.call_soon_threadsafe(queue.put_nowait, ("text", piece))
        except Exception as exc:  # noqa: BLE001 - sent to the client as an error event
            loop.call_soon_threadsafe(queue.put_nowait, ("error", str(exc)))
        loop.call_soon_threadsafe(queue.put_nowait, ("end", None))

    threading.Thread(target=produce, daemon=True).start()
    while True:
        kind, value = await queue.get()
        if kind == "end":
            break
        if kind == "error":
            yield f"data: {json.dumps({'error': {'message': value}})}\n\n"
            break
        chunk = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
                 "choices": [{"index": 0, "delta": {"content": value}, "finish_reason": None}]}
        yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
    done = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    yield f"data: {json.dumps(done)}\n\n"
    yield "data: [DONE]\n\n"
