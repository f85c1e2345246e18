"""Answer-vs-reference metrics: exact match, ROUGE-L (rouge-score), BLEU (sacrebleu).

Chinese, Japanese and Korean text has no spaces: rouge-score's default tokenizer drops those
characters altogether, so it gets one that keeps each CJK character as a token; sacrebleu uses its
`zh` tokenizer when a reference holds CJK characters.
"""

from __future__ import annotations

import re
import string

_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
_TOKENS = re.compile(rf"[{_CJK}]|[^\s{_CJK}{re.escape(string.punctuation)}，。！？、；：“”‘’（）《》]+")
_HAS_CJK = re.compile(rf"[{_CJK}]")
_PUNCT = re.compile(rf"[{re.escape(string.punctuation)}，。！？、；：“”‘’（）《》]")


def normalize(text: str) -> str:
    """Lower case, no punctuation, single spaces: what exact match compares."""
    return " ".join(_PUNCT.sub(" ", (text or "").lower()).split())


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize(prediction) == normalize(reference))


class _Tokenizer:
    """Words for spaced scripts, one token per character for CJK (rouge-score's tokenizer interface)."""

    def tokenize(self, text: str) -> list[str]:
        return _TOKENS.findall((text or "").lower())


_scorer = None


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F1 in [0, 1]."""
    global _scorer
    if _scorer is None:
        from rouge_score import rouge_scorer

        _scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_Tokenizer())
    return float(_scorer.score(reference or "", prediction or "")["rougeL"].fmeasure)


def _bleu_tokenizer(references: list[str]) -> str:
    return "zh" if any(_HAS_CJK.search(r or "") for r in references) else "13a"


def sentence_bleu(prediction: str, reference: str) -> float:
    """BLEU of one answer in [0, 100] (smoothed, as single sentences need)."""
    import sacrebleu

    return float(sacrebleu.sentence_bleu(prediction or "", [reference or ""],
                                         tokenize=_bleu_tokenizer([reference])).score)


def corpus_bleu(predictions: list[str], references: list[str]) -> float:
    """BLEU of a whole set in [0, 100] (the number to report; sentence BLEU is for the table)."""
    import sacrebleu

    if not predictions:
        return 0.0
    return float(sacrebleu.corpus_bleu([p or "" for p in predictions], [[r or "" for r in references]],
                                       tokenize=_bleu_tokenizer(references)).score)


def score(prediction: str, reference: str) -> dict:
    return {"exact_match": exact_match(prediction, reference), "rouge_l": round(rouge_l(prediction, reference), 4),
            "bleu": round(sentence_bleu(prediction, reference), 2)}


def summarize(predictions: list[str], references: list[str], per_example: list[dict]) -> dict:
    n = max(1, len(per_example))
    return {"exact_match": round(sum(r["exact_match"] for r in per_example) / n, 4),
            "rouge_l": round(sum(r["rouge_l"] for r in per_example) / n, 4),
            "bleu": round(corpus_bleu(predictions, references), 2), "examples": len(per_example)}
