"""One typed spec per job kind, validated when a job is submitted (`JobManager.submit`).

Each kind's spec class lives with the code that runs it; the UI and the CLI build it through one
builder per kind (`studio.spec.build_spec`, `studio.merge.spec.merge_spec`, `studio.infer.spec.serve_spec`,
`studio.eval.spec.build`, `SelfInstructConfig.parse`), and the worker reads the validated mapping.
"""

from __future__ import annotations

import importlib

from pydantic import BaseModel, ValidationError

from ..errors import StudioError

# kind -> "module:class" (imported when a job of that kind is submitted)
SPECS = {
    "train": "studio.spec:RunSpec",
    "merge": "studio.merge.spec:MergeSpec",
    "serve": "studio.infer.spec:ServeSpec",
    "eval": "studio.eval.spec:EvalSpec",
    "generate": "studio.data.self_instruct:SelfInstructConfig",
}


def spec_class(kind: str) -> type[BaseModel] | None:
    entry = SPECS.get(kind)
    if entry is None:
        return None
    module, _, name = entry.partition(":")
    return getattr(importlib.import_module(module), name)


def validated(kind: str, spec: dict | BaseModel) -> dict:
    """The spec of a `kind` job checked against its class, as the plain mapping the job record keeps."""
    cls = spec_class(kind)
    if isinstance(spec, BaseModel):
        return spec.model_dump(mode="json")
    if cls is None:
        return spec
    from ..spec import first_error

    try:
        return cls.model_validate(spec or {}).model_dump(mode="json")
    except ValidationError as exc:
        raise StudioError(key="spec.invalid", source=f"{kind} job", problem=first_error(exc, model=cls)) from None
