"""GA301: the train op updates pretrained weights, or the optimizer kept slots for them."""

from __future__ import annotations

from typing import Iterator

from graphaudit.findings import Confidence, Finding, Fixup, Severity, Silenced
from graphaudit.rules.base import Rule, name_list, plural
from graphaudit.rules.snippets import Snippet, VGG19_VARIABLES, join
from graphaudit.rules.trainability import (DECLARE_FINETUNE, FREEZE_BEFORE_COMPILE, TRAINED_GRADES, VAR_LIST,
                                          code_list, group_label, params_of, pretrained_word, split_declared,
                                          trainability_snippets, trainable_sources, vgg19_group)

_RANK = [Confidence.LOW, Confidence.MEDIUM, Confidence.HIGH]


class PretrainedWeightsUpdated(Rule):
    """Finds pretrained weights that the train op updates, or that the optimizer kept slots for.

    ## What it does
    For every pretrained variable group (see provenance: a recognised architecture, weight-loading
    ops, a declaration), looks for proof that an optimizer trains it:
    - optimizer updates (`ApplyAdam`, `ResourceApplyAdam`, `ResourceSparseApply*`, assign-subs fed
      by gradients) that the train op runs, in the graph or in function bodies;
    - optimizer slots saved for the group's variables: TF1 `<var>/Adam` and `<var>/Adam_1`, TF2
      `.OPTIMIZER_SLOT` keys, tf_keras slot variables `Adam/m/<var>`, `.h5` `optimizer_weights`
      and Keras 3 `optimizer/vars`.

    Variables that a `finetune` declaration covers are intentional and not reported; the report
    counts how many findings each declaration silenced.

    ## Why is this bad?
    The backbone drifts away from the weights it was downloaded with, usually with the large
    learning rate meant for a fresh head, and the features it was chosen for are lost. In a TF1
    graph `optimizer.minimize(loss)` trains every variable of `TRAINABLE_VARIABLES`, and Keras
    puts the backbone there: `base.trainable = False` has no effect, because Keras never compiles
    the model. In TF2, leaving the base trainable, or changing `trainable` after `compile()`,
    does the same. Nothing in `model.summary()` shows it.

    ## Example
    ```python
    base = tf_keras.applications.MobileNetV2(input_tensor=images, include_top=False)
    base.trainable = False                         # no effect on a TF1 optimizer
    logits = head(base.output)
    train_op = tf.compat.v1.train.AdamOptimizer(1e-3).minimize(loss)   # trains the base too
    ```

    ## Use instead
    ```python
    # TF1: give the optimizer the head's variables only; tf_keras' `trainable = False` never reaches it
    pretrained = {v.name for v in backbone.weights}  # the VGG19: `block1_conv1/bias` ... (32 variables)
    head_variables = [v for v in tf.compat.v1.trainable_variables() if v.name not in pretrained]
    train_op = tf.compat.v1.train.AdamOptimizer(1e-3).minimize(loss, var_list=head_variables)
    ```

    ## Fix-up
    TF1: pass `var_list=` with the head's variables only, for example everything except
    `graphaudit.reference.VGG19(...).model_weights_tensors`. TF2: set `base.trainable = False`
    before `compile()` (and compile again after changing it). If the fine-tuning is intended,
    declare it with `finetune = ["<scope>/*"]`.

    The code names the finding's architecture, scope, layer pattern and variables, and assumes only
    the names listed in docs/fixup-snippets.md; the test suite runs every snippet. The other
    ways, rendered for a VGG19 at the root scope:

    ```python
    # TF2 (Keras 3): freeze the base before `compile()`, and call it in inference mode
    backbone.trainable = False  # the VGG19: `block1_conv1/bias` ... (32 variables)
    features = backbone(images, training=False)
    outputs = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(features))
    model = keras.Model(images, outputs)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ```

    ```python
    # pyproject.toml: declare the fine-tuning, if it is intended
    # [tool.graphaudit]
    # finetune = ["block5_*"]
    ```

    ## Evidence
    The group and why it is pretrained; the optimizer op types and the train op that runs them
    (or, when no train op is declared, every optimizer update in the artifact); the slot names and
    the checkpoint or Keras file that holds them; how many of the group's variables and
    parameters are affected. Training itself is proven by the updates or slots; whether the
    weights were pretrained sets the severity:

    | provenance of the group | severity / confidence |
    | --- | --- |
    | loaded: `pretrained` declared, a `--weights` match, weight-loading ops, `init_from_checkpoint` | error / high |
    | Keras recorded an application nested as a base model (`.h5`, `.keras`, `keras_metadata.pb`) | warning / medium |
    | architecture only: a fingerprint, or Keras naming the whole model after an application | info / low |

    Confidence drops to medium when only Keras 3 slot order ties slots to variables. A
    `finetune` or `scratch` declaration silences the variables it covers.
    """

    code = "GA301"
    #: Every snippet its findings can print (`Rule.fixup_templates`).
    fixup_templates = (VAR_LIST, FREEZE_BEFORE_COMPILE, DECLARE_FINETUNE)
    name = "pretrained-weights-updated"
    headline = ("the train op (or saved optimizer state) updates the pretrained backbone: `minimize(loss)` without "
                "`var_list`")
    severity = Severity.ERROR
    confidence = Confidence.HIGH

    @classmethod
    def example_snippets(cls) -> list[Snippet]:
        """The fix-up code for a tf_keras or Keras 3 VGG19 at the root scope whose last block is trained."""
        return trainability_snippets(vgg19_group(), [v for v in VGG19_VARIABLES if v.startswith("block5_")])

    def check(self, artifact, facts) -> Iterator[Finding | Silenced]:
        updates = facts.updates
        slots = facts.slots
        for group in facts.pretrained_groups:
            hit = [v for v in group.variables if v in updates.trained or v in slots.by_variable]
            if not hit:
                continue
            rest, covered = split_declared(hit, facts.settings)
            for label, names in covered.items():
                yield Silenced(label, self._finding(artifact, facts, group, names))
            if rest:
                yield self._finding(artifact, facts, group, rest)

    def _finding(self, artifact, facts, group, names: list[str]) -> Finding:
        updates = facts.updates
        slots = facts.slots
        label = group_label(group)
        writes = [w for n in names for w in updates.trained.get(n, ())]
        ops = sorted({w.op for w in writes})
        slotted = [n for n in names if n in slots.by_variable]
        slot_names = slots.slot_names(slotted)
        params = params_of(artifact, names)
        share = (f"{len(names):,} of its {len(group.variables):,} variables "
                 f"({params:,} of {group.params:,} params)")
        if writes:
            what = f"the train op updates {share} with {code_list(ops)}"
        else:
            what = f"{slots.where or 'the artifact'} holds optimizer slots ({code_list(slot_names)}) for {share}"
        message = f"{pretrained_word(group)} {label} is being trained: {what}; no `finetune` declaration covers them"
        evidence = [group.describe(), *(str(e) for e in group.evidence)]
        if writes:
            example = writes[0]
            evidence.append(f"train op: {updates.train_note()}; it runs {plural(len(writes), 'optimizer update')} "
                            f"({code_list(ops)}) on this group, e.g. `{example.node}` in {example.graph}")
        if slotted:
            n_slots = sum(len(slots.by_variable[n]) for n in slotted)
            first = slots.by_variable[slotted[0]][0]
            evidence.append(f"{slots.where or 'saved state'}: {plural(n_slots, 'optimizer slot')} "
                            f"({code_list(slot_names)}) for {plural(len(slotted), 'variable')} of this group, "
                            f"e.g. `{first.key}` for `{first.variable}` ({first.how})")
        flagged = [n for n in names if artifact.variables[n].trainable]
        if flagged:
            evidence.append(f"marked trainable by: {trainable_sources(artifact, flagged)}")
        evidence.extend(slots.notes)
        evidence.append(group.strength_note())
        order_only = not writes and all(s.how.startswith("Keras 3") for n in slotted for s in slots.by_variable[n])
        severity, confidence = TRAINED_GRADES[group.strength]
        if order_only:
            confidence = min(confidence, Confidence.MEDIUM, key=_RANK.index)
        graphs = sorted({w.graph for w in writes})
        return self.finding(
            artifact, message, graph=",".join(graphs), scope=group.scope, variables=names,
            nodes=sorted({w.node for w in writes}), evidence=evidence,
            severity=severity, confidence=confidence,
            fixup=Fixup(
                title=f"Exclude the pretrained {label} from the optimizer",
                detail=(f"The optimizer trains {name_list(names)}. TF1: pass `var_list=` with the head's "
                        "variables only (for the reference wrapper, everything but "
                        "`VGG19.model_weights_tensors`). TF2: set `base.trainable = False` before "
                        "`compile()`. If fine-tuning is intended, declare it with `finetune`."),
                code=join(trainability_snippets(group, names)),
            ),
        )
