"""The C walk of reachability (graphaudit/analysis/_classes.c, ``mark``) marks what the Python walk marks, on random graphs."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from graphaudit.analysis import reachability
from graphaudit.artifact import Graph
from graphaudit.formats import protos
from graphaudit.formats.graphs import build_graph

pytestmark = pytest.mark.skipif(getattr(reachability.native, "mark", None) is None,
                                reason="graphaudit.analysis._classes is not built here")


def _random_graph(seed: int, wire: bool) -> tuple[Graph, dict[str, Graph]]:
    """A random graph with data and control inputs, cycles, output ports, and calls of two functions."""
    rng = random.Random(seed)
    gd = protos.GraphDef()
    n = rng.randint(1, 60)
    for k in range(n):
        nd = gd.node.add(name=f"n{k}", op=rng.choice(["Add", "Identity", "NoOp", "body_a", "body_b"]))
        for _ in range(rng.randint(0, 3)):
            # Mostly earlier nodes (a DAG in creation order), sometimes a later one (a cycle).
            j = rng.randrange(k) if k and rng.random() < 0.85 else rng.randrange(n)
            nd.input.append(f"^n{j}" if rng.random() < 0.3 else f"n{j}" + rng.choice(["", ":1"]))
    library = {name: Graph(name, []) for name in ("body_a", "body_b")}
    graph = build_graph("g", gd, "g.pb")[0] if wire else Graph("g", gd.node)
    return graph, library


def _walks(graph: Graph, library, starts, dead, premarked, monkeypatch):
    out = []
    for native in (True, False):
        monkeypatch.setattr(reachability, "USE_NATIVE", native)
        marks = bytearray(premarked)
        called = reachability._mark(graph, starts, marks, library)
        out.append((bytes(marks), sorted(called)))
    return out


@settings(max_examples=200, derandomize=True, deadline=None, database=None)
@given(seed=st.integers(0, 10**9), wire=st.booleans())
def test_the_c_walk_marks_what_the_python_walk_marks(seed, wire):
    graph, library = _random_graph(seed, wire)
    rng = random.Random(seed)
    n = len(graph)
    starts = [rng.randrange(n) for _ in range(rng.randint(0, 4))]
    premarked = bytes(rng.random() < 0.1 for _ in range(n))
    with pytest.MonkeyPatch.context() as monkeypatch:
        (fast, fast_calls), (slow, slow_calls) = _walks(graph, library, starts, None, premarked, monkeypatch)
    assert fast == slow
    assert fast_calls == slow_calls
    # Nothing marked before the walk reports its calls again, and every start is marked.
    assert all(fast[i] for i in starts)


def test_dead_nodes_stop_the_c_walk():
    gd = protos.GraphDef()
    for k, inputs in enumerate([[], ["n0"], ["n1"], ["^n2", "n0"]]):
        gd.node.add(name=f"n{k}", op="Identity", input=inputs)
    graph = Graph("g", gd.node)
    in_offsets, in_nodes, _, ctrl_offsets, ctrl_nodes = graph.edge_arrays()
    marks, dead = bytearray(4), bytearray(b"\x00\x00\x01\x00")
    reachability.native.mark(in_offsets, in_nodes, ctrl_offsets, ctrl_nodes, np.array([3]), marks, dead)
    assert list(marks) == [1, 0, 0, 1]  # n2 is dead: n1, upstream only through it, is not reached


def test_the_c_walk_checks_its_arrays():
    one, two = np.zeros(1, dtype=np.int64), np.zeros(2, dtype=np.int64)
    with pytest.raises(ValueError, match="inconsistent lengths"):
        reachability.native.mark(two, one, two, one, one, bytearray(3), None)
    with pytest.raises(TypeError, match="int64"):
        reachability.native.mark(two.astype(np.int32), one[:0], two, one[:0], one, bytearray(1), None)
    with pytest.raises(IndexError, match="out of range"):
        reachability.native.mark(two, one[:0], two, one[:0], np.array([5]), bytearray(1), None)
    with pytest.raises(IndexError, match="out of range"):
        reachability.native.mark(np.array([0, 1]), np.array([7]), two, one[:0], one, bytearray(1), None)
