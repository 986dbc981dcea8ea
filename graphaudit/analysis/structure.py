"""Canonical structural hashes of graph nodes: which nodes are the same computation on the same kind of input.

Every node gets a class id computed bottom-up over the DAG, in one pass in topological order:
two nodes share a class exactly when their op types, the attrs that matter and, recursively,
their inputs (in order, with output ports) are the same. Names never count.

- **Attrs that matter:** every attr except TensorFlow's internal ``_``-prefixed ones (``_class``
  colocation, ``_output_shapes``, ...) and the naming attrs ``shared_name``, ``container``,
  ``debug_name`` and ``allowed_devices``. A shape attr drops its first (batch) dimension. A
  function attr (``then_branch``, ``f``, ...) counts by the structure of the function body, not
  by its name, so two ``If`` ops with identical branch functions match.
- **Graph inputs collapse.** A node computed from graph inputs alone (placeholders, dataset
  iterators, Keras' learning phase, and any preprocessing of them that holds no weight) gets the
  class ``DATA``. A model copy hanging off Keras' own ``input_1`` and its twin fed by a
  preprocessed image therefore hash alike from their first weighted op on. A twin called on a
  tensor that carries weights of its own (another model's features) is found by its first op,
  which reads the very weights of the dead copy's first op; what lies below it is hashed again
  with that tensor read as ``DATA`` (``_Hasher.entries_fed_elsewhere``).
- **Weights.** Two classes are kept per node: the *exact* class counts the identity of each
  variable read (its node), the *abstract* class only its dtype and shape. Copies with equal exact
  classes read the same variables (weight-sharing duplicates); copies equal only in their
  abstract classes read different variables of identical shapes (instance duplicates). In a
  frozen graph, a weight ``Const`` (a float tensor whose serialized value is 64 bytes or more, or
  one read through an ``Identity`` or a cond's ``Switch``, which is what freezing makes of a
  variable read) is hashed like the variable it replaced; other constants count by value.

A *copy node* is a node with data inputs, not ``DATA``, whose abstract class has two or more
members. Copy nodes joined by data edges form components: a maximal duplicated region is such a
component, or, once reachability is known, the unreached part of one (analysis/copies.py).
A node's own key comes from analysis/node_keys.py, the graph algorithms from
analysis/graph_algorithms.py.

Everything here is linear in nodes plus edges: one topological pass (ranks relaxed with numpy,
Kahn's algorithm as the fallback), dictionary interning of small integer tuples, components by
hooking and pointer jumping, and numpy over whole columns. Nothing compares subgraphs pairwise.
For a graph read column-wise (formats/wire.py), attrs are read as bytes off the wire; only nodes
whose attrs need interpreting (shapes, functions, weight constants) go through protobuf.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from graphaudit.analysis.graph_algorithms import BACK_EDGE_OPS, components, downstream, topological_order
from graphaudit.analysis.node_keys import CONST, DATA, DATA_SOURCE_OPS, PARAM, Interner, local_keys, wire_local_keys
from graphaudit.artifact import Graph, _split_ref

try:
    from graphaudit.analysis import _classes as native
except ImportError:  # installed without a C compiler: the same loop runs in Python
    native = None

__all__ = ["DATA", "FunctionHashes", "GraphStructure", "graph_structure", "topological_order"]


class FunctionHashes:
    """Structural ids of the function bodies of a library, so calls compare by body, not by name."""

    def __init__(self, library: Mapping[str, Graph]) -> None:
        self.library = library
        self.local = Interner()
        self.ids: dict[str, int] = {}
        self._table: dict[tuple, int] = {}
        self._kinds: list[int] = []
        for name in _callees_first(library):
            self.ids[name] = self._body_id(library[name])

    def key(self, name: str) -> object:
        got = self.ids.get(name)
        return ("fn", got) if got is not None else ("fn-name", name)

    def _body_id(self, body: Graph) -> int:
        local = [self.local(local_keys(body, i, self)[0]) for i in range(len(body))]
        # One table for both kinds of class: inside a body, every value comes from the arguments.
        classes, _, _, _ = _classify(body, local, local, self._table, self._table, self._kinds, self._kinds,
                                  kinds_local=[PARAM] * len(body))
        rets = []
        for out_name in sorted(body.ret_map):
            ref = body.ret_map[out_name]
            node, port = _split_ref(ref, True)
            i = body.index.get(node)
            rets.append((out_name, classes[i] if i is not None else -1, port))
        return self.local(("body", len(body.arg_names), tuple(rets)))


def _callees_first(library: Mapping[str, Graph]) -> list[str]:
    """Function names ordered so that every function comes after the functions it calls."""
    def callees(name: str):
        body = library[name]
        return iter(sorted({c for i in range(len(body)) for c in body.function_calls(i, library)}))

    order: list[str] = []
    state: dict[str, int] = {}
    for start in sorted(library):
        if start in state:
            continue
        stack = [(start, callees(start))]
        state[start] = 1
        while stack:
            name, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                state[name] = 2
                order.append(name)
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, callees(nxt)))
    return order


class _Hasher:
    """Bottom-up interning of node keys into abstract and exact class ids; ids index ``kinds_*``.

    A new class takes its kind from the node's own kind (a data source, a weight) or else from
    its inputs: a weight upstream makes it PARAM, otherwise a graph input makes it DATA (and it
    collapses into class 0), otherwise it is a constant expression.
    """

    def __init__(self, graph: Graph, local_a: Sequence[int], local_e: Sequence[int], kinds_local: Sequence[int],
                 table_a, table_e, kinds_a: list[int], kinds_e: list[int]) -> None:
        n = len(graph)
        self.graph = graph
        self.local_a, self.local_e, self.kinds_local = local_a, local_e, kinds_local
        self.table_a, self.table_e, self.kinds_a, self.kinds_e = table_a, table_e, kinds_a, kinds_e
        # With the C loop's tables (graphaudit/analysis/_classes.c), everything is an int64 array.
        self.native = native is not None and isinstance(table_a, native.Table)
        back = [i for op in BACK_EDGE_OPS for i in graph.by_op.get(op, ())]
        if self.native:
            offsets, flat, ports = graph.edge_arrays()[:3]
            if back:
                flat = np.where(np.isin(flat, back), n, flat)
            self.offsets, self.flat, self.flat_ports = offsets, flat, ports
            self.ca = np.full(n + 1, -1, dtype=np.int64)
            self.ce = np.full(n + 1, -1, dtype=np.int64)
            return
        offsets, flat, _, _ = graph.adjacency_lists()  # shared with the graph's rows: no copy
        if back:
            # A back edge reads "the previous iteration": a fixed marker (-1), the same in every copy.
            in_nodes = graph.edge_arrays()[1]
            flat = np.where(np.isin(in_nodes, back), n, in_nodes).tolist()
        self.offsets = offsets
        self.flat = flat
        self.flat_ports = graph.port_list()
        self.ca = [-1] * (n + 1)
        self.ce = [-1] * (n + 1)
        if not kinds_a:
            kinds_a.append(DATA)  # class 0 is DATA
        if not kinds_e:
            kinds_e.append(DATA)

    def inputs(self, i: int) -> list[int]:
        return self.flat[self.offsets[i]:self.offsets[i + 1]]

    def ports(self, i: int) -> list[int]:
        return self.flat_ports[self.offsets[i]:self.offsets[i + 1]]

    def run(self, order: Iterable[int], override: Mapping[int, int] | None = None) -> None:
        """Class the nodes of ``order``; ``override`` maps a node to an input slot read as DATA.

        A key is (local id, the inputs' classes..., their ports...); the common arities are
        spelled out, as this loop runs once per node. With the C loop, the same keys, in C.
        """
        if self.native:
            n = len(self.graph)
            slot = np.full(n, -1, dtype=np.int64)
            if override:
                slot[np.fromiter(override, dtype=np.int64)] = np.fromiter(override.values(), dtype=np.int64)
            native.run(self.table_a, self.table_e, np.asarray(order, dtype=np.int64), self.offsets, self.flat,
                       self.flat_ports, self.local_a, self.local_e, self.kinds_local, self.ca, self.ce, slot)
            return
        ca, ce, flat, fports, offsets = self.ca, self.ce, self.flat, self.flat_ports, self.offsets
        local_a, local_e, kinds_local = self.local_a, self.local_e, self.kinds_local
        table_a, table_e, kinds_a, kinds_e = self.table_a, self.table_e, self.kinds_a, self.kinds_e
        get_a, get_e = table_a.get, table_e.get
        for i in order:
            o0 = offsets[i]
            arity = offsets[i + 1] - o0
            if override is not None and i in override:
                slot = override[i]
                ins = flat[o0:o0 + arity]
                pts = fports[o0:o0 + arity]
                ka = (local_a[i], *[DATA if s == slot else ca[j] for s, j in enumerate(ins)], *pts)
                ke = (local_e[i], *[DATA if s == slot else ce[j] for s, j in enumerate(ins)], *pts)
            elif arity == 0:
                ka = (local_a[i],)
                ke = (local_e[i],)
            elif arity == 1:
                j = flat[o0]
                p = fports[o0]
                ka = (local_a[i], ca[j], p)
                ke = (local_e[i], ce[j], p)
            elif arity == 2:
                j, k = flat[o0], flat[o0 + 1]
                p, q = fports[o0], fports[o0 + 1]
                ka = (local_a[i], ca[j], ca[k], p, q)
                ke = (local_e[i], ce[j], ce[k], p, q)
            else:
                ins = flat[o0:o0 + arity]
                pts = fports[o0:o0 + arity]
                ka = (local_a[i], *[ca[j] for j in ins], *pts)
                ke = (local_e[i], *[ce[j] for j in ins], *pts)
            a = get_a(ka)
            if a is None:
                kind = kinds_local[i]
                if kind == CONST and arity:
                    sub = {kinds_a[c] if c >= 0 else CONST for c in ka[1:1 + arity]}
                    kind = PARAM if PARAM in sub else DATA if DATA in sub else CONST
                if kind == DATA:
                    a = DATA
                else:
                    a = len(kinds_a)
                    kinds_a.append(kind)
                table_a[ka] = a
            ca[i] = a
            e = get_e(ke)
            if e is None:
                if a == DATA:
                    e = DATA
                else:
                    e = len(kinds_e)
                    kinds_e.append(kinds_a[a])
                table_e[ke] = e
            ce[i] = e

    def _entry_candidates(self, entry_slots: Mapping[int, set[int]], entry_classes: set[tuple[int, int]]) -> list[int]:
        """Nodes that may match an entry op: same local id, and for two-input ops, the same other input.

        A cheap vectorized filter; the exact key lookup afterwards decides.
        """
        local_e = np.asarray(self.local_e, dtype=np.int64)
        mask = np.isin(local_e, list(entry_slots))
        idx = np.flatnonzero(mask)
        if len(idx) < 1024:
            return idx.tolist()
        offsets = np.asarray(self.offsets, dtype=np.int64)
        flat = np.asarray(self.flat, dtype=np.int64)
        ce = np.asarray(self.ce, dtype=np.int64)
        arity = offsets[idx + 1] - offsets[idx]
        pairs = idx[arity == 2]
        others = idx[arity != 2]
        # For a two-input op entered at slot s, the other input's exact class must be the entry's.
        wanted = {(int(self.local_e[i]), s, int(ce[flat[offsets[i] + 1 - s]]))
                  for i, s in self._entries if offsets[i + 1] - offsets[i] == 2}
        keep = np.zeros(len(pairs), dtype=bool)
        for s in (0, 1):
            other = ce[flat[offsets[pairs] + 1 - s]]
            keys = {(le, ss, oc) for le, ss, oc in wanted if ss == s}
            if not keys:
                continue
            les = np.fromiter((k[0] for k in keys), dtype=np.int64, count=len(keys))
            ocs = np.fromiter((k[2] for k in keys), dtype=np.int64, count=len(keys))
            hit = np.isin(other, ocs) & np.isin(local_e[pairs], les)
            keep |= hit
        return sorted(others.tolist() + pairs[keep].tolist())

    def entries_fed_elsewhere(self) -> dict[int, int]:
        """Nodes that would equal a model copy's first op if one input slot were a graph input.

        A copy built on its own placeholder starts with ops that read that placeholder (`input_1`
        -> `Conv2D`); its twin, called on a tensor that carries weights of its own (another
        model's features, an image variable), starts with the same ops reading that tensor. The
        result maps each such twin op to the slot to read as DATA. Matching uses exact classes,
        so a twin op must read the very weights of the entry op: inside one model, a layer whose
        kernel merely has the first layer's shape is never taken for an entry.
        """
        graph = self.graph
        n = len(graph)
        ca, ce, local_e = self.ca, self.ce, self.local_e
        # DATA nodes computed from a real graph input (not Keras' learning phase).
        sources = [i for op in DATA_SOURCE_OPS - {"PlaceholderWithDefault"} for i in graph.by_op.get(op, ())]
        allowed = np.asarray(ca[:n], dtype=np.int64) == DATA
        allowed[graph.by_op.get("PlaceholderWithDefault", [])] = False
        fed = downstream(graph, sources, allowed.view(np.uint8).tobytes(), native=self.native)
        # Entries: each data input (not a loop back edge) that is fed, of a node that is not DATA,
        # in node then slot order.
        offsets = np.asarray(self.offsets, dtype=np.int64)
        flat = np.asarray(self.flat, dtype=np.int64)  # a back edge reads n, never fed
        fed_at = np.frombuffer(bytes(fed) + b"\0", dtype=np.uint8)
        dst = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
        hit = np.flatnonzero((fed_at[flat] > 0) & (np.asarray(ca[:n], dtype=np.int64)[dst] != DATA))
        entry_classes: set[tuple[int, int]] = set()
        entry_slots: dict[int, set[int]] = {}
        self._entries: list[tuple[int, int]] = []
        for c, s in zip(dst[hit].tolist(), (hit - offsets[dst[hit]]).tolist()):
            entry_classes.add((ce[c], s))
            entry_slots.setdefault(local_e[c], set()).add(s)
            self._entries.append((c, s))
        if not entry_classes:
            return {}
        table_e = self.table_e
        out: dict[int, int] = {}
        candidates = self._entry_candidates(entry_slots, entry_classes)
        for i in candidates:
            slots = entry_slots[local_e[i]]
            if ca[i] == DATA:
                continue
            ins = self.inputs(i)
            for s in slots:
                if s >= len(ins) or ca[ins[s]] == DATA:
                    continue
                key = (local_e[i], *[DATA if t == s else ce[j] for t, j in enumerate(ins)], *self.ports(i))
                got = table_e.get(key)
                if got is not None and (got, s) in entry_classes:
                    out[i] = s
                    break
        return out


def _classify(graph: Graph, local_a: Sequence[int], local_e: Sequence[int], table_a: dict, table_e: dict,
              kinds_a: list[int], kinds_e: list[int], *, kinds_local: Sequence[int],
              order: Sequence[int] | None = None, reroot: bool = False
              ) -> tuple[list[int], list[int], list[int], dict[int, int]]:
    """Abstract and exact class of every node, bottom-up (see ``_Hasher``).

    With ``reroot``, a second pass re-classes what lies downstream of the ops found by
    ``_Hasher.entries_fed_elsewhere``, reading their tensor as a graph input: a copy called on
    another model's features then hashes like the copy built on its own placeholder.
    """
    n = len(graph)
    if order is None:
        order = topological_order(graph)
    hasher = _Hasher(graph, local_a, local_e, kinds_local, table_a, table_e, kinds_a, kinds_e)
    if not hasher.native and isinstance(order, np.ndarray):
        order = order.tolist()  # the Python loop indexes lists with ints
    hasher.run(order)
    override: dict[int, int] = {}
    if reroot:
        override = hasher.entries_fed_elsewhere()
        if override:
            below = downstream(graph, override, native=hasher.native)
            if hasher.native:
                ordered = np.asarray(order, dtype=np.int64)
                hasher.run(ordered[np.frombuffer(below, dtype=np.uint8)[ordered] > 0], override)
            else:
                hasher.run((i for i in order if below[i]), override)
    return hasher.ca[:n], hasher.ce[:n], order, override


def _tables():
    """Empty interning tables for abstract and exact keys: the C loop's when it is built, else dicts."""
    if native is not None and USE_NATIVE:
        return native.Table(), native.Table()
    return {}, {}


# Tests turn the C loop off to compare it with the Python one.
USE_NATIVE = True


@dataclass
class GraphStructure:
    """Class ids, copy nodes and duplicated regions of one graph."""

    graph: Graph
    abstract: np.ndarray  # int64 class per node; 0 is DATA
    exact: np.ndarray
    order: np.ndarray  # a topological order
    position: np.ndarray  # index of each node in ``order``
    copy: np.ndarray  # bool: a node with inputs, not DATA, in an abstract class of 2+ members
    component: np.ndarray  # int64 component of each copy node (a union-find root), -1 otherwise
    component_size: np.ndarray  # per node: the size of its component (0 when not a copy node)
    weight: np.ndarray  # bool: a variable op or a frozen weight Const
    entries: dict[int, int]  # ops of a copy called on a tensor with weights -> the slot read as DATA

    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        """Every data edge as (source, destination) node-id arrays."""
        cached = self.__dict__.get("_edges")
        if cached is None:
            in_offsets, in_nodes, _, _, _ = self.graph.edge_arrays()
            dst = np.repeat(np.arange(len(self.graph), dtype=np.int64), np.diff(in_offsets))
            cached = self.__dict__["_edges"] = (in_nodes, dst)
        return cached

    def class_members(self, classes: Iterable[int], among: np.ndarray | None = None) -> dict[int, list[int]]:
        """Node ids of each abstract class in ``classes``, optionally only where ``among`` is true."""
        wanted = np.fromiter(sorted(set(classes)), dtype=np.int64)
        mask = np.isin(self.abstract, wanted)
        if among is not None:
            mask &= among
        out: dict[int, list[int]] = {int(c): [] for c in wanted}
        for i in np.flatnonzero(mask).tolist():
            out[int(self.abstract[i])].append(i)
        return out


def graph_structure(graph: Graph, functions: FunctionHashes | None = None) -> GraphStructure:
    """Hash every node of ``graph`` and find its copy nodes and their components."""
    n = len(graph)
    local = Interner()
    fast = wire_local_keys(graph, functions, local, native.Spans() if native is not None and USE_NATIVE else None)
    if fast is not None:
        local_a, local_e, kinds, weight = fast
    else:
        local_a, local_e, kinds = [], [], []
        weight = np.zeros(n, dtype=bool)
        for i in range(n):
            ka, ke, kind = local_keys(graph, i, functions)
            local_a.append(local(ka))
            local_e.append(local(ke) if ke is not ka else local_a[-1])
            kinds.append(kind)
            if kind == PARAM and ka[0] == "var":
                weight[i] = True
    table_a, table_e = _tables()
    if isinstance(table_a, dict):
        local_a, local_e, kinds = (x.tolist() if isinstance(x, np.ndarray) else x
                                   for x in (local_a, local_e, kinds))
    else:
        local_a, local_e, kinds = (np.asarray(x, dtype=np.int64) for x in (local_a, local_e, kinds))
    kinds_a: list[int] = []
    kinds_e: list[int] = []
    ca, ce, order, entries = _classify(graph, local_a, local_e, table_a, table_e, kinds_a, kinds_e,
                                       kinds_local=kinds, reroot=True)
    del local_a, local_e, kinds, table_a, table_e  # a million nodes' keys: gone before the next passes
    abstract = np.asarray(ca, dtype=np.int64)
    exact = np.asarray(ce, dtype=np.int64)
    order_arr = np.asarray(order, dtype=np.int64)
    del ca, ce, order
    position = np.empty(n, dtype=np.int64)
    position[order_arr] = np.arange(n, dtype=np.int64)
    has_inputs = np.diff(graph.edge_arrays()[0]) > 0
    sizes = np.bincount(abstract, minlength=1)
    copy = has_inputs & (abstract != DATA) & (sizes[abstract] >= 2)
    component = components(graph, copy, entries)
    comp_size = np.zeros(n, dtype=np.int64)
    members = component >= 0
    if members.any():
        counts = np.bincount(component[members], minlength=n)
        comp_size[members] = counts[component[members]]
    return GraphStructure(graph, abstract, exact, order_arr, position, copy, component, comp_size, weight, entries)
