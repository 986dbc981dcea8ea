"""Where values come from: initializers that restore a checkpoint, and savers run by init ops (hand-built)."""

from __future__ import annotations

from graphaudit.analysis import Analyses
from graphaudit.artifact import ValueOrigin
from graphaudit.config import Settings
from graphaudit.formats import protos
from graphaudit.formats.live import from_message
from tests.handmade import graph_def, meta_graph, node


def _restoring(var: str, assign: str):
    """`assign` writes `var` with what a RestoreV2 reads from a checkpoint file."""
    return [
        node(var, "VariableV2", dtype="float", shape=(2,)),
        node(f"{assign}/file", "Const", value=0),  # the file name; its value does not matter here
        node(f"{assign}/names", "Const", value=0),
        node(f"{assign}/restore", "RestoreV2", f"{assign}/file", f"{assign}/names", f"{assign}/names"),
        node(assign, "Assign", var, f"{assign}/restore", T="float"),
        node(f"{var}/read", "Identity", var, T="float"),
    ]


def _sources(mg):
    art = from_message(mg, label="<hand>")
    art.value_sources = (ValueOrigin.CHECKPOINT,)  # a checkpoint came with it, holding none of these
    return {n: c.source.value for n, c in Analyses(art, Settings()).coverage.items()}


def test_an_initializer_that_restores_a_checkpoint_gives_a_value():
    # `init_from_checkpoint`: the variable's own initializer is the restore.
    gd = graph_def(*_restoring("backbone/kernel", "backbone/kernel/checkpoint_initializer"),
                   node("output", "Identity", "backbone/kernel/read", T="float"))
    mg = meta_graph(gd)
    mg.collection_def["variables"].bytes_list.value.append(protos.VariableDef(variable_name="backbone/kernel:0",
                                 initializer_name="backbone/kernel/checkpoint_initializer").SerializeToString())
    assert _sources(mg) == {"backbone/kernel": "checkpoint initializer"}


def test_a_saver_that_an_init_op_runs_gives_a_value_and_a_plain_initializer_does_not():
    gd = graph_def(*_restoring("a", "restore_a"),
                   node("b", "VariableV2", dtype="float", shape=(2,)),
                   node("init_main", "NoOp", "^restore_a"))
    assert _sources(meta_graph(gd, collections={"legacy_init_op": ["init_main"]})) == {"a": "init op", "b": "none"}
    assert _sources(meta_graph(gd)) == {"a": "none", "b": "none"}
