"""Duplicated model copies: which sinks end a duplicate, and the dead copies no root reaches, with their twins."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Sequence

import numpy as np

from graphaudit.analysis.graph_algorithms import components, sinks
from graphaudit.analysis.node_keys import DATA, DATA_SOURCE_OPS, DTYPE_BYTES, full_shape, tensor_dtype_shape
from graphaudit.analysis.structure import GraphStructure
from graphaudit.artifact import PASS_THROUGH_OPS, AttrColumns, Graph
from graphaudit.records import dataclass

if TYPE_CHECKING:
    from graphaudit.analysis.reachability import Reach
    from graphaudit.artifact import Artifact

# Read-like ops a weight passes through before a model copy uses it.
_WEIGHT_PATH_OPS = PASS_THROUGH_OPS | {"Switch", "RefSwitch", "Enter", "RefEnter"}


# ------------------------------------------------------------------------------ roots

def duplicate_sinks(gs: GraphStructure, min_ops: int) -> list[int]:
    """Sinks that root inference must skip: the ends of a structural duplicate whose twin goes on.

    Two cases, both only for duplicated regions (copy-node components) of ``min_ops`` nodes or more:

    - a sink whose abstract class has a member that something consumes: the dead copy's last op
      in the seed scenario (`block5_pool/MaxPool`, while `vgg19/block5_pool/MaxPool` feeds the head);
    - every sink of a *closed* component (no data edge leaves it) whose last op has a classmate in
      an *open* one: the unused side outputs a dead copy carries along (the `cond/Identity_3`
      of each BatchNorm `If`);
    - every sink of an *open* component: the same side outputs in the used copy, whose real
      output is consumed further on.

    When every copy ends in sinks (two parallel heads, or a graph that never consumes its output),
    nothing is skipped: structure alone cannot tell which copy is used.
    """
    graph = gs.graph
    n = len(graph)
    if not n:
        return []
    sink = sinks(graph)
    ncls = int(gs.abstract.max()) + 1
    consumed_members = np.bincount(gs.abstract[~sink], minlength=ncls)
    big = gs.copy & (gs.component_size >= min_ops)
    ends = sink & big & (consumed_members[gs.abstract] > 0)
    skip = ends.copy()
    if big.any():
        src, dst = gs.edges()
        comp = gs.component
        leaving = big[src] & (comp[dst] != comp[src])
        is_open = np.zeros(n, dtype=bool)  # indexed by component root
        is_open[comp[src[leaving]]] = True
        idx = np.flatnonzero(big)
        roots = comp[idx]
        last = np.full(n, -1, dtype=np.int64)
        np.maximum.at(last, roots, gs.position[idx])
        component_roots = np.unique(roots)
        anchors = gs.order[last[component_roots]]
        open_members = np.bincount(gs.abstract[big & is_open[np.maximum(comp, 0)]], minlength=ncls)
        # A closed component whose last op has a classmate in an open one (never itself: it is
        # closed), and every open component: their sinks are side outputs or dead ends.
        closed = ~is_open[component_roots]
        ended = component_roots[(closed & (open_members[gs.abstract[anchors]] > 0)) | ~closed]
        if len(ended):
            skip |= sink & big & np.isin(comp, ended)
    # The copies' last ops first: they are what a reader recognises.
    return np.flatnonzero(ends).tolist() + np.flatnonzero(skip & ~ends).tolist()


def input_only_sinks(gs: GraphStructure) -> list[int]:
    """Sinks computed from graph inputs alone (class DATA), when the graph has sinks that read weights.

    Keras' learning-phase conds leave such sinks (``cond/switch_t``, ``cond/pred_id``): they read
    no weight, so they say nothing about which model copy is used.
    """
    sink = sinks(gs.graph)
    data_sinks = sink & (gs.abstract == DATA)
    if not (sink & ~data_sinks).any():
        return []
    return np.flatnonzero(data_sinks).tolist()


# ------------------------------------------------------------------------------ dead copies

@dataclass(frozen=True)
class Copy:
    """One copy of a model in a graph."""

    graph: str
    nodes: tuple[str, ...]  # node names, in graph order
    scope: str  # the nodes' common scope, or ""
    label: str  # how to show it: "`vgg19/`" or "`block1_conv1/` ... `block5_pool/`"
    weights: tuple[str, ...]  # variables (or frozen weight Consts) its ops read
    params: int
    nbytes: int


@dataclass(frozen=True)
class DeadCopy:
    """A duplicated region that no root reaches, and the reached copy it duplicates."""

    graph: str
    dead: Copy
    twin: Copy
    shares_weights: bool  # True: it reads the twin's variables; False: variables of its own
    unused_weights: tuple[str, ...]  # its weights that no root reads
    unused_params: int
    unused_bytes: int
    inputs: tuple[str, ...]  # graph inputs (placeholders) that feed only dead nodes of it
    input_shapes: tuple[str, ...]
    outputs: tuple[str, ...]  # its last ops, the copy's output first
    outputs_consumed: bool  # whether anything consumes those last ops
    architecture: int  # abstract class of its last op: equal for copies of the same model
    live_twins: tuple[Copy, ...]  # every reached copy of the same model


def dead_copies(artifact: "Artifact", graph_name: str, gs: GraphStructure, reach: "Reach",
                min_ops: int) -> list[DeadCopy]:
    """Unreached duplicated regions of at least ``min_ops`` nodes whose twin a root reaches.

    A node is *dead-duplicate* when it is a copy node, no root reaches it, and a node of its
    abstract class is reached. Dead-duplicate nodes joined by data edges form the dead regions.
    The twin is the reached component holding a classmate of the region's last op (preferring
    one with the same exact class, i.e. reading the same variables).
    """
    graph = gs.graph
    n = len(graph)
    marks = reach.nodes.get(graph_name)
    reached = np.frombuffer(bytes(marks), dtype=np.uint8).astype(bool) if marks is not None else np.zeros(n, bool)
    if not reached.any():
        return []
    ncls = int(gs.abstract.max()) + 1
    reached_members = np.bincount(gs.abstract[reached], minlength=ncls)
    dead = gs.copy & ~reached & (reached_members[gs.abstract] > 0)
    if not dead.any():
        return []
    comp = components(graph, dead, gs.entries)
    roots, counts = np.unique(comp[dead], return_counts=True)
    big = roots[counts >= min_ops]
    if not len(big):
        return []
    region_of = {int(r): [] for r in big}
    for i in np.flatnonzero(np.isin(comp, big)).tolist():
        region_of[int(comp[i])].append(i)
    regions = [sorted(nodes) for _, nodes in sorted(region_of.items())]
    # Each region's deepest node (its output), the one hashed from the whole copy.
    anchors = [int(nodes[int(np.argmax(gs.position[np.asarray(nodes)]))]) for nodes in regions]
    reached_classmates = gs.class_members((int(gs.abstract[a]) for a in anchors), among=reached)
    live_components: dict[int, Copy] = {}

    def live_copy(node: int) -> Copy:
        root = int(gs.component[node])
        got = live_components.get(root)
        if got is None:
            members = np.flatnonzero((gs.component == root) & reached).tolist()
            got = live_components[root] = _copy(artifact, graph_name, gs, members)
        return got

    out = []
    for nodes, anchor in zip(regions, anchors):
        mates = reached_classmates.get(int(gs.abstract[anchor]), [])
        if not mates:
            continue
        same = [m for m in mates if gs.exact[m] == gs.exact[anchor]]
        twin_anchor = min(same or mates)
        twin = live_copy(twin_anchor)
        dead_copy = _copy(artifact, graph_name, gs, nodes)
        unused_ids = [w for w in _weights_read(graph, gs, nodes) if not reached[w]]
        sizes = _weight_sizes(gs, unused_ids)
        unused = tuple(graph.names[w] for w in unused_ids)
        unused_params = sum(sizes[w][0] for w in unused_ids)
        unused_bytes = sum(sizes[w][1] for w in unused_ids)
        inputs = _feeding_inputs(graph, gs, nodes, reached)
        tops, consumed = _last_ops(gs, nodes)
        lives = []
        seen_roots = set()
        for m in sorted(mates):
            root = int(gs.component[m])
            if root not in seen_roots:
                seen_roots.add(root)
                lives.append(live_copy(m))
        out.append(DeadCopy(
            graph=graph_name, dead=dead_copy, twin=twin, shares_weights=not unused and bool(dead_copy.weights),
            unused_weights=unused, unused_params=unused_params, unused_bytes=unused_bytes,
            inputs=tuple(graph.names[i] for i in inputs),
            input_shapes=tuple(_shape_text(graph, i) for i in inputs),
            outputs=tuple(graph.names[i] for i in tops), outputs_consumed=consumed,
            architecture=int(gs.abstract[anchor]), live_twins=tuple(lives),
        ))
    return out


def _copy(artifact: "Artifact", graph_name: str, gs: GraphStructure, nodes: list[int]) -> Copy:
    graph = gs.graph
    names = [graph.names[i] for i in sorted(nodes)]
    weights = _weights_read(graph, gs, nodes)
    sizes = _weight_sizes(gs, weights)
    scope = _common_scope(names)
    return Copy(graph=graph_name, nodes=tuple(names), scope=scope, label=_label(names, scope),
                weights=tuple(graph.names[w] for w in weights), params=sum(sizes[w][0] for w in weights),
                nbytes=sum(sizes[w][1] for w in weights))


def _common_scope(names: Sequence[str]) -> str:
    """The longest scope `a/b` with every name under `a/b/`, as names.common_scope gives it.

    The common prefix of many strings is that of the smallest and the largest: no split per name.
    """
    if not names:
        return ""
    return os.path.commonprefix([min(names), max(names)]).rpartition("/")[0]


def _label(names: Sequence[str], scope: str) -> str:
    if scope:
        return f"`{scope}/`"
    scoped = [names[k] for k in (0, -1)] if "/" in names[0] and "/" in names[-1] else \
        [n for n in names if "/" in n] or list(names)
    first, last = scoped[0].split("/", 1)[0], scoped[-1].split("/", 1)[0]
    return f"`{first}/`" if first == last else f"`{first}/` ... `{last}/`"


def _weights_read(graph: Graph, gs: GraphStructure, nodes: Sequence[int]) -> list[int]:
    """Weight nodes that ``nodes`` read, directly or through reads, switches and identities."""
    in_offsets, in_nodes, _, _, _ = graph.edge_arrays()
    idx = np.asarray(nodes, dtype=np.int64)
    counts = in_offsets[idx + 1] - in_offsets[idx]
    firsts = np.repeat(in_offsets[idx], counts)
    within = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    k = in_nodes[firsts + within]
    codes, table = graph.op_codes()
    passing = np.isin(codes, [c for c, op in enumerate(table) if op in _WEIGHT_PATH_OPS])
    has_input = np.diff(in_offsets) > 0
    for _ in range(8):
        step = ~gs.weight[k] & passing[k] & has_input[k]
        if not step.any():
            break
        k = np.where(step, in_nodes[in_offsets[np.minimum(k, len(graph) - 1)]], k)
    return np.unique(k[gs.weight[k]]).tolist()


def _weight_sizes(gs: GraphStructure, weights: Sequence[int]) -> dict[int, tuple[int, int]]:
    """(params, bytes) of weight nodes, from their shape and dtype attrs (cached per graph).

    Variables of a graph read from the wire are sized once per distinct (dtype, shape) bytes.
    """
    graph = gs.graph
    cache = gs.__dict__.setdefault("_sizes", {})
    todo = [i for i in weights if i not in cache]
    if not todo:
        return cache
    wire = graph.wire_attrs
    by_bytes: dict[tuple[bytes, bytes], tuple[int, int]] = {}
    dtype_of = shape_of = None
    if wire is not None:
        dtype_of, shape_of = _entry_index(gs, wire, "dtype"), _entry_index(gs, wire, "shape")
    for i in todo:
        if graph.ops[i] == "Const":
            dtype, dims = tensor_dtype_shape(graph.attr(i, "value"))
            cache[i] = _size(dtype, dims)
            continue
        if dtype_of is not None and dtype_of[i] >= 0 and shape_of[i] >= 0:
            d, sh = int(dtype_of[i]), int(shape_of[i])
            raw = (wire.buf[wire.value_start[d]:wire.value_end[d]], wire.buf[wire.value_start[sh]:wire.value_end[sh]])
            got = by_bytes.get(raw)
            if got is None:
                got = by_bytes[raw] = _variable_size(graph.attr(i, "dtype"), graph.attr(i, "shape"))
            cache[i] = got
            continue
        cache[i] = _variable_size(graph.attr(i, "dtype"), graph.attr(i, "shape"))
    return cache


def _entry_index(gs: GraphStructure, wire: AttrColumns, key: str) -> np.ndarray:
    """Per node, the index of its attr entry with key ``key``, or -1."""
    cache = gs.__dict__.setdefault("_entry_index", {})
    got = cache.get(key)
    if got is None:
        mask = wire.has_key(key)
        got = np.full(len(gs.graph), -1, dtype=np.int64)
        got[wire.node[mask]] = np.flatnonzero(mask)
        cache[key] = got
    return got


def _variable_size(dtype_av, shape_av) -> tuple[int, int]:
    shape = full_shape(shape_av)
    return _size(dtype_av.type if dtype_av is not None else 0, () if shape == ("?",) else shape)


def _size(dtype: int, dims: Sequence[int]) -> tuple[int, int]:
    size = 0 if any(d < 0 for d in dims) else (int(np.prod(dims, dtype=np.int64)) if dims else 1)
    return size, size * DTYPE_BYTES.get(dtype, 4)


def _last_ops(gs: GraphStructure, nodes: Sequence[int]) -> tuple[list[int], bool]:
    """The nodes of a region that no other node of it consumes, deepest first; and whether anything consumes them."""
    graph = gs.graph
    n = len(graph)
    in_offsets, in_nodes, _, ctrl_offsets, ctrl_nodes = graph.edge_arrays()
    inside = np.zeros(n, dtype=bool)
    inside[np.asarray(nodes, dtype=np.int64)] = True
    consumed_inside = np.zeros(n, dtype=bool)
    for offsets, flat in ((in_offsets, in_nodes), (ctrl_offsets, ctrl_nodes)):
        dst = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
        consumed_inside[flat[inside[dst]]] = True
    tops = np.flatnonzero(inside & ~consumed_inside)
    tops = tops[np.lexsort((tops, -gs.position[tops]))].tolist()
    counts = graph.consumer_counts()
    return tops, bool(any(counts[i] for i in tops))


def _feeding_inputs(graph: Graph, gs: GraphStructure, nodes: Sequence[int], reached: np.ndarray) -> list[int]:
    """Unreached graph inputs upstream of ``nodes``, through unreached DATA nodes."""
    in_offsets, in_nodes, _, _, _ = graph.edge_arrays()
    idx = np.asarray(nodes, dtype=np.int64)
    counts = in_offsets[idx + 1] - in_offsets[idx]
    firsts = np.repeat(in_offsets[idx], counts)
    within = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    direct = np.unique(in_nodes[firsts + within])
    stack = direct[(gs.abstract[direct] == DATA) & ~reached[direct]].tolist()
    seen = set(stack)
    found = []
    while stack:
        j = stack.pop()
        if graph.ops[j] in DATA_SOURCE_OPS and graph.ops[j] != "PlaceholderWithDefault":
            found.append(j)
            continue
        for k in graph.inputs[j]:
            if k not in seen and gs.abstract[k] == DATA and not reached[k]:
                seen.add(k)
                stack.append(k)
    return sorted(found)


def _shape_text(graph: Graph, i: int) -> str:
    av = graph.attr(i, "shape")
    if av is None or av.shape.unknown_rank:
        return "unknown shape"
    return "(" + ", ".join("?" if d.size < 0 else f"{d.size:,}" for d in av.shape.dim) + ")"
