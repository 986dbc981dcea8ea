"""The rule catalogue: one rule per file, grouped by family; codes are never reused."""

from __future__ import annotations

from graphaudit.rules.base import DOC_SECTIONS, Rule
from graphaudit.rules.duplicates.duplicate_model_instance import DuplicateModelInstance
from graphaudit.rules.duplicates.orphaned_model_copy import OrphanedModelCopy
from graphaudit.rules.initialization.checkpoint_name_drift import CheckpointNameDrift
from graphaudit.rules.initialization.pretrained_weights_reinitialized import PretrainedWeightsReinitialized
from graphaudit.rules.initialization.uninitialized_variable import UninitializedVariable
from graphaudit.rules.trainability.frozen_batchnorm_training import FrozenBatchnormTraining
from graphaudit.rules.trainability.pretrained_weights_trainable import PretrainedWeightsTrainable
from graphaudit.rules.trainability.pretrained_weights_updated import PretrainedWeightsUpdated

#: Every rule, in code order.
ALL_RULES: tuple[type[Rule], ...] = tuple(sorted(
    [
        UninitializedVariable,
        PretrainedWeightsReinitialized,
        CheckpointNameDrift,
        OrphanedModelCopy,
        DuplicateModelInstance,
        PretrainedWeightsUpdated,
        PretrainedWeightsTrainable,
        FrozenBatchnormTraining,
    ],
    key=lambda r: r.code,
))

#: Codes that existed once and must never be given to another rule.
RETIRED_CODES: dict[str, str] = {}

BY_CODE: dict[str, type[Rule]] = {r.code: r for r in ALL_RULES}
BY_NAME: dict[str, type[Rule]] = {r.name: r for r in ALL_RULES}


def lookup(code_or_name: str) -> type[Rule] | None:
    return BY_CODE.get(code_or_name.upper()) or BY_NAME.get(code_or_name.lower())


__all__ = ["ALL_RULES", "BY_CODE", "BY_NAME", "DOC_SECTIONS", "RETIRED_CODES", "Rule", "lookup"]
