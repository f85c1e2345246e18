"""`studio jobs list|show|cancel|resume|logs`: the job manager from a terminal."""

from __future__ import annotations

import json
import time


def register(sub) -> None:
    p = sub.add_parser("jobs", help="list, inspect, cancel and resume jobs")
    jobs = p.add_subparsers(dest="action", metavar="ACTION")
    jobs.required = True
    ls = jobs.add_parser("list", help="list jobs")
    ls.add_argument("--json", action="store_true")
    ls.add_argument("--kind")
    ls.set_defaults(func=list_jobs)
    for name, func, text in (("show", show, "show one job"), ("cancel", cancel, "cancel a job"),
                             ("resume", resume, "resume an interrupted/failed job"),
                             ("logs", logs, "print a job's log")):
        q = jobs.add_parser(name, help=text)
        q.add_argument("id")
        if name == "cancel":
            q.add_argument("--no-wait", action="store_true", help="send the signal and return")
        q.set_defaults(func=func)


def _manager(args):
    """The job manager, after one scheduling pass: every command that reads the queue also moves it,
    so a queue whose worker died starts its next job even with no studio server running."""
    from ..jobs import JobManager
    from . import workspace_from

    manager = JobManager(workspace_from(args))
    manager.tick()
    return manager


def _when(ts) -> str:
    return time.strftime("%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def list_jobs(args) -> int:
    jobs = _manager(args).list(kind=args.kind)
    if args.json:
        print(json.dumps([j.public() for j in jobs], indent=2, default=str))
        return 0
    for j in jobs:
        print(f"{j.id:40s} {j.kind:8s} {j.state:12s} {_when(j.created_at):15s} {j.title}")
    return 0


def show(args) -> int:
    from ..jobs.events import read_progress

    job = _manager(args).get(args.id)
    data = job.public()
    data["progress"] = read_progress(job.run_dir)
    print(json.dumps(data, indent=2, default=str))
    return 0


def cancel(args) -> int:
    job = _manager(args).cancel(args.id, wait=not args.no_wait)
    print(f"{job.id} {job.state}")
    return 0


def resume(args) -> int:
    job = _manager(args).resume(args.id)
    print(f"{job.id} {job.state}")
    return 0


def logs(args) -> int:
    from ..jobs.events import tail_log

    print(tail_log(_manager(args).get(args.id).run_dir, max_bytes=200000))
    return 0
