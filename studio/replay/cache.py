"""The base model's own answers to the bundled general prompts, cached once per base model.

Key: model name + revision + a fingerprint of the model folder (config.json and the weight files'
names and sizes), so a re-converted or updated model gets fresh answers. Answers are greedy and
bounded (`MAX_TOKENS`), so the same engine gives the same text again. Only the answers a run needs
are generated (its mix slice and the probe slice); a later run that needs more extends the file.
The file is rewritten whole and atomically, merged under a lock, so two runs never lose answers.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from ..atomic import read_jsonl, write_json, write_jsonl
from . import prompts as bundled

MAX_TOKENS = 64
PROBE_KEPT = 16  # probe prompts answered per base model (the "kept" questions of every probe report)
BATCH = 64  # one batch: on a CPU a decode step costs about the same for 16 or 64 rows
ENGINE_ENV = "STUDIO_REPLAY_ENGINE"  # auto (default) | vllm | transformers


def cache_dir(model_spec) -> Path:
    """<model cache>/replay/<model>-<fingerprint>/ for a ModelSpec (resolves the model folder)."""
    from ..models import resolve
    from ..workspace import cache_root, safe_name

    ref = resolve(model_spec.name, allow_pickle=model_spec.allow_pickle, revision=model_spec.revision)
    digest = hashlib.sha256(f"{model_spec.name}\0{model_spec.revision or ''}\0{MAX_TOKENS}".encode())
    folder = Path(ref.path)
    config = folder / "config.json"
    if config.is_file():
        digest.update(config.read_bytes())
    for weights in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    label = safe_name(Path(model_spec.name).name, "model name")[:60]
    return cache_root() / "replay" / f"{label}-{digest.hexdigest()[:16]}"


def needed(replay_rows: int) -> list[bundled.Prompt]:
    """The prompts a run needs answered: its mix slice (first `replay_rows`) and the probe slice."""
    return bundled.mix_part()[:replay_rows] + bundled.probe_part()[:PROBE_KEPT]


def read(folder: Path) -> dict[str, str]:
    return {r["id"]: r["answer"] for r in read_jsonl(folder / "answers.jsonl") if "id" in r and "answer" in r}


def missing_count(model_spec, replay_rows: int) -> int:
    try:
        have = read(cache_dir(model_spec))
    except Exception:  # noqa: BLE001 - for an estimate only
        have = {}
    return sum(1 for p in needed(replay_rows) if p.id not in have)


@contextmanager
def _locked(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def store(folder: Path, answers: dict[str, str], model_name: str, engine: str) -> dict[str, str]:
    """Merge `answers` into the cache file (atomically, under the lock); returns everything cached."""
    with _locked(folder):
        have = read(folder)
        have.update(answers)
        order = {p.id: i for i, p in enumerate(bundled.load())}
        rows = [{"id": k, "answer": v} for k, v in sorted(have.items(), key=lambda kv: order.get(kv[0], 1 << 30))]
        write_jsonl(folder / "answers.jsonl", rows)
        write_json(folder / "meta.json", {"model": model_name, "max_tokens": MAX_TOKENS, "engine": engine,
                                          "answers": len(rows), "updated_at": time.time()})
    return have


def ensure(model_spec, wanted: list[bundled.Prompt], progress: Callable[[float | None, str], None],
           log: Callable[[str], None] = print) -> tuple[dict[str, str], dict]:
    """Answers for every prompt in `wanted` (generating the missing ones); and what happened.

    Raises StudioError(key="recipe.replay_failed") naming the engine and the reason when generation fails.
    """
    folder = cache_dir(model_spec)
    have = read(folder)
    missing = [p for p in wanted if p.id not in have]
    info = {"cache": str(folder), "wanted": len(wanted), "cached": len(wanted) - len(missing),
            "generated": len(missing), "engine": None, "seconds": 0.0}
    if not missing:
        progress(1.0, f"general answers: all {len(wanted)} cached")
        return {p.id: have[p.id] for p in wanted}, info
    started = time.time()
    answers, engine_name = generate(model_spec, missing, progress, log)
    have = store(folder, answers, model_spec.name, engine_name)
    info.update(engine=engine_name, seconds=round(time.time() - started, 2))
    return {p.id: have[p.id] for p in wanted}, info


def generate(model_spec, items: list[bundled.Prompt], progress, log) -> tuple[dict[str, str], str]:
    """Greedy answers of the base model on the inference engine (vLLM when it runs, else transformers)."""
    from ..errors import JobCancelled, StudioError
    from ..infer.base import Sampling
    from ..infer.serve import engine_options
    from ..infer.start import open_engine
    from ..models import resolve

    wanted = os.environ.get(ENGINE_ENV, "auto")
    path = str(resolve(model_spec.name, allow_pickle=model_spec.allow_pickle, revision=model_spec.revision).path)
    engine = None
    try:
        progress(0.0, f"general answers: starting the engine for {len(items)} answers")
        engine, _fallback = open_engine(wanted, path, lambda name: engine_options(
            {"adapters": {}, "chat_template": model_spec.chat_template}, name), {}, log)
        sampling = Sampling(temperature=0.0, max_tokens=MAX_TOKENS)
        out: dict[str, str] = {}
        for start in range(0, len(items), BATCH):
            batch = items[start:start + BATCH]
            done = engine.generate([p.conversation() for p in batch], sampling)
            out.update({p.id: c.text.strip() for p, c in zip(batch, done)})
            progress(len(out) / len(items), f"general answers: {len(out)}/{len(items)} from the base model")
        return out, engine.name
    except (JobCancelled, KeyboardInterrupt):
        raise
    except StudioError as exc:
        raise StudioError(key="recipe.replay_failed", model=model_spec.name, reason=exc.one_line()) from exc
    except Exception as exc:  # any engine failure is said in one line; the traceback is in the worker log
        raise StudioError(key="recipe.replay_failed", model=model_spec.name,
                          reason=f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}") from exc
    finally:
        if engine is not None:
            engine.close()


def mix_rows(answers: dict[str, str], replay_rows: int) -> list[dict]:
    """Training rows (prompt/completion, the SFT target shape) from the first `replay_rows` mix prompts."""
    # an empty answer is kept: it is what the base does (a model that stops at once is replayed as such)
    return [{"prompt": p.conversation(), "completion": [{"role": "assistant", "content": answers[p.id]}]}
            for p in bundled.mix_part()[:replay_rows] if p.id in answers]


