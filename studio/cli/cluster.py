"""`studio cluster add|list|remove|script`: the workspace's Ray and Slurm clusters.

    studio cluster add farm --ray http://HEAD:8265
    studio cluster add hpc --slurm --partition gpu --gpus-per-node 8 --time 12:00:00
    studio train RUN.yaml --cluster farm
"""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("cluster", help="Ray and Slurm clusters that jobs can run on")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    add = actions.add_parser("add", help="add (or with --replace, change) a cluster")
    add.add_argument("name")
    kind = add.add_mutually_exclusive_group(required=True)
    kind.add_argument("--ray", metavar="URL", help="the Ray Jobs API (dashboard) address, http://HEAD:8265")
    kind.add_argument("--slurm", action="store_true", help="submit through this machine's sbatch")
    add.add_argument("--python", default="", help="the Python with studio installed on the cluster "
                                                  "(default: the one running now)")
    add.add_argument("--partition", default="", help="Slurm partition")
    add.add_argument("--gpus-per-node", type=int, default=0, help="Slurm GPUs per node (default: the run's)")
    add.add_argument("--time", default="04:00:00", help="Slurm time limit, e.g. 12:00:00")
    add.add_argument("--account", default="", help="Slurm account")
    add.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                     help="environment for the cluster's jobs (no secrets: they show in the cluster's records)")
    add.add_argument("--replace", action="store_true")
    add.set_defaults(func=add_cluster)
    ls = actions.add_parser("list", help="list the clusters")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_clusters)
    rm = actions.add_parser("remove", help="forget a cluster (its jobs keep their records)")
    rm.add_argument("name")
    rm.set_defaults(func=remove_cluster)
    sc = actions.add_parser("script", help="print the sbatch script a run would be submitted with")
    from .train import add_run_arguments

    add_run_arguments(sc)
    sc.add_argument("--cluster", required=True)
    sc.set_defaults(func=print_script)


def add_cluster(args) -> int:
    from ..clusters import registry
    from ..errors import StudioError
    from . import workspace_from

    env = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise StudioError(key="cluster.bad_env", item=item)
        env[key.strip()] = value
    cluster = registry.Cluster(name=args.name, kind="ray" if args.ray else "slurm", address=args.ray or "",
                               python=args.python, partition=args.partition, gpus_per_node=args.gpus_per_node,
                               time=args.time, account=args.account, env=env)
    registry.add(workspace_from(args).root, cluster, replace=args.replace)
    print(f"{cluster.name}: {cluster.kind} {cluster.address or cluster.partition or ''}".rstrip())
    return 0


def list_clusters(args) -> int:
    from ..clusters import registry
    from . import workspace_from

    clusters = registry.load(workspace_from(args).root)
    if args.json:
        print(json.dumps([c.public() for c in clusters.values()], indent=2))
        return 0
    for c in clusters.values():
        where = c.address if c.kind == "ray" else f"partition={c.partition or '-'} time={c.time}"
        print(f"{c.name:20s} {c.kind:6s} {where}")
    return 0


def remove_cluster(args) -> int:
    from ..clusters import registry
    from . import workspace_from

    registry.remove(workspace_from(args).root, args.name)
    print(f"{args.name} removed")
    return 0


def print_script(args) -> int:
    from ..clusters import registry, slurm
    from ..spec import build_spec
    from . import workspace_from
    from .train import build_raw

    ws = workspace_from(args)
    raw, source = build_raw(args, ws.root)
    spec = build_spec(raw, [*args.overrides, f"resources.cluster={args.cluster}"], source=source)
    cluster = registry.get(ws.root, args.cluster)
    print(slurm.preview(cluster, spec, ws.root), end="")
    return 0
