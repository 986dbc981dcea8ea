"""Weight totals of model copies (analysis/copies.py): grouped by (dtype, shape) bytes, they equal weight-by-weight sizes."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from graphaudit.analysis import copies
from graphaudit.analysis.structure import graph_structure
from graphaudit.artifact import Graph
from graphaudit.formats import protos
from graphaudit.formats.graphs import build_graph
from tests.test_structure_native import _random_graph

DTYPES = (1, 2, 3, 9, 19)  # float32, float64, int32, int64, half


def _graph(seed: int, wire: bool) -> Graph:
    """Variables of random dtypes and shapes (unknown dims, unknown rank, no shape), some repeated, and weight Consts."""
    rng = random.Random(seed)
    gd = protos.GraphDef()
    shapes = [tuple(rng.choice([-1, 1, 3, 64, 2**20]) for _ in range(rng.randint(0, 4))) for _ in range(4)]
    for k in range(rng.randint(1, 30)):
        nd = gd.node.add(name=f"v{k}", op=rng.choice(["VarHandleOp", "VariableV2", "Const"]))
        dtype = rng.choice(DTYPES)
        shape = rng.choice(shapes)
        if nd.op == "Const":
            nd.attr["dtype"].type = dtype
            t = nd.attr["value"].tensor
            t.dtype = dtype
            for d in shape:
                t.tensor_shape.dim.add().size = max(d, 1)
            t.tensor_content = bytes(64)  # big enough to be taken for a frozen weight
            gd.node.add(name=f"v{k}/read", op="Identity", input=[nd.name]).attr["T"].type = dtype
            continue
        nd.attr["dtype"].type = dtype
        roll = rng.random()
        if roll < 0.1:
            nd.attr["shape"].shape.unknown_rank = True
        elif roll < 0.9:
            for d in shape:
                nd.attr["shape"].shape.dim.add().size = d
        # else: no shape attr at all
    if wire:
        return build_graph("g", gd, "g.pb")[0]
    return Graph("g", gd.node)


def _one_by_one(gs, weights) -> tuple[int, int]:
    graph = gs.graph
    params = nbytes = 0
    for i in weights.tolist():
        if graph.ops[i] == "Const":
            size = copies._size(*copies.tensor_dtype_shape(graph.attr(i, "value")))
        else:
            size = copies._variable_size(graph.attr(i, "dtype"), graph.attr(i, "shape"))
        params, nbytes = params + size[0], nbytes + size[1]
    return params, nbytes


@settings(max_examples=120, derandomize=True, deadline=None, database=None)
@given(seed=st.integers(0, 10**9), wire=st.booleans(), grouped=st.sampled_from([256, 0]))
def test_grouped_totals_equal_weight_by_weight_sizes(seed, wire, grouped):
    graph = _graph(seed, wire)
    gs = graph_structure(graph)
    weights = np.flatnonzero(gs.weight)
    rng = random.Random(seed)
    some = np.array(sorted(rng.sample(weights.tolist(), len(weights) // 2)), dtype=np.int64)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(copies, "_GROUPED_BYTES", grouped)  # 0: every weight sized alone
        # A part first, then all: the second call sizes only what the first did not.
        assert copies._weight_totals(gs, some) == _one_by_one(gs, some)
        assert copies._weight_totals(gs, weights) == _one_by_one(gs, weights)


def test_the_graphs_have_weights_of_every_kind():
    # The property above is only worth something if the graphs hold what it compares.
    ops = set()
    for seed in range(20):
        gs = graph_structure(_graph(seed, True))
        ops |= {gs.graph.ops[i] for i in np.flatnonzero(gs.weight).tolist()}
    assert ops == {"VarHandleOp", "VariableV2", "Const"}


@settings(max_examples=150, derandomize=True, deadline=None, database=None)
@given(seed=st.integers(0, 10**9), wire=st.booleans(), whole=st.booleans())
def test_dead_components_are_the_components_of_the_dead_mask(seed, wire, whole):
    gs = graph_structure(_random_graph(seed, wire))
    rng = random.Random(seed)
    if whole:  # whole copy components dead, the others alive: the shortcut
        roots = [c for c in np.unique(gs.component[gs.copy]).tolist() if rng.random() < 0.5]
        dead = np.isin(gs.component, roots) & gs.copy
    else:  # any copy nodes: components split
        dead = gs.copy & (np.array([rng.random() < 0.6 for _ in range(len(gs.graph))], dtype=bool))
    if not dead.any():
        return
    assert np.array_equal(copies._dead_components(gs, dead), copies.components(gs.graph, dead, gs.entries))
