"""``--statistics``: how often each rule fired, as ruff prints it (count, code, name), most frequent first."""

from __future__ import annotations

import json
from typing import IO

from graphaudit.findings import Report
from graphaudit.reporters.escaping import escape


def statistics(report: Report) -> list[dict]:
    """One row per rule that fired: most frequent first, then by code, so the order is deterministic."""
    counts: dict[tuple[str, str], int] = {}
    for f in report.findings:
        counts[(f.code, f.name)] = counts.get((f.code, f.name), 0) + 1
    rows = [{"count": n, "code": code, "name": name} for (code, name), n in counts.items()]
    return sorted(rows, key=lambda r: (-r["count"], r["code"]))


def write_statistics(report: Report, stream: IO[str], fmt: str, *, color: bool | None = None) -> None:
    rows = statistics(report)
    if fmt == "json":
        json.dump(rows, stream, indent=2)
        stream.write("\n")
        return
    width = max((len(str(r["count"])) for r in rows), default=1)
    for r in rows:
        stream.write(f"{r['count']:>{width}}\t{r['code']}\t{r['name']}\n")
    for a in report.errors:  # a count that left out unreadable artifacts must say so
        stream.write(f"{escape(a.path)}: error: {escape(a.error or '')}\n")
