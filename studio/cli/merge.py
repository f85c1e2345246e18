"""`studio merge`: fold adapters into their base, combine adapters, or average models; verified.

    studio merge runs/NAME/adapter [--name NAME] [--dtype bfloat16] [--output DIR]
    studio merge A/adapter B/adapter --combine ties --weights 0.7 0.3 [--density 0.5]
    studio merge merged/X merged/Y --soup [--weights 1 1]

Runs as a merge job (same as the Merge tab), prints the verification and the folder; `--output`
also copies the result there.
"""

from __future__ import annotations

import sys


def register(sub) -> None:
    from ..merge.runner import COMBINATIONS, DTYPES

    p = sub.add_parser("merge", help="merge adapters into their base (or combine / soup), verified",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("sources", nargs="+", help="adapter folder(s), or model folders with --soup")
    p.add_argument("--combine", choices=COMBINATIONS, help="combine several LoRA adapters into one (peft)")
    p.add_argument("--soup", action="store_true", help="average the weights of whole models of one base")
    p.add_argument("--weights", type=float, nargs="+", help="one weight per source (combine / soup)")
    p.add_argument("--density", type=float, default=0.5, help="kept fraction for ties / dare / magnitude_prune")
    p.add_argument("--base", help="base model (default: the one the artifact names)")
    p.add_argument("--name", help="folder name under merged/")
    p.add_argument("--dtype", choices=DTYPES, default="float32", help="precision of the saved weights")
    p.add_argument("--output", help="also copy the result to this folder")
    p.set_defaults(func=run)


def build_spec(args) -> dict:
    from pathlib import Path

    from ..errors import StudioError

    sources = [str(Path(s).expanduser().resolve()) for s in args.sources]
    spec = {"name": args.name, "dtype": args.dtype, "base_model": args.base}
    if args.soup:
        return dict(spec, mode="soup", models=sources, weights=args.weights)
    if args.combine or len(sources) > 1:
        return dict(spec, mode="combine", adapters=sources, weights=args.weights,
                    combination=args.combine or "linear", density=args.density)
    if args.weights:
        raise StudioError("--weights needs --combine or --soup", "drop --weights to merge one adapter")
    return dict(spec, mode="merge", adapter=sources[0])


def describe(report: dict) -> str:
    check = report["verification"]
    lines = [f"merged model: {report['output']}",
             f"max logit difference vs {report['reference']}: {check['max_abs_logit_diff']:.3e} "
             f"(tolerance {check['tolerance']:g} for {report['dtype']}; "
             f"{'within' if check['within_tolerance'] else 'OUTSIDE'}), "
             f"top-1 agreement {check['top1_agreement']:.1%}"]
    if check.get("note"):
        lines.append(f"note: {check['note']}")
    if report.get("adapter"):
        lines.append(f"combined adapter: {report['adapter']}")
    return "\n".join(lines)


def run(args) -> int:
    import json
    import shutil
    from pathlib import Path

    from ..errors import StudioError
    from ..jobs import JobManager
    from . import workspace_from
    from .train import _printer

    ws = workspace_from(args)
    manager = JobManager(ws)
    job = manager.submit("merge", build_spec(args), title=f"merge · {Path(args.sources[0]).parent.name}")
    print(f"job {job.id} {job.state}", file=sys.stderr, flush=True)
    job = manager.wait(job.id, poll=1.0, on_update=_printer())
    if job.state != "succeeded":
        print(f"error: job {job.id} {job.state}: {job.error or 'see ' + job.run_dir + '/worker.log'}",
              file=sys.stderr)
        return 1
    report = json.loads(Path(job.artifacts["report"]).read_text(encoding="utf-8"))
    print(describe(report))
    if args.output:
        target = Path(args.output).expanduser()
        if target.exists():
            raise StudioError(f"{target} already exists", "choose a new folder for --output")
        shutil.copytree(job.artifacts["model"], target)
        print(f"copied to {target}")
    return 0
