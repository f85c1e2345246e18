"""Starting an evaluation and reading its results back: what the Evaluation sub-tab and CLI share."""

from __future__ import annotations

import json
from pathlib import Path

from ..atomic import read_jsonl
from .spec import build

TABLE_COLUMNS = ("index", "question", "reference", "base", "tuned", "base_rouge_l", "tuned_rouge_l", "delta_rouge_l",
                 "base_bleu", "tuned_bleu", "delta_bleu", "base_loss", "tuned_loss", "delta_loss", "judge")


def submit(manager, raw: dict, judge_key: str | None = None, owner: str | None = None):
    """Validate an eval spec and queue the job; a judge key travels as a job secret only."""
    spec = build(raw, source="evaluation form")
    title = f"eval · {spec.name or Path(spec.adapter or spec.tuned_model or spec.model).parent.name or spec.model}"
    return manager.submit("eval", spec.model_dump(mode="json"), title=title, owner=owner,
                          secrets={"judge_api_key": judge_key} if judge_key else None)


def summary_of(job) -> dict | None:
    path = job.artifacts.get("summary") if job.state == "succeeded" else None
    return json.loads(Path(path).read_text(encoding="utf-8")) if path and Path(path).is_file() else None


def rows_of(job, columns: tuple[str, ...] = TABLE_COLUMNS):
    """The per-example table (pandas), with the columns that exist for this evaluation."""
    import pandas as pd

    path = job.artifacts.get("predictions")
    rows = read_jsonl(path) if path else []
    frame = pd.DataFrame(rows)
    return frame[[c for c in columns if c in frame.columns]] if len(frame) else frame


def summary_markdown(summary: dict, t) -> str:
    keys = ("exact_match", "rouge_l", "bleu", "loss", "perplexity")
    head = "| | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys)
    lines = [head]
    for side, values in summary["sides"].items():
        lines.append(f"| {side} | " + " | ".join(str(values.get(k, "—")) for k in keys) + " |")
    if summary.get("delta"):
        lines.append("| Δ | " + " | ".join(str(summary["delta"].get(k, "—")) for k in keys) + " |")
    text = f"{summary['examples']} · {summary['rows']} · {summary['engine']}\n\n" + "\n".join(lines)
    if summary.get("judge"):
        j = summary["judge"]
        text += (f"\n\n**{t('chat.eval_judge')}** {j['model']}: win rate **{j['win_rate']}** "
                 f"(win {j['win']} · loss {j['loss']} · tie {j['tie']} · invalid {j['invalid']})")
    return text
