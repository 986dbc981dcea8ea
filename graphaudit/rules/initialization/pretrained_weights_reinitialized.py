"""GA202: pretrained variables whose stored values are their initializer's fresh output."""

from __future__ import annotations

import math
from typing import Iterator

from graphaudit.analysis.provenance import Strength, reference_status
from graphaudit.findings import Confidence, Finding, Fixup, Severity, Silenced
from graphaudit.rules.base import Rule, name_list, plural
from graphaudit.rules.duplicates.orphaned_model_copy import REFERENCE_WRAPPER
from graphaudit.rules.snippets import Snippet, SnippetTemplate, VGG19_VARIABLES, join
from graphaudit.rules.trainability import pretrained_word, split_declared

# (severity, confidence) by provenance strength, for a group that is mostly re-initialized.
# Fresh values in an architecture that nobody said was pretrained may be `weights=None`, saved
# before training: worth a look, not a failed build.
_GRADES = {
    Strength.LOADED: (Severity.ERROR, Confidence.HIGH),
    Strength.RECORDED_BASE: (Severity.WARNING, Confidence.MEDIUM),
    Strength.ARCHITECTURE: (Severity.WARNING, Confidence.LOW),
}

INIT_THEN_LOAD = SnippetTemplate(
    "TF1 (tf_keras): initialize first, then load the pretrained weights into your session",
    """\
sess.run(tf.compat.v1.global_variables_initializer())
with sess.as_default():  # tf_keras loads into the default session, else into a session of its own
    backbone.load_weights(weights)  # ${what}
""")

INIT_NEW_ONLY = SnippetTemplate(
    "TF1: once the weights are loaded, initialize only the variables you added",
    """\
pretrained = {v.name for v in backbone.weights}  # ${what}
new_variables = [v for v in tf.compat.v1.global_variables() if v.name not in pretrained]
sess.run(tf.compat.v1.variables_initializer(new_variables))
""")

COPY_INTO_CLONE = SnippetTemplate(
    "TF2 (Keras 3): `clone_model` builds fresh weights; copy the pretrained ones into the clone",
    """\
clone = keras.models.clone_model(backbone)
clone.set_weights(backbone.get_weights())
""")


def reinitialized_snippets(architecture: str | None, what: str) -> list[Snippet]:
    """GA202's code; the reference wrapper is offered for VGG19."""
    out = [INIT_THEN_LOAD.render(what=what), INIT_NEW_ONLY.render(what=what)]
    if architecture == "VGG19":
        out.append(REFERENCE_WRAPPER.render())
    out.append(COPY_INTO_CLONE.render())
    return out


# Words for layer classes the catalogue knows; others fall back to the weight's rank.
_CLASS_WORDS = {"Conv2D": "conv", "DepthwiseConv2D": "depthwise conv", "SeparableConv2D": "separable conv",
                "Dense": "dense", "BatchNormalization": "BatchNorm", "Conv2DTranspose": "conv"}
_PLURALS = {"kernel": "kernels", "bias": "biases", "gamma": "gammas", "beta": "betas",
            "moving_mean": "moving means", "moving_variance": "moving variances",
            "depthwise_kernel": "depthwise kernels", "pointwise_kernel": "pointwise kernels"}


class PretrainedWeightsReinitialized(Rule):
    """Finds pretrained weights that hold their initializer's random values instead.

    ## What it does
    For each group of variables that provenance says is pretrained (a `--pretrained` declaration,
    a `--weights` file, a known `keras.applications` architecture, weight-loading ops in the
    graph, or Keras metadata), tests the values the artifact stores (checkpoint, SavedModel
    `variables/`, or a live session) against each variable's initializer: exact zeros and ones
    for biases and BatchNorm (gamma 1, beta 0, moving mean 0, moving variance 1), and for
    random initializers (glorot/he/lecun uniform and normal, truncated normal) that every value
    lies within the initializer's bounds and that the moments, the distribution and the spread
    across output channels are what a fresh draw gives. The initializer comes from the graph's
    `<var>/Initializer/...` ops, the Keras config, or the architecture catalogue.
    With `--weights FILE` each variable is also compared exactly with the reference file, and
    reported as "equals reference", "differs from reference (trained)" or "initializer values".

    ## Why is this bad?
    The program trains or serves an untrained backbone, and nothing fails: the outputs are just
    wrong. This is what `tf.compat.v1.global_variables_initializer()` does when it runs after
    Keras loaded the pretrained weights (it re-runs every variable's initializer), and what
    `tf.keras.models.clone_model` does (it builds the layers again, with fresh weights).

    ## Example
    ```python
    vgg = tf_keras.applications.VGG19(weights="imagenet", include_top=False, input_tensor=images)
    logits = head(vgg.output)
    sess.run(tf.compat.v1.global_variables_initializer())   # after the weights were loaded
    saver.save(sess, "export/model.ckpt")                   # saves random VGG19 weights
    ```

    ## Use instead
    ```python
    # TF1 (tf_keras): initialize first, then load the pretrained weights into your session
    sess.run(tf.compat.v1.global_variables_initializer())
    with sess.as_default():  # tf_keras loads into the default session, else into a session of its own
        backbone.load_weights(weights)  # the VGG19: `block1_conv1/bias` ... (32 variables)
    ```

    ## Fix-up
    Run the initializer before loading the pretrained weights, or initialize only the new
    variables with `tf.compat.v1.variables_initializer(new_variables)`. The reference wrapper,
    `graphaudit.reference.VGG19`, keeps its weights and restores them with `load_weights(sess)`
    after any initializer. In TF2, copy the weights into a `clone_model` clone with
    `clone.set_weights(backbone.get_weights())`.

    The code names the finding's architecture, scope, layer pattern and variables, and assumes only
    the names listed in docs/fixup-snippets.md; the test suite runs every snippet. The other
    ways, rendered for a VGG19 that tf_keras built at the root scope:

    ```python
    # TF1: once the weights are loaded, initialize only the variables you added
    pretrained = {v.name for v in backbone.weights}  # the VGG19: `block1_conv1/bias` ... (32 variables)
    new_variables = [v for v in tf.compat.v1.global_variables() if v.name not in pretrained]
    sess.run(tf.compat.v1.variables_initializer(new_variables))
    ```

    ```python
    # TF1 (graphaudit.reference): one VGG19 on your tensor, restorable into any session
    from graphaudit.reference import VGG19

    vgg = VGG19(input_tensor=images, weights=weights)  # raw RGB 0-255 in: it preprocesses
    features = vgg.output
    sess.run(tf.compat.v1.global_variables_initializer())
    vgg.load_weights(sess)  # after any initializer, in any session of the graph
    ```

    ```python
    # TF2 (Keras 3): `clone_model` builds fresh weights; copy the pretrained ones into the clone
    clone = keras.models.clone_model(backbone)
    clone.set_weights(backbone.get_weights())
    ```

    ## Evidence
    The provenance of the group, where each initializer was read, how many layers and weights
    passed which test (with the bounds tested), and, with `--weights`, the exact comparison.
    Needs stored values: a bare GraphDef is not checked. Random initializers are judged only on
    tensors of 64 values or more. A random tensor of 262,144 values or more is judged first on a
    sample of 8 blocks at fixed offsets (65,536 values), and read whole unless the sample is
    decisive: a value past the bound, or every statistic well inside its bound, pooled and in each
    block. Figures from a sample say so ("on a sample of 65,536 of 2,359,296 values"). The values prove the re-initialization; the provenance says
    whether they should have been pretrained, and sets the severity:

    | provenance of the group | severity / confidence |
    | --- | --- |
    | loaded: `pretrained` declared, a `--weights` match, weight-loading ops, `init_from_checkpoint` | error / high |
    | Keras recorded an application nested as a base model (`.h5`, `.keras`, `keras_metadata.pb`) | warning / medium |
    | architecture only: a fingerprint, or Keras naming the whole model after an application | warning / low |

    When fewer than half of the group's layers hold fresh values, confidence is one step lower
    (medium at most). A `scratch` declaration (`weights=None`, on purpose) silences the
    variables it covers.
    """

    code = "GA202"
    #: Every snippet its findings can print (`Rule.fixup_templates`).
    fixup_templates = (INIT_THEN_LOAD, INIT_NEW_ONLY, REFERENCE_WRAPPER, COPY_INTO_CLONE)

    needs_values = True
    name = "pretrained-weights-reinitialized"
    headline = "pretrained weights hold fresh initializer values: `global_variables_initializer()` ran after loading"
    severity = Severity.ERROR
    confidence = Confidence.HIGH

    @classmethod
    def example_snippets(cls) -> list[Snippet]:
        """The fix-up code for a tf_keras VGG19 re-initialized after its weights were loaded."""
        return reinitialized_snippets("VGG19", f"the VGG19: {_first_and_count(VGG19_VARIABLES)}")

    def check(self, artifact, facts) -> Iterator[Finding | Silenced]:
        groups = facts.pretrained_groups
        if not groups:
            return
        verdicts = facts.weight_verdicts
        reference = facts.reference_weights
        for group in groups:
            judged = {n: verdicts[n] for n in group.variables if n in verdicts and verdicts[n].fresh is not None}
            if len(judged) < 2:
                continue
            status = reference_status(artifact, reference, group.variables, verdicts) if reference else {}
            fresh = {n for n, v in judged.items() if v.fresh and status.get(n) != "equals reference"}
            layers: dict[str, list[str]] = {}
            for name in judged:
                layers.setdefault(name.rsplit("/", 1)[0], []).append(name)
            fresh_layers = sorted(layer for layer, names in layers.items() if all(n in fresh for n in names))
            if not fresh_layers or (2 * len(fresh_layers) < len(layers) and len(fresh_layers) < 2):
                continue
            most = 2 * len(fresh_layers) >= len(layers)
            tests = _tests_fired(group, judged, fresh)
            what = f"`{group.scope}/`" if group.scope else "the root scope"
            arch = group.architecture or group.label
            message = (f"{pretrained_word(group)} {arch} in {what} ({group.params:,} params) holds fresh initializer values: "
                       f"{len(fresh_layers):,}/{len(layers):,} layers re-initialized ({'; '.join(tests)})")
            if reference is not None:
                same = sum(1 for n in fresh if status.get(n) == "initializer values")
                message += f"; {same:,}/{len(status):,} differ from `{reference.name}` and hold initializer values"
            evidence = [f"pretrained: {e.detail}" for e in group.evidence]
            evidence.append(_sources(judged))
            evidence.extend(_examples(judged, fresh))
            if reference is not None:
                evidence.append(_reference_summary(reference.name, status))
            evidence.extend(_late_initializers(artifact, group.variables))
            if not most:
                evidence.append(f"the other {len(layers) - len(fresh_layers):,} layers hold non-initializer values; "
                                f"re-initialized: {name_list(fresh_layers)}")
            evidence.append(group.strength_note())
            severity, confidence = _GRADES[group.strength]
            if not most:
                confidence = Confidence.LOW if confidence is not Confidence.HIGH else Confidence.MEDIUM
            rest, covered = split_declared(sorted(fresh), facts.settings)
            finding = self.finding(
                artifact, message, scope=group.scope, variables=sorted(fresh),
                graph=",".join(sorted({artifact.variables[n].graph or "" for n in fresh})),
                evidence=evidence, severity=severity, confidence=confidence,
                fixup=Fixup(
                    title="Run the initializer before loading the pretrained weights",
                    detail=(f"{plural(len(fresh), 'variable')} of the pretrained {arch} hold the values their "
                            "initializer draws, so the weights were overwritten (or never loaded) before the "
                            "artifact was saved. Initialize first and load the weights afterwards, or "
                            "initialize only the new variables with "
                            "`tf.compat.v1.variables_initializer(new_variables)`"
                            + ("; `graphaudit.reference.VGG19` restores its weights with `load_weights(sess)` "
                               "after any initializer" if group.architecture == "VGG19" else "")
                            + ". In TF2, "
                            "`clone_model` builds fresh weights: copy them with "
                            "`clone.set_weights(backbone.get_weights())`."),
                    code=join(reinitialized_snippets(
                        group.architecture, f"the {arch}: {_first_and_count(sorted(group.variables))}")),
                    automatic=reference is not None and artifact.checkpoint is not None,
                ),
            )
            scratch = {label: names for label, names in covered.items() if label.startswith("scratch ")}
            if scratch and not [n for n in fresh if not any(n in names for names in scratch.values())]:
                yield Silenced(next(iter(scratch)), finding)
            else:
                yield finding


def _category(group, name: str, verdict) -> tuple[str, str]:
    """(what the weight is, e.g. "conv kernels"; how it failed, e.g. "uniform within the glorot limit")."""
    weight = name.rsplit("/", 1)[-1].split(":")[0]
    spec = group.catalog_weights.get(name)
    word = ""
    if spec is not None and group.architecture:
        from graphaudit.catalog import load_catalog

        found = load_catalog().fingerprints[group.architecture].weight(spec)
        if found is not None:
            word = _CLASS_WORDS.get(found.layer_class, "")
    if not word and weight in ("gamma", "beta", "moving_mean", "moving_variance"):
        word = "BatchNorm"
    noun = _PLURALS.get(weight, weight + "s")
    what = f"{word} {noun}" if word and not (word == "depthwise conv" and noun == "depthwise kernels") else noun
    spec_ = verdict.spec
    if spec_.kind in ("zeros", "ones", "constant"):
        how = spec_.describe()
    elif spec_.kind == "uniform":
        family = spec_.label.split(" ")[0] if spec_.label.endswith(" uniform") else ""
        how = f"uniform within the {family} limit" if family and family != "random" else "uniform within their bounds"
    else:
        how = f"{spec_.label} draws" if spec_.label else "normal draws"
    return what, how


def _tests_fired(group, judged, fresh) -> list[str]:
    counts: dict[tuple[str, str], list[int]] = {}
    for name, verdict in judged.items():
        key = _category(group, name, verdict)
        slot = counts.setdefault(key, [0, 0])
        slot[0] += name in fresh
        slot[1] += 1
    return [f"{n:,}/{total:,} {what} {how}" for (what, how), (n, total) in sorted(
        counts.items(), key=lambda kv: (-kv[1][1], kv[0])) if n]


def _sources(judged) -> str:
    counts: dict[str, int] = {}
    for verdict in judged.values():
        counts[verdict.spec.source] = counts.get(verdict.spec.source, 0) + 1
    labels = {"graph": "the graph's initializer ops", "keras config": "the Keras config",
              "catalogue": "the architecture catalogue", "artifact": "the artifact"}
    parts = [f"{labels.get(src, src)} ({n:,})" for src, n in sorted(counts.items(), key=lambda kv: -kv[1])]
    return "initializers read from " + ", ".join(parts)


def _examples(judged, fresh) -> list[str]:
    """One example per kind of test, with its numbers."""
    out = []
    seen = set()
    for name in sorted(fresh):
        verdict = judged[name]
        kind = verdict.spec.kind
        if kind in seen:
            continue
        seen.add(kind)
        if kind in ("zeros", "ones", "constant"):
            out.append(f"`{name}`: all {verdict.size:,} values {verdict.spec.describe()}")
        else:
            stats = verdict.statistics
            largest = f"largest |z| {stats.get('max_abs_z', math.nan):.3f}"
            shape = f"moments within {_worst(stats):.1f} standard errors, KS {stats.get('ks', math.nan):.2f}"
            sampled = int(stats.get("sampled", verdict.size))
            support = int(stats.get("support_read", verdict.size))
            # Figures computed on part of the values say so: a sample decided, or the tensor was too
            # big to take every value into the moments.
            if support < verdict.size:
                figures = f"on a sample of {sampled:,} of {verdict.size:,} values: {largest}, {shape}"
            elif sampled < verdict.size:
                figures = f"{largest}; on a sample of {sampled:,} of {verdict.size:,} values: {shape}"
            else:
                figures = f"{largest}, {shape}"
            out.append(f"`{name}`: {verdict.size:,} values {verdict.spec.describe()}, {figures}")
    return out


def _worst(stats) -> float:
    return max(abs(stats.get(k, 0.0)) for k in ("z_mean", "z_var", "z_m4"))


def _reference_summary(file_name: str, status) -> str:
    counts: dict[str, int] = {}
    for s in status.values():
        counts[s] = counts.get(s, 0) + 1
    order = ["equals reference", "differs from reference (trained)", "initializer values", "not in reference",
             "no stored value"]
    parts = [f"{counts[s]:,} {s}" for s in order if counts.get(s)]
    return f"compared exactly with `{file_name}` (--weights): " + ", ".join(parts)


def _late_initializers(artifact, names) -> list[str]:
    """Ops that run the group's initializers (``init``, ``init_1``, ...): two or more means one ran late."""
    inits_by_graph: dict[str, set[str]] = {}
    for name in names:
        var = artifact.variables.get(name)
        if var is not None and var.graph and var.initializer:
            inits_by_graph.setdefault(var.graph, set()).add(var.initializer)
    out = []
    for gname, inits in sorted(inits_by_graph.items()):
        graph = artifact.graphs.get(gname)
        if graph is None:
            continue
        runners = []
        for i in graph.by_op.get("NoOp", ()):
            covered = sum(1 for j in graph.control_inputs[i] if graph.names[j] in inits)
            if covered * 2 >= len(inits):
                runners.append(graph.names[i])
        if len(runners) >= 2:
            out.append(f"{len(runners)} ops run these variables' initializers ({name_list(runners)}): one of "
                       "them ran after the weights were loaded")
    return out


def _first_and_count(names) -> str:
    """"`block1_conv1/kernel` ... (32 variables)", for a code comment."""
    return f"`{names[0]}` ... ({len(names):,} variables)" if len(names) > 1 else f"`{names[0]}`"
