"""The transformers engine: `generate` on the base model with peft adapters switched per request.

Always available (no vLLM needed); the fallback the Chat tab names when vLLM is not installed.
"""

from __future__ import annotations

import threading
import time
from contextlib import nullcontext
from typing import Iterator

from .base import BASE, Completion, Sampling


class TransformersEngine:
    name = "transformers"

    def __init__(self, model_path: str, device: str = "auto", dtype: str = "auto", trust_remote_code: bool = False):
        import torch

        from ..models.loading import pick_device, torch_dtype
        from ..models.registry import ModelRef
        from ..models.loading import load_model, load_tokenizer

        ref = ModelRef(str(model_path), __import__("pathlib").Path(model_path), "local")
        self.device = pick_device(device)
        self.tokenizer = load_tokenizer(ref, trust_remote_code)
        self.tokenizer.padding_side = "left"
        self.model = load_model(ref, dtype, self.device, trust_remote_code)
        self.model.eval()
        self._dtype = torch_dtype(dtype, self.device)
        self._adapters: dict[str, str] = {}
        self._lock = threading.Lock()  # one generate at a time: peft's active adapter is global state
        self._torch = torch

    # -------------------------------------------------------------- adapters

    def add_adapter(self, name: str, path: str) -> None:
        from peft import PeftModel

        with self._lock:
            if name in self._adapters:
                return
            if not self._adapters:
                self.model = PeftModel.from_pretrained(self.model, path, adapter_name=name)
                self.model.eval()
            else:
                self.model.load_adapter(path, adapter_name=name)
            self._adapters[name] = path

    def adapters(self) -> dict[str, str]:
        return dict(self._adapters)

    def _context(self, adapter: str | None):
        if not self._adapters:
            return nullcontext()
        if adapter in (None, BASE):
            return self.model.disable_adapter()
        if adapter not in self._adapters:
            raise KeyError(f"unknown adapter '{adapter}'")
        self.model.set_adapter(adapter)
        return nullcontext()

    # -------------------------------------------------------------- generation

    def _kwargs(self, sampling: Sampling) -> dict:
        kw = {"max_new_tokens": sampling.max_tokens, "repetition_penalty": sampling.repetition_penalty,
              "pad_token_id": self.tokenizer.pad_token_id}
        if sampling.temperature > 0:
            kw.update(do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p)
            if sampling.top_k:
                kw["top_k"] = sampling.top_k
        else:
            kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kw

    def _encode(self, conversations: list[list[dict]]):
        texts = [self.tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True)
                 for c in conversations]
        return self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.model.device)

    def generate(self, conversations: list[list[dict]], sampling: Sampling, adapter: str | None = None) -> list[Completion]:
        with self._lock:
            if sampling.seed is not None:
                self._torch.manual_seed(sampling.seed)
            enc = self._encode(conversations)
            start = time.perf_counter()
            with self._context(adapter), self._torch.inference_mode():
                out = self.model.generate(**enc, **self._kwargs(sampling))
            total = time.perf_counter() - start
        width = enc["input_ids"].shape[1]
        results = []
        for i, row in enumerate(out):
            new = row[width:]
            n_new = int((new != self.tokenizer.pad_token_id).sum())
            results.append(Completion(self.tokenizer.decode(new, skip_special_tokens=True).strip(),
                                      int(enc["attention_mask"][i].sum()), n_new, None, total))
        return results

    def stream(self, conversation: list[dict], sampling: Sampling, adapter: str | None = None) -> Iterator[str]:
        from transformers import TextIteratorStreamer

        with self._lock:
            if sampling.seed is not None:
                self._torch.manual_seed(sampling.seed)
            enc = self._encode([conversation])
            streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
            errors: list[BaseException] = []

            def work():
                try:
                    with self._context(adapter), self._torch.inference_mode():
                        self.model.generate(**enc, **self._kwargs(sampling), streamer=streamer)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                    errors.append(exc)
                    streamer.end()

            thread = threading.Thread(target=work, daemon=True)
            thread.start()
            for piece in streamer:
                if piece:
                    yield piece
            thread.join()
            if errors:
                raise errors[0]

    def close(self) -> None:
        self.model = None
