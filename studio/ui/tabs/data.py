"""Data page: a few panels over one dataset being edited (import, preview, grid editing,
Self-Instruct, and any extra panel in `PANELS`).

Each panel is a module in `studio/ui/panels/` with module-level handlers; they share only the
`DataPage` parts (the session state and the summary, findings and message components) and talk
through them, never through each other's components.
"""

from __future__ import annotations

import importlib

from ..panels.data_page import DataPage

# The one list of the page's panels, in page order: module names under studio/ui/panels/.
# A panel's build takes (studio, page); one that needs nothing shared may take (studio).
PANELS = ["data_import", "data_preview", "data_grid", "self_instruct", "docs_import"]


def build(studio) -> None:
    page = DataPage.create(studio)
    for name in PANELS:
        module = panel_module(name)
        if module is None:
            continue
        if _takes_page(module.build):
            module.build(studio, page)
        else:
            module.build(studio)


def panel_module(name: str):
    """The panel module, or None for an optional panel that is not installed (docs_import)."""
    try:
        return importlib.import_module(f"{__package__.rsplit('.', 1)[0]}.panels.{name}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.endswith(f"panels.{name}"):
            return None
        raise


def _takes_page(fn) -> bool:
    import inspect

    return len(inspect.signature(fn).parameters) >= 2
