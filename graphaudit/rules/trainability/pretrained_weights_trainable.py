"""GA302: pretrained weights are marked trainable, and nothing shows that training leaves them alone."""

from __future__ import annotations

from typing import Iterator

from graphaudit.findings import Confidence, Finding, Fixup, Severity, Silenced
from graphaudit.rules.base import Rule, collection_trainable, name_list
from graphaudit.analysis.provenance import Strength
from graphaudit.rules.snippets import Snippet, VGG19_VARIABLES, join
from graphaudit.rules.trainability import (DECLARE_FINETUNE, FREEZE_BEFORE_COMPILE, group_label, params_of,
                                          pretrained_word, split_declared, trainability_snippets,
                                          trainable_sources, training_machinery, untruthful_trainable,
                                          vgg19_group)

# Trainable is not trained: one step weaker than GA301 at each strength.
_GRADES = {
    Strength.LOADED: (Severity.WARNING, Confidence.MEDIUM),
    Strength.RECORDED_BASE: (Severity.WARNING, Confidence.LOW),
    Strength.ARCHITECTURE: (Severity.INFO, Confidence.LOW),
}

class PretrainedWeightsTrainable(Rule):
    """Finds pretrained weights that are marked trainable when nothing shows training leaves them alone.

    ## What it does
    For every pretrained variable group, reads whether its variables are marked trainable: the
    `TRAINABLE_VARIABLES` collection (TF1), `SavedVariable.trainable` corrected by each layer's
    `trainable` in `keras_metadata.pb` (tf_keras SavedModels, whose `SavedVariable.trainable`
    stays True for frozen layers), or the layer flags of a Keras `.h5` or `.keras` config.
    It reports the group only where training can happen: the artifact carries training
    machinery (a train op, optimizer slots or variables, a Keras `training_config`, an optimizer
    in a `.keras` config, a training checkpoint), and none of it shows yet what it trains. It
    stays quiet on inference-only exports (a serving SavedModel with no optimizer), on flags
    that are not truthful (a Keras 3 SavedModel writes `SavedVariable.trainable = true` for
    frozen layers and keeps no Keras config), and when a train op or saved optimizer state
    provably leaves the group alone: the TF1 `minimize(loss, var_list=head_vars)` case, where
    Keras still lists the backbone in `TRAINABLE_VARIABLES`. When the group is trained, GA301
    reports it instead. A `finetune` or `scratch` declaration silences it.

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
    # TF2 (Keras 3): freeze the base before `compile()`, and call it in inference mode
    backbone.trainable = False  # the VGG19: `block1_conv1/bias` ... (32 variables)
    features = backbone(images, training=False)
    outputs = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(features))
    model = keras.Model(images, outputs)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ```

    ## Fix-up
    TF2: set `base.trainable = False` before `compile()`. TF1: keep the backbone out of the
    optimizer with `var_list=`. If the fine-tuning is intended, declare it with
    `finetune = ["<scope>/*"]`.

    The code names the finding's architecture, scope, layer pattern and variables, and assumes only
    the names listed in docs/fixup-snippets.md; the test suite runs every snippet. The other
    ways, rendered for a VGG19 at the root scope:

    ```python
    # pyproject.toml: declare the fine-tuning, if it is intended
    # [tool.graphaudit]
    # finetune = ["block1_*", "block2_*", "block3_*", "block4_*", "block5_*"]
    ```

    ## Evidence
    The group and why it is pretrained, how many of its variables and parameters are marked
    trainable and by what, the training machinery found, and that no optimizer update or slot
    shows what it trains. Needs truthful trainable flags and training machinery; without either
    it says nothing. The provenance sets the severity:

    | provenance of the group | severity / confidence |
    | --- | --- |
    | loaded: `pretrained` declared, a `--weights` match, weight-loading ops, `init_from_checkpoint` | warning / medium |
    | Keras recorded an application nested as a base model | warning / low |
    | architecture only: a fingerprint, or Keras naming the whole model after an application | info / low |
    """

    code = "GA302"
    #: Every snippet its findings can print (`Rule.fixup_templates`).
    fixup_templates = (FREEZE_BEFORE_COMPILE, DECLARE_FINETUNE)
    name = "pretrained-weights-trainable"
    headline = "the pretrained backbone is marked trainable and nothing shows training leaves it alone"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM

    @classmethod
    def example_snippets(cls) -> list[Snippet]:
        """The fix-up code for a Keras 3 VGG19 at the root scope left trainable as a whole."""
        return trainability_snippets(vgg19_group(), VGG19_VARIABLES, tf1=False)

    def check(self, artifact, facts) -> Iterator[Finding | Silenced]:
        if not facts.pretrained_groups:
            return
        updates = facts.updates
        slots = facts.slots
        # A train op, or saved optimizer state, that touches none of a group proves it is left alone.
        trains_something = updates.has_train_op or bool(slots.by_variable)
        machinery = training_machinery(artifact, facts)
        if trains_something or not machinery or untruthful_trainable(artifact):
            return  # shown what it trains (GA301's case), inference only, or flags that lie
        read = facts.read_variables
        for group in facts.pretrained_groups:
            if not any(v in read for v in group.variables):
                continue  # an instance nothing uses: GA101/GA102's finding, not a training risk
            flagged = [v for v in group.variables if artifact.variables[v].trainable
                       and artifact.variables[v].trainable_source]
            if not flagged:
                continue
            rest, covered = split_declared(flagged, facts.settings)
            for label, names in covered.items():
                yield Silenced(label, self._finding(artifact, group, names, machinery))
            if rest:
                yield self._finding(artifact, group, rest, machinery)

    def _finding(self, artifact, group, names: list[str], machinery: list[str]) -> Finding:
        label = group_label(group)
        params = params_of(artifact, names)
        sources = trainable_sources(artifact, names)
        message = (f"{len(names):,} of the {len(group.variables):,} variables of {pretrained_word(group)} {label} "
                   f"({params:,} of {group.params:,} params) are marked trainable, by {sources}; "
                   "the next `fit()` or `minimize()` trains them")
        evidence = [group.describe(), *(str(e) for e in group.evidence),
                    f"marked trainable: {name_list(names)}",
                    f"training machinery: {'; '.join(machinery)}",
                    "no optimizer update and no optimizer slot in the artifact shows what training touches",
                    group.strength_note()]
        severity, confidence = _GRADES[group.strength]
        return self.finding(
            artifact, message, scope=group.scope, variables=names, evidence=evidence,
            severity=severity, confidence=confidence,
            fixup=Fixup(
                title=f"Freeze the pretrained {label} before training, or declare the fine-tune",
                detail=("Set `base.trainable = False` before `compile()` (TF2), or pass `var_list=` "
                        "without the backbone (TF1). Declare intended fine-tuning with `finetune`."),
                code=join(trainability_snippets(group, names, tf1=False)),
                automatic=collection_trainable(artifact, names),
            ),
        )
