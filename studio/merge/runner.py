"""The `merge` job: base + adapter -> one plain model folder in `<workspace>/merged/`.

After merging, the merged model and the adapter model are run on the same probe prompts and the
largest logit difference is recorded in `merge_report.json` (a quantised base makes them differ a
little; the report shows by how much instead of hiding it).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..atomic import atomic_dir, write_json
from ..errors import StudioError
from ..workspace import safe_name

PROBES = ["What is the capital of France?", "Write one sentence about the sea.", "你好，请介绍一下你自己。"]


def adapter_base(adapter: Path) -> str:
    info = adapter / "studio_run.json"
    if info.is_file():
        return json.loads(info.read_text())["base_model"]
    cfg = adapter / "adapter_config.json"
    if cfg.is_file():
        return json.loads(cfg.read_text()).get("base_model_name_or_path") or ""
    raise StudioError(f"{adapter} is not an adapter folder (no adapter_config.json)",
                      "pick the adapter/ folder of a finished training run")


def _probe_logits(model, tokenizer):
    import torch

    texts = [tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                           add_generation_prompt=True) for p in PROBES]
    enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.inference_mode():
        return model(**enc).logits.float()


def merge(adapter: Path, output: Path, base_name: str | None = None, dtype: str = "float32", progress=None) -> dict:
    from peft import PeftModel

    from ..models import resolve
    from ..models.loading import load_model, load_tokenizer

    progress = progress or (lambda f, m: None)
    adapter = Path(adapter)
    base_name = base_name or adapter_base(adapter)
    progress(0.1, f"Loading {base_name}")
    ref = resolve(base_name)
    tokenizer = load_tokenizer(ref)
    tokenizer.padding_side = "left"
    model = PeftModel.from_pretrained(load_model(ref, dtype, "cpu"), adapter)
    model.eval()
    progress(0.4, "Running the adapter model on probe prompts")
    before = _probe_logits(model, tokenizer)
    progress(0.6, "Merging")
    merged = model.merge_and_unload()
    after = _probe_logits(merged, tokenizer)
    diff = float((before - after).abs().max())
    progress(0.8, f"Saving to {output}")
    with atomic_dir(output) as tmp:
        merged.save_pretrained(tmp, safe_serialization=True)
        tokenizer.padding_side = "right"
        tokenizer.save_pretrained(tmp)
        report = {"base_model": base_name, "adapter": str(adapter), "dtype": dtype,
                  "max_abs_logit_diff": diff, "probes": PROBES}
        write_json(tmp / "merge_report.json", report)
    return report


def run_job(ctx) -> dict:
    spec = ctx.spec
    name = safe_name(spec.get("name") or Path(spec["adapter"]).parent.name + "-merged", "merged model name")
    output = ctx.workspace.merged / name
    if output.exists():
        raise StudioError(f"A merged model named '{name}' already exists", "choose another name")
    report = merge(Path(spec["adapter"]), output, spec.get("base_model"), spec.get("dtype", "float32"),
                   progress=lambda f, m: ctx.progress(f, m))
    write_json(ctx.run_dir / "merge_report.json", report)
    ctx.events.progress(1.0, f"Merged: max logit difference {report['max_abs_logit_diff']:.2e}", force=True)
    return {"model": str(output), "report": str(output / "merge_report.json")}
