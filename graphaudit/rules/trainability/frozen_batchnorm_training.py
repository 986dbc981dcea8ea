"""GA303: BatchNorm of a pretrained backbone runs in training mode when serving, or drifts while frozen."""

from __future__ import annotations

from typing import Iterator

from graphaudit.analysis.updates import batch_norm_variables
from graphaudit.analysis.roles import Role
from graphaudit.artifact import Format, UpdateKind, function_of, graph_key
from graphaudit.model.ops import BATCH_NORM_OPS
from graphaudit.analysis.provenance import Strength
from graphaudit.findings import Confidence, Finding, Fixup, Severity, Silenced
from graphaudit.rules.base import Rule, plural
from graphaudit.rules.snippets import Snippet, SnippetTemplate, join
from graphaudit.rules.trainability import (code_list, group_label, group_what, layer_of, pretrained_word,
                                           split_declared, training_machinery)

# BatchNorm in training mode while serving makes predictions depend on the batch whatever the
# weights are; only the confidence that this backbone was meant to be frozen follows provenance.
_SERVING_GRADES = {
    Strength.LOADED: (Severity.WARNING, Confidence.HIGH),
    Strength.RECORDED_BASE: (Severity.WARNING, Confidence.MEDIUM),
    Strength.ARCHITECTURE: (Severity.WARNING, Confidence.LOW),
}
_DRIFT_GRADES = {**_SERVING_GRADES, Strength.ARCHITECTURE: (Severity.INFO, Confidence.LOW)}

INFERENCE_MODE = SnippetTemplate(
    "TF2 (tf_keras or Keras 3): call the pretrained base in inference mode, in the model and in every serving function",
    """\
features = backbone(images, training=False)  # ${what}
outputs = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(features))
model = keras.Model(images, outputs)
serve = tf.function(lambda x: {"logits": model(x, training=False)},
                    input_signature=[tf.TensorSpec(images.shape, tf.float32)])
""")



class FrozenBatchnormTraining(Rule):
    """Finds BatchNorm layers of a pretrained backbone that behave as if they were training.

    ## What it does
    Checks the BatchNorm layers of every pretrained variable group in two places:
    - in what the serving signatures run, a `FusedBatchNorm*` op with `is_training=true` whose
      scale, offset or statistics are variables of the group (followed through function bodies
      and the `_Arg`s that carry variable handles). Only the branches that run count: cond
      predicates (`Switch`, `If`, `StatelessIf`, `Case`) that are constants, defaults no signature
      feeds, or the Keras learning phase are folded. A BatchNorm that runs only when a predicate
      that cannot be folded is true (a signature input `training`) is reported as `info`, with low
      confidence;
    - in what the train op runs, moving-average updates (`AssignMovingAvg`, `AssignNewValue`) of
      the group's moving statistics while the train op updates none of the group's other
      variables: the backbone is meant to be frozen;
    - in a compiled Keras 3 `.keras` file, BatchNormalization layers of a group whose other
      variables are all frozen but whose own `trainable` is true in `config.json`: Keras 3
      updates their moving statistics in `fit()`, even inside a model set to trainable=false.
      Where no Keras config records it (an export, a checkpoint), nothing is said.

    ## Why is this bad?
    In training mode, BatchNorm normalizes with the statistics of the current batch: served
    predictions depend on what else is in the batch, a batch of one is normalized to nothing, and
    each call may overwrite the pretrained moving statistics. In a frozen backbone whose moving
    statistics are still updated by the train op, the weights stay put but the normalization
    drifts towards the new data set, which breaks the features the backbone was chosen for.

    ## Example
    ```python
    @tf.function(input_signature=[tf.TensorSpec((None, 224, 224, 3), tf.float32)])
    def serve(images):
        return {"logits": model(images, training=True)}
    tf.saved_model.save(model, "export/", signatures={"serving_default": serve})
    ```

    ## Use instead
    ```python
    # TF2 (tf_keras or Keras 3): call the pretrained base in inference mode, in the model and in every serving function
    features = backbone(images, training=False)  # the MobileNetV2 backbone
    outputs = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(features))
    model = keras.Model(images, outputs)
    serve = tf.function(lambda x: {"logits": model(x, training=False)},
                        input_signature=[tf.TensorSpec(images.shape, tf.float32)])
    ```

    ## Fix-up
    Call the base model with `training=False`, both in the training model (`base(inputs,
    training=False)`) and in serving functions. In TF1, do not run the backbone's BatchNorm
    update ops with the train op when the backbone is frozen.

    The code names the finding's architecture, scope, layer pattern and variables, and assumes only
    the names listed in docs/fixup-snippets.md; the test suite runs every snippet.

    ## Evidence
    The group and why it is pretrained; for serving, the signatures, the BatchNorm ops and their
    layers, and the moving-statistics writes the signature runs; for training, the train op and
    the moving-average updates it runs on a group that it otherwise leaves alone, or, in a
    `.keras` file, the BatchNormalization layers whose own `trainable` is true, the frozen model
    around them and the training machinery in the file. The provenance sets severity and
    confidence:

    | provenance of the group | serving in training mode | frozen statistics drift |
    | --- | --- | --- |
    | loaded: `pretrained` declared, a `--weights` match, weight-loading ops, `init_from_checkpoint` | warning / high | warning / high |
    | Keras recorded an application nested as a base model | warning / medium | warning / medium |
    | architecture only: a fingerprint, or Keras naming the whole model after an application | warning / low | info / low |

    A `scratch` or `finetune` declaration silences the variables it covers.
    """

    code = "GA303"
    #: Every snippet its findings can print (`Rule.fixup_templates`).
    fixup_templates = (INFERENCE_MODE,)
    name = "frozen-batchnorm-training"
    headline = ("BatchNorm in a pretrained backbone runs in training mode when serving, or updates its statistics "
                "while frozen")
    severity = Severity.WARNING
    confidence = Confidence.HIGH

    @classmethod
    def example_snippets(cls) -> list[Snippet]:
        """The fix-up code for a Keras 3 MobileNetV2 (VGG19 has no BatchNorm)."""
        return [INFERENCE_MODE.render(what="the MobileNetV2 backbone")]

    def check(self, artifact, facts) -> Iterator[Finding | Silenced]:
        groups = facts.pretrained_groups
        if not groups:
            return
        findings = [*self._serving(artifact, facts, groups), *self._frozen_drift(artifact, facts, groups),
                    *self._keras3_drift(artifact, facts, groups)]
        for finding in findings:
            _, covered = split_declared(finding.location.variables, facts.settings)
            if covered and sum(map(len, covered.values())) == len(finding.location.variables):
                yield Silenced(next(iter(covered)), finding)
            else:
                yield finding

    def _serving(self, artifact, facts, groups) -> Iterator[Finding]:
        roots = facts.signature_roots
        if not roots:
            return
        folding = facts.serving_folding
        served = facts.signature_reach
        handles = facts.updates.handles
        # variable -> (graph key, node, op, whether it runs only if an unresolved predicate says so)
        hits: dict[str, list[tuple[str, str, str, bool]]] = {}
        bodies = [(name, g, name) for name, g in artifact.graphs.items()]
        bodies += [(graph_key(name, True), g, name) for name, g in artifact.functions.items()
                   if name in served.functions]
        for key, graph, name in bodies:
            is_function = graph.kind == "function"
            for op in BATCH_NORM_OPS:
                for i in graph.by_op.get(op, ()):
                    if not is_function and not served.reached(name, i):
                        continue  # not served, or in a branch a folded predicate rules out
                    if folding.is_dead(key, i):
                        continue
                    av = graph.attr(i, "is_training")
                    # The op's default is is_training=true; function bodies leave defaults out.
                    if (av.b if av is not None else True) is False:
                        continue
                    conditional = folding.is_conditional(key, i) or (is_function and name in served.conditional)
                    for v in batch_norm_variables(graph, i, handles.get(key, {})):
                        hits.setdefault(v, []).append((key, graph.names[i], op, conditional))
        if not hits:
            return
        signatures = sorted({s.name for mg in artifact.meta_graphs for s in mg.signatures
                             if not s.name.startswith("__")})
        served_writes = {w.variable for ws in facts.updates.writes.values() for w in ws
                         if w.kind is UpdateKind.MOVING_AVERAGE and function_of(w.graph) in served.functions}
        for group in groups:
            names = [v for v in group.variables if v in hits]
            if not names:
                continue
            layers = sorted({layer_of(v) for v in names})
            ops = sorted({op for v in names for _, _, op, _ in hits[v]})
            nodes = sorted({node for v in names for _, node, _, _ in hits[v]})
            graphs = sorted({g for v in names for g, _, _, _ in hits[v]})
            # Certain when some hit runs whatever the predicates; else only if an unresolved one says so.
            maybe = not any(not c for v in names for _, _, _, c in hits[v])
            overwritten = sorted(v for v in group.variables if v in served_writes)
            tail = (f", and each call overwrites {plural(len(overwritten), 'moving statistic')}"
                    if overwritten and not maybe else "")
            when = " when a predicate that cannot be resolved statically is true" if maybe else ""
            message = (f"{plural(len(layers), 'BatchNorm layer')} of {pretrained_word(group)} {group_label(group)} run in "
                       f"training mode ({code_list(ops)} with `is_training=true`){when} in signature "
                       f"{code_list(signatures)}: {code_list(layers)}; predictions depend on the batch{tail}")
            evidence = [group.describe(), *(str(e) for e in group.evidence),
                        f"{plural(len(nodes), 'BatchNorm op')} in training mode reached from "
                        f"{plural(len(roots), 'signature output')}, e.g. `{nodes[0]}` in {graphs[0]}"]
            resolved = folding.resolved()
            if resolved:
                evidence.append(f"{plural(len(resolved), 'cond predicate')} folded, e.g. `{resolved[0].node}`: "
                                f"{resolved[0].how}")
            if maybe:
                open_ = folding.unresolved()
                evidence.append(f"{plural(len(open_), 'cond predicate')} not resolved"
                                + (f", e.g. `{open_[0].node}`: {open_[0].how}" if open_ else ""))
            if overwritten:
                evidence.append(f"moving statistics written while serving: {code_list(overwritten)}")
            evidence.append(group.strength_note())
            severity, confidence = _SERVING_GRADES[group.strength]
            yield self.finding(
                artifact, message, graph=",".join(graphs[:3]) + (" ..." if len(graphs) > 3 else ""),
                scope=group.scope, variables=names, nodes=nodes, evidence=evidence,
                severity=Severity.INFO if maybe else severity, confidence=Confidence.LOW if maybe else confidence,
                fixup=self._fixup(group),
            )

    def _frozen_drift(self, artifact, facts, groups) -> Iterator[Finding]:
        updates = facts.updates
        if not updates.train_declared:
            return
        for group in groups:
            drifting = [v for v in group.variables if v in updates.moving_average]
            if not drifting or any(v in updates.trained for v in group.variables):
                continue
            writes = [w for v in drifting for w in updates.moving_average[v]]
            layers = sorted({layer_of(v) for v in drifting})
            message = (f"the train op updates the moving statistics of {plural(len(layers), 'BatchNorm layer')} "
                       f"of {pretrained_word(group)} {group_label(group)}, whose other variables it leaves alone: "
                       f"{code_list(layers)}; the frozen backbone's normalization drifts with every batch")
            evidence = [group.describe(), *(str(e) for e in group.evidence),
                        f"train op: {updates.train_note()}; it runs {plural(len(writes), 'moving-average update')}"
                        f" ({code_list({w.op for w in writes})}) on {plural(len(drifting), 'variable')} of this "
                        f"group, e.g. `{writes[0].node}`",
                        "no optimizer update of the train op touches this group", group.strength_note()]
            severity, confidence = _DRIFT_GRADES[group.strength]
            yield self.finding(
                artifact, message, graph=",".join(sorted({w.graph for w in writes})), scope=group.scope,
                variables=drifting, nodes=sorted({w.node for w in writes}), evidence=evidence,
                severity=severity, confidence=confidence, fixup=self._fixup(group),
            )

    def _keras3_drift(self, artifact, facts, groups) -> Iterator[Finding]:
        """A `.keras` file: Keras 3's BatchNormalization updates its moving statistics in `fit()`
        whenever its own `trainable` is true, even inside a model set to trainable=false and even
        when that model is called with `training=False` (measured with Keras 3.15). The config
        records both flags; without it (an export, a checkpoint) nothing is said."""
        keras = artifact.keras
        if artifact.format is not Format.KERAS_V3 or keras is None or not keras.keras_version.startswith("3."):
            return
        machinery = training_machinery(artifact, facts)
        if not machinery:
            return  # nothing in the file can call fit()
        layers = {layer.qualified: layer for layer in keras.layers}
        for group in groups:
            variables = [artifact.variables[v] for v in group.variables if v in artifact.variables]
            if not variables or any(v.trainable for v in variables):
                continue  # not frozen: training it is GA301/GA302's business
            bns: dict[str, list[str]] = {}
            for var in variables:
                layer = layers.get(var.keras_layer or "")
                role = facts.roles.get(var.name)
                if (layer is not None and layer.class_name == "BatchNormalization" and layer.own_trainable
                        and role is not None and role.role is Role.BATCHNORM_STATISTIC):
                    bns.setdefault(layer.qualified, []).append(var.name)
            if not bns:
                continue
            names = sorted(n for ns in bns.values() for n in ns)
            bn_layers = [layers[q] for q in sorted(bns)]
            frozen_by = sorted({layer.frozen_by for layer in bn_layers if layer.frozen_by})
            inside = f" inside frozen model {code_list(frozen_by)}" if frozen_by else ""
            message = (f"{plural(len(bn_layers), 'BatchNorm layer')} of {pretrained_word(group)} {group_label(group)} "
                       f"keep their own `trainable` true{inside}: Keras 3 updates their moving statistics in every "
                       f"`fit()` step while the rest of the backbone stays frozen: "
                       f"{code_list(layer.name for layer in bn_layers)}")
            evidence = [group.describe(), *(str(e) for e in group.evidence),
                        f"Keras config.json: {plural(len(bn_layers), 'BatchNormalization layer')} with "
                        f"`trainable: true`, e.g. `{bn_layers[0].qualified}`"
                        + (f", under model `{frozen_by[0]}` with `trainable: false`" if frozen_by else "")
                        + f"; none of the group's {len(variables):,} variables is trainable",
                        f"Keras {keras.keras_version}: BatchNormalization runs in training mode when its own "
                        "`trainable` is true and `fit()` passes `training=True`",
                        f"training machinery: {'; '.join(machinery)}", group.strength_note()]
            severity, confidence = _DRIFT_GRADES[group.strength]
            yield self.finding(
                artifact, message, scope=group.scope, variables=names, evidence=evidence,
                severity=severity, confidence=confidence, fixup=self._fixup(group),
            )

    def _fixup(self, group) -> Fixup:
        label = group_label(group)
        return Fixup(
            title=f"Call the pretrained {label} with `training=False`",
            detail=("Pass `training=False` when calling the base model, in the training model and in "
                    "every serving function, so its BatchNorm layers use their moving statistics and "
                    "never update them. In TF1, leave the backbone's update ops out of the train op."),
            code=join([INFERENCE_MODE.render(what=group_what(group))]),
        )
