"""The `merge` job: fold trained artifacts into plain model folders in `<workspace>/merged/`.

Modes (the job spec's `mode`):
- `merge`: one artifact -> its base with the tuned weights folded in (`method.merge(method.load(...))`).
- `combine`: several LoRA adapters of one base -> one adapter with peft's `add_weighted_adapter`
  (linear, cat, ties, dare_linear, dare_ties, svd, magnitude_prune), saved as `adapter/` beside the
  merged model folded from it.
- `soup`: a weighted average of the weights of whole models of the same base (merged models or full
  fine-tunes).

Every output is checked before it is kept: the saved folder is loaded again and its logits on probe
prompts are compared with the model it should equal (`merge_report.json`; see verify.py). The folder
appears complete or not at all.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

from ..atomic import atomic_dir, write_json
from ..errors import StudioError
from ..workspace import safe_name
from . import artifacts, verify
from .spec import COMBINATIONS, DTYPES, NEEDS_DENSITY  # noqa: F401 - the UI and CLI import them from here

REPORT = "merge_report.json"


def _noop(_fraction, _message) -> None:
    return None


def _check_dtype(dtype: str) -> None:
    if dtype not in DTYPES:
        raise StudioError(key="merge.unknown_precision_merged_model", dtype=dtype, choices=', '.join(DTYPES))


def _save_checked(model, tokenizer, output: Path, dtype: str, reference, report: dict,
                  quantized_reference: bool = False, extra=None) -> dict:
    """Save model + tokenizer, load the saved folder again and compare it with `reference`."""
    import torch

    from ..models.loading import load_model
    from ..models.registry import ModelRef

    with atomic_dir(output) as tmp:
        model.to(getattr(torch, dtype)).save_pretrained(tmp, safe_serialization=True)
        tokenizer.padding_side = "right"
        tokenizer.save_pretrained(tmp)
        if extra:
            extra(tmp)
        saved = load_model(ModelRef(str(tmp), tmp, "local"), "float32", "cpu")
        saved.eval()
        report["verification"] = verify.verdict(verify.compare(reference, verify.logits(saved, tokenizer)), dtype,
                                                quantized_reference)
        report.update(output=str(output), dtype=dtype, probes=verify.PROBES,
                      created=time.strftime("%Y-%m-%dT%H:%M:%S"))
        write_json(tmp / REPORT, report)
    return report


# ------------------------------------------------------------------ one artifact

def merge_artifact(folder: str | Path, output: Path, dtype: str = "float32", base_model: str | None = None,
                   progress=_noop) -> dict:
    _check_dtype(dtype)
    art = artifacts.read(folder)
    method = art.method_entry()
    progress(0.1, f"Loading {base_model or art.base_model} with the {method.name} artifact")
    tuned, tokenizer = artifacts.load_tuned(art, "float32", base_model)
    quant = artifacts.quantized_load_kwargs(art)
    if quant:
        progress(0.3, "Loading the model as it was trained (quantised base) for the comparison")
        as_trained, _tok = artifacts.load_tuned(art, "float32", base_model, **quant)
        reference = verify.logits(as_trained, tokenizer)
        del as_trained
    else:
        reference = verify.logits(tuned, tokenizer)
    progress(0.5, "Merging")
    merged = method.merge(tuned)
    progress(0.7, f"Saving and checking {output.name}")
    report = {"mode": "merge", "base_model": base_model or art.base_model, "method": art.method,
              "sources": [str(art.folder)], "quantized_base": bool(quant),
              "reference": "the artifact on its base" + (" as trained (quantised)" if quant else "")}
    return _save_checked(merged, tokenizer, output, dtype, reference, report, quantized_reference=bool(quant))


# ------------------------------------------------------------------ several adapters -> one

def combine_adapters(folders: list[str | Path], output: Path, weights: list[float] | None = None,
                     combination: str = "linear", density: float = 0.5, dtype: str = "float32",
                     base_model: str | None = None, progress=_noop) -> dict:
    _check_dtype(dtype)
    if combination not in COMBINATIONS:
        raise StudioError(key="merge.unknown_combination", combination=combination,
                          choices=', '.join(COMBINATIONS))
    if len(folders) < 2:
        raise StudioError(key="merge.combining_needs_at_least")
    weights = [1.0 / len(folders)] * len(folders) if not weights else [float(w) for w in weights]
    if len(weights) != len(folders):
        raise StudioError(key="merge.weights_adapters", n_weights=len(weights), n_folders=len(folders))
    arts = [artifacts.read(f) for f in folders]
    for art in arts:
        if not artifacts.is_peft_lora(art.folder) or artifacts.quantized_load_kwargs(art):
            raise StudioError(key="merge.not_lora_adapter_full", folder=art.folder, method=art.method)
    bases = {a.base_model for a in arts}
    if len(bases) > 1 and not base_model:
        raise StudioError(key="merge.adapters_come_from_different", bases=', '.join(sorted(bases)))
    from peft import PeftModel

    from ..models.safety import check_adapter

    for art in arts:
        check_adapter(art.folder)
    base_name = base_model or arts[0].base_model
    progress(0.1, f"Loading {base_name} and {len(arts)} adapters")
    base, tokenizer, _ref = artifacts.load_base(base_name, "float32")
    names = [f"source{i}" for i in range(len(arts))]
    model = PeftModel.from_pretrained(base, str(arts[0].folder), adapter_name=names[0])
    for name, art in zip(names[1:], arts[1:]):
        model.load_adapter(str(art.folder), adapter_name=name)
    progress(0.3, f"Combining ({combination})")
    kwargs = {"density": density} if combination in NEEDS_DENSITY else {}
    try:
        model.add_weighted_adapter(names, weights, "combined", combination_type=combination, **kwargs)
    except ValueError as exc:
        raise StudioError(key="merge.peft_cannot_combine_adapters", combination=combination, exc=exc) from None
    model.set_adapter("combined")
    for name in names:
        model.delete_adapter(name)
    model.eval()
    reference = verify.logits(model, tokenizer)
    report = {"mode": "combine", "base_model": base_name, "method": "lora", "sources": [str(a.folder) for a in arts],
              "weights": weights, "combination": combination, "density": density if kwargs else None,
              "quantized_base": False, "reference": "the combined adapter on its base",
              "adapter": str(output / "adapter")}
    staging = Path(tempfile.mkdtemp(prefix="studio-combined-"))
    try:
        # saved from the PeftModel first: merge_and_unload folds the adapter away
        model.save_pretrained(staging, selected_adapters=["combined"], safe_serialization=True)
        saved = staging / "combined" if (staging / "combined").is_dir() else staging

        def add_adapter(tmp: Path) -> None:
            shutil.copytree(saved, tmp / "adapter")
            tokenizer.save_pretrained(tmp / "adapter")
            write_json(tmp / "adapter" / artifacts.RUN_INFO,
                       {"base_model": base_name, "method": "lora", "stage": "combined", "run": output.name,
                        "combined_from": report["sources"], "weights": weights, "combination": combination})

        progress(0.6, "Merging the combined adapter")
        merged = model.merge_and_unload()
        progress(0.8, f"Saving and checking {output.name}")
        return _save_checked(merged, tokenizer, output, dtype, reference, report, extra=add_adapter)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# ------------------------------------------------------------------ model soup

def _config_key(folder: Path) -> tuple:
    cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    return tuple(cfg.get(k) for k in ("model_type", "hidden_size", "num_hidden_layers", "vocab_size",
                                      "intermediate_size", "num_attention_heads"))


def _base_of(folder: Path) -> str | None:
    report = folder / REPORT
    if report.is_file():
        return json.loads(report.read_text(encoding="utf-8")).get("base_model")
    info = folder / artifacts.RUN_INFO
    if info.is_file():
        return json.loads(info.read_text(encoding="utf-8")).get("base_model")
    return None


def _state(folder: Path) -> dict:
    from safetensors.torch import load_file

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise StudioError(key="merge.holds_no_safetensors_weights", folder=folder)
    state = {}
    for f in files:
        state.update({k: v.float() for k, v in load_file(str(f)).items()})
    return state


def soup(folders: list[str | Path], output: Path, weights: list[float] | None = None, dtype: str = "float32",
         progress=_noop) -> dict:
    """Weighted average of whole models of one base; reports how far the soup is from each ingredient."""
    _check_dtype(dtype)
    folders = [Path(f) for f in folders]
    if len(folders) < 2:
        raise StudioError(key="merge.model_soup_needs_at")
    for f in folders:
        if not (f / "config.json").is_file():
            raise StudioError(key="merge.not_model_folder_no", folder=f)
    if len({_config_key(f) for f in folders}) > 1:
        raise StudioError(key="merge.models_have_different_architectures")
    bases = {b for b in (_base_of(f) for f in folders) if b}
    if len(bases) > 1:
        raise StudioError(key="merge.models_come_from_different", bases=', '.join(sorted(bases)))
    weights = [1.0] * len(folders) if not weights else [float(w) for w in weights]
    if len(weights) != len(folders) or sum(weights) <= 0:
        raise StudioError(key="merge.give_one_positive_weight")
    total = sum(weights)
    weights = [w / total for w in weights]
    averaged: dict = {}
    for i, (folder, w) in enumerate(zip(folders, weights)):
        progress(0.1 + 0.4 * i / len(folders), f"Adding {folder.name} (weight {w:.2f})")
        state = _state(folder)
        if averaged and set(state) != set(averaged):
            raise StudioError(key="merge.different_tensors_from", folder=folder, first=folders[0])
        for name, tensor in state.items():
            averaged[name] = averaged[name] + w * tensor if name in averaged else w * tensor
    from ..models.loading import load_model, load_tokenizer
    from ..models.registry import ModelRef

    first = ModelRef(str(folders[0]), folders[0], "local")
    model = load_model(first, "float32", "cpu")
    unexpected = model.load_state_dict(averaged, strict=False).unexpected_keys
    if unexpected:
        raise StudioError(key="merge.tensors_do_not_fit", unexpected=unexpected[:3], first=folders[0])
    model.eval()
    tokenizer = load_tokenizer(first)
    progress(0.6, "Comparing the soup with its ingredients")
    soup_logits = verify.logits(model, tokenizer)
    distances = {}
    for folder in folders:
        ingredient = load_model(ModelRef(str(folder), folder, "local"), "float32", "cpu").eval()
        distances[str(folder)] = verify.compare(verify.logits(ingredient, tokenizer), soup_logits)
        del ingredient
    report = {"mode": "soup", "base_model": next(iter(bases), None), "sources": [str(f) for f in folders],
              "weights": weights, "quantized_base": False, "reference": "the soup before saving",
              "distance_to_ingredients": distances}
    progress(0.8, f"Saving and checking {output.name}")
    return _save_checked(model, tokenizer, output, dtype, soup_logits, report)


# ------------------------------------------------------------------ the job

def _default_name(spec: dict) -> str:
    mode = spec.get("mode", "merge")
    if mode == "merge":
        folder = Path(spec["adapter"])
        return (folder.parent.name if folder.name in ("adapter", "model") else folder.name) + "-merged"
    return f"{mode}-{time.strftime('%Y%m%d-%H%M%S')}"


def run(spec: dict, output: Path, progress=_noop) -> dict:
    mode = spec.get("mode", "merge")
    dtype = spec.get("dtype", "float32")
    if mode == "merge":
        return merge_artifact(spec["adapter"], output, dtype, spec.get("base_model"), progress)
    if mode == "combine":
        return combine_adapters(spec["adapters"], output, spec.get("weights"), spec.get("combination", "linear"),
                                float(spec.get("density", 0.5)), dtype, spec.get("base_model"), progress)
    if mode == "soup":
        return soup(spec["models"], output, spec.get("weights"), dtype, progress)
    raise StudioError(key="merge.unknown_merge_mode", mode=mode)


def run_job(ctx) -> dict:
    spec = ctx.spec
    name = safe_name(spec.get("name") or _default_name(spec), "merged model name")
    output = ctx.workspace.merged / name
    if output.exists():
        raise StudioError(key="merge.merged_model_named_already", name=name)
    report = run(spec, output, progress=lambda f, m: ctx.progress(f, m))
    write_json(ctx.run_dir / REPORT, report)
    check = report["verification"]
    ctx.events.progress(1.0, f"Merged into {name}: max logit difference {check['max_abs_logit_diff']:.2e}",
                        force=True)
    out = {"model": str(output), "report": str(output / REPORT)}
    if report.get("adapter"):
        out["adapter"] = report["adapter"]
    return out
