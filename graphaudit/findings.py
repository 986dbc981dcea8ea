"""Findings, fix-ups and the report that holds them: small immutable data."""

from __future__ import annotations

import enum
from dataclasses import field
from typing import Any, Iterable

from graphaudit.records import dataclass


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    @classmethod
    def parse(cls, text: str) -> "Severity":
        try:
            return cls(text.lower())
        except ValueError:
            choices = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity {text!r}; expected one of: {choices}") from None


_SEVERITY_RANK = {Severity.ERROR: 3, Severity.WARNING: 2, Severity.INFO: 1}


class Confidence(str, enum.Enum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True)
class Location:
    """Where a finding is: the artifact, the graph or function, a scope, nodes and variables."""

    artifact: str
    graph: str = ""
    scope: str = ""
    nodes: tuple[str, ...] = ()
    variables: tuple[str, ...] = ()


@dataclass(frozen=True)
class Fixup:
    """What to change: an imperative title, a detail paragraph and code (TF1 and TF2 if they differ).

    ``automatic`` says that `graphaudit fix` repairs the artifact itself: the rule set it because
    the finding's evidence makes the repair safe (ruff's fix safety); otherwise the fix is manual.
    """

    title: str
    detail: str = ""
    code: str = ""
    automatic: bool = False

    @property
    def applicability(self) -> str:
        return "automatic" if self.automatic else "manual"


@dataclass(frozen=True)
class Finding:
    """One finding: which rule fired, how sure it is, where, on what evidence, and its fix-up."""

    code: str
    name: str
    severity: Severity
    confidence: Confidence
    message: str
    location: Location
    evidence: tuple[str, ...] = ()
    fixup: Fixup = field(default_factory=lambda: Fixup(title=""))

    def sort_key(self) -> tuple:
        loc = self.location
        return (loc.artifact, -self.severity.rank, self.code, loc.graph, loc.scope, loc.variables,
                loc.nodes, self.message)

    def fingerprint_material(self) -> str:
        """Stable identity of a finding across runs, for SARIF partialFingerprints."""
        loc = self.location
        parts = [self.code, loc.graph, loc.scope, ",".join(loc.variables[:50]), ",".join(loc.nodes[:50])]
        return "\x1f".join(parts)


@dataclass(frozen=True)
class ArtifactStats:
    """What an audited artifact holds, counted: graphs, nodes, functions and variables."""

    graphs: int = 0
    nodes: int = 0
    functions: int = 0
    variables: int = 0


@dataclass(frozen=True)
class Silenced:
    """A finding that a declaration of intent covers (e.g. `finetune = ["vgg19/block5_*"]`).

    Rules yield it instead of the finding; the engine drops it and counts it per declaration.
    """

    declaration: str  # e.g. 'finetune "vgg19/block5_*"'
    finding: Finding


@dataclass(frozen=True)
class ArtifactResult:
    """The outcome for one artifact: its findings, or the one-line reason it could not be read."""

    path: str
    format: str | None
    error: str | None = None
    stats: ArtifactStats = field(default_factory=ArtifactStats)
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()
    silenced: tuple[tuple[str, int], ...] = ()  # (declaration, findings it silenced)
    warning: str | None = None  # not read, and not failing the run: e.g. a Git LFS pointer
    hidden: int = 0  # findings --baseline hid
    # A reporter's picture of the artifact (--format html draws the graph), built while it is read;
    # plain data, left out of equality so results compare by what they found.
    view: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Report:
    """All artifacts of one run. Falsy when a finding is at or above ``fail_on``, or a read failed."""

    artifacts: tuple[ArtifactResult, ...] = ()
    fail_on: Severity = Severity.WARNING
    silenced: tuple[tuple[str, int], ...] = ()
    # Files a folder search passed over, by kind ("text file", "zip archive that is not a Keras
    # model"...), and the folders and files exclusion rules left out, each with its reason.
    skipped: tuple[tuple[str, tuple[str, ...]], ...] = ()
    excluded: tuple[str, ...] = ()
    baseline_hidden: int = 0  # findings --baseline hid
    baseline_stale: tuple[str, ...] = ()  # baseline entries that no finding matched any more

    @property
    def skipped_count(self) -> int:
        return sum(len(paths) for _, paths in self.skipped)

    @property
    def warnings(self) -> list[ArtifactResult]:
        return [a for a in self.artifacts if a.warning is not None]

    @property
    def findings(self) -> list[Finding]:
        return [f for a in self.artifacts for f in a.findings]

    @property
    def errors(self) -> list[ArtifactResult]:
        return [a for a in self.artifacts if a.error is not None]

    def failing(self) -> list[Finding]:
        return [f for f in self.findings if f.severity.rank >= self.fail_on.rank]

    def __bool__(self) -> bool:
        return not self.failing() and not self.errors

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Severity}
        for f in self.findings:
            out[f.severity.value] += 1
        return out

    def exit_code(self, exit_zero: bool = False) -> int:
        if self.errors:
            return 2
        if exit_zero:
            return 0
        return 1 if self.failing() else 0

    def __repr__(self) -> str:
        """One line, so that a bare ``assert report`` in a test says what failed."""
        counts = self.counts()
        total = sum(counts.values())
        found = (f"{total} finding{'s' if total != 1 else ''} ("
                 + ", ".join(f"{n} {sev}" for sev, n in counts.items() if n) + ")") if total else "no findings"
        parts = [f"{len(self.artifacts)} artifact{'s' if len(self.artifacts) != 1 else ''}", found]
        failing = self.failing()
        if failing:
            shown = "; ".join(f"{f.code} {f.location.artifact}" for f in failing[:3])
            parts.append(f"failing at {self.fail_on.value}: {shown}" + (" ..." if len(failing) > 3 else ""))
        if self.errors:
            parts.append(f"unreadable: {'; '.join(a.path for a in self.errors[:3])}")
        return f"<Report {', '.join(parts)}>"


def merge_silenced(results: Iterable[ArtifactResult]) -> tuple[tuple[str, int], ...]:
    """Silenced counts of several artifacts, added up per declaration, sorted."""
    total: dict[str, int] = {}
    for r in results:
        for declaration, n in r.silenced:
            total[declaration] = total.get(declaration, 0) + n
    return tuple(sorted(total.items()))


def sort_findings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Sort deterministically and drop exact duplicates (the same rule at the same place)."""
    seen: set[tuple] = set()
    out: list[Finding] = []
    for f in sorted(findings, key=Finding.sort_key):
        key = (f.code, f.location, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return tuple(out)
