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
component, or, once reachability is known, the unreached part of one (see ``dead_copies``).

Everything here is linear in nodes plus edges: one topological pass (ranks relaxed with numpy,
Kahn's algorithm as the fallback), dictionary interning of small integer tuples, components by
hooking and pointer jumping, and numpy over whole columns. Nothing compares subgraphs pairwise.
For a graph read column-wise (formats/wire.py), attrs are read as bytes off the wire; only nodes
whose attrs need interpreting (shapes, functions, weight constants) go through protobuf.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np

from graphaudit.artifact import PASS_THROUGH_OPS, VARIABLE_OPS, AttrColumns, AttrKind, Graph, _split_ref

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
    """Integer ids for hashable keys: equal keys, equal ids (ids are unique, not dense)."""

    def __init__(self) -> None:
        self.table: dict[object, int] = {}
        self._next = itertools.count()

    def __call__(self, key: object) -> int:
        got = self.table.get(key)
        if got is None:
            got = self.table[key] = next(self._next)
        return got

    def many(self, keys: Iterable[object]) -> list[int]:
        """Ids of many keys at once, without a Python-level loop."""
        return list(map(self.table.setdefault, keys, self._next))


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


#: A float Const whose serialized value is at least this big is taken for a (frozen) weight.
WEIGHT_CONST_BYTES = 64


#: What freezing makes of the ops that read a variable: a frozen weight feeds one of these.
_FROZEN_READ_OPS = frozenset({"Identity", "Switch", "RefSwitch", "Enter", "RefEnter"})


def _is_weight_const(graph: Graph, i: int) -> bool:
    """A float Const that is big, or that is read like a variable (an Identity, a cond's Switch)."""
    av = graph.attr(i, "value")
    if av is None:
        return False
    dtype = av.tensor.dtype
    if dtype not in _FLOAT_TYPES:
        return False
    if len(av.SerializeToString()) >= WEIGHT_CONST_BYTES:
        return True
    return any(graph.ops[j] in _FROZEN_READ_OPS and i in graph.inputs[j] for j in graph.consumers[i])


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


def _wire_local_keys(graph: Graph, functions: FunctionHashes | None, local: "_Interner"
                     ) -> tuple[list[int], list[int], list[int], np.ndarray] | None:
    """Local ids of every node from its attr entries on the wire (formats/wire.py), or None.

    A node's attrs count as the bytes of its kept entries (not ``_``-prefixed, not a naming attr)
    in key order. Nodes whose attrs need reading (shapes, functions, weight constants) go through
    :func:`_local_keys`, like every node of a graph read node by node.
    """
    w = graph.wire_attrs
    if w is None:
        return None
    n = len(graph)
    buf = w.buf
    codes, table = graph.op_codes()
    library = functions.library if functions is not None else {}
    op_kind = np.array([_op_kind(op, library) for op in table] or [0], dtype=np.int64)
    node_kind = op_kind[codes] if n else np.zeros(0, dtype=np.int64)

    is_key = w.has_key
    keep = ~w.private
    for name in IGNORED_ATTRS:
        keep &= ~is_key(name)
    # Shapes and functions need reading: batch dimensions are ignored, function bodies compared.
    special = keep & np.isin(w.kind, _READ_KINDS)
    node_special = np.bincount(w.node[special], minlength=n) > 0
    node_special &= node_kind != _OP_VARIABLE  # a variable's shape is read below, whole

    # Kept entries in key order? (TensorFlow writes maps sorted; a node that is not gets sorted here.)
    ke = np.flatnonzero(keep)
    kn, kp, kl = w.node[ke], w.key_prefix[ke], w.key_len[ke]
    ks, kend = w.start[ke], w.end[ke]
    same = kn[1:] == kn[:-1]
    down = same & ((kp[1:] < kp[:-1]) | ((kp[1:] == kp[:-1]) & (kl[1:] < kl[:-1])))
    unsorted = np.bincount(kn[1:][down], minlength=n) > 0
    begins = np.ones(len(ke), dtype=bool)
    begins[1:] = ~(same & (ks[1:] == kend[:-1]))
    runs = np.bincount(kn[begins], minlength=n)
    run_idx = np.flatnonzero(begins)
    run_last = np.append(run_idx[1:] - 1, len(ke) - 1) if len(run_idx) else run_idx
    run_node = kn[run_idx]
    run_s, run_e = ks[run_idx], kend[run_last]
    # Runs are grouped by node in node order: a node's first run is where its id first appears.
    first_run = np.searchsorted(run_node, np.arange(n))
    found = first_run < len(run_node)
    found[found] = run_node[first_run[found]] == np.flatnonzero(found)
    first_run[~found] = -1
    s1 = np.zeros(n, dtype=np.int64)
    e1 = np.zeros(n, dtype=np.int64)
    s2 = np.zeros(n, dtype=np.int64)
    e2 = np.zeros(n, dtype=np.int64)
    has1 = first_run >= 0
    s1[has1], e1[has1] = run_s[first_run[has1]], run_e[first_run[has1]]
    has2 = runs >= 2
    s2[has2], e2[has2] = run_s[first_run[has2] + 1], run_e[first_run[has2] + 1]
    loose = unsorted | (runs > 2)

    # Consts: float, and big or read through an Identity, are weights.
    in_offsets, in_nodes, _, _, _ = graph.edge_arrays()
    dst = np.repeat(np.arange(n), np.diff(in_offsets))
    read_codes = [c for c, op in enumerate(table) if op in _FROZEN_READ_OPS]
    read_by_identity = np.zeros(n, dtype=bool)
    read_by_identity[in_nodes[np.isin(codes[dst], read_codes)]] = True
    dtype_entry = is_key("dtype")
    value_entry = is_key("value")
    node_dtype = np.zeros(n, dtype=np.int64)
    node_dtype[w.node[dtype_entry]] = w.type_code[dtype_entry]
    value_size = np.zeros(n, dtype=np.int64)
    value_size[w.node[value_entry]] = (w.value_end - w.value_start)[value_entry]
    is_const = node_kind == _OP_CONST
    weight_const = is_const & np.isin(node_dtype, list(_FLOAT_TYPES)) & (
        (value_size >= WEIGHT_CONST_BYTES) | read_by_identity)

    has_inputs = np.diff(in_offsets) > 0
    is_variable = node_kind == _OP_VARIABLE
    slow = node_special | weight_const | (node_kind == _OP_CALLS)
    slow |= is_variable & (np.bincount(w.node[dtype_entry], minlength=n) == 0)

    names = graph.names
    local_a = np.zeros(n, dtype=np.int64)
    kinds = np.full(n, _CONST, dtype=np.int64)
    weight = np.zeros(n, dtype=bool)
    is_data = node_kind == _OP_DATA
    local_a[is_data] = local(("data",))
    kinds[is_data] = DATA
    local_e = local_a.copy()

    # Nodes whose attrs need reading: through the protobuf API.
    for i in np.flatnonzero(slow & ~is_data).tolist():
        ka, kx, kd = _local_keys(graph, i, functions)
        local_a[i] = local(ka)
        local_e[i] = local(kx) if kx is not ka else local_a[i]
        kinds[i] = kd
        weight[i] = kd == _PARAM and ka[0] == "var"

    # Variables: dtype and shape; their identity is their node.
    variables = np.flatnonzero(is_variable & ~slow)
    if len(variables):
        entry_of = np.full(n, -1, dtype=np.int64)
        entry_of[w.node[dtype_entry]] = np.flatnonzero(dtype_entry)
        shape_of = np.full(n, -1, dtype=np.int64)
        shape_entry = is_key("shape")
        shape_of[w.node[shape_entry]] = np.flatnonzero(shape_entry)
        d, sh = entry_of[variables], shape_of[variables]
        dtype_bytes = _slices(buf, w.start[d], w.end[d])
        shape_bytes = _slices(buf, np.where(sh >= 0, w.start[sh], 0), np.where(sh >= 0, w.end[sh], 0))
        local_a[variables] = local.many(zip(itertools.repeat("var"), dtype_bytes, shape_bytes))
        local_e[variables] = local.many(zip(itertools.repeat("var-node"), (names[i] for i in variables.tolist())))
        kinds[variables] = _PARAM
        weight[variables] = True

    # Everything else: op and attr bytes, the entries' runs joined (sorted first when not in order).
    rest = ~is_data & ~slow & ~is_variable
    tight = np.flatnonzero(rest & ~loose)
    attrs = _slices(buf, s1[tight], e1[tight])
    two = np.flatnonzero(has2[tight])
    if len(two):
        second = _slices(buf, s2[tight[two]], e2[tight[two]])
        for k, extra in zip(two.tolist(), second):
            attrs[k] += extra
    local_a[tight] = local.many(zip(codes[tight].tolist(), attrs))
    offsets = w.offsets.tolist()
    keep_list = keep.tolist()
    starts, ends = w.start.tolist(), w.end.tolist()
    prefixes, lengths = w.key_prefix.tolist(), w.key_len.tolist()
    code_list = codes.tolist()
    for i in np.flatnonzero(rest & loose).tolist():
        entries = sorted((prefixes[k], lengths[k], buf[starts[k]:ends[k]])
                         for k in range(offsets[i], offsets[i + 1]) if keep_list[k])
        local_a[i] = local((code_list[i], b"".join(e[2] for e in entries)))
    local_e[rest] = local_a[rest]
    # A stateful leaf (a lookup table, a queue, a NoOp): its identity counts, like a variable's.
    leaves = np.flatnonzero(rest & ~has_inputs & (node_kind != _OP_CONST))
    local_e[leaves] = local.many(zip(itertools.repeat("leaf-node"), (names[i] for i in leaves.tolist())))
    kinds[leaves] = _PARAM
    return local_a.tolist(), local_e.tolist(), kinds.tolist(), weight


def _slices(buf: bytes, starts: np.ndarray, ends: np.ndarray) -> list[bytes]:
    """``buf[s:e]`` for each pair, without a Python-level loop."""
    return list(map(buf.__getitem__, map(slice, starts.tolist(), ends.tolist())))


_OP_GENERIC, _OP_DATA, _OP_VARIABLE, _OP_CONST, _OP_CALLS = range(5)
_READ_KINDS = (AttrKind.SHAPE, AttrKind.FUNC, AttrKind.LIST_SHAPE, AttrKind.LIST_FUNC)


def _op_kind(op: str, library: Mapping[str, Graph]) -> int:
    if op in DATA_SOURCE_OPS:
        return _OP_DATA
    if op in VARIABLE_OPS:
        return _OP_VARIABLE
    if op == "Const":
        return _OP_CONST
    if op in library:
        return _OP_CALLS
    return _OP_GENERIC


# ------------------------------------------------------------------------------ classes

def topological_order(graph: Graph) -> list[int]:
    """Node ids with every node after its data inputs (loop back edges ignored).

    GraphDefs come nearly in creation order, so ranks start as node ids and are pushed past
    their inputs until no edge goes backwards; a graph that does not settle in a few dozen
    rounds is sorted by Kahn's algorithm instead.
    """
    n = len(graph)
    in_offsets, in_nodes, _, _, _ = graph.edge_arrays()
    src, dst = _forward_edges(graph, in_offsets, in_nodes)
    rank = np.arange(n, dtype=np.int64)
    for _ in range(48):
        bad = rank[src] >= rank[dst]
        if not bad.any():
            return np.lexsort((np.arange(n), rank)).tolist()
        np.maximum.at(rank, dst[bad], rank[src[bad]] + 1)
    return _kahn(n, src, dst)


def _forward_edges(graph: Graph, in_offsets: np.ndarray, in_nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Data edges (source, destination), without the loop back edges into a Merge."""
    n = len(graph)
    dst = np.repeat(np.arange(n, dtype=np.int64), np.diff(in_offsets))
    src = in_nodes
    back = [i for op in _BACK_EDGE_OPS for i in graph.by_op.get(op, ())]
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
        in_offsets, in_nodes, in_ports, _, _ = graph.edge_arrays()
        back = [i for op in _BACK_EDGE_OPS for i in graph.by_op.get(op, ())]
        if back:
            # A back edge reads "the previous iteration": a fixed marker (-1), the same in every copy.
            in_nodes = np.where(np.isin(in_nodes, back), n, in_nodes)
        self.offsets = in_offsets.tolist()
        self.flat = in_nodes.tolist()
        self.flat_ports = in_ports.tolist()
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
        spelled out, as this loop runs once per node.
        """
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
                if kind == _CONST and arity:
                    sub = {kinds_a[c] if c >= 0 else _CONST for c in ka[1:1 + arity]}
                    kind = _PARAM if _PARAM in sub else DATA if DATA in sub else _CONST
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
        ops = graph.ops
        # DATA nodes computed from a real graph input (not Keras' learning phase).
        fed = bytearray(n + 1)
        stack = [i for op in DATA_SOURCE_OPS - {"PlaceholderWithDefault"} for i in graph.by_op.get(op, ())]
        for i in stack:
            fed[i] = 1
        consumers = graph.consumers
        fed_nodes = list(stack)
        while stack:
            j = stack.pop()
            for c in consumers[j]:
                if not fed[c] and ca[c] == DATA and ops[c] != "PlaceholderWithDefault":
                    fed[c] = 1
                    stack.append(c)
                    fed_nodes.append(c)
        entry_classes: set[tuple[int, int]] = set()
        entry_slots: dict[int, set[int]] = {}
        self._entries: list[tuple[int, int]] = []
        for c in sorted({c for j in fed_nodes for c in consumers[j]}):
            if ca[c] == DATA:
                continue
            for s, j in enumerate(self.inputs(c)):
                if fed[j]:
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
    local = _Interner()
    fast = _wire_local_keys(graph, functions, local)
    if fast is not None:
        local_a, local_e, kinds, weight = fast
    else:
        local_a, local_e, kinds = [], [], []
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
    has_inputs = np.diff(graph.edge_arrays()[0]) > 0
    sizes = np.bincount(abstract, minlength=1)
    copy = has_inputs & (abstract != DATA) & (sizes[abstract] >= 2)
    component = _components(graph, copy, entries)
    comp_size = np.zeros(n, dtype=np.int64)
    members = component >= 0
    if members.any():
        counts = np.bincount(component[members], minlength=n)
        comp_size[members] = counts[component[members]]
    return GraphStructure(graph, abstract, exact, order_arr, position, copy, component, comp_size, weight, entries)


def _components(graph: Graph, mask: np.ndarray, entries: Mapping[int, int] | None = None) -> np.ndarray:
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
    return graph.consumer_counts() == 0


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
            dtype, dims = _tensor_dtype_shape(graph.attr(i, "value"))
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
    shape = _full_shape(shape_av)
    return _size(dtype_av.type if dtype_av is not None else 0, () if shape == ("?",) else shape)


def _size(dtype: int, dims: Sequence[int]) -> tuple[int, int]:
    size = 0 if any(d < 0 for d in dims) else (int(np.prod(dims, dtype=np.int64)) if dims else 1)
    return size, size * _DTYPE_BYTES.get(dtype, 4)


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
