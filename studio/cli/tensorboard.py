"""`studio tensorboard` and `studio tracking`: see every run's curves, and set up other trackers.

    studio tensorboard [--port N] [--detach]      # TensorBoard over <workspace>/runs on 127.0.0.1
    studio tracking show
    studio tracking set wandb --project my-proj --key-env WANDB_API_KEY
    studio tracking set mlflow --uri http://127.0.0.1:5000 --project tune
    studio tracking set wandb --off

Every training run writes TensorBoard event files into its `tensorboard/` folder; the trackers set
here are used by later runs when their package is installed. A key is read from the environment
variable named by --key-env and kept encrypted in the workspace, never in tracking.yaml.
"""

from __future__ import annotations

import os
import sys
import time


def register(sub) -> None:
    p = sub.add_parser("tensorboard", help="start TensorBoard over the workspace's runs (a serve job)",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--detach", action="store_true", help="print the address and leave the job running")
    p.set_defaults(func=run_tensorboard)

    tr = sub.add_parser("tracking", help="turn MLflow / W&B / trackio reporting on or off for training runs")
    actions = tr.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    show = actions.add_parser("show", help="print the trackers set up in this workspace")
    show.set_defaults(func=run_show)
    from ..tracking.settings import TRACKERS

    put = actions.add_parser("set", help="turn a tracker on (or --off) with its settings")
    put.add_argument("tracker", choices=list(TRACKERS))
    put.add_argument("--off", action="store_true", help="turn it off")
    put.add_argument("--project", help="project / experiment name")
    put.add_argument("--uri", help="MLflow tracking URI")
    put.add_argument("--entity", help="W&B entity")
    put.add_argument("--mode", help="W&B mode (online, offline)")
    put.add_argument("--space", help="trackio Space id")
    put.add_argument("--key-env", help="environment variable holding the tracker's API key / password")
    put.set_defaults(func=run_set)


def start(manager, port: int | None = None):
    """Submit the TensorBoard job, or return the one already running."""
    from ..tracking.tensorboard import job_spec, running

    return running(manager) or manager.submit("tensorboard", job_spec(manager.workspace, port), title="TensorBoard")


def wait_url(manager, job_id: str, timeout: float = 180.0) -> str | None:
    from ..tracking.tensorboard import info

    deadline = time.time() + timeout
    while time.time() < deadline:
        manager.tick()
        job = manager.get(job_id)
        found = info(job.run_dir)
        if found:
            return found["url"]
        if job.state not in ("queued", "running"):
            return None
        time.sleep(0.5)
    return None


def run_tensorboard(args) -> int:
    from ..errors import StudioError
    from ..jobs import JobManager
    from . import workspace_from
    from .follow import announce

    manager = JobManager(workspace_from(args))
    job = start(manager, args.port)
    announce(job)
    url = wait_url(manager, job.id)
    if not url:
        job = manager.get(job.id)
        raise StudioError(key="tracking.tensorboard_died", log=f"{job.run_dir}/tensorboard.log")
    print(url)
    if args.detach:
        print(f"stop it with: studio jobs cancel {job.id}", file=sys.stderr)
        return 0
    print("Ctrl-C stops TensorBoard", file=sys.stderr, flush=True)
    try:
        while manager.get(job.id).state == "running":
            time.sleep(1.0)
    except KeyboardInterrupt:
        manager.cancel(job.id, wait=True)
    return 0


def run_show(args) -> int:
    from ..tracking.settings import installed, load
    from . import workspace_from

    data = load(workspace_from(args).root)
    if not data:
        print("TensorBoard only (no other tracker set up)")
    for name, entry in data.items():
        settings = ", ".join(f"{k}={v}" for k, v in entry.items() if k != "enabled")
        state = "on" if entry.get("enabled") else "off"
        note = "" if installed(name) else " (package not installed: not used)"
        print(f"{name}: {state}{' · ' + settings if settings else ''}{note}")
    return 0


def run_set(args) -> int:
    from ..errors import StudioError
    from ..tracking.settings import TRACKERS, configure
    from . import workspace_from

    key = None
    if args.key_env:
        key = os.environ.get(args.key_env)
        if not key:
            raise StudioError(key="tracking.empty_key", var=args.key_env)
    allowed = TRACKERS[args.tracker][2]
    given = {k: getattr(args, k) for k in ("project", "uri", "entity", "mode", "space") if getattr(args, k)}
    bad = set(given) - set(allowed)
    if bad:
        raise StudioError(key="tracking.unknown_setting", name=", ".join(sorted(bad)), tracker=args.tracker,
                          choices=", ".join(allowed))
    configure(workspace_from(args).root, args.tracker, enabled=not args.off, key=key, **given)
    return run_show(args)
