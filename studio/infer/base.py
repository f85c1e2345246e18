"""The engine interface every backend implements, and the sampling settings they share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol

from ..config import Strict, opt

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


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    ttft_s: float | None = None
    total_s: float | None = None


class Engine(Protocol):
    name: str

    def generate(self, conversations: list[list[dict]], sampling: Sampling,
                 adapter: str | None = None) -> list[Completion]: ...

    def stream(self, conversation: list[dict], sampling: Sampling, adapter: str | None = None) -> Iterator[str]: ...

    def add_adapter(self, name: str, path: str) -> None: ...

    def adapters(self) -> dict[str, str]: ...

    def close(self) -> None: ...
