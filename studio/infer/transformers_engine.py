"""The transformers engine: `generate` on the base model with peft adapters switched per request.

Always available (no vLLM needed); the fallback the Chat tab names when vLLM is not installed. A
mixed batch (one adapter per conversation) uses peft's `adapter_names`, which runs each adapter
on its own rows inside one forward pass. A studio-written artifact (bottleneck adapter, MoE-LoRA,
BitFit, selective or sparse tuning; see `studio.merge.artifacts`) is not a peft adapter: it gets its
own copy of the base with the artifact applied, and a batch that mixes it with others is split.
"""

from __future__ import annotations

import threading
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Iterator

from ..errors import StudioError
from .base import Completion, Sampling, per_item, render

PEFT_BASE = "__base__"  # peft's name for "no adapter" in a mixed batch


class _Stop:
    """A stopping criterion that ends generation once the reader has gone away."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


def _mixable(path: str) -> bool:
    """peft runs several adapters in one batch (`adapter_names`) only for plain LoRA (not DoRA, not prompts)."""
    import json

    cfg = json.loads((Path(path) / "adapter_config.json").read_text(encoding="utf-8"))
    return cfg.get("peft_type") == "LORA" and not cfg.get("use_dora")


class TransformersEngine:
    name = "transformers"
    concurrent = False  # peft's active adapter is global state: one generate at a time

    def __init__(self, model_path: str, device: str = "auto", dtype: str = "auto", trust_remote_code: bool = False,
                 chat_template: str | None = None):
        import torch

        from ..models.loading import load_model, load_tokenizer, pick_device
        from ..models.registry import ModelRef

        ref = ModelRef(str(model_path), Path(model_path), "local")
        self.device = pick_device(device)
        self.tokenizer = load_tokenizer(ref, trust_remote_code)
        self.tokenizer.padding_side = "left"
        self.template = chat_template
        self.model = load_model(ref, dtype, self.device, trust_remote_code)
        self.model.eval()
        self._load = (ref, dtype, trust_remote_code)  # for the base copies of studio-written artifacts
        self._own: dict[str, object] = {}  # name -> base copy with a studio-written artifact applied
        self._unmixable: set[str] = set()  # peft adapters that peft cannot mix in one batch (prompts, DoRA)
        self._adapters: dict[str, str] = {}
        self._lock = threading.Lock()
        self._torch = torch

    # -------------------------------------------------------------- adapters

    def add_adapter(self, name: str, path: str) -> None:
        from peft import PeftModel

        from ..merge import artifacts

        artifacts.require(path, "chat")
        if artifacts.artifact_kind(path) == "tuned":
            self._add_own(name, path)
            return
        with self._lock:
            if name in self._adapters:
                return
            if not self._adapters:
                self.model = PeftModel.from_pretrained(self.model, path, adapter_name=name)
                self.model.eval()
            else:
                self.model.load_adapter(path, adapter_name=name)
            self._adapters[name] = path
            if not _mixable(path):
                self._unmixable.add(name)

    def _add_own(self, name: str, path: str) -> None:
        """A studio-written artifact on its own copy of the base (it is hooks and tensors, not peft)."""
        from ..merge import artifacts
        from ..models.loading import load_model

        ref, dtype, trust = self._load
        with self._lock:
            if name in self._own:
                return
            base = load_model(ref, dtype, self.device, trust)
            self._own[name] = artifacts.read(path).method_entry().load(base, Path(path)).eval()
            self._own_paths = {**getattr(self, "_own_paths", {}), name: path}

    def adapters(self) -> dict[str, str]:
        return {**self._adapters, **getattr(self, "_own_paths", {})}

    def _check(self, names: list[str | None]) -> None:
        for name in names:
            if name is not None and name not in self._adapters and name not in self._own:
                raise StudioError(f"Adapter '{name}' is not loaded in this engine",
                                  f"loaded: {', '.join(self.adapters()) or 'none'}")

    def _pick(self, names: list[str | None]) -> tuple[object, object, dict]:
        """(model, context, generate kwargs) for a batch: a studio artifact's own copy, or the peft model."""
        if names and names[0] in self._own:
            return self._own[names[0]], nullcontext(), {}
        context, extra = self._context(names)
        return self.model, context, extra

    def _context(self, names: list[str | None]) -> tuple[object, dict]:
        """How to run a batch: disable the adapters, pick one, or name one per row (peft mixed batch)."""
        if not self._adapters:
            return nullcontext(), {}
        if len(set(names)) > 1:
            return nullcontext(), {"adapter_names": [n or PEFT_BASE for n in names]}
        if names[0] is None:
            return self.model.disable_adapter(), {}
        self.model.set_adapter(names[0])
        return nullcontext(), {}

    # -------------------------------------------------------------- generation

    def _kwargs(self, sampling: Sampling) -> dict:
        kw = {"max_new_tokens": sampling.max_tokens, "repetition_penalty": sampling.repetition_penalty,
              "pad_token_id": self.tokenizer.pad_token_id, "min_new_tokens": min(sampling.min_tokens,
                                                                                sampling.max_tokens) or None}
        if sampling.temperature > 0:
            kw.update(do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p)
            if sampling.top_k:
                kw["top_k"] = sampling.top_k
        else:
            kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kw

    def _encode(self, conversations: list[list[dict]], template: str | None):
        texts = [render(self.tokenizer, c, template or self.template) for c in conversations]
        return self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.model.device)

    def generate(self, conversations: list[list[dict]], sampling: Sampling, adapter=None,
                 template: str | None = None) -> list[Completion]:
        names = per_item(adapter, len(conversations))
        self._check(names)
        if len(set(names)) > 1 and any(n in self._own or n in self._unmixable for n in names):  # one group each
            out: list = [None] * len(conversations)
            for name in dict.fromkeys(names):
                rows = [i for i, n in enumerate(names) if n == name]
                for i, done in zip(rows, self.generate([conversations[i] for i in rows], sampling, name, template)):
                    out[i] = done
            return out
        with self._lock:
            if sampling.seed is not None:
                self._torch.manual_seed(sampling.seed)
            enc = self._encode(conversations, template)
            start = time.perf_counter()
            model, context, extra = self._pick(names)
            with context, self._torch.inference_mode():
                out = model.generate(**enc, **self._kwargs(sampling), **extra)
            total = time.perf_counter() - start
        width = enc["input_ids"].shape[1]
        results = []
        for i, row in enumerate(out):
            new = row[width:]
            n_new = int((new != self.tokenizer.pad_token_id).sum())
            results.append(Completion(self.tokenizer.decode(new, skip_special_tokens=True).strip(),
                                      int(enc["attention_mask"][i].sum()), n_new, None, total))
        return results

    def stream(self, conversation: list[dict], sampling: Sampling, adapter: str | None = None,
               template: str | None = None) -> Iterator[str]:
        """Yield text as it is generated, then return the Completion; closing the iterator stops generating."""
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        names = per_item(adapter, 1)
        self._check(names)
        with self._lock:
            if sampling.seed is not None:
                self._torch.manual_seed(sampling.seed)
            enc = self._encode([conversation], template)
            streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
            stop = threading.Event()
            errors: list[BaseException] = []
            produced: list[int] = []
            start = time.perf_counter()

            def work():
                try:
                    model, context, extra = self._pick(names)
                    with context, self._torch.inference_mode():
                        out = model.generate(**enc, **self._kwargs(sampling), **extra, streamer=streamer,
                                                  stopping_criteria=StoppingCriteriaList([_Stop(stop)]))
                    new = out[0][enc["input_ids"].shape[1]:]
                    produced.append(int((new != self.tokenizer.pad_token_id).sum()))
                except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                    errors.append(exc)
                    streamer.end()

            thread = threading.Thread(target=work, daemon=True)
            thread.start()
            pieces, first = [], None
            try:
                for piece in streamer:
                    if piece:
                        first = first or time.perf_counter() - start
                        pieces.append(piece)
                        yield piece
            finally:
                stop.set()
                thread.join()
            if errors:
                raise errors[0]
            return Completion("".join(pieces).strip(), int(enc["attention_mask"].sum()),
                              produced[0] if produced else 0, first, time.perf_counter() - start)

    def close(self) -> None:
        self.model = None
        self._own.clear()
