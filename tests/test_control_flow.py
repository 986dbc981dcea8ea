"""Predicate folding on graphs written by hand: Switch/Merge, If, StatelessIf, Case, and what runs."""

from __future__ import annotations

import pytest

from graphaudit.analysis import Analyses
from graphaudit.analysis.control_flow import fold
from graphaudit.analysis.reachability import reach
from graphaudit.artifact import Root, RootKind
from graphaudit.config import Settings
from graphaudit.formats.live import from_message
from tests.handmade import function, graph_def, meta_graph, node


def _v1_cond(*pred_nodes, pred: str = "pred"):
    """`output = cond(pred, lambda: relu(x @ k_true), lambda: relu(x @ k_false))`, TF1 control flow."""
    return graph_def(
        node("x", "Placeholder", dtype="float"),
        *pred_nodes,
        node("k_true", "VarHandleOp", dtype="float", shape=(2, 2)),
        node("k_false", "VarHandleOp", dtype="float", shape=(2, 2)),
        node("cond/Switch", "Switch", "x", pred, T="float"),
        node("cond/pred_id", "Identity", pred, T="bool"),
        node("cond/switch_t", "Identity", "cond/Switch:1", T="float"),
        node("cond/t/read", "ReadVariableOp", "k_true", "^cond/switch_t", dtype="float"),
        node("cond/t/MatMul", "MatMul", "cond/Switch:1", "cond/t/read", T="float"),
        node("cond/f/read", "ReadVariableOp", "k_false", dtype="float"),
        node("cond/f/MatMul", "MatMul", "cond/Switch", "cond/f/read", T="float"),
        node("cond/Merge", "Merge", "cond/f/MatMul", "cond/t/MatMul", T="float"),
        node("output", "Identity", "cond/Merge", T="float"),
    )


def _reads(gd, **meta):
    art = from_message(meta_graph(gd, **meta), label="<hand>")
    facts = Analyses(art, Settings())
    return facts.read_variables, facts


LEARNING_PHASE = (node("keras_learning_phase/input", "Const", value=False),
                  node("keras_learning_phase", "PlaceholderWithDefault", "keras_learning_phase/input",
                       dtype="bool", shape=()))


@pytest.mark.parametrize("pred_nodes, pred, expected, how", [
    ((node("pred", "Const", value=True),), "pred", {"k_true"}, "constant `pred`"),
    ((node("pred", "Const", value=False),), "pred", {"k_false"}, "constant `pred`"),
    ((node("c", "Const", value=1), node("pred", "Cast", "c", DstT="bool")), "pred", {"k_true"}, "constant `c`"),
    ((node("p", "Const", value=True), node("pred", "LogicalNot", "p")), "pred", {"k_false"}, "constant `p`"),
    ((node("a", "Const", value=2), node("b", "Const", value=2), node("pred", "Equal", "a", "b", T="int32")),
     "pred", {"k_true"}, "constant `a` and constant `b`"),
    (LEARNING_PHASE, "keras_learning_phase", {"k_false"},
     "the Keras learning phase `keras_learning_phase` left at its default (False)"),
])
def test_a_folded_predicate_leaves_only_the_branch_taken(pred_nodes, pred, expected, how):
    read, facts = _reads(_v1_cond(*pred_nodes, pred=pred), collections={"outputs": ["output"]})
    assert read == expected
    (p,) = facts.folding.resolved()
    assert p.node == "cond/Switch" and p.how == how
    assert facts.folding.is_dead("graph", facts.artifact.graphs["graph"].index["cond/t/MatMul" if
                                                                              "k_false" in expected else "cond/f/MatMul"])


@pytest.mark.parametrize("pred_nodes, pred, why", [
    ((node("pred", "Placeholder", dtype="bool"),), "pred", "`pred` is fed"),
    ((node("d", "Const", value=False), node("training", "PlaceholderWithDefault", "d", dtype="bool")), "training",
     "`training` is a placeholder that may be fed"),
    ((node("v", "VarHandleOp", dtype="bool", shape=()), node("pred", "ReadVariableOp", "v", dtype="bool")), "pred",
     "`pred` (ReadVariableOp) is computed when the graph runs"),
])
def test_an_unresolved_predicate_keeps_both_branches_and_makes_them_conditional(pred_nodes, pred, why):
    read, facts = _reads(_v1_cond(*pred_nodes, pred=pred), collections={"outputs": ["output"]})
    assert {"k_true", "k_false"} <= read
    (p,) = facts.folding.unresolved()
    assert p.how == why
    g = facts.artifact.graphs["graph"]
    assert facts.folding.is_conditional("graph", g.index["cond/t/MatMul"])
    assert facts.folding.is_conditional("graph", g.index["cond/f/MatMul"])
    assert not facts.folding.is_conditional("graph", g.index["output"])


def test_a_signature_decides_whether_a_placeholder_with_default_is_left_at_its_default():
    nodes = (node("d", "Const", value=True), node("training", "PlaceholderWithDefault", "d", dtype="bool"))
    gd = _v1_cond(*nodes, pred="training")
    read, facts = _reads(gd, signatures={"serving_default": ({"x": "x:0"}, {"y": "output:0"})})
    assert read == {"k_true"}
    assert facts.folding.resolved()[0].how == "`training`, which no signature feeds, left at its default (True)"
    read, facts = _reads(gd, signatures={"serving_default": ({"x": "x:0", "t": "training:0"}, {"y": "output:0"})})
    assert read == {"k_true", "k_false"}
    assert facts.folding.unresolved()[0].how == "`training` is a signature input"


def test_the_learning_phase_is_not_folded_when_the_artifact_trains():
    read, facts = _reads(_v1_cond(*LEARNING_PHASE, pred="keras_learning_phase"),
                         collections={"train_op": ["output"]})
    assert read == {"k_true", "k_false"}
    assert facts.folding.unresolved()[0].how == "`keras_learning_phase` is fed while training"
    assert facts.serving_folding.resolved()[0].value is False


# -- functional control flow: If, StatelessIf, Case, and arguments passed by callers ------------

def _branch(name: str, var: str):
    """A branch function reading the variable handle it is passed."""
    return function(name, [("x", "float"), ("k", "resource")], {"y": "mm:product:0"},
                    node("r", "ReadVariableOp", "k", dtype="float"),
                    node("mm", "MatMul", "x", "r:value:0", T="float"))


def _functional(pred_nodes, pred: str, *, op: str = "If", branches=("then_fn", "else_fn"), through_arg=False):
    fns = [_branch(b, "k") for b in branches]
    attrs = {"then_branch": branches[0], "else_branch": branches[1]} if op.endswith("If") else {"branches": list(branches)}
    if through_arg:
        # The cond sits in a function body whose `training` argument the caller passes.
        fns.append(function("forward", [("x", "float"), ("training", "bool"), ("k", "resource")],
                            {"y": "cond:output:0"}, node("cond", op, "training", "x", "k", **attrs)))
        call = node("call", "StatefulPartitionedCall", "x", pred, "k", f="forward")
    else:
        call = node("call", op, pred, "x", "k", **attrs)
    gd = graph_def(node("x", "Placeholder", dtype="float"), *pred_nodes,
                   node("k", "VarHandleOp", dtype="float", shape=(2, 2)), call,
                   node("output", "Identity", "call", T="float"), functions=fns)
    art = from_message(gd, label="<hand>")
    return art, fold(art, assume_defaults=True)


@pytest.mark.parametrize("op", ["If", "StatelessIf"])
@pytest.mark.parametrize("value, taken", [(True, "then_fn"), (False, "else_fn")])
@pytest.mark.parametrize("through_arg", [False, True])
def test_if_calls_only_the_branch_its_predicate_selects(op, value, taken, through_arg):
    art, folding = _functional((node("pred", "Const", value=value),), "pred", op=op, through_arg=through_arg)
    r = reach(art, [Root("graph", "output", RootKind.USER_OUTPUT)], folding)
    assert r.functions - {"forward"} == {taken} and not r.conditional
    if through_arg:
        (p,) = folding.resolved()
        assert p.how == "argument `training` of `forward`, passed constant `pred` by 1 call site(s)"


def test_an_unresolved_if_reaches_both_branches_only_conditionally():
    art, folding = _functional((node("pred", "Placeholder", dtype="bool"),), "pred", through_arg=True)
    r = reach(art, [Root("graph", "output", RootKind.USER_OUTPUT)], folding)
    assert r.functions == {"forward", "then_fn", "else_fn"} and r.conditional == {"then_fn", "else_fn"}
    assert folding.unresolved()[0].how == "argument `training` of `forward`: `pred` is fed"


@pytest.mark.parametrize("index, taken", [(0, "b0"), (2, "b2"), (7, "b2"), (-1, "b2")])
def test_case_calls_the_selected_branch_or_its_default(index, taken):
    art, folding = _functional((node("i", "Const", value=index),), "i", op="Case", branches=("b0", "b1", "b2"))
    r = reach(art, [Root("graph", "output", RootKind.USER_OUTPUT)], folding)
    assert r.functions == {taken}


def test_call_sites_that_disagree_leave_the_argument_unresolved():
    # One caller passes True, another False: the argument is no constant.
    gd = graph_def(node("x", "Placeholder", dtype="float"), node("t", "Const", value=True),
                   node("f", "Const", value=False), node("k", "VarHandleOp", dtype="float", shape=(2, 2)),
                   node("call1", "StatefulPartitionedCall", "x", "t", "k", f="forward"),
                   node("call2", "StatefulPartitionedCall", "x", "f", "k", f="forward"),
                   functions=[_branch("then_fn", "k"), _branch("else_fn", "k"),
                              function("forward", [("x", "float"), ("training", "bool"), ("k", "resource")],
                                       {"y": "cond:output:0"},
                                       node("cond", "If", "training", "x", "k", then_branch="then_fn",
                                            else_branch="else_fn"))])
    art = from_message(gd, label="<hand>")
    folding = fold(art, assume_defaults=True)
    r = reach(art, [Root("graph", "call1", RootKind.USER_OUTPUT)], folding)
    assert r.conditional == {"then_fn", "else_fn"}
