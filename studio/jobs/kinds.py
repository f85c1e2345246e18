"""Job kinds: which function a worker runs for each kind, and which resource pool it uses.

Entries are import strings so that nothing heavy is imported until a worker needs it. The
`compute` pool (training, merging, generation, evaluation) runs one job at a time by default;
`serve` holds inference servers. On a GPU machine a server also takes a `compute` slot, because a
vLLM server claims most of the GPU memory.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from ..errors import StudioError


@dataclass(frozen=True)
class Kind:
    name: str
    entry: str  # "module:function", called with a JobContext, returns artifacts {name: path}
    pool: str = "compute"
    resumable: bool = False

    def function(self) -> Callable:
        module, _, attr = self.entry.partition(":")
        return getattr(importlib.import_module(module), attr)


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("train", "studio.train.job:run_job", resumable=True),
        Kind("merge", "studio.merge.runner:run_job"),
        Kind("serve", "studio.infer.serve:run_job", pool="serve"),
        Kind("generate", "studio.data.self_instruct:run_job", resumable=True),
        Kind("eval", "studio.eval.runner:run_job"),
        Kind("sleep", "studio.jobs.testing:run_sleep", resumable=True),
    )
}


def get(name: str) -> Kind:
    if name not in KINDS:
        raise StudioError(f"Unknown job kind '{name}'", f"one of: {', '.join(KINDS)}")
    return KINDS[name]
