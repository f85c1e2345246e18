"""`studio train`: start a run from a YAML spec or a preset, follow it, exit non-zero if it fails."""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser("train", help="train from RUN.yaml or a preset",
                       description="Start a training job and follow it. Keys for --set are the spec's own "
                                   "names (max_steps, learning_rate, batch_size, save_steps, seed, method, "
                                   "stage, r, ...) or dotted paths (training.max_steps).")
    add_run_arguments(p)
    p.add_argument("--detach", action="store_true", help="queue the job and return at once")
    p.add_argument("--cluster", help="run on this cluster (see `studio cluster list`)")
    p.set_defaults(func=run)


def add_run_arguments(p, name_help: str = "run name (folder under runs/)") -> None:
    """The arguments every command that builds a run spec takes (read by `build_raw`)."""
    p.add_argument("spec", nargs="?", help="run spec YAML")
    p.add_argument("--preset", help="start from a preset (see `studio presets`)")
    p.add_argument("--model", help="model name or folder")
    p.add_argument("--data", help="data file or saved dataset name")
    p.add_argument("--name", help=name_help)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")


def build_raw(args, workspace_root) -> tuple[dict, str]:
    from ..errors import StudioError
    from ..presets import get_preset
    from ..spec import load_yaml

    if not args.spec and not args.preset:
        raise StudioError(key="cli.nothing_train")
    raw: dict = {}
    source = args.spec or f"preset {args.preset}"
    if args.preset:
        raw = get_preset(args.preset, workspace_root).spec
    if args.spec:
        raw = _merge(raw, load_yaml(args.spec))
    if args.model:
        raw.setdefault("model", {})["name"] = args.model
    if args.data:
        raw.setdefault("data", {})["path"] = _here(args.data)
    if args.name:
        raw["name"] = args.name
    return raw, source


def _here(path: str) -> str:
    """A data file named relative to where the command runs (the worker runs elsewhere); a dataset name stays."""
    from pathlib import Path

    return str(Path(path).resolve()) if Path(path).exists() else path


def _merge(base: dict, top: dict) -> dict:
    out = dict(base)
    for key, value in top.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def run(args) -> int:
    from ..jobs import JobManager
    from ..runs import start_training
    from ..spec import build_spec
    from . import workspace_from
    from .follow import follow

    ws = workspace_from(args)
    raw, source = build_raw(args, ws.root)
    cluster = [f"resources.cluster={args.cluster}"] if getattr(args, "cluster", None) else []
    if cluster:
        from ..clusters import registry

        registry.get(ws.root, args.cluster)  # an unknown name is an error now, not a failed job later
    notes: list[str] = []
    spec = build_spec(raw, [*args.overrides, *cluster], source=source, notes=notes)
    for note in notes:
        print(f"note: {note}", file=sys.stderr, flush=True)
    manager = JobManager(ws)
    job = start_training(manager, spec)
    print(job.run_dir, flush=True)
    return follow(manager, job, detach=args.detach)
