"""GA102: the same model instantiated several times with separate variables, some never used."""

from __future__ import annotations

import re
from typing import Iterator, Sequence

from graphaudit.analysis.copies import Copy, DeadCopy
from graphaudit.findings import Confidence, Finding, Fixup, Severity
from graphaudit.names import common_scope
from graphaudit.rules.base import Rule, graph_rewritable, name_list, plural
from graphaudit.rules.snippets import Snippet, SnippetTemplate, constructor, join

REUSE = SnippetTemplate(
    "TF1 (tf_keras): build the model once, and reuse it when the cell runs again",
    """\
if "features" not in globals():  # ${runs}
    with sess.as_default():  # tf_keras loads the weights into the default session
        backbone = tf_keras.applications.${name}(
            ${args}include_top=False, weights=weights, input_tensor=images)
    features = backbone.output
""")


def reuse_snippets(architecture: str | None, instances: int) -> list[Snippet]:
    """GA102's code: build the recognised architecture once per graph."""
    call = constructor(architecture)
    if call is None:
        return []
    runs = f"this graph holds {instances:,} instances: the cell ran {instances:,} times"
    return [REUSE.render(name=call[0], args=call[1], runs=runs)]


# Keras and TF uniquify names with `_1`, `_2`, ...: `_0` or `_01` are part of a name someone chose.
_SUFFIX = re.compile(r"_[1-9]\d*$")


class DuplicateModelInstance(Rule):
    """Finds a model instantiated several times with separate variable sets, only some of them used.

    ## What it does
    Finds structurally identical copies of a subgraph (same ops, attrs and topology, at least
    `min-duplicate-ops` ops) that read *different* variables of identical shapes, the signature
    of building the same architecture again (`block1_conv1/kernel`, `block1_conv1_1/kernel`, ...,
    `block1_conv1_4/kernel`). It reports the instances no root reaches: their suffixes or scopes,
    their unused parameters and bytes, and which instance is live. Roots are chosen as for GA101
    (declared, `--output`, or inferred from sinks; see GA101).

    ## Why is this bad?
    Every instance is a full variable set: it is initialized, saved to every checkpoint, loaded
    with every restore, and frozen into every GraphDef, while only one is read. Four unused copies
    of VGG19 are 320 MB of dead weights. It also breaks restores: the live instance's variables
    carry a `_4` suffix, so a checkpoint written by a fresh process (`block1_conv1/kernel`) does
    not match them by name.

    ## Example
    ```python
    # a notebook cell, run five times in the same graph
    vgg = tf_keras.applications.VGG19(weights="imagenet", include_top=False,
                                      input_tensor=images)
    ```

    ## Use instead
    ```python
    # TF1 (tf_keras): build the model once, and reuse it when the cell runs again
    if "features" not in globals():  # this graph holds 2 instances: the cell ran 2 times
        with sess.as_default():  # tf_keras loads the weights into the default session
            backbone = tf_keras.applications.VGG19(
                include_top=False, weights=weights, input_tensor=images)
        features = backbone.output
    ```

    ## Fix-up
    Build the model once and reuse the object, or call `tf.compat.v1.reset_default_graph()`
    (and `tf.compat.v1.keras.backend.clear_session()`) between experiments, then save again.

    The code names the finding's architecture, scope, layer pattern and variables, and assumes only
    the names listed in docs/fixup-snippets.md; the test suite runs every snippet.

    ## Evidence
    How the roots were chosen, each instance with its op count, variables and parameters, which
    instances the roots reach, and that the instances match op for op with variables of the same
    shapes. Frozen graphs work too when the unused copies were kept (weight `Const`s count as the
    variables they replaced).
    """

    code = "GA102"
    #: Every snippet its findings can print (`Rule.fixup_templates`).
    fixup_templates = (REUSE,)
    name = "duplicate-model-instance"
    headline = "the model was built several times (`block1_conv1`, ..., `block1_conv1_4`) and only one instance is used"
    severity = Severity.WARNING
    confidence = Confidence.HIGH

    @classmethod
    def example_snippets(cls) -> list[Snippet]:
        """The fix-up code for a tf_keras VGG19 built twice in one graph."""
        return reuse_snippets("VGG19", 2)

    def check(self, artifact, facts) -> Iterator[Finding]:
        groups: dict[tuple[str, int], list[DeadCopy]] = {}
        for d in facts.dead_copies:
            if d.unused_weights:
                groups.setdefault((d.graph, d.architecture), []).append(d)
        for (graph, _), dead in groups.items():
            yield self._finding(artifact, facts, graph, dead)

    def _finding(self, artifact, facts, graph: str, dead: list[DeadCopy]) -> Finding:
        live = _unique(t for d in dead for t in d.live_twins)
        unused: dict[str, None] = {}
        params = nbytes = 0
        for d in dead:
            for w in d.unused_weights:
                if w not in unused:
                    unused[w] = None
            params += d.unused_params
            nbytes += d.unused_bytes
        instances = sorted([*(d.dead for d in dead), *live], key=_first_weight)
        labels, listing = _labels(instances)
        live_labels = [labels[id(c)] for c in live]
        what = _architecture(facts, live) or "the same model"
        k = len(instances)
        used = (f"only the instance {live_labels[0]} is used" if len(live) == 1
                else f"only the instances {_join(live_labels)} are used")
        message = (f"{what} is instantiated {k:,} times with separate variables ({listing}); {used}, and the "
                   f"other {len(dead):,} hold {params:,} unused params ({_bytes(nbytes)})")
        evidence = [f"roots: {facts.roots_note}"]
        for c in instances:
            state = "read by the roots" if any(c is x for x in live) else "reaches no root"
            evidence.append(f"the instance {labels[id(c)]}: {len(c.nodes):,} ops, {plural(len(c.weights), 'variable')} "
                            f"({c.params:,} params), {state}")
        evidence.append(f"the instances match op for op (same op types, attrs and inputs) and their variables have "
                        f"the same shapes; {plural(len(unused), 'variable')} are read by no root: {name_list(unused)}")
        scope = common_scope(unused)
        return self.finding(
            artifact, message, graph=graph, scope=scope,
            nodes=[n for d in dead for n in d.outputs], variables=unused, evidence=evidence,
            fixup=Fixup(
                title="Build the model once and reuse it, or reset the graph between experiments",
                detail=(f"The graph holds {k:,} instances of {what}; {used}. Build the model "
                        "once (e.g. in its own notebook cell) and reuse the object, or call "
                        "`tf.compat.v1.reset_default_graph()` before building it again, then save the artifact again."),
                code=join(reuse_snippets(_architecture(facts, live), k)),
                automatic=graph_rewritable(artifact),
            ),
            confidence=Confidence.HIGH,
        )


def _unique(copies) -> list[Copy]:
    out: list[Copy] = []
    for c in copies:
        if not any(c is o or c == o for o in out):
            out.append(c)
    return out


def _first_weight(c: Copy) -> tuple:
    return (c.weights[0] if c.weights else "", c.nodes[0] if c.nodes else "")


def _heads(c: Copy) -> list[str]:
    return [w.split("/", 1)[0] for w in c.weights]


def _labels(instances: Sequence[Copy]) -> tuple[dict[int, str], str]:
    """How to tell instances apart: Keras suffixes (`_1`, `_2`), else scopes, else a first variable.

    Returns a phrase per instance ("with suffix `_4`") and a listing of all of them.
    """
    with_weights = [c for c in instances if c.weights]
    if len(with_weights) == len(instances):
        ref = min(instances, key=lambda c: (sum(map(len, _heads(c))), _first_weight(c)))
        base = _heads(ref)
        tails: dict[int, str] = {}
        for c in instances:
            heads = _heads(c)
            found = {h[len(b):] for h, b in zip(heads, base) if h.startswith(b)}
            ok = len(heads) == len(base) and all(h.startswith(b) for h, b in zip(heads, base)) and len(found) == 1
            tail = found.pop() if ok else None
            if tail is None or (tail and not _SUFFIX.fullmatch(tail)):
                break
            tails[id(c)] = tail
        else:
            if len(set(tails.values())) == len(instances):
                ordered = sorted(instances, key=lambda c: (len(tails[id(c)]), tails[id(c)]))
                listing = "suffixes " + ", ".join(f"`{tails[id(c)]}`" if tails[id(c)] else "none" for c in ordered)
                return ({i: f"with suffix `{t}`" if t else "with no suffix" for i, t in tails.items()}, listing)
    scopes = {id(c): c.scope for c in instances}
    if all(scopes.values()) and len(set(scopes.values())) == len(instances):
        return ({i: f"in scope `{s}/`" for i, s in scopes.items()},
                "scopes " + ", ".join(f"`{c.scope}/`" for c in instances))
    labels = {id(c): f"reading `{c.weights[0]}`" if c.weights else f"at {c.label}" for c in instances}
    return labels, "first variables " + ", ".join(f"`{c.weights[0]}`" if c.weights else c.label for c in instances)


def _join(parts: Sequence[str]) -> str:
    if len(parts) <= 2:
        return " and ".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _bytes(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 1_000_000 else f"{n:,} bytes"


def _architecture(facts, live: Sequence[Copy]) -> str | None:
    """The catalogue's name for the live instance's architecture (e.g. VGG19), when it knows it."""
    if not live or not live[0].weights:
        return None
    group = facts.group_of.get(live[0].weights[0])
    if group is not None and group.architecture:
        return group.architecture
    return None
