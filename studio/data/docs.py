"""Question–answer rows from documents (PDF, DOCX, PPTX, HTML, Markdown, TXT), as a resumable job.

Text: markitdown (Microsoft, MIT) converts every format through one API into Markdown that keeps the
headings — which the chunker splits on — and it is light and fully offline (docling would bring
layout/OCR models and torch-vision pipelines to download; pypdf reads PDFs only). PDFs are read page
by page with pdfminer.six, the same extractor markitdown uses for PDFs (installed with
`markitdown[pdf]`), so that every row keeps its page; PPTX slides keep their slide number the same
way (markitdown marks them). Bad documents do not stop the job: an encrypted PDF, a PDF whose pages
carry no text (a scan), or a file that cannot be opened (a corrupt DOCX) gets a message naming the
file and what to do, and the other documents are processed.

Chunks: the Markdown is split at headings, then long sections at paragraph (or sentence) ends, up
to `chunk_chars` characters; a chunk remembers its file, page and heading path.

Rows: for each chunk the teacher (self_instruct's teachers: the embedded model, a local model, or an
OpenAI-compatible endpoint whose key is a job secret) is asked for questions the passage answers,
then asked to answer each question from the passage alone. Questions go through Self-Instruct's
filters (exact duplicates, ROUGE-L near-duplicates, length); answers are checked against their
chunk (`support`: the share of the answer's words found in the passage) so that an answer the
passage does not support is dropped. Everything lands in `candidates.jsonl` with its fate (the
review grid shows it) and the kept rows in `generated.jsonl` (alpaca rows with `source`, `page`,
`heading`); the state is rewritten after every batch, so a cancelled job resumes where it stopped.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from pydantic import Field

from ..atomic import read_jsonl, write_json, write_jsonl
from ..config import Strict, opt
from ..errors import StudioError
from .filters import CJK, Filters, parse_tasks, tokens
from .self_instruct import TeacherConfig, build_teacher

SUFFIXES = {".pdf": "PDF", ".docx": "DOCX", ".pptx": "PPTX", ".html": "HTML", ".htm": "HTML", ".md": "Markdown",
            ".markdown": "Markdown", ".txt": "text"}
STATE, CHUNKS, CANDIDATES, OUTPUT, DOCUMENTS = ("state.json", "chunks.jsonl", "candidates.jsonl", "generated.jsonl",
                                                "documents.json")
REASONS = ("duplicate", "similar", "too_short", "too_long", "no_question", "no_answer", "unsupported")
_SLIDE = re.compile(r"<!--\s*Slide number:\s*(\d+)\s*-->")
_HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*$")


class DocsFilterConfig(Strict):
    rouge_threshold: float = opt(0.7, "Drop a question whose ROUGE-L similarity to an earlier one is above this",
                                 "与之前问题的 ROUGE-L 相似度高于此值则丢弃", gt=0, le=1)
    min_words: int = opt(3, "Drop questions shorter than this (words; a Chinese character counts as one)",
                         "问题少于此词数则丢弃（一个汉字算一个词）", ge=1)
    max_words: int = opt(80, "Drop questions longer than this", "问题多于此词数则丢弃", ge=1)
    min_support: float = opt(0.6, "Drop an answer when less than this share of its words appears in its passage",
                             "回答中出现在原文段落里的词占比低于此值则丢弃", ge=0, le=1)


class DocsConfig(Strict):
    files: list[str] = opt([], "Documents: PDF, DOCX, PPTX, HTML, Markdown or TXT files",
                           "文档：PDF、DOCX、PPTX、HTML、Markdown 或 TXT 文件")
    questions_per_chunk: int = opt(2, "Questions asked for per passage", "每个段落生成的问题数", ge=1, le=10)
    chunk_chars: int = opt(1500, "Longest passage in characters", "段落的最大字符数", ge=200, le=20000)
    min_chunk_chars: int = opt(80, "Shorter passages are joined to the next one (or skipped at the end)",
                               "短于此长度的段落与下一段合并（位于末尾则跳过）", ge=1)
    max_chunks: int = opt(0, "Use at most this many passages (0: all)", "最多使用的段落数（0 表示全部）", ge=0)
    batch_size: int = opt(4, "Passages sent to the teacher together", "一次发送给教师模型的段落数", ge=1, le=64)
    temperature: float = opt(0.0, "Sampling temperature for the questions (0: greedy, steadiest with small teachers)",
                             "生成问题的采样温度（0 表示贪心解码，小模型作教师时最稳定）", ge=0, le=2)
    max_tokens: int = opt(256, "Longest teacher answer in tokens", "教师回答的最大 token 数", ge=8, le=4096)
    seed: int = opt(0, "Random seed", "随机种子")
    teacher: TeacherConfig = Field(default_factory=TeacherConfig)
    filters: DocsFilterConfig = Field(default_factory=DocsFilterConfig)

    @classmethod
    def parse(cls, raw: dict, source: str = "documents config") -> "DocsConfig":
        from pydantic import ValidationError

        from ..spec import first_error as _first_error

        try:
            return cls.model_validate(raw or {})
        except ValidationError as exc:
            raise StudioError(key="docs.bad_config", source=source, error=_first_error(exc, model=cls)) from None


def config_from(files: list[str], teacher: str = "embedded", model: str | None = None, url: str | None = None,
                questions: int = 2, chunk_chars: int = 1500, max_chunks: int = 0,
                min_support: float = 0.6) -> DocsConfig:
    """The docs job's config from plain values (the CLI and the Data page's panel both call this)."""
    if not files:
        raise StudioError(key="docs.no_files")
    default_model = {"embedded": "smollm2-135m-instruct"}.get(teacher, model or "")
    raw = {"files": [str(Path(f).expanduser().resolve()) for f in files], "questions_per_chunk": int(questions),
           "chunk_chars": int(chunk_chars), "max_chunks": int(max_chunks),
           "filters": {"min_support": float(min_support)},
           "teacher": {"kind": teacher, "model": model or default_model, "url": url or ""}}
    return DocsConfig.parse(raw, "documents")


# ---------------------------------------------------------------- documents -> text

@dataclass
class Page:
    """Text of one page (PDF), slide (PPTX) or whole document (the rest; page None)."""
    file: str
    page: int | None
    text: str


def _pdf_pages(path: Path) -> list[Page]:
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTTextContainer
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfpage import PDFTextExtractionNotAllowed
    from pdfminer.pdfparser import PDFSyntaxError
    from pdfminer.psparser import PSException

    pages = []
    try:
        for number, layout in enumerate(extract_pages(str(path)), start=1):
            text = "\n".join(el.get_text() for el in layout if isinstance(el, LTTextContainer))
            pages.append(Page(path.name, number, _tidy(text)))
    except (PDFPasswordIncorrect, PDFEncryptionError, PDFTextExtractionNotAllowed):
        raise StudioError(key="docs.encrypted", file=path.name) from None
    except (PDFSyntaxError, PSException, ValueError, KeyError, TypeError) as exc:
        raise StudioError(key="docs.corrupt", file=path.name, kind="PDF", detail=_short(exc)) from None
    if not pages:
        raise StudioError(key="docs.corrupt", file=path.name, kind="PDF", detail="no pages")
    return pages


OFFICE_PARTS = {"DOCX": "word/document.xml", "PPTX": "ppt/presentation.xml"}


def _check_office(path: Path, kind: str) -> None:
    """A DOCX/PPTX is a zip holding its main part; markitdown would read anything else as plain text."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise StudioError(key="docs.corrupt", file=path.name, kind=kind, detail=_short(exc)) from None
    if bad is not None:
        raise StudioError(key="docs.corrupt", file=path.name, kind=kind, detail=f"damaged part {bad}")
    if OFFICE_PARTS[kind] not in names:
        raise StudioError(key="docs.corrupt", file=path.name, kind=kind, detail=f"no {OFFICE_PARTS[kind]}")


def _markitdown(path: Path, kind: str) -> list[Page]:
    from markitdown import MarkItDown
    from markitdown._exceptions import MarkItDownException

    if kind in OFFICE_PARTS:
        _check_office(path, kind)
    try:
        text = MarkItDown(enable_plugins=False).convert(str(path)).text_content or ""
    except MarkItDownException as exc:
        raise StudioError(key="docs.corrupt", file=path.name, kind=kind, detail=_short(exc)) from None
    except Exception as exc:  # noqa: BLE001 - a broken file raises whatever its parser raises (zipfile, lxml...)
        raise StudioError(key="docs.corrupt", file=path.name, kind=kind, detail=_short(exc)) from None
    if kind != "PPTX":
        return [Page(path.name, None, _tidy(text))]
    parts = _SLIDE.split(text)  # [before, n1, text1, n2, text2, ...]
    return [Page(path.name, int(n), _tidy(body)) for n, body in zip(parts[1::2], parts[2::2])]


def _plain(path: Path) -> list[Page]:
    from .findings import DataError
    from .readers import decode_text

    try:
        text = decode_text(path)
    except DataError:
        raise StudioError(key="docs.encoding", file=path.name) from None
    return [Page(path.name, None, _tidy(text.lstrip("\ufeff")))]


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[-1] if text else type(exc).__name__)[:200]


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\x0c", "\n")
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def read_document(path: str | Path) -> tuple[list[Page], list[str]]:
    """(pages with text, notes) — raises StudioError naming the file when nothing can be used."""
    path = Path(path)
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise StudioError(key="docs.unsupported", file=path.name, suffix=path.suffix or "(none)",
                          choices=", ".join(sorted(SUFFIXES)))
    if not path.is_file():
        raise StudioError(key="docs.missing", file=str(path))
    if kind == "PDF":
        pages = _pdf_pages(path)
    elif kind in ("Markdown", "text"):
        pages = _plain(path)
    else:
        pages = _markitdown(path, kind)
    empty = [p.page for p in pages if not p.text.strip()]
    kept = [p for p in pages if p.text.strip()]
    if not kept:
        if kind == "PDF":
            raise StudioError(key="docs.scanned", file=path.name, pages=len(pages))
        raise StudioError(key="docs.empty", file=path.name)
    notes = []
    if kind == "PDF" and empty:
        notes.append(StudioError(key="docs.pages_without_text", file=path.name,
                                 pages=", ".join(map(str, empty[:20])) + ("…" if len(empty) > 20 else "")).record())
    return kept, notes


# ---------------------------------------------------------------- text -> chunks

@dataclass
class Chunk:
    file: str
    page: int | None
    heading: str
    text: str


def _sections(text: str) -> list[tuple[str, str]]:
    """(heading path, body) for each Markdown section; text before any heading has heading ''."""
    out, path, body = [], [], []

    def close():
        if "\n".join(body).strip():
            out.append((" › ".join(h for _, h in path), "\n".join(body).strip()))

    for line in text.splitlines():
        match = _HEADING.match(line)
        if match:
            close()
            body = []
            level = len(match.group(1))
            path = [(lv, h) for lv, h in path if lv < level] + [(level, match.group(2).strip("# "))]
            body.append(match.group(2).strip("# "))  # the heading is part of its passage (context for questions)
        else:
            body.append(line)
    close()
    return out


def _pieces(body: str, limit: int) -> list[str]:
    """Split a long body at paragraph ends, then sentence ends, then hard, keeping pieces <= limit."""
    if len(body) <= limit:
        return [body]
    units = [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]
    if len(units) == 1:
        units = [s.strip() for s in re.split(r"(?<=[.!?。！？])\s*", body) if s.strip()]
    out, current = [], ""
    for unit in units:
        while len(unit) > limit:
            if current:
                out.append(current)
                current = ""
            out.append(unit[:limit])
            unit = unit[limit:]
        joined = f"{current}\n\n{unit}" if current else unit
        if len(joined) > limit:
            out.append(current)
            current = unit
        else:
            current = joined
    if current:
        out.append(current)
    return out


def chunk_pages(pages: list[Page], chunk_chars: int = 1500, min_chars: int = 80) -> list[Chunk]:
    chunks: list[Chunk] = []
    for page in pages:
        pending = None
        for heading, body in _sections(page.text):
            for piece in _pieces(body, chunk_chars):
                if pending is not None:
                    piece, pending = f"{pending.text}\n\n{piece}", None
                if len(piece) < min_chars:
                    pending = Chunk(page.file, page.page, heading, piece)
                    continue
                chunks.append(Chunk(page.file, page.page, heading, piece))
        if pending is not None and chunks and chunks[-1].file == page.file and chunks[-1].page == page.page \
                and len(chunks[-1].text) + len(pending.text) <= chunk_chars:
            chunks[-1].text += "\n\n" + pending.text
        elif pending is not None and len(tokens(pending.text)) >= 8:
            chunks.append(pending)  # a short page still says something
    return chunks


def read_all(files: list[str], chunk_chars: int, min_chars: int, log=print) -> tuple[list[Chunk], list[dict]]:
    """Chunks of every readable document, and one record per document (ok / the problem)."""
    chunks, records = [], []
    for name in files:
        try:
            pages, notes = read_document(name)
        except StudioError as exc:
            log(f"skipped {Path(name).name}: {exc.one_line()}")
            records.append({"file": Path(name).name, "path": str(name), "ok": False, "error": exc.record()})
            continue
        mine = chunk_pages(pages, chunk_chars, min_chars)
        for note in notes:
            log(f"note: {note['message']}")
        chunks += mine
        records.append({"file": Path(name).name, "path": str(name), "ok": True, "pages": len(pages),
                        "chunks": len(mine), "notes": notes})
    return chunks, records


# ---------------------------------------------------------------- prompts and checks

def question_prompt(chunk: Chunk, count: int) -> list[dict]:
    """The passage first, then a short numbered-list request: small teachers follow this best
    (asking for "one question" made SmolLM2-135M answer instead of asking)."""
    if CJK.search(chunk.text):
        ask = f"{chunk.text}\n\n就上面的文字提出 {count} 个问题，编号为 1. 2. 等，每行一个，只写问题。"
    else:
        ask = f"{chunk.text}\n\nWrite {count} questions about the text above. Number them 1., 2., one per line."
    return [{"role": "user", "content": ask}]


def answer_prompt(chunk: Chunk, question: str) -> list[dict]:
    if CJK.search(chunk.text):
        ask = f"{chunk.text}\n\n只根据上面的文字，简短回答：{question}"
    else:
        ask = f"{chunk.text}\n\nUsing only the text above, answer briefly: {question}"
    return [{"role": "user", "content": ask}]


def parse_questions(text: str) -> list[str]:
    """Numbered / bulleted questions, else lines ending in a question mark."""
    found = [t["instruction"] for t in parse_tasks(text)]
    if not found:
        found = [line.strip(" -*\"'") for line in (text or "").splitlines() if line.strip().endswith(("?", "？"))]
    asked = [q for q in found if q.rstrip().endswith(("?", "？"))]
    out = []
    for q in asked or found:
        q = re.sub(r"^(question|问题)\s*\d*\s*[:：]\s*", "", q.strip(), flags=re.IGNORECASE).strip()
        if q and q not in out:
            out.append(q)
    return out


_ANSWER_LABEL = re.compile(r"^\s*(answer|a|答案|回答|答)\s*[:：]\s*", re.IGNORECASE)


def clean_answer(text: str) -> str:
    return _ANSWER_LABEL.sub("", (text or "").strip()).strip()


def support(answer: str, passage: str) -> float:
    """Share of the answer's words (Chinese: characters) that occur in the passage; 0 for no words."""
    words = tokens(answer)
    if not words:
        return 0.0
    present = set(tokens(passage))
    return sum(w in present for w in words) / len(words)


# ---------------------------------------------------------------- the job's state

class State:
    """Everything the job knows, in its folder: rewritten after every batch (see the module doc)."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        try:
            saved = json.loads((self.run_dir / STATE).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            saved = {}
        self.done: int = saved.get("chunks_done", 0)
        self.requests: int = saved.get("requests", 0)
        self.counts: dict[str, int] = dict({"questions": 0, "kept": 0, **{r: 0 for r in REASONS}},
                                           **saved.get("counts", {}))
        self.candidates: list[dict] = read_jsonl(self.run_dir / CANDIDATES)[:saved.get("candidates", 0)]
        self.resumed = bool(saved)

    @property
    def kept(self) -> list[dict]:
        return [row_of(c) for c in self.candidates if c["status"] == "kept"]

    def save(self) -> None:
        write_jsonl(self.run_dir / CANDIDATES, self.candidates)
        write_jsonl(self.run_dir / OUTPUT, self.kept)
        write_json(self.run_dir / STATE, {"chunks_done": self.done, "requests": self.requests, "counts": self.counts,
                                          "candidates": len(self.candidates)})


def row_of(candidate: dict) -> dict:
    """The dataset row: an alpaca row that keeps its source."""
    return {"instruction": candidate["question"], "input": "", "output": candidate["answer"],
            "source": candidate["source"], "page": candidate["page"], "heading": candidate.get("heading", "")}


def load_chunks(cfg: DocsConfig, run_dir: Path, log) -> list[Chunk]:
    """The chunks, read once: a resumed job uses the same list even if a document changed since."""
    path = run_dir / CHUNKS
    if path.is_file() and (run_dir / DOCUMENTS).is_file():
        return [Chunk(**c) for c in read_jsonl(path)]
    chunks, records = read_all(cfg.files, cfg.chunk_chars, cfg.min_chunk_chars, log)
    if cfg.max_chunks:
        chunks = chunks[:cfg.max_chunks]
    write_jsonl(path, [asdict(c) for c in chunks])
    write_json(run_dir / DOCUMENTS, records)
    if not chunks:
        problems = "; ".join(r["error"]["message"] for r in records if not r["ok"])
        raise StudioError(key="docs.nothing_usable", problems=problems or "no text")
    return chunks


def _sampling(cfg: DocsConfig, seed: int, temperature: float):
    from ..infer.base import Sampling

    return Sampling(temperature=temperature, top_p=0.95, max_tokens=cfg.max_tokens, seed=seed)


def _batch(cfg: DocsConfig, state: State, chunks: list[Chunk], filters: Filters, teacher) -> None:
    asks = teacher.complete([question_prompt(c, cfg.questions_per_chunk) for c in chunks],
                            _sampling(cfg, cfg.seed + state.requests, cfg.temperature))
    state.requests += len(chunks)
    fresh: list[tuple[dict, Chunk]] = []
    for chunk, text in zip(chunks, asks):
        questions = parse_questions(text)[:cfg.questions_per_chunk]
        base = {"source": chunk.file, "page": chunk.page, "heading": chunk.heading, "answer": "", "support": None}
        if not questions:
            state.counts["no_question"] += 1
            state.candidates.append(dict(base, question="", status="no_question", detail=text[:200]))
        for q in questions:
            state.counts["questions"] += 1
            reason, detail = filters.check(q)
            entry = dict(base, question=q, status=reason or "pending", detail=detail)
            state.candidates.append(entry)
            if reason:
                state.counts[reason] += 1
            else:
                filters.add(q)
                fresh.append((entry, chunk))
    if not fresh:
        return
    answers = teacher.complete([answer_prompt(c, e["question"]) for e, c in fresh],
                               _sampling(cfg, cfg.seed + state.requests, 0.0))
    state.requests += len(fresh)
    for (entry, chunk), text in zip(fresh, answers):
        entry["answer"] = answer = clean_answer(text)
        entry["support"] = share = round(support(answer, chunk.text), 3)
        if not tokens(answer):
            entry["status"], entry["detail"] = "no_answer", "the teacher gave no answer"
        elif share < cfg.filters.min_support:
            entry["status"], entry["detail"] = "unsupported", f"{share:.0%} of its words are in the passage"
        else:
            entry["status"], entry["detail"] = "kept", f"{share:.0%} of its words are in the passage"
        state.counts[entry["status"]] += 1


def summary(counts: dict) -> str:
    dropped = ", ".join(f"{r} {counts[r]}" for r in REASONS if counts.get(r))
    return f"questions {counts.get('questions', 0)}, kept {counts.get('kept', 0)}" + (
        f", dropped: {dropped}" if dropped else "")


def run_job(ctx) -> dict:
    cfg = DocsConfig.parse(ctx.spec, f"job {ctx.job.id}")
    state = State(ctx.run_dir)
    chunks = load_chunks(cfg, ctx.run_dir, ctx.events.log)
    if state.resumed:
        ctx.events.log(f"resuming after {state.done} of {len(chunks)} passages: {summary(state.counts)}")
    passed = [c["question"] for c in state.candidates if c["status"] in ("kept", "unsupported", "no_answer")]
    filters = Filters(passed, cfg.filters.rouge_threshold, cfg.filters.min_words, cfg.filters.max_words, ())
    teacher = build_teacher(cfg.teacher, ctx) if state.done < len(chunks) else None
    try:
        while state.done < len(chunks):
            _report(ctx, state, len(chunks))
            batch = chunks[state.done:state.done + cfg.batch_size]
            _batch(cfg, state, batch, filters, teacher)
            state.done += len(batch)
            state.save()
            ctx.events.metric({"step": state.done, **state.counts})
    finally:
        if teacher is not None:
            teacher.close()
    state.save()
    _report(ctx, state, len(chunks), force=True)
    ctx.events.log(f"done: {len(chunks)} passages, {summary(state.counts)}")
    return {"output": str(ctx.run_dir / OUTPUT), "candidates": str(ctx.run_dir / CANDIDATES),
            "documents": str(ctx.run_dir / DOCUMENTS)}


def _report(ctx, state: State, total: int, force: bool = False) -> None:
    ctx.events.progress(state.done / max(total, 1), f"{state.done}/{total} passages · {summary(state.counts)}",
                        phase="generate", counts=dict(state.counts), force=force)
    ctx.check_cancelled()


# ---------------------------------------------------------------- review (Data page, CLI)

REVIEW_COLUMNS = ["keep", "instruction", "output", "source", "page", "heading", "status", "detail"]


def review_rows(run_dir: str | Path) -> list[dict]:
    """Every question with an answer, `keep` pre-set for the ones the filters kept."""
    out = []
    for c in read_jsonl(Path(run_dir) / CANDIDATES):
        if not c.get("question"):
            continue
        out.append({"keep": c["status"] == "kept", "instruction": c["question"], "output": c.get("answer", ""),
                    "source": c["source"], "page": c["page"] if c["page"] is not None else "",
                    "heading": c.get("heading", ""), "status": c["status"], "detail": c.get("detail", "")})
    return out


def selected(review: list[dict]) -> list[dict]:
    """The ticked rows as dataset rows (alpaca + source, page, heading)."""
    out = []
    for r in review:
        if str(r.get("keep")).lower() not in ("true", "1") or not str(r.get("instruction") or "").strip() \
                or not str(r.get("output") or "").strip():
            continue
        page = str(r.get("page") if r.get("page") is not None else "").strip()
        out.append({"instruction": str(r["instruction"]).strip(), "input": "", "output": str(r["output"]).strip(),
                    "source": str(r.get("source") or ""), "page": int(float(page)) if re.fullmatch(r"\d+(\.0)?", page)
                    else None, "heading": str(r.get("heading") or "")})
    return out


def problems(run_dir: str | Path, lang: str = "en") -> list[str]:
    """One line per document the job could not use, in the reader's language."""
    from .. import i18n

    try:
        records = json.loads((Path(run_dir) / DOCUMENTS).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return []
    out = []
    for r in records:
        for item in ([r["error"]] if not r["ok"] else r.get("notes") or []):
            if item.get("key"):
                msg = i18n.text(f"{item['key']}.msg", lang, **item["args"])
                hint = i18n.text(f"{item['key']}.hint", lang, **item["args"])
                out.append(f"{msg} — {hint}")
            else:
                out.append(item["message"])
    return out


def save_reviewed(datasets_root: Path, name: str, review: list[dict], note: str = "Q&A from documents, reviewed"):
    """The ticked review rows saved as a new dataset version, checked like any dataset (session.save)."""
    from .session import Session, save

    rows = selected(review)
    session = Session(rows, "alpaca", "documents")
    return save(session, datasets_root, name or "documents-qa", note), len(rows)
