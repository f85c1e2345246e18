"""The `eval` job: batch predictions through the engine, metrics, loss, optional judge, a results table.

Each side (base, tuned) answers every example through the inference engine (vLLM when installed;
an adapter shares its base's engine, a merged model gets its own). The answers are scored against
the references (exact match, ROUGE-L, BLEU), the references' loss / perplexity is computed with a
transformers forward pass, and an optional judge compares base and tuned answers pairwise. Output:
`predictions.jsonl` and `summary.json` in the job folder, and the per-example table as CSV in the
workspace's exports/.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ..atomic import write_json, write_jsonl, write_text
from ..errors import StudioError
from . import judge as judging
from . import metrics
from .loss import reference_losses
from .loss import summarize as loss_summary
from .spec import EvalData, EvalSpec, build

METRICS = ("exact_match", "rouge_l", "bleu")


@dataclass
class Example:
    prompt: list[dict]
    reference: str

    @property
    def question(self) -> str:
        users = [m["content"] for m in self.prompt if m["role"] == "user"]
        return users[-1] if users else ""


def _split_turns(row: dict) -> Example | None:
    if "messages" in row:
        msgs = row["messages"]
        last = max((i for i, m in enumerate(msgs) if m["role"] == "assistant"), default=None)
        if last is None:
            return None
        return Example([{"role": m["role"], "content": m["content"]} for m in msgs[:last]], msgs[last]["content"])
    answer = [m for m in row.get("completion") or [] if m["role"] == "assistant"]
    if not answer:
        return None
    return Example([{"role": m["role"], "content": m["content"]} for m in row["prompt"]], answer[-1]["content"])


def load_examples(data: EvalData, workspace_root: Path | None) -> tuple[list[Example], str]:
    """(examples, which rows) from a file or saved dataset: its held-out split when there is one."""
    from ..data import store
    from ..data.prepare import convert_all, load_rows

    loaded = load_rows(data.path, data.format, data.columns, workspace_root)
    which = "all rows"
    held = store.validation_of(loaded.source) if loaded.source and data.split != "all" else None
    if held is not None:
        loaded, which = load_rows(str(held), loaded.format, None), "the saved validation split"
    elif data.split == "validation":
        raise StudioError(key="eval.no_saved_validation_split", path=data.path)
    examples = [e for e in (_split_turns(r) for r in convert_all(loaded, "sft", data.system_prompt)) if e]
    if data.limit:
        examples = examples[: data.limit]
    if not examples:
        raise StudioError(key="eval.no_examples_with_reference", path=data.path)
    return examples, which


# ------------------------------------------------------------------ generation

def _engine(spec: EvalSpec, model: str, adapters: dict[str, str], log=print):
    """An engine for `model` with the adapters loaded (with `auto`, transformers if vLLM cannot run it)."""
    from ..infer.serve import engine_options
    from ..infer.start import open_engine
    from ..models import resolve

    serve_like = {"adapters": adapters, "chat_template": spec.chat_template}
    engine, _fallback = open_engine(spec.engine, str(resolve(model).path),
                                    lambda name: engine_options(serve_like, name), adapters, log)
    return engine


def generate_all(spec: EvalSpec, examples: list[Example], progress) -> tuple[dict[str, list[str]], str]:
    """Answers of every side, in example order; returns (answers by side, engine name)."""
    answers: dict[str, list[str]] = {}
    by_model: dict[str, list[tuple[str, str | None]]] = {}
    for label, model, adapter in spec.sides():
        by_model.setdefault(model, []).append((label, adapter))
    total = len(examples) * len(spec.sides())
    done, engine_name = 0, ""
    for model, sides in by_model.items():
        adapters = {label: folder for label, folder in sides if folder}
        engine = None
        try:
            progress(None, f"Starting the engine for {Path(model).name}")
            engine = _engine(spec, model, adapters, lambda message: progress(None, message))
            engine_name = engine.name
            for label, adapter in sides:
                out: list[str] = []
                for start in range(0, len(examples), spec.batch_size):
                    batch = examples[start:start + spec.batch_size]
                    out += [c.text for c in engine.generate([e.prompt for e in batch], spec.sampling,
                                                            label if adapter else None)]
                    done += len(batch)
                    progress(0.05 + 0.6 * done / total, f"{label}: {len(out)}/{len(examples)} answers")
                answers[label] = out
        finally:
            if engine is not None:
                engine.close()
    return answers, engine_name


# ------------------------------------------------------------------ loss

def losses_all(spec: EvalSpec, examples: list[Example], progress) -> dict[str, list[float]]:
    from ..merge import artifacts
    from ..models import resolve
    from ..models.loading import load_model, load_tokenizer

    pairs = [(e.prompt, e.reference) for e in examples]
    out: dict[str, list[float]] = {}
    loaded: dict[str, tuple] = {}
    for label, model, adapter in spec.sides():
        progress(None, f"Loss of the references under the {label} model")
        if model not in loaded:
            ref = resolve(model)
            loaded = {model: (load_model(ref, "float32", "cpu").eval(), load_tokenizer(ref))}
        net, tok = loaded[model]
        if adapter and artifacts.artifact_kind(adapter) == "tuned":  # hooks and tensors: on a fresh base copy
            fresh = load_model(resolve(model), "float32", "cpu")
            tuned = artifacts.read(adapter).method_entry().load(fresh, Path(adapter)).eval()
            out[label] = reference_losses(tuned, tok, pairs, spec.chat_template)
            del tuned, fresh
        elif adapter:
            from peft import PeftModel

            from ..models.safety import check_adapter

            peft = PeftModel.from_pretrained(net, check_adapter(adapter)).eval()
            out[label] = reference_losses(peft, tok, pairs, spec.chat_template)
            try:
                loaded[model] = (peft.unload(), tok)  # the plain base again, for a later side
            except AttributeError:  # prompt-learning adapters cannot be unloaded: a later side reloads
                loaded.pop(model)
        else:
            out[label] = reference_losses(net, tok, pairs, spec.chat_template)
    return out


# ------------------------------------------------------------------ judge

def _judge_fn(spec: EvalSpec, secrets: dict):
    if spec.judge.kind == "endpoint":
        from ..infer.base import Sampling
        from ..infer.client import chat

        sampling = Sampling(max_tokens=spec.judge.max_tokens)
        key = secrets.get("judge_api_key")
        return (lambda convs: [chat(spec.judge.url, spec.judge.model, c, sampling, api_key=key) for c in convs]), None
    from ..infer.base import Sampling

    engine = _engine(spec.model_copy(update={"chat_template": None}), spec.judge.model, {})
    sampling = Sampling(max_tokens=spec.judge.max_tokens)
    return (lambda convs: [c.text for c in engine.generate(convs, sampling)]), engine


def judge_rows(spec: EvalSpec, examples: list[Example], answers: dict, secrets: dict) -> list[dict] | None:
    if spec.judge.kind == "none" or not {"base", "tuned"} <= set(answers):
        return None
    complete, engine = _judge_fn(spec, secrets)
    try:
        rows = [{"question": e.question, "reference": e.reference, "base": b, "tuned": t}
                for e, b, t in zip(examples, answers["base"], answers["tuned"])]
        return judging.judge_all(complete, rows)
    finally:
        if engine is not None:
            engine.close()


# ------------------------------------------------------------------ table

def table(examples: list[Example], answers: dict, losses: dict, judged: list[dict] | None) -> list[dict]:
    """One row per example: the answers, their metrics, and tuned-minus-base differences."""
    rows = []
    for i, ex in enumerate(examples):
        row = {"index": i, "question": ex.question, "reference": ex.reference}
        for side, texts in answers.items():
            row[side] = texts[i]
            for key, value in metrics.score(texts[i], ex.reference).items():
                row[f"{side}_{key}"] = value
            if side in losses:
                row[f"{side}_loss"] = round(losses[side][i], 4)
        if {"base", "tuned"} <= set(answers):
            for key in METRICS + (("loss",) if losses else ()):
                row[f"delta_{key}"] = round(row[f"tuned_{key}"] - row[f"base_{key}"], 4)
            row["changed"] = answers["base"][i].strip() != answers["tuned"][i].strip()
        if judged:
            row["judge"] = judged[i]["verdict"]
        rows.append(row)
    return rows


def summary(spec: EvalSpec, examples, answers, losses, judged, engine_name: str, which: str) -> dict:
    refs = [e.reference for e in examples]
    sides = {}
    for side, texts in answers.items():
        per = [metrics.score(t, r) for t, r in zip(texts, refs)]
        sides[side] = dict(metrics.summarize(texts, refs, per), **loss_summary(losses.get(side, [])))
    out = {"examples": len(examples), "rows": which, "engine": engine_name, "model": spec.model,
           "adapter": spec.adapter, "tuned_model": spec.tuned_model, "sides": sides}
    if {"base", "tuned"} <= set(sides):
        out["delta"] = {k: round(sides["tuned"][k] - sides["base"][k], 4)
                        for k in ("exact_match", "rouge_l", "bleu", "loss", "perplexity") if k in sides["tuned"]}
    if judged is not None:
        out["judge"] = dict(judging.win_rate([j["verdict"] for j in judged]), kind=spec.judge.kind,
                            model=spec.judge.model)
    return out


def write_csv(rows: list[dict], path: Path) -> Path:
    import pandas as pd

    write_text(path, pd.DataFrame(rows).to_csv(index=False))
    return path


# ------------------------------------------------------------------ the job

def evaluate(spec: EvalSpec, run_dir: Path, exports: Path, workspace_root: Path | None, progress, secrets=None) -> dict:
    examples, which = load_examples(spec.data, workspace_root)
    progress(0.02, f"{len(examples)} examples from {which}")
    answers, engine_name = generate_all(spec, examples, progress)
    losses = losses_all(spec, examples, progress) if spec.loss else {}
    judged = None
    if spec.judge.kind != "none":
        progress(0.85, f"Judging with {spec.judge.model}")
        judged = judge_rows(spec, examples, answers, secrets or {})
    rows = table(examples, answers, losses, judged)
    result = summary(spec, examples, answers, losses, judged, engine_name, which)
    write_jsonl(run_dir / "predictions.jsonl", rows)
    csv = write_csv(rows, run_dir / "results.csv")
    name = spec.name or Path(spec.adapter or spec.tuned_model or spec.model).parent.name or "eval"
    export = write_csv(rows, _free(exports / f"eval-{_safe(name)}-{time.strftime('%Y%m%d-%H%M%S')}.csv"))
    result.update(csv=str(export))
    write_json(run_dir / "summary.json", result)
    return {"summary": str(run_dir / "summary.json"), "predictions": str(run_dir / "predictions.jsonl"),
            "csv": str(export), "results": str(csv)}


def _safe(name: str) -> str:
    from ..workspace import safe_name

    return safe_name(name, "evaluation name")


def _free(path: Path) -> Path:
    n, candidate = 2, path
    while candidate.exists():
        candidate, n = path.with_name(f"{path.stem}-{n}{path.suffix}"), n + 1
    return candidate


def run_job(ctx) -> dict:
    from ..infer.serve import end_children

    spec = build(ctx.spec, source=f"eval job {ctx.job.id}")
    try:
        artifacts = evaluate(spec, ctx.run_dir, ctx.workspace.exports, ctx.workspace.root,
                             lambda f, m: ctx.progress(f, m), ctx.secrets)
    finally:
        ctx.cooperative = True
        end_children()  # a cancelled vLLM start can leave its engine processes behind
    ctx.events.progress(1.0, "Evaluation done", force=True)
    return artifacts
