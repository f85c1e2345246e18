"""The left navigation rail: one button per page, the current one highlighted.

The pages are the tabs of a `gr.Tabs` whose own tab bar is hidden (assets/style.css); a rail click
selects the tab and re-colours the rail in one request. Any handler can move the user to a page by
returning `nav.go(name)` into `nav.outputs` (the quick start does, for its Advanced button).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr

ICONS = {"start": "🏠", "data": "📄", "method": "🧪", "train": "🏋️", "merge": "🔀", "chat": "💬", "jobs": "📋"}


def label(t, name: str) -> str:
    return t("shell.start") if name == "start" else t(f"{name}.tab")


@dataclass
class Nav:
    names: list[str]
    tabs: gr.Tabs | None = None
    buttons: dict[str, gr.Button] = field(default_factory=dict)

    @property
    def outputs(self) -> list:
        return [self.tabs, *self.buttons.values()]

    def go(self, name: str) -> list:
        """Updates for `outputs` that show page `name`."""
        return [gr.Tabs(selected=name)] + [
            gr.Button(variant="primary" if n == name else "secondary", elem_classes=_classes(n == name))
            for n in self.buttons]


def _classes(current: bool) -> list[str]:
    return ["rail-btn", "current"] if current else ["rail-btn"]


def build_rail(t, names: list[str], current: str = "start") -> Nav:
    nav = Nav(names)
    for name in names:
        nav.buttons[name] = gr.Button(f"{ICONS.get(name, '•')}\n{label(t, name)}", elem_id=f"rail-{name}",
                                      variant="primary" if name == current else "secondary",
                                      elem_classes=_classes(name == current), size="sm")
    return nav


def wire(nav: Nav) -> None:
    for name, button in nav.buttons.items():
        button.click(lambda n=name: nav.go(n), None, nav.outputs, show_progress="hidden", queue=False,
                     api_visibility="private")
