"""Canonical structural hashes of graph nodes, and the duplicated model copies they reveal.

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
  preprocessed image therefore hash alike from their first weighted op on.
- **Weights.** Two classes are kept per node: the *exact* class counts the identity of each
  variable read (its node), the *abstract* class only its dtype and shape. Copies with equal exact
  classes read the same variables (weight-sharing duplicates); copies equal only in their
  abstract classes read different variables of identical shapes (instance duplicates). In a
  frozen graph, a weight ``Const`` (a float tensor of 2+ elements, or any float read through an
  ``Identity``, which is what freezing makes of ``ReadVariableOp``) is hashed like the variable it
  replaced; other constants count by value.

A *copy node* is a node with data inputs, not ``DATA``, whose abstract class has two or more
members. Copy nodes joined by data edges form components: a maximal duplicated region is such a
component, or, once reachability is known, the unreached part of one (see ``dead_copies``).

Everything here is linear in nodes plus edges: one topological pass, dictionary interning of
small integer tuples, union-find, and numpy over whole columns. Nothing compares subgraphs pairwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np

from graphaudit.artifact import PASS_THROUGH_OPS, VARIABLE_OPS, Graph, _split_ref

if TYPE_CHECKING:
    from graphaudit.analysis.reachability import Reach
    from graphaudit.artifact import Artifact

#: The class of every node computed from graph inputs alone.
DATA = 0

#: Ops whose output is an input of the graph: what feeds a model copy from outside.
DATA_SOURCE_OPS = frozenset({
    "Placeholder", "PlaceholderV2", "PlaceholderWithDefault", "IteratorGetNext", "IteratorGetNextSync",
    "IteratorGetNextAsOptional", "QueueDequeue", "QueueDequeueV2", "QueueDequeueMany", "QueueDequeueManyV2",
    "QueueDequeueUpTo", "QueueDequeueUpToV2", "ReaderRead", "ReaderReadV2",
})
PLACEHOLDER_OPS = frozenset({"Placeholder", "PlaceholderV2", "PlaceholderWithDefault"})
#: Attrs that carry names or placement, not structure.
IGNORED_ATTRS = frozenset({"shared_name", "container", "debug_name", "allowed_devices"})
#: Loop back edges: a ``Merge`` fed by a ``NextIteration`` would make the graph cyclic.
_BACK_EDGE_OPS = frozenset({"NextIteration", "RefNextIteration"})
# tensorflow DataType enum values of floating types, and byte sizes of the common dtypes.
_FLOAT_TYPES = frozenset({1, 2, 14, 19})  # float, double, bfloat16, half
_DTYPE_BYTES = {1: 4, 2: 8, 3: 4, 4: 1, 5: 2, 6: 1, 9: 8, 10: 1, 14: 2, 17: 2, 19: 2, 22: 4, 23: 8}
# Read-like ops a weight passes through before a model copy uses it.
_WEIGHT_PATH_OPS = PASS_THROUGH_OPS | {"Switch", "RefSwitch", "Enter", "RefEnter"}

_PARAM, _CONST = 2, 1  # kinds of a class besides DATA


class _Interner:
    """Small integer ids for hashable keys, shared by all graphs and function bodies of an artifact."""

    def __init__(self) -> None:
        self.table: dict[object, int] = {}

    def __call__(self, key: object) -> int:
        got = self.table.get(key)
        if got is None:
            got = self.table[key] = len(self.table)
        return got


class FunctionHashes:
    """Structural ids of the function bodies of a library, so calls compare by body, not by name."""

    def __init__(self, library: Mapping[str, Graph]) -> None:
        self.library = library
        self.local = _Interner()
        self.ids: dict[str, int] = {}
        self._table: dict[tuple, int] = {}
        self._kinds: list[int] = []
        for name in _callees_first(library):
            self.ids[name] = self._body_id(library[name])

    def key(self, name: str) -> object:
        got = self.ids.get(name)
        return ("fn", got) if got is not None else ("fn-name", name)

    def _body_id(self, body: Graph) -> int:
        local = [self.local(_local_keys(body, i, self)[0]) for i in range(len(body))]
        # One table for both kinds of class: inside a body, every value comes from the arguments.
        classes, _, _, _ = _classify(body, local, local, self._table, self._table, self._kinds, self._kinds,
                                  kinds_local=[_PARAM] * len(body))
        rets = []
        for out_name in sorted(body.ret_map):
            ref = body.ret_map[out_name]
            node, port = _split_ref(ref, True)
            i = body.index.get(node)
            rets.append((out_name, classes[i] if i is not None else -1, port))
        return self.local(("body", len(body.arg_names), tuple(rets)))


def _callees_first(library: Mapping[str, Graph]) -> list[str]:
    """Function names ordered so that every function comes after the functions it calls."""
    order: list[str] = []
    state: dict[str, int] = {}
    for start in sorted(library):
        if start in state:
            continue
        stack = [(start, iter(sorted({c for i in range(len(library[start]))
                                      for c in library[start].function_calls(i, library)})))]
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
                body = library[nxt]
                stack.append((nxt, iter(sorted({c for i in range(len(body)) for c in body.function_calls(i, library)}))))
    return order


# ------------------------------------------------------------------------------ local keys

def _shape_key(shape) -> tuple:
    if shape.unknown_rank:
        return ("?",)
    dims = [d.size for d in shape.dim]
    # The batch dimension (first) differs between a copy fed one image and one fed a batch.
    return (len(dims), *dims[1:])


def _attr_key(av, functions: FunctionHashes | None) -> object:
    which = av.WhichOneof("value")
    if which == "shape":
        return ("shape", _shape_key(av.shape))
    if which == "func":
        return _func_key(av.func, functions)
    if which == "list":
        lst = av.list
        if len(lst.shape):
            return ("shapes", tuple(_shape_key(s) for s in lst.shape))
        if len(lst.func):
            return ("funcs", tuple(_func_key(f, functions) for f in lst.func))
    return av.SerializeToString(deterministic=True)


def _func_key(func, functions: FunctionHashes | None) -> object:
    head = functions.key(func.name) if functions is not None else ("fn-name", func.name)
    if not len(func.attr):
        return head
    return (head, tuple(sorted((k, _attr_key(v, functions)) for k, v in func.attr.items()
                               if not k.startswith("_"))))


def _attrs_key(nd, functions: FunctionHashes | None, skip: frozenset[str] = frozenset()) -> tuple:
    return tuple(sorted((k, _attr_key(v, functions)) for k, v in nd.attr.items()
                        if k[0] != "_" and k not in IGNORED_ATTRS and k not in skip))


def _tensor_dtype_shape(av) -> tuple[int, tuple[int, ...]]:
    t = av.tensor
    return t.dtype, tuple(d.size for d in t.tensor_shape.dim)


def _is_weight_const(graph: Graph, i: int) -> bool:
    av = graph.attr(i, "value")
    if av is None:
        return False
    dtype, dims = _tensor_dtype_shape(av)
    if dtype not in _FLOAT_TYPES:
        return False
    size = int(np.prod(dims)) if dims else 1
    if size >= 2:
        return True
    return any(graph.ops[j] == "Identity" for j in graph.consumers[i])


def _local_keys(graph: Graph, i: int, functions: FunctionHashes | None) -> tuple[object, object, int]:
    """(abstract key, exact key, kind) of node ``i`` on its own: op and attrs, or a leaf's identity."""
    op = graph.ops[i]
    nd = graph.defs[i]
    if nd is None:  # a function argument
        k = ("arg", i)  # arguments are the first nodes of a body, in signature order
        return k, k, _PARAM
    if op in DATA_SOURCE_OPS:
        return ("data",), ("data",), DATA
    if op in VARIABLE_OPS:
        av = graph.attr(i, "dtype")
        shape = graph.attr(i, "shape")
        abstract = ("var", av.type if av is not None else 0, _full_shape(shape))
        return abstract, ("var-node", graph.names[i]), _PARAM
    if op == "Const":
        if _is_weight_const(graph, i):
            dtype, dims = _tensor_dtype_shape(graph.attr(i, "value"))
            return ("var", dtype, dims), ("var-node", graph.names[i]), _PARAM
        key = (op, _attrs_key(nd, functions))
        return key, key, _CONST
    key = (op, _attrs_key(nd, functions))
    if not graph.inputs[i] and not (graph.function_calls(i, functions.library) if functions else ()):
        # A stateful leaf (a lookup table, a queue, a NoOp): its identity counts, like a variable's.
        return key, ("leaf-node", graph.names[i]), _PARAM
    return key, key, _PARAM if _calls_any(graph, i, functions) else _CONST


def _calls_any(graph: Graph, i: int, functions: FunctionHashes | None) -> bool:
    return bool(functions is not None and graph.function_calls(i, functions.library))


def _full_shape(av) -> tuple:
    if av is None:
        return ("?",)
    shape = av.shape
    return ("?",) if shape.unknown_rank else tuple(d.size for d in shape.dim)


# ------------------------------------------------------------------------------ classes

def topological_order(graph: Graph) -> list[int]:
    """Node ids with every node after its data inputs (loop back edges ignored); ties by id."""
    n = len(graph)
    inputs = graph.inputs
    ops = graph.ops
    back = {i for op in _BACK_EDGE_OPS for i in graph.by_op.get(op, ())}
    indegree = [0] * n
    consumers: list[list[int]] = [[] for _ in range(n)]
    for i in range(n):
        ins = inputs[i]
        if ins:
            for j in ins:
                if j in back and ops[i] in ("Merge", "RefMerge"):
                    continue
                indegree[i] += 1
                consumers[j].append(i)
    order = [i for i in range(n) if indegree[i] == 0]
    k = 0
    while k < len(order):
        for c in consumers[order[k]]:
            indegree[c] -= 1
            if indegree[c] == 0:
                order.append(c)
        k += 1
    if len(order) < n:  # a cycle that is not a loop back edge: malformed, but keep going
        seen = set(order)
        order.extend(i for i in range(n) if i not in seen)
    return order


class _Hasher:
    """Bottom-up interning of node keys into abstract and exact class ids; ids index ``kinds_*``.

    A new class takes its kind from the node's own kind (a data source, a weight) or else from
    its inputs: a weight upstream makes it PARAM, otherwise a graph input makes it DATA (and it
    collapses into class 0), otherwise it is a constant expression.
    """

    def __init__(self, graph: Graph, local_a: Sequence[int], local_e: Sequence[int], kinds_local: Sequence[int],
                 table_a: dict, table_e: dict, kinds_a: list[int], kinds_e: list[int]) -> None:
        n = len(graph)
        self.graph = graph
        self.local_a, self.local_e, self.kinds_local = local_a, local_e, kinds_local
        self.table_a, self.table_e, self.kinds_a, self.kinds_e = table_a, table_e, kinds_a, kinds_e
        self.ports = graph.input_ports
        back = {i for op in _BACK_EDGE_OPS for i in graph.by_op.get(op, ())}
        # A back edge reads "the previous iteration": a fixed marker (-1), the same in every copy.
        self.hin: Sequence[Sequence[int]] = graph.inputs
        if back:
            self.hin = [tuple(n if j in back else j for j in ins) for ins in graph.inputs]
        self.ca = [-1] * (n + 1)
        self.ce = [-1] * (n + 1)
        if not kinds_a:
            kinds_a.append(DATA)  # class 0 is DATA
        if not kinds_e:
            kinds_e.append(DATA)

    def run(self, order: Iterable[int], override: Mapping[int, int] | None = None) -> None:
        """Class the nodes of ``order``; ``override`` maps a node to an input slot read as DATA."""
        ca, ce, hin, ports = self.ca, self.ce, self.hin, self.ports
        local_a, local_e, kinds_local = self.local_a, self.local_e, self.kinds_local
        table_a, table_e, kinds_a, kinds_e = self.table_a, self.table_e, self.kinds_a, self.kinds_e
        for i in order:
            ins = hin[i]
            if ins:
                if override is not None and i in override:
                    slot = override[i]
                    ka = (local_a[i], *[DATA if s == slot else ca[j] for s, j in enumerate(ins)], *ports[i])
                    ke = (local_e[i], *[DATA if s == slot else ce[j] for s, j in enumerate(ins)], *ports[i])
                else:
                    ka = (local_a[i], *[ca[j] for j in ins], *ports[i])
                    ke = (local_e[i], *[ce[j] for j in ins], *ports[i])
            else:
                ka = (local_a[i],)
                ke = (local_e[i],)
            a = table_a.get(ka)
            if a is None:
                kind = kinds_local[i]
                if kind == _CONST and ins:
                    sub = {kinds_a[c] if c >= 0 else _CONST for c in ka[1:1 + len(ins)]}
                    kind = _PARAM if _PARAM in sub else DATA if DATA in sub else _CONST
                if kind == DATA:
                    a = DATA
                else:
                    a = len(kinds_a)
                    kinds_a.append(kind)
                table_a[ka] = a
            ca[i] = a
            e = table_e.get(ke)
            if e is None:
                if a == DATA:
                    e = DATA
                else:
                    e = len(kinds_e)
                    kinds_e.append(kinds_a[a])
                table_e[ke] = e
            ce[i] = e

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
        ca, ce, hin, ports, local_e = self.ca, self.ce, self.hin, self.ports, self.local_e
        ops = graph.ops
        # DATA nodes computed from a real graph input (not Keras' learning phase).
        fed = bytearray(n + 1)
        stack = [i for op in DATA_SOURCE_OPS - {"PlaceholderWithDefault"} for i in graph.by_op.get(op, ())]
        for i in stack:
            fed[i] = 1
        consumers = graph.consumers
        while stack:
            j = stack.pop()
            for c in consumers[j]:
                if not fed[c] and ca[c] == DATA and ops[c] != "PlaceholderWithDefault":
                    fed[c] = 1
                    stack.append(c)
        entry_classes: set[tuple[int, int]] = set()
        entry_slots: dict[int, set[int]] = {}
        for c in set(consumers_of_fed(graph, fed)):
            if ca[c] == DATA:
                continue
            for s, j in enumerate(hin[c]):
                if fed[j]:
                    entry_classes.add((ce[c], s))
                    entry_slots.setdefault(local_e[c], set()).add(s)
        if not entry_classes:
            return {}
        table_e = self.table_e
        out: dict[int, int] = {}
        for i in range(n):
            slots = entry_slots.get(local_e[i])
            if slots is None or ca[i] == DATA:
                continue
            ins = hin[i]
            for s in slots:
                if s >= len(ins) or ca[ins[s]] == DATA:
                    continue
                key = (local_e[i], *[DATA if t == s else ce[j] for t, j in enumerate(ins)], *ports[i])
                got = table_e.get(key)
                if got is not None and (got, s) in entry_classes:
                    out[i] = s
                    break
        return out


def consumers_of_fed(graph: Graph, fed: bytearray) -> Iterable[int]:
    consumers = graph.consumers
    for j in range(len(graph)):
        if fed[j]:
            yield from consumers[j]


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
    hasher.run(order)
    override: dict[int, int] = {}
    if reroot:
        override = hasher.entries_fed_elsewhere()
        if override:
            below = _downstream(graph, override)
            hasher.run((i for i in order if below[i]), override)
    return hasher.ca[:n], hasher.ce[:n], list(order), override


def _downstream(graph: Graph, starts: Iterable[int]) -> bytearray:
    """Nodes reachable from ``starts`` over data and control edges, the starts included."""
    marks = bytearray(len(graph))
    stack = list(starts)
    for i in stack:
        marks[i] = 1
    consumers = graph.consumers
    while stack:
        j = stack.pop()
        for c in consumers[j]:
            if not marks[c]:
                marks[c] = 1
                stack.append(c)
    return marks


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
            inputs = self.graph.inputs
            dst = np.fromiter((i for i, ins in enumerate(inputs) for _ in ins), dtype=np.int64)
            src = np.fromiter((j for ins in inputs for j in ins), dtype=np.int64, count=len(dst))
            cached = self.__dict__["_edges"] = (src, dst)
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
    local = _Interner()
    local_a: list[int] = []
    local_e: list[int] = []
    kinds: list[int] = []
    weight = np.zeros(n, dtype=bool)
    for i in range(n):
        ka, ke, kind = _local_keys(graph, i, functions)
        local_a.append(local(ka))
        local_e.append(local(ke) if ke is not ka else local_a[-1])
        kinds.append(kind)
        if kind == _PARAM and ka[0] == "var":
            weight[i] = True
    table_a: dict = {}
    table_e: dict = {}
    kinds_a: list[int] = []
    kinds_e: list[int] = []
    ca, ce, order, entries = _classify(graph, local_a, local_e, table_a, table_e, kinds_a, kinds_e,
                                       kinds_local=kinds, reroot=True)
    abstract = np.asarray(ca, dtype=np.int64)
    exact = np.asarray(ce, dtype=np.int64)
    order_arr = np.asarray(order, dtype=np.int64)
    position = np.empty(n, dtype=np.int64)
    position[order_arr] = np.arange(n, dtype=np.int64)
    has_inputs = np.fromiter((bool(x) for x in graph.inputs), dtype=bool, count=n)
    sizes = np.bincount(abstract, minlength=1)
    copy = has_inputs & (abstract != DATA) & (sizes[abstract] >= 2)
    component = _components(graph, copy, entries)
    comp_size = np.zeros(n, dtype=np.int64)
    members = component >= 0
    if members.any():
        counts = np.bincount(component[members], minlength=n)
        comp_size[members] = counts[component[members]]
    return GraphStructure(graph, abstract, exact, order_arr, position, copy, component, comp_size, weight, entries)


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _components(graph: Graph, mask: np.ndarray, entries: Mapping[int, int] | None = None) -> np.ndarray:
    """Union-find over data edges between nodes of ``mask``.

    A read shared by several copies (a TF1 ref variable's single ``V/read``) would join them
    into one component; a node whose data inputs are all leaves and that feeds several nodes
    is therefore left out of the joins. So is the edge into a copy's first op from the tensor
    it was called on (``entries``): that tensor belongs to whatever computed it.
    """
    n = len(graph)
    inputs = graph.inputs
    parent = list(range(n))
    idx = np.flatnonzero(mask).tolist()
    flags = mask.tolist()
    consumers = graph.consumers
    entries = entries or {}
    for i in idx:
        cut = entries.get(i, -1)
        for slot, j in enumerate(inputs[i]):
            if not flags[j] or slot == cut:
                continue
            if len(consumers[j]) > 1 and all(not inputs[k] for k in inputs[j]):
                continue  # a shared read
            ri, rj = _find(parent, i), _find(parent, j)
            if ri != rj:
                if ri < rj:
                    parent[rj] = ri
                else:
                    parent[ri] = rj
    out = np.full(n, -1, dtype=np.int64)
    for i in idx:
        out[i] = _find(parent, i)
    return out


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
    sink = _sinks(graph)
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
    sink = _sinks(gs.graph)
    data_sinks = sink & (gs.abstract == DATA)
    if not (sink & ~data_sinks).any():
        return []
    return np.flatnonzero(data_sinks).tolist()


def _sinks(graph: Graph) -> np.ndarray:
    return np.fromiter((not c for c in graph.consumers), dtype=bool, count=len(graph))


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
    comp = _components(graph, dead, gs.entries)
    roots, counts = np.unique(comp[dead], return_counts=True)
    big = roots[counts >= min_ops]
    if not len(big):
        return []
    region_of = {int(r): [] for r in big}
    for i in np.flatnonzero(np.isin(comp, big)).tolist():
        region_of[int(comp[i])].append(i)
    regions = [sorted(nodes) for _, nodes in sorted(region_of.items())]
    anchors = [max(nodes, key=lambda i: (gs.position[i], i)) for nodes in regions]
    reached_classmates = gs.class_members((int(gs.abstract[a]) for a in anchors), among=reached)
    weights_reached = _reached_weights(gs, reached)
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
        unused = tuple(w for w in dead_copy.weights if w not in weights_reached)
        sizes = _weight_sizes(graph, gs, artifact)
        unused_params = sum(sizes[w][0] for w in unused)
        unused_bytes = sum(sizes[w][1] for w in unused)
        inputs = _feeding_inputs(graph, gs, nodes, reached)
        region = set(nodes)
        # The region's last ops, the deepest (the copy's output) first.
        tops = sorted((i for i in nodes if not any(c in region for c in graph.consumers[i])),
                      key=lambda i: (-gs.position[i], i))
        consumed = any(graph.consumers[i] for i in tops)
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


def _reached_weights(gs: GraphStructure, reached: np.ndarray) -> set[str]:
    names = gs.graph.names
    return {names[i] for i in np.flatnonzero(gs.weight & reached).tolist()}


def _copy(artifact: "Artifact", graph_name: str, gs: GraphStructure, nodes: list[int]) -> Copy:
    from graphaudit.names import common_scope

    graph = gs.graph
    names = [graph.names[i] for i in sorted(nodes)]
    weights = _weights_read(graph, gs, nodes)
    sizes = _weight_sizes(graph, gs, artifact)
    scope = common_scope(names)
    return Copy(graph=graph_name, nodes=tuple(names), scope=scope, label=_label(names, scope),
                weights=tuple(weights), params=sum(sizes[w][0] for w in weights),
                nbytes=sum(sizes[w][1] for w in weights))


def _label(names: Sequence[str], scope: str) -> str:
    if scope:
        return f"`{scope}/`"
    heads = [n.split("/", 1)[0] for n in names if "/" in n] or list(names)
    first, last = heads[0], heads[-1]
    return f"`{first}/`" if first == last else f"`{first}/` ... `{last}/`"


def _weights_read(graph: Graph, gs: GraphStructure, nodes: Iterable[int]) -> list[str]:
    """Weights that ``nodes`` read, directly or through reads, switches and identities."""
    found: dict[int, None] = {}
    weight = gs.weight
    ops = graph.ops
    for i in nodes:
        for j in graph.inputs[i]:
            k, hops = j, 0
            while not weight[k] and ops[k] in _WEIGHT_PATH_OPS and graph.inputs[k] and hops < 8:
                k = graph.inputs[k][0]
                hops += 1
            if weight[k]:
                found[k] = None
    return [graph.names[k] for k in sorted(found)]


def _weight_sizes(graph: Graph, gs: GraphStructure, artifact: "Artifact") -> dict[str, tuple[int, int]]:
    """(params, bytes) of each weight node of the graph, from its shape and dtype attrs."""
    cache = getattr(gs, "_sizes", None)
    if cache is not None:
        return cache
    out: dict[str, tuple[int, int]] = {}
    for i in np.flatnonzero(gs.weight).tolist():
        if graph.ops[i] == "Const":
            dtype, dims = _tensor_dtype_shape(graph.attr(i, "value"))
        else:
            dt = graph.attr(i, "dtype")
            dtype = dt.type if dt is not None else 0
            shape = _full_shape(graph.attr(i, "shape"))
            dims = () if shape == ("?",) else shape
        if any(d < 0 for d in dims):
            size = 0
        else:
            size = int(np.prod(dims, dtype=np.int64)) if dims else 1
        out[graph.names[i]] = (size, size * _DTYPE_BYTES.get(dtype, 4))
    gs._sizes = out  # type: ignore[attr-defined]
    return out


def _feeding_inputs(graph: Graph, gs: GraphStructure, nodes: Sequence[int], reached: np.ndarray) -> list[int]:
    """Unreached graph inputs upstream of ``nodes``, through unreached DATA nodes."""
    stack = [j for i in nodes for j in graph.inputs[i] if gs.abstract[j] == DATA and not reached[j]]
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
