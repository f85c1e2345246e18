"""What every tab is built with: the workspace, the one job manager and the translator."""

from __future__ import annotations

from dataclasses import dataclass

from ..jobs import JobManager
from ..workspace import Workspace
from .i18n import Translator


@dataclass
class Studio:
    workspace: Workspace
    manager: JobManager
    t: Translator

    @property
    def lang(self) -> str:
        return self.t.lang
