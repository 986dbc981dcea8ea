"""Run the pipeline: discover artifacts, read each, analyse, run the enabled rules, build a Report."""

from __future__ import annotations

import os
from typing import Callable, Iterable, Sequence

from graphaudit.analysis import Analyses
from graphaudit.artifact import Artifact, Format
from graphaudit.budget import BudgetExceeded, run_with_budget
from graphaudit.bulk import gc_paused
from graphaudit.config import Settings
from graphaudit.errors import ArtifactError, describe, strict
from graphaudit.findings import (ArtifactResult, ArtifactStats, Finding, Report, Silenced, merge_silenced,
                                 sort_findings)
from graphaudit.formats.readers import read
from graphaudit.formats.sniff import Candidate, SearchOptions, discover
from graphaudit.rules import ALL_RULES, Rule


def enabled_rules(settings: Settings, artifact_path: str | None = None) -> list[Rule]:
    return [cls() for cls in ALL_RULES if settings.is_enabled(cls.code, artifact_path)]


def stats_of(artifact: Artifact) -> ArtifactStats:
    return ArtifactStats(graphs=len(artifact.graphs), nodes=artifact.node_count,
                         functions=len(artifact.functions), variables=len(artifact.variables))


#: ``view(artifact, facts, findings)``: a picture of the artifact kept on its result (``--format html``).
ViewBuilder = Callable[[Artifact, Analyses, Sequence[Finding]], object]


# The analyses build many small acyclic objects at once; with millions of live objects from the
# reader, each collection they set off would scan them all for nothing. It runs again after.
@gc_paused
def check_artifact(artifact: Artifact, settings: Settings, view: ViewBuilder | None = None) -> ArtifactResult:
    """Run the enabled rules on an Artifact that is already read."""
    unknown = unknown_outputs(artifact, settings.outputs) if artifact.graphs else []
    if unknown:
        # A misspelt --output must not fall back to inferred roots: the audit would answer another question.
        names = ", ".join(f"`{n}`" for n in unknown)
        return ArtifactResult(path=artifact.path, format=artifact.format.value, stats=stats_of(artifact),
                              error=f"--output {names}: no such node in {plural_graphs(artifact)}")
    facts = Analyses(artifact, settings)
    findings: list[Finding] = []
    # Findings a declaration of intent (`finetune`) covers: rules yield them as `Silenced`; they
    # are counted per declaration, so the report can say what each declaration hid.
    silenced: dict[str, int] = {}
    problems: dict[str, list[str]] = {}  # what went wrong -> the rules it stopped
    for rule in enabled_rules(settings, artifact.path):
        made = len(findings)
        try:
            for item in rule.check(artifact, facts):
                if isinstance(item, Silenced):
                    silenced[item.declaration] = silenced.get(item.declaration, 0) + 1
                    continue
                loc = item.location
                declaration = settings.suppressed_by(item.code, artifact.path, loc.scope, loc.variables)
                if declaration is not None:
                    silenced[declaration] = silenced.get(declaration, 0) + 1
                else:
                    findings.append(item)
        except ArtifactError as exc:
            # A value a rule asked for could not be read (a damaged shard, a dataset too large):
            # this rule's partial findings are dropped, the other rules still run.
            del findings[made:]
            problems.setdefault(f"could not finish: {_relative_message(exc, artifact.path)}", []).append(rule.code)
        except Exception as exc:  # noqa: BLE001 - one broken rule must not lose the others' findings
            if strict():
                raise
            del findings[made:]
            problems.setdefault(f"stopped on this artifact: {describe(exc)}; the other rules ran "
                                "(please report it with this artifact)", []).append(rule.code)
    found = sort_findings(findings)
    return ArtifactResult(path=artifact.path, format=artifact.format.value, stats=stats_of(artifact),
                          findings=found, notes=artifact_notes(artifact),
                          silenced=tuple(sorted(silenced.items())),
                          error="; ".join(f"{', '.join(codes)} {what}" for what, codes in problems.items()) or None,
                          view=_picture(view, artifact, facts, found) if view is not None else None)


def _picture(view: ViewBuilder, artifact: Artifact, facts: Analyses, found: Sequence[Finding]) -> object:
    """The view, or why there is none: a picture that fails must not lose the findings."""
    try:
        return view(artifact, facts, found)
    except Exception as exc:  # noqa: BLE001
        if strict():
            raise
        return {"error": f"the graph could not be drawn: {describe(exc)}"}


def unknown_outputs(artifact: Artifact, outputs: Sequence[str]) -> list[str]:
    """The ``--output`` names (``node`` or ``node:0``) that no graph of the artifact holds."""
    return [name for name in outputs
            if not any(name.split(":")[0] in g.index for g in artifact.graphs.values())]


def plural_graphs(artifact: Artifact) -> str:
    n = len(artifact.graphs)
    return "the artifact's graph" if n == 1 else f"any of the artifact's {n} graphs"


def artifact_notes(artifact: Artifact) -> tuple[str, ...]:
    """The artifact's notes, led by the rules an artifact read without values could not check."""
    if artifact.values_missing is None:
        return tuple(artifact.notes)
    rules = ", ".join(f"{r.code} ({r.name})" for r in ALL_RULES if r.needs_values)
    missing = artifact.values_missing
    return (f"{missing.why}: audited as a graph; {missing.variables:,} variables have no values "
            f"to read, so {rules} were not checked", *artifact.notes)


# Formats whose reading calls into native code (HDF5) that can loop forever or crash on a damaged
# file: they are audited in a forked child under the time budget (graphaudit/budget.py).
NATIVE_FORMATS = frozenset({Format.KERAS_H5, Format.KERAS_V3})


def audit_candidate(candidate: Candidate, settings: Settings, view: ViewBuilder | None = None) -> ArtifactResult:
    """Read and check one artifact; any failure becomes a one-line error on its result."""
    if candidate.format in NATIVE_FORMATS and settings.timeout > 0:
        try:
            return run_with_budget(lambda: _audit_candidate(candidate, settings, view), settings.timeout)
        except BudgetExceeded as exc:
            fmt = candidate.format.value if candidate.format else None
            return ArtifactResult(path=candidate.path, format=fmt, error=budget_message(exc, settings.timeout))
    return _audit_candidate(candidate, settings, view)


def budget_message(exc: BudgetExceeded, timeout: float) -> str:
    return (f"reading it {exc.reason}; HDF5 can loop or crash on a damaged file "
            f"(a healthy one reads well within --timeout {timeout:g})")


@gc_paused  # read and check_artifact pause it too; this keeps it off between them
def _audit_candidate(candidate: Candidate, settings: Settings, view: ViewBuilder | None = None) -> ArtifactResult:
    fmt = candidate.format.value if candidate.format else None
    if candidate.warning is not None and candidate.error is None:
        return ArtifactResult(path=candidate.path, format=fmt, warning=candidate.warning)
    try:
        artifact = read(candidate, max_file_size=settings.max_file_size)
        return check_artifact(artifact, settings, view)
    except ArtifactError as exc:
        return ArtifactResult(path=candidate.path, format=fmt, error=_relative_message(exc, candidate.path))
    except MemoryError:
        return ArtifactResult(path=candidate.path, format=fmt, error="ran out of memory reading this artifact")
    except Exception as exc:  # noqa: BLE001 - malformed input must not become a traceback
        if strict():
            raise
        return ArtifactResult(path=candidate.path, format=fmt, error=read_failure(candidate, exc))


def read_failure(candidate: Candidate, exc: BaseException) -> str:
    """The one line for a reader that stopped on something other than its own ArtifactError."""
    what = f"a {candidate.format.value} artifact" if candidate.format else "an artifact"
    return f"expected {what}; {describe(exc)}"


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
                on_progress: Callable[[int, int, str], None] | None = None,
                view: ViewBuilder | None = None) -> Report:
    """Audit every artifact under ``paths``, in ``settings.jobs`` processes; results sorted by path.

    ``on_progress(done, total, path)`` is called after each artifact, in the order they finish.
    ``view`` (a module-level function, so that workers can run it) pictures each artifact read.
    """
    found = discover(paths, max_file_size=settings.max_file_size, options=search_options(settings))
    candidates = found.candidates
    jobs = min(worker_count(settings.jobs), len(candidates))
    if jobs > 1:
        results = _audit_in_processes(candidates, settings, jobs, on_progress, view)
    else:
        results = []
        for cand in candidates:
            results.append(audit_candidate(cand, settings, view))
            if on_progress:
                on_progress(len(results), len(candidates), cand.path)
    return Report(artifacts=tuple(sorted(results, key=lambda r: r.path)), fail_on=settings.fail_on,
                  silenced=merge_silenced(results),
                  skipped=tuple((kind, tuple(paths)) for kind, paths in found.skipped.items()),
                  excluded=tuple(found.excluded))


def search_options(settings: Settings) -> SearchOptions:
    """How discovery searches folders: exclusions are relative to the config file's folder."""
    base = os.path.dirname(os.path.abspath(settings.config_path)) if settings.config_path else None
    return SearchOptions(exclude=settings.exclude, extend_exclude=settings.extend_exclude, exclude_base=base,
                         respect_gitignore=settings.respect_gitignore, follow_links=settings.follow_links,
                         lfs_pointers_fail=settings.lfs_pointers == "error")


def worker_count(jobs: int) -> int:
    """``jobs`` processes; 0 means one per CPU this process may use."""
    if jobs > 0:
        return jobs
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def audit_chunk(candidates: Sequence[Candidate], settings: Settings,
                view: ViewBuilder | None = None) -> list[ArtifactResult]:
    """A worker's task: read and check a few candidates, return only their small results."""
    return [audit_candidate(cand, settings, view) for cand in candidates]


def _audit_in_processes(candidates: Sequence[Candidate], settings: Settings, jobs: int,
                        on_progress: Callable[[int, int, str], None] | None,
                        view: ViewBuilder | None = None) -> list[ArtifactResult]:
    """``jobs`` processes in all: this one and ``jobs - 1`` spawned workers.

    Workers take small chunks from the front of the list while this process audits from the back,
    so the seconds a worker needs to start are not lost, and the two meet in the middle. Workers are
    spawned, not forked: nothing the caller holds (threads, a TensorFlow runtime, open sessions)
    is copied into them.
    """
    import multiprocessing
    from collections import deque
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    total = len(candidates)
    pending = deque(candidates)
    chunk = max(1, min(8, total // (jobs * 8)))
    results: list[ArtifactResult] = []
    in_flight: dict = {}

    def report(new: list[ArtifactResult]) -> None:
        for result in new:
            results.append(result)
            if on_progress:
                on_progress(len(results), total, result.path)

    with ProcessPoolExecutor(max_workers=jobs - 1, mp_context=multiprocessing.get_context("spawn")) as pool:
        def refill() -> None:
            while pending and len(in_flight) < 2 * (jobs - 1):
                batch = [pending.popleft() for _ in range(min(chunk, len(pending)))]
                in_flight[pool.submit(audit_chunk, batch, settings, view)] = batch

        refill()
        while in_flight or pending:
            done = [f for f in in_flight if f.done()]
            for future in done:
                batch = in_flight.pop(future)
                try:
                    report(future.result())
                except BrokenProcessPool:
                    report([ArtifactResult(path=c.path, format=c.format.value if c.format else None,
                                           error="the worker process auditing this artifact died "
                                                 "(out of memory?); rerun with --jobs 1") for c in batch])
            refill()
            if not done:
                if pending:
                    report([audit_candidate(pending.pop(), settings, view)])
                elif in_flight:
                    wait(list(in_flight), return_when=FIRST_COMPLETED)
    return results


def audit_artifacts(artifacts: Iterable[Artifact], settings: Settings) -> Report:
    results = [check_artifact(a, settings) for a in artifacts]
    return Report(artifacts=tuple(results), fail_on=settings.fail_on, silenced=merge_silenced(results))
