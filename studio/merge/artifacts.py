"""Reading a trained artifact the way its method wrote it, through the methods registry.

A run's artifact folder holds `studio_run.json` naming its base model and method;
`REGISTRY.get(method).load(base_model, folder)` gives the tuned model (a PeftModel for the peft
methods, the base with the tuned tensors applied for the others) and `method.merge(model)` folds it
into plain weights (or refuses, for methods that are not a weight change). A bare peft folder
(adapter_config.json only) counts as LoRA.

What each artifact can be used for is decided here once (`usable_for`, `list_usable`), and the CLI,
the UI's choices, the chat, serve, eval and merge jobs all ask: a peft adapter goes on any engine, a
studio-written artifact (bottleneck adapters, MoE-LoRA, BitFit, selective and sparse tuning) runs on
the transformers engine on its own copy of the base, a whole model (full fine-tuning) is used as a
model, and merging is refused up front for artifacts that are not a weight change.
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
    folder = Path(folder).expanduser()
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
            raise StudioError(key="merge.adapter_config_json_does", folder=folder)
        return Artifact(folder, base, "lora", {})
    raise StudioError(key="merge.not_trained_artifact_no", folder=folder, run_info=RUN_INFO)


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


def load_trained(folder: str | Path, device: str = "cpu", dtype: str = "auto"):
    """A finished run's artifact (adapter/ or model/ folder) on its base model, ready to use.

    Reads `studio_run.json` (base model, method, model kind) written by the training runner.
    Returns (model, tokenizer); the tokenizer is the one saved with the artifact.
    """
    from transformers import AutoTokenizer

    from ..methods import REGISTRY
    from ..models import resolve
    from ..models.loading import load_model

    folder = Path(folder)
    info_path = folder / RUN_INFO
    if not info_path.is_file():
        raise StudioError(key="models.not_result_training_run", folder=folder)
    info = json.loads(info_path.read_text(encoding="utf-8"))
    method = REGISTRY.get(info["method"])
    base = load_model(resolve(info["base_model"]), dtype, device, kind=info.get("model_kind", "causal_lm"))
    model = method.load(base, folder)
    model.eval()
    return model, AutoTokenizer.from_pretrained(folder)


# ------------------------------------------------------------------ what an artifact is usable for

PURPOSES = ("chat", "serve", "eval", "merge", "vllm")
TUNED_INFO = "tuned.json"  # written by studio.methods._tuned.save_tuned


def artifact_kind(folder: str | Path) -> str:
    """"peft" (adapter_config.json), "tuned" (a studio-written artifact on top of its base) or
    "model" (a whole model: config.json and weights)."""
    folder = Path(folder).expanduser()
    if (folder / "adapter_config.json").is_file():
        return "peft"
    if (folder / TUNED_INFO).is_file():
        return "tuned"
    if (folder / "config.json").is_file():
        return "model"
    raise StudioError(key="merge.not_artifact", folder=str(folder))


def merge_refusal(art: Artifact) -> str | None:
    """Why the artifact's method cannot fold it into the weights (None: it can)."""
    return getattr(art.method_entry().merge, "refusal", None)


def refusal(path: str | Path, purpose: str) -> StudioError | None:
    """Why `path` cannot be used for `purpose` (chat, serve, eval, merge, vllm), or None when it can."""
    if purpose not in PURPOSES:
        raise ValueError(f"purpose {purpose!r} is not one of {PURPOSES}")
    try:
        kind = artifact_kind(path)
        art = read(path) if kind != "model" or (Path(path) / RUN_INFO).is_file() else None
    except StudioError as exc:
        return exc
    if purpose == "merge":
        if kind == "model":
            return StudioError(key="merge.already_model", folder=str(path))
        why = merge_refusal(art) if art else None
        return StudioError(key="merge.cannot_merge", folder=str(path), method=art.method, why=why) if why else None
    if purpose == "vllm" and kind != "peft":
        return StudioError(key="merge.not_for_vllm", folder=str(path), method=art.method if art else "full")
    if purpose == "vllm" and not is_peft_lora(path):
        return StudioError(key="merge.not_for_vllm", folder=str(path), method=art.method if art else "peft")
    return None


def usable_for(path: str | Path, purpose: str) -> bool:
    return refusal(path, purpose) is None


def require(path: str | Path, purpose: str) -> None:
    """Raise the reason when `path` cannot be used for `purpose` (before any job or model starts)."""
    problem = refusal(path, purpose)
    if problem is not None:
        raise problem


def on_base(path: str | Path) -> bool:
    """True when the artifact is applied on top of a base model (an adapter slot), False for a model."""
    return artifact_kind(path) != "model"


def list_usable(workspace, purpose: str) -> list[tuple[str, str]]:
    """(label, folder) of every trained artifact in the workspace usable for `purpose`, newest first.

    Reads the run folders (runs/*/adapter and runs/*/model with studio_run.json) and the combined
    adapters kept beside merged models; for chat, serve and eval only artifacts that go on a base
    (a whole model is chosen as a model instead).
    """
    root = Path(workspace.root if hasattr(workspace, "root") else workspace)
    found = [f for f in (root / "runs").glob("*/*") if (f / RUN_INFO).is_file()]
    found += [f for f in (root / "merged").glob("*/adapter") if (f / "adapter_config.json").is_file()]
    found.sort(key=lambda f: f.stat().st_mtime, reverse=True)
    out = []
    for folder in found:
        try:
            if purpose != "merge" and not on_base(folder):
                continue
        except StudioError:
            continue
        if usable_for(folder, purpose):
            base = read(folder).base_model
            combined = " (combined)" if folder.parent.parent.name == "merged" else ""
            out.append((f"{folder.parent.name}{combined} ({base})", str(folder)))
    return out
