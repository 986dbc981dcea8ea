"""GA201: a variable the artifact's outputs read gets no value when the artifact is loaded."""

from __future__ import annotations

from typing import Iterator

from graphaudit.analysis.coverage import ValueSource
from graphaudit.analysis.roles import Role
from graphaudit.analysis.slots import beside_artifact
from graphaudit.artifact import Format
from graphaudit.findings import Confidence, Finding, Fixup, Severity
from graphaudit.rules.base import Rule, common_scope, name_list, plural
from graphaudit.rules.snippets import Snippet, SnippetTemplate, VGG19_VARIABLES, join

SAVE_ALL = SnippetTemplate(
    "TF1: save every variable the graph reads, with a `Saver` that has no `var_list`",
    """\
saver = tf.compat.v1.train.Saver()  # also saves ${missing}
saver.save(sess, checkpoint)
""")



class UninitializedVariable(Rule):
    """Finds variables that the artifact's outputs read but that nothing gives a value.

    ## What it does
    Checks, for every variable that the artifact's roots (signature outputs, train ops, the
    outputs you name with `--output`, or the graph's sinks when nothing is declared) depend on,
    where its value comes from when the artifact is loaded: a restore op reading a key that the
    checkpoint holds, an init op (`main_op`, `legacy_init_op`), or its own initializer when that
    restores a checkpoint (`init_from_checkpoint`). A variable with none of these is reported,
    and so is one whose restore reads a key that the checkpoint lacks. Only the branches that run
    count: a variable read only in a cond branch that a folded predicate rules out (the Keras
    learning phase left at its default, a constant) is not read. Metric and local state
    (`local_variables`, `metric_variables`, Keras metric accumulators) is left out: no export
    holds it, and whoever evaluates the metric initializes it.

    ## Why is this bad?
    The artifact cannot run. TensorFlow stops at the first read with
    `FailedPreconditionError: Attempting to use uninitialized value block1_conv1/bias` (TF 1.x) or
    `Could not find variable block1_conv1/kernel ... In TF1, it can also mean the variable is
    uninitialized` (TF 2.x). When the missing variables are a pretrained backbone, a caller that
    "fixes" this by running `global_variables_initializer()` silently serves random weights.

    ## Example
    ```python
    vgg = tf_keras.applications.VGG19(weights="imagenet", include_top=False, input_tensor=images)
    logits = head(vgg.output)
    saver = tf.compat.v1.train.Saver(var_list=head_variables)   # the backbone is left out
    saver.save(sess, "export/model.ckpt")
    ```

    ## Use instead
    ```python
    # TF1: save every variable the graph reads, with a `Saver` that has no `var_list`
    saver = tf.compat.v1.train.Saver()  # also saves `block1_conv1/bias` and the 31 others
    saver.save(sess, checkpoint)
    ```

    ## Fix-up
    Save every variable the graph reads: create the `Saver` (or the SavedModel builder's saver)
    without a `var_list` that drops the backbone. If the backbone is meant to come from its own
    weights file, restore it in every session that uses the graph, for example with
    `graphaudit.reference.VGG19.load_weights(sess)`.

    The code names the finding's architecture, scope, layer pattern and variables, and assumes only
    the names listed in docs/fixup-snippets.md; the test suite runs every snippet.

    ## Evidence
    The graph and the roots that read each variable (and how the roots were chosen), the restore
    op's variable-to-key mapping from `saver_def`, the checkpoint's keys, and the variables that
    the init ops assign. Needs a checkpoint or an init op: a bare GraphDef is not checked.
    """

    code = "GA201"
    #: Every snippet its findings can print (`Rule.fixup_templates`).
    fixup_templates = (SAVE_ALL,)

    needs_values = True
    name = "uninitialized-variable"
    headline = "the outputs read variables that get no value when loaded (`Attempting to use uninitialized value ...`)"
    severity = Severity.ERROR
    confidence = Confidence.HIGH

    @classmethod
    def example_snippets(cls) -> list[Snippet]:
        """The fix-up code for a `Saver` that left out a tf_keras VGG19's 32 variables."""
        return [SAVE_ALL.render(missing=_missing(VGG19_VARIABLES))]

    def check(self, artifact, facts) -> Iterator[Finding]:
        if artifact.format in (Format.GRAPHDEF, Format.GRAPHDEF_TEXT, Format.CHECKPOINT):
            return
        # Variables GA203 explains (the checkpoint holds them under another name) are its finding.
        claimed = ({n for drift in facts.name_drift for n in drift.variables}
                   if facts.settings.is_enabled("GA203", artifact.path) else set())
        cov = facts.coverage
        read = facts.read_variables
        groups: dict[ValueSource, list[str]] = {}
        roles = facts.roles
        for name in sorted(read):
            c = cov.get(name)
            if c is None or name in claimed:
                continue
            role = roles.get(name)
            if role is not None and role.role is Role.METRIC:
                continue  # metric and local state: the evaluator initializes it, no export holds it
            if c.source in (ValueSource.NONE, ValueSource.MISSING_KEY):
                groups.setdefault(c.source, []).append(name)
        for source, names in groups.items():
            variables = [artifact.variables[n] for n in names]
            params = sum(v.size for v in variables)
            graphs = sorted({v.graph or "" for v in variables})
            scope = common_scope(names)
            if source is ValueSource.NONE:
                why = "no restore op assigns them, the checkpoint holds none of them, and no init op sets them"
                if artifact.checkpoint is None:
                    why = "the artifact has no checkpoint and no init op sets them"
                readers = _root_names(facts)
                message = (f"{plural(len(names), 'variable')} ({params:,} params) that {readers} "
                           f"{'reads' if readers.count('`') == 2 else 'read'} get no value when loaded: "
                           f"{name_list(names)}; {why}")
            else:
                keys = [artifact.variables[n].checkpoint_key for n in names]
                message = (f"{plural(len(names), 'variable')} ({params:,} params) are restored from keys the "
                           f"checkpoint lacks: {name_list(keys)}; the restore fails with `Key ... not found "
                           f"in checkpoint`")
            evidence = [f"roots: {facts.roots_note}"]
            if artifact.checkpoint is not None:
                evidence.append(f"checkpoint `{beside_artifact(artifact, artifact.checkpoint.prefix)}` holds "
                                f"{plural(len(artifact.checkpoint.keys()), 'key')}; none for these variables")
            restored = sum(1 for c in cov.values() if c.source is ValueSource.RESTORED)
            # A saver_def restore op that assigns some variables but not these: its var_list dropped them.
            saver_drops_them = any(v.restored for v in artifact.variables.values()) and source is ValueSource.NONE
            evidence.append(f"{restored:,} of {len(cov):,} variables are restored from the checkpoint")
            yield self.finding(
                artifact, message, graph=",".join(graphs), scope=scope, variables=names, evidence=evidence,
                fixup=Fixup(
                    title=(f"Create the `Saver` without a `var_list` that leaves out {plural(len(names), 'variable')}"
                           if saver_drops_them else "Save every variable the graph reads, or restore them in each session"),
                    detail=(f"The graph reads {name_list(names)} but {why if source is ValueSource.NONE else 'the checkpoint lacks their keys'}. "
                            "Create the Saver without a `var_list` that leaves them out, or load their weights "
                            "in every session that runs the graph."),
                    code=join([SAVE_ALL.render(missing=_missing(names))]),
                ),
            )


def _root_names(facts) -> str:
    roots = sorted({r.node for r in facts.use_roots})
    if not roots:
        return "the graph"
    if len(roots) <= 3:
        return " and ".join(f"`{r}`" for r in roots)
    return f"{len(roots):,} outputs"


def _missing(names) -> str:
    """`block1_conv1/kernel` and the 31 others, for a code comment."""
    first = f"`{names[0]}`"
    return first if len(names) == 1 else f"{first} and the {len(names) - 1:,} others"
