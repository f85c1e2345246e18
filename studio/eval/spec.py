"""EVAL.yaml: what to evaluate, on which data, with which engine and (optionally) which judge.

    model: smollm2-135m-instruct          # the base
    adapter: runs/identity/adapter         # the tuned side: an adapter of that base...
    # tuned_model: merged/identity-merged  # ...or a merged / fully fine-tuned model folder
    data: {path: my-dataset@v2, split: validation, limit: 50}
    engine: auto                           # vllm when installed, else transformers
    sampling: {max_tokens: 128}
    judge: {kind: endpoint, url: http://127.0.0.1:8000/v1, model: judge-model}   # key: --judge-key-env
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..config import Strict, opt
from ..infer.base import Sampling


class EvalData(Strict):
    path: str = opt(..., "Validation/test data: a file, or a saved dataset name[@vN]", "验证/测试数据：文件或已保存的数据集")
    format: str = opt("auto", "Data format (auto-detected)", "数据格式（自动识别）")
    columns: dict[str, str] = opt({}, "Column mapping {file column: format field}", "列映射")
    split: Literal["auto", "validation", "all"] = opt(
        "auto", "auto: a saved dataset's held-out split when it has one, else all rows",
        "auto：已保存数据集有验证集时用验证集，否则用全部行")
    limit: int = opt(0, "Evaluate at most this many rows (0: all)", "最多评估的行数（0 表示全部）", ge=0)
    system_prompt: str | None = opt(None, "System prompt added to every example", "每条样本的系统提示")


class JudgeConfig(Strict):
    kind: Literal["none", "endpoint", "model"] = opt(
        "none", "none; an OpenAI-compatible endpoint; or a local model run in the job",
        "none；OpenAI 兼容接口；或在任务中运行的本地模型")
    url: str | None = opt(None, "Endpoint URL (…/v1)", "接口地址（…/v1）")
    model: str | None = opt(None, "Judge model name (endpoint) or model name/folder (local)", "评判模型")
    max_tokens: int = opt(8, "Tokens the judge may answer with", "评判回答的最大 token 数", ge=1, le=256)


class EvalSpec(Strict):
    name: str | None = opt(None, "Name of the evaluation (its folder under runs/)", "评估名称")
    model: str = opt("smollm2-135m-instruct", "Base model", "基座模型")
    adapter: str | None = opt(None, "Tuned side: an adapter folder of the base", "微调方：基座的适配器目录")
    tuned_model: str | None = opt(None, "Tuned side: a merged / full model folder", "微调方：合并或全量模型目录")
    compare_base: bool = opt(True, "Also run the base model, for per-example differences", "同时运行基座模型以逐条对比")
    engine: Literal["auto", "vllm", "transformers"] = opt("auto", "Inference engine", "推理引擎")
    chat_template: str | None = opt(None, "Chat template preset (empty: the model's own)", "对话模板（留空用模型自带）")
    data: EvalData
    sampling: Sampling = Field(default_factory=lambda: Sampling(max_tokens=128))
    loss: bool = opt(True, "Loss and perplexity of the references (a transformers forward pass)",
                     "参考答案的损失与困惑度（transformers 前向计算）")
    batch_size: int = opt(16, "Examples per generation batch", "每批生成的样本数", ge=1, le=512)
    judge: JudgeConfig = Field(default_factory=JudgeConfig)

    @model_validator(mode="after")
    def _one_tuned_side(self):
        if self.adapter and self.tuned_model:
            raise ValueError("give either adapter or tuned_model, not both")
        if self.adapter:  # an artifact that cannot run here is refused before the job starts
            from ..merge.artifacts import require

            require(self.adapter, "vllm" if self.engine == "vllm" else "eval")
        if self.judge.kind == "endpoint" and not (self.judge.url and self.judge.model):
            raise ValueError("judge.kind endpoint needs judge.url and judge.model")
        if self.judge.kind == "model" and not self.judge.model:
            raise ValueError("judge.kind model needs judge.model (a model name or folder)")
        return self

    def sides(self) -> list[tuple[str, str, str | None]]:
        """(label, model, adapter) for each side to run: base first, then tuned."""
        out = [("base", self.model, None)] if self.compare_base or not (self.adapter or self.tuned_model) else []
        if self.adapter:
            out.append(("tuned", self.model, self.adapter))
        elif self.tuned_model:
            out.append(("tuned", self.tuned_model, None))
        return out


def build(raw: dict, source: str = "EVAL.yaml", overrides: list[str] | tuple[str, ...] = ()) -> EvalSpec:
    """The eval job's typed spec from YAML plus --set overrides (the same rules as `studio train`)."""
    from ..spec import build_typed

    return build_typed(EvalSpec, raw, overrides, source, command="eval")
