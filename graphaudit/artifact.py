"""The normalized model every reader produces: graphs, functions, variables, roots, checkpoint."""

from __future__ import annotations

import enum
from dataclasses import field
from functools import cached_property
from typing import Any, Mapping, Protocol, Sequence


from graphaudit.model.keras import KerasInfo
from graphaudit.model.ops import (  # noqa: F401  (the model's op sets, re-exported)
    ASSIGN_OPS,
    FUNCTION_ATTR_KEYS,
    PASS_THROUGH_OPS,
    RESTORE_OPS,
    VARIABLE_OPS,
    UpdateKind,
)
from graphaudit.records import dataclass


class AttrKind(enum.IntEnum):
    """What an attr value holds, as a graph read column-wise reports it for every attr entry."""

    OTHER = 0  # a string, number or bool
    TYPE = 1
    SHAPE = 2
    TENSOR = 3
    FUNC = 4
    LIST = 5  # a list of strings, numbers, bools or types (or an empty list)
    LIST_SHAPE = 6
    LIST_FUNC = 7
    LIST_TENSOR = 8


class AttrColumns(Protocol):
    """Every attr entry of every node of a graph read column-wise (formats/wire.py builds it).

    Entries are grouped by node in node order; node ``i``'s are ``offsets[i]:offsets[i+1]``.
    ``buf[start[k]:end[k]]`` is entry ``k`` whole and ``buf[value_start[k]:value_end[k]]`` its
    value, as opaque bytes: equal bytes mean equal entries. ``key_prefix``/``key_len`` order
    entries as their keys do.
    """

    buf: bytes
    node: Any
    start: Any
    end: Any
    value_start: Any
    value_end: Any
    key_prefix: Any
    key_len: Any
    offsets: Any
    kind: Any  # AttrKind per entry
    type_code: Any  # the DataType number of TYPE entries, else 0
    private: Any  # the key starts with `_` (TensorFlow's internal attrs)

    def has_key(self, key: str) -> Any:
        """A boolean mask of the entries whose key is ``key``."""


class CheckpointEntry(Protocol):
    name: str
    dtype: str  # TensorFlow's name, e.g. "float32"
    shape: tuple[int, ...]


class Checkpoint(Protocol):
    """The values a checkpoint holds, by key (formats/checkpoint.py reads them lazily)."""

    prefix: str
    num_shards: int

    def keys(self) -> list[str]:
        """Tensor names, sorted."""

    def entry(self, name: str) -> CheckpointEntry:
        """Dtype and shape of tensor ``name``; KeyError if absent."""

    def value(self, name: str) -> Any:
        """The tensor ``name`` as a read-only array (bfloat16 as raw uint16 bits)."""

    def __contains__(self, name: object) -> bool: ...

    def __len__(self) -> int: ...


class Format(str, enum.Enum):
    GRAPHDEF = "graphdef"
    GRAPHDEF_TEXT = "graphdef_text"
    METAGRAPH = "metagraph"
    SAVED_MODEL_V1 = "saved_model_v1"
    SAVED_MODEL_V2 = "saved_model_v2"
    CHECKPOINT = "checkpoint"
    CHECKPOINT_V1 = "checkpoint_v1"  # the pre-2017 single table of SavedSlices (TensorFlow Serving session bundles)
    KERAS_H5 = "keras_h5"
    KERAS_V3 = "keras_v3"
    LIVE = "live"


class Graph:
    """One graph or function body, stored column-wise so that 1M-node graphs stay cheap.

    Node ``i`` has ``names[i]``, ``ops[i]``, its data inputs ``inputs[i]`` (node ids, in order,
    with ``input_ports[i]`` the output index used) and ``control_inputs[i]``. Input references
    that name no node of this graph (function arguments are kept as pseudo-nodes of op ``_Arg``)
    are listed in ``dangling``. ``defs[i]`` is the NodeDef, for attrs; read it lazily.
    """

    def __init__(self, name: str, node_defs: Sequence[Any], *, kind: str = "graph",
                 arg_names: Sequence[str] = (), ret_map: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.kind = kind  # "graph" or "function"
        names: list[str] = list(arg_names)
        ops: list[str] = ["_Arg"] * len(arg_names)
        defs: list[Any] = [None] * len(arg_names)
        for nd in node_defs:
            names.append(nd.name)
            ops.append(nd.op)
            defs.append(nd)
        self.names = names
        self.ops = ops
        self.defs = defs
        self.index: dict[str, int] = {n: i for i, n in enumerate(names)}
        self.arg_names = tuple(arg_names)
        self.ret_map = dict(ret_map or {})
        inputs: list[tuple[int, ...]] = []
        ports: list[tuple[int, ...]] = []
        controls: list[tuple[int, ...]] = []
        dangling: list[tuple[int, str]] = []
        index = self.index
        is_function = kind == "function"
        for i, nd in enumerate(defs):
            if nd is None:
                inputs.append(())
                ports.append(())
                controls.append(())
                continue
            data: list[int] = []
            data_ports: list[int] = []
            ctrl: list[int] = []
            for ref in nd.input:
                if ref.startswith("^"):
                    j = index.get(ref[1:])
                    if j is None:
                        dangling.append((i, ref))
                    else:
                        ctrl.append(j)
                    continue
                src, port = _split_ref(ref, is_function)
                j = index.get(src)
                if j is None:
                    dangling.append((i, ref))
                else:
                    data.append(j)
                    data_ports.append(port)
            inputs.append(tuple(data))
            ports.append(tuple(data_ports))
            controls.append(tuple(ctrl))
        self.inputs = inputs
        self.input_ports = ports
        self.control_inputs = controls
        self.dangling = dangling

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return f"<Graph {self.name!r} {self.kind} nodes={len(self.names)}>"

    #: Attr entries read from the wire (formats/wire.py), when the graph was built from columns.
    wire_attrs: AttrColumns | None = None

    @classmethod
    def from_columns(cls, name: str, columns: Any, node_defs: Sequence[Any]) -> "Graph":
        """A graph from :func:`graphaudit.formats.wire.scan_nodes` columns: the same API, no per-node work.

        ``inputs``, ``input_ports``, ``control_inputs`` and ``defs`` become read-only views that
        build a node's row when it is asked for.
        """
        self = cls.__new__(cls)
        self.name = name
        self.kind = "graph"
        self.names = columns.names
        self.ops = columns.ops
        self.index = columns.index
        self.arg_names = ()
        self.ret_map = {}
        self.defs = _Defs(node_defs)
        arrays = (columns.in_offsets, columns.in_nodes, columns.in_ports, columns.ctrl_offsets, columns.ctrl_nodes)
        # The rows and the walks' list forms share one list of each column, made when first read:
        # one copy of the edges, not three, and none for analyses that read the arrays only.
        lists = _ColumnLists(arrays)
        self.inputs = _Rows(0, 1, lists)
        self.input_ports = _Rows(0, 2, lists)
        self.control_inputs = _Rows(3, 4, lists)
        self.__dict__["_column_lists"] = lists
        self.dangling = columns.dangling
        self.wire_attrs = columns.attrs
        self.__dict__["_arrays"] = arrays
        self.__dict__["_op_codes"] = (columns.op_codes, columns.op_table)
        return self

    def edge_arrays(self):
        """(in_offsets, in_nodes, in_ports, ctrl_offsets, ctrl_nodes): data and control inputs as CSR arrays."""
        got = self.__dict__.get("_arrays")
        if got is None:
            import numpy as np

            def csr(rows):
                offsets = np.zeros(len(rows) + 1, dtype=np.int64)
                np.cumsum(np.fromiter(map(len, rows), dtype=np.int64, count=len(rows)), out=offsets[1:])
                flat = np.fromiter((j for row in rows for j in row), dtype=np.int64, count=int(offsets[-1]))
                return offsets, flat

            in_offsets, in_nodes = csr(self.inputs)
            _, in_ports = csr(self.input_ports)
            ctrl_offsets, ctrl_nodes = csr(self.control_inputs)
            got = self.__dict__["_arrays"] = (in_offsets, in_nodes, in_ports, ctrl_offsets, ctrl_nodes)
        return got

    def adjacency_lists(self):
        """(in_offsets, in_nodes, ctrl_offsets, ctrl_nodes) as Python lists, for walks that slice them."""
        got = self.__dict__.get("_adjacency_lists")
        if got is None and "_column_lists" in self.__dict__:
            lists = self.__dict__["_column_lists"]
            got = self.__dict__["_adjacency_lists"] = (lists[0], lists[1], lists[3], lists[4])
        if got is None:
            in_offsets, in_nodes, _, ctrl_offsets, ctrl_nodes = self.edge_arrays()
            got = self.__dict__["_adjacency_lists"] = (in_offsets.tolist(), in_nodes.tolist(),
                                                       ctrl_offsets.tolist(), ctrl_nodes.tolist())
        return got

    def port_list(self) -> list[int]:
        """The output port of every data input, as a Python list aligned with ``adjacency_lists()[1]``."""
        got = self.__dict__.get("_port_list")
        if got is None:
            lists = self.__dict__.get("_column_lists")
            got = self.__dict__["_port_list"] = lists[2] if lists is not None else self.edge_arrays()[2].tolist()
        return got

    def op_codes(self):
        """(codes, table): each node's op as an index into a table of op names."""
        got = self.__dict__.get("_op_codes")
        if got is None:
            import numpy as np

            table = list(dict.fromkeys(self.ops))
            code_of = {op: k for k, op in enumerate(table)}
            codes = np.fromiter(map(code_of.__getitem__, self.ops), dtype=np.int64, count=len(self.ops))
            got = self.__dict__["_op_codes"] = (codes, table)
        return got

    def consumer_counts(self):
        """Number of data and control consumers of each node, as an array."""
        import numpy as np

        _, in_nodes, _, _, ctrl_nodes = self.edge_arrays()
        n = len(self.names)
        return np.bincount(in_nodes, minlength=n) + np.bincount(ctrl_nodes, minlength=n)

    @cached_property
    def consumers(self) -> list[list[int]]:
        """Data and control consumers of each node."""
        if "_arrays" in self.__dict__ and self.wire_attrs is not None:
            return _consumer_rows(self)
        out: list[list[int]] = [[] for _ in self.names]
        for i, ins in enumerate(self.inputs):
            for j in ins:
                out[j].append(i)
        for i, ins in enumerate(self.control_inputs):
            for j in ins:
                out[j].append(i)
        return out

    @cached_property
    def by_op(self) -> dict[str, list[int]]:
        if "_op_codes" in self.__dict__:
            import numpy as np

            codes, table = self.__dict__["_op_codes"]
            order = np.argsort(codes, kind="stable")
            bounds = np.searchsorted(codes[order], np.arange(len(table) + 1))
            ids = order.tolist()
            return {table[k]: ids[bounds[k]:bounds[k + 1]] for k in range(len(table)) if bounds[k + 1] > bounds[k]}
        out: dict[str, list[int]] = {}
        for i, op in enumerate(self.ops):
            out.setdefault(op, []).append(i)
        return out

    def attr(self, i: int, key: str) -> Any:
        """The AttrValue ``key`` of node ``i``, or None."""
        nd = self.defs[i]
        if nd is None or key not in nd.attr:
            return None
        return nd.attr[key]

    def function_calls(self, i: int, library: Mapping[str, "Graph"]) -> list[str]:
        """Names of library functions that node ``i`` calls (as its op or through func attrs)."""
        out = []
        if self.ops[i] in library:
            out.append(self.ops[i])
        nd = self.defs[i]
        if nd is None:
            return out
        for key in FUNCTION_ATTR_KEYS:
            if key in nd.attr:
                av = nd.attr[key]
                if av.HasField("func"):
                    out.append(av.func.name)
                elif av.HasField("list"):
                    out.extend(f.name for f in av.list.func)
        return [f for f in out if f in library]

    def source(self, i: int, *, through: frozenset[str] = PASS_THROUGH_OPS - {"ReadVariableOp"}) -> int:
        """Follow input 0 back through pass-through ops to where a value comes from."""
        seen = 0
        while self.ops[i] in through and self.inputs[i] and seen < 64:
            i = self.inputs[i][0]
            seen += 1
        return i

    def sources(self, ids, *, through: frozenset[str] = PASS_THROUGH_OPS - {"ReadVariableOp"}):
        """:meth:`source` of every node in ``ids`` (an int array) at once, as an array."""
        import numpy as np

        codes, table = self.op_codes()
        passing = np.array([op in through for op in table] or [False], dtype=bool)
        in_offsets, in_nodes = self.edge_arrays()[:2]
        has_input = in_offsets[1:] > in_offsets[:-1]
        cur = np.array(ids, dtype=np.int64)
        for _ in range(64):  # as source(): at most 64 hops
            move = np.flatnonzero(passing[codes[cur]] & has_input[cur])
            if not len(move):
                break
            cur[move] = in_nodes[in_offsets[cur[move]]]
        return cur


class _ColumnLists:
    """Int arrays, each turned into a Python list when first asked for (``lists[k]``), then kept."""

    __slots__ = ("_arrays", "_lists")

    def __init__(self, arrays: Sequence[Any]) -> None:
        self._arrays = arrays
        self._lists: list[list[int] | None] = [None] * len(arrays)

    def __getitem__(self, k: int) -> list[int]:
        got = self._lists[k]
        if got is None:
            got = self._lists[k] = self._arrays[k].tolist()
        return got


class _Rows(Sequence):
    """Row ``i`` of a CSR structure as a tuple, built when asked for.

    ``offsets`` and ``values`` are lists, or, with ``lists``, their positions in it: the lists are
    then made at the first row read.
    """

    __slots__ = ("_offsets", "_values", "_source")

    def __init__(self, offsets, values, lists: _ColumnLists | None = None) -> None:
        if lists is None:
            self._offsets, self._values, self._source = offsets, values, None
        else:
            self._offsets = self._values = None
            self._source = (lists, offsets, values)

    def _load(self) -> None:
        lists, offsets, values = self._source
        self._offsets, self._values = lists[offsets], lists[values]

    def __len__(self) -> int:
        if self._offsets is None:
            self._load()
        return len(self._offsets) - 1

    def __getitem__(self, i):
        offsets = self._offsets
        if offsets is None:
            self._load()
            offsets = self._offsets
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(offsets) - 1
        return tuple(self._values[offsets[i]:offsets[i + 1]])

    def __iter__(self):
        if self._offsets is None:
            self._load()
        values, offsets = self._values, self._offsets
        for k in range(len(offsets) - 1):
            yield tuple(values[offsets[k]:offsets[k + 1]])


class _ListRows(_Rows):
    """Like _Rows, with lists: what ``Graph.consumers`` has always returned."""

    __slots__ = ()

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        return self._values[self._offsets[i]:self._offsets[i + 1]]

    def __iter__(self):
        values, offsets = self._values, self._offsets
        for k in range(len(offsets) - 1):
            yield values[offsets[k]:offsets[k + 1]]


class _Defs(Sequence):
    """NodeDefs by node id, fetched from the GraphDef when asked for."""

    __slots__ = ("_nodes",)

    def __init__(self, nodes: Sequence[Any]) -> None:
        self._nodes = nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._nodes[k] for k in range(*i.indices(len(self)))]
        return self._nodes[i]

    def __iter__(self):
        return iter(self._nodes)


def _consumer_rows(graph: Graph) -> _ListRows:
    """Data consumers then control consumers of each node, each group in node order, from the CSR arrays."""
    import numpy as np

    in_offsets, in_nodes, _, ctrl_offsets, ctrl_nodes = graph.edge_arrays()
    n = len(graph.names)
    dst = np.concatenate([np.repeat(np.arange(n), np.diff(in_offsets)), np.repeat(np.arange(n), np.diff(ctrl_offsets))])
    src = np.concatenate([in_nodes, ctrl_nodes])
    kind = np.concatenate([np.zeros(len(in_nodes), dtype=np.int8), np.ones(len(ctrl_nodes), dtype=np.int8)])
    order = np.lexsort((dst, kind, src))
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=offsets[1:])
    return _ListRows(offsets.tolist(), dst[order].tolist())


def _split_ref(ref: str, is_function: bool) -> tuple[str, int]:
    """Split ``node:port`` (graph) or ``node:output_arg:index`` (function body) into node and port."""
    if ":" not in ref:
        return ref, 0
    if is_function:
        parts = ref.split(":")
        if len(parts) == 3:
            return parts[0], _port(ref, parts[2]) if parts[2].isdigit() else 0
        return parts[0], 0
    src, _, port = ref.rpartition(":")
    return (src, _port(ref, port)) if port.isdigit() else (ref, 0)


_MAX_PORT = 2**31 - 1  # TensorFlow numbers op outputs with an int32


def _port(ref: str, digits: str) -> int:
    port = int(digits) if len(digits) <= 10 else _MAX_PORT + 1
    if port > _MAX_PORT:
        raise ValueError(f"input `{ref[:120]}` names output {digits[:24]}, past the {_MAX_PORT:,} "
                         "outputs an op can have")
    return port


@dataclass
class Variable:
    """One variable, whatever the format it was read from."""

    name: str
    dtype: str = ""
    shape: tuple[int, ...] | None = None
    trainable: bool | None = None
    trainable_source: str = ""
    initializer: str | None = None  # node name of the initializer op
    initializer_kind: str | None = None  # e.g. "glorot_uniform", "zeros", when recognised
    initializer_params: dict[str, float] = field(default_factory=dict)
    graph: str | None = None  # graph holding the variable op, if any
    node: str | None = None  # the VarHandleOp / VariableV2 node
    checkpoint_key: str | None = None
    slots: list[str] = field(default_factory=list)  # checkpoint keys of optimizer slots
    restored: bool | None = None  # True when a restore op assigns it
    keras_layer: str | None = None

    @property
    def size(self) -> int:
        return shape_size(self.shape)


def shape_size(shape: tuple[int, ...] | None) -> int:
    """The elements a tensor of ``shape`` holds: 0 when its shape or a dimension is unknown."""
    if not shape:
        return 1 if shape == () else 0
    n = 1
    for d in shape:
        if d < 0:
            return 0
        n *= d
    return n


_VARIABLE_DEFAULTS: dict[str, Any] | None = None


def new_variable(name: str, dtype: str, shape: tuple[int, ...] | None, graph: str,
                 initializer: str | None = None) -> Variable:
    """``Variable(name=name, dtype=dtype, shape=shape, graph=graph, node=name, initializer=initializer)``,
    at half the cost of the dataclass ``__init__`` (a reader makes one per variable op: 80,000 in a
    million-node graph)."""
    global _VARIABLE_DEFAULTS
    if _VARIABLE_DEFAULTS is None:
        import dataclasses

        # Every field, in order (as the dataclass __init__ sets them); the factories' below.
        _VARIABLE_DEFAULTS = {f.name: None if f.default is dataclasses.MISSING else f.default
                              for f in dataclasses.fields(Variable)}
    var = object.__new__(Variable)
    fields = var.__dict__
    fields.update(_VARIABLE_DEFAULTS)
    fields["name"] = fields["node"] = name
    fields["dtype"], fields["shape"], fields["graph"], fields["initializer"] = dtype, shape, graph, initializer
    fields["initializer_params"] = {}
    fields["slots"] = []
    return var


class VariableTable(Mapping[str, Variable]):
    """The variables of a bare checkpoint, one per key, held as the index's columns.

    A checkpoint without an object graph names one variable per tensor: ``name`` and
    ``checkpoint_key`` are the key, ``restored`` is True and nothing else is known. Its index can
    hold millions of keys, so the variables stay as three parallel lists (``names`` sorted,
    ``dtypes``, ``shapes``) and a :class:`Variable` is made only when one is looked up (and kept,
    so that a change to it stays). Iterating names costs no object; ``values()`` and ``items()``
    make every variable, so the analyses that look at all of them read the columns instead
    (analysis/columns.py).
    """

    __slots__ = ("names", "dtypes", "shapes", "_made")

    def __init__(self, names: list[str], dtypes: list[str], shapes: list[tuple[int, ...]]) -> None:
        self.names = names
        self.dtypes = dtypes
        self.shapes = shapes
        self._made: dict[str, Variable] = {}

    def position(self, name: object) -> int | None:
        """The row of ``name``, or None."""
        from bisect import bisect_left

        if not isinstance(name, str):
            return None
        at = bisect_left(self.names, name)
        return at if at < len(self.names) and self.names[at] == name else None

    def at(self, row: int) -> Variable:
        """The variable of row ``row``."""
        name = self.names[row]
        var = self._made.get(name)
        if var is None:
            var = new_variable(name, self.dtypes[row], self.shapes[row], None)
            var.node = None
            var.checkpoint_key, var.restored = name, True
            self._made[name] = var
        return var

    def __getitem__(self, name: str) -> Variable:
        var = self._made.get(name)
        if var is not None:
            return var
        row = self.position(name)
        if row is None:
            raise KeyError(name)
        return self.at(row)

    def __contains__(self, name: object) -> bool:
        return name in self._made or self.position(name) is not None

    def __iter__(self):
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return len(self) == len(other) and all(name in other and other[name] == self[name] for name in self)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # a mapping, as dict

    def __repr__(self) -> str:
        return f"<VariableTable of {len(self.names):,} variables>"


def variable_params(variables: Mapping[str, Variable]) -> int:
    """The elements all ``variables`` hold (:attr:`Variable.size` summed)."""
    if not isinstance(variables, VariableTable):
        return sum(v.size for v in variables.values())
    from collections import Counter

    # Shapes repeat (the index reader shares equal ones): each distinct one is sized once; a
    # variable made since counts at its own shape.
    shapes = variables.shapes
    total = sum(shape_size(shape) * n for shape, n in Counter(shapes).items())
    for name, var in variables._made.items():
        total += var.size - shape_size(shapes[variables.position(name)])  # type: ignore[index]
    return total


def made_variables(variables: Mapping[str, Variable]):
    """``(name, variable)`` of the variables that can hold more than a name, dtype, shape and
    checkpoint key: all of a dict's; of a :class:`VariableTable`, only those made so far (the
    others have no initializer, slots, graph, node, layer or trainable flag)."""
    return variables._made.items() if isinstance(variables, VariableTable) else variables.items()


_FUNCTION_KEY = "function:"


def graph_key(name: str, is_function: bool) -> str:
    """The key of a graph or a function body in per-graph tables (``Reach.nodes``, update writes)."""
    return f"{_FUNCTION_KEY}{name}" if is_function else name


def function_of(key: str) -> str | None:
    """The function name a :func:`graph_key` stands for, or None for a graph."""
    return key[len(_FUNCTION_KEY):] if key.startswith(_FUNCTION_KEY) else None


class KerasObject:
    """One object of a tf_keras SavedModel's ``keras_metadata.pb``: its path (``root``,
    ``root.layer-1``), its identifier (``_tf_keras_layer``, ``_tf_keras_network``...) and its
    metadata, a JSON object parsed once, when first read (None when it is not a JSON object)."""

    __slots__ = ("path", "identifier", "_raw", "_data")

    def __init__(self, path: str, identifier: str, raw: str) -> None:
        self.path = path
        self.identifier = identifier
        self._raw: str | None = raw
        self._data: Mapping[str, Any] | None = None

    @property
    def data(self) -> Mapping[str, Any] | None:
        if self._raw is not None:
            import json

            try:
                parsed = json.loads(self._raw)
            except (ValueError, TypeError, RecursionError):
                parsed = None
            self._data = parsed if isinstance(parsed, dict) else None
            self._raw = None
        return self._data

    def __repr__(self) -> str:
        return f"<KerasObject {self.path!r} {self.identifier}>"


class ValueOrigin(str, enum.Enum):
    """How values reach an artifact's variables when it is loaded."""

    CHECKPOINT = "checkpoint"  # a restore op (or the TF2 object graph) maps checkpoint keys
    CHECKPOINT_BY_NAME = "checkpoint-by-name"  # no restore op: a TF1 Saver keys each variable by its name
    INIT = "init"  # init ops assign them
    KERAS_WEIGHTS = "keras_weights"  # the Keras file holds the weights
    LIVE = "live"  # a live session holds them


class RootKind(str, enum.Enum):
    SIGNATURE_OUTPUT = "signature output"
    TRAIN_OP = "train op"
    COLLECTION = "collection"
    USER_OUTPUT = "user output"
    INFERRED_SINK = "inferred sink"
    INIT_OP = "init op"
    RESTORE_OP = "restore op"
    SAVE_OP = "save op"


#: Roots that *use* the model; the others only maintain its state.
USE_ROOT_KINDS = frozenset({RootKind.SIGNATURE_OUTPUT, RootKind.TRAIN_OP, RootKind.COLLECTION,
                            RootKind.USER_OUTPUT, RootKind.INFERRED_SINK})


@dataclass(frozen=True)
class Root:
    """A node the artifact is for (a signature output, a train op, ...), and where that was read."""

    graph: str
    node: str
    kind: RootKind
    source: str = ""  # e.g. "signature serving_default output `probs`"


@dataclass
class Signature:
    """A SignatureDef: its inputs and outputs, each a tensor with its dtype and shape."""

    name: str
    method: str
    inputs: dict[str, tuple[str, str, tuple[int, ...] | None]]  # key -> (tensor, dtype, shape)
    outputs: dict[str, tuple[str, str, tuple[int, ...] | None]]


@dataclass
class MetaGraphInfo:
    """One MetaGraph: tags, signatures, collections, init and restore ops, and its saver."""

    tags: tuple[str, ...]
    graph: str  # name of the Graph in Artifact.graphs
    signatures: list[Signature] = field(default_factory=list)
    collections: dict[str, list[str]] = field(default_factory=dict)
    init_ops: list[str] = field(default_factory=list)
    restore_op: str | None = None
    save_op: str | None = None
    tf_version: str = ""


@dataclass(frozen=True)
class ValuesMissing:
    """An artifact read without its variables' values: a `.meta` alone, a SavedModel without `variables/`."""

    why: str  # what is missing, e.g. "no checkpoint beside the `.meta` (`model.ckpt.index`)"
    variables: int  # the variables that have no value to read


@dataclass
class Artifact:
    """A normalized model. Readers fill it; analyses and rules only read it."""

    path: str
    format: Format
    graphs: dict[str, Graph] = field(default_factory=dict)
    functions: dict[str, Graph] = field(default_factory=dict)
    # name -> Variable; a bare checkpoint's is a read-only VariableTable (its index's columns).
    variables: dict[str, Variable] = field(default_factory=dict)
    roots: list[Root] = field(default_factory=list)
    meta_graphs: list[MetaGraphInfo] = field(default_factory=list)
    checkpoint: Checkpoint | None = None
    value_sources: tuple[ValueOrigin, ...] = ()  # how values reach the variables, see ValueOrigin
    keras: KerasInfo | None = None  # None when the artifact holds no Keras config or weights file
    object_variable_ids: dict[int, str] = field(default_factory=dict)  # SavedObjectGraph node id -> variable
    object_paths: dict[int, str] = field(default_factory=dict)  # SavedObjectGraph node id -> its path
    frozen_weights: int | None = None  # Const nodes that hold a frozen graph's weights
    live_initialized: set[str] | None = None  # variables a live session or model has values for
    keras_layers: list[dict[str, Any]] | None = None  # a live Keras model's layers: path, class, trainable
    keras_objects: tuple[KerasObject, ...] = ()  # keras_metadata.pb of a tf_keras SavedModel
    notes: list[str] = field(default_factory=list)
    values_missing: ValuesMissing | None = None  # None when values were looked for
    live_values: Mapping[str, Any] | None = None  # name -> ndarray, from a live session
    # name -> ndarray, read lazily from a file that is not a checkpoint (Keras HDF5 datasets).
    stored_values: Mapping[str, Any] | None = None

    @property
    def node_count(self) -> int:
        return sum(len(g) for g in self.graphs.values())

    def use_roots(self) -> list[Root]:
        return [r for r in self.roots if r.kind in USE_ROOT_KINDS]

    def value_of(self, name: str):
        """The stored value of variable ``name`` (live session first, then checkpoint), or None."""
        if self.live_values is not None and name in self.live_values:
            return self.live_values[name]
        if self.stored_values is not None and name in self.stored_values:
            return self.stored_values[name]
        v = self.variables.get(name)
        if v is not None and v.checkpoint_key and self.checkpoint is not None:
            return self.checkpoint.value(v.checkpoint_key)
        return None
