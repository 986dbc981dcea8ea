"""Test helpers: `assert_clean(target)` fails a test with a compact table of what graphaudit found."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from graphaudit.findings import Finding, Report

TABLE_WIDTH = 120


def assert_clean(target: Any, *, select: Sequence[str] | str | None = None,
                 ignore: Sequence[str] | str | None = None, **options: Any) -> Report:
    """Audit ``target`` (a path or a live object, as for `graphaudit.audit`); fail if the report is not clean.

    Returns the report, so a test can look further at what passed (info findings, notes).
    """
    __tracebackhide__ = True
    from graphaudit.api import audit

    report = audit(target, select=select, ignore=ignore, **options)
    if not report:
        raise AssertionError(failure_message(report, target))
    return report


def failure_message(report: Report, target: Any = None) -> str:
    """What failed: one summary line, the failing findings as a table, and the unreadable artifacts."""
    failing = report.failing()
    what = _describe(target) if target is not None else ", ".join(a.path for a in report.artifacts)
    parts = []
    if failing:
        parts.append(f"{len(failing)} finding{'s' if len(failing) != 1 else ''} at or above `{report.fail_on.value}`")
    if report.errors:
        parts.append(f"{len(report.errors)} unreadable")
    lines = [f"graphaudit: {' and '.join(parts)} in {what}"]
    if failing:
        lines.append(findings_table(failing, with_artifact=len({f.location.artifact for f in failing}) > 1))
    for a in report.errors:
        lines.append(f"  {a.path}: error: {a.error}")
    return "\n".join(lines)


def findings_table(findings: Sequence[Finding], *, with_artifact: bool = False, width: int = TABLE_WIDTH) -> str:
    """Code, location, message and fix-up title: plain text, no colour, a fixed width."""
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, show_edge=False, pad_edge=False, padding=(0, 2, 0, 0), header_style="", expand=True)
    table.add_column("code", no_wrap=True)
    table.add_column("location", max_width=28)
    table.add_column("message", ratio=3)
    table.add_column("fix-up", ratio=2)
    for f in findings:
        table.add_row(f"{f.code} {f.severity.value}", _location(f, with_artifact), f.message, f.fixup.title or "-")
    out = io.StringIO()
    Console(file=out, width=width, no_color=True, highlight=False, force_terminal=False,
            emoji=False, markup=False).print(table)
    return "\n".join("  " + line.rstrip() for line in out.getvalue().rstrip("\n").splitlines())


def _location(f: Finding, with_artifact: bool) -> str:
    loc = f.location
    parts = [loc.artifact] if with_artifact else []
    if loc.graph:
        parts.append(loc.graph)
    if loc.scope:
        parts.append(f"`{loc.scope}`")
    if loc.variables:
        parts.append(f"{len(loc.variables):,} variable{'s' if len(loc.variables) != 1 else ''}")
    elif loc.nodes:
        parts.append(f"{len(loc.nodes):,} node{'s' if len(loc.nodes) != 1 else ''}")
    return " ".join(parts) or loc.artifact


def _describe(target: Any) -> str:
    import os

    if isinstance(target, (str, os.PathLike)):
        return os.fspath(target)
    if isinstance(target, (list, tuple)):
        return ", ".join(_describe(t) for t in target)
    from graphaudit.formats.live import describe

    return describe(target)
