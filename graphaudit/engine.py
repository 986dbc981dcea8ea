"""Run the pipeline: discover artifacts, read each, analyse, run the enabled rules, build a Report."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable, Sequence

from graphaudit.analysis import Analyses
from graphaudit.artifact import Artifact
from graphaudit.config import Settings
from graphaudit.errors import ArtifactError, strict
from graphaudit.findings import ArtifactResult, ArtifactStats, Finding, Report, sort_findings
from graphaudit.formats.readers import add_user_outputs, read
from graphaudit.formats.sniff import Candidate, discover
from graphaudit.rules import ALL_RULES, Rule


def enabled_rules(settings: Settings, artifact_path: str | None = None) -> list[Rule]:
    return [cls() for cls in ALL_RULES if settings.is_enabled(cls.code, artifact_path)]


def stats_of(artifact: Artifact) -> ArtifactStats:
    return ArtifactStats(graphs=len(artifact.graphs), nodes=artifact.node_count,
                         functions=len(artifact.functions), variables=len(artifact.variables))


def check_artifact(artifact: Artifact, settings: Settings) -> ArtifactResult:
    """Run the enabled rules on an Artifact that is already read."""
    if settings.outputs:
        add_user_outputs(artifact, list(settings.outputs))
    facts = Analyses(artifact, settings)
    findings: list[Finding] = []
    for rule in enabled_rules(settings, artifact.path):
        try:
            findings.extend(rule.check(artifact, facts))
        except ArtifactError:
            raise
        except Exception as exc:  # noqa: BLE001 - one broken rule must not lose the others' findings
            if strict():
                raise
            return ArtifactResult(path=artifact.path, format=artifact.format.value, stats=stats_of(artifact),
                                  findings=sort_findings(findings),
                                  error=f"internal error in rule {rule.code} ({type(exc).__name__}: {exc}); "
                                        "please report it with this artifact")
    return ArtifactResult(path=artifact.path, format=artifact.format.value, stats=stats_of(artifact),
                          findings=sort_findings(findings), notes=tuple(artifact.notes))


def audit_candidate(candidate: Candidate, settings: Settings) -> ArtifactResult:
    """Read and check one artifact; any failure becomes a one-line error on its result."""
    fmt = candidate.format.value if candidate.format else None
    try:
        artifact = read(candidate, max_file_size=settings.max_file_size)
        return check_artifact(artifact, settings)
    except ArtifactError as exc:
        return ArtifactResult(path=candidate.path, format=fmt, error=_relative_message(exc, candidate.path))
    except MemoryError:
        return ArtifactResult(path=candidate.path, format=fmt, error="ran out of memory reading this artifact")
    except Exception as exc:  # noqa: BLE001 - malformed input must not become a traceback
        if strict():
            raise
        return ArtifactResult(path=candidate.path, format=fmt,
                              error=f"could not read ({type(exc).__name__}: {str(exc)[:200]})")


def _relative_message(exc: ArtifactError, root: str) -> str:
    """``member: message`` when the error is about a file inside the artifact, else the message."""
    if os.path.normpath(exc.path) == os.path.normpath(root):
        return exc.message
    try:
        member = os.path.relpath(exc.path, root if os.path.isdir(root) else os.path.dirname(root) or ".")
    except ValueError:
        member = exc.path
    return f"`{member}`: {exc.message}"


def audit_paths(paths: Sequence[str | os.PathLike[str]], settings: Settings, *,
                on_progress: Callable[[int, int, str], None] | None = None) -> Report:
    candidates = discover(paths, max_file_size=settings.max_file_size)
    results: list[ArtifactResult] = []
    for k, cand in enumerate(candidates):
        if on_progress:
            on_progress(k, len(candidates), cand.path)
        results.append(audit_candidate(cand, settings))
    return Report(artifacts=tuple(sorted(results, key=lambda r: r.path)), fail_on=settings.fail_on)


def audit_artifacts(artifacts: Iterable[Artifact], settings: Settings) -> Report:
    results = [check_artifact(a, settings) for a in artifacts]
    return Report(artifacts=tuple(results), fail_on=settings.fail_on)


def display_path(path: str) -> str:
    try:
        rel = Path(path).resolve().relative_to(Path.cwd().resolve())
        return rel.as_posix()
    except ValueError:
        return Path(path).as_posix()
