"""Group judgement: is each pretrained variable's stored value the fresh output of its initializer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphaudit.analysis.initializers import resolve_initializers
from graphaudit.analysis.weight_stats import Verdict, test_values

if TYPE_CHECKING:
    from graphaudit.artifact import Artifact


def judge_groups(artifact: "Artifact", groups: Any) -> dict[str, Verdict]:
    """Test the stored value of every variable of every pretrained group against its initializer."""
    out: dict[str, Verdict] = {}
    for group in groups:
        specs = resolve_initializers(artifact, group.variables, group.catalog_initializers())
        for name in group.variables:
            var = artifact.variables.get(name)
            if var is None:
                continue
            try:
                values = artifact.value_of(name)
            except KeyError:  # the checkpoint lacks its key: GA201/GA203 report that
                values = None
            out[name] = test_values(values, specs.get(name), dtype=var.dtype)
    return out
