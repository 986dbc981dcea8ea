"""A binary GraphDef checked by protobuf a part at a time is refused exactly when the whole file is."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from graphaudit.errors import ArtifactError
from graphaudit.formats import protos, readers
from graphaudit.formats.wire import node_records


def _graph(nodes: int) -> bytes:
    """A chain of ops with float Consts (nested TensorProtos inside the attr values)."""
    gd = protos.GraphDef()
    ph = gd.node.add(name="x", op="Placeholder")
    ph.attr["dtype"].type = 1
    for i in range(1, nodes):
        if i % 3 == 0:
            nd = gd.node.add(name=f"c{i}", op="Const")
            t = nd.attr["value"].tensor
            t.dtype = 1
            t.tensor_shape.dim.add().size = 4
            t.float_val.extend([0.5, 1.5, 2.5, 3.5])
            nd.attr["dtype"].type = 1
        else:
            prev = gd.node[-1].name
            nd = gd.node.add(name=f"n{i}", op="Identity", input=[prev])
            nd.attr["T"].type = 1
    return gd.SerializeToString(deterministic=True)


def _outcome(path):
    """What reading gives: ("error", message) or ("graph", node names)."""
    try:
        art = readers.read_graphdef(path, 1 << 30)
    except ArtifactError as exc:
        return "error", exc.message
    return "graph", list(art.graphs["graph"].names)


def _whole_parse_error(data: bytes) -> str | None:
    """The one-line error a parse of the whole file gives, or None when it parses."""
    try:
        readers.parse_proto("g.pb", data, protos.GraphDef, "GraphDef", text=False)
    except ArtifactError as exc:
        return exc.message
    return None


@pytest.fixture
def small_parts(monkeypatch):
    # Seven nodes a part: a 60-node graph is read in nine parts.
    monkeypatch.setattr(readers, "VALIDATE_NODES", 7)


def _spans(data: bytes) -> list[tuple[int, int]]:
    starts, ends = node_records(data)
    return list(zip(starts.tolist(), ends.tolist()))


def test_a_whole_graph_reads_the_same_in_parts(small_parts, tmp_path, monkeypatch):
    data = _graph(60)
    path = tmp_path / "g.pb"
    path.write_bytes(data)
    sizes = []
    parse = readers._parse_binary
    monkeypatch.setattr(readers, "_parse_binary", lambda p, d, *a: sizes.append(len(d)) or parse(p, d, *a))
    kind, names = _outcome(path)
    assert kind == "graph"
    assert names == [n.name for n in protos.GraphDef.FromString(data).node]
    # Nine parts of at most seven nodes, back to back over the whole file; no whole-file parse.
    assert len(sizes) == 9 and sum(sizes) == len(data)


@pytest.mark.parametrize("where", ["first part", "middle part", "last part"])
def test_a_broken_tensor_inside_any_part_is_the_whole_files_error(small_parts, tmp_path, where):
    data = bytearray(_graph(60))
    spans = [s for s in _spans(bytes(data)) if b"Const" in data[s[0]:s[1]]]
    start, end = {"first part": spans[0], "middle part": spans[len(spans) // 2], "last part": spans[-1]}[where]
    # The TensorProto's float_val (packed, tag 0x2A) gets a length past the end of its message:
    # the node record's own framing stays intact, so only a parse of the nested message sees it.
    k = data.index(b"\x2a\x10", start, end)
    data[k + 1] = 0x7F
    path = tmp_path / "g.pb"
    path.write_bytes(bytes(data))
    expected = _whole_parse_error(bytes(data))
    assert expected is not None and expected.startswith("expected a binary GraphDef protobuf; it does not parse (")
    assert _outcome(path) == ("error", expected)


def test_a_name_that_is_not_utf8_deep_in_the_file_is_refused(small_parts, tmp_path):
    data = bytearray(_graph(60))
    start, end = _spans(bytes(data))[-5]
    k = data.index(b"n", start + 2, end)  # the first byte of the node's name
    data[k] = 0xFF
    path = tmp_path / "g.pb"
    path.write_bytes(bytes(data))
    expected = _whole_parse_error(bytes(data))
    assert expected is not None
    assert _outcome(path) == ("error", expected)


def test_a_function_library_after_the_nodes_is_still_read(small_parts, tmp_path):
    gd = protos.GraphDef.FromString(_graph(30))
    fn = gd.library.function.add()
    fn.signature.name = "f"
    gd.node.add(name="call", op="f")
    path = tmp_path / "g.pb"
    path.write_bytes(gd.SerializeToString())
    art = readers.read_graphdef(path, 1 << 30)
    assert "f" in art.functions and "call" in art.graphs["graph"].index


@settings(max_examples=60, derandomize=True, deadline=None, database=None)
@given(cut=st.integers(0, 10**6), flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)),
                                                 max_size=3))
def test_damaged_files_are_refused_exactly_when_protobuf_refuses_them(tmp_path_factory, cut, flips):
    original = _graph(45)
    data = bytearray(original[:len(original) - cut % 200] if cut % 3 == 0 else original)
    for pos, value in flips:
        data[pos % len(data)] = value
    data = bytes(data)
    path = tmp_path_factory.mktemp("damaged") / "g.pb"
    path.write_bytes(data)
    import graphaudit.formats.readers as mod

    saved = mod.VALIDATE_NODES
    mod.VALIDATE_NODES = 7  # given() reruns the body; a fixture would set it once
    try:
        kind, detail = _outcome(path)
    finally:
        mod.VALIDATE_NODES = saved
    expected = _whole_parse_error(data)
    if expected is not None:
        assert (kind, detail) == ("error", expected)
    else:
        assert kind == "graph" or not detail.startswith("expected a binary GraphDef protobuf; it does not parse")
        if kind == "graph":
            assert detail == [n.name for n in protos.GraphDef.FromString(data).node]
