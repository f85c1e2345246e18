"""The workspace's clusters: `clusters.yaml` in the workspace root, written atomically.

    studio cluster add gpu-farm --ray http://head:8265
    studio cluster add hpc --slurm --partition gpu --gpus-per-node 8 --time 12:00:00

A Ray cluster is reached through its Jobs API (dashboard) address; a Slurm cluster is this machine's
own `sbatch` (or, where there is none, the script is written for the user to copy). Both expect the
workspace at the same path on the cluster's machines (a shared file system): jobs read their data and
write their run folders there.
"""

from __future__ import annotations

import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from ..atomic import write_yaml
from ..errors import StudioError

FILE = "clusters.yaml"
KINDS = ("ray", "slurm")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_TIME = re.compile(r"^(\d+-)?\d{1,2}(:\d{2}){0,2}$")


@dataclass
class Cluster:
    name: str
    kind: str  # ray | slurm
    address: str = ""  # ray: the Jobs API address, http://HEAD:8265
    python: str = ""  # the interpreter with studio installed on the cluster ("" = the one running now)
    partition: str = ""  # slurm
    gpus_per_node: int = 0  # slurm (0: none requested)
    time: str = "04:00:00"  # slurm time limit
    account: str = ""  # slurm
    env: dict[str, str] = field(default_factory=dict)  # extra environment for the job (no secrets)

    @property
    def interpreter(self) -> str:
        return self.python or sys.executable

    def public(self) -> dict:
        return asdict(self)


def _path(root: Path) -> Path:
    return Path(root) / FILE


def load(root: Path) -> dict[str, Cluster]:
    path = _path(root)
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return {name: Cluster(name=name, **entry) for name, entry in data.items()}
    except (yaml.YAMLError, TypeError, AttributeError) as exc:
        raise StudioError(key="cluster.bad_file", path=str(path), error=str(exc)[:200]) from None


def _save(root: Path, clusters: dict[str, Cluster]) -> None:
    data = {}
    for name, c in sorted(clusters.items()):
        entry = c.public()
        entry.pop("name")
        data[name] = entry
    write_yaml(_path(root), data)


def check(cluster: Cluster) -> Cluster:
    if not _NAME.match(cluster.name):
        raise StudioError(key="cluster.bad_name", name=cluster.name)
    if cluster.kind not in KINDS:
        raise StudioError(key="cluster.bad_kind", kind=cluster.kind)
    if cluster.kind == "ray" and not re.match(r"^https?://[^/\s]+(:\d+)?/?$", cluster.address):
        raise StudioError(key="cluster.bad_address", address=cluster.address)
    if cluster.kind == "slurm" and not _TIME.match(cluster.time):
        raise StudioError(key="cluster.bad_time", time=cluster.time)
    cluster.address = cluster.address.rstrip("/")
    return cluster


def add(root: Path, cluster: Cluster, replace: bool = False) -> Cluster:
    clusters = load(root)
    if cluster.name in clusters and not replace:
        raise StudioError(key="cluster.exists", name=cluster.name)
    clusters[cluster.name] = check(cluster)
    _save(root, clusters)
    return cluster


def remove(root: Path, name: str) -> None:
    clusters = load(root)
    if name not in clusters:
        raise StudioError(key="cluster.unknown", name=name, known=", ".join(clusters) or "-")
    del clusters[name]
    _save(root, clusters)


def get(root: Path, name: str) -> Cluster:
    clusters = load(root)
    if name not in clusters:
        raise StudioError(key="cluster.unknown", name=name, known=", ".join(clusters) or "-")
    return clusters[name]
