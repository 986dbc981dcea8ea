"""Provenance evidence and its strength, on graphs written by hand: what counts as a weight load, what is rejected, and the severity each rule gives."""

from __future__ import annotations

from dataclasses import replace

from graphaudit.analysis import Analyses
from graphaudit.analysis.provenance import EvidenceKind, Strength
from graphaudit.config import Settings
from graphaudit.engine import check_artifact
from graphaudit.findings import Silenced
from graphaudit.formats.live import from_message
from tests.handmade import graph_def, meta_graph, node, variable

# Two conv layers and a dense head, named like no catalogued architecture.
_MODEL = (("feat/conv_a/kernel", (3, 3, 3, 8)), ("feat/conv_a/bias", (8,)),
          ("feat/conv_b/kernel", (3, 3, 8, 8)), ("feat/conv_b/bias", (8,)))
_HEAD = (("head/kernel", (8, 2)), ("head/bias", (2,)))


def _program(*, load: bool = True, counter: bool = False, metric_and_step: bool = False, train: bool = False,
             one_load: bool = False):
    nodes = [node("images", "Placeholder", dtype="float", shape=(-1, 4, 4, 3))]
    names = []
    for name, shape in _MODEL + _HEAD:
        nodes += variable(name, shape)
        names.append(name)
    loaded = [n for n, _ in _MODEL][: 1 if one_load else None]
    if load:
        for name in loaded:
            shape = dict(_MODEL)[name]
            nodes += [node(f"{name}/ph", "Placeholder", dtype="float", shape=shape),
                      node(f"{name}/load", "Assign", name, f"{name}/ph", T="float")]
    collections = {"variables": list(names), "trainable_variables": list(names)}
    if counter:
        # TF Serving's `saved_model_counter`: one int64, `assign_add` from a placeholder.
        nodes += variable("saved_model_counter", (), dtype="int64")
        nodes += [node("counter/ph", "Placeholder", dtype="int64", shape=()),
                  node("counter/add", "AssignAdd", "saved_model_counter", "counter/ph", T="int64")]
        collections["variables"].append("saved_model_counter")
    if metric_and_step:
        nodes += variable("global_step", (), dtype="int64") + variable("auc/true_positives", (200,))
        nodes += [node("step/ph", "Placeholder", dtype="int64", shape=()),
                  node("step/set", "Assign", "global_step", "step/ph", T="int64"),
                  node("tp/ph", "Placeholder", dtype="float", shape=(200,)),
                  node("tp/reset", "Assign", "auc/true_positives", "tp/ph", T="float")]
        collections["variables"] += ["global_step"]
        collections["local_variables"] = ["auc/true_positives"]
        collections["metric_variables"] = ["auc/true_positives"]
        collections["global_step"] = ["global_step"]
    node_collections = {}
    if train:
        nodes += [node("lr", "Const", value=0.1), node("grad", "Const", value=[[[[0.0] * 8] * 3] * 3] * 3)]
        nodes += variable("feat/conv_a/kernel/Momentum", (3, 3, 3, 8))
        nodes += [node("Momentum/update", "ApplyMomentum", "feat/conv_a/kernel", "feat/conv_a/kernel/Momentum",
                       "lr", "grad", "lr", T="float"),
                  node("train", "NoOp")]
        nodes[-1].input.append("^Momentum/update")
        node_collections["train_op"] = ["train"]
    nodes += [node("conv", "Conv2D", "images", "feat/conv_a/kernel/read", T="float"),
              node("output", "Identity", "conv", T="float")]
    return meta_graph(graph_def(*nodes), variable_collections=collections, collections=node_collections)


def _facts(mg, **settings) -> Analyses:
    return Analyses(from_message(mg, label="<hand>"), replace(Settings(), **settings))


def test_placeholder_assigns_over_a_model_are_a_weight_load():
    facts = _facts(_program())
    (group,) = facts.pretrained_groups
    assert group.variables == tuple(sorted(n for n, _ in _MODEL))
    assert [e.kind for e in group.evidence] == [EvidenceKind.WEIGHT_LOAD_OPS]
    assert group.strength is Strength.LOADED
    assert facts.provenance.rejected == ()


def test_the_serving_counter_is_not_a_pretrained_backbone():
    facts = _facts(_program(load=False, counter=True))
    assert facts.pretrained_groups == []
    assert [str(r) for r in facts.provenance.rejected] == [
        "`saved_model_counter`: written by `AssignAdd` from a placeholder, not a weight load"]
    result = check_artifact(facts.artifact, facts.settings)
    assert [f.code for f in result.findings] == []


def test_a_counter_next_to_a_loaded_model_stays_out_of_the_group():
    facts = _facts(_program(counter=True))
    (group,) = facts.pretrained_groups
    assert "saved_model_counter" not in group.variables
    assert len(group.variables) == len(_MODEL)


def test_metric_variables_and_the_step_are_not_weights_even_when_assigned_from_placeholders():
    facts = _facts(_program(load=False, metric_and_step=True))
    assert facts.pretrained_groups == []
    reasons = {r.subject: r.reason for r in facts.provenance.rejected}
    assert reasons["`global_step`"].startswith("assigned from a placeholder, but it is a step or counter")
    assert reasons["`auc/true_positives`"].startswith("assigned from a placeholder, but it is a metric or local state")


def test_one_assigned_variable_is_not_a_model_load():
    facts = _facts(_program(one_load=True))
    assert facts.pretrained_groups == []
    (rejection,) = facts.provenance.rejected
    assert rejection.subject == "`feat/conv_a/kernel`"
    assert "no set of weights with a kernel" in rejection.reason


def test_loaded_weights_that_the_train_op_updates_are_an_error():
    facts = _facts(_program(train=True))
    result = check_artifact(facts.artifact, facts.settings)
    (finding,) = [f for f in result.findings if f.code == "GA301"]
    assert (finding.severity.value, finding.confidence.value) == ("error", "high")
    assert finding.location.variables == ("feat/conv_a/kernel",)
    assert finding.evidence[-1] == "evidence strength: the values were loaded or declared pretrained"


def test_scratch_silences_ga301_and_is_counted():
    facts = _facts(_program(train=True), scratch=("feat/*",))
    findings = list(_rule("GA301").check(facts.artifact, facts))
    assert [(type(f).__name__, f.declaration) for f in findings if isinstance(f, Silenced)] == [
        ("Silenced", 'scratch "feat/*"')]
    assert [f for f in findings if not isinstance(f, Silenced)] == []


def test_declared_pretrained_without_training_machinery_gets_no_ga302():
    # An inference-only graph: trainable flags, but nothing in it can train.
    facts = _facts(_program(load=False), pretrained=("feat/*",))
    (group,) = facts.pretrained_groups
    assert group.strength is Strength.LOADED
    assert list(_rule("GA302").check(facts.artifact, facts)) == []


def test_declared_pretrained_with_optimizer_variables_but_no_train_op_gets_ga302():
    mg = _program(load=False)
    extra = variable("beta1_power", ())
    mg.graph_def.node.extend(extra)
    facts = _facts(mg, pretrained=("feat/*",))
    (finding,) = list(_rule("GA302").check(facts.artifact, facts))
    assert (finding.severity.value, finding.confidence.value) == ("warning", "medium")
    assert any(e.startswith("training machinery: optimizer variables (`beta1_power`)") for e in finding.evidence)


def _rule(code: str):
    from graphaudit.engine import enabled_rules

    (rule,) = [r for r in enabled_rules(Settings()) if r.code == code]
    return rule


def test_inspect_shows_each_group_its_evidence_and_what_was_rejected():
    from graphaudit.inspection import inspect_dict

    info = inspect_dict(from_message(_program(counter=True), label="<hand>"))
    (group,) = info["provenance_groups"]
    assert (group["strength"], group["variables"]) == ("loaded", len(_MODEL))
    assert group["evidence"] == [{"kind": "weight_load_ops", "strength": "loaded",
                                  "detail": "4 variables assigned from placeholders (Keras `load_weights`)"}]
    assert info["provenance_rejected"] == [
        "`saved_model_counter`: written by `AssignAdd` from a placeholder, not a weight load"]
