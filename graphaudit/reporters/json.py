"""``--format json``: one object, exactly the contract in docs/output-contract.md."""

from __future__ import annotations

import json

from graphaudit.findings import ArtifactResult, Report
from graphaudit.reporters.base import TOOL, Reporter, finding_dict
from graphaudit.reporters.escaping import escape_tree


def report_dict(report: Report) -> dict:
    """The report as plain data; every string from an artifact is escaped (reporters/escaping.py)."""
    return {
        "version": 1,
        "tool": dict(TOOL),
        "artifacts": escape_tree([artifact_dict(a) for a in report.artifacts], multiline=MULTILINE),
        "summary": {
            "artifacts": len(report.artifacts),
            "errors": len(report.errors),
            "findings": report.counts(),
            "warnings": len(report.warnings),
            "skipped": {kind: len(paths) for kind, paths in report.skipped},
            "hidden": hidden_dict(report),
        },
    }


def hidden_dict(report: Report) -> dict:
    """Findings the run did not report, and why: the baseline, or a declaration in the config
    (`finetune`, `scratch`, `[[tool.graphaudit.suppress]]`), counted per declaration."""
    return {"baseline": report.baseline_hidden,
            "declared": sum(n for _, n in report.silenced),
            "by_declaration": escape_tree(dict(report.silenced))}


MULTILINE = frozenset({"code", "detail"})  # fix-up fields that hold several lines


def artifact_dict(a: ArtifactResult) -> dict:
    return {
        "path": a.path,
        "format": a.format,
        "error": a.error,
        "stats": {"graphs": a.stats.graphs, "nodes": a.stats.nodes, "functions": a.stats.functions,
                  "variables": a.stats.variables},
        "findings": [finding_dict(f) for f in a.findings],
        "warning": a.warning,
        "notes": list(a.notes),
    }


class JsonReporter(Reporter):
    def stop(self, report: Report) -> None:
        json.dump(report_dict(report), self.stream, indent=2, ensure_ascii=False)
        self.stream.write("\n")
