"""The training recipe: spec -> model + method + data + stage trainer -> a saved adapter.

Reads top to bottom like a torchtune recipe. It runs inside a job worker; everything it reports
goes to the job's progress/metrics files, and everything it writes lands atomically.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..atomic import atomic_dir, read_jsonl, write_json, write_jsonl, write_text
from ..errors import JobCancelled, StudioError
from ..methods.base import count_parameters  # the same count the UI shows before a run
from ..spec import RunSpec
from . import fused_lora, packed_attention
from .checkpoints import latest_complete

ADAPTER_DIR = "adapter"
CHECKPOINTS = "checkpoints"


def length_report(dataset, target: str, tokenizer, max_length: int) -> dict:
    """Token length of every row as the model will see it (`row_token_lengths`, the count the estimate and
    the Data tab use); rows longer than max_length get cut."""
    from ..data.lengths import row_token_lengths

    lengths = row_token_lengths(list(dataset), target, tokenizer)
    long_rows = [i + 1 for i, n in enumerate(lengths) if n > max_length]
    return {"rows": len(lengths), "max_tokens": max(lengths, default=0),
            "mean_tokens": sum(lengths) / max(1, len(lengths)), "truncated_rows": long_rows}


def speed_extras(spec, stage_name: str, model, data, target: str, tokenizer, report: dict, events) -> dict:
    """TrainContext extras that make the step faster without changing what it computes (train.args)."""
    from .args import padding_free

    longest = report.get("max_tokens", 0)
    if data.eval is not None and longest:  # eval rows are not cut either in padding-free mode
        longest = max(longest, length_report(data.eval, target, tokenizer, spec.training.max_length)["max_tokens"])
    attention = getattr(getattr(model, "config", None), "_attn_implementation", None)
    if getattr(getattr(model, "active_peft_config", None), "is_prompt_learning", False):
        return {}  # virtual tokens are prepended to every row of a padded batch
    if not padding_free(spec, stage_name, attention, longest):
        return {}
    if attention == "sdpa" and packed_attention.use_for_training(model, events.log):
        attention = "row-by-row SDPA"
    events.log(f"padding-free batches: rows laid end to end, no pad tokens ({attention} attention keeps them apart)")
    return {"padding_free": True}


def _trim_metrics(run_dir: Path, step: int) -> None:
    """On resume, drop metric rows logged after the checkpoint so the curve has no duplicate steps."""
    path = run_dir / "metrics.jsonl"
    rows = [r for r in read_jsonl(path) if r.get("step", 0) <= step]
    write_jsonl(path, rows)


def train(spec: RunSpec, ctx) -> dict:
    from .. import methods, stages
    from ..data.prepare import prepare
    from ..models import resolve
    from ..models.loading import ensure_head_trainable, load_model, load_tokenizer, pick_device, upcast_trainable
    from ..stages import TrainContext
    from transformers import set_seed
    from .args import training_args
    from . import kernels
    from .callbacks import JobCallback

    run_dir = ctx.run_dir
    spec, recipe = _recipe(spec, ctx)  # `auto` steps/epochs/LR/split/replay ratio -> numbers (recipe.json)
    write_text(run_dir / "spec.yaml", spec.to_yaml())
    events = ctx.events
    method = methods.REGISTRY.get(spec.method)
    stage = stages.REGISTRY.get(spec.stage)
    device = pick_device(spec.resources.device)
    events.log(f"run {run_dir.name}: {stage.name} + {method.name} on {spec.model.name} ({device})")

    ctx.progress(0.0, "Preparing the model", phase="setup")
    ref = resolve(spec.model.name, progress=lambda f, m: ctx.progress(None, m, phase="setup"),
                  allow_pickle=spec.model.allow_pickle, revision=spec.model.revision)
    tokenizer = load_tokenizer(ref, spec.model.trust_remote_code, spec.model.chat_template)
    if not tokenizer.chat_template and stage.data_target != "text":
        from ..models.templates import TEMPLATES

        raise StudioError(key="train.model_no_chat_template", label=ref.label, templates=', '.join(TEMPLATES))

    ctx.progress(0.0, "Preparing the data", phase="setup")
    data = prepare(spec.data, stage.data_target, ctx.workspace.root, seed=spec.training.seed)
    for finding in data.warnings[:20]:
        events.log(f"data warning: {finding.one_line()}")
    data = _replay(spec, recipe, data, ctx)  # keep general abilities: the base's own answers mixed in
    report = length_report(data.train, stage.data_target, tokenizer, spec.training.max_length)
    report.update(format=data.format, train_rows=data.rows, eval_rows=len(data.eval) if data.eval else 0)
    write_json(run_dir / "data_report.json", report)
    if report.get("truncated_rows"):
        rows = report["truncated_rows"]
        events.log(f"data warning: {len(rows)} rows are longer than max_length={spec.training.max_length} tokens "
                   f"and will be cut (rows {', '.join(map(str, rows[:10]))}{'…' if len(rows) > 10 else ''}); "
                   "raise training.max_length to keep them whole")

    ctx.progress(0.0, f"Loading {ref.label}", phase="setup")
    set_seed(spec.training.seed)  # new weights (LoRA matrices, a reward model's score head) start the same every run
    from .precision import plan  # dtype auto: fp32 master weights where the method updates the base on a GPU

    model = load_model(ref, plan(spec, device)[0], device, spec.model.trust_remote_code, spec.model.allow_pickle,
                       kind=stage.model_kind, **method.load_kwargs(spec.method_config(), device),
                       **kernels.attention_kwargs(spec, device, events.log))  # fused kernels: kernels.py
    model = kernels.apply_liger(model, spec, device, events.log)
    model = method.wrap(model, spec.method_config())
    model = ensure_head_trainable(model, method.name)  # a reward model's new score head must train
    upcast_trainable(model)  # a bf16 frozen base (train.precision) trains fp32 adapters
    if device == "cpu" and (fused := fused_lora.install(model)):  # exact; why: train/fused_lora.py
        events.log(f"fused LoRA step on the bf16 base: {fused} layers")
    params = count_parameters(model)
    write_json(run_dir / "params.json", params)
    events.log(f"trainable parameters: {params['trainable']:,} of {params['total']:,}")
    ctx.check_cancelled()

    checkpoint_dir = run_dir / CHECKPOINTS
    tctx = TrainContext(spec=spec, model=model, tokenizer=tokenizer, train_dataset=data.train,
                        eval_dataset=data.eval,
                        training_args=training_args(spec, checkpoint_dir, device, data.eval is not None),
                        callbacks=[JobCallback(ctx, checkpoint_dir)], run_dir=run_dir, device=device,
                        model_ref=ref, job=ctx, workspace_root=ctx.workspace.root,
                        extras=speed_extras(spec, stage.name, model, data, stage.data_target, tokenizer, report,
                                            events))
    trainer = stage.build_trainer(tctx)
    method.before_train(trainer, spec.method_config(), run_dir)  # e.g. a LoRA+ optimizer, sparse masks
    resume = latest_complete(checkpoint_dir)
    if resume is not None:
        step = int(resume.name.split("-")[1])
        _trim_metrics(run_dir, step)
        events.log(f"resuming from {resume.name}")
    started = time.time()
    result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    if ctx.cancel_requested:
        raise JobCancelled()

    ctx.cooperative = False
    ctx.progress(1.0, "Saving the adapter", phase="save")
    target = run_dir / (ADAPTER_DIR if method.artifact == "adapter" else "model")
    # accelerate leaves an autocast wrapper on forward under mixed precision: save (and hand on) the plain model
    model = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    packed_attention.restore(model)  # the saved model (and the probe's) attends the standard way
    fused_lora.restore(model)
    with atomic_dir(target, replace=True) as tmp:
        method.save(model, tmp)
        tokenizer.save_pretrained(tmp)
        write_json(tmp / "studio_run.json", {"base_model": spec.model.name, "base_path": str(ref.path),
                                             "method": spec.method, "method_args": spec.method_args,
                                             "stage": spec.stage, "run": run_dir.name,
                                             "model_kind": stage.model_kind})
    summary = {"train_runtime_s": round(time.time() - started, 2), "global_step": trainer.state.global_step,
               "train_loss": result.training_loss, "resumed_from": resume.name if resume else None,
               "metrics": result.metrics, "recipe": recipe, **params}
    write_json(run_dir / "summary.json", summary)
    events.progress(1.0, f"done: {trainer.state.global_step} steps, loss {result.training_loss:.4f}",
                    phase="done", step=trainer.state.global_step, total=trainer.state.max_steps, force=True)
    events.log(json.dumps(summary, default=str))
    artifacts = {"adapter" if method.artifact == "adapter" else "model": str(target),
                 "summary": str(run_dir / "summary.json")}
    _queue_probe(spec, ctx, artifacts)
    return artifacts


# ---------------------------------------------------------------- the default recipe (studio/recipe/run.py)

def _recipe(spec: RunSpec, ctx) -> tuple[RunSpec, dict]:
    from ..recipe import run as recipe_run

    return recipe_run.apply(spec, ctx)


def _replay(spec: RunSpec, recipe: dict, data, ctx):
    from ..recipe import run as recipe_run

    return recipe_run.mix(spec, recipe, data, ctx)


def _queue_probe(spec: RunSpec, ctx, artifacts: dict) -> None:
    from ..recipe import run as recipe_run

    recipe_run.queue_probe(spec, ctx, artifacts)
