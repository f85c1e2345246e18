"""SERVE.yaml: the serve job's typed spec, built by the Chat tab and `studio serve` through `serve_spec`.

    model: smollm2-135m-instruct         # a name or a model folder (a merged or fully fine-tuned model)
    adapters: {identity: runs/identity/adapter}
    engine: auto                         # vllm when installed and every adapter is LoRA, else transformers
    chat_template: null
    options: {max_model_len: 2048}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import model_validator

from ..config import Strict, opt

ENGINE_OPTIONS = ("dtype", "max_model_len", "enforce_eager", "gpu_memory_utilization", "trust_remote_code", "seed")


class ServeSpec(Strict):
    model: str = opt("smollm2-135m-instruct", "Model to serve: a name or a model folder", "要服务的模型：名称或模型文件夹")
    adapters: dict[str, str] = opt({}, "Artifacts served on top of the model, as {name: folder}",
                                   "在模型之上服务的产物，{名称: 文件夹}")
    engine: Literal["auto", "vllm", "transformers"] = opt("auto", "Inference engine", "推理引擎")
    chat_template: str | None = opt(None, "Chat template preset (empty: the model's own)", "对话模板（留空用模型自带）")
    options: dict[str, Any] = opt({}, f"Engine options: {', '.join(ENGINE_OPTIONS)}",
                                  f"引擎参数：{', '.join(ENGINE_OPTIONS)}", advanced=True)

    @model_validator(mode="after")
    def _usable(self) -> "ServeSpec":
        """Every artifact must run on the chosen engine: refused here, before an engine starts."""
        from ..merge.artifacts import require

        for folder in self.adapters.values():
            require(folder, "vllm" if self.engine == "vllm" else "serve")
        unknown = sorted(set(self.options) - set(ENGINE_OPTIONS))
        if unknown:
            raise ValueError(f"unknown engine option(s) {', '.join(unknown)}; valid: {', '.join(ENGINE_OPTIONS)}")
        return self


def serve_spec(model: str, adapters: dict[str, str] | None = None, engine: str = "auto",
               chat_template: str | None = None, options: dict | None = None,
               overrides: list[str] | tuple[str, ...] = ()) -> ServeSpec:
    """The one builder of serve specs (Chat tab, `studio serve`, eval); paths made absolute for the worker."""
    from ..spec import build_typed

    model = str(Path(model).expanduser().resolve()) if model and Path(model).expanduser().exists() else model
    raw = {"model": model, "adapters": {k: str(Path(v).expanduser().resolve()) for k, v in (adapters or {}).items()},
           "engine": engine or "auto", "chat_template": chat_template or None,
           "options": {k: v for k, v in (options or {}).items() if v is not None}}
    return build_typed(ServeSpec, raw, overrides, source="serve", command="serve")
