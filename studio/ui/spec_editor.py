"""The run spec as components, in two editors that never see each other's components.

`MethodEditor` (Method page: model, method, stage and their options) and `RunEditor` (Train page:
run name, data, training, hardware) each own their components and turn their values into their
part of the raw spec. The Method page publishes its part on the `recipe.method` channel; the
Train page joins it with its own part (`join`) and validates the whole with
`studio.spec.build_spec`, the same path as YAML and the CLI. A loaded preset is published on the
`recipe.preset` channel, and each editor applies the fields it owns.
"""

from __future__ import annotations

import gradio as gr

from .. import methods, stages
from ..models import known_models
from ..spec import DataSpec, ModelSpec, ResourceSpec, TrainingSpec
from .forms import ConfigForm

METHOD_CHANNEL = "recipe.method"
PRESET_CHANNEL = "recipe.preset"
DEFAULT_METHOD_PART = {"model": {"name": "smollm2-135m-instruct"}, "method": "lora", "method_args": {},
                       "stage": "sft", "stage_args": {}}


def join(method_part: dict | None, run_part: dict) -> dict:
    """The raw run spec from the two parts (the method part's defaults when the Method page is absent)."""
    return {**DEFAULT_METHOD_PART, **(method_part or {}), **run_part}


def _take(values: list, n: int) -> tuple[list, list]:
    return values[:n], values[n:]


def input_events(components) -> list:
    """Each component's user-edit event (`input`), for `gr.on` triggers."""
    return [getattr(c, "input", None) or c.change for c in components]


class MethodEditor:
    """Model, method and stage, each with its options form."""

    def __init__(self, studio):
        self.studio = studio
        self.t = studio.t

    def model_section(self) -> None:
        t = self.t
        self.model = gr.Dropdown(choices=known_models(self.studio.workspace.root), value="smollm2-135m-instruct",
                                 allow_custom_value=True, label=t("method.model"), info=t("method.model_info"),
                                 elem_id="model-name")
        self.model_form = ConfigForm(ModelSpec, t.lang, skip=("name",), advanced_label=t("common.advanced"),
                                     elem_prefix="model")

    def method_section(self) -> None:
        t = self.t
        self.method = gr.Dropdown(choices=[(m.text("title", t.lang), m.name) for m in methods.REGISTRY],
                                  value="lora", label=t("method.method"), elem_id="method-name")
        self.method_about = gr.Markdown(method_text("lora", t))
        self.method_groups, self.method_forms = {}, {}
        for name in methods.REGISTRY.names():
            with gr.Group(visible=name == "lora") as group:
                self.method_forms[name] = ConfigForm(methods.REGISTRY.get(name).config, t.lang,
                                                     advanced_label=t("common.advanced"), elem_prefix=f"method-{name}")
            self.method_groups[name] = group
        self.method.change(lambda n: show(n, self.method_groups, method_text(n, t)), self.method,
                           [self.method_about, *self.method_groups.values()])

    def stage_section(self) -> None:
        t = self.t
        self.stage = gr.Dropdown(choices=[(s.text("title", t.lang), s.name) for s in stages.REGISTRY],
                                 value="sft", label=t("method.stage"), elem_id="stage-name")
        self.stage_about = gr.Markdown(stage_text("sft", t))
        self.stage_groups, self.stage_forms = {}, {}
        for name in stages.REGISTRY.names():
            with gr.Group(visible=name == "sft") as group:
                self.stage_forms[name] = ConfigForm(stages.REGISTRY.get(name).config, t.lang,
                                                    advanced_label=t("common.advanced"), elem_prefix=f"stage-{name}")
            self.stage_groups[name] = group
        self.stage.change(lambda n: show(n, self.stage_groups, stage_text(n, t)), self.stage,
                          [self.stage_about, *self.stage_groups.values()])

    @property
    def inputs(self) -> list:
        comps = [self.model, *self.model_form.components, self.method, self.stage]
        for form in [*self.method_forms.values(), *self.stage_forms.values()]:
            comps += form.components
        return comps

    def collect(self, values) -> dict:
        """The method part of the raw spec: model, method, method_args, stage, stage_args."""
        values = list(values)
        (name,), values = _take(values, 1)
        model_values, values = _take(values, len(self.model_form.components))
        (method, stage), values = _take(values, 2)
        method_args = stage_args = {}
        for form_name, form in self.method_forms.items():
            got, values = _take(values, len(form.components))
            if form_name == method:
                method_args = form.values(got)
        for form_name, form in self.stage_forms.items():
            got, values = _take(values, len(form.components))
            if form_name == stage:
                stage_args = form.values(got)
        return {"model": dict(self.model_form.values(model_values), name=name), "method": method,
                "method_args": method_args, "stage": stage, "stage_args": stage_args}

    def defaults(self) -> dict:
        """The method part the components show before anyone edits them."""
        return self.collect([c.value for c in self.inputs])

    @property
    def preset_outputs(self) -> list:
        outs = [self.model, self.method, self.stage]
        for form in [*self.method_forms.values(), *self.stage_forms.values()]:
            outs += form.components
        return outs

    def preset_updates(self, spec: dict) -> list:
        name = (spec.get("model") or {}).get("name")
        ups = [gr.update(value=name) if name else gr.update(),
               gr.update(value=spec.get("method")) if spec.get("method") else gr.update(),
               gr.update(value=spec.get("stage")) if spec.get("stage") else gr.update()]
        for form_name, form in self.method_forms.items():
            ups += form.updates(spec.get("method_args", {}) if form_name == spec.get("method") else {})
        for form_name, form in self.stage_forms.items():
            ups += form.updates(spec.get("stage_args", {}) if form_name == spec.get("stage") else {})
        return ups


    def forms(self, kind: str) -> dict:
        """name -> ConfigForm of the methods ("method") or the stages ("stage")."""
        return self.method_forms if kind == "method" else self.stage_forms

    def form_components(self, kind: str) -> list:
        return [c for form in self.forms(kind).values() for c in form.components]


def carry(editor: MethodEditor, kind: str, old: str | None, new: str, *values) -> list:
    """Switching method (or stage): the new entry's form takes the options it shares with the old one,
    as `studio.spec.carry_args` decides for `--set method=...` too; the rest keep the new defaults.
    Returns updates for every form component of `kind`, then the new "previous" name."""
    from ..spec import carry_args

    forms = editor.forms(kind)
    ups, start, old_args = [], 0, {}
    for name, form in forms.items():
        part = values[start:start + len(form.components)]
        start += len(form.components)
        if name == old:
            old_args = form.values(part)
    kept = {}
    if old and old != new and new in forms:
        try:
            kept, _dropped = carry_args(kind, new, old_args)
        except Exception:  # noqa: BLE001 - a half-edited form carries nothing rather than failing the page
            kept = {}
    for name, form in forms.items():
        ups += form.updates(kept) if name == new else [gr.update()] * len(form.components)
    return [*ups, new]


class RunEditor:
    """Run name, dataset, data options, training options and hardware."""

    def __init__(self, studio):
        self.studio = studio
        self.t = studio.t

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

    @property
    def inputs(self) -> list:
        return [self.run_name, self.data_path, *self.data_form.components, *self.training_form.components,
                *self.resources_form.components]

    def collect(self, values) -> dict:
        """The run part of the raw spec: name, data, training, resources."""
        values = list(values)
        (run_name, data_path), values = _take(values, 2)
        data_values, values = _take(values, len(self.data_form.components))
        training_values, values = _take(values, len(self.training_form.components))
        return {"name": (run_name or "").strip() or None,
                "data": dict(self.data_form.values(data_values), path=data_path or ""),
                "training": self.training_form.values(training_values),
                "resources": self.resources_form.values(values)}

    @property
    def preset_outputs(self) -> list:
        return list(self.training_form.components)

    def preset_updates(self, spec: dict | None) -> list:
        return self.training_form.updates((spec or {}).get("training", {}))


# ---------------------------------------------------------------------------------------------- texts

def method_text(name: str, t) -> str:
    m = methods.REGISTRY.get(name)
    return f"**{m.text('title', t.lang)}** — {m.text('summary', t.lang)}\n\n" \
           f"*{t('method.when')}* {m.text('when_to_use', t.lang)}"


def stage_text(name: str, t) -> str:
    s = stages.REGISTRY.get(name)
    return f"**{s.text('title', t.lang)}** — {s.text('summary', t.lang)}\n\n" \
           f"*{t('method.when')}* {s.text('when_to_use', t.lang)}"


def show(name: str, groups: dict, about: str) -> list:
    """The chosen entry's description, and only its options group visible."""
    return [about] + [gr.update(visible=n == name) for n in groups]
