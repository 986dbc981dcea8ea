"""Reporters share one lifecycle (start, handle each artifact, stop); a new format is a small subclass."""

from __future__ import annotations

from typing import IO

from graphaudit.reporters.base import Reporter


def get_reporter(fmt: str, stream: IO[str], **options) -> Reporter:
    from graphaudit.reporters.console import ConsoleReporter
    from graphaudit.reporters.github import GithubReporter
    from graphaudit.reporters.json import JsonReporter
    from graphaudit.reporters.sarif import SarifReporter

    classes = {"console": ConsoleReporter, "json": JsonReporter, "sarif": SarifReporter, "github": GithubReporter}
    try:
        cls = classes[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; expected one of: {', '.join(classes)}") from None
    return cls(stream, **options)


FORMATS = ("console", "json", "sarif", "github")
__all__ = ["FORMATS", "Reporter", "get_reporter"]
