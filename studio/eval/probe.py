"""The `probe` job: a before/after report of one SFT run, written to `probe.json` in its run folder.

- learned: the run's held-out rows (heldout.jsonl, written by the train job), base and tuned answers
  scored against the reference answers (ROUGE-L);
- kept: a slice of the bundled general prompts that no run trains on (studio/replay/prompts.py), tuned
  answers scored against the base model's answers from the same engine in the same probe (ROUGE-L), so
  only the adapter can make them differ. The base column scores those base answers against the cached
  ones the replay rows come from: the noise between engines (vLLM in bf16 against transformers in fp32
  drifts apart after a few dozen greedy tokens: 0.73-0.86 measured for the embedded model).
  Scoring the tuned answers against the cache instead counted that engine noise as forgetting.

When "kept" falls below THRESHOLD the report carries a warning in plain words naming the remedy the
studio would apply next (turn replay on, more replay, fewer steps, a lower learning rate). Queued
automatically after an SFT run of the default recipe (studio/recipe/run.py); `studio probe RUN_DIR`.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..atomic import read_jsonl, write_json
from ..errors import StudioError
from . import metrics

PROBE_FILE = "probe.json"
THRESHOLD = 0.5  # kept ROUGE-L below this: the tuned model no longer answers like its base
METRIC = "rouge_l"
EXAMPLES_PER_KIND = 3
LEARNED_MAX = 32


def _artifact(run_dir: Path) -> tuple[str | None, str | None]:
    """(adapter folder, full model folder) of a finished run."""
    if (run_dir / "adapter").is_dir():
        return str(run_dir / "adapter"), None
    if (run_dir / "model").is_dir():
        return None, str(run_dir / "model")
    raise StudioError(key="probe.no_model", run=str(run_dir))


def _learned(run_dir: Path) -> list[dict]:
    rows = read_jsonl(run_dir / "heldout.jsonl")[:LEARNED_MAX]
    return [r for r in rows if r.get("prompt") and r.get("reference")]


def _answers(model_path: str, adapter: str | None, conversations: list[list[dict]], engine_name: str,
             chat_template: str | None, max_tokens: int, progress, label: str) -> tuple[dict, str]:
    """Base (and tuned, when `adapter`) answers from one engine: {"base": [...], "tuned": [...]}."""
    from ..infer.base import Sampling
    from ..infer.serve import engine_options
    from ..infer.start import open_engine
    from ..replay import cache

    adapters = {"tuned": adapter} if adapter else {}
    engine, _fallback = open_engine(engine_name, model_path, lambda name: engine_options(
        {"adapters": adapters, "chat_template": chat_template}, name), adapters, lambda m: progress(None, m))
    try:
        sampling = Sampling(temperature=0.0, max_tokens=max_tokens)
        out = {}
        for side in (["base", "tuned"] if adapter else [label]):
            texts = []
            for start in range(0, len(conversations), cache.BATCH):
                batch = conversations[start:start + cache.BATCH]
                texts += [c.text.strip() for c in engine.generate(batch, sampling, "tuned" if side == "tuned" else None)]
                progress(None, f"probe: {side} {len(texts)}/{len(conversations)}")
            out[side] = texts
        return out, engine.name
    finally:
        engine.close()


def _score(predictions: list[str], references: list[str]) -> float:
    if not predictions:
        return 0.0
    return round(sum(_agree(p, r) for p, r in zip(predictions, references)) / len(predictions), 4)


def _agree(prediction: str, reference: str) -> float:
    """ROUGE-L F1; two empty answers agree fully (ROUGE-L would call it 0)."""
    if not metrics.normalize(prediction) and not metrics.normalize(reference):
        return 1.0
    return metrics.rouge_l(prediction, reference)


def warning_for(kept_tuned: float, recipe: dict, spec) -> dict | None:
    """The plain-words warning (a translation key and its arguments) when "kept" is below THRESHOLD."""
    if kept_tuned >= THRESHOLD:
        return None
    args = {"kept": round(kept_tuned, 2), "threshold": THRESHOLD}
    ratio = float(recipe.get("replay_ratio") or 0)
    if not recipe.get("keep_general"):
        return {"key": "probe.kept_low_turn_on", "args": args}
    if ratio < 2.0 and recipe.get("replay_rows", 0) < recipe.get("replay_available", 1 << 30):
        return {"key": "probe.kept_low_more_replay", "args": dict(args, ratio=round(min(2.0, max(0.5, ratio * 2)), 2))}
    steps = max(0, int(spec.training.max_steps))
    if steps > 20:
        return {"key": "probe.kept_low_fewer_steps", "args": dict(args, steps=steps // 2)}
    return {"key": "probe.kept_low_lower_lr", "args": dict(args, lr=f"{float(spec.training.learning_rate) / 2:.2g}")}


def probe(run_dir: Path, progress=lambda f, m: None, engine: str | None = None) -> dict:
    """Measure, write probe.json in `run_dir`, return the report."""
    import os

    from ..models import resolve
    from ..replay import cache, prompts
    from ..spec import load_spec

    run_dir = Path(run_dir)
    spec = load_spec(run_dir / "spec.yaml")
    recipe_file = run_dir / "recipe.json"
    recipe = json.loads(recipe_file.read_text(encoding="utf-8")) if recipe_file.is_file() else {}
    adapter, full = _artifact(run_dir)
    engine = engine or os.environ.get(cache.ENGINE_ENV, "auto")
    learned = _learned(run_dir)
    kept_prompts = prompts.probe_part()[: cache.PROBE_KEPT]
    progress(0.05, f"probe: base answers to {len(kept_prompts)} general questions")
    base_kept, _info = cache.ensure(spec.model, kept_prompts, lambda f, m: progress(None, m), lambda m: progress(None, m))
    conversations = [r["prompt"] for r in learned] + [p.conversation() for p in kept_prompts]
    base_path = str(resolve(spec.model.name, allow_pickle=spec.model.allow_pickle, revision=spec.model.revision).path)
    progress(0.2, "probe: answering with the base and the tuned model")
    answers, engine_name = _answers(base_path, adapter, conversations, engine, spec.model.chat_template,
                                    cache.MAX_TOKENS, progress, "base")
    if full:
        answers.update(_answers(full, None, conversations, engine, spec.model.chat_template, cache.MAX_TOKENS,
                                progress, "tuned")[0])
    n_learned = len(learned)
    refs_learned = [r["reference"] for r in learned]
    refs_kept = [base_kept[p.id] for p in kept_prompts]
    base_now = answers["base"][n_learned:]  # the tuned model's reference: same engine, same batches
    report = {
        "learned": {"base": _score(answers["base"][:n_learned], refs_learned),
                    "tuned": _score(answers["tuned"][:n_learned], refs_learned), "n": n_learned, "metric": METRIC},
        "kept": {"base": _score(base_now, refs_kept), "tuned": _score(answers["tuned"][n_learned:], base_now),
                 "n": len(kept_prompts), "metric": METRIC},
        "threshold": THRESHOLD,
    }
    recipe.setdefault("replay_available", prompts.available_for_mix())
    report["warning"] = warning_for(report["kept"]["tuned"], recipe, spec)
    report["examples"] = _examples(learned, kept_prompts, refs_kept, answers, n_learned)
    write_json(run_dir / PROBE_FILE, report)
    progress(1.0, f"probe: learned {report['learned']['tuned']:.2f} (base {report['learned']['base']:.2f}), "
                  f"kept {report['kept']['tuned']:.2f} ({engine_name})")
    return report


def _examples(learned, kept_prompts, refs_kept, answers, n_learned) -> list[dict]:
    out = []
    for i, row in enumerate(learned[:EXAMPLES_PER_KIND]):
        users = [m["content"] for m in row["prompt"] if m["role"] == "user"]
        out.append({"kind": "learned", "prompt": users[-1] if users else "", "reference": row["reference"],
                    "base": answers["base"][i], "tuned": answers["tuned"][i]})
    for j, p in enumerate(kept_prompts[:EXAMPLES_PER_KIND]):
        out.append({"kind": "kept", "prompt": p.text, "reference": refs_kept[j],
                    "base": answers["base"][n_learned + j], "tuned": answers["tuned"][n_learned + j]})
    return out


def lines(report: dict, lang: str = "en") -> list[str]:
    """The report as text lines (the CLI), in `lang`."""
    from ..i18n import text

    out = [text("probe.header", lang)]
    for kind in ("learned", "kept"):
        part = report[kind]
        out.append(text(f"probe.row_{kind}", lang, base=f"{part['base']:.2f}", tuned=f"{part['tuned']:.2f}",
                        n=part["n"], metric=part["metric"]))
    warning = report.get("warning")
    if warning:
        out.append("! " + text(warning["key"] + ".msg", lang, **warning["args"]))
        out.append("  " + text(warning["key"] + ".hint", lang, **warning["args"]))
    else:
        out.append(text("probe.ok", lang, threshold=report["threshold"]))
    return out


def run_job(ctx) -> dict:
    from ..infer.serve import end_children

    run_dir = Path(ctx.spec.get("run_dir") or "")
    if not run_dir.is_dir():
        raise StudioError(key="probe.no_run", run=str(run_dir))
    try:
        probe(run_dir, lambda f, m: ctx.progress(f, m, phase="probe"), ctx.spec.get("engine"))
    finally:
        ctx.cooperative = True
        end_children()  # a cancelled vLLM start can leave its engine processes behind
    ctx.events.progress(1.0, "probe done", force=True)
    return {"probe": str(run_dir / PROBE_FILE)}
