"""Trainability rules (GA3xx): pretrained weights that get trained, or could, when they should not."""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

from graphaudit.analysis.provenance import PretrainedGroup, Strength, matches_any
from graphaudit.analysis.slots import KERAS3_TRAINED_KEY
from graphaudit.artifact import Artifact
from graphaudit.findings import Confidence, Severity
from graphaudit.rules.snippets import Snippet, SnippetTemplate, finetune_patterns

# Severity and confidence by the strength of the provenance evidence (see analysis/provenance.py):
# trained or trainable pretrained weights are a defect only if the weights were pretrained, and
# an architecture match alone cannot say that (`weights=None` gives the same architecture).
TRAINED_GRADES = {
    Strength.LOADED: (Severity.ERROR, Confidence.HIGH),
    Strength.RECORDED_BASE: (Severity.WARNING, Confidence.MEDIUM),
    Strength.ARCHITECTURE: (Severity.INFO, Confidence.LOW),
}


def group_label(group: PretrainedGroup) -> str:
    """How a message names a group: its scope, else what it is (`MobileNetV2` backbone)."""
    if group.scope:
        return f"`{group.scope}`"
    what = group.architecture or group.label
    # A label that quotes its own identifier ("declared `block*`") is not quoted again.
    if "`" in what:
        return what if what.startswith("Keras model ") else f"backbone {what}"
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


def split_declared(names: Iterable[str], settings) -> tuple[list[str], dict[str, list[str]]]:
    """Names no `scratch` or `finetune` pattern covers, and the covered ones by declaration label
    (`scratch "resnet50/*"`, `finetune "block_16_*"`); `scratch` is asked first."""
    rest, covered = split_finetuned(names, settings.scratch)
    out = {f'scratch "{p}"': names_ for p, names_ in covered.items()}
    rest, covered = split_finetuned(rest, settings.finetune)
    out.update((declaration(p), names_) for p, names_ in covered.items())
    return rest, out


# Object-graph paths only Keras 3 writes; its SavedVariable.trainable is True for frozen layers.
_KERAS3_PATHS = ("_operations", "_all_variables", "_functional", "_tracked")


def untruthful_trainable(artifact: Artifact) -> str | None:
    """Why the artifact's trainable flags cannot be trusted, or None when they can."""
    if artifact.keras_objects:
        return None  # tf_keras: keras_metadata.pb corrected the flags
    paths = artifact.object_paths
    for path in paths.values():
        if path.split("/", 1)[0] in _KERAS3_PATHS:
            return (f"a Keras 3 SavedModel (object-graph path `{path}`): its `SavedVariable.trainable` is true "
                    "for frozen layers too, and it has no Keras config")
    return None


def training_machinery(artifact: Artifact, facts) -> list[str]:
    """What in the artifact can train it: a train op, optimizer slots or variables, a Keras
    training config, an optimizer in a `.keras` file, a training checkpoint. Empty: inference only."""
    out = []
    if facts.updates.has_train_op:
        out.append(f"train op ({facts.updates.train_note()})")
    if facts.slots.by_variable:
        out.append(f"optimizer slots for {len(facts.slots.by_variable):,} variables")
    keras = artifact.keras
    if keras is not None:
        if keras.training_config:
            out.append("Keras `training_config` (the model was compiled)")
        elif keras.optimizer_class:
            out.append(f"an optimizer (`{keras.optimizer_class}`) in the Keras config")
        if keras.optimizer_weights:
            out.append(f"{len(keras.optimizer_weights):,} saved optimizer weights")
    for obj in artifact.keras_objects:
        if obj.path == "root" and obj.data is not None and "training_config" in obj.data:
            out.append("Keras `training_config` in `keras_metadata.pb`")
    optimizer_vars = sorted(n for n, v in artifact.variables.items()
                            if ((v.checkpoint_key or "").startswith("optimizer/")
                                and not v.checkpoint_key.startswith(KERAS3_TRAINED_KEY))
                            or (facts.roles.get(n) is not None and facts.roles[n].role.value == "optimizer slot"))
    if optimizer_vars:
        out.append(f"optimizer variables ({code_list(optimizer_vars, 2)})")
    return out


def pretrained_word(group: PretrainedGroup) -> str:
    """"pretrained", or "recognised" when only the architecture is known (it may be `weights=None`)."""
    return "recognised" if group.strength is Strength.ARCHITECTURE else "pretrained"


# -- fix-up snippets shared by GA301/GA302 ---------------------------------------------------------

VAR_LIST = SnippetTemplate(
    "TF1: give the optimizer the head's variables only; tf_keras' `trainable = False` never reaches it",
    """\
pretrained = {v.name for v in backbone.weights}  # ${what}
head_variables = [v for v in tf.compat.v1.trainable_variables() if v.name not in pretrained]
train_op = tf.compat.v1.train.AdamOptimizer(1e-3).minimize(loss, var_list=head_variables)
""")

FREEZE_BEFORE_COMPILE = SnippetTemplate(
    "TF2 (Keras 3): freeze the base before `compile()`, and call it in inference mode",
    """\
backbone.trainable = False  # ${what}
features = backbone(images, training=False)
outputs = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(features))
model = keras.Model(images, outputs)
model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
""")

DECLARE_FINETUNE = SnippetTemplate(
    "pyproject.toml: declare the fine-tuning, if it is intended",
    """\
# [tool.graphaudit]
# finetune = [${patterns}]
""")


def group_what(group: PretrainedGroup) -> str:
    """"the VGG19: `block1_conv1/kernel` ... (32 variables)", for a code comment."""
    names = sorted(group.variables)
    what = group.architecture or group.label
    listed = f"`{names[0]}` ... ({len(names):,} variables)" if len(names) > 1 else f"`{names[0]}`"
    return f"the {what}: {listed}"


def trainability_snippets(group: PretrainedGroup, names: Sequence[str], tf1: bool = True) -> list[Snippet]:
    """Keep the group out of the optimizer (TF1), freeze it (TF2), or declare the fine-tune of the
    blocks the trained variables `names` are in (`block5_*` for VGG19, `block_16_*` for MobileNetV2)."""
    what = group_what(group)
    out = [VAR_LIST.render(what=what)] if tf1 else []
    out.append(FREEZE_BEFORE_COMPILE.render(what=what))
    patterns = finetune_patterns(names or group.variables, group.scope)
    out.append(DECLARE_FINETUNE.render(patterns=", ".join(f'"{p}"' for p in patterns)))
    return out


def vgg19_group() -> PretrainedGroup:
    """A VGG19 at the root scope, recognised by its fingerprint: what the docs render fix-ups for."""
    from graphaudit.rules.snippets import VGG19_VARIABLES

    return PretrainedGroup(scope="", label="VGG19", variables=VGG19_VARIABLES, params=20_024_384, evidence=(),
                           architecture="VGG19", include_top=False, family="VGG19")
