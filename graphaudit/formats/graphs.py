"""Turn GraphDefs and MetaGraphDefs into Graphs, function bodies, variables and roots."""

from __future__ import annotations

import os
import warnings
from itertools import repeat
from typing import Iterable, Mapping

from graphaudit.artifact import (
    ASSIGN_OPS,
    RESTORE_OPS,
    VARIABLE_OPS,
    Artifact,
    Graph,
    MetaGraphInfo,
    Root,
    RootKind,
    Signature,
    new_variable,
)
from graphaudit.errors import ArtifactError, StrictModeWarning, strict
from graphaudit.formats import protos
from graphaudit.model.ops import OPTIMIZER_PREFIXES, is_write


GRAPH_KEYS_VARIABLES = ("variables", "trainable_variables", "model_variables", "local_variables",
                        "metric_variables", "global_step")
TRAIN_OP_COLLECTION = "train_op"
INIT_COLLECTIONS = ("saved_model_main_op", "legacy_init_op", "table_initializer", "init_op",
                    "local_init_op", "ready_op")


def build_graph(name: str, graph_def, path: str, serialized: bytes | None = None) -> tuple[Graph, dict[str, Graph]]:
    """The Graph of a GraphDef, plus its function library (checked for call cycles).

    The nodes are read in bulk from the serialized GraphDef (``serialized``, when the caller has
    the file's bytes, else a re-serialization) by formats/wire.py; a GraphDef laid out in an
    unusual way is read node by node instead.
    """
    if serialized is None and len(graph_def.node):
        serialized = graph_def.SerializeToString(deterministic=True)
    graph = graph_from_wire(name, serialized, node_probes(graph_def), graph_def.node) if serialized else None
    if graph is None:
        graph = Graph(name, graph_def.node)
    check_importable(graph, path)
    functions = build_library(graph_def.library, path)
    return graph, functions


def node_probes(graph_def) -> tuple[int, list[tuple[int, str]]]:
    """The node count and a few node names of a parsed GraphDef, to check a wire scan against."""
    n = len(graph_def.node)
    return n, [(i, graph_def.node[i].name) for i in sorted({0, n // 2, n - 1}) if n]


def graph_from_wire(name: str, serialized: bytes, probes: tuple[int, list[tuple[int, str]]],
                    node_defs=None, columns=None) -> Graph | None:
    """A Graph from a serialized GraphDef's bytes (formats/wire.py), or None if its layout is unusual.

    ``probes`` (from :func:`node_probes` on the parsed GraphDef) must agree with the scan. Without
    ``node_defs`` (the parsed nodes), NodeDefs are parsed again from their bytes when asked for, so
    the parsed GraphDef need not stay: only for bytes that protobuf parsed as a GraphDef, whose
    nodes then parse alone too (a re-serialized text GraphDef may nest deeper than binary parsing
    allows). ``columns``: the scan of ``serialized``, when the caller has made it.
    """
    from graphaudit.formats.wire import NodeDefs, scan_nodes

    if columns is None:
        columns = scan_nodes(serialized)
    count, names = probes
    if columns is None or len(columns.names) != count or any(columns.names[i] != got for i, got in names):
        return None
    if node_defs is None:
        node_defs = NodeDefs(serialized, columns.node_start, columns.node_end, protos.NodeDef)
    return Graph.from_columns(name, columns, node_defs)


def check_importable(graph: Graph, path: str) -> None:
    """Raise on what TensorFlow refuses to import: an input naming no node, a node name used twice."""
    if graph.dangling:
        i, ref = min(graph.dangling)
        more = f" (and {len(graph.dangling) - 1:,} more dangling inputs)" if len(graph.dangling) > 1 else ""
        raise ArtifactError(path, f"node `{graph.names[i]}` reads `{ref}`, which names no node of the graph{more}; "
                                  "expected every input to name a node (TensorFlow refuses to import this graph)")
    if len(graph.index) != len(graph.names):
        seen: set[str] = set()
        twice = next(n for n in graph.names if n in seen or seen.add(n))
        raise ArtifactError(path, f"node name `{twice}` is used twice; expected unique node names "
                                  "(TensorFlow refuses to import this graph)")


def build_library(library, path: str) -> dict[str, Graph]:
    functions: dict[str, Graph] = {}
    for fdef in library.function:
        sig = fdef.signature
        functions[sig.name] = Graph(
            sig.name, fdef.node_def, kind="function",
            arg_names=[a.name for a in sig.input_arg], ret_map=dict(fdef.ret),
        )
    check_acyclic(functions, path)
    return functions


def check_acyclic(functions: Mapping[str, Graph], path: str) -> None:
    """Raise if the function library calls itself: TensorFlow cannot run recursive functions."""
    calls = {name: sorted({c for i in range(len(g)) for c in g.function_calls(i, functions)})
             for name, g in functions.items()}
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    for start in sorted(calls):
        if start in state:
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        state[start] = 1
        while stack:
            fn, k = stack[-1]
            callees = calls[fn]
            if k < len(callees):
                stack[-1] = (fn, k + 1)
                nxt = callees[k]
                if state.get(nxt) == 1:
                    cycle = [f for f, _ in stack[[f for f, _ in stack].index(nxt):]] + [nxt]
                    raise ArtifactError(path, "function library is cyclic: " + " -> ".join(cycle)
                                        + "; TensorFlow function libraries must be acyclic")
                if nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, 0))
            else:
                state[fn] = 2
                stack.pop()


def tensor_node(tensor_name: str) -> str:
    """`scope/op:0` -> `scope/op`; `^op` -> `op`."""
    name = tensor_name.lstrip("^")
    head, _, port = name.rpartition(":")
    return head if head and port.isdigit() else name


def const_strings(graph: Graph, i: int) -> list[str]:
    """The string values of a Const node (e.g. RestoreV2's tensor_names), decoded."""
    av = graph.attr(i, "value")
    if av is None:
        return []
    return [s.decode("utf-8", "replace") for s in av.tensor.string_val]


def restore_targets(graph: Graph, restore_op: str) -> dict[int, str]:
    """Map each variable node that ``restore_op`` assigns to the checkpoint key it reads.

    Walks the restore op's control inputs (``save/restore_all`` -> ``save/restore_shard`` ->
    assigns), follows each assign's value back to a ``RestoreV2`` output, and reads that op's
    ``tensor_names`` Const.
    """
    start = graph.index.get(tensor_node(restore_op))
    if start is None:
        return {}
    out: dict[int, str] = {}
    seen = {start}
    stack = [start]
    names_cache: dict[int, list[str]] = {}
    while stack:
        i = stack.pop()
        op = graph.ops[i]
        if op in ASSIGN_OPS and len(graph.inputs[i]) >= 2:
            var = graph.source(graph.inputs[i][0])
            val = graph.inputs[i][1]
            port = graph.input_ports[i][1]
            # Resource variables read RestoreV2 through an Identity.
            hops = 0
            while graph.ops[val] in ("Identity", "Snapshot") and graph.inputs[val] and hops < 8:
                port = graph.input_ports[val][0]
                val = graph.inputs[val][0]
                hops += 1
            if graph.ops[val] in RESTORE_OPS and graph.ops[var] in VARIABLE_OPS:
                if val not in names_cache:
                    names_i = graph.inputs[val][1] if len(graph.inputs[val]) > 1 else None
                    names_cache[val] = const_strings(graph, names_i) if names_i is not None else []
                keys = names_cache[val]
                out[var] = keys[port] if port < len(keys) else graph.names[var]
            continue
        for j in graph.control_inputs[i] + graph.inputs[i]:
            if j not in seen:
                seen.add(j)
                stack.append(j)
    return out


def collect_variables(artifact: Artifact, graph: Graph, variable_defs: Iterable, trainable_names: set[str],
                      has_trainable_collection: bool) -> None:
    """Add a Variable record for every variable op of ``graph``, with its initializer op.

    What each write of a variable is (analysis/updates.py) is not stored here: only a variable
    without an initializer in its VariableDef takes the first write that initializes it.
    """
    import numpy as np

    defs_by_node: dict[str, object] = {}
    for vd in variable_defs:
        defs_by_node[tensor_node(vd.variable_name)] = vd
    initializer_names = {tensor_node(vd.initializer_name) for vd in defs_by_node.values()
                         if vd.initializer_name}
    codes, table = graph.op_codes()
    is_variable = np.array([op in VARIABLE_OPS for op in table] or [False], dtype=bool)
    var_ids = np.flatnonzero(is_variable[codes]) if len(graph) else np.zeros(0, dtype=np.int64)
    dtypes = attr_values(graph, var_ids, "dtype", lambda av: protos.dtype_name(av.type))
    shapes = attr_values(graph, var_ids, "shape", lambda av: protos.shape_list(av.shape))
    # Writes: every op that takes a variable as input 0 and writes it, found in bulk; each variable's
    # first write that initializes it. analysis/updates.py attributes every write again by handle.
    writes = np.array([is_write(op) for op in table] or [False], dtype=bool)
    in_offsets, in_nodes = graph.edge_arrays()[:2]
    writers = np.flatnonzero(writes[codes] & (in_offsets[1:] > in_offsets[:-1])) if len(graph) else var_ids[:0]
    targets = graph.sources(in_nodes[in_offsets[writers]])
    on_variable = is_variable[codes[targets]]
    writers, targets = writers[on_variable], targets[on_variable]
    initializing = initializer_writes(graph, writers, initializer_names)
    first_writer = np.full(len(graph), -1, dtype=np.int64)
    initialized, first = np.unique(targets[initializing], return_index=True)  # writers come in node order
    first_writer[initialized] = writers[initializing][first]
    _add_variables(artifact, graph, var_ids.tolist(), dtypes, shapes, first_writer[var_ids].tolist(),
                   defs_by_node, trainable_names, has_trainable_collection)


def _add_variables(artifact: Artifact, graph: Graph, var_ids: list[int], dtypes: list, shapes: list,
                   first_writer: list[int], defs_by_node: dict[str, object], trainable_names: set[str],
                   has_trainable_collection: bool) -> None:
    names = graph.names
    variables = artifact.variables
    gname = graph.name
    var_names = list(map(names.__getitem__, var_ids))
    if not defs_by_node and variables.keys().isdisjoint(var_names):
        # No VariableDefs and no record yet (a GraphDef): every variable is new, made in one pass.
        made = map(new_variable, var_names, ["" if d is None else d for d in dtypes], shapes, repeat(gname),
                   [None if w < 0 else names[w] for w in first_writer])
        variables.update(zip(var_names, made))
        return
    for name, dtype, shape, w in zip(var_names, dtypes, shapes, first_writer):
        var = variables.get(name)
        if var is None:
            var = variables[name] = new_variable(name, "" if dtype is None else dtype, shape, gname)
        else:
            var.graph = gname
            var.node = name
            if dtype is not None:
                var.dtype = dtype
            if shape is not None:
                var.shape = shape
        vd = defs_by_node.get(name) if defs_by_node else None
        if vd is not None:
            var.initializer = tensor_node(vd.initializer_name) if vd.initializer_name else None
            if has_trainable_collection:
                var.trainable = name in trainable_names
                var.trainable_source = "TRAINABLE_VARIABLES collection"
            else:
                var.trainable = bool(vd.trainable)
                var.trainable_source = "VariableDef.trainable"
        if w >= 0 and var.initializer is None:
            var.initializer = names[w]


def initializer_writes(graph: Graph, writers, initializer_names: set[str]):
    """Which of ``writers`` (writes of a variable, as an int array) :func:`classify_update` calls
    initializers, decided op by op in bulk: only the names that decide it are read."""
    import numpy as np

    codes, table = graph.op_codes()
    writers = np.asarray(writers, dtype=np.int64)
    out = np.zeros(len(writers), dtype=bool)
    if not len(writers):
        return out
    names = graph.names

    def per_op(test):
        return np.array([bool(test(op)) for op in table], dtype=bool)

    op = codes[writers]
    open_ = ~per_op(lambda o: o.startswith(OPTIMIZER_PREFIXES))[op]  # optimizer updates are never initializers
    if initializer_names:
        named = open_ & np.fromiter((names[i] in initializer_names for i in writers.tolist()), dtype=bool,
                                    count=len(writers))
        out |= named
        open_ &= ~named
    moving = np.flatnonzero(open_ & per_op(lambda o: o in ("AssignSubVariableOp", "AssignSub"))[op])
    if len(moving):
        open_[moving[["AssignMovingAvg" in names[i] for i in writers[moving].tolist()]]] = False
    in_offsets, in_nodes = graph.edge_arrays()[:2]
    assign = np.flatnonzero(open_ & per_op(lambda o: o in ASSIGN_OPS)[op]
                            & ((in_offsets[writers + 1] - in_offsets[writers]) >= 2))
    if not len(assign):
        return out
    src = graph.sources(in_nodes[in_offsets[writers[assign]] + 1])
    # _by_source: a restore, a fed placeholder or a BatchNorm output is not an initializer.
    other = per_op(lambda o: o in RESTORE_OPS or o in ("Placeholder", "PlaceholderWithDefault")
                   or o.startswith("FusedBatchNorm"))[codes[src]]
    assign, src = assign[~other], src[~other]
    out[assign] = [names[s].find("/Initializer/") >= 0 or names[i].endswith("/Assign")
                   for i, s in zip(writers[assign].tolist(), src.tolist())]
    return out


def attr_values(graph: Graph, ids, key: str, decode) -> list:
    """``decode(AttrValue)`` of attr ``key`` of each node in ``ids`` (None where it has none).

    A graph read column-wise decodes each distinct value once (a million variables hold a few
    distinct dtypes and shapes), grouped by their bytes in bulk; other graphs go through their NodeDefs.
    """
    w = graph.wire_attrs
    if w is None:
        out = []
        for i in ids:
            av = graph.attr(int(i), key)
            out.append(None if av is None else decode(av))
        return out
    import numpy as np

    mask = w.has_key(key)
    entry_of = np.full(len(graph), -1, dtype=np.int64)
    entry_of[w.node[mask]] = np.flatnonzero(mask)  # a key given twice: the last wins, as in protobuf
    entries = entry_of[np.asarray(ids, dtype=np.int64)]
    out = np.full(len(entries), None, dtype=object)
    has = np.flatnonzero(entries >= 0)
    starts = w.value_start[entries[has]].astype(np.int64)
    lengths = w.value_end[entries[has]].astype(np.int64) - starts
    buf = w.buf
    # Values of up to _GROUP_BYTES bytes (a dtype, a shape) are grouped by their bytes at once.
    short = lengths <= _GROUP_BYTES
    if short.any():
        a = np.frombuffer(buf, dtype=np.uint8)
        width = -(-int(lengths[short].max(initial=1)) // 8) * 8
        span = np.arange(width)
        at = starts[short, None] + span
        rows = np.zeros((int(short.sum()), width + 8), dtype=np.uint8)  # the bytes, zero-padded, then the length
        rows[:, :width] = np.where(span < lengths[short, None], a[np.minimum(at, len(a) - 1)], 0)
        rows[:, width:].view(np.int64)[:, 0] = lengths[short]
        _, first, group = np.unique(rows.view(np.dtype((np.void, width + 8))).reshape(-1), return_index=True,
                                    return_inverse=True)
        values = np.empty(len(first), dtype=object)
        for g, k in enumerate(first.tolist()):
            s = int(starts[short][k])
            values[g] = decode(protos.attr_value_pb2.AttrValue.FromString(buf[s:s + int(lengths[short][k])]))
        out[has[short]] = values[group.reshape(-1)]
    decoded: dict[bytes, object] = {}
    for k, s, n in zip(has[~short].tolist(), starts[~short].tolist(), lengths[~short].tolist()):
        raw = buf[s:s + n]
        got = decoded.get(raw, decoded)
        if got is decoded:
            got = decoded[raw] = decode(protos.attr_value_pb2.AttrValue.FromString(raw))
        out[k] = got
    return out.tolist()


_GROUP_BYTES = 24  # a multiple of 8


def tensor_info(info) -> tuple[str, str, tuple[int, ...] | None]:
    which = info.WhichOneof("encoding")
    name = info.name if which == "name" else (
        info.coo_sparse.values_tensor_name if which == "coo_sparse" else which or "")
    return name, protos.dtype_name(info.dtype), protos.shape_list(info.tensor_shape)


def read_metagraph(artifact: Artifact, mg, graph_name: str, path: str) -> MetaGraphInfo:
    """Add one MetaGraphDef's graph, functions, variables and roots to ``artifact``."""
    graph, functions = build_graph(graph_name, mg.graph_def, path)
    artifact.graphs[graph_name] = graph
    for fname, fbody in functions.items():
        artifact.functions.setdefault(fname, fbody)
    info = MetaGraphInfo(tags=tuple(mg.meta_info_def.tags), graph=graph_name,
                         tf_version=mg.meta_info_def.tensorflow_version)

    variable_defs: list = []
    trainable_names: set[str] = set()
    has_trainable = False
    for key in sorted(mg.collection_def):
        coll = mg.collection_def[key]
        kind = coll.WhichOneof("kind")
        if key in GRAPH_KEYS_VARIABLES and kind == "bytes_list":
            parsed = []
            for raw in coll.bytes_list.value:
                vd = protos.VariableDef()
                try:
                    vd.ParseFromString(raw)
                except Exception:  # noqa: BLE001 - a bad entry is reported, not fatal
                    _unknown(path, f"collection `{key}` holds an entry that is not a VariableDef")
                    continue
                parsed.append(vd)
            if key == "trainable_variables":
                has_trainable = True
                trainable_names.update(tensor_node(vd.variable_name) for vd in parsed)
            variable_defs.extend(parsed)
            info.collections[key] = [tensor_node(vd.variable_name) for vd in parsed]
        elif kind == "node_list":
            # A node added twice (TF1 `minimize` adds its train op itself) is one root.
            info.collections[key] = list(dict.fromkeys(tensor_node(n) for n in coll.node_list.value))
        elif kind == "bytes_list":
            info.collections[key] = []
    collect_variables(artifact, graph, variable_defs, trainable_names, has_trainable)

    for sig_key in sorted(mg.signature_def):
        sd = mg.signature_def[sig_key]
        sig = Signature(
            name=sig_key, method=sd.method_name,
            inputs={k: tensor_info(sd.inputs[k]) for k in sorted(sd.inputs)},
            outputs={k: tensor_info(sd.outputs[k]) for k in sorted(sd.outputs)},
        )
        info.signatures.append(sig)
        for out_key, (tensor, _, _) in sig.outputs.items():
            node = tensor_node(tensor)
            if sig_key == "__saved_model_init_op":
                if node not in info.init_ops:
                    info.init_ops.append(node)
                artifact.roots.append(Root(graph_name, node, RootKind.INIT_OP, "signature `__saved_model_init_op`"))
            elif sig_key == "__saved_model_train_op":
                artifact.roots.append(Root(graph_name, node, RootKind.TRAIN_OP, "signature `__saved_model_train_op`"))
            else:
                artifact.roots.append(Root(graph_name, node, RootKind.SIGNATURE_OUTPUT,
                                           f"signature `{sig_key}` output `{out_key}`"))
    for key in INIT_COLLECTIONS:
        for node in info.collections.get(key, ()):
            if key in ("saved_model_main_op", "legacy_init_op", "init_op", "table_initializer",
                       "local_init_op"):
                if node not in info.init_ops:
                    info.init_ops.append(node)
                artifact.roots.append(Root(graph_name, node, RootKind.INIT_OP, f"collection `{key}`"))
    for node in info.collections.get(TRAIN_OP_COLLECTION, ()):
        artifact.roots.append(Root(graph_name, node, RootKind.TRAIN_OP, "collection `train_op`"))
    if mg.HasField("saver_def"):
        sd = mg.saver_def
        if sd.restore_op_name:
            info.restore_op = tensor_node(sd.restore_op_name)
            artifact.roots.append(Root(graph_name, info.restore_op, RootKind.RESTORE_OP, "saver_def"))
        if sd.save_tensor_name:
            info.save_op = tensor_node(sd.save_tensor_name)
            artifact.roots.append(Root(graph_name, info.save_op, RootKind.SAVE_OP, "saver_def"))
        if info.restore_op:
            for var_i, key in restore_targets(graph, info.restore_op).items():
                var = artifact.variables.get(graph.names[var_i])
                if var is not None:
                    var.restored = True
                    var.checkpoint_key = key
    artifact.meta_graphs.append(info)
    return info


def _unknown(path: str, what: str) -> None:
    """Unknown content degrades quietly, and fails loudly under GRAPHAUDIT_STRICT=1."""
    if strict():
        raise ArtifactError(path, what)
    warnings.warn(f"{os.fspath(path)}: {what}", StrictModeWarning, stacklevel=3)
