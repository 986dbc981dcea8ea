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

    def add(op, inputs=(), extra=None, **attrs):
        nd = gd.node.add(name=f"n{len(gd.node)}", op=op)
        nd.input.extend(inputs)
        for key, value in [*attrs.items(), *(extra if extra is not None else _extra_attrs(rng))]:
            if key in ("T", "dtype"):
                nd.attr[key].type = value
            elif key == "shape":
                for d in value:
                    nd.attr[key].shape.dim.add().size = d
            elif key == "ints":
                nd.attr[key].list.i.extend(value)
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
              rng.randint(1, 3), [rng.random() for _ in range(3)], _extra_attrs(rng))
             for _ in range(rng.randint(1, 6))]
    for _ in range(rng.randint(1, 40)):
        if rng.random() < 0.5:
            # A repeat of the block on a random tensor: the same ops on the same kinds of input.
            x = rng.choice(names)
            made: list[str] = []
            for op, arity, picks, extra in block:
                ins = [x] + [made[int(p * len(made))] if made and p < 0.5 else names[int(p * len(names))]
                             for p in picks[:arity - 1]]
                x = add(op, ins, extra, T=FLOAT)
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


def _extra_attrs(rng: random.Random) -> list[tuple[str, object]]:
    """A few attrs from a small pool, in random order: kept ones that match or differ, TensorFlow's
    private and naming attrs between them (so a node's kept entries come split or out of key order)."""
    pool = [("a", rng.choice([b"x", b"y"])), ("_class", rng.choice([b"loc:@n1", b"loc:@n2"])),
            ("shared_name", rng.choice([b"s1", b"s2"])), ("ints", rng.choice([[1, 2], [2, 1], []])),
            ("b", rng.choice([b"", b"x" * 200])), ("_output_shapes", b"z"), ("Z", b"q"), ("container", b"c")]
    picked = [kv for kv in pool if rng.random() < 0.4]
    rng.shuffle(picked)
    return picked


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
    # Keys are held as 32-bit values: a wider one is in no key, and the loop refuses to store one.
    assert table.get((2**40,)) is None and table.get((-(2**40), 1)) is None
    big = np.array([2**40], dtype=np.int64)
    with pytest.raises(OverflowError, match="32 bits"):
        structure.native.run(table, structure.native.Table(), np.zeros(1, dtype=np.int64), np.zeros(2, dtype=np.int64),
                             np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), big, big, one,
                             np.full(2, -1, dtype=np.int64), np.full(2, -1, dtype=np.int64), np.full(1, -1, dtype=np.int64))


@settings(max_examples=100, derandomize=True, deadline=None, database=None)
@given(data=st.data())
def test_span_ids_are_the_dict_interners_ids(data):
    # The C interner of (op code, attr bytes) keys: same ids for equal joined bytes however split.
    buf = data.draw(st.binary(min_size=0, max_size=40))
    n = data.draw(st.integers(0, 60))
    spans = [sorted(data.draw(st.tuples(st.integers(0, len(buf)), st.integers(0, len(buf))))) for _ in range(2 * n)]
    codes = data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    table = structure.native.Spans()
    cols = [np.array(c, dtype=np.int64) for c in ([s for s, _ in spans[:n]], [e for _, e in spans[:n]],
                                                  [s for s, _ in spans[n:]], [e for _, e in spans[n:]])]
    got = np.frombuffer(table.add(buf, np.array(codes, dtype=np.int64), *cols), dtype=np.int64).tolist()
    keys = [(c, buf[a:b] + buf[x:y]) for c, (a, b), (x, y) in zip(codes, spans[:n], spans[n:])]
    want = list(map({}.setdefault, keys, iter(range(10**6))))
    dense = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    assert got == [dense[k] for k in keys] and len(set(got)) == len(set(want)) == len(table)
    # A second call continues the same table: known keys keep their ids.
    again = np.frombuffer(table.add(b"".join(k[1] for k in keys), np.array(codes, dtype=np.int64),
                                    *_joined_spans([k[1] for k in keys]), *[np.zeros(n, dtype=np.int64)] * 2),
                          dtype=np.int64).tolist()
    assert again == got


def _joined_spans(parts: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    ends = np.cumsum([len(p) for p in parts], dtype=np.int64)
    return ends - np.array([len(p) for p in parts], dtype=np.int64), ends


@settings(max_examples=100, derandomize=True, deadline=None, database=None)
@given(seed=st.integers(0, 10**9), wire=st.booleans(), data=st.data())
def test_the_c_walk_reaches_what_the_python_walk_reaches(seed, wire, data):
    from graphaudit.analysis.graph_algorithms import downstream

    graph = _random_graph(seed, wire)
    n = len(graph)
    starts = data.draw(st.lists(st.integers(0, n - 1), max_size=4))
    allowed = data.draw(st.none() | st.binary(min_size=n, max_size=n).map(lambda b: bytes(x & 1 for x in b)))
    assert downstream(graph, starts, allowed, native=True) == downstream(graph, starts, allowed, native=False)


def test_the_span_table_and_the_walk_check_their_arrays():
    one = np.zeros(1, dtype=np.int64)
    with pytest.raises(IndexError, match="span out of range"):
        structure.native.Spans().add(b"ab", one, one, one + 3, one, one)
    with pytest.raises(ValueError, match="inconsistent lengths"):
        structure.native.Spans().add(b"ab", one, one, one, one, np.zeros(2, dtype=np.int64))
    two = np.array([0, 0, 1], dtype=np.int64)  # node 1 reads node 0
    assert structure.native.reach(2, one, None, two, np.array([0], dtype=np.int64), np.zeros(3, dtype=np.int64),
                                  np.zeros(0, dtype=np.int64)) == b"\x01\x01"
    assert structure.native.reach(2, one, b"\x01\x00", two, np.array([0], dtype=np.int64),
                                  np.zeros(3, dtype=np.int64), np.zeros(0, dtype=np.int64)) == b"\x01\x00"
    with pytest.raises(IndexError, match="input id out of range"):
        structure.native.reach(2, one, None, two, np.array([5], dtype=np.int64), np.zeros(3, dtype=np.int64),
                               np.zeros(0, dtype=np.int64))
    with pytest.raises(ValueError, match="one byte per node"):
        structure.native.reach(2, one, b"\x01", two, one, np.zeros(3, dtype=np.int64), np.zeros(0, dtype=np.int64))


@settings(max_examples=100, derandomize=True, deadline=None, database=None)
@given(data=st.data())
def test_the_c_entry_runs_are_the_numpy_ones(data):
    # Attr entries of nodes: kept or not, contiguous or not, keys in order or not.
    from types import SimpleNamespace

    from graphaudit.analysis.node_keys import _entry_runs

    n = data.draw(st.integers(1, 12))
    per_node = data.draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    node, start, end, prefix, length = [], [], [], [], []
    pos = 0
    for i, count in enumerate(per_node):
        for _ in range(count):
            pos += data.draw(st.sampled_from([0, 0, 3]))  # a gap: the entries are not contiguous
            size = data.draw(st.integers(1, 9))
            node.append(i)
            start.append(pos)
            end.append(pos + size)
            prefix.append(data.draw(st.integers(0, 3)))
            length.append(data.draw(st.integers(1, 3)))
            pos += size
    keep = np.array(data.draw(st.lists(st.booleans(), min_size=len(node), max_size=len(node))), dtype=bool)
    dtype = data.draw(st.sampled_from([np.int32, np.int64]))
    w = SimpleNamespace(node=np.array(node, dtype=dtype), start=np.array(start, dtype=dtype),
                        end=np.array(end, dtype=dtype), key_prefix=np.array(prefix, dtype=np.uint64),
                        key_len=np.array(length, dtype=dtype))
    fast = _entry_runs(w, keep, n, native=True)
    slow = _entry_runs(w, keep, n, native=False)
    for got, want in zip(fast, slow):
        assert np.array_equal(got, want)
