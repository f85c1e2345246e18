"""The vLLM engine: vLLM's `AsyncLLM` (continuous batching, LoRA per request) behind the engine interface.

`vllm-cpu` on machines without CUDA, `vllm` otherwise. The engine lives on its own event loop in a
background thread so that both the synchronous callers (evaluation, CLI, benchmark) and the
server's request threads can use it at once: every request is a coroutine on that loop, so
concurrent requests (several chat panes, a batch) are batched by vLLM's scheduler. vLLM starts
its engine-core process as a child of this process (same process group), so cancelling the serve
job's group stops it too.

Prompts are rendered here with the model's tokenizer (its own chat template or a named one) and
handed to vLLM as token ids, so both engines render conversations identically.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import queue
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator

from ..errors import StudioError
from .base import Completion, Sampling, adapter_rank, per_item, render
from .vllm_cpu_lora import ENV as GROUPED_ENV

SMALL_MACHINE_CPUS = 4  # up to here vLLM-CPU computes on every core (see cpu_defaults)
LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)  # the ranks vLLM accepts for max_lora_rank


def cpu_defaults(environ=os.environ) -> None:
    """vLLM-CPU settings measured on a 2-core machine (see bench/inference.py); the user's env wins."""
    environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB (whole numbers only); 1 holds ~45k tokens of SmolLM2
    # vLLM-CPU keeps one core for its scheduler; on a small machine that halves the compute. Computing on
    # every core measured faster here anyway (2 cores, batch 8: 284 vs 262 tok/s).
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if 1 < len(cpus) <= SMALL_MACHINE_CPUS:
        contiguous = cpus == list(range(cpus[0], cpus[-1] + 1))
        environ.setdefault("VLLM_CPU_OMP_THREADS_BIND",
                           f"{cpus[0]}-{cpus[-1]}" if contiguous else ",".join(map(str, cpus)))


def grouped_plugin_registered() -> bool:
    """Whether our `vllm.general_plugins` entry point is installed (it is with `pip install -e .`)."""
    from importlib.metadata import entry_points

    return any(ep.value.startswith("studio.infer.vllm_cpu_lora") for ep in entry_points(group="vllm.general_plugins"))


def on_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def lora_slot_rank(rank: int) -> int:
    for allowed in LORA_RANKS:
        if rank <= allowed:
            return allowed
    raise StudioError(f"LoRA rank {rank} is larger than vLLM supports ({LORA_RANKS[-1]})",
                      "serve this adapter with the transformers engine, or merge it first")


class VllmEngine:
    name = "vllm"
    concurrent = True

    def __init__(self, model_path: str, dtype: str = "auto", max_model_len: int = 2048, enable_lora: bool = True,
                 max_lora_rank: int = 16, max_loras: int = 4, chat_template: str | None = None,
                 enforce_eager: bool | None = None, gpu_memory_utilization: float = 0.85,
                 trust_remote_code: bool = False, seed: int = 0, grouped_lora: bool = True):
        from ..models.loading import load_tokenizer
        from ..models.registry import ModelRef

        cuda = on_cuda()
        # grouped LoRA ops on vLLM-CPU: swapped in by our vLLM plugin in each engine process
        self.grouped_lora = bool(enable_lora and grouped_lora and not cuda and grouped_plugin_registered())
        if not cuda:
            cpu_defaults()
            os.environ[GROUPED_ENV] = "1" if self.grouped_lora else "0"
        self.model_path = str(model_path)
        self.template = chat_template
        self.tokenizer = load_tokenizer(ModelRef(self.model_path, Path(self.model_path), "local"), trust_remote_code)
        self.lora = enable_lora
        self.max_loras = max(1, max_loras)
        self.max_lora_rank = lora_slot_rank(max_lora_rank) if enable_lora else 0
        self._adapters: dict[str, object] = {}  # name -> LoRARequest
        self._ids = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="vllm-loop", daemon=True)
        self._thread.start()
        args = dict(model=self.model_path, tokenizer=self.model_path, max_model_len=max_model_len, seed=seed,
                    dtype=("bfloat16" if not cuda and dtype == "auto" else dtype),
                    trust_remote_code=trust_remote_code, enable_lora=enable_lora,
                    # on CPU, torch.compile costs about a minute per start for little gain on small models
                    enforce_eager=(not cuda) if enforce_eager is None else enforce_eager)
        if enable_lora:
            args.update(max_lora_rank=self.max_lora_rank, max_loras=self.max_loras)
        if cuda:
            args["gpu_memory_utilization"] = gpu_memory_utilization
        try:
            self.engine = self._run(self._start(args))
        except BaseException:
            self._stop_loop()
            raise

    # -------------------------------------------------------------- the event loop

    async def _start(self, args: dict):
        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        return AsyncLLM.from_engine_args(AsyncEngineArgs(**args), start_engine_loop=True)

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    @staticmethod
    async def _shutdown(engine) -> None:
        engine.shutdown()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    # -------------------------------------------------------------- adapters

    def add_adapter(self, name: str, path: str) -> None:
        """Load an adapter into the engine now (not at its first request); the base stays loaded."""
        from vllm.lora.request import LoRARequest

        if not self.lora:
            raise StudioError("This vLLM engine was started without LoRA support",
                              "restart the engine with the adapter chosen")
        if name in self._adapters:
            return
        from ..merge.artifacts import require

        require(path, "vllm")  # a studio-written artifact or a non-LoRA peft adapter: said, before a slot is used
        if not self.grouped_lora and len(self._adapters) >= self.max_loras - 1:
            # vLLM-CPU's own ops read the last slot for base rows: it must stay empty
            raise StudioError(f"No free adapter slot for '{name}' ({len(self._adapters)} loaded)",
                              "restart the engine with all the adapters you want chosen")
        rank = adapter_rank(path)
        if rank > self.max_lora_rank:
            raise StudioError(f"Adapter '{name}' has rank {rank}, above this engine's limit of {self.max_lora_rank}",
                              "restart the engine with this adapter chosen, so its rank is reserved")
        request = LoRARequest(name, next(self._ids), str(Path(path).resolve()))
        self._run(self.engine.add_lora(request))
        self._adapters[name] = request

    def adapters(self) -> dict[str, str]:
        return {name: req.lora_path for name, req in self._adapters.items()}

    def _lora(self, name: str | None):
        if name is None:
            return None
        if name not in self._adapters:
            raise StudioError(f"Adapter '{name}' is not loaded in this engine",
                              f"loaded: {', '.join(self._adapters) or 'none'}")
        return self._adapters[name]

    # -------------------------------------------------------------- generation

    def _params(self, sampling: Sampling):
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        return SamplingParams(max_tokens=sampling.max_tokens, temperature=sampling.temperature,
                              top_p=sampling.top_p, top_k=sampling.top_k or 0,
                              repetition_penalty=sampling.repetition_penalty, seed=sampling.seed,
                              min_tokens=min(sampling.min_tokens, sampling.max_tokens),
                              output_kind=RequestOutputKind.DELTA, skip_special_tokens=True)

    def _prompt(self, conversation: list[dict], template: str | None) -> dict:
        text = render(self.tokenizer, conversation, template or self.template)
        return {"prompt_token_ids": self.tokenizer(text, add_special_tokens=False)["input_ids"]}

    async def _pump(self, prompt: dict, params, lora, emit) -> Completion:
        """Run one request, handing each new piece of text to `emit`; returns the whole completion."""
        start = time.perf_counter()
        ttft, pieces, n_out = None, [], 0
        async for out in self.engine.generate(prompt, params, uuid.uuid4().hex, lora_request=lora):
            piece = out.outputs[0].text
            n_out += len(out.outputs[0].token_ids)
            if piece:
                if ttft is None:
                    ttft = time.perf_counter() - start
                pieces.append(piece)
                emit(piece)
        return Completion("".join(pieces).strip(), len(prompt["prompt_token_ids"]), n_out, ttft,
                          time.perf_counter() - start)

    async def _batch(self, prompts: list[dict], params, loras: list) -> list[Completion]:
        return list(await asyncio.gather(*[self._pump(p, params, lora, lambda _p: None)
                                           for p, lora in zip(prompts, loras)]))

    def generate(self, conversations: list[list[dict]], sampling: Sampling, adapter=None,
                 template: str | None = None) -> list[Completion]:
        loras = [self._lora(n) for n in per_item(adapter, len(conversations))]
        prompts = [self._prompt(c, template) for c in conversations]
        return self._run(self._batch(prompts, self._params(sampling), loras))

    def stream(self, conversation: list[dict], sampling: Sampling, adapter: str | None = None,
               template: str | None = None) -> Iterator[str]:
        """Yield text as vLLM produces it, then return the Completion (token counts, timings).

        Closing the iterator early aborts the request in vLLM.
        """
        lora = self._lora(per_item(adapter, 1)[0])
        prompt = self._prompt(conversation, template)
        pieces: queue.Queue = queue.Queue()
        future = asyncio.run_coroutine_threadsafe(
            self._pump(prompt, self._params(sampling), lora, pieces.put), self._loop)
        future.add_done_callback(lambda _f: pieces.put(None))
        try:
            while True:
                piece = pieces.get()
                if piece is None:
                    break
                yield piece
            return future.result()  # raises what vLLM raised
        finally:
            if not future.done():
                future.cancel()  # cancels the coroutine on the loop: AsyncLLM aborts the request

    def health(self) -> str | None:
        """None while the engine works; why it stopped once vLLM's engine core has died."""
        engine = self.engine
        if engine is not None and engine.errored:
            return f"{type(engine.dead_error).__name__}: {engine.dead_error}"
        return None

    def close(self) -> None:
        engine, self.engine = getattr(self, "engine", None), None
        if engine is not None and self._thread.is_alive():
            self._run(self._shutdown(engine))  # on the loop: shutdown cancels the loop's output task
        if self._thread.is_alive():
            self._stop_loop()
