"""Method page: model, fine-tuning method and training stage, presets, trainable-parameter count.

It publishes the part of the recipe it edits on the `recipe.method` channel (the Train page reads
it) and a loaded preset on `recipe.preset` (the Train page applies its training options). A run
planned by the quick start ("Advanced", the `recipe.planned` channel) fills its model, method and
stage, which it then publishes like an edit.
"""

from __future__ import annotations

import gradio as gr

from ...errors import StudioError
from ...presets import get_preset, list_presets
from ..context import bind
from ..quickstart.plan import PLANNED_CHANNEL
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
    previous = {}
    for kind, picker, default in (("method", editor.method, "lora"), ("stage", editor.stage, "sft")):
        previous[kind] = gr.State(default)
        forms = editor.form_components(kind)
        picker.input(bind(carry, editor, kind), [previous[kind], picker, *forms], [*forms, previous[kind]],
                     show_progress="hidden").then(bind(publish, editor), editor.inputs, recipe,
                                                  show_progress="hidden", queue=False)
    planned = studio.channel(PLANNED_CHANNEL)
    planned.change(bind(fill, editor), planned, [*editor.inputs, previous["method"], previous["stage"]],
                   show_progress="hidden", queue=False).then(bind(publish, editor), editor.inputs, recipe,
                                                             show_progress="hidden", queue=False)


def preset_text(studio, name: str | None) -> str:
    return get_preset(name, studio.workspace.root).text(studio.t.lang) if name else ""


def publish(editor: MethodEditor, *values) -> dict:
    """The method part of the recipe, for the `recipe.method` channel."""
    return editor.collect(values)


def fill(editor: MethodEditor, planned: dict | None) -> list:
    """Updates for `editor.inputs` (then the method and stage last chosen) from a planned run spec."""
    if not planned:
        return [gr.update()] * (len(editor.inputs) + 2)
    model = planned.get("model") or {}
    method, stage = planned.get("method") or "lora", planned.get("stage") or "sft"
    ups = [gr.update(value=model.get("name")), *editor.model_form.updates(model),
           gr.update(value=method), gr.update(value=stage)]
    for name, form in editor.method_forms.items():
        ups += form.updates((planned.get("method_args") or {}) if name == method else {})
    for name, form in editor.stage_forms.items():
        ups += form.updates((planned.get("stage_args") or {}) if name == stage else {})
    return [*ups, method, stage]


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
