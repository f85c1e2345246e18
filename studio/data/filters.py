"""Self-Instruct's text side: parsing a teacher's answer into tasks, and the filters new tasks pass.

The filters follow the Self-Instruct paper (Wang et al., 2022): a new instruction is dropped when
its ROUGE-L similarity to any instruction already in the pool exceeds a threshold, when it is too
short or too long, when it mentions something a text model cannot do (images, files, audio...),
or when it repeats one exactly. ROUGE-L comes from `rouge-score` with our own tokenizer: its
default one drops every non-ASCII character, which would make all Chinese instructions look empty
(and identical); ours splits CJK text into characters and other text into lowercase words.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]|[^\W_]+", re.UNICODE)
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")

BLACKLIST = ("image", "images", "graph", "graphs", "picture", "pictures", "file", "files", "map", "maps", "draw",
             "plot", "go to", "video", "audio", "music", "flowchart", "diagram",
             "图片", "图像", "图表", "画一", "视频", "音频", "音乐", "文件", "流程图", "地图")

REASONS = ("unparsable", "duplicate", "too_short", "too_long", "blacklist", "similar", "no_answer")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall((text or "").lower())


class _Tokenizer:
    """The object `rouge_score` expects: anything with `tokenize(text) -> list[str]`."""

    def tokenize(self, text: str) -> list[str]:
        return tokens(text)


def normalized(text: str) -> str:
    return " ".join(tokens(text))


# ---------------------------------------------------------------- parsing

_ITEM = re.compile(r"^\s*(?:\d{1,3}\s*[.)、:：]|[-*•]\s|(?:task|任务)\s*\d+\s*[.:：]|第\s*\d+\s*[条个题]\s*[.、:：]?)\s*",
                   re.IGNORECASE)
_FIELD = re.compile(r"^\s*\**\s*(instruction|input|output|指令|输入|输出)\s*\**\s*[:：]\s*", re.IGNORECASE)
_NAMES = {"instruction": "instruction", "指令": "instruction", "input": "input", "输入": "input",
          "output": "output", "输出": "output"}


def _clean(text: str) -> str:
    text = re.sub(r"\*\*|__|`", "", text).strip()
    text = re.sub(r"^\(\s*[A-Za-z]{0,3}\s*\d{1,3}\s*\)\s*", "", text)  # "(N1) ", "(3) " numbering leftovers
    return text.strip(" \"'“”‘’").strip()


def _fields(lines: list[str]) -> dict:
    """One task's lines -> {instruction, input, output}; labelled parts go to their field.

    An instruction is one line: unlabelled lines after it are the model rambling on (often an
    echo of an example), and gluing them on would hide a copied seed from the ROUGE-L filter.
    """
    out = {"instruction": [], "input": [], "output": []}
    current = "instruction"
    for number, line in enumerate(lines):
        match = _FIELD.match(line)
        if match:
            current = _NAMES[match.group(1).lower()]
            line = line[match.end():]
        elif current == "instruction" and number > 0:
            continue
        out[current].append(line)
    task = {k: _clean("\n".join(v)) for k, v in out.items()}
    if task["input"].lower() in ("<noinput>", "none", "n/a", "无", "空"):
        task["input"] = ""
    return task


def parse_tasks(text: str) -> list[dict]:
    """Numbered or bulleted tasks, or `Instruction: / Input: / Output:` blocks; [] if neither is there."""
    items: list[list[str]] = []
    labelled = False
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        item = _ITEM.match(line)
        field_match = _FIELD.match(line)
        starts_block = field_match and _NAMES[field_match.group(1).lower()] == "instruction"
        if item or starts_block:
            items.append([line[item.end():] if item else line])
            labelled = labelled or bool(starts_block)
        elif items:
            items[-1].append(line)
    tasks = []
    for lines in items:
        task = _fields(lines)
        if task["instruction"]:
            tasks.append(task)
    return tasks


# ---------------------------------------------------------------- filters

class Filters:
    """Decides for each new instruction whether it joins the pool; remembers what it has seen."""

    def __init__(self, pool: list[str], rouge_threshold: float = 0.7, min_words: int = 3, max_words: int = 150,
                 blacklist: tuple[str, ...] | list[str] = BLACKLIST):
        from rouge_score import rouge_scorer

        self.pool = list(pool)
        self.rouge_threshold = rouge_threshold
        self.min_words = min_words
        self.max_words = max_words
        self.blacklist = tuple(blacklist)
        self._scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False, tokenizer=_Tokenizer())
        self._seen = {normalized(p) for p in self.pool}

    def add(self, instruction: str) -> None:
        self.pool.append(instruction)
        self._seen.add(normalized(instruction))

    def _blacklisted(self, text: str) -> str | None:
        low = text.lower()
        for word in self.blacklist:
            w = word.lower()
            if CJK.search(w):
                if w in low:
                    return word
            elif re.search(rf"(?<![^\W_]){re.escape(w)}(?![^\W_])", low):
                return word
        return None

    def most_similar(self, instruction: str) -> tuple[float, str]:
        best, which = 0.0, ""
        for other in self.pool:
            score = self._scorer.score(other, instruction)["rougeL"].fmeasure
            if score > best:
                best, which = score, other
        return best, which

    def check(self, instruction: str) -> tuple[str | None, str]:
        """(reason to drop or None, detail) in the paper's order: cheap checks before ROUGE-L."""
        norm = normalized(instruction)
        if not norm or norm in self._seen:
            return "duplicate", "already in the pool"
        n = len(tokens(instruction))
        if n < self.min_words:
            return "too_short", f"{n} words < {self.min_words}"
        if n > self.max_words:
            return "too_long", f"{n} words > {self.max_words}"
        word = self._blacklisted(instruction)
        if word:
            return "blacklist", f"mentions '{word}'"
        score, other = self.most_similar(instruction)
        if score > self.rouge_threshold:
            return "similar", f"ROUGE-L {score:.2f} to: {other[:80]}"
        return None, f"max ROUGE-L {score:.2f}"
