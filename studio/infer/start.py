"""Starting an engine that is known to answer, with the `auto` fallback shared by serve, eval and CLI.

vLLM-CPU can start and still be unable to run a model (e.g. its attention kernels have no code for
a head size of 16, which the tiny test model has); that shows only at the first request. So a start
ends with a one-token request from the base and from every adapter. With `auto`, a vLLM that
cannot start or answer is closed and the transformers engine takes over; the caller learns why
(`fallback`: None, "not_installed" or "failed") to say so in the UI.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Callable

from ..errors import JobCancelled, StudioError
from .base import Sampling


def warm_up(engine, adapters: list[str]) -> None:
    """One token from the base and each adapter; raises StudioError if the engine cannot run the model."""
    own = getattr(engine, "template", None) or getattr(getattr(engine, "tokenizer", None), "chat_template", None)
    try:  # a base model without a chat template gets one per request later; any preset renders here
        engine.generate([[{"role": "user", "content": "Hi"}]] * (1 + len(adapters)), Sampling(max_tokens=1),
                        [None] + adapters, template=None if own else "chatml")
    except StudioError:
        raise
    except Exception as exc:  # noqa: BLE001 - said in one line; the traceback is in the log
        reason = getattr(engine, "health", lambda: None)() or f"{type(exc).__name__}: {exc}"
        raise StudioError(f"The {engine.name} engine cannot run this model here ({reason.splitlines()[0][:300]})",
                          "look at the log; the transformers engine runs every model") from None


def ready_engine(name: str, model_path: str, options: dict, adapters: dict[str, str],
                 starting: Callable = lambda _name: nullcontext()):
    """Build engine `name`, load the adapters, check it answers; closes it again on any failure."""
    from . import engines

    engine = None
    try:
        with starting(name):
            engine = engines.build(name, model_path, options)
        for adapter, folder in adapters.items():
            engine.add_adapter(adapter, folder)
        warm_up(engine, list(adapters))
        return engine
    except (StudioError, JobCancelled, KeyboardInterrupt):
        _close(engine)
        raise
    except Exception as exc:  # noqa: BLE001 - an engine that cannot start is said in one line
        _close(engine)
        detail = str(exc).splitlines()[0][:300] if str(exc) else ""
        raise StudioError(f"The {name} engine could not start ({type(exc).__name__}: {detail})",
                          "look at the log; the transformers engine runs every model") from exc


def open_engine(wanted: str | None, model_path: str, options: Callable[[str], dict], adapters: dict[str, str],
                log: Callable[[str], None] = print, starting: Callable = lambda _name: nullcontext()):
    """(engine, fallback): the engine asked for, or with `auto` transformers when vLLM cannot serve."""
    from . import engines

    from ..merge.artifacts import usable_for

    wanted = wanted or "auto"
    name = engines.resolve_name(wanted)
    if wanted == "auto" and name != "transformers" and not all(usable_for(p, "vllm") for p in adapters.values()):
        log("an adapter is not a LoRA adapter that vLLM can load: using the transformers engine")
        name = "transformers"
    try:
        engine = ready_engine(name, model_path, options(name), adapters, starting)
        return engine, "not_installed" if wanted == "auto" and name != "vllm" else None
    except StudioError as exc:
        if wanted != "auto" or name == "transformers":
            raise
        log(f"vLLM could not serve {model_path}: {exc.one_line()} — falling back to transformers")
        return ready_engine("transformers", model_path, options("transformers"), adapters, starting), "failed"


def _close(engine) -> None:
    if engine is None:
        return
    try:
        engine.close()
    except Exception:  # noqa: BLE001 - a half-started engine may fail to close; its processes are ended
        pass
