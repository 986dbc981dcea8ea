"""Naming the orphan copy when both copies end in sinks: what counts as evidence, and what does not."""

from __future__ import annotations

from graphaudit.analysis import Analyses
from graphaudit.artifact import MetaGraphInfo, Signature
from graphaudit.config import Settings
from graphaudit.findings import Confidence
from graphaudit.rules.duplicates.orphaned_model_copy import OrphanedModelCopy
from tests.test_structure import FLOAT, G


def _two_sinks(live_input: str, dead_input: str, *, dead_scope: str = "", live_scope: str = "model/"):
    g = G()
    g.placeholder(live_input)
    g.placeholder(dead_input)
    for name in ("k0", "k1", "k2", "k3"):
        g.variable(name)
    g.tower(live_scope, live_input, ["k0", "k1", "k2", "k3"])
    g.tower(dead_scope, dead_input, ["k0", "k1", "k2", "k3"])
    return g


def _ga101(art):
    facts = Analyses(art, Settings(min_duplicate_ops=5))
    return list(OrphanedModelCopy().check(art, facts)), facts


def test_the_finding_says_which_facts_named_the_orphan():
    (f,), _ = _ga101(_two_sinks("input_img", "input_1").artifact())
    assert f.confidence is Confidence.HIGH and f.location.nodes[0] == "input_1"
    assert any(e.startswith("which copy is the orphan: the copy ending in `layer3/Relu` reads only `input_1`")
               and "its twin `model/layer3/Relu` reads `input_img`" in e for e in f.evidence)


def test_two_keras_inputs_need_the_twin_s_scoped_names_and_give_medium_confidence():
    (f,), facts = _ga101(_two_sinks("input_2", "input_1").artifact())
    assert f.confidence is Confidence.MEDIUM and f.location.nodes[0] == "input_1"
    assert not facts.orphans["graph"][0].strong
    # Without the scope that calling a Keras model adds, nothing tells the copies apart.
    found, facts = _ga101(_two_sinks("input_2", "input_1", live_scope="other_").artifact())
    assert found == [] and facts.orphans == {}


def test_a_placeholder_that_a_signature_feeds_is_not_an_orphan_s():
    art = _two_sinks("input_img", "input_1").artifact()
    art.meta_graphs.append(MetaGraphInfo(tags=("serve",), graph="graph", signatures=[Signature(
        "serving_default", "predict", {"x": ("input_1:0", "float32", None)}, {})]))
    found, facts = _ga101(art)
    assert found == [] and facts.orphans == {}


def test_a_placeholder_that_something_else_reads_is_not_an_orphan_s():
    g = _two_sinks("input_img", "input_1")
    g.op("Shape", "input_shape", ["input_1"], T=FLOAT)  # e.g. a summary of the input
    found, facts = _ga101(g.artifact())
    assert found == [] and facts.orphans == {}
