"""Method tab: model, fine-tuning method and training stage, presets, trainable-parameter count."""

from __future__ import annotations

import gradio as gr

from ...errors import StudioError
from ...presets import get_preset, list_presets
from ..spec_editor import SpecEditor


def build(studio, handles) -> SpecEditor:
    t = studio.t
    editor = SpecEditor(studio)
    presets = list_presets(studio.workspace.root)
    with gr.Row():
        preset = gr.Dropdown(choices=[p.name for p in presets], value=None, label=t("method.preset"),
                             info=t("method.preset_info"), elem_id="preset-name", scale=3)
        load = gr.Button(t("method.load_preset"), scale=1, elem_id="load-preset")
    preset_about = gr.Markdown()
    with gr.Row():
        with gr.Column():
            editor.model_section()
            editor.method_section()
        with gr.Column():
            editor.stage_section()
            editor.params_box = gr.Markdown(elem_id="trainable-params")
            editor.count_button = gr.Button(t("method.count_params"), size="sm", elem_id="count-params")

    preset.change(lambda name: get_preset(name, studio.workspace.root).text(t.lang) if name else "",
                  preset, preset_about)

    editor.preset_button, editor.preset_dropdown = load, preset
    return editor


def wire(editor: SpecEditor) -> None:
    """Hook the preset and count buttons once the Train tab has added its components."""
    t, root = editor.t, editor.studio.workspace.root

    def apply(name):
        if not name:
            raise gr.Error(t("method.pick_preset"))
        return editor.preset_updates(get_preset(name, root).spec)

    editor.preset_button.click(apply, editor.preset_dropdown, editor.preset_outputs)
    editor.count_button.click(lambda *v: count_text(editor, v), editor.inputs, editor.params_box)


def count_text(editor: SpecEditor, values) -> str:
    raw = editor.collect(values)
    try:
        from ...methods.params import count_trainable

        trainable, total = count_trainable(raw["model"]["name"], raw["method"], raw["method_args"])
    except StudioError as exc:
        return f"⚠️ {exc.one_line()}"
    except Exception as exc:  # noqa: BLE001 - a bad value in a form should not break the page
        return f"⚠️ {type(exc).__name__}: {exc}"
    return editor.t("method.params", trainable=f"{trainable:,}", total=f"{total:,}",
                    pct=f"{100 * trainable / total:.3f}")
