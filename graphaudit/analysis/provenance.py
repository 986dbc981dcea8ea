"""Which variable groups are pretrained, and the evidence for each, strongest first."""

from __future__ import annotations

import enum
import fnmatch
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from graphaudit.artifact import Artifact, UpdateKind
from graphaudit.config import Settings
from graphaudit.names import common_scope


class EvidenceKind(enum.IntEnum):
    """Kinds of evidence, in the order of strength ARCHITECTURE.md gives (lower is stronger)."""

    DECLARED = 1  # `pretrained = [...]` in config, or --pretrained
    WEIGHTS_FILE = 2  # matches a reference weights file given with --weights
    FINGERPRINT = 3  # a known keras.applications architecture, by layer names and shapes
    WEIGHT_LOAD_OPS = 4  # Keras load_weights assigns, a restricted Saver, init_from_checkpoint
    METADATA = 5  # Keras metadata: a nested Functional named after an application, a hub scope


@dataclass(frozen=True)
class Evidence:
    kind: EvidenceKind
    detail: str  # a fact with numbers, e.g. "fingerprint match: VGG19, include_top=False, 32/32 weights"

    def __str__(self) -> str:
        return self.detail


@dataclass(frozen=True)
class PretrainedGroup:
    """A set of variables that hold pretrained weights, e.g. one VGG19 instance."""

    scope: str  # common scope of the group (may be empty), e.g. "vgg19"
    label: str  # what it is, e.g. "VGG19" or "declared `vgg19/*`"
    variables: tuple[str, ...]
    params: int
    evidence: tuple[Evidence, ...]
    architecture: str | None = None
    include_top: bool | None = None
    suffix: str = ""  # Keras uniquification suffix, e.g. "_4"

    def describe(self) -> str:
        """E.g. "`vgg19` (VGG19, include_top=False, 20,024,384 params) pretrained: fingerprint match"."""
        what = self.architecture or self.label
        top = f", include_top={self.include_top}" if self.include_top is not None else ""
        where = f"`{self.scope}` " if self.scope else ""
        kinds = ", ".join(dict.fromkeys(_KIND_LABELS[e.kind] for e in self.evidence))
        return f"{where}({what}{top}, {self.params:,} params) pretrained: {kinds}"


_KIND_LABELS = {
    EvidenceKind.DECLARED: "declared",
    EvidenceKind.WEIGHTS_FILE: "matches --weights",
    EvidenceKind.FINGERPRINT: "fingerprint match",
    EvidenceKind.WEIGHT_LOAD_OPS: "weight-loading ops",
    EvidenceKind.METADATA: "metadata",
}


def matches_any(name: str, patterns: Sequence[str]) -> bool:
    """Glob match of a variable name (``vgg19/*``, ``block5_*``); a bare scope matches below it."""
    for pattern in patterns:
        if fnmatch.fnmatchcase(name, pattern) or name.startswith(pattern.rstrip("/*") + "/"):
            return True
    return False


@dataclass
class _Draft:
    variables: set[str]
    label: str
    evidence: list[Evidence] = field(default_factory=list)
    architecture: str | None = None
    include_top: bool | None = None
    suffix: str = ""
    scope: str | None = None


def pretrained_groups(artifact: Artifact, settings: Settings) -> list[PretrainedGroup]:
    """Combine every kind of evidence into groups; a variable belongs to at most one group."""
    shapes = {n: v.shape for n, v in artifact.variables.items() if v.shape is not None}
    drafts: list[_Draft] = []
    drafts.extend(_fingerprint_drafts(shapes))
    _attach(drafts, _declared(artifact.variables, settings.pretrained))
    _attach(drafts, _weight_loads(artifact))
    return [_finish(d, artifact) for d in drafts if d.variables]


def _fingerprint_drafts(shapes: Mapping[str, tuple[int, ...]]) -> list[_Draft]:
    try:
        from graphaudit.catalog.matcher import match_architectures
    except ImportError:  # the catalogue is optional data; without it, other evidence still works
        return []
    out = []
    for m in match_architectures(shapes):
        top = "include_top" if m.include_top else "no top"
        out.append(_Draft(
            variables=set(m.variables), label=m.architecture, architecture=m.architecture,
            include_top=m.include_top, suffix=m.suffix, scope=m.scope.rstrip("/"),
            evidence=[Evidence(EvidenceKind.FINGERPRINT,
                               f"fingerprint match: {m.architecture} ({top}), {len(m.variables)} weights, "
                               f"quality {m.quality:.0%}")],
        ))
    return out


def _declared(variables: Iterable[str], patterns: Sequence[str]) -> list[_Draft]:
    out = []
    for pattern in patterns:
        hit = {n for n in variables if matches_any(n, [pattern])}
        if hit:
            out.append(_Draft(variables=hit, label=f"declared `{pattern}`",
                              evidence=[Evidence(EvidenceKind.DECLARED,
                                                 f"declared pretrained by `{pattern}` ({len(hit)} variables)")]))
    return out


def _weight_loads(artifact: Artifact) -> list[_Draft]:
    loaded = {n for n, v in artifact.variables.items()
              if any(u.kind is UpdateKind.WEIGHT_LOAD for u in v.update_ops)}
    from_ckpt = {n for n, v in artifact.variables.items()
                 if v.initializer and "checkpoint_initializer" in v.initializer}
    out = []
    if loaded:
        out.append(_Draft(variables=loaded, label="loaded weights",
                          evidence=[Evidence(EvidenceKind.WEIGHT_LOAD_OPS,
                                             f"{len(loaded)} variables assigned from placeholders "
                                             "(Keras `load_weights`)")]))
    if from_ckpt:
        out.append(_Draft(variables=from_ckpt, label="init_from_checkpoint",
                          evidence=[Evidence(EvidenceKind.WEIGHT_LOAD_OPS,
                                             f"{len(from_ckpt)} variables initialized from a checkpoint "
                                             "(`init_from_checkpoint`)")]))
    return out


def _attach(drafts: list[_Draft], extra: list[_Draft]) -> None:
    """Add evidence to the groups it overlaps; what overlaps none becomes a group of its own."""
    for e in extra:
        rest = set(e.variables)
        for d in drafts:
            common = d.variables & e.variables
            if common:
                d.evidence.extend(e.evidence)
                rest -= common
        if rest:
            drafts.append(_Draft(variables=rest, label=e.label, evidence=list(e.evidence)))


def _finish(d: _Draft, artifact: Artifact) -> PretrainedGroup:
    names = tuple(sorted(d.variables))
    params = sum(artifact.variables[n].size for n in names if n in artifact.variables)
    scope = d.scope if d.scope is not None else common_scope(names)
    return PretrainedGroup(scope=scope, label=d.label, variables=names, params=params,
                           evidence=tuple(sorted(d.evidence, key=lambda e: e.kind)),
                           architecture=d.architecture, include_top=d.include_top, suffix=d.suffix)
