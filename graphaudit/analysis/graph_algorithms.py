"""Linear-time graph algorithms over a Graph's CSR edges: topological order, components, reach, sinks."""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

from graphaudit.artifact import Graph

#: Loop back edges: a ``Merge`` fed by a ``NextIteration`` would make the graph cyclic.
BACK_EDGE_OPS = frozenset({"NextIteration", "RefNextIteration"})


def topological_order(graph: Graph) -> np.ndarray:
    """Node ids (an int64 array) with every node after its data inputs (loop back edges ignored).

    GraphDefs come nearly in creation order, so ranks start as node ids and are pushed past
    their inputs until no edge goes backwards; a graph that does not settle in a few dozen
    rounds is sorted by Kahn's algorithm instead.
    """
    n = len(graph)
    in_offsets, in_nodes, _, _, _ = graph.edge_arrays()
    src, dst = forward_edges(graph, in_offsets, in_nodes)
    rank = np.arange(n, dtype=np.int64)
    for _ in range(48):
        bad = rank[src] >= rank[dst]
        if not bad.any():
            return np.argsort(rank, kind="stable")
        np.maximum.at(rank, dst[bad], rank[src[bad]] + 1)
    return np.asarray(_kahn(n, src, dst), dtype=np.int64)


def forward_edges(graph: Graph, in_offsets: np.ndarray, in_nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Data edges (source, destination), without the loop back edges into a Merge."""
    n = len(graph)
    dst = np.repeat(np.arange(n, dtype=np.int64), np.diff(in_offsets))
    src = in_nodes
    back = [i for op in BACK_EDGE_OPS for i in graph.by_op.get(op, ())]
    if back:
        merges = [i for op in ("Merge", "RefMerge") for i in graph.by_op.get(op, ())]
        drop = np.isin(src, back) & np.isin(dst, merges)
        src, dst = src[~drop], dst[~drop]
    return src, dst


def _kahn(n: int, src: np.ndarray, dst: np.ndarray) -> list[int]:
    indegree = np.bincount(dst, minlength=n).tolist()
    order_by_src = np.argsort(src, kind="stable")
    out_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=out_offsets[1:])
    offs, outs = out_offsets.tolist(), dst[order_by_src].tolist()
    order = [i for i in range(n) if indegree[i] == 0]
    k = 0
    while k < len(order):
        i = order[k]
        for c in outs[offs[i]:offs[i + 1]]:
            indegree[c] -= 1
            if indegree[c] == 0:
                order.append(c)
        k += 1
    if len(order) < n:  # a cycle that is not a loop back edge: malformed, but keep going
        seen = set(order)
        order.extend(i for i in range(n) if i not in seen)
    return order


def downstream(graph: Graph, starts: Iterable[int], allowed: bytes | bytearray | None = None,
               native: bool = False) -> bytearray:
    """Nodes reachable from ``starts`` over data and control edges, the starts included.

    With ``allowed`` (a byte per node), the walk enters only nodes whose byte is set. With
    ``native``, the walk runs in C (graphaudit/analysis/_classes.c) over the CSR arrays, without
    the per-node consumer lists; else in Python over ``graph.consumers``.
    """
    if native:
        from graphaudit.analysis import _classes

        in_offsets, in_nodes, _, ctrl_offsets, ctrl_nodes = graph.edge_arrays()
        ids = np.fromiter(starts, dtype=np.int64)
        return bytearray(_classes.reach(len(graph), ids, allowed, in_offsets, in_nodes, ctrl_offsets, ctrl_nodes))
    marks = bytearray(len(graph))
    stack = list(starts)
    for i in stack:
        marks[i] = 1
    consumers = graph.consumers
    while stack:
        j = stack.pop()
        for c in consumers[j]:
            if not marks[c] and (allowed is None or allowed[c]):
                marks[c] = 1
                stack.append(c)
    return marks


def components(graph: Graph, mask: np.ndarray, entries: Mapping[int, int] | None = None) -> np.ndarray:
    """Connected components over data edges between nodes of ``mask``: each node's smallest id.

    A read shared by several copies (a TF1 ref variable's single ``V/read``) would join them
    into one component; a node whose data inputs are all leaves and that feeds several nodes
    is therefore left out of the joins. So is the edge into a copy's first op from the tensor
    it was called on (``entries``): that tensor belongs to whatever computed it.
    """
    n = len(graph)
    in_offsets, in_nodes, _, _, _ = graph.edge_arrays()
    dst = np.repeat(np.arange(n, dtype=np.int64), np.diff(in_offsets))
    src = in_nodes
    keep = mask[src] & mask[dst]
    if keep.any():
        has_inputs = np.diff(in_offsets) > 0
        reads_only_leaves = np.bincount(dst[has_inputs[src]], minlength=n) == 0
        shared_read = reads_only_leaves & (graph.consumer_counts() > 1)
        keep &= ~shared_read[src]
        if entries:
            slot = np.arange(len(src), dtype=np.int64) - in_offsets[dst]
            cut_slot = np.full(n, -1, dtype=np.int64)
            cut_slot[list(entries)] = list(entries.values())
            keep &= slot != cut_slot[dst]
    parent = _union(n, src[keep], dst[keep])
    return np.where(mask, parent, -1)


def _union(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Each node's component label (the smallest node id in it), by hooking and pointer jumping."""
    parent = np.arange(n, dtype=np.int64)
    while len(u):
        pu, pv = parent[u], parent[v]
        differ = pu != pv
        if not differ.any():
            break
        lo, hi = np.minimum(pu[differ], pv[differ]), np.maximum(pu[differ], pv[differ])
        np.minimum.at(parent, hi, lo)  # roots hook under smaller roots: no cycle can form
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
        u, v = u[differ], v[differ]
    return parent


def sinks(graph: Graph) -> np.ndarray:
    return graph.consumer_counts() == 0
