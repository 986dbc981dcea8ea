"""Which nodes of a graph call library functions, found once per graph."""

from __future__ import annotations

from typing import Iterable, Mapping

from graphaudit.artifact import AttrKind, Graph


def callers(graph: Graph, library: Mapping[str, Graph]) -> dict[int, list[str]]:
    """Nodes that call library functions (as their op or through a func attr), computed once per graph."""
    cached = graph.__dict__.get("_callers")
    if cached is not None and cached[0] is library:
        return cached[1]
    candidates: Iterable[int]
    wire = graph.wire_attrs
    if wire is not None:
        import numpy as np

        has_func = np.isin(wire.kind, (AttrKind.FUNC, AttrKind.LIST_FUNC))
        by_op = [i for op in library for i in graph.by_op.get(op, ())]
        candidates = sorted(set(wire.node[has_func].tolist()) | set(by_op))
    else:
        candidates = range(len(graph))
    out = {}
    for i in candidates:
        calls = graph.function_calls(i, library)
        if calls:
            out[i] = calls
    graph.__dict__["_callers"] = (library, out)
    return out
