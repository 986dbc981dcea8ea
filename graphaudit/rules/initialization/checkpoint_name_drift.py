"""GA203: variables the checkpoint lacks but holds under another name (a `_N` suffix or a scope)."""

from __future__ import annotations

from typing import Iterator

from graphaudit.artifact import Format
from graphaudit.findings import Confidence, Finding, Fixup, Severity
from graphaudit.rules.base import Rule, graph_rewritable, restored_under_its_key, plural
from graphaudit.rules.snippets import Snippet, SnippetTemplate, join

RESTORE_UNDER_SAVED_NAMES = SnippetTemplate(
    "TF1: restore the checkpoint's names into the variables you have",
    """\
${imports}saver = tf.compat.v1.train.Saver(var_list={  # checkpoint key -> variable, e.g. ${example}
    ${key}: v for v in backbone.weights})
saver.restore(sess, checkpoint)
""")


def key_expression(how: str, scope: str, suffix: str) -> tuple[str, str]:
    """(imports, the Python expression that turns a variable `v` into its checkpoint key)."""
    name, imports = "v.op.name", ""
    if how == "drop-scope" and scope:
        name = f"{name}[len({scope!r}):]".replace("'", '"')
    if suffix and "," in suffix:
        imports = "import re\n\n"
        name = f're.sub(r"_[0-9]+/", "/", {name}, count=1)'
    elif suffix:
        name = f'{name}.replace("{suffix}/", "/", 1)'
    if how == "add-scope" and scope:
        name = f'"{scope}" + {name}'
    return imports, name



class CheckpointNameDrift(Rule):
    """Finds variables that the checkpoint lacks under their own name but holds under a drifted one.

    ## What it does
    Takes the variables that the artifact's outputs read and that get no value from the
    checkpoint (no key, or a restore of a key the checkpoint lacks), and looks for the checkpoint
    key each one would have had if the model had been built once: the name without a Keras
    `_N` suffix (`block1_conv1_4/kernel` -> `block1_conv1/kernel`), without a leading scope
    (`model/vgg19/...` -> `vgg19/...`), or with a scope the checkpoint adds. A key counts only
    with the same shape and dtype. The finding gives the mapping.

    ## Why is this bad?
    The saved weights are there, but nothing restores them into the variables the graph uses.
    TensorFlow fails with `Attempting to use uninitialized value block1_conv1_4/bias` (TF 1.x) or
    `Could not find variable block1_conv1_4/kernel ... In TF1, it can also mean the variable is
    uninitialized` (TF 2.x), or, with a restore op, `Key block1_conv1_4/kernel not found in
    checkpoint`. A caller that "fixes" this with `global_variables_initializer()` silently serves
    random weights. The `_4` suffix means the model was built five times in the same graph: Keras
    makes every layer name unique per graph, so each new build gets new variable names, while the
    checkpoint holds the first build's.

    ## Example
    ```python
    for _ in range(5):                     # e.g. a notebook cell run five times
        vgg = tf_keras.applications.VGG19(weights=None, include_top=False, input_tensor=images)
    saver = tf.compat.v1.train.Saver(vgg.weights)   # expects block1_conv1_4/kernel ...
    saver.restore(sess, "vgg19.ckpt")               # ... but the file holds block1_conv1/kernel
    ```

    ## Use instead
    ```python
    # TF1: restore the checkpoint's names into the variables you have
    saver = tf.compat.v1.train.Saver(var_list={  # checkpoint key -> variable, e.g. `block1_conv1/bias` -> `block1_conv1_1/bias`
        v.op.name.replace("_1/", "/", 1): v for v in backbone.weights})
    saver.restore(sess, checkpoint)
    ```

    ## Fix-up
    Build the model once per graph (`clear_session()` or a new `tf.Graph()` before building),
    or restore with a `Saver` whose `var_list` maps the checkpoint's keys to your variables.
    `graphaudit.reference.VGG19.load_weights(sess)` loads its weights in any session.

    The code names the finding's architecture, scope, layer pattern and variables, and assumes only
    the names listed in docs/fixup-snippets.md; the test suite runs every snippet.

    ## Evidence
    The variable-to-key mapping (first entries), the number of variables and parameters, the
    checkpoint's shape and dtype for each key, and the roots that read the variables. Needs a
    graph and a checkpoint: a bare GraphDef or checkpoint alone is not checked.
    """

    code = "GA203"
    #: Every snippet its findings can print (`Rule.fixup_templates`).
    fixup_templates = (RESTORE_UNDER_SAVED_NAMES,)

    needs_values = True
    name = "checkpoint-name-drift"
    headline = "the checkpoint holds the weights under other names (`block1_conv1/kernel` vs `block1_conv1_4/kernel`)"
    severity = Severity.ERROR
    confidence = Confidence.HIGH

    @classmethod
    def example_snippets(cls) -> list[Snippet]:
        """The fix-up code for a tf_keras VGG19 built a second time (`_1`) and a first build's checkpoint."""
        imports, key = key_expression("suffix", "", "_1")
        return [RESTORE_UNDER_SAVED_NAMES.render(imports=imports, key=key,
                                                 example="`block1_conv1/bias` -> `block1_conv1_1/bias`")]

    def check(self, artifact, facts) -> Iterator[Finding]:
        if artifact.format in (Format.GRAPHDEF, Format.GRAPHDEF_TEXT, Format.CHECKPOINT):
            return
        for drift in facts.name_drift:
            renames = drift.renames
            shown = ", ".join(f"`{r.variable}` -> `{r.key}`" for r in renames[:3])
            more = f" and {len(renames) - 3:,} more" if len(renames) > 3 else ""
            why = _why(drift)
            message = (f"{plural(len(renames), 'variable')} ({drift.params:,} params) get no value from the "
                       f"checkpoint, which holds them under other names: {shown}{more}; {why}")
            evidence = [f"roots: {facts.roots_note}"]
            evidence.extend(f"`{r.variable}` -> checkpoint key `{r.key}` (same shape "
                            f"{list(artifact.variables[r.variable].shape or ())}, "
                            f"{artifact.variables[r.variable].dtype or 'same dtype'})" for r in renames[:5])
            groups = {facts.group_of[r.variable].describe() for r in renames if r.variable in facts.group_of}
            evidence.extend(f"pretrained group: {g}" for g in sorted(groups))
            architectures = {facts.group_of[r.variable].architecture for r in renames if r.variable in facts.group_of}
            wrapper = ("; `graphaudit.reference.VGG19.load_weights(sess)` loads its weights in any session"
                       if architectures == {"VGG19"} else "")
            yield self.finding(
                artifact, message, graph=drift.graph, scope=_scope(drift), variables=drift.variables,
                evidence=evidence,
                fixup=Fixup(
                    title="Build the model once per graph, or restore the checkpoint under its saved names",
                    detail=(f"{why[0].upper()}{why[1:]}. The checkpoint has the weights under the first build's "
                            "names, and nothing restores them into the variables the graph uses. Build the model "
                            "once (`tf.compat.v1.keras.backend.clear_session()` or a new `tf.Graph()` before "
                            "building it), or restore with `tf.compat.v1.train.Saver(var_list={checkpoint_key: "
                            f"variable}})`{wrapper}."),
                    code=join([_restore_snippet(drift)]),
                    automatic=graph_rewritable(artifact) and artifact.checkpoint is not None
                    and all(restored_under_its_key(artifact, r.variable) for r in renames),
                ),
            )


def _why(drift) -> str:
    parts = []
    if drift.suffix:
        suffixes = drift.suffix.split(",")
        numbers = sorted(int(s.lstrip("_")) for s in suffixes)
        if len(numbers) == 1:
            parts.append(f"the `{suffixes[0]}` suffix means the model was built {numbers[0] + 1:,} times in this "
                         "graph, and the checkpoint holds the first build's names")
        else:
            parts.append(f"the `{'`, `'.join(suffixes)}` suffixes mean layers were built several times in this "
                         "graph, and the checkpoint holds the first build's names")
    if drift.how == "drop-scope":
        parts.append(f"the graph puts them under `{drift.scope}`, which the checkpoint's names lack")
    elif drift.how == "add-scope":
        parts.append(f"the checkpoint puts them under `{drift.scope}`, which the graph's names lack")
    return "; ".join(parts)


def _scope(drift) -> str:
    from graphaudit.names import common_scope

    return common_scope(drift.variables)


def _restore_snippet(drift):
    imports, key = key_expression(drift.how, drift.scope, drift.suffix)
    first = drift.renames[0]
    return RESTORE_UNDER_SAVED_NAMES.render(imports=imports, key=key,
                                            example=f"`{first.key}` -> `{first.variable}`")
