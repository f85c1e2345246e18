"""`studio eval --harness TASKS`: standard benchmarks through lm-evaluation-harness, base vs tuned.

    studio eval --harness mmlu,gsm8k --model smollm2-135m-instruct --adapter runs/NAME/adapter
    studio eval --harness local --mc-file questions.jsonl --model tiny-random-llama --tuned-model merged/X
    studio eval --harness my_task --include my_tasks/ --limit 50

Hub benchmarks (mmlu, ceval-valid, cmmlu, gsm8k, hellaswag ...) need internet access for their data;
local tasks (a multiple-choice JSONL via --mc-file, or task YAML files in --include) run offline.
Registered by studio/cli/eval.py; the job kind is `lmeval` (studio/eval/lmeval.py).
"""

from __future__ import annotations


def add_arguments(p) -> None:
    g = p.add_argument_group("lm-evaluation-harness (--harness)")
    g.add_argument("--harness", metavar="TASKS",
                   help="comma-separated lm-eval tasks (mmlu, gsm8k, hellaswag... need the hub); 'local' with "
                        "--mc-file alone")
    g.add_argument("--model", dest="lm_model", help="base model (default: the embedded model)")
    g.add_argument("--adapter", dest="lm_adapter", help="tuned side: an adapter of the base")
    g.add_argument("--tuned-model", dest="lm_tuned", help="tuned side: a merged / full model folder")
    g.add_argument("--mc-file", help="local multiple-choice JSONL (question, choices, answer index)")
    g.add_argument("--include", help="folder of local lm-eval task YAML files")
    g.add_argument("--limit", type=int, default=0, help="examples per task (0: all)")
    g.add_argument("--fewshot", type=int, help="few-shot examples (default: the task's)")


def build_spec(harness: str | None, model: str | None, adapter: str | None, tuned: str | None,
               mc_file: str | None, include: str | None, limit: int = 0, fewshot: int | None = None):
    from pathlib import Path

    from ..errors import StudioError
    from ..eval.lmeval import build

    tasks = [t.strip() for t in (harness or "").split(",") if t.strip() and t.strip() != "local"]
    if not tasks and not mc_file:
        raise StudioError(key="lmeval.no_tasks")

    def fix(value):
        return str(Path(value).resolve()) if value and Path(value).exists() else value

    raw = {"model": fix(model) or "smollm2-135m-instruct", "adapter": fix(adapter), "tuned_model": fix(tuned),
           "tasks": tasks, "mc_file": fix(mc_file), "include_path": fix(include), "limit": limit,
           "num_fewshot": fewshot}
    return build(raw, "studio eval --harness")


def run(args) -> int:
    from ..jobs import JobManager
    from . import workspace_from
    from .follow import follow

    spec = build_spec(args.harness, args.lm_model, args.lm_adapter, args.lm_tuned, args.mc_file, args.include,
                      args.limit, args.fewshot)
    manager = JobManager(workspace_from(args))
    names = ", ".join(spec.tasks + (["local"] if spec.mc_file else []))
    job = manager.submit("lmeval", spec.model_dump(mode="json"), title=f"lm-eval · {names}")
    return follow(manager, job, report, detach=args.detach)


def report(job) -> None:
    """The base-vs-tuned table and where the full results are."""
    from ..eval.lmeval import format_table
    from .follow import read_artifact

    print(format_table(read_artifact(job, "summary")))
    print(f"results: {job.artifacts['summary']}")
