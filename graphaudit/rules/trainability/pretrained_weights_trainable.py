"""GA302: pretrained weights are marked trainable, and nothing shows that training leaves them alone."""

from __future__ import annotations

from typing import Iterator

from graphaudit.findings import Confidence, Finding, Fixup, Severity, Silenced
from graphaudit.rules.base import Rule, name_list
from graphaudit.rules.trainability import declaration, group_label, params_of, split_finetuned, trainable_sources

_FIX_CODE = '''\
# TF2 Keras: freeze the base before compile()
base.trainable = False
model.compile(optimizer="adam", loss=loss)

# TF1: keep the backbone out of the optimizer (Keras still lists it in TRAINABLE_VARIABLES)
train_op = optimizer.minimize(loss, var_list=head_vars)

# Or declare the fine-tuning in pyproject.toml:
# [tool.graphaudit]
# finetune = ["block_16_*"]
'''


class PretrainedWeightsTrainable(Rule):
    """Finds pretrained weights that are marked trainable when nothing shows training leaves them alone.

    ## What it does
    For every pretrained variable group, reads whether its variables are marked trainable: the
    `TRAINABLE_VARIABLES` collection (TF1), `SavedVariable.trainable` corrected by each layer's
    `trainable` in `keras_metadata.pb` (tf_keras SavedModels, whose `SavedVariable.trainable`
    stays True for frozen layers), or the layer flags of a Keras `.h5` or `.keras` config.
    It reports the group when some of its variables are trainable and the artifact has no
    optimizer evidence yet. It stays quiet when a train op or saved optimizer state exists and
    provably leaves the group alone: the TF1 `minimize(loss, var_list=head_vars)` case, where
    Keras still lists the backbone in `TRAINABLE_VARIABLES`. When the group is trained, GA301
    reports it instead. A `finetune` declaration silences it.

    ## Why is this bad?
    The first `fit()` or `minimize(loss)` run on this artifact will train the pretrained weights
    along with the new head, and a model that was frozen on purpose is not frozen any more.

    ## Example
    ```python
    base = tf.keras.applications.MobileNetV2(include_top=False, weights="imagenet")
    outputs = head(base(inputs))                  # base.trainable is still True
    model = tf.keras.Model(inputs, outputs)
    model.save("export/")
    ```

    ## Use instead
    ```python
    base = tf.keras.applications.MobileNetV2(include_top=False, weights="imagenet")
    base.trainable = False
    outputs = head(base(inputs, training=False))
    model = tf.keras.Model(inputs, outputs)
    model.save("export/")
    ```

    ## Fix-up
    TF2: set `base.trainable = False` before `compile()`. TF1: keep the backbone out of the
    optimizer with `var_list=`. If the fine-tuning is intended, declare it with
    `finetune = ["<scope>/*"]`.

    ## Evidence
    The group and why it is pretrained, how many of its variables and parameters are marked
    trainable and by what, and that the artifact holds no optimizer update or slot.
    """

    code = "GA302"
    name = "pretrained-weights-trainable"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM

    def check(self, artifact, facts) -> Iterator[Finding | Silenced]:
        updates = facts.updates
        slots = facts.slots
        # A train op, or saved optimizer state, that touches none of a group proves it is left alone.
        trains_something = updates.has_train_op or bool(slots.by_variable)
        read = facts.read_variables
        for group in facts.pretrained_groups:
            if not any(v in read for v in group.variables):
                continue  # an instance nothing uses: GA101/GA102's finding, not a training risk
            if any(v in updates.trained or v in slots.by_variable for v in group.variables):
                continue  # trained: GA301's finding
            if trains_something:
                continue
            flagged = [v for v in group.variables if artifact.variables[v].trainable]
            if not flagged:
                continue
            rest, covered = split_finetuned(flagged, facts.settings.finetune)
            for pattern, names in covered.items():
                yield Silenced(declaration(pattern), self._finding(artifact, group, names))
            if rest:
                yield self._finding(artifact, group, rest)

    def _finding(self, artifact, group, names: list[str]) -> Finding:
        label = group_label(group)
        params = params_of(artifact, names)
        sources = trainable_sources(artifact, names)
        message = (f"{len(names):,} of the {len(group.variables):,} variables of pretrained {label} "
                   f"({params:,} of {group.params:,} params) are marked trainable, by {sources}; "
                   "the next `fit()` or `minimize()` trains them")
        evidence = [group.describe(), *(str(e) for e in group.evidence),
                    f"marked trainable: {name_list(names)}",
                    "no optimizer update and no optimizer slot in the artifact shows what training touches"]
        return self.finding(
            artifact, message, scope=group.scope, variables=names, evidence=evidence,
            fixup=Fixup(
                title=f"Freeze the pretrained {label} before training, or declare the fine-tune",
                detail=("Set `base.trainable = False` before `compile()` (TF2), or pass `var_list=` "
                        "without the backbone (TF1). Declare intended fine-tuning with `finetune`."),
                code=_FIX_CODE,
            ),
        )
