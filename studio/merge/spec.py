"""MERGE.yaml: the merge job's typed spec, built by the Merge tab and `studio merge` through `merge_spec`.

    mode: merge                      # merge: fold one artifact into its base
    adapter: runs/identity/adapter
    # mode: combine                  # several LoRA adapters -> one (peft), then merged
    # adapters: [runs/a/adapter, runs/b/adapter]
    # combination: ties
    # weights: [0.7, 0.3]
    # mode: soup                     # average whole models of one base
    # models: [merged/a, merged/b]
    dtype: float32
    name: identity-merged            # folder under merged/
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import model_validator

from ..config import Strict, opt
from ..errors import StudioError

COMBINATIONS = ("linear", "cat", "ties", "dare_linear", "dare_ties", "svd", "magnitude_prune")
NEEDS_DENSITY = ("ties", "dare_linear", "dare_ties", "magnitude_prune")
DTYPES = ("float32", "bfloat16", "float16")


class MergeSpec(Strict):
    mode: Literal["merge", "combine", "soup"] = opt(
        "merge", "merge: fold one artifact into its base; combine: several LoRA adapters into one; soup: average "
                 "whole models", "merge：把一个产物合并进基座；combine：把多个 LoRA 适配器合成一个；soup：平均多个完整模型")
    adapter: str | None = opt(None, "The artifact to merge (mode merge): an adapter/ folder of a finished run",
                              "要合并的产物（merge 模式）：已完成运行的 adapter/ 文件夹")
    adapters: list[str] = opt([], "LoRA adapters to combine (mode combine)", "要组合的 LoRA 适配器（combine 模式）")
    models: list[str] = opt([], "Whole models to average (mode soup)", "要平均的完整模型（soup 模式）")
    weights: list[float] | None = opt(None, "One weight per source (combine, soup; empty: equal)",
                                      "每个来源一个权重（combine、soup；留空表示相等）")
    combination: Literal[COMBINATIONS] = opt("linear", "How peft combines the adapters", "peft 组合适配器的方式")
    density: float = opt(0.5, "Kept fraction for ties / dare / magnitude_prune", "ties / dare / magnitude_prune 保留的比例",
                         gt=0, le=1)
    dtype: Literal[DTYPES] = opt("float32", "Precision of the saved weights", "保存权重的精度")
    base_model: str | None = opt(None, "Base model (default: the one the artifact names)", "基座模型（默认取产物记录的）",
                                 advanced=True)
    name: str | None = opt(None, "Folder name under merged/", "merged/ 下的文件夹名")

    @model_validator(mode="after")
    def _sources(self) -> "MergeSpec":
        """Each mode names its own sources; an artifact that cannot merge is refused here, before a job."""
        if self.mode == "merge":
            if not self.adapter:
                raise StudioError(key="merge.no_adapter")
            from .artifacts import require

            require(self.adapter, "merge")
            return self
        sources = self.adapters if self.mode == "combine" else self.models
        if len(sources) < 2:
            raise StudioError(key="merge.too_few_sources", mode=self.mode)
        if self.weights is not None and len(self.weights) != len(sources):
            raise StudioError(key="merge.weights_count", weights=len(self.weights), sources=len(sources))
        return self

    def sources(self) -> list[str]:
        return [self.adapter] if self.mode == "merge" else list(self.adapters if self.mode == "combine" else
                                                                self.models)


def merge_spec(sources: list[str], mode: str = "merge", weights: list[float] | None = None,
               combination: str = "linear", density: float = 0.5, dtype: str = "float32",
               base_model: str | None = None, name: str | None = None) -> MergeSpec:
    """The one builder of merge specs (Merge tab and `studio merge`); paths made absolute for the worker."""
    paths = [str(Path(s).expanduser().resolve()) for s in sources if s]
    if not paths:
        raise StudioError(key="merge.no_adapter")
    if mode == "merge" and len(paths) > 1:
        mode = "combine"
    raw: dict = {"mode": mode, "weights": weights or None, "dtype": dtype, "base_model": base_model or None,
                 "name": name or None}
    if mode == "merge":
        raw["adapter"] = paths[0]
    elif mode == "combine":
        raw.update(adapters=paths, combination=combination, density=float(density))
    else:
        raw["models"] = paths
    from ..spec import build_typed

    return build_typed(MergeSpec, raw, source="merge", command="merge")
