"""``--format github``: workflow-command annotations, and the step summary past GitHub's cap."""

from __future__ import annotations

import os

from graphaudit.findings import Finding, Report, Severity
from graphaudit.reporters.base import Reporter
from graphaudit.reporters.escaping import escape

# GitHub shows at most 10 annotations of each level per step; the rest go to the step summary.
PER_LEVEL_CAP = 10
COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _escape_data(text: str) -> str:
    text = escape(text)
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(f: Finding) -> str:
    title = _escape_property(f"{f.code} {f.name}")
    file = _escape_property(f.location.artifact)
    body = f.message + (f" — fix: {f.fixup.title}" if f.fixup.title else "")
    return f"::{COMMANDS[f.severity]} file={file},title={title}::{_escape_data(body)}"


class GithubReporter(Reporter):
    def stop(self, report: Report) -> None:
        # Every annotation counts against its level's cap, the unreadable-artifact ones too;
        # whatever is past the cap goes to the step summary, so nothing is silently dropped.
        shown = {s: 0 for s in Severity}
        overflow: list[tuple[str, str, str, str]] = []  # (code, severity, path, message)

        def emit(sev: Severity, line: str, row: tuple[str, str, str, str]) -> None:
            if shown[sev] < PER_LEVEL_CAP:
                shown[sev] += 1
                self.stream.write(line + "\n")
            else:
                overflow.append(row)

        for art in report.artifacts:
            if art.error:
                emit(Severity.ERROR, f"::error file={_escape_property(art.path)},title=unreadable artifact::"
                                     f"{_escape_data(art.error)}", ("unreadable", "error", art.path, art.error))
            if art.warning:
                emit(Severity.WARNING, f"::warning file={_escape_property(art.path)},title=artifact not read::"
                                       f"{_escape_data(art.warning)}", ("not read", "warning", art.path, art.warning))
            for f in art.findings:
                emit(f.severity, annotation(f), (f.code, f.severity.value, f.location.artifact, f.message))
        if overflow:
            lines = ["### graphaudit: findings past GitHub's annotation limit", "",
                     "| code | severity | artifact | message |", "| --- | --- | --- | --- |"]
            lines += [f"| {code} | {sev} | `{escape(path)}` | {escape(message).replace('|', '/')} |"
                      for code, sev, path, message in overflow]
            text = "\n".join(lines) + "\n"
            summary = os.environ.get("GITHUB_STEP_SUMMARY")
            if summary:
                with open(summary, "a", encoding="utf-8") as fh:
                    fh.write(text)
                self.stream.write(f"::notice title=graphaudit::{len(overflow)} more findings are in the step summary\n")
            else:
                self.stream.write(text)
