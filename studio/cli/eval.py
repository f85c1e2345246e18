"""`studio eval EVAL.yaml`: batch-evaluate base vs tuned on a validation/test set, print the summary.

    studio eval EVAL.yaml [--set data.limit=20] [--judge-key-env OPENAI_API_KEY] [--detach]

The spec's keys are in studio/eval/spec.py. A judge endpoint's API key is read from the named
environment variable and handed to the job as a secret (never written into the spec).
"""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a tuned adapter / model against its base on a dataset",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("spec", nargs="?", help="EVAL.yaml (not needed with --harness)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key, dotted for nested ones (data.limit=20, sampling.max_tokens=64)")
    p.add_argument("--judge-key-env", help="environment variable that holds the judge endpoint's API key")
    p.add_argument("--detach", action="store_true", help="queue the job and return at once")
    from .lmeval import add_arguments

    add_arguments(p)  # --harness: lm-evaluation-harness benchmarks (studio/cli/lmeval.py)
    p.set_defaults(func=run)


def absolute_paths(raw: dict) -> dict:
    """Paths in the spec that exist relative to here, made absolute (the worker runs elsewhere)."""
    from pathlib import Path

    def fix(value):
        if not (isinstance(value, str) and value and Path(value).expanduser().exists()):
            return value
        return str(Path(value).expanduser().resolve())

    for key in ("model", "adapter", "tuned_model"):
        if key in raw:
            raw[key] = fix(raw[key])
    if isinstance(raw.get("data"), dict):
        raw["data"]["path"] = fix(raw["data"].get("path"))
    return raw


def format_summary(summary: dict) -> str:
    keys = ("exact_match", "rouge_l", "bleu", "loss", "perplexity")
    lines = [f"{summary['examples']} examples ({summary['rows']}), engine {summary['engine']}",
             f"{'':<8}" + "".join(f"{k:>13}" for k in keys)]
    for side, values in summary["sides"].items():
        lines.append(f"{side:<8}" + "".join(f"{values.get(k, '—'):>13}" for k in keys))
    if "delta" in summary:
        lines.append(f"{'delta':<8}" + "".join(f"{summary['delta'].get(k, '—'):>13}" for k in keys))
    if summary.get("judge"):
        j = summary["judge"]
        lines.append(f"judge {j['model']}: win rate {j['win_rate']} (win {j['win']}, loss {j['loss']}, "
                     f"tie {j['tie']}, invalid {j['invalid']})")
    lines.append(f"CSV: {summary['csv']}")
    return "\n".join(lines)


def run(args) -> int:
    import os
    from pathlib import Path

    from ..errors import StudioError
    from ..eval.spec import build
    from ..jobs import JobManager
    from ..spec import load_yaml
    from . import workspace_from
    from .follow import follow, read_artifact

    if args.harness or args.mc_file:
        from .lmeval import run as run_harness

        return run_harness(args)
    if not args.spec:
        raise StudioError(key="cli.studio_eval_needs_eval")
    ws = workspace_from(args)
    spec = build(load_yaml(args.spec), args.spec, args.overrides)  # --set: the same keys and messages as train
    spec = build(absolute_paths(spec.model_dump(mode="json")), args.spec)
    secrets = {}
    if args.judge_key_env:
        if not os.environ.get(args.judge_key_env):
            raise StudioError(key="spec.judge_key_empty", var=args.judge_key_env)
        secrets["judge_api_key"] = os.environ[args.judge_key_env]
    manager = JobManager(ws)
    job = manager.submit("eval", spec.model_dump(mode="json"), title=f"eval · {spec.name or Path(args.spec).stem}",
                         secrets=secrets)
    return follow(manager, job, lambda done: print(format_summary(read_artifact(done, "summary"))),
                  detach=args.detach)
