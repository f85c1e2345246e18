"""What the Data page's panels share: the dataset being edited and the few components that show it.

The page makes these once (unrendered); each panel renders the ones it displays and writes the
others as event outputs, so no panel reaches into another panel's components:

- `sess`: the `Session` being edited (one per browser session), `source`: the imported file's path;
- `loaded`: a token that changes whenever a different dataset is loaded (panels that show the rows
  subscribe to it), carrying the dataset's suggested name;
- `summary`, `findings`, `message`: shown by the import and grid panels;
- the `data.saved` channel (app-wide): the name of the dataset just saved (pickers refresh on it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from ...data import session as sessions
from ...data.findings import DataError

NONE = "—"
SAVED_CHANNEL = "data.saved"


@dataclass
class DataPage:
    sess: gr.State
    source: gr.State
    loaded: gr.State
    summary: gr.Markdown
    findings: gr.Dataframe
    message: gr.Markdown
    saved: gr.State

    @classmethod
    def create(cls, studio) -> DataPage:
        t = studio.t
        return cls(sess=gr.State(None), source=gr.State(None), loaded=gr.State(None),
                   summary=gr.Markdown(elem_id="data-summary", render=False),
                   findings=gr.Dataframe(headers=finding_headers(t), label=t("data.findings"), interactive=False,
                                         elem_id="data-findings", wrap=True, max_height=260, render=False),
                   message=gr.Markdown(elem_id="data-saved", render=False),
                   saved=studio.channel(SAVED_CHANNEL))

    def shown(self) -> list:
        """The outputs of `shown_values`: what a newly loaded dataset changes."""
        return [self.sess, self.loaded, self.summary, self.findings, self.message]


def token(name: str | None = None) -> dict:
    """A fresh `loaded` value: a new id (so the change fires) and the dataset's suggested name."""
    return {"id": uuid.uuid4().hex, "name": name}


def shown_values(t, sess, message: str = "", name: str | None = None) -> list:
    """Values for `DataPage.shown()` after loading `sess` (None: nothing loaded)."""
    if name is None and sess is not None and sess.file:
        name = Path(sess.file).stem
    return [sess, token(name), summary_text(t, sess), findings_frame(t, sess), message]


def finding_headers(t) -> list[str]:
    return [t(f"data.finding_{c}") for c in ("severity", "where", "field", "problem", "hint")]


def findings_frame(t, sess) -> pd.DataFrame:
    """The findings as a table in the reader's language."""
    findings = sess.findings if sess else []
    return pd.DataFrame(sessions.findings_rows(findings, lang=t.lang), columns=finding_headers(t))


def summary_text(t, sess) -> str:
    if sess is None:
        return ""
    n_err = len(sess.errors)
    n_warn = len(sess.findings) - n_err
    text = t("data.detected", file=sess.file, rows=len(sess.rows), format=sess.format or "?",
             encoding=sess.encoding or "—")
    if sess.validation:
        text += " " + t("data.split_held", rows=len(sess.validation))
    return text + "  \n" + (t("data.problems", errors=n_err, warnings=n_warn) if sess.findings else t("data.clean"))


def err(t, exc) -> str:
    return f"⚠️ {t.error(exc)}"


def require_rows(sess) -> None:
    """The session has rows without errors (or a StudioError saying what to do)."""
    from ...errors import StudioError

    if sess is None or not sess.rows:
        raise StudioError(key="ui.nothing_loaded")
    if sess.errors:
        raise DataError(sess.errors)
