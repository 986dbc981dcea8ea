"""What a node is on its own, before its inputs count: its op and the attrs that matter, as an interned key."""

# Two keys per node: the *abstract* key counts a variable by its dtype and shape, the *exact* key by
# its identity (its node). TensorFlow's internal ``_``-prefixed attrs and the naming attrs never
# count; a shape attr drops its batch dimension; a function attr counts by the body's structural id
# (``FunctionIds``). A float ``Const`` that is big, or that is read like a variable, is a frozen
# weight and keys like the variable it replaced. For a graph read column-wise (formats/wire.py),
# keys come from the attr entries' bytes; only nodes whose attrs need interpreting (shapes,
# functions, weight constants) go through the NodeDef.

from __future__ import annotations

import itertools
from typing import Iterable, Mapping, Protocol

import numpy as np

from graphaudit.artifact import VARIABLE_OPS, AttrKind, Graph

#: The class of every node computed from graph inputs alone.
DATA = 0
PARAM, CONST = 2, 1  # kinds of a class besides DATA

#: Ops whose output is an input of the graph: what feeds a model copy from outside.
DATA_SOURCE_OPS = frozenset({
    "Placeholder", "PlaceholderV2", "PlaceholderWithDefault", "IteratorGetNext", "IteratorGetNextSync",
    "IteratorGetNextAsOptional", "QueueDequeue", "QueueDequeueV2", "QueueDequeueMany", "QueueDequeueManyV2",
    "QueueDequeueUpTo", "QueueDequeueUpToV2", "ReaderRead", "ReaderReadV2",
})
#: Attrs that carry names or placement, not structure.
IGNORED_ATTRS = frozenset({"shared_name", "container", "debug_name", "allowed_devices"})
# tensorflow DataType enum values of floating types, and byte sizes of the common dtypes.
FLOAT_TYPES = frozenset({1, 2, 14, 19})  # float, double, bfloat16, half
DTYPE_BYTES = {1: 4, 2: 8, 3: 4, 4: 1, 5: 2, 6: 1, 9: 8, 10: 1, 14: 2, 17: 2, 19: 2, 22: 4, 23: 8}


class FunctionIds(Protocol):
    """Structural ids of a function library's bodies (analysis/structure.py's FunctionHashes)."""

    library: Mapping[str, Graph]

    def key(self, name: str) -> object:
        """The key of a call to function ``name``: its body's id, or its name when unknown."""


class Interner:
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

    def reserve(self, count: int) -> int:
        """The first of ``count`` fresh ids no key holds, for keys interned elsewhere (in C)."""
        base = next(self._next)
        self._next = itertools.count(base + count)
        return base


def _shape_key(shape) -> tuple:
    if shape.unknown_rank:
        return ("?",)
    dims = [d.size for d in shape.dim]
    # The batch dimension (first) differs between a copy fed one image and one fed a batch.
    return (len(dims), *dims[1:])


def _attr_key(av, functions: FunctionIds | None) -> object:
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


def _func_key(func, functions: FunctionIds | None) -> object:
    head = functions.key(func.name) if functions is not None else ("fn-name", func.name)
    if not len(func.attr):
        return head
    return (head, tuple(sorted((k, _attr_key(v, functions)) for k, v in func.attr.items()
                               if not k.startswith("_"))))


def _attrs_key(nd, functions: FunctionIds | None, skip: frozenset[str] = frozenset()) -> tuple:
    return tuple(sorted((k, _attr_key(v, functions)) for k, v in nd.attr.items()
                        if k[0] != "_" and k not in IGNORED_ATTRS and k not in skip))


def tensor_dtype_shape(av) -> tuple[int, tuple[int, ...]]:
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
    if dtype not in FLOAT_TYPES:
        return False
    if len(av.SerializeToString()) >= WEIGHT_CONST_BYTES:
        return True
    return any(graph.ops[j] in _FROZEN_READ_OPS and i in graph.inputs[j] for j in graph.consumers[i])


def local_keys(graph: Graph, i: int, functions: FunctionIds | None) -> tuple[object, object, int]:
    """(abstract key, exact key, kind) of node ``i`` on its own: op and attrs, or a leaf's identity."""
    op = graph.ops[i]
    nd = graph.defs[i]
    if nd is None:  # a function argument
        k = ("arg", i)  # arguments are the first nodes of a body, in signature order
        return k, k, PARAM
    if op in DATA_SOURCE_OPS:
        return ("data",), ("data",), DATA
    if op in VARIABLE_OPS:
        av = graph.attr(i, "dtype")
        shape = graph.attr(i, "shape")
        abstract = ("var", av.type if av is not None else 0, full_shape(shape))
        return abstract, ("var-node", graph.names[i]), PARAM
    if op == "Const":
        if _is_weight_const(graph, i):
            dtype, dims = tensor_dtype_shape(graph.attr(i, "value"))
            return ("var", dtype, dims), ("var-node", graph.names[i]), PARAM
        key = (op, _attrs_key(nd, functions))
        return key, key, CONST
    key = (op, _attrs_key(nd, functions))
    if not graph.inputs[i] and not (graph.function_calls(i, functions.library) if functions else ()):
        # A stateful leaf (a lookup table, a queue, a NoOp): its identity counts, like a variable's.
        return key, ("leaf-node", graph.names[i]), PARAM
    return key, key, PARAM if _calls_any(graph, i, functions) else CONST


def _calls_any(graph: Graph, i: int, functions: FunctionIds | None) -> bool:
    return bool(functions is not None and graph.function_calls(i, functions.library))


def full_shape(av) -> tuple:
    if av is None:
        return ("?",)
    shape = av.shape
    return ("?",) if shape.unknown_rank else tuple(d.size for d in shape.dim)


def wire_local_keys(graph: Graph, functions: FunctionIds | None, local: "Interner", spans=None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Local ids of every node from its attr entries on the wire (formats/wire.py), or None.

    A node's attrs count as the bytes of its kept entries (not ``_``-prefixed, not a naming attr)
    in key order. Nodes whose attrs need reading (shapes, functions, weight constants) go through
    :func:`local_keys`, like every node of a graph read node by node. ``spans`` (an empty
    ``_classes.Spans``) interns the (op, attr bytes) keys in C, straight off the buffer; without it
    they become Python bytes, a chunk at a time, interned by ``local``. The ids differ, the classes
    they make do not.
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
    del special

    # Kept entries in key order? (TensorFlow writes maps sorted; a node that is not gets sorted here.)
    s1, e1, s2, e2, loose = _entry_runs(w, keep, n, native=spans is not None)

    # Consts: float, and big or read through an Identity, are weights.
    in_offsets, in_nodes, _, _, _ = graph.edge_arrays()
    read_codes = [c for c, op in enumerate(table) if op in _FROZEN_READ_OPS]
    # A byte per edge (is its consumer a read op?), not the edges' destinations as int64.
    read_edge = np.repeat(np.isin(codes, read_codes), np.diff(in_offsets))
    read_by_identity = np.zeros(n, dtype=bool)
    read_by_identity[in_nodes[read_edge]] = True
    del read_edge
    dtype_entry = is_key("dtype")
    value_entry = is_key("value")
    node_dtype = np.zeros(n, dtype=np.int64)
    node_dtype[w.node[dtype_entry]] = w.type_code[dtype_entry]
    value_size = np.zeros(n, dtype=np.int64)
    value_size[w.node[value_entry]] = (w.value_end - w.value_start)[value_entry]
    is_const = node_kind == _OP_CONST
    weight_const = is_const & np.isin(node_dtype, list(FLOAT_TYPES)) & (
        (value_size >= WEIGHT_CONST_BYTES) | read_by_identity)

    has_inputs = np.diff(in_offsets) > 0
    is_variable = node_kind == _OP_VARIABLE
    slow = node_special | weight_const | (node_kind == _OP_CALLS)
    slow |= is_variable & (np.bincount(w.node[dtype_entry], minlength=n) == 0)

    names = graph.names
    local_a = np.zeros(n, dtype=np.int64)
    kinds = np.full(n, CONST, dtype=np.int64)
    weight = np.zeros(n, dtype=bool)
    is_data = node_kind == _OP_DATA
    local_a[is_data] = local(("data",))
    kinds[is_data] = DATA
    local_e = local_a.copy()

    # Nodes whose attrs need reading: through the protobuf API.
    for i in np.flatnonzero(slow & ~is_data).tolist():
        ka, kx, kd = local_keys(graph, i, functions)
        local_a[i] = local(ka)
        local_e[i] = local(kx) if kx is not ka else local_a[i]
        kinds[i] = kd
        weight[i] = kd == PARAM and ka[0] == "var"

    # Variables: dtype and shape; their identity is their node.
    variables = np.flatnonzero(is_variable & ~slow)
    if len(variables):
        entry_of = np.full(n, -1, dtype=np.int64)
        entry_of[w.node[dtype_entry]] = np.flatnonzero(dtype_entry)
        shape_of = np.full(n, -1, dtype=np.int64)
        shape_entry = is_key("shape")
        shape_of[w.node[shape_entry]] = np.flatnonzero(shape_entry)
        d, sh = entry_of[variables], shape_of[variables]
        sh_start, sh_end = np.where(sh >= 0, w.start[sh], 0), np.where(sh >= 0, w.end[sh], 0)
        if spans is not None:
            # Entries are self-delimiting (tag, length, bytes): dtype and shape entries joined say
            # which two they were. Code -1 keeps these keys apart from an op's attr bytes.
            var_ids = np.frombuffer(spans.add(buf, np.full(len(variables), -1, dtype=np.int64), w.start[d], w.end[d],
                                              sh_start, sh_end), dtype=np.int64)
        else:
            dtype_bytes = _slices(buf, w.start[d], w.end[d])
            shape_bytes = _slices(buf, sh_start, sh_end)
            local_a[variables] = local.many(zip(itertools.repeat("var"), dtype_bytes, shape_bytes))
        local_e[variables] = local.many(zip(itertools.repeat("var-node"), (names[i] for i in variables.tolist())))
        kinds[variables] = PARAM
        weight[variables] = True

    # Everything else: op and attr bytes, the entries' runs joined (sorted first when not in order).
    rest = ~is_data & ~slow & ~is_variable
    all_tight = np.flatnonzero(rest & ~loose)
    # The few nodes whose entries are out of key order or split: their kept entries, sorted. Only
    # their entries become Python objects (lists of every entry cost ~700 MB at 1M nodes).
    offsets = w.offsets
    loose_nodes = np.flatnonzero(rest & loose)
    loose_bytes = []
    for i in loose_nodes.tolist():
        ks = np.arange(offsets[i], offsets[i + 1])
        ks = ks[keep[ks]]
        entries = sorted(zip(w.key_prefix[ks].tolist(), w.key_len[ks].tolist(),
                             map(buf.__getitem__, map(slice, w.start[ks].tolist(), w.end[ks].tolist()))))
        loose_bytes.append(b"".join(e[2] for e in entries))
    if spans is not None:
        ids = np.frombuffer(spans.add(buf, codes[all_tight], s1[all_tight], e1[all_tight], s2[all_tight],
                                      e2[all_tight]), dtype=np.int64)
        ends = np.cumsum([len(b) for b in loose_bytes], dtype=np.int64)
        starts = ends - np.array([len(b) for b in loose_bytes], dtype=np.int64)
        nothing = np.zeros(len(loose_bytes), dtype=np.int64)
        loose_ids = np.frombuffer(spans.add(b"".join(loose_bytes), codes[loose_nodes], starts, ends, nothing,
                                            nothing), dtype=np.int64)
        base = local.reserve(len(spans))
        if len(variables):
            local_a[variables] = var_ids + base
        local_a[all_tight] = ids + base
        local_a[loose_nodes] = loose_ids + base
    else:
        # A chunk at a time: the attr bytes of a million nodes are never all held as Python objects.
        for c in range(0, len(all_tight), _CHUNK):
            tight = all_tight[c:c + _CHUNK]
            attrs = _slices(buf, s1[tight], e1[tight])
            two = np.flatnonzero(s2[tight] != e2[tight])
            if len(two):
                second = _slices(buf, s2[tight[two]], e2[tight[two]])
                for k, extra in zip(two.tolist(), second):
                    attrs[k] += extra
            local_a[tight] = local.many(zip(codes[tight].tolist(), attrs))
        for i, joined in zip(loose_nodes.tolist(), loose_bytes):
            local_a[i] = local((int(codes[i]), joined))
    local_e[rest] = local_a[rest]
    # A stateful leaf (a lookup table, a queue, a NoOp): its identity counts, like a variable's.
    leaves = np.flatnonzero(rest & ~has_inputs & (node_kind != _OP_CONST))
    local_e[leaves] = local.many(zip(itertools.repeat("leaf-node"), (names[i] for i in leaves.tolist())))
    kinds[leaves] = PARAM
    return local_a, local_e, kinds, weight


def _entry_runs(w, keep: np.ndarray, n: int, native: bool
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each node's kept attr entries as runs contiguous on the wire: (s1, e1, s2, e2, loose).

    The first two runs' byte ranges (zeros when absent); ``loose`` marks a node with more than two
    runs or with kept keys out of order. With ``native``, one C pass over the entries
    (graphaudit/analysis/_classes.c); else whole-array passes.
    """
    if native:
        from graphaudit.analysis import _classes

        s1, e1, s2, e2 = (np.empty(n, dtype=np.int64) for _ in range(4))
        loose = np.empty(n, dtype=bool)
        _classes.entry_runs(n, w.node, keep, w.key_prefix, w.key_len, w.start, w.end, s1, e1, s2, e2, loose)
        return s1, e1, s2, e2, loose
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
    return s1, e1, s2, e2, unsorted | (runs > 2)


_CHUNK = 1 << 17


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
