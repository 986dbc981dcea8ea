"""The C loop for class ids (graphaudit/analysis/_classes.c) and the Python loop give the same ids on random graphs."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from graphaudit.analysis import structure
from graphaudit.artifact import Graph
from graphaudit.formats import protos
from graphaudit.formats.graphs import build_graph

FLOAT = 1

pytestmark = pytest.mark.skipif(structure.native is None, reason="graphaudit._classes is not built here")


def _random_graph(seed: int, wire: bool) -> Graph:
    """A random DAG of placeholders, variables, constants and ops, with a few blocks repeated.

    Repeats (the same block called on a placeholder, on another block's output, on a weight) make
    classes with many members; NextIteration back edges, output ports and control inputs too.
    """
    rng = random.Random(seed)
    gd = protos.GraphDef()
    names: list[str] = []

    def add(op, inputs=(), **attrs):
        nd = gd.node.add(name=f"n{len(gd.node)}", op=op)
        nd.input.extend(inputs)
        for key, value in attrs.items():
            if key in ("T", "dtype"):
                nd.attr[key].type = value
            elif key == "shape":
                for d in value:
                    nd.attr[key].shape.dim.add().size = d
            else:
                nd.attr[key].s = value
        names.append(nd.name)
        return nd.name

    for _ in range(rng.randint(1, 3)):
        add(rng.choice(["Placeholder", "PlaceholderWithDefault"]), dtype=FLOAT, shape=[-1, 4])
    for _ in range(rng.randint(0, 4)):
        v = add("VarHandleOp", dtype=FLOAT, shape=[4, rng.choice([4, 8])], shared_name=b"v")
        add("ReadVariableOp", [v], dtype=FLOAT)
    add("Const", dtype=FLOAT)
    block = [(rng.choice(["MatMul", "Add", "Relu", "Identity", "Split", "Merge", "NextIteration"]),
              rng.randint(1, 3), [rng.random() for _ in range(3)]) for _ in range(rng.randint(1, 6))]
    for _ in range(rng.randint(1, 40)):
        if rng.random() < 0.5:
            # A repeat of the block on a random tensor: the same ops on the same kinds of input.
            x = rng.choice(names)
            made: list[str] = []
            for op, arity, picks in block:
                ins = [x] + [made[int(p * len(made))] if made and p < 0.5 else names[int(p * len(names))]
                             for p in picks[:arity - 1]]
                x = add(op, ins, T=FLOAT)
                made.append(x)
        else:
            op = rng.choice(["MatMul", "Add", "Relu", "Identity", "Split", "Merge", "NextIteration", "AddN"])
            ins = [rng.choice(names) + rng.choice(["", "", ":1", ":2"]) for _ in range(rng.randint(0, 5))]
            if rng.random() < 0.2:
                ins.append("^" + rng.choice(names))
            add(op, ins, T=FLOAT)
    if wire:
        graph, _ = build_graph("g", gd, "g.pb")
        return graph
    return Graph("g", gd.node)


def _both(graph: Graph, monkeypatch):
    monkeypatch.setattr(structure, "USE_NATIVE", True)
    fast = structure.graph_structure(graph)
    monkeypatch.setattr(structure, "USE_NATIVE", False)
    slow = structure.graph_structure(graph)
    return fast, slow


@settings(max_examples=150, derandomize=True, deadline=None, database=None)
@given(seed=st.integers(0, 10**9), wire=st.booleans())
def test_the_c_loop_gives_the_python_loops_ids(seed, wire):
    graph = _random_graph(seed, wire)
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast, slow = _both(graph, monkeypatch)
    for field in ("abstract", "exact", "order", "copy", "component", "component_size", "weight"):
        assert np.array_equal(getattr(fast, field), getattr(slow, field)), field
    assert fast.entries == slow.entries


def test_random_graphs_have_copies_entries_and_back_edges():
    # The property above is only worth something if the graphs exercise what it compares.
    seen = {"copies": 0, "entries": 0, "back edges": 0}
    for seed in range(150):
        graph = _random_graph(seed, seed % 2 == 0)
        gs = structure.graph_structure(graph)
        seen["copies"] += bool(gs.copy.any())
        seen["entries"] += bool(gs.entries)
        seen["back edges"] += "NextIteration" in graph.by_op
    assert seen["copies"] >= 50 and seen["back edges"] >= 50 and seen["entries"] >= 5, seen


def test_the_c_loop_checks_its_arrays():
    table = structure.native.Table()
    one = np.zeros(1, dtype=np.int64)
    with pytest.raises(ValueError, match="inconsistent lengths"):
        structure.native.run(table, structure.native.Table(), one, one, one, one, one, one, one, one, one, one)
    with pytest.raises(TypeError, match="int64"):
        structure.native.run(table, structure.native.Table(), one.astype(np.int32), *[one] * 9)
    assert table.get((5, 1, 0)) is None and len(table) == 0 and table.kinds() == b"\x00"
