"""Method page: model, fine-tuning method and training stage, presets, trainable-parameter count.

It publishes the part of the recipe it edits on the `recipe.method` channel (the Train page reads
it) and a loaded preset on `recipe.preset` (the Train page applies its training options).
"""

from __future__ import annotations

import gradio as gr

from ...errors import StudioError
from ...presets import get_preset, list_presets
from ..context import bind
from ..spec_editor import (
    METHOD_CHANNEL,
    PRESET_CHANNEL,
    MethodEditor,
    carry,
    input_events,
)


def build(studio) -> None:
    t = studio.t
    editor = MethodEditor(studio)
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
            params_box = gr.Markdown(elem_id="trainable-params")
            count = gr.Button(t("method.count_params"), size="sm", elem_id="count-params")

    recipe = studio.channel(METHOD_CHANNEL)
    recipe.value = editor.defaults()
    published = studio.channel(PRESET_CHANNEL)
    preset.change(bind(preset_text, studio), preset, preset_about)
    gr.on(input_events(editor.inputs), bind(publish, editor), editor.inputs, recipe,
          show_progress="hidden", queue=False)
    load.click(bind(apply_preset, studio, editor), preset, [*editor.preset_outputs, published]).then(
        bind(publish, editor), editor.inputs, recipe, show_progress="hidden", queue=False)
    count.click(bind(count_text, editor), editor.inputs, params_box)
    for kind, picker, default in (("method", editor.method, "lora"), ("stage", editor.stage, "sft")):
        previous = gr.State(default)
        forms = editor.form_components(kind)
        picker.input(bind(carry, editor, kind), [previous, picker, *forms], [*forms, previous],
                     show_progress="hidden").then(bind(publish, editor), editor.inputs, recipe,
                                                  show_progress="hidden", queue=False)


def preset_text(studio, name: str | None) -> str:
    return get_preset(name, studio.workspace.root).text(studio.t.lang) if name else ""


def publish(editor: MethodEditor, *values) -> dict:
    """The method part of the recipe, for the `recipe.method` channel."""
    return editor.collect(values)


def apply_preset(studio, editor: MethodEditor, name: str | None) -> list:
    """Fill this page from a preset and publish the whole preset (the Train page applies its
    training options); the method part is then published from what the components show."""
    if not name:
        raise gr.Error(studio.t("method.pick_preset"))
    spec = get_preset(name, studio.workspace.root).spec
    return [*editor.preset_updates(spec), dict(spec)]


def count_text(editor: MethodEditor, *values) -> str:
    raw = editor.collect(values)
    t = editor.t
    try:
        from ...methods.params import count_trainable

        trainable, total = count_trainable(raw["model"]["name"], raw["method"], raw["method_args"])
    except StudioError as exc:
        return f"⚠️ {t.error(exc)}"
    except Exception as exc:  # noqa: BLE001 - a bad value in a form should not break the page
        return f"⚠️ {type(exc).__name__}: {exc}"
    return t("method.params", trainable=f"{trainable:,}", total=f"{total:,}", pct=f"{100 * trainable / total:.3f}")
