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
        component_roots = _distinct(roots, n)
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
    comp = _dead_components(gs, dead)
    roots, counts = np.unique(comp[dead], return_counts=True)
    big = roots[counts >= min_ops]
    if not len(big):
        return []
    # Each region's node ids, ascending, regions by their smallest id: one sort, no loop over nodes.
    members = np.flatnonzero(np.isin(comp, big))
    members = members[np.argsort(comp[members], kind="stable")]
    regions = np.split(members, np.searchsorted(comp[members], big)[1:])
    # Each region's deepest node (its output), the one hashed from the whole copy.
    anchors = [int(nodes[int(np.argmax(gs.position[nodes]))]) for nodes in regions]
    reached_classmates = gs.class_members((int(gs.abstract[a]) for a in anchors), among=reached)
    live_components: dict[int, Copy] = {}

    def live_copy(node: int) -> Copy:
        root = int(gs.component[node])
        got = live_components.get(root)
        if got is None:
            members = np.flatnonzero((gs.component == root) & reached)
            got = live_components[root] = _copy(graph_name, gs, members)
        return got

    out = []
    for nodes, anchor in zip(regions, anchors):
        mates = reached_classmates.get(int(gs.abstract[anchor]), [])
        if not mates:
            continue
        same = [m for m in mates if gs.exact[m] == gs.exact[anchor]]
        twin_anchor = min(same or mates)
        twin = live_copy(twin_anchor)
        weights = _weights_read(graph, gs, nodes)
        dead_copy = _copy(graph_name, gs, nodes, weights)
        unused_ids = weights[~reached[weights]]
        unused = _names(graph, unused_ids)
        unused_params, unused_bytes = _weight_totals(gs, unused_ids)
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


def _dead_components(gs: GraphStructure, dead: np.ndarray) -> np.ndarray:
    """``components(graph, dead, entries)``: the copy components when each is wholly dead or alive.

    ``dead`` holds copy nodes only, so a component of it lies inside one copy component, and
    one that fills its copy component is that component, with the same label (its smallest id):
    the usual case, a dead copy that no root reaches at all, needs no pass over the edges.
    """
    comp = gs.component
    dead_members = np.bincount(comp[dead], minlength=len(comp))
    if np.array_equal(dead_members[comp[dead]], gs.component_size[dead]):
        return np.where(dead, comp, -1)
    return components(gs.graph, dead, gs.entries)


def _names(graph: Graph, ids: np.ndarray) -> tuple[str, ...]:
    return tuple(map(graph.names.__getitem__, ids.tolist()))


def _copy(graph_name: str, gs: GraphStructure, nodes: np.ndarray, weights: np.ndarray | None = None) -> Copy:
    """The copy made of ``nodes`` (ascending node ids), which read ``weights`` (found when not given)."""
    graph = gs.graph
    names = _names(graph, nodes)
    if weights is None:
        weights = _weights_read(graph, gs, nodes)
    params, nbytes = _weight_totals(gs, weights)
    scope = _common_scope(names)
    return Copy(graph=graph_name, nodes=names, scope=scope, label=_label(names, scope),
                weights=_names(graph, weights), params=params, nbytes=nbytes)


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


def _weights_read(graph: Graph, gs: GraphStructure, nodes: np.ndarray) -> np.ndarray:
    """Weight nodes that ``nodes`` read, directly or through reads, switches and identities."""
    in_offsets, in_nodes, _, _, _ = graph.edge_arrays()
    k = _inputs_of(in_offsets, in_nodes, nodes)
    codes, table = graph.op_codes()
    passing = np.isin(codes, [c for c, op in enumerate(table) if op in _WEIGHT_PATH_OPS])
    has_input = np.diff(in_offsets) > 0
    for _ in range(8):
        step = ~gs.weight[k] & passing[k] & has_input[k]
        if not step.any():
            break
        k = np.where(step, in_nodes[in_offsets[np.minimum(k, len(graph) - 1)]], k)
    return _distinct(k[gs.weight[k]], len(graph))


def _inputs_of(offsets: np.ndarray, flat: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """The CSR rows of ``nodes``, concatenated: their inputs, in order."""
    counts = offsets[nodes + 1] - offsets[nodes]
    firsts = np.repeat(offsets[nodes], counts)
    within = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return flat[firsts + within]


def _distinct(ids: np.ndarray, n: int) -> np.ndarray:
    """The distinct values of ``ids`` (node ids below ``n``), ascending.

    A mask, not ``np.unique``: cheaper at this size, and numpy 2's ``unique`` imports ``numpy.ma``
    (20 ms) the first time it runs.
    """
    mask = np.zeros(n, dtype=bool)
    mask[ids] = True
    return np.flatnonzero(mask)


def _weight_totals(gs: GraphStructure, weights: np.ndarray) -> tuple[int, int]:
    """Total (params, bytes) of weight nodes, from their shape and dtype attrs.

    Each weight belongs to a size group (cached per graph): variables of a graph read from the
    wire share one group per distinct (dtype, shape) bytes, sized once; a frozen Const or a
    variable without those entries has a group of its own. Totals are counts times group sizes,
    in Python integers.
    """
    group, sizes = gs.__dict__.setdefault("_weight_groups", (np.full(len(gs.graph), -1, dtype=np.int64), []))
    todo = weights[group[weights] < 0]
    if len(todo):
        _group_weights(gs, todo, group, sizes)
    counts = np.bincount(group[weights], minlength=len(sizes)) if len(weights) else np.zeros(0, dtype=np.int64)
    used = [(int(counts[g]), sizes[g]) for g in np.flatnonzero(counts).tolist()]
    return sum(c * size[0] for c, size in used), sum(c * size[1] for c, size in used)


# Longer (dtype, shape) values than this are sized one by one, not grouped in a byte matrix.
_GROUPED_BYTES = 256


def _group_weights(gs: GraphStructure, todo: np.ndarray, group: np.ndarray, sizes: list[tuple[int, int]]) -> None:
    graph = gs.graph
    wire = graph.wire_attrs
    codes, table = graph.op_codes()
    is_const = codes[todo] == (table.index("Const") if "Const" in table else -1)
    for i in todo[is_const].tolist():
        group[i] = len(sizes)
        sizes.append(_size(*tensor_dtype_shape(graph.attr(i, "value"))))
    rest = todo[~is_const]
    if wire is not None and len(rest):
        d = _entry_index(gs, wire, "dtype")[rest]
        sh = _entry_index(gs, wire, "shape")[rest]
        ok = (d >= 0) & (sh >= 0)
        d_start, sh_start = wire.value_start[d], wire.value_start[sh]
        d_len, sh_len = wire.value_end[d] - d_start, wire.value_end[sh] - sh_start
        ok &= d_len + sh_len <= _GROUPED_BYTES
        if ok.any():
            keyed = rest[ok]
            starts, lens = (d_start[ok], sh_start[ok]), (d_len[ok], sh_len[ok])
            # One row per weight: both values' lengths, then their bytes, zero-padded.
            buf = np.frombuffer(wire.buf, dtype=np.uint8)
            parts = [np.stack(lens, axis=1)]
            for start, length in zip(starts, lens):
                cols = np.arange(int(length.max()), dtype=np.int64)
                inside = cols < length[:, None]
                parts.append(np.where(inside, buf[np.where(inside, start[:, None] + cols, 0)], 0))
            rows = np.concatenate(parts, axis=1).astype(np.uint64)
            # Rows grouped by a hash (sorting 1-D integers, not rows of bytes), then checked byte
            # for byte: a collision leaves the weights to be sized one by one.
            mult = np.arange(1, rows.shape[1] + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15) | np.uint64(1)
            _, first, inverse = np.unique((rows * mult).sum(axis=1), return_index=True, return_inverse=True)
            inverse = inverse.reshape(-1)
            if np.array_equal(rows, rows[first[inverse]]):
                group[keyed] = len(sizes) + inverse
                sizes.extend(_variable_size(graph.attr(i, "dtype"), graph.attr(i, "shape"))
                             for i in keyed[first].tolist())
                rest = rest[~ok]
    for i in rest.tolist():
        group[i] = len(sizes)
        sizes.append(_variable_size(graph.attr(i, "dtype"), graph.attr(i, "shape")))


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


def _last_ops(gs: GraphStructure, nodes: np.ndarray) -> tuple[list[int], bool]:
    """The nodes of a region that no other node of it consumes, deepest first; and whether anything consumes them."""
    graph = gs.graph
    in_offsets, in_nodes, _, ctrl_offsets, ctrl_nodes = graph.edge_arrays()
    consumed_inside = np.zeros(len(graph), dtype=bool)
    consumed_inside[_inputs_of(in_offsets, in_nodes, nodes)] = True
    consumed_inside[_inputs_of(ctrl_offsets, ctrl_nodes, nodes)] = True
    tops = nodes[~consumed_inside[nodes]]
    tops = tops[np.lexsort((tops, -gs.position[tops]))]
    return tops.tolist(), bool(graph.consumer_counts()[tops].any())


def _feeding_inputs(graph: Graph, gs: GraphStructure, nodes: np.ndarray, reached: np.ndarray) -> list[int]:
    """Unreached graph inputs upstream of ``nodes``, through unreached DATA nodes."""
    in_offsets, in_nodes, _, _, _ = graph.edge_arrays()
    direct = _distinct(_inputs_of(in_offsets, in_nodes, nodes), len(graph))
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
