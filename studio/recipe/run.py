"""The default recipe inside the train worker: resolve `auto`, mix in replay rows, queue the probe.

Kept out of studio/train/runner.py (which calls these three functions) so the recipe reads in one place.
Replay is a phase of the train job (phase "replay" in progress.json), not a job of its own: the run
cannot start before its rows exist, a failure stops the run with a message that says what happened
(recipe.replay_failed), and a second run on the same base finds the answers cached.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..atomic import write_json, write_jsonl

RECIPE_FILE = "recipe.json"
HELDOUT_FILE = "heldout.jsonl"


def apply(spec, ctx):
    """(spec with `auto` resolved, what was decided as a dict); writes recipe.json in the run folder."""
    from .concrete import resolve_for

    concrete, resolved = resolve_for(spec, ctx.workspace.root)
    record = resolved.to_dict()
    record["keep_general"] = bool(concrete.data.keep_general and concrete.stage == "sft")
    write_json(Path(ctx.run_dir) / RECIPE_FILE, record)
    if resolved.auto:
        ctx.events.log("default recipe: " + ", ".join(f"{k.split('.')[-1]}={_value(concrete, k)}"
                                                       for k in resolved.auto))
    return concrete, record


def _value(spec, dotted: str):
    section, _, name = dotted.partition(".")
    return getattr(getattr(spec, section), name)


def mix(spec, record: dict, data, ctx):
    """Add the base model's own answers to general prompts to the training rows (phase "replay")."""
    from datasets import Dataset, concatenate_datasets

    from ..errors import StudioError
    from ..i18n import text
    from ..replay import cache

    if data.eval is not None:
        _save_heldout(data.eval, Path(ctx.run_dir))
    n = record.get("replay_rows", 0)
    if not record.get("keep_general") or n <= 0:
        return data
    wanted = cache.needed(n)
    ctx.progress(0.0, text("recipe.replay_phase", n=len(wanted)), phase="replay")
    answers, info = cache.ensure(spec.model, wanted,
                                 lambda f, m: ctx.progress(None if f is None else 0.0, m, phase="replay"),
                                 ctx.events.log)
    rows = cache.mix_rows(answers, n)
    if not rows:
        raise StudioError(key="recipe.replay_empty", model=spec.model.name)
    if spec.data.system_prompt:  # the task rows carry it; replay rows get the same frame
        for row in rows:
            row["prompt"] = [{"role": "system", "content": spec.data.system_prompt}] + row["prompt"]
    extra = Dataset.from_list(rows)
    train = data.train
    if set(train.column_names) != set(extra.column_names):  # e.g. conversations: turn replay rows into messages
        blank = dict.fromkeys(train.column_names)  # other columns (a conversation's `tools`) left empty
        extra = Dataset.from_list([{**blank, "messages": r["prompt"] + r["completion"]} for r in rows],
                                  features=train.features)
    data.train = concatenate_datasets([train, extra.cast(train.features)]).shuffle(seed=spec.training.seed)
    data.rows = len(data.train)
    record.update(replay_rows=len(rows), replay=info)
    write_json(Path(ctx.run_dir) / RECIPE_FILE, record)
    ctx.events.log(f"keep general abilities: {len(rows)} general rows mixed in ({info['cached']} answers cached, "
                   f"{info['generated']} generated{' with ' + info['engine'] if info['engine'] else ''})")
    return data


def _save_heldout(eval_dataset, run_dir: Path) -> None:
    """The held-out rows as prompt/reference pairs: the "learned" questions of the probe report."""
    out = []
    for row in eval_dataset:
        if row.get("prompt") and row.get("completion"):
            answers = [m["content"] for m in row["completion"] if m["role"] == "assistant"]
            if answers:
                out.append({"prompt": row["prompt"], "reference": answers[-1]})
        elif row.get("messages"):
            msgs = row["messages"]
            last = max((i for i, m in enumerate(msgs) if m["role"] == "assistant"), default=None)
            if last:
                out.append({"prompt": msgs[:last], "reference": msgs[last]["content"]})
    write_jsonl(run_dir / HELDOUT_FILE, out)


AUTO_PROBE_ENV = "STUDIO_AUTO_PROBE"  # "0": no probe job queued after runs (`studio probe RUN_DIR` still works)


def queue_probe(spec, ctx, artifacts: dict) -> str | None:
    """Queue the before/after probe after an SFT run submitted through the job manager; returns its id."""
    import json

    recipe_file = Path(ctx.run_dir) / RECIPE_FILE
    record = json.loads(recipe_file.read_text(encoding="utf-8")) if recipe_file.is_file() else {}
    # a run of the default recipe: general abilities kept, or rows held out by the automatic split
    uses_recipe = record.get("keep_general") or "data.val_size" in record.get("auto", [])
    if spec.stage != "sft" or not uses_recipe:
        return None
    if str(ctx.job.id).startswith("inline-"):  # a run in the caller's own process (tests, notebooks)
        return None
    if os.environ.get(AUTO_PROBE_ENV, "1") == "0":  # the user (or a test suite) turned the automatic probe off
        return None
    run_dir = str(ctx.run_dir)
    job_id = ctx.queue_followup("probe", {"run_dir": run_dir}, title=f"Probe · {Path(run_dir).name}",
                                key=f"probe-{ctx.job.id}")
    if job_id:
        ctx.events.log(f"probe report queued: job {job_id}")
    return job_id
