"""One count of row token lengths: the runner's data report, the estimate and the Data tab agree."""

from __future__ import annotations

from studio.data import checks, formats
from studio.data.lengths import guessed_length, row_token_lengths
from studio.data.prepare import convert_all, load_rows
from studio.data.preview import load_tokenizer
from studio.estimate import data_stats, tokenizer_for
from studio.spec import build_spec
from studio.train.runner import length_report

from conftest import tiny_spec


def test_runner_estimate_and_data_tab_count_the_same_lengths(identity_data, tiny_model):
    spec = build_spec(tiny_spec(identity_data, max_length=64))
    loaded = load_rows(str(identity_data))
    rows = convert_all(loaded, "sft")
    tok = load_tokenizer("tiny-random-llama")
    lengths = row_token_lengths(rows, "sft", tok)
    assert len(lengths) == len(rows) and all(n > 5 for n in lengths)
    report = length_report(rows, "sft", tok, 64)  # the runner's data_report.json
    assert report["max_tokens"] == max(lengths) and report["rows"] == len(rows)
    assert report["truncated_rows"] == [i + 1 for i, n in enumerate(lengths) if n > 64]
    stats = data_stats(spec, None, tokenizer_for(spec))  # the estimate
    assert sorted(stats.lengths) == sorted(lengths) and stats.longest == max(lengths)
    _found, tab = checks.length_findings(loaded.table, rows, "sft", tok, 64)  # the Data tab
    assert tab == lengths


def test_preference_rows_count_their_longer_side_and_guess_without_tokenizer(tiny_model):
    pair = formats.converter(formats.get("preference"), "preference")(
        {"prompt": "2+2?", "chosen": "4", "rejected": "five, or maybe four, who knows"}, None)
    tok = load_tokenizer("tiny-random-llama")
    long_side = row_token_lengths([dict(pair, chosen=pair["rejected"])], "preference", tok)[0]
    assert row_token_lengths([pair], "preference", tok)[0] == long_side
    assert row_token_lengths([pair], "preference", None) == [guessed_length(pair)]
    assert guessed_length({"text": "x" * 30}) == 10
