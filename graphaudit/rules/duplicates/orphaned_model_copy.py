"""GA101: a second copy of a model subgraph, reading the same weights, that no root needs."""

from __future__ import annotations

from typing import Iterator

from graphaudit.analysis.copies import DeadCopy
from graphaudit.findings import Confidence, Finding, Fixup, Severity
from graphaudit.rules.base import Rule, graph_rewritable, name_list, plural
from graphaudit.rules.snippets import Snippet, SnippetTemplate, constructor, join

BUILD_ONCE = SnippetTemplate(
    "TF1 (tf_keras): build the model once, on your tensor, and use its output",
    """\
with sess.as_default():  # tf_keras loads the weights into the default session
    backbone = tf_keras.applications.${name}(
        ${args}include_top=False, weights=weights, input_tensor=images)
features = backbone.output  # not backbone(images): that builds the copy on `${placeholder}`
""")

REFERENCE_WRAPPER = SnippetTemplate(
    "TF1 (graphaudit.reference): one VGG19 on your tensor, restorable into any session",
    """\
from graphaudit.reference import VGG19

vgg = VGG19(input_tensor=images, weights=weights)  # raw RGB 0-255 in: it preprocesses
features = vgg.output
sess.run(tf.compat.v1.global_variables_initializer())
vgg.load_weights(sess)  # after any initializer, in any session of the graph
""")


def build_once_snippets(architecture: str | None, placeholder: str = "input_1") -> list[Snippet]:
    """GA101's code: build the recognised architecture on the user's tensor; the wrapper for VGG19."""
    call = constructor(architecture)
    if call is None:
        return []  # no model to name: the title and detail say what to do
    out = [BUILD_ONCE.render(name=call[0], args=call[1], placeholder=placeholder)]
    if call[0] == "VGG19":
        out.append(REFERENCE_WRAPPER.render())
    return out



class OrphanedModelCopy(Rule):
    """Finds a second copy of a model subgraph that reads the same weights and that nothing uses.

    ## What it does
    Hashes every node of each graph bottom-up (op type, the attrs that matter, its inputs in
    order, and the variable it reads; never names), finds duplicated regions of at least
    `min-duplicate-ops` ops (default 20), and reports a region that reaches no root while its
    structural twin does, when both read the same weights. The finding names the dead copy and
    its twin, their size in ops and parameters, the placeholder that feeds the dead copy, and how
    the roots were chosen.

    Roots are the artifact's signature outputs, train ops and collections, plus the nodes you
    name with `--output` (or `outputs` in the config). A bare GraphDef or a MetaGraph without
    signatures declares none; graphaudit then infers them from the graph's sinks, leaving out
    bookkeeping (initializers, savers, weight loads), sinks that read no weight (Keras'
    learning-phase conds), and the sinks of a duplicated region whose twin is consumed further
    on (the dead copy's last op, and the side outputs both copies carry). When every copy ends in
    sinks, graphaudit names the orphan only when it hangs off a placeholder Keras made for the
    model's `InputLayer` (`input_1`, `input_2`, ...) that nothing else reads and no signature
    feeds, while its twin reads another input (high confidence) or carries the same names under
    the model's scope (medium: that rests on names); otherwise it reports nothing: name the real
    output with `--output`. The finding's evidence says how the roots were chosen and which
    facts named the orphan.

    ## Why is this bad?
    In a TF1-style graph, `model = VGG19(...)` builds the network on its own `input_1`
    placeholder, and `model(images)` builds it a second time on `images`. Only the second copy is
    used. The first one doubles the graph (TensorBoard shows two VGG blocks), slows down loading
    and freezing, and confuses everyone who reads the graph: `model.output` and
    `model.get_layer(...).output` point into the dead copy, so code that uses them silently needs
    a feed for `input_1`. Names cannot tell the copies apart: with correct `input_tensor=` usage,
    the only copy has exactly the names (`block1_conv1/Conv2D`, ...) that the dead copy has here.

    ## Example
    ```python
    images = tf.compat.v1.placeholder(tf.float32, (None, 224, 224, 3), name="images")
    vgg = tf_keras.applications.VGG19(weights="imagenet", include_top=False)
    features = vgg(images)               # builds the network a second time
    ```

    ## Use instead
    ```python
    # TF1 (tf_keras): build the model once, on your tensor, and use its output
    with sess.as_default():  # tf_keras loads the weights into the default session
        backbone = tf_keras.applications.VGG19(
            include_top=False, weights=weights, input_tensor=images)
    features = backbone.output  # not backbone(images): that builds the copy on `input_1`
    ```

    ## Fix-up
    Pass `input_tensor=` to the model's constructor instead of calling the model on a tensor, or
    use `graphaudit.reference.VGG19`, which builds one copy on your tensor and loads its weights
    in any session. A graph that was already saved can be pruned to its outputs
    (`tf.compat.v1.graph_util.extract_sub_graph`), but rebuilding it right is simpler.

    The code names the finding's architecture, scope, layer pattern and variables, and assumes only
    the names listed in docs/fixup-snippets.md; the test suite runs every snippet. The other
    ways, rendered for a VGG19 that tf_keras built at the root scope:

    ```python
    # TF1 (graphaudit.reference): one VGG19 on your tensor, restorable into any session
    from graphaudit.reference import VGG19

    vgg = VGG19(input_tensor=images, weights=weights)  # raw RGB 0-255 in: it preprocesses
    features = vgg.output
    sess.run(tf.compat.v1.global_variables_initializer())
    vgg.load_weights(sess)  # after any initializer, in any session of the graph
    ```

    ## Evidence
    How the roots were chosen, the number of ops that match the twin one for one, the weights
    both copies read with their parameter count, the placeholder that feeds the dead copy and
    what consumes the dead copy's last op (usually nothing). Frozen graphs work too: a weight
    `Const` counts as the variable it replaced.
    """

    code = "GA101"
    #: Every snippet its findings can print (`Rule.fixup_templates`).
    fixup_templates = (BUILD_ONCE, REFERENCE_WRAPPER)
    name = "orphaned-model-copy"
    headline = ("`vgg = VGG19(...)` then `vgg(images)` built the network twice; one copy hangs off an unfed "
                "placeholder and is dead weight")
    severity = Severity.ERROR
    confidence = Confidence.HIGH

    @classmethod
    def example_snippets(cls) -> list[Snippet]:
        """The fix-up code for a tf_keras VGG19 called on `images` after it was built on `input_1`."""
        return build_once_snippets("VGG19", "input_1")

    def check(self, artifact, facts) -> Iterator[Finding]:
        for d in facts.dead_copies:
            if d.shares_weights:
                yield self._finding(artifact, facts, d)

    def _finding(self, artifact, facts, d: DeadCopy) -> Finding:
        dead, twin = d.dead, d.twin
        ops = len(dead.nodes)
        fed = ""
        if d.inputs:
            fed = f", hangs off {_inputs(d)} that nothing feeds,"
        message = (f"{dead.label} ({ops:,} ops, {dead.params:,} params) is an unused copy of {twin.label}: "
                   f"it reads the same weights{fed} and reaches no root")
        evidence = [f"roots: {facts.roots_note}",
                    f"{ops:,} ops of the copy match {twin.label} ({len(twin.nodes):,} ops) one for one: the same op "
                    "types, attrs and inputs, names ignored",
                    f"both copies read the same {plural(len(dead.weights), 'weight')} ({dead.params:,} params): "
                    f"{name_list(dead.weights)}"]
        if d.inputs:
            evidence.append(f"{_inputs(d)} feeds the copy and no root reads it")
        last = f"`{d.outputs[0]}`" if d.outputs else "op"
        side = f" (nor do its {plural(len(d.outputs) - 1, 'other dead end')})" if len(d.outputs) > 1 else ""
        evidence.append(f"the copy's last op {last} feeds nothing{side}" if not d.outputs_consumed
                        else f"the copy's last op {last} feeds only ops that no root reaches")
        placeholder = f" (which builds one copy on `{d.inputs[0]}`)" if d.inputs else ""
        # A copy told apart only because nothing feeds its Keras input (no output declared).
        named_by = [o for o in facts.orphans.get(d.graph, ()) if set(o.placeholders) & set(d.inputs)]
        confidence = None
        for o in named_by[:1]:
            evidence.insert(1, f"which copy is the orphan: {o.evidence}")
            if not o.strong:
                confidence = Confidence.MEDIUM
        architecture = _architecture(facts, d)
        # The reference wrapper is a VGG19: offering it for another architecture would be wrong code.
        wrapper = (" Or use `graphaudit.reference.VGG19`, which builds exactly one copy."
                   if architecture == "VGG19" else "")
        return self.finding(
            artifact, message, graph=d.graph, scope=dead.scope, nodes=(*d.inputs, *d.outputs[:1]),
            variables=dead.weights, evidence=evidence, confidence=confidence or self.confidence,
            fixup=Fixup(
                title="Pass `input_tensor=` to the model's constructor instead of calling the model on a tensor",
                detail=(f"Construct the model on your tensor and use `model.output`, instead of constructing it"
                        f"{placeholder} and then calling `model(tensor)` (which builds {twin.label}).{wrapper}"),
                code=join(build_once_snippets(architecture, d.inputs[0] if d.inputs else "input_1")),
                automatic=graph_rewritable(artifact),
            ),
        )


def _inputs(d: DeadCopy) -> str:
    parts = [f"`{n}` {shape}" for n, shape in zip(d.inputs[:3], d.input_shapes[:3])]
    more = f" and {len(d.inputs) - 3:,} more" if len(d.inputs) > 3 else ""
    return ("the placeholder " if len(d.inputs) == 1 else "the placeholders ") + ", ".join(parts) + more


def _architecture(facts, d: DeadCopy) -> str | None:
    """The catalogue's name for the copies' architecture (e.g. VGG19), when it knows it."""
    for name in (*d.twin.weights, *d.dead.weights)[:1]:
        group = facts.group_of.get(name)
        if group is not None and group.architecture:
            return group.architecture
    return None
