"""Documents -> question-answer rows: reading, chunking, bad files, the job (resumable), review and save."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from studio.errors import StudioError


def make_documents(folder: Path) -> dict[str, Path]:
    """A 2-page PDF (reportlab), a DOCX with headings (python-docx), Markdown, PPTX, HTML, and bad ones."""
    import docx
    import pptx
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    folder.mkdir(parents=True, exist_ok=True)
    out = {k: folder / v for k, v in dict(pdf="guide.pdf", docx="policy.docx", md="notes.md", pptx="deck.pptx",
                                          html="page.html", locked="locked.pdf", scan="scan.pdf",
                                          broken="broken.docx").items()}
    pages = [["Orbiton Battery Guide", "The Orbiton X2 battery lasts twelve hours on a full charge.",
              "Charging from empty takes ninety minutes with the supplied adapter."],
             ["Warranty", "The warranty covers the battery for two years from the date of purchase.",
              "Damage caused by water is not covered by the warranty."]]
    c = canvas.Canvas(str(out["pdf"]), pagesize=A4)
    for lines in pages:
        for i, line in enumerate(lines):
            c.drawString(72, 800 - 20 * i, line)
        c.showPage()
    c.save()
    c = canvas.Canvas(str(out["locked"]), pagesize=A4, encrypt="secret")
    c.drawString(72, 800, "hidden text")
    c.showPage()
    c.save()
    c = canvas.Canvas(str(out["scan"]), pagesize=A4)
    c.rect(100, 100, 200, 200, fill=1)  # a page with an image-like drawing and no text
    c.showPage()
    c.save()
    d = docx.Document()
    d.add_heading("Orbiton Support Policy", 1)
    d.add_paragraph("Support requests are answered within two working days by the Orbiton help desk.")
    d.add_heading("Returns", 2)
    d.add_paragraph("Customers may return an unused Orbiton device within thirty days for a full refund.")
    d.save(str(out["docx"]))
    out["broken"].write_bytes(b"PK\x03\x04 this is not really a docx")
    out["md"].write_text("# Orbiton Company\n\nOrbiton was founded in 2019 in Lisbon and builds small solar "
                         "batteries for campers and sailors.\n\n## Team\n\nThe company employs forty engineers "
                         "who design every battery in house in Lisbon.\n", encoding="utf-8")
    p = pptx.Presentation()
    for title, body in (("Markets", "Orbiton ships to twelve countries across Europe and Asia today."),
                        ("Recycling", "Each battery is recycled at the end of its life in our own plant.")):
        slide = p.slides.add_slide(p.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    p.save(str(out["pptx"]))
    out["html"].write_text("<html><body><h1>About</h1><p>Orbiton answers the phone from nine to five every "
                           "weekday, and by e-mail at any time.</p></body></html>", encoding="utf-8")
    return out


@pytest.fixture
def documents(tmp_path) -> dict[str, Path]:
    return make_documents(tmp_path / "docs")


def test_every_format_becomes_text_with_its_page_and_headings(documents):
    from studio.data.docs import chunk_pages, read_document

    pages, notes = read_document(documents["pdf"])
    assert [p.page for p in pages] == [1, 2] and "twelve hours" in pages[0].text and "water" in pages[1].text
    assert not notes
    pages, _ = read_document(documents["pptx"])
    assert [p.page for p in pages] == [1, 2] and "twelve countries" in pages[0].text
    pages, _ = read_document(documents["docx"])
    chunks = chunk_pages(pages, chunk_chars=1500, min_chars=40)
    assert [c.heading for c in chunks] == ["Orbiton Support Policy", "Orbiton Support Policy › Returns"]
    assert "thirty days" in chunks[1].text and chunks[1].page is None and chunks[1].file == "policy.docx"
    pages, _ = read_document(documents["html"])
    assert "nine to five" in pages[0].text
    pages, _ = read_document(documents["md"])
    assert chunk_pages(pages, 1500, 40)[0].heading == "Orbiton Company"


def test_long_sections_are_split_at_paragraphs_within_the_limit():
    from studio.data.docs import Page, chunk_pages

    body = "\n\n".join(f"Paragraph {i} says something about batteries and their long life." * 3 for i in range(20))
    chunks = chunk_pages([Page("long.md", None, "# Title\n\n" + body)], chunk_chars=400, min_chars=50)
    assert len(chunks) > 5 and all(len(c.text) <= 400 for c in chunks)
    assert all(c.heading == "Title" for c in chunks)


def test_bad_documents_are_named_and_the_rest_processed(documents):
    from studio.data.docs import read_all

    files = [str(documents[k]) for k in ("pdf", "broken", "locked", "scan", "md")]
    logged = []
    chunks, records = read_all(files, 1500, 40, logged.append)
    assert {c.file for c in chunks} == {"guide.pdf", "notes.md"}
    bad = {r["file"]: r["error"] for r in records if not r["ok"]}
    assert set(bad) == {"broken.docx", "locked.pdf", "scan.pdf"}
    assert bad["locked.pdf"]["key"] == "docs.encrypted" and "password" in bad["locked.pdf"]["message"]
    assert bad["scan.pdf"]["key"] == "docs.scanned" and "OCR" in bad["scan.pdf"]["message"]
    assert bad["broken.docx"]["key"] == "docs.corrupt" and "broken.docx" in bad["broken.docx"]["message"]
    assert len(logged) == 3 and all("skipped" in line for line in logged)
    with pytest.raises(StudioError) as err:
        from studio.data.docs import read_document

        read_document(documents["locked"])
    assert "locked.pdf" in err.value.one_line("zh") and "加密" in err.value.one_line("zh")


def test_questions_are_parsed_and_answers_checked_against_their_passage():
    from studio.data.docs import clean_answer, parse_questions, support

    text = "Questions:\n1. What does the warranty cover?\n2. How long does charging take?\n"
    assert parse_questions(text) == ["What does the warranty cover?", "How long does charging take?"]
    passage = "The warranty covers the battery for two years from the date of purchase."
    assert support("The battery, for two years.", passage) == 1.0
    assert support("It costs 1000 dollars in Paris.", passage) < 0.3
    assert support("", passage) == 0.0
    assert support("两年", "保修期为两年。") == 1.0
    assert clean_answer("Answer: two years") == "two years"


def _ctx(workspace, spec: dict, run_dir: Path):
    from studio.jobs.context import JobContext
    from studio.jobs.events import Events
    from studio.jobs.store import Job

    now = time.time()
    job = Job(id=f"inline-{run_dir.name}", kind="docs", spec=spec, state="running", pool="compute",
              run_dir=str(run_dir), created_at=now, updated_at=now)
    return JobContext(job=job, workspace=workspace, events=Events(run_dir))


@pytest.mark.slow  # two runs of the job with a model loaded in each: ~1-2 min here
def test_docs_job_resumes_after_a_crash_and_reports_bad_files(workspace, documents, tiny_model, monkeypatch):
    """The real job on the tiny model as teacher (its text is noise, so rows get filtered: the machinery is what
    is tested here; the embedded model's real rows are the slow test below)."""
    from studio.data import docs

    cfg = docs.config_from([str(documents[k]) for k in ("pdf", "docx", "md", "broken")], teacher="local",
                           model="tiny-random-llama", questions=2)
    spec = dict(cfg.model_dump(mode="json"), batch_size=1, max_tokens=16, min_chunk_chars=40)
    run_dir = workspace.new_run_dir("docs", "run")
    real, calls = docs._batch, []

    def crash_after_two(*args):
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(docs, "_batch", crash_after_two)
    with pytest.raises(RuntimeError):
        docs.run_job(_ctx(workspace, spec, run_dir))
    state = json.loads((run_dir / docs.STATE).read_text())
    assert state["chunks_done"] == 2
    monkeypatch.setattr(docs, "_batch", real)
    out = docs.run_job(_ctx(workspace, spec, run_dir))
    chunks = [json.loads(line) for line in (run_dir / docs.CHUNKS).read_text().splitlines()]
    state = json.loads((run_dir / docs.STATE).read_text())
    assert state["chunks_done"] == len(chunks) == 6 and state["requests"] >= 5
    candidates = [json.loads(line) for line in Path(out["candidates"]).read_text().splitlines()]
    assert {c["source"] for c in candidates} == {"guide.pdf", "policy.docx", "notes.md"}
    assert {c["page"] for c in candidates if c["source"] == "guide.pdf"} == {1, 2}
    assert sum(state["counts"].values()) > 0
    problems = docs.problems(run_dir)
    assert len(problems) == 1 and problems[0].startswith("broken.docx cannot be read as DOCX")
    assert "无法按 DOCX 读取" in docs.problems(run_dir, "zh")[0]
    progress = json.loads((run_dir / "progress.json").read_text())
    assert progress["fraction"] == 1.0


def test_reviewed_rows_are_saved_as_a_dataset_version_with_their_source(workspace):
    from studio.data import docs, store

    review = [{"keep": True, "instruction": "How long does the battery last?", "output": "twelve hours",
               "source": "guide.pdf", "page": "1", "heading": "", "status": "kept", "detail": ""},
              {"keep": False, "instruction": "Unsupported?", "output": "1000 dollars", "source": "guide.pdf",
               "page": 2, "heading": "", "status": "unsupported", "detail": ""},
              {"keep": "true", "instruction": "What is returned?", "output": "unused devices", "source": "policy.docx",
               "page": "", "heading": "Returns", "status": "kept", "detail": ""}]
    path, count = docs.save_reviewed(workspace.datasets, "docs-qa", review)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert count == 2 and [r["source"] for r in rows] == ["guide.pdf", "policy.docx"]
    assert rows[0]["page"] == 1 and rows[1]["page"] is None and rows[1]["heading"] == "Returns"
    assert store.info(workspace.datasets, "docs-qa")["latest"] == 1


@pytest.mark.slow  # the embedded model writes and answers the questions: minutes on a CPU
def test_pdf_docx_and_markdown_become_qa_rows_with_sources(workspace, manager, documents, embedded_model, tmp_path,
                                                            capsys):
    from studio.cli import main
    from studio.data import docs

    out = tmp_path / "qa.jsonl"
    code = main(["--workspace", str(workspace.root), "data", "from-docs", str(documents["pdf"]),
                 str(documents["docx"]), str(documents["md"]), str(documents["broken"]), "-o", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "broken.docx cannot be read as DOCX" in printed.err
    job = manager.list(kind="docs", limit=1)[0]
    review = docs.review_rows(job.run_dir)
    answered = [r for r in review if r["output"]]
    assert {r["source"] for r in answered} == {"guide.pdf", "policy.docx", "notes.md"}
    assert all(r["page"] in (1, 2) for r in answered if r["source"] == "guide.pdf")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows, "no row passed the filters"
    for row in rows:
        assert row["instruction"].strip() and row["output"].strip() and row["source"] in (
            "guide.pdf", "policy.docx", "notes.md")
        assert docs.support(row["output"], _passage_text(documents, row)) >= 0.6
    path, count = docs.save_reviewed(workspace.datasets, "from-docs", review)
    assert count == len(rows) and path.is_file()


def _passage_text(documents, row) -> str:
    from studio.data.docs import read_document

    name = {"guide.pdf": "pdf", "policy.docx": "docx", "notes.md": "md"}[row["source"]]
    pages, _ = read_document(documents[name])
    return "\n".join(p.text for p in pages if row["page"] in (None, p.page))
