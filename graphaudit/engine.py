"""Run the pipeline: discover artifacts, read each, analyse, run the enabled rules, build a Report."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable, Sequence

from graphaudit.analysis import Analyses
from graphaudit.artifact import Artifact
from graphaudit.config import Settings
from graphaudit.errors import ArtifactError, strict
from graphaudit.findings import (ArtifactResult, ArtifactStats, Finding, Report, Silenced, merge_silenced,
                                 sort_findings)
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
    # Findings a declaration of intent (`finetune`) covers: rules yield them as `Silenced`; they
    # are counted per declaration, so the report can say what each declaration hid.
    silenced: dict[str, int] = {}
    for rule in enabled_rules(settings, artifact.path):
        try:
            for item in rule.check(artifact, facts):
                if isinstance(item, Silenced):
                    silenced[item.declaration] = silenced.get(item.declaration, 0) + 1
                else:
                    findings.append(item)
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
                          findings=sort_findings(findings), notes=tuple(artifact.notes),
                          silenced=tuple(sorted(silenced.items())))


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
    """Audit every artifact under ``paths``, in ``settings.jobs`` processes; results sorted by path.

    ``on_progress(done, total, path)`` is called after each artifact, in the order they finish.
    """
    candidates = discover(paths, max_file_size=settings.max_file_size)
    jobs = min(worker_count(settings.jobs), len(candidates))
    if jobs > 1:
        results = _audit_in_processes(candidates, settings, jobs, on_progress)
    else:
        results = []
        for cand in candidates:
            results.append(audit_candidate(cand, settings))
            if on_progress:
                on_progress(len(results), len(candidates), cand.path)
    return Report(artifacts=tuple(sorted(results, key=lambda r: r.path)), fail_on=settings.fail_on,
                  silenced=merge_silenced(results))


def worker_count(jobs: int) -> int:
    """``jobs`` processes; 0 means one per CPU this process may use."""
    if jobs > 0:
        return jobs
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _audit_in_processes(candidates: Sequence[Candidate], settings: Settings, jobs: int,
                        on_progress: Callable[[int, int, str], None] | None) -> list[ArtifactResult]:
    """One candidate per task: a worker reads and checks it and sends back only the small result.

    Workers are spawned, not forked, so nothing the caller holds (threads, a TensorFlow runtime, open
    sessions) is copied into them.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    results: list[ArtifactResult] = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {pool.submit(audit_candidate, cand, settings): cand for cand in candidates}
        for future in as_completed(futures):
            cand = futures[future]
            try:
                results.append(future.result())
            except BrokenProcessPool:
                results.append(ArtifactResult(path=cand.path, format=cand.format.value if cand.format else None,
                                              error="the worker process auditing this artifact died "
                                                    "(out of memory?); rerun it with --jobs 1"))
            if on_progress:
                on_progress(len(results), len(candidates), cand.path)
    return results


def audit_artifacts(artifacts: Iterable[Artifact], settings: Settings) -> Report:
    results = [check_artifact(a, settings) for a in artifacts]
    return Report(artifacts=tuple(results), fail_on=settings.fail_on, silenced=merge_silenced(results))


def display_path(path: str) -> str:
    try:
        rel = Path(path).resolve().relative_to(Path.cwd().resolve())
        return rel.as_posix()
    except ValueError:
        return Path(path).as_posix()
