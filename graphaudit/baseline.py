"""Baselines: the fingerprints of known findings, written once and hidden from later runs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from graphaudit.errors import UsageError
from graphaudit.findings import Finding, Report
from graphaudit.reporters.sarif import fingerprint

VERSION = 1


def _key(f: Finding) -> tuple[str, str]:
    # SARIF's fingerprint leaves the artifact to the location; a baseline entry needs both.
    return Path(f.location.artifact).as_posix(), fingerprint(f)


def baseline_dict(report: Report) -> dict:
    entries = sorted({(*_key(f), f.code) for f in report.findings})
    return {"version": VERSION, "tool": "graphaudit",
            "findings": [{"artifact": a, "code": code, "fingerprint": fp} for a, fp, code in entries]}


def write_baseline(report: Report, path: Path) -> int:
    data = baseline_dict(report)
    try:
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        raise UsageError(f"--write-baseline {path}: {exc.strerror}") from None
    return len(data["findings"])


def load_baseline(path: Path) -> list[dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--baseline {path}: file not found (write one with --write-baseline)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"--baseline {path}: not a graphaudit baseline ({exc})") from None
    entries = data.get("findings") if isinstance(data, dict) else None
    if (not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(entries, list)
            or not all(isinstance(e, dict) and isinstance(e.get("artifact"), str)
                       and isinstance(e.get("fingerprint"), str) for e in entries)):
        raise UsageError(f"--baseline {path}: expected {{\"version\": {VERSION}, \"findings\": "
                         f"[{{\"artifact\", \"code\", \"fingerprint\"}}...]}} as --write-baseline writes it")
    return entries


def apply_baseline(report: Report, entries: list[dict]) -> Report:
    """The report without the baseline's findings; it counts them and lists the entries no finding matched."""
    known = {(e["artifact"], e["fingerprint"]) for e in entries}
    seen: set[tuple[str, str]] = set()
    hidden = 0
    artifacts = []
    for art in report.artifacts:
        kept: list[Finding] = []
        for f in art.findings:
            key = _key(f)
            if key in known:
                hidden += 1
                seen.add(key)
            else:
                kept.append(f)
        artifacts.append(dataclasses.replace(art, findings=tuple(kept), hidden=len(art.findings) - len(kept)))
    stale = tuple(sorted(f"{e.get('code', '?')} in {e['artifact']} ({e['fingerprint'][:12]})"
                         for e in entries if (e["artifact"], e["fingerprint"]) not in seen))
    return dataclasses.replace(report, artifacts=tuple(artifacts), baseline_hidden=hidden, baseline_stale=stale)
