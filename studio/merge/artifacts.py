"""Reading a trained artifact the way its method wrote it, through the methods registry.

A run's artifact folder holds `studio_run.json` naming its base model and method;
`REGISTRY.get(method).load(base_model, folder)` gives the tuned model (a PeftModel for the peft
methods, the base with the tuned tensors applied for the others) and `method.merge(model)` folds it
into plain weights (or refuses, for methods that are not a weight change). A bare peft folder
(adapter_config.json only) counts as LoRA.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import StudioError

RUN_INFO = "studio_run.json"


@dataclass
class Artifact:
    folder: Path
    base_model: str
    method: str
    method_args: dict

    def method_entry(self):
        from ..methods import REGISTRY

        return REGISTRY.get(self.method)

    def method_config(self):
        return self.method_entry().config.model_validate(self.method_args)


def read(folder: str | Path) -> Artifact:
    folder = Path(folder)
    info_path, peft_cfg = folder / RUN_INFO, folder / "adapter_config.json"
    if info_path.is_file():
        info = json.loads(info_path.read_text(encoding="utf-8"))
        args = info.get("method_args")
        if args is None:
            args = _run_spec(folder).get("method_args") or {}
        return Artifact(folder, info["base_model"], info["method"], dict(args))
    if peft_cfg.is_file():
        cfg = json.loads(peft_cfg.read_text(encoding="utf-8"))
        base = cfg.get("base_model_name_or_path") or ""
        if not base:
            raise StudioError(f"{folder}: adapter_config.json does not name its base model",
                              "pass the base model explicitly (--base)")
        return Artifact(folder, base, "lora", {})
    raise StudioError(f"{folder} is not a trained artifact (no {RUN_INFO} or adapter_config.json)",
                      "pick the adapter/ (or model/) folder of a finished training run")


def _run_spec(folder: Path) -> dict:
    """The run's spec (its job.yaml beside the artifact folder), for the method's options."""
    job = folder.parent / "job.yaml"
    if not job.is_file():
        return {}
    try:
        return (yaml.safe_load(job.read_text(encoding="utf-8")) or {}).get("spec") or {}
    except yaml.YAMLError:
        return {}


def is_peft_lora(folder: str | Path) -> bool:
    cfg = Path(folder) / "adapter_config.json"
    if not cfg.is_file():
        return False
    return json.loads(cfg.read_text(encoding="utf-8")).get("peft_type") == "LORA"


def quantized_load_kwargs(art: Artifact) -> dict:
    """How the method loaded the base for training (a quantisation config), on the CPU."""
    return art.method_entry().load_kwargs(art.method_config(), "cpu")


def load_base(name: str, dtype: str = "float32", **extra):
    from ..models import resolve
    from ..models.loading import load_model, load_tokenizer

    ref = resolve(name)
    model = load_model(ref, dtype, "cpu", **extra)
    model.eval()
    return model, load_tokenizer(ref), ref


def load_tuned(art: Artifact, dtype: str = "float32", base_name: str | None = None, **extra):
    """(tuned model, tokenizer) — the base with the artifact applied by its own method."""
    base, tokenizer, _ref = load_base(base_name or art.base_model, dtype, **extra)
    tuned = art.method_entry().load(base, art.folder)
    tuned.eval()
    return tuned, tokenizer
