"""Variables read in bulk (formats/graphs.collect_variables) are what node-by-node reading gives."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings, strategies as st

from graphaudit.artifact import Artifact, Format, Graph, UpdateKind, Variable, new_variable
from graphaudit.formats import graphs, protos, wire
from graphaudit.model.ops import classify_update

_WRITE_OPS = ["Assign", "AssignVariableOp", "AssignSub", "AssignSubVariableOp", "AssignAddVariableOp",
              "ApplyAdam", "ResourceApplyGradientDescent"]
_SOURCE_OPS = ["Const", "RestoreV2", "Placeholder", "PlaceholderWithDefault", "FusedBatchNormV3", "Identity",
               "Mul", "RandomUniform"]
_SCOPES = ["", "x/Initializer/", "gradients/", "moving_", "AssignMovingAvg/", "save/"]


def _random_graph(seed: int) -> tuple[bytes, set[str]]:
    """Variables, their writes of every kind and the sources those read, with names that decide kinds."""
    rng = random.Random(seed)
    gd = protos.GraphDef()
    count = rng.randint(1, 40)
    for v in range(count):
        nd = gd.node.add(name=f"v{v}", op=rng.choice(["VarHandleOp", "VariableV2", "Const"]))
        if rng.random() < 0.9:
            nd.attr["dtype"].type = rng.choice([1, 2, 3, 101])
        if rng.random() < 0.9:
            shape = nd.attr["shape"].shape
            if rng.random() < 0.1:
                shape.unknown_rank = True
            for _ in range(rng.choice([0, 1, 2, 4, 12])):  # 12 dims: more bytes than bulk grouping takes
                shape.dim.add().size = rng.choice([-1, 3, 64, 100000])
    names = []
    for k in range(rng.randint(0, 60)):
        src = f"{rng.choice(_SCOPES)}s{k}"
        gd.node.add(name=src, op=rng.choice(_SOURCE_OPS))
        if rng.random() < 0.3:  # a pass-through between the value and the write
            gd.node.add(name=f"{src}/read", op="Identity", input=[src])
            src = f"{src}/read"
        target = f"v{rng.randrange(count)}"
        if rng.random() < 0.2:
            gd.node.add(name=f"{target}/h{k}", op="Identity", input=[target])
            target = f"{target}/h{k}"
        name = f"{rng.choice(_SCOPES)}w{k}{rng.choice(['', '/Assign', '_Assign'])}"
        inputs = [target, src] if rng.random() < 0.9 else [target]
        gd.node.add(name=name, op=rng.choice(_WRITE_OPS), input=inputs)
        names.append(name)
    initializer_names = {n for n in names if rng.random() < 0.2}
    return gd.SerializeToString(deterministic=True), initializer_names


def _graphs(data: bytes) -> tuple[Graph, Graph]:
    gd = protos.GraphDef.FromString(data)
    columns = wire.scan_nodes(data)
    assert columns is not None
    return Graph.from_columns("g", columns, gd.node), Graph("g", gd.node)


@settings(max_examples=60, derandomize=True, deadline=None, database=None)
@given(seed=st.integers(0, 10**9))
def test_initializer_writes_are_what_classify_update_calls_initializers(seed):
    import numpy as np

    data, initializer_names = _random_graph(seed)
    for graph in _graphs(data):
        writers = np.array([i for i, op in enumerate(graph.ops) if op in _WRITE_OPS], dtype=np.int64)
        expected = [classify_update(graph, i, initializer_names) is UpdateKind.INITIALIZER for i in writers.tolist()]
        assert graphs.initializer_writes(graph, writers, initializer_names).tolist() == expected


@settings(max_examples=60, derandomize=True, deadline=None, database=None)
@given(seed=st.integers(0, 10**9))
def test_bulk_variables_are_the_node_by_node_ones(seed):
    data, _ = _random_graph(seed)
    fast, slow = _graphs(data)
    assert fast.wire_attrs is not None and slow.wire_attrs is None
    found = []
    for graph in (fast, slow):
        art = Artifact(path="g.pb", format=Format.GRAPHDEF)
        graphs.collect_variables(art, graph, (), set(), False)
        found.append(art.variables)
    assert list(found[0].items()) == list(found[1].items())
    # Each variable takes its first write that classify_update calls an initializer.
    for name, var in found[1].items():
        i = slow.index[name]
        firsts = [j for j, op in enumerate(slow.ops) if op in _WRITE_OPS and slow.inputs[j]
                  and slow.source(slow.inputs[j][0]) == i
                  and classify_update(slow, j, set()) is UpdateKind.INITIALIZER]
        assert var.initializer == (slow.names[firsts[0]] if firsts else None), name


def test_a_variable_made_in_bulk_is_the_dataclass_one():
    made = new_variable("scope/kernel", "float32", (3, 3), "graph")
    plain = Variable(name="scope/kernel", dtype="float32", shape=(3, 3), graph="graph", node="scope/kernel")
    assert made == plain and list(vars(made).items()) == list(vars(plain).items())
    made.slots.append("a")
    made.initializer_params["b"] = 1.0
    assert new_variable("x", "", None, "g").slots == [] and new_variable("x", "", None, "g").initializer_params == {}


@pytest.mark.parametrize("dims", [[], [3], [64, 64, 3, 3], [100000] * 12])
def test_attr_values_decode_each_shape_once_and_alike(dims):
    gd = protos.GraphDef()
    for k in range(5):
        nd = gd.node.add(name=f"v{k}", op="VarHandleOp")
        if k != 2:
            nd.attr["shape"].shape.SetInParent()
            for d in dims:
                nd.attr["shape"].shape.dim.add().size = d + k % 2
    fast, slow = _graphs(gd.SerializeToString())
    decoded = []

    def shape(av):
        decoded.append(av)
        return protos.shape_list(av.shape)

    ids = list(range(5))
    got = graphs.attr_values(fast, ids, "shape", shape)
    assert len(decoded) == (1 if not dims else 2)  # two distinct shapes (one when there are no dims)
    assert got == graphs.attr_values(slow, ids, "shape", lambda av: protos.shape_list(av.shape))
    assert got[2] is None and got[0] == tuple(dims)
