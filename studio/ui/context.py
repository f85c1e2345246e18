"""What every tab is built with: the workspace, the one job manager, the translator, and channels.

A channel is a named `gr.State` shared by the pages of one app: one page writes a value to it
(an event output), another subscribes with `channel.change(...)`. Pages talk through channels,
never through each other's components (e.g. the Method page publishes the recipe part it edits,
the Train page reads it when a run starts).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..jobs import JobManager
from ..workspace import Workspace
from .i18n import Translator


@dataclass
class Studio:
    workspace: Workspace
    manager: JobManager
    t: Translator
    channels: dict = field(default_factory=dict)

    @property
    def lang(self) -> str:
        return self.t.lang

    def channel(self, name: str, value=None):
        """The app's one `gr.State` named `name` (made on first use, inside the Blocks being built)."""
        if name not in self.channels:
            import gradio as gr

            self.channels[name] = gr.State(value)
        return self.channels[name]


def bind(fn, *args, **kwargs):
    """`functools.partial(fn, *args)` as a handler Gradio can read: it looks at a handler's type
    hints to pass `gr.Request` / `gr.SelectData`, and a plain partial has none."""
    import functools
    import inspect
    import typing

    part = functools.partial(fn, *args, **kwargs)

    if inspect.isgeneratorfunction(fn):  # Gradio streams a handler only if it is a generator function
        @functools.wraps(fn)
        def handler(*a, **k):
            yield from part(*a, **k)
    else:
        @functools.wraps(fn)
        def handler(*a, **k):
            return part(*a, **k)

    handler.__signature__ = inspect.signature(part)
    try:
        hints = typing.get_type_hints(fn)
    except (NameError, TypeError):
        hints = {}
    handler.__annotations__ = {n: hints[n] for n in handler.__signature__.parameters if n in hints}
    return handler
