"""``--format gitlab``: a GitLab Code Quality report (a JSON array of issues)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from graphaudit.findings import Report, Severity
from graphaudit.reporters.base import Reporter
from graphaudit.reporters.escaping import escape_tree
from graphaudit.reporters.sarif import fingerprint

SEVERITIES = {Severity.ERROR: "critical", Severity.WARNING: "major", Severity.INFO: "info"}


def gitlab_issues(report: Report) -> list[dict]:
    # An artifact is not a text file: every issue is at line 1 of the artifact's path.
    issues = []
    for art in report.artifacts:
        path = Path(art.path).as_posix()
        if art.error:
            material = f"unreadable\0{path}\0{art.error}".encode("utf-8", "surrogatepass")
            issues.append({"description": f"unreadable artifact: {art.error}", "check_name": "unreadable",
                           "fingerprint": hashlib.sha256(material).hexdigest(), "severity": "blocker",
                           "location": {"path": path, "lines": {"begin": 1}}})
        for f in art.findings:
            # SARIF's fingerprint leaves the path to the location; GitLab wants one unique per report.
            unique = hashlib.sha256(f"{path}\0{fingerprint(f)}".encode("utf-8", "surrogatepass")).hexdigest()
            issues.append({"description": f"{f.code} {f.message}", "check_name": f.code,
                           "fingerprint": unique, "severity": SEVERITIES[f.severity],
                           "location": {"path": Path(f.location.artifact).as_posix(), "lines": {"begin": 1}}})
    return escape_tree(issues)


class GitlabReporter(Reporter):
    def stop(self, report: Report) -> None:
        json.dump(gitlab_issues(report), self.stream, indent=2, ensure_ascii=False)
        self.stream.write("\n")
