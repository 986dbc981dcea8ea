"""Column-wise GraphDef reading (formats/wire.py) gives the Graph that node-by-node reading gives."""

from __future__ import annotations

import pytest

from graphaudit.analysis.structure import graph_structure
from graphaudit.artifact import Graph
from graphaudit.formats import protos
from graphaudit.formats.wire import scan_nodes

FIXTURES = [
    ("dup_mobilenetv2", "root"),  # MetaGraph: learning-phase conds, many control inputs
    ("dup_mobilenetv2_cfv2", "root"),  # function library, `If` ops
    ("dup_gradients", "graphdef"),  # gradients, a train op
    ("tf1_saved_model_clean", None),
]


def graph_defs(artifacts, name, key):
    folder = artifacts.folder(name)
    m = artifacts.manifest(name)
    path = folder / (m[key] if key else m["root"])
    if path.is_dir():
        saved = protos.SavedModel.FromString((path / "saved_model.pb").read_bytes())
        return [mg.graph_def for mg in saved.meta_graphs]
    data = path.read_bytes()
    if path.suffix == ".meta":
        return [protos.MetaGraphDef.FromString(data).graph_def]
    return [protos.GraphDef.FromString(data)]


def same_graph(fast: Graph, slow: Graph) -> None:
    for attr in ("names", "ops", "dangling"):
        assert list(getattr(fast, attr)) == list(getattr(slow, attr)), attr
    for attr in ("inputs", "input_ports", "control_inputs"):
        assert list(getattr(fast, attr)) == [tuple(x) for x in getattr(slow, attr)], attr
    assert list(fast.consumers) == list(slow.consumers)
    assert fast.by_op == slow.by_op
    assert fast.index == slow.index


def partition(graph: Graph, classes) -> list[list[str]]:
    groups: dict[int, list[str]] = {}
    for name, c in zip(graph.names, classes.tolist()):
        groups.setdefault(c, []).append(name)
    return sorted(groups.values())


@pytest.mark.tf
@pytest.mark.parametrize(("name", "key"), FIXTURES)
def test_columns_match_node_by_node_reading_on_tensorflow_graphs(artifacts, name, key):
    for gd in graph_defs(artifacts, name, key):
        for deterministic in (True, False):
            columns = scan_nodes(gd.SerializeToString(deterministic=deterministic))
            assert columns is not None
            fast, slow = Graph.from_columns("g", columns, gd.node), Graph("g", gd.node)
            same_graph(fast, slow)
        # Hashing reads attrs from the wire on one side and through protobuf on the other.
        a, b = graph_structure(fast), graph_structure(slow)
        assert partition(fast, a.abstract) == partition(slow, b.abstract)
        assert partition(fast, a.exact) == partition(slow, b.exact)


def _graph(*nodes) -> protos.GraphDef:
    gd = protos.GraphDef()
    for name, op, inputs in nodes:
        nd = gd.node.add(name=name, op=op)
        nd.input.extend(inputs)
        nd.attr["T"].type = 1
    return gd


def test_ports_control_inputs_dangling_refs_and_a_long_tail_of_inputs():
    many = [f"c{k}" for k in range(40)]
    gd = _graph(
        ("x", "Placeholder", []),
        ("split", "Split", ["x"]),
        ("add", "AddV2", ["split:1", "split:12", "^x"]),
        ("gone", "Identity", ["missing:3", "^also_missing"]),
        *[(c, "Const", []) for c in many],
        ("group", "NoOp", [f"^{c}" for c in many]),  # more inputs than the vector rounds cover
        ("concat", "ConcatV2", many + ["x"]),
        ("naïve/ünïcode", "Identity", ["x:0"]),
    )
    columns = scan_nodes(gd.SerializeToString())
    fast = Graph.from_columns("g", columns, gd.node)
    same_graph(fast, Graph("g", gd.node))
    add = fast.index["add"]
    assert fast.inputs[add] == (fast.index["split"],) * 2
    assert fast.input_ports[add] == (1, 12)
    assert fast.control_inputs[add] == (fast.index["x"],)
    assert fast.dangling == [(fast.index["gone"], "missing:3"), (fast.index["gone"], "^also_missing")]
    assert len(fast.control_inputs[fast.index["group"]]) == 40


def test_an_unusual_layout_falls_back():
    gd = _graph(("x", "Placeholder", []), ("y", "Identity", ["x"]))
    data = gd.SerializeToString()
    # Nodes after another field: a valid GraphDef, but not the layout the scanner reads.
    versions = protos.GraphDef(versions={"producer": 1}).SerializeToString()
    assert scan_nodes(versions + data) is None
    assert scan_nodes(data) is not None
    # A newline inside a name would break the split: it is caught, not misread.
    odd = _graph(("a\nb", "Placeholder", []))
    assert scan_nodes(odd.SerializeToString()) is None


def test_an_empty_graph():
    columns = scan_nodes(b"")
    assert columns is not None and columns.names == [] and len(columns.in_offsets) == 1
