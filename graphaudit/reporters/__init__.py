"""Reporters share one lifecycle (start, handle each artifact, stop); a new format is a small subclass."""

from __future__ import annotations

from typing import IO

from graphaudit.findings import Report
from graphaudit.reporters.base import Reporter


#: Format -> (module, class): only the chosen reporter is imported (rich costs ~40 ms on a JSON run).
_REPORTERS = {"console": ("console", "ConsoleReporter"), "json": ("json", "JsonReporter"),
              "sarif": ("sarif", "SarifReporter"), "github": ("github", "GithubReporter"),
              "junit": ("junit", "JunitReporter"), "gitlab": ("gitlab", "GitlabReporter"),
              "html": ("html", "HtmlReporter")}


def get_reporter(fmt: str, stream: IO[str], **options) -> Reporter:
    import importlib

    try:
        module, name = _REPORTERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; expected one of: {', '.join(_REPORTERS)}") from None
    cls = getattr(importlib.import_module(f"graphaudit.reporters.{module}"), name)
    return cls(stream, **options)


def to_dict(report: Report) -> dict:
    """The ``--format json`` object (docs/output-contract.md)."""
    from graphaudit.reporters.json import report_dict

    return report_dict(report)


def to_json(report: Report, *, indent: int | None = 2) -> str:
    """The ``--format json`` text, without the trailing newline."""
    import json

    return json.dumps(to_dict(report), indent=indent, ensure_ascii=False)


def to_sarif(report: Report, *, indent: int | None = 2) -> str:
    """SARIF 2.1.0, as ``--format sarif`` writes it, without the trailing newline."""
    import json

    from graphaudit.reporters.sarif import sarif_dict

    return json.dumps(sarif_dict(report), indent=indent, ensure_ascii=False)


def renderable(report: Report):
    """The console report as a rich ``Text``: ``rich.print(renderable(report))`` matches the CLI."""
    import io

    from rich.text import Text

    from graphaudit.reporters.console import ConsoleReporter

    buffer = io.StringIO()
    # Styles go through ANSI codes and back, so the target console decides about colour.
    ConsoleReporter(buffer, color=True).write(report)
    return Text.from_ansi(buffer.getvalue().rstrip("\n"))


FORMATS = ("console", "json", "sarif", "github", "junit", "gitlab", "html")
__all__ = ["FORMATS", "Reporter", "get_reporter", "renderable", "to_dict", "to_json", "to_sarif"]
