"""Weights from strangers: refuse pickle files before any loader (torch, peft, vLLM) opens them.

Model folders are checked in `registry._check_local`; adapters (LoRA and the other tuned-weight
folders) are checked here, the same way, by every place that loads one (chat, serve, eval, merge).
A pickle (`adapter_model.bin`, `.pt`, `.pth`, `.pkl`) can run code when it is loaded, so a folder whose
weights are only pickles is refused in one plain sentence unless the user allowed pickles for it.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import StudioError

ALLOW_ENV = "STUDIO_ALLOW_PICKLE"  # folders (os.pathsep-separated) whose pickle weights the user trusts

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
# files a training checkpoint keeps next to its weights; no adapter loader reads them
TRAINING_STATE = ("optimizer.pt", "scheduler.pt", "training_args.bin", "scaler.pt")


def pickle_weights(folder: str | Path) -> list[str]:
    """Pickle files a loader could read from `folder` (the weights), ignoring a checkpoint's training state."""
    folder = Path(folder)
    return sorted(p.name for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in PICKLE_SUFFIXES and p.name not in TRAINING_STATE
                  and not p.name.startswith("rng_state"))


def allowed_by_user(path: Path) -> bool:
    """Whether the user allowed pickles for `path`: it lies in a folder listed in $STUDIO_ALLOW_PICKLE.

    The permission lives with the user (the environment the studio or CLI was started with), never in
    a file inside the adapter's own folder, which whoever sent the adapter could have written.
    """
    resolved = path.resolve()
    for entry in filter(None, os.environ.get(ALLOW_ENV, "").split(os.pathsep)):
        root = Path(entry).expanduser().resolve()
        if resolved == root or root in resolved.parents:
            return True
    return False


def check_adapter(folder: str | Path, allow_pickle: bool = False) -> Path:
    """Refuse an adapter folder whose weights are pickles (unless allowed); returns the folder.

    Loaders prefer `*.safetensors` when a folder has both, so only a folder without safetensors
    weights and with pickle weights is refused. Allowed: `allow_pickle=True` from a spec the user
    wrote, or a folder under one listed in $STUDIO_ALLOW_PICKLE.
    """
    path = Path(folder).expanduser()
    if not path.is_dir():
        return path  # the loader reports a missing folder in its own words; nothing is unpickled
    if any(p.suffix == ".safetensors" for p in path.iterdir()):
        return path
    pickles = pickle_weights(path)
    if pickles and not (allow_pickle or allowed_by_user(path)):
        raise StudioError(key="security.pickle_adapter", path=str(path), files=", ".join(pickles[:3]))
    return path
