"""`studio probe RUN_DIR`: the before/after report of a finished SFT run (what it learned, what it kept).

    studio probe runs/orbiton [--detach] [--engine transformers]

Queues a `probe` job that writes probe.json in the run folder (the same job the studio queues after
every run of the default recipe) and prints the report in the CLI's language (STUDIO_LANG).
"""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("probe", help="before/after report of a finished SFT run (writes probe.json)",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", help="the run's folder (runs/NAME)")
    p.add_argument("--engine", choices=["auto", "vllm", "transformers"], default=None,
                   help="inference engine (default: auto, vLLM when it can run the model)")
    p.add_argument("--detach", action="store_true", help="queue the job and return at once")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..errors import StudioError
    from ..jobs import JobManager
    from . import workspace_from
    from .follow import follow

    ws = workspace_from(args)
    run_dir = Path(args.run_dir).resolve()
    if not (run_dir / "spec.yaml").is_file():
        raise StudioError(key="probe.no_run", run=str(run_dir))
    spec = {"run_dir": str(run_dir)}
    if args.engine:
        spec["engine"] = args.engine
    manager = JobManager(ws)
    job = manager.submit("probe", spec, title=f"Probe · {run_dir.name}")
    return follow(manager, job, lambda done: report(run_dir), detach=args.detach, progress=False)


def report(run_dir) -> None:
    """The before/after lines in the CLI's language, and where probe.json is."""
    import json

    from ..eval.probe import PROBE_FILE, lines
    from ..i18n import default_lang

    found = json.loads((run_dir / PROBE_FILE).read_text(encoding="utf-8"))
    print("\n".join(lines(found, default_lang())))
    print(run_dir / PROBE_FILE)
