"""The C wire walk (graphaudit/formats/_wire.c) and the numpy one read the same columns, or both give up."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from graphaudit.formats import protos, wire

pytestmark = pytest.mark.skipif(wire.native is None, reason="graphaudit._wire is not built here")


def _random_graphdef(seed: int) -> bytes:
    """Names, ops, inputs (ports, control, dangling), devices and attrs of every kind, at random."""
    rng = random.Random(seed)
    gd = protos.GraphDef()
    count = rng.randint(0, 60)
    for i in range(count):
        nd = gd.node.add(name=rng.choice([f"n{i}", f"scope/n{i}", f"é{i}", f"n{i}_{'x' * rng.randint(0, 200)}"]),
                         op=rng.choice(["Const", "MatMul", "Add", "Identity", "VarHandleOp", "Ωp"]))
        for _ in range(rng.randint(0, 4)):
            ref = rng.choice([f"n{rng.randint(0, count)}", "missing", f"n{rng.randint(0, count)}:{rng.randint(1, 12)}"])
            nd.input.append(("^" if rng.random() < 0.2 else "") + ref)
        if rng.random() < 0.3:
            nd.device = "/cpu:0"
        for key in rng.sample(["T", "dtype", "value", "shape", "_class", "padding", "f", "strides"], rng.randint(0, 4)):
            av = nd.attr[key]
            kind = rng.randint(0, 4)
            if kind == 0:
                av.type = rng.randint(1, 20)
            elif kind == 1:
                av.shape.dim.add().size = rng.randint(-1, 9)
            elif kind == 2:
                av.tensor.dtype = 1
                av.tensor.float_val.extend([rng.random()] * rng.randint(0, 40))
            elif kind == 3:
                av.list.s.extend([b"loc:@x"] * rng.randint(0, 3))
            else:
                av.func.name = "f"
    return gd.SerializeToString(deterministic=rng.random() < 0.7)


def _columns(data: bytes, native: bool):
    saved = wire.USE_NATIVE
    wire.USE_NATIVE = native
    try:
        return wire.scan_nodes(data)
    finally:
        wire.USE_NATIVE = saved


def _same(a, b) -> None:
    if a is None or b is None:
        assert a is None and b is None, (a is None, b is None)
        return
    for field in ("names", "index", "ops", "op_table", "dangling"):
        assert getattr(a, field) == getattr(b, field), field
    for field in ("op_codes", "in_offsets", "in_nodes", "in_ports", "ctrl_offsets", "ctrl_nodes", "node_start",
                  "node_end"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    for field in ("node", "start", "end", "key_start", "key_len", "key_prefix", "value_start", "value_end",
                  "value_tag", "list_tag", "offsets", "kind", "type_code", "private"):
        assert np.array_equal(getattr(a.attrs, field), getattr(b.attrs, field)), field


@settings(max_examples=120, derandomize=True, deadline=None, database=None)
@given(seed=st.integers(0, 10**9), flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=2))
def test_the_c_walk_reads_what_numpy_reads(seed, flips):
    data = bytearray(_random_graphdef(seed))
    for pos, value in flips:  # damaged bytes too: both must give up, or agree
        if data:
            data[pos % len(data)] = value
    data = bytes(data)
    try:
        protos.GraphDef.FromString(data)
    except Exception:  # noqa: BLE001 - the scan only ever reads bytes that protobuf parsed
        return
    _same(_columns(data, True), _columns(data, False))


def test_unusual_layouts_are_refused_by_both():
    gd = protos.GraphDef()
    gd.node.add(name="a\nb", op="Placeholder")
    newline = gd.SerializeToString()
    gd = protos.GraphDef()
    gd.node.add(name="x", op="Placeholder")
    gd.node.add(name="x", op="Identity", input=["x"])
    twice = gd.SerializeToString()
    # The op before the name: a valid NodeDef, not the usual field order.
    swapped = b"\x0a\x06" + b"\x12\x01P" + b"\x0a\x01x"
    empty_input = protos.GraphDef(node=[{"name": "y", "op": "Identity", "input": ["^"]}]).SerializeToString()
    for data in (newline, twice, swapped, empty_input):
        assert _columns(data, True) is None and _columns(data, False) is None
    good = protos.GraphDef(node=[{"name": "y", "op": "Identity", "input": ["z:3", "^y"]}]).SerializeToString()
    _same(_columns(good, True), _columns(good, False))
    assert _columns(good, True).dangling == [(0, "z:3")]


def test_top_level_layouts_are_read_alike():
    nodes = protos.GraphDef(node=[{"name": "x", "op": "Placeholder"}, {"name": "y", "op": "Identity", "input": ["x"]}])
    data = nodes.SerializeToString()
    versions = protos.GraphDef(versions={"producer": 1}).SerializeToString()
    library = protos.GraphDef(library={"function": [{"signature": {"name": "f"}}]}).SerializeToString()
    cut = 2 + nodes.node[0].ByteSize()  # where the second node record starts
    unknown = b"\xa0\x06\x05" + b"\xa9\x06" + bytes(8) + b"\xad\x06" + bytes(4)  # fields 100-101: varint, 64, 32 bits
    cases = {"nodes, then other fields": data + versions + library + unknown,
             "a field before the nodes": versions + data,
             "a field between nodes": data[:cut] + versions + data[cut:],
             "field 1 as a varint after the nodes": data + b"\x08\x01"}
    read = {}
    for label, raw in cases.items():
        protos.GraphDef.FromString(raw)  # every case is a valid GraphDef
        fast, slow = _columns(raw, True), _columns(raw, False)
        read[label] = fast is not None
        _same(fast, slow)
        assert (wire.node_records(raw) is None) == (fast is None), label
    assert read == {"nodes, then other fields": True, "a field before the nodes": False,
                    "a field between nodes": False, "field 1 as a varint after the nodes": True}


def test_the_c_name_index_answers_as_the_dict_does():
    gd = protos.GraphDef(node=[{"name": "x", "op": "Placeholder"}, {"name": "scope/é", "op": "Identity", "input": ["x"]}])
    fast, slow = _columns(gd.SerializeToString(), True), _columns(gd.SerializeToString(), False)
    assert isinstance(slow.index, dict) and not isinstance(fast.index, dict)
    for key in ("x", "scope/é", "scope", "x ", "", "\ud800", 3, None):
        assert fast.index.get(key, -7) == slow.index.get(key, -7), key
        assert (key in fast.index) == (key in slow.index), key
    assert fast.index["scope/é"] == 1 and list(fast.index) == ["x", "scope/é"] and len(fast.index) == 2
    with pytest.raises(KeyError):
        fast.index["y"]


def test_attr_values_after_a_negative_int_are_read_by_both():
    # `i: -1` is a 10-byte varint just after the value's tag, where a list's length would be.
    gd = protos.GraphDef(node=[{"name": "x", "op": "Placeholder"}, {"name": "p", "op": "Pack", "input": ["x"]}])
    gd.node[1].attr["axis"].i = -1
    gd.node[1].attr["T"].type = 1
    data = gd.SerializeToString(deterministic=True)
    fast, slow = _columns(data, True), _columns(data, False)
    assert fast is not None
    _same(fast, slow)
    assert fast.attrs.kind.tolist() == [1, 0]  # `T` (a type), then `axis`


@settings(max_examples=200, derandomize=True, deadline=None, database=None)
@given(seed=st.integers(0, 10**9), cut=st.integers(0, 10**6),
       flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6))
def test_the_c_scan_reads_damaged_bytes_safely(seed, cut, flips):
    # The reader scans before protobuf has validated the file: any bytes give columns or None.
    data = bytearray(_random_graphdef(seed))
    for pos, value in flips:
        if data:
            data[pos % len(data)] = value
    data = bytes(data[:len(data) - cut % (len(data) + 1) // 4])
    got = wire.native.scan(data)
    assert got is None or len(got) == 26
    columns = _columns(data, True)
    if columns is not None:
        assert len(columns.names) == len(columns.ops) == len(columns.in_offsets) - 1
        assert list(columns.names) == [columns.names[i] for i in range(len(columns.names))]
