"""The run spec as components spread over the Method and Train tabs, collected into one dict.

`SpecEditor` owns every component that maps to a RunSpec field, so nothing else keeps a list of
them: tabs ask it to render its sections and wire `inputs` to their buttons; `collect` turns the
values back into the raw spec that `studio.spec.build_spec` validates (the same path as YAML/CLI).
"""

from __future__ import annotations

import gradio as gr

from .. import methods, stages
from ..models import known_models
from ..spec import DataSpec, ModelSpec, ResourceSpec, TrainingSpec
from .forms import ConfigForm


class SpecEditor:
    def __init__(self, studio):
        self.studio = studio
        self.t = studio.t
        self._parts: list[tuple[str, object]] = []  # (section, ConfigForm | component)

    # -------------------------------------------------------------- sections (rendered in place)

    def model_section(self) -> None:
        t = self.t
        self.model = gr.Dropdown(choices=known_models(self.studio.workspace.root), value="smollm2-135m-instruct",
                                 allow_custom_value=True, label=t("method.model"), info=t("method.model_info"),
                                 elem_id="model-name")
        self.model_form = ConfigForm(ModelSpec, self.t.lang, skip=("name",), advanced_label=t("common.advanced"),
                                     elem_prefix="model")

    def method_section(self) -> None:
        t = self.t
        names = methods.REGISTRY.names()
        self.method = gr.Dropdown(choices=[(m.text("title", t.lang), m.name) for m in methods.REGISTRY],
                                  value="lora", label=t("method.method"), elem_id="method-name")
        self.method_about = gr.Markdown(self.method_text("lora"))
        self.method_groups, self.method_forms = {}, {}
        for name in names:
            with gr.Group(visible=name == "lora") as group:
                self.method_forms[name] = ConfigForm(methods.REGISTRY.get(name).config, t.lang,
                                                     advanced_label=t("common.advanced"), elem_prefix=f"method-{name}")
            self.method_groups[name] = group
        self.method.change(self.show_method, self.method, [self.method_about, *self.method_groups.values()])

    def stage_section(self) -> None:
        t = self.t
        self.stage = gr.Dropdown(choices=[(s.text("title", t.lang), s.name) for s in stages.REGISTRY],
                                 value="sft", label=t("method.stage"), elem_id="stage-name")
        self.stage_about = gr.Markdown(self.stage_text("sft"))
        self.stage_groups, self.stage_forms = {}, {}
        for name in stages.REGISTRY.names():
            with gr.Group(visible=name == "sft") as group:
                self.stage_forms[name] = ConfigForm(stages.REGISTRY.get(name).config, t.lang,
                                                    advanced_label=t("common.advanced"), elem_prefix=f"stage-{name}")
            self.stage_groups[name] = group
        self.stage.change(self.show_stage, self.stage, [self.stage_about, *self.stage_groups.values()])

    def run_section(self, dataset_choices: list[str]) -> None:
        t = self.t
        with gr.Row():
            self.run_name = gr.Textbox(label=t("train.run_name"), placeholder=t("train.run_name_hint"),
                                       elem_id="run-name")
            self.data_path = gr.Dropdown(choices=dataset_choices, value=dataset_choices[0] if dataset_choices else None,
                                         allow_custom_value=True, label=t("train.dataset"),
                                         info=t("train.dataset_info"), elem_id="train-dataset")
        with gr.Accordion(t("train.data_options"), open=False):
            self.data_form = ConfigForm(DataSpec, t.lang, skip=("path", "columns"),
                                        advanced_label=t("common.advanced"), elem_prefix="data")
        self.training_form = ConfigForm(TrainingSpec, t.lang, advanced_label=t("common.advanced"),
                                        elem_prefix="training")
        with gr.Accordion(t("train.resources"), open=False):
            self.resources_form = ConfigForm(ResourceSpec, t.lang, advanced_label=t("common.advanced"),
                                             elem_prefix="resources")

    # -------------------------------------------------------------- wiring

    @property
    def inputs(self) -> list:
        comps = [self.model, *self.model_form.components, self.method, self.stage, self.run_name, self.data_path,
                 *self.data_form.components, *self.training_form.components, *self.resources_form.components]
        for form in self.method_forms.values():
            comps += form.components
        for form in self.stage_forms.values():
            comps += form.components
        return comps

    def collect(self, values) -> dict:
        values = list(values)

        def take(n):
            nonlocal values
            head, values = values[:n], values[n:]
            return head

        model_name, = take(1)
        model = dict(self.model_form.values(take(len(self.model_form.components))), name=model_name)
        method, stage, run_name, data_path = take(4)
        data = dict(self.data_form.values(take(len(self.data_form.components))), path=data_path or "")
        training = self.training_form.values(take(len(self.training_form.components)))
        resources = self.resources_form.values(take(len(self.resources_form.components)))
        method_args = stage_args = {}
        for name, form in self.method_forms.items():
            got = form.values(take(len(form.components)))
            if name == method:
                method_args = got
        for name, form in self.stage_forms.items():
            got = form.values(take(len(form.components)))
            if name == stage:
                stage_args = got
        return {"name": (run_name or "").strip() or None, "model": model, "data": data, "method": method,
                "method_args": method_args, "stage": stage, "stage_args": stage_args, "training": training,
                "resources": resources}

    # -------------------------------------------------------------- presets

    @property
    def preset_outputs(self) -> list:
        outs = [self.model, self.method, self.stage, *self.training_form.components]
        for form in self.method_forms.values():
            outs += form.components
        for form in self.stage_forms.values():
            outs += form.components
        return outs

    def preset_updates(self, spec: dict) -> list:
        ups = [gr.update(value=spec.get("model", {}).get("name")) if spec.get("model", {}).get("name") else gr.update(),
               gr.update(value=spec.get("method")) if spec.get("method") else gr.update(),
               gr.update(value=spec.get("stage")) if spec.get("stage") else gr.update()]
        ups += self.training_form.updates(spec.get("training", {}))
        for name, form in self.method_forms.items():
            ups += form.updates(spec.get("method_args", {}) if name == spec.get("method") else {})
        for name, form in self.stage_forms.items():
            ups += form.updates(spec.get("stage_args", {}) if name == spec.get("stage") else {})
        return ups

    # -------------------------------------------------------------- texts

    def method_text(self, name: str) -> str:
        m = methods.REGISTRY.get(name)
        return f"**{m.text('title', self.t.lang)}** — {m.text('summary', self.t.lang)}\n\n" \
               f"*{self.t('method.when')}* {m.text('when_to_use', self.t.lang)}"

    def stage_text(self, name: str) -> str:
        s = stages.REGISTRY.get(name)
        return f"**{s.text('title', self.t.lang)}** — {s.text('summary', self.t.lang)}\n\n" \
               f"*{self.t('method.when')}* {s.text('when_to_use', self.t.lang)}"

    def show_method(self, name: str):
        return [self.method_text(name)] + [gr.update(visible=n == name) for n in self.method_groups]

    def show_stage(self, name: str):
        return [self.stage_text(name)] + [gr.update(visible=n == name) for n in self.stage_groups]
