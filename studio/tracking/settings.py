"""Which trackers a training run reports to, through transformers' own callbacks (`report_to`).

TensorBoard is always on: transformers' `TensorBoardCallback` writes event files into the run's
`tensorboard/` folder (it reads the folder from `TENSORBOARD_LOGGING_DIR`; transformers 5 has no
`logging_dir` argument any more), so `studio tensorboard` can show every run of the workspace.

MLflow, Weights & Biases and trackio are extra: each is used only when the user turned it on in
`<workspace>/tracking.yaml` (`studio tracking set ...`) *and* its package is installed. Their settings
(project, tracking URI) are plain environment variables of the libraries' own callbacks; their keys
(WANDB_API_KEY, MLFLOW_TRACKING_PASSWORD, ...) are kept encrypted with the job secrets' key
(`studio.jobs.secrets`, entry `tracking`), never in the YAML file, and reach only the training worker's
environment.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import yaml

from ..atomic import write_text
from ..errors import StudioError

FILE = "tracking.yaml"
SECRET_ENTRY = "tracking"
TB_FOLDER = "tensorboard"
# tracker -> (python package, report_to name, setting -> environment variable its callback reads)
TRACKERS = {
    "mlflow": ("mlflow", "mlflow", {"uri": "MLFLOW_TRACKING_URI", "project": "MLFLOW_EXPERIMENT_NAME"}),
    "wandb": ("wandb", "wandb", {"project": "WANDB_PROJECT", "entity": "WANDB_ENTITY", "mode": "WANDB_MODE"}),
    "trackio": ("trackio", "trackio", {"project": "TRACKIO_PROJECT_NAME", "space": "TRACKIO_SPACE_ID"}),
}
KEY_VARS = {"mlflow": "MLFLOW_TRACKING_PASSWORD", "wandb": "WANDB_API_KEY", "trackio": "HF_TOKEN"}


def _path(root: Path) -> Path:
    return Path(root) / FILE


def load(root: Path | None) -> dict:
    """{tracker: {enabled, settings...}} from the workspace (empty when nothing is configured)."""
    if root is None or not _path(root).is_file():
        return {}
    try:
        data = yaml.safe_load(_path(root).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise StudioError(key="tracking.bad_file", path=str(_path(root)), error=str(exc).splitlines()[0]) from None
    return {k: v for k, v in data.items() if k in TRACKERS and isinstance(v, dict)}


def configure(root: Path, tracker: str, enabled: bool = True, key: str | None = None, **settings) -> dict:
    """Turn a tracker on or off with its settings; a key is stored encrypted, not in the file."""
    from ..jobs.secrets import read_secrets, store_secrets

    if tracker not in TRACKERS:
        raise StudioError(key="tracking.unknown", name=tracker, choices=", ".join(TRACKERS))
    unknown = set(settings) - set(TRACKERS[tracker][2])
    if unknown:
        raise StudioError(key="tracking.unknown_setting", name=", ".join(sorted(unknown)), tracker=tracker,
                          choices=", ".join(TRACKERS[tracker][2]))
    data = load(root)
    entry = dict(data.get(tracker) or {}, enabled=bool(enabled))
    entry.update({k: v for k, v in settings.items() if v is not None})
    data[tracker] = entry
    write_text(_path(root), yaml.safe_dump(data, sort_keys=True, allow_unicode=True))
    if key:
        keys = read_secrets(root, SECRET_ENTRY)
        keys[tracker] = key
        store_secrets(root, SECRET_ENTRY, keys)
    return data


def installed(tracker: str) -> bool:
    return importlib.util.find_spec(TRACKERS[tracker][0]) is not None


def workspace_of(run_dir: Path) -> Path | None:
    """The workspace a run folder belongs to (the folder holding studio.db above it), if any."""
    for parent in list(Path(run_dir).resolve().parents)[:3]:
        if (parent / "studio.db").exists():
            return parent
    return None


def _stderr(message: str) -> None:
    import sys

    print(message, file=sys.stderr, flush=True)


def report_to(run_dir: Path, root: Path | None = None, log=_stderr) -> list[str]:
    """The `report_to` list for one run; sets the environment the callbacks read (in the worker)."""
    from ..jobs.secrets import read_secrets

    root = root or workspace_of(run_dir)

    os.environ["TENSORBOARD_LOGGING_DIR"] = str(Path(run_dir) / TB_FOLDER)
    out = ["tensorboard"]
    wanted = {k: v for k, v in load(root).items() if v.get("enabled")}
    keys = read_secrets(root, SECRET_ENTRY) if wanted and root is not None else {}
    for tracker, entry in wanted.items():
        package, name, env = TRACKERS[tracker]
        if not installed(tracker):
            if log:
                log(f"tracking: {tracker} is turned on but the '{package}' package is not installed; "
                    f"install it (pip install {package}) or turn it off (studio tracking set {tracker} --off)")
            continue
        for setting, var in env.items():
            if entry.get(setting):
                os.environ[var] = str(entry[setting])
        if keys.get(tracker):
            os.environ[KEY_VARS[tracker]] = keys[tracker]
        out.append(name)
    return out
