"""The model card (README.md) written beside an export: where the model came from and how it did.

It gathers what the studio knows about the source: the base model and method (the artifact's
`studio_run.json` or the merged model's `merge_report.json`), the run's data and spec (`spec.yaml`
in the run folder), the probe results (`probe.json` in the run folder, when the run has one), the
merge check, and the export's own read-back check.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def run_folder(source: Path, merge_report: dict | None) -> Path | None:
    """The training run a source comes from (an artifact's parent, or the merge's first source's)."""
    candidates = [source]
    if merge_report and merge_report.get("sources"):
        candidates.append(Path(merge_report["sources"][0]))
    for c in candidates:
        for folder in (c, c.parent):
            if (folder / "spec.yaml").is_file():
                return folder
    return None


def facts(source: Path, merge_report: dict | None) -> dict:
    run = run_folder(source, merge_report)
    info = _json(source / "studio_run.json") or {}
    spec = {}
    if run and (run / "spec.yaml").is_file():
        spec = yaml.safe_load((run / "spec.yaml").read_text(encoding="utf-8")) or {}
    probe = None
    for folder in filter(None, (run, source)):
        probe = probe or _json(folder / "probe.json")
    data = (spec.get("data") or {}) if isinstance(spec, dict) else {}
    return {"base_model": (merge_report or {}).get("base_model") or info.get("base_model")
            or (spec.get("model") or {}).get("name"),
            "method": (merge_report or {}).get("method") or info.get("method") or spec.get("method"),
            "stage": info.get("stage") or spec.get("stage"), "data": data.get("path"), "run": str(run) if run else None,
            "spec": spec, "probe": probe}


def _probe_section(probe) -> list[str]:
    if not probe:
        return ["No probe results were recorded for this run."]
    rows = probe.get("results") or probe.get("probes") if isinstance(probe, dict) else probe
    if isinstance(rows, list) and rows and isinstance(rows[0], dict):
        keys = [k for k in rows[0] if not isinstance(rows[0][k], (dict, list))][:5]
        out = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        for r in rows[:20]:
            out.append("| " + " | ".join(str(r.get(k, "")).replace("\n", " ")[:120] for k in keys) + " |")
        return out
    return ["```json", json.dumps(probe, ensure_ascii=False, indent=2)[:4000], "```"]


def render(name: str, gguf_name: str, quant: str, info: dict, merge_report: dict | None, check: dict) -> str:
    lines = [f"# {name}", "",
             f"GGUF export ({quant}) made by Tune Studio: `{gguf_name}`, with its chat template and tokenizer inside.",
             "", "## Where it comes from", "",
             f"- Base model: {info.get('base_model') or 'unknown'}",
             f"- Method: {info.get('method') or 'unknown'}" + (f" ({info['stage']})" if info.get("stage") else ""),
             f"- Data: {info.get('data') or 'unknown'}"]
    if info.get("run"):
        lines.append(f"- Training run: `{info['run']}`")
    if merge_report and merge_report.get("verification"):
        v = merge_report["verification"]
        lines.append(f"- Merge check: max logit difference {v['max_abs_logit_diff']:.2e} against "
                     f"{merge_report.get('reference', 'the adapter model')}, top-1 agreement {v['top1_agreement']:.1%}")
    lines += ["", "## Use it", "", "```sh", "ollama create my-model -f Modelfile", "ollama run my-model", "```", "",
              "llama.cpp: `llama-cli -m " + gguf_name + " -cnv`", "",
              "## Export check", "",
              f"Read back with {check['reader']}; greedy answers to the probe prompts ({check['greedy_tokens']} "
              "tokens) compared with the merged model:", "",
              "| prompt | same tokens | merged | gguf |", "|---|---|---|---|"]
    for r in check["vs_merged"]["probes"]:
        lines.append(f"| {r['prompt']} | {'yes' if r['same_tokens'] else 'no'} | "
                     f"{r['merged'].replace(chr(10), ' ')[:80]} | {r['gguf'].replace(chr(10), ' ')[:80]} |")
    if check.get("vs_merged_as_stored"):
        s = check["vs_merged_as_stored"]
        lines += ["", f"Against the merged model rounded to {quant} (what the file stores): same tokens: "
                  f"{'yes' if s['same_tokens'] else 'no'}, max logit difference {s['max_abs_logit_diff']:.2e}."]
    if check.get("note"):
        lines += ["", f"_{check['note']}_"]
    lines += ["", "## Probe results", ""] + _probe_section(info.get("probe"))
    if info.get("spec"):
        lines += ["", "## Training spec", "", "```yaml",
                  yaml.safe_dump(info["spec"], sort_keys=False, allow_unicode=True).strip(), "```"]
    return "\n".join(lines) + "\n"
