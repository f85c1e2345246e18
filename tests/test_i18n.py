"""Every user-facing text exists in English and Simplified Chinese: these tests fail when one lacks
its Chinese entry (UI labels, core errors and findings, spec option help texts)."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from studio import i18n as core
from studio.ui.i18n import table

ROOT = Path(__file__).resolve().parents[1]
UI = ROOT / "studio" / "ui"
CJK = re.compile(r"[\u4e00-\u9fff]")
LETTERS = re.compile(r"[A-Za-z]{2,}")
# Names that stay as they are in Chinese (products, formats, units)
PROPER_NOUNS = re.compile(r"\b(TensorBoard|GGUF|LoRA|QLoRA|DoRA|JSONL?|YAML|CSV|API|URL|GPU|CPU|vLLM|ETA|Ollama|"
                          r"Self-Instruct|Hugging Face|ROUGE-L|MLflow|W&B|trackio|lm-eval)\b")


def _is_format_only(text: str) -> bool:
    """A text with no words outside {placeholders}, markup, links and proper nouns ("TensorBoard: [{url}]({url})")."""
    rest = re.sub(r"\{[^}]*\}|<[^>]*>|`[^`]*`|\]\([^)]*\)", "", text)
    return not LETTERS.search(PROPER_NOUNS.sub("", rest))


def _untranslated(en: dict, zh: dict, allow=()) -> list[str]:
    bad = []
    for key, text in en.items():
        if key in allow or not text.strip():  # an empty English text (no hint) needs no Chinese one
            continue
        other = zh.get(key, "")
        if not other.strip():
            bad.append(f"{key}: missing")
        elif LETTERS.search(text) and not _is_format_only(text) and not CJK.search(other):
            bad.append(f"{key}: not Chinese: {other!r}")
    return bad


# ---------------------------------------------------------------------------------------------- UI texts

UI_SAME = {"app.title"}  # the product name


def test_every_ui_text_has_a_chinese_text():
    bad = _untranslated(table("en"), table("zh"), UI_SAME)
    assert not bad, bad


def test_both_languages_have_the_same_ui_keys():
    assert sorted(set(table("en")) ^ set(table("zh"))) == []


KEY_CALL = re.compile(r"""\bt\(\s*(f?)(["'])([a-z_]+\.[a-zA-Z0-9_{}.]*)\2\s*([,)+])""")


def used_ui_keys() -> tuple[set[str], set[str]]:
    """(exact keys, prefixes of keys built at run time) passed to a translator `t(...)` in studio/ui."""
    exact, prefixes = set(), set()
    for path in UI.rglob("*.py"):
        for f, _q, key, after in KEY_CALL.findall(path.read_text(encoding="utf-8")):
            if f or after == "+" or "{" in key:
                prefixes.add(key.split("{")[0])
            else:
                exact.add(key)
    return exact, prefixes


def test_every_used_key_exists_in_both_languages():
    en, zh = table("en"), table("zh")
    exact, prefixes = used_ui_keys()
    assert len(exact) > 200  # the scan finds the keys
    missing = sorted(k for k in exact if (k not in en and f"{k}.msg" not in core.table("en"))
                     or (k not in zh and f"{k}.msg" not in core.table("zh")))
    assert not missing, missing
    dangling = sorted(p for p in prefixes if not any(k.startswith(p) for k in en))
    assert not dangling, dangling


def test_state_names_are_translated():
    for state in ("queued", "running", "succeeded", "failed", "cancelled", "interrupted"):
        assert CJK.search(table("zh")[f"state.{state}"])


# ---------------------------------------------------------------------------------------------- core texts

def test_every_core_text_has_a_chinese_text():
    en, zh = core.table("en"), core.table("zh")
    bad = _untranslated(en, zh, {"data_findings.sep"})
    assert not bad, bad
    assert sorted(set(en) ^ set(zh)) == []


def _keys_used_in_code() -> dict[str, str]:
    """key -> file, for every StudioError(key=...), Finding.of(severity, key, ...) and reader finding
    (`limits.finding("name", ...)`, texts in readers.yaml) in studio/."""
    found = {}
    for path in (ROOT / "studio").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name.endswith("Error"):
                for kw in node.keywords:
                    if kw.arg == "key" and isinstance(kw.value, ast.Constant):
                        found[kw.value.value] = str(path.relative_to(ROOT))
            if name == "of" and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
                found[node.args[1].value] = str(path.relative_to(ROOT))
            if name in ("finding", "_finding") and node.args and isinstance(node.args[0], ast.Constant):
                found[f"readers.{node.args[0].value}"] = str(path.relative_to(ROOT))
    return found


def _text_keys_used_in_code() -> dict[str, str]:
    """key -> file, for every `i18n.text("section.name", ...)` in studio/ (a whole key: no .msg / .hint)."""
    found = {}
    for path in (ROOT / "studio").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            first = node.args[0] if node.args else None
            if name == "text" and isinstance(first, ast.Constant) and "." in str(first.value):
                found[first.value] = str(path.relative_to(ROOT))
    return found


def test_every_text_key_in_the_code_has_both_languages():
    used = _text_keys_used_in_code()
    assert "data_store.preview_prompt_only" in used and "data_findings.colon" in used  # the scan finds them
    for lang in ("en", "zh"):
        texts = core.table(lang)
        missing = sorted(f"{k} ({f})" for k, f in used.items() if k not in texts)
        assert not missing, (lang, missing)


def test_every_error_key_in_the_code_has_both_languages():
    from studio.data import formats

    used = _keys_used_in_code()
    assert len(used) > 30
    assert {"readers.jsonl_invalid", "readers.too_deep", "stages.lf_skipped"} <= set(used)  # all three spellings
    used.update(dict.fromkeys(formats.EXPAND_NOTES.values(), "studio/data/formats.py"))
    for lang in ("en", "zh"):
        texts = core.table(lang)
        missing = sorted(f"{k} ({f})" for k, f in used.items() if f"{k}.msg" not in texts)
        assert not missing, (lang, missing)


def _calls_of(name: str, flagged) -> list[str]:
    """`path:line` of every call of `name` (plain or attribute) in studio/ for which `flagged(call)` holds."""
    found = []
    for path in (ROOT / "studio").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if called == name and flagged(node):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def _english_error_calls() -> list[str]:
    """`StudioError("...")` / `StudioError(f"...")` calls in studio/: English text instead of a key."""
    return _calls_of("StudioError",
                     lambda call: call.args and isinstance(call.args[0], (ast.Constant, ast.JoinedStr)))


def test_no_error_is_raised_with_english_text():
    """Core errors carry a key and arguments (StudioError(key="section.name", ...)), so they render in
    the reader's language; positional text is left only for messages already rendered elsewhere."""
    bad = _english_error_calls()
    assert not bad, bad


def test_the_english_text_scan_finds_english_text(tmp_path, monkeypatch):
    """The scan itself: a positional string or f-string is caught, a key is not."""
    pkg = tmp_path / "studio"
    pkg.mkdir()
    (pkg / "x.py").write_text('raise StudioError("No model")\nraise errors.StudioError(f"{a} bad", "fix")\n'
                              'raise StudioError(key="models.none_chosen")\nraise StudioError(result["error"])\n')
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _english_error_calls() == ["studio/x.py:1", "studio/x.py:2"]


def _findings_from_text() -> list[str]:
    """`Finding(...)` built directly in studio/: its message is text made here, English in every language.
    Findings are made with `Finding.of(severity, key, ...)`, from an error with `Finding.from_error(exc)`
    (which keeps its key), or copied from another finding (`dataclasses.replace`)."""
    return _calls_of("Finding", lambda call: True)


def test_no_finding_is_built_from_english_text():
    """Data findings carry a key and arguments like errors do; a parser's own message is an argument."""
    bad = _findings_from_text()
    assert not bad, bad


def test_the_finding_scan_finds_text(tmp_path, monkeypatch):
    """The scan itself: a literal, an f-string or a passed-on English message is caught, a key is not."""
    pkg = tmp_path / "studio"
    pkg.mkdir()
    (pkg / "x.py").write_text('Finding("error", "file not found", file=p)\n'
                              'findings.Finding("error", f"bad {x}", "fix it")\n'
                              'Finding("error", exc.message, exc.hint)\n'
                              'Finding.of("error", "readers.not_found", file=p)\n'
                              'Finding.from_error(exc, file=p)\n')
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _findings_from_text() == ["studio/x.py:1", "studio/x.py:2", "studio/x.py:3"]


def test_the_key_scan_finds_every_spelling(tmp_path, monkeypatch):
    pkg = tmp_path / "studio"
    pkg.mkdir()
    (pkg / "x.py").write_text('raise StudioError(key="a.b")\nFinding.of(sev, "c.d", row=1)\n'
                              'raise DataError([_finding("too_slow", name)])\nfinding(key, name)\n')
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert set(_keys_used_in_code()) == {"a.b", "c.d", "readers.too_slow"}


def test_format_problems_name_keys_with_both_languages():
    from studio.data import formats

    rows = [{}, {"instruction": 3, "output": ""}, {"messages": [{"role": "x", "content": 1}]},
            {"conversations": "no"}, {"prompt": "p", "chosen": "a", "rejected": "a"},
            {"prompt": "p", "completion": "c", "label": "maybe"}, {"instruction": "i", "output": "o", "history": 1}]
    seen = set()
    for fmt in formats.FORMATS.values():
        for row in rows:
            for _field, key, args in fmt.check(row):
                seen.add(key)
                for lang in ("en", "zh"):
                    text = core.text(f"{key}.msg", lang, **args)
                    assert text != f"{key}.msg" and "{" not in text.replace("{%", ""), (key, lang, text)
    assert len(seen) >= 6


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_errors_render_in_the_readers_language(lang):
    from studio.data import edit
    from studio.data.findings import DataError

    with pytest.raises(DataError) as info:
        edit.delete_rows([{"a": 1}], "7")
    line = info.value.one_line(lang)
    assert "1..1" in line and (CJK.search(line) if lang == "zh" else not CJK.search(line))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_preview_notes_are_in_the_viewers_language(tiny_model, lang):
    """The notes under the Data page's token preview (prompt-only rows, tool calls a template drops)."""
    import json

    from conftest import SAMPLES
    from studio.data import formats, preview

    tok = preview.load_tokenizer("tiny-random-llama")
    prompt = formats.converter(formats.get("prompt"), "prompt")({"prompt": "2+2?", "answer": "4"}, None)
    tools = formats.converter(formats.get("messages"), "sft")(
        json.loads((SAMPLES / "messages_tools.jsonl").read_text().splitlines()[0]), None)
    notes = preview.preview_rows([prompt], "prompt", tok, lang=lang)[0].notes
    notes += preview.preview_rows([tools], "sft", tok, lang=lang)[0].notes
    assert len(notes) == 2 and "book_table" in notes[1]
    assert all(bool(CJK.search(n)) == (lang == "zh") for n in notes), notes


# ---------------------------------------------------------------------------------------------- spec options

def _config_classes():
    """Every pydantic config class the forms render (the spec, methods, stages, sampling, generation)."""
    import studio.data.docs
    import studio.data.self_instruct
    import studio.eval.lmeval
    import studio.eval.spec
    import studio.infer.base
    import studio.infer.spec
    import studio.merge.spec
    import studio.spec  # noqa: F401
    from studio import methods, stages
    from studio.config import Strict

    classes, todo = set(), [Strict]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in classes:
                classes.add(sub)
                todo.append(sub)
    classes |= {m.config for m in methods.REGISTRY} | {s.config for s in stages.REGISTRY}
    return classes


def test_every_option_help_text_has_chinese():
    bad = []
    classes = _config_classes()
    assert len(classes) > 10
    for cls in classes:
        for name, info in cls.model_fields.items():
            if not info.description:
                continue
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            if not CJK.search(str(extra.get("zh") or "")):
                bad.append(f"{cls.__module__}.{cls.__name__}.{name}")
    assert not bad, sorted(bad)


def test_every_spec_option_has_a_label_in_both_languages():
    """Forms label each option in the viewer's language (studio/ui/locales/<lang>/fields.yaml), not with
    its raw field name: every field of the run spec, the method and stage options and the job-kind specs."""
    from studio import spec
    from studio.eval.spec import EvalSpec
    from studio.infer.spec import ServeSpec
    from studio.merge.spec import MergeSpec
    from studio.ui.forms import field_label

    classes = _config_classes()
    assert {spec.RunSpec, spec.TrainingSpec, spec.DataSpec, spec.ModelSpec, spec.ResourceSpec,
            MergeSpec, EvalSpec, ServeSpec} <= classes
    en, zh = table("en"), table("zh")
    missing = sorted(f"{cls.__name__}.{name}" for cls in classes for name in cls.model_fields
                     if f"fields.{name}" not in en or f"fields.{name}" not in zh)
    assert not missing, missing
    for cls in classes:
        for name in cls.model_fields:
            assert CJK.search(field_label(cls, name, "zh")), (cls.__name__, name)
            assert not CJK.search(field_label(cls, name, "en")), (cls.__name__, name)
    labels = {k for k in en if k.startswith("fields.")}
    overrides = [k.split(".")[1] for k in labels if k.count(".") == 2]
    assert set(overrides) <= {c.__name__ for c in classes}, overrides  # an override names a real class


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_forms_show_the_translated_label_and_the_raw_key(lang):
    import gradio as gr

    from studio import stages
    from studio.spec import TrainingSpec
    from studio.ui.forms import ConfigForm

    with gr.Blocks():
        form = ConfigForm(TrainingSpec, lang)
        distill = ConfigForm(stages.REGISTRY.get("distill").config, lang)
    steps = form.components[form.names.index("max_steps")]
    assert steps.label == table(lang)["fields.max_steps"] and steps.label != "max_steps"
    assert steps.info.endswith("(max_steps)")  # YAML / --set users see the key
    assert bool(CJK.search(steps.label)) == (lang == "zh")
    alpha = distill.components[distill.names.index("alpha")]
    assert alpha.label == table(lang)["fields.DistillOptions.alpha"]  # a class's own label wins


def test_an_error_from_another_process_stays_translatable():
    """A rank's error travels as `record()` (JSON) and is raised again with its key: a Chinese reader
    of a multi-process run still reads it in Chinese."""
    import json

    from studio.errors import StudioError

    first = StudioError(key="stages.reward_file_not_python", path="r.txt")
    again = StudioError.from_record(json.loads(json.dumps(first.record())))
    assert again.one_line() == first.one_line() and CJK.search(again.one_line("zh"))
    assert StudioError.from_record({"message": "rank 1: OSError: disk full"}).one_line() == "rank 1: OSError: disk full"
