"""Trainability rules (GA3xx): pretrained weights that get trained, or could, when they should not."""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

from graphaudit.analysis.provenance import PretrainedGroup, matches_any
from graphaudit.artifact import Artifact


def group_label(group: PretrainedGroup) -> str:
    """How a message names a group: its scope, else what it is (`MobileNetV2` backbone)."""
    if group.scope:
        return f"`{group.scope}`"
    what = group.architecture or group.label
    if group.suffix:  # one of several instances built in one graph: say which
        return f"`{what}` backbone (layers `*{group.suffix}`)"
    return f"`{what}` backbone"


def declaration(pattern: str) -> str:
    return f'finetune "{pattern}"'


def split_finetuned(names: Iterable[str], patterns: Sequence[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Names no `finetune` pattern covers, and the covered ones by the first pattern covering them."""
    rest: list[str] = []
    covered: dict[str, list[str]] = {}
    for name in names:
        pattern = next((p for p in patterns if matches_any(name, [p])), None)
        if pattern is None:
            rest.append(name)
        else:
            covered.setdefault(pattern, []).append(name)
    return rest, covered


def params_of(artifact: Artifact, names: Iterable[str]) -> int:
    return sum(artifact.variables[n].size for n in names if n in artifact.variables)


def trainable_sources(artifact: Artifact, names: Iterable[str]) -> str:
    """Where the trainable flags came from, e.g. "`keras_metadata.pb` (156)"."""
    counts = Counter(artifact.variables[n].trainable_source.split(":", 1)[0] or "unknown" for n in names)
    return ", ".join(f"{src} ({n:,})" for src, n in sorted(counts.items()))


def layer_of(variable: str) -> str:
    """`bn_Conv1/moving_mean` -> `bn_Conv1`."""
    return variable.rpartition("/")[0] or variable


def code_list(items: Iterable[str], limit: int = 3) -> str:
    items = sorted(set(items))
    shown = ", ".join(f"`{i}`" for i in items[:limit])
    return shown + (f" and {len(items) - limit:,} more" if len(items) > limit else "")
