"""The engine interface every backend implements, and the sampling settings they share.

Engines render conversations with the model's own chat template, or a named one from
`studio.models.templates` when the caller asks (a base model without a template, or comparing
templates). `adapter` is one name for the whole batch, or a list with one name per conversation
(a mixed batch; `None` / "base" means no adapter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol

from ..config import Strict, opt
from ..errors import StudioError

BASE = "base"  # the model name that means "no adapter"


class Sampling(Strict):
    temperature: float = opt(0.0, "Randomness (0: always the most likely token)", "随机性（0 表示总选最可能的词）",
                             ge=0, le=2)
    top_p: float = opt(1.0, "Nucleus sampling: keep the smallest set of tokens with this probability",
                       "核采样概率阈值", gt=0, le=1)
    top_k: int = opt(0, "Keep only the k most likely tokens (0: off)", "只保留概率最高的 k 个词（0 关闭）", ge=0)
    max_tokens: int = opt(256, "Longest answer in tokens", "回答的最大 token 数", ge=1, le=8192)
    repetition_penalty: float = opt(1.0, "Penalty for repeating tokens (1: none)", "重复惩罚（1 表示不惩罚）",
                                    ge=0.5, le=2)
    seed: int | None = opt(None, "Random seed for sampling", "采样随机种子")
    min_tokens: int = opt(0, "Generate at least this many tokens (benchmarks; 0: stop when the model ends)",
                          "至少生成的 token 数（用于测速；0 表示模型结束即停）", ge=0, advanced=True)


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    ttft_s: float | None = None
    total_s: float | None = None


class Engine(Protocol):
    name: str
    # True: requests may be submitted from many threads at once and are batched by the engine
    concurrent: bool

    def generate(self, conversations: list[list[dict]], sampling: Sampling, adapter=None,
                 template: str | None = None) -> list[Completion]: ...

    def stream(self, conversation: list[dict], sampling: Sampling, adapter: str | None = None,
               template: str | None = None) -> Iterator[str]: ...

    def add_adapter(self, name: str, path: str) -> None: ...

    def adapters(self) -> dict[str, str]: ...

    def close(self) -> None: ...


def per_item(adapter, n: int) -> list[str | None]:
    """One adapter name (or None for the base) per conversation."""
    if adapter is None or isinstance(adapter, str):
        names = [adapter] * n
    else:
        names = list(adapter)
        if len(names) != n:
            raise ValueError(f"{len(names)} adapter names for {n} conversations")
    return [None if a in (None, "", BASE) else a for a in names]


def render(tokenizer, conversation: list[dict], template: str | None = None) -> str:
    """The prompt text for a conversation: the tokenizer's template, or a named one."""
    from ..models.templates import TEMPLATES, named_template

    chosen = named_template(template) if template else None
    if chosen is None and not getattr(tokenizer, "chat_template", None):
        raise StudioError(key="infer.no_chat_template", names=", ".join(TEMPLATES))
    # the training templates mark assistant turns with {% generation %}; rendering ignores the marks
    return tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True,
                                         chat_template=chosen)


def adapter_rank(path: str) -> int:
    """The LoRA rank stored in an adapter folder (0 when it is not a LoRA adapter)."""
    import json
    from pathlib import Path

    cfg = Path(path) / "adapter_config.json"
    if not cfg.is_file():
        from ..merge.artifacts import require

        require(path, "chat")  # a studio-written artifact (no LoRA slot) passes; anything else says why
        return 0
    data = json.loads(cfg.read_text(encoding="utf-8"))
    ranks = [int(data.get("r") or 0)] + [int(v) for v in (data.get("rank_pattern") or {}).values()]
    return max(ranks)
