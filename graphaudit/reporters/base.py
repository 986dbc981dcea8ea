"""The reporter lifecycle: ``start``, ``handle`` once per artifact, ``stop`` with the whole report."""

from __future__ import annotations

from typing import IO

from graphaudit.findings import ArtifactResult, Finding, Report
from graphaudit.version import __version__


class Reporter:
    def __init__(self, stream: IO[str], *, show_fixes: bool = False, **_: object) -> None:
        self.stream = stream
        self.show_fixes = show_fixes

    def start(self) -> None:
        """Called once before any artifact."""

    def handle(self, result: ArtifactResult) -> None:
        """Called once per artifact, in the report's order."""

    def stop(self, report: Report) -> None:
        """Called once at the end."""

    def write(self, report: Report) -> None:
        self.start()
        for result in report.artifacts:
            self.handle(result)
        self.stop(report)


def finding_dict(f: Finding) -> dict:
    """A finding as the JSON contract spells it (also reused by SARIF properties)."""
    loc = f.location
    return {
        "code": f.code,
        "name": f.name,
        "severity": f.severity.value,
        "confidence": f.confidence.value,
        "message": f.message,
        "location": {"graph": loc.graph, "scope": loc.scope, "nodes": list(loc.nodes),
                     "variables": list(loc.variables)},
        "evidence": list(f.evidence),
        "fixup": {"title": f.fixup.title, "detail": f.fixup.detail, "code": f.fixup.code,
                      "applicability": f.fixup.applicability},
    }


TOOL = {"name": "graphaudit", "version": __version__}
DOCS_URL = "https://github.com/graphaudit/graphaudit/blob/main/docs/rules/{code}.md"


def docs_url(code: str) -> str:
    """The rule's published page (the same link SARIF gives as helpUri)."""
    return DOCS_URL.format(code=code)
