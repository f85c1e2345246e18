"""Standard benchmarks through lm-evaluation-harness (`lm-eval`): base and tuned scored in one job.

Any lm-eval task works by name (mmlu, ceval-valid, cmmlu, gsm8k, hellaswag, arc_easy ...), but those
download their data from the Hugging Face Hub: offline (as on this machine) they fail, and the job
says so, naming the task. Local tasks run offline: lm-eval task YAML files in a folder
(`include_path`), or a plain multiple-choice JSONL file (`mc_file`: rows with `question`, `choices`
and `answer` — the index of the right choice) that the job turns into such a task.

Each side is scored by lm-eval's own Hugging Face model class (`hf`) on the CPU or GPU: the base
model, then the tuned side — an adapter through lm-eval's `peft=` argument, or a merged / full
model folder. `lmeval_summary.json` holds every task's metrics side by side with tuned-minus-base
deltas; each side's full lm-eval results are kept beside it, in the job folder and, when the tuned
side is an adapter of a training run, in that run's folder too (`lmeval/`).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from pydantic import model_validator

from ..atomic import write_json, write_text
from ..config import Strict, opt
from ..errors import StudioError

SUMMARY = "lmeval_summary.json"
LOCAL_MC = "studio_local_mc"
HUB_TASKS = ("mmlu", "ceval-valid", "cmmlu", "gsm8k", "hellaswag", "arc_easy", "arc_challenge", "truthfulqa_mc2",
             "winogrande")
SHOWN = ("acc", "acc_norm", "exact_match", "f1", "mc2")


class LmEvalSpec(Strict):
    name: str | None = opt(None, "Name of the evaluation", "评估名称")
    model: str = opt("smollm2-135m-instruct", "Base model", "基座模型")
    adapter: str | None = opt(None, "Tuned side: an adapter folder of the base", "微调方：基座的适配器目录")
    tuned_model: str | None = opt(None, "Tuned side: a merged / full model folder", "微调方：合并或全量模型目录")
    tasks: list[str] = opt([], "lm-eval task names (hub tasks need internet; local ones run offline)",
                           "lm-eval 任务名（公开基准需联网下载数据；本地任务可离线运行）")
    include_path: str | None = opt(None, "Folder of local lm-eval task YAML files", "本地 lm-eval 任务 YAML 文件夹")
    mc_file: str | None = opt(None, "Local multiple-choice JSONL (question, choices, answer index)",
                              "本地选择题 JSONL（question、choices、answer 序号）")
    limit: int = opt(0, "Examples per task (0: all)", "每个任务的样本数（0 表示全部）", ge=0)
    num_fewshot: int | None = opt(None, "Few-shot examples (empty: the task's default)", "少样本示例数（留空用任务默认值）",
                                  ge=0)
    batch_size: int = opt(8, "Batch size", "批大小", ge=1, le=512)
    device: str = opt("auto", "cpu, cuda, or auto", "cpu、cuda 或 auto")

    @model_validator(mode="after")
    def _check(self):
        if self.adapter and self.tuned_model:
            raise ValueError("give either adapter or tuned_model, not both")
        if not self.tasks and not self.mc_file:
            raise ValueError("name at least one task, or give mc_file")
        return self

    def sides(self) -> list[tuple[str, str, str | None]]:
        out = [("base", self.model, None)]
        if self.adapter:
            out.append(("tuned", self.model, self.adapter))
        elif self.tuned_model:
            out.append(("tuned", self.tuned_model, None))
        return out


def build(raw: dict, source: str = "lm-eval spec") -> LmEvalSpec:
    from pydantic import ValidationError

    from ..spec import first_error as _first_error

    try:
        return LmEvalSpec.model_validate(raw or {})
    except ValidationError as exc:
        raise StudioError(key="lmeval.bad_spec", source=source, error=_first_error(exc, model=LmEvalSpec)) from None


# ------------------------------------------------------------------ local tasks

def mc_task_yaml(data_file: Path, name: str = LOCAL_MC) -> str:
    """An lm-eval multiple-choice task over a local JSONL file (question, choices, answer index)."""
    import yaml

    return yaml.safe_dump({
        "task": name, "dataset_path": "json", "dataset_kwargs": {"data_files": {"test": str(data_file)}},
        "test_split": "test", "output_type": "multiple_choice",
        "doc_to_text": "Question: {{question}}\nAnswer:", "doc_to_choice": "{{choices}}",
        "doc_to_target": "{{answer}}",
        "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True},
                        {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True}],
        "metadata": {"version": 1.0}}, sort_keys=False, allow_unicode=True)


def check_mc_file(path: Path) -> int:
    """Rows of a local multiple-choice file, checked row by row (file, line, field, what to do)."""
    if not path.is_file():
        raise StudioError(key="lmeval.mc_missing", path=str(path))
    count = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise StudioError(key="lmeval.mc_bad_row", path=path.name, line=number, problem="not valid JSON") from None
        choices = row.get("choices")
        if not isinstance(row.get("question"), str) or not isinstance(choices, list) or len(choices) < 2:
            raise StudioError(key="lmeval.mc_bad_row", path=path.name, line=number,
                              problem="needs question (text) and choices (a list of 2 or more)")
        if not isinstance(row.get("answer"), int) or not 0 <= row["answer"] < len(choices):
            raise StudioError(key="lmeval.mc_bad_row", path=path.name, line=number,
                              problem=f"answer must be the index of the right choice (0 to {len(choices) - 1})")
        count += 1
    if not count:
        raise StudioError(key="lmeval.mc_bad_row", path=path.name, line=1, problem="the file has no rows")
    return count


def task_setup(spec: LmEvalSpec, folder: Path) -> tuple[list[str], list[str]]:
    """(task names, include paths): a local mc_file becomes a task YAML in `folder`."""
    tasks, include = list(spec.tasks), []
    if spec.include_path:
        if not Path(spec.include_path).is_dir():
            raise StudioError(key="lmeval.include_missing", path=spec.include_path)
        include.append(str(Path(spec.include_path).resolve()))
    if spec.mc_file:
        data = Path(spec.mc_file).resolve()
        check_mc_file(data)
        folder.mkdir(parents=True, exist_ok=True)
        write_text(folder / f"{LOCAL_MC}.yaml", mc_task_yaml(data))
        include.append(str(folder))
        tasks.append(LOCAL_MC)
    return tasks, include


def _offline() -> bool:
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def task_manager(tasks: list[str], include: list[str]):
    """lm-eval's task index (slow to build: thousands of YAML files), refusing unknown task names."""
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=include or None)
    known = set(manager.all_tasks)
    unknown = [t for t in tasks if t not in known]
    if unknown:
        raise StudioError(key="lmeval.unknown_task", names=", ".join(unknown))
    return manager


def local_names(include: list[str]) -> set[str]:
    """Task names declared in the local YAML files (they need no download)."""
    import re

    names = set()
    for folder in include:
        for path in Path(folder).rglob("*.y*ml"):
            names.update(re.findall(r"^(?:task|group):\s*['\"]?([\w\-.]+)", path.read_text(encoding="utf-8"),
                                    re.MULTILINE))
    return names


# ------------------------------------------------------------------ scoring

def _device(name: str) -> str:
    if name != "auto":
        return name
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def score_side(spec: LmEvalSpec, model: str, adapter: str | None, tasks: list[str], include: list[str],
               manager) -> dict:
    """lm-eval's results for one side (its `results`, `versions`, `n-shot`, `config` parts)."""
    import lm_eval

    from ..models import resolve

    args = {"pretrained": str(resolve(model).path), "dtype": "float32", "trust_remote_code": False}
    if adapter:
        args["peft"] = str(Path(adapter).resolve())
    try:
        out = lm_eval.simple_evaluate(model="hf", model_args=args, tasks=tasks, num_fewshot=spec.num_fewshot,
                                      batch_size=spec.batch_size, device=_device(spec.device),
                                      limit=spec.limit or None, log_samples=False,
                                      task_manager=manager,
                                      bootstrap_iters=0, random_seed=0, numpy_random_seed=0, torch_random_seed=0,
                                      fewshot_random_seed=0)
    except Exception as exc:  # noqa: BLE001 - a hub task without its data fails deep inside `datasets`
        text = f"{type(exc).__name__}: {exc}"
        hub = [t for t in tasks if t not in local_names(include)]
        if hub and (_offline() or "connect" in text.lower() or "offline" in text.lower() or "hub" in text.lower()):
            raise StudioError(key="lmeval.needs_hub", names=", ".join(hub), detail=text.splitlines()[0][:200]) \
                from None
        raise
    return {k: out.get(k) for k in ("results", "versions", "n-shot", "n-samples", "higher_is_better")}


def metrics_of(results: dict) -> dict[str, dict[str, float]]:
    """{task: {metric: value}} with lm-eval's ",none" filter suffix removed and stderr left out."""
    out = {}
    for task, values in (results.get("results") or {}).items():
        clean = {}
        for key, value in values.items():
            metric, _, filt = key.partition(",")
            if isinstance(value, (int, float)) and not metric.endswith("_stderr") and metric != "alias":
                clean[metric if filt in ("none", "") else f"{metric} ({filt})"] = float(value)
        out[task] = clean
    return out


def side_by_side(scores: dict[str, dict]) -> dict:
    """{task: {metric: {base, tuned, delta}}} from each side's metrics."""
    tables = {side: metrics_of(result) for side, result in scores.items()}
    out: dict[str, dict] = {}
    for side, tasks in tables.items():
        for task, values in tasks.items():
            for metric, value in values.items():
                out.setdefault(task, {}).setdefault(metric, {})[side] = round(value, 6)
    for task in out.values():
        for cell in task.values():
            if "base" in cell and "tuned" in cell:
                cell["delta"] = round(cell["tuned"] - cell["base"], 6)
    return out


def format_table(summary: dict) -> str:
    lines = [f"{'task':<28}{'metric':<14}{'base':>10}{'tuned':>10}{'delta':>10}"]
    for task, metrics in summary["tasks"].items():
        for metric, cell in metrics.items():
            if metric.split(" ")[0] not in SHOWN:
                continue
            cells = [f"{cell[k]:>10.4f}" if k in cell else f"{'—':>10}" for k in ("base", "tuned", "delta")]
            lines.append(f"{task:<28}{metric:<14}" + "".join(cells))
    return "\n".join(lines)


def evaluate(spec: LmEvalSpec, run_dir: Path, progress) -> dict:
    tasks, include = task_setup(spec, run_dir / "tasks")
    progress(0.02, "Indexing lm-eval's tasks")
    manager = task_manager(tasks, include)
    scores, started = {}, time.time()
    sides = spec.sides()
    for i, (label, model, adapter) in enumerate(sides):
        progress(0.05 + 0.9 * i / len(sides), f"{label}: lm-eval {', '.join(tasks)} on {Path(model).name}"
                 + (f" + {Path(adapter).parent.name}" if adapter else ""))
        scores[label] = score_side(spec, model, adapter, tasks, include, manager)
        write_json(run_dir / "lmeval" / f"{label}.json", scores[label])
    summary = {"tasks": side_by_side(scores), "task_names": tasks, "model": spec.model, "adapter": spec.adapter,
               "tuned_model": spec.tuned_model, "limit": spec.limit, "num_fewshot": spec.num_fewshot,
               "seconds": round(time.time() - started, 1), "lm_eval": _version()}
    write_json(run_dir / SUMMARY, summary)
    copies = _keep_in_run(spec, run_dir, summary)
    return {"summary": str(run_dir / SUMMARY), **({"run_copy": copies} if copies else {})}


def _keep_in_run(spec: LmEvalSpec, run_dir: Path, summary: dict) -> str | None:
    """A copy of the summary in the training run the adapter comes from (its lmeval/ folder)."""
    if not spec.adapter:
        return None
    run = Path(spec.adapter).resolve().parent
    if not (run / "spec.yaml").is_file():
        return None
    target = run / "lmeval" / f"{run_dir.name}.json"
    write_json(target, summary)
    return str(target)


def _version() -> str:
    from importlib.metadata import version

    return version("lm_eval")


def run_job(ctx) -> dict:
    spec = build(ctx.spec, source=f"lm-eval job {ctx.job.id}")
    out = evaluate(spec, ctx.run_dir, lambda f, m: ctx.progress(f, m))
    ctx.events.progress(1.0, "lm-eval done", force=True)
    return out
