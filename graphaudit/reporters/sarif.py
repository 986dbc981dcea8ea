"""``--format sarif``: SARIF 2.1.0, with stable ruleIds, partialFingerprints and rule help from the docs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from graphaudit.findings import Finding, Report, Severity
from graphaudit.reporters.base import DOCS_URL, TOOL, Reporter
from graphaudit.reporters.escaping import escape_tree
from graphaudit.reporters.json import MULTILINE
from graphaudit.rules import ALL_RULES, Rule

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
PRECISION = {"high": "very-high", "medium": "high", "low": "medium"}


MAX_RESULTS = 25_000  # GitHub code scanning's limit of results per run


def rule_descriptor(rule: type[Rule]) -> dict:
    from graphaudit.docs import rule_markdown

    sections = rule.sections()
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": _clip(rule.summary(), GITHUB_DESCRIPTION_LIMIT)},
        "fullDescription": {"text": _clip(sections.get("What it does", rule.summary()), GITHUB_DESCRIPTION_LIMIT)},
        "helpUri": DOCS_URL.format(code=rule.code),
        "help": {"text": sections.get("Fix-up", ""), "markdown": rule_markdown(rule)},
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {"tags": ["tensorflow", rule.name], "precision": PRECISION[rule.confidence.value]},
    }


# GitHub code scanning truncates or rejects longer rule descriptions; the whole doc is in `help`.
GITHUB_DESCRIPTION_LIMIT = 1024


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def fingerprint(f: Finding) -> str:
    # surrogatepass: names that are not UTF-8 still get a stable fingerprint of their bytes.
    return hashlib.sha256(f.fingerprint_material().encode("utf-8", "surrogatepass")).hexdigest()


def _uri(path: str) -> str:
    return Path(path).as_posix()


def sarif_dict(report: Report) -> dict:
    rules = list(ALL_RULES)
    index = {r.code: k for k, r in enumerate(rules)}
    results = []
    for art in report.artifacts:
        for f in art.findings:
            logical = f.location.graph + ("/" + f.location.scope if f.location.scope else "")
            result = {
                "ruleId": f.code,
                "ruleIndex": index[f.code],
                "level": LEVELS[f.severity],
                "message": {"text": f.message.replace("`", "'") + (f" Fix: {f.fixup.title}." if f.fixup.title else "")},
                "locations": [{
                    "physicalLocation": {"artifactLocation": {"uri": _uri(f.location.artifact)}},
                    **({"logicalLocations": [{"fullyQualifiedName": logical, "kind": "module"}]} if logical else {}),
                }],
                "partialFingerprints": {"graphauditFinding/v1": fingerprint(f)},
                "properties": {
                    "confidence": f.confidence.value,
                    "evidence": list(f.evidence),
                    "variables": list(f.location.variables[:200]),
                    "nodes": list(f.location.nodes[:200]),
                    "fixup": {"title": f.fixup.title, "detail": f.fixup.detail, "code": f.fixup.code,
                      "applicability": f.fixup.applicability},
                },
            }
            results.append(escape_tree(result, multiline=MULTILINE))
    notifications = escape_tree([
        {"level": "error", "message": {"text": f"{a.path}: {a.error}"},
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(a.path)}}}]}
        for a in report.artifacts if a.error
    ] + [
        {"level": "warning", "message": {"text": f"{a.path}: {a.warning}"},
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(a.path)}}}]}
        for a in report.artifacts if a.warning and not a.error
    ])
    if len(results) > MAX_RESULTS:
        # GitHub code scanning rejects a run with more results; keep the most severe, say so.
        dropped = len(results) - MAX_RESULTS
        rank = {"error": 0, "warning": 1, "note": 2}
        results = sorted(results, key=lambda r: rank[r["level"]])[:MAX_RESULTS]
        notifications.append({"level": "warning", "message": {
            "text": f"{dropped:,} results left out: a SARIF run holds at most {MAX_RESULTS:,} for GitHub"}})
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": TOOL["name"],
                "version": TOOL["version"],
                "semanticVersion": TOOL["version"],
                "informationUri": "https://github.com/graphaudit/graphaudit",
                "rules": [rule_descriptor(r) for r in rules],
            }},
            "invocations": [{"executionSuccessful": not any(n["level"] == "error" for n in notifications),
                             "toolExecutionNotifications": notifications}],
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    }


class SarifReporter(Reporter):
    def stop(self, report: Report) -> None:
        json.dump(sarif_dict(report), self.stream, indent=2, ensure_ascii=False)
        self.stream.write("\n")
