"""`studio merge`: fold adapters into their base, combine adapters, or average models; verified.

    studio merge runs/NAME/adapter [--name NAME] [--dtype bfloat16] [--output DIR]
    studio merge A/adapter B/adapter --combine ties --weights 0.7 0.3 [--density 0.5]
    studio merge merged/X merged/Y --soup [--weights 1 1]
    studio merge MERGE.yaml [--set dtype=bfloat16]   (keys: studio/merge/spec.py)

Runs as a merge job (same as the Merge tab), prints the verification and the folder; `--output`
also copies the result there.
"""

from __future__ import annotations


def register(sub) -> None:
    from ..merge.runner import COMBINATIONS, DTYPES

    p = sub.add_parser("merge", help="merge adapters into their base (or combine / soup), verified",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("sources", nargs="+", help="adapter folder(s), model folders with --soup, or one MERGE.yaml")
    p.add_argument("--combine", choices=COMBINATIONS, help="combine several LoRA adapters into one (peft)")
    p.add_argument("--soup", action="store_true", help="average the weights of whole models of one base")
    p.add_argument("--weights", type=float, nargs="+", help="one weight per source (combine / soup)")
    p.add_argument("--density", type=float, default=0.5, help="kept fraction for ties / dare / magnitude_prune")
    p.add_argument("--base", help="base model (default: the one the artifact names)")
    p.add_argument("--name", help="folder name under merged/")
    p.add_argument("--dtype", choices=DTYPES, default="float32", help="precision of the saved weights")
    p.add_argument("--output", help="also copy the result to this folder")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key of the merge spec (mode, dtype, weights, combination, density, name, ...)")
    p.set_defaults(func=run)


def build_spec(args):
    """The merge spec from MERGE.yaml or the folders and flags, through the builder the Merge tab uses."""
    from pathlib import Path

    from ..errors import StudioError
    from ..merge.spec import MergeSpec, merge_spec
    from ..spec import build_typed, load_yaml

    if len(args.sources) == 1 and Path(args.sources[0]).suffix in (".yaml", ".yml") \
            and Path(args.sources[0]).is_file():
        return build_typed(MergeSpec, load_yaml(args.sources[0]), args.overrides, args.sources[0], "merge")
    if args.weights and not (args.combine or args.soup):
        raise StudioError(key="merge.weights_without_mode")
    mode = "soup" if args.soup else "combine" if args.combine or len(args.sources) > 1 else "merge"
    spec = merge_spec(args.sources, mode, args.weights, args.combine or "linear", args.density, args.dtype, args.base,
                      args.name)
    if not args.overrides:
        return spec
    return build_typed(MergeSpec, spec.model_dump(mode="json"), args.overrides, "merge", "merge")


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
    from pathlib import Path

    from ..jobs import JobManager
    from . import workspace_from
    from .follow import follow

    manager = JobManager(workspace_from(args))
    spec = build_spec(args)
    job = manager.submit("merge", spec.model_dump(mode="json"), title=f"merge · {Path(spec.sources()[0]).parent.name}")
    return follow(manager, job, lambda done: report(done, args.output))


def report(job, output: str | None) -> None:
    """The verification, and the copy to --output when one was asked for."""
    import shutil
    from pathlib import Path

    from ..errors import StudioError
    from .follow import read_artifact

    print(describe(read_artifact(job, "report")))
    if output:
        target = Path(output).expanduser()
        if target.exists():
            raise StudioError(key="merge.output_exists", target=str(target))
        shutil.copytree(job.artifacts["model"], target)
        print(f"copied to {target}")
