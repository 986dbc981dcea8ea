"""Read each format into an Artifact, statically: parse, never execute."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping

from google.protobuf import message as pb_message
from google.protobuf import text_format

from graphaudit.artifact import Artifact, Format, KerasObject, ValueOrigin, ValuesMissing, Variable, VariableTable
from graphaudit.bulk import gc_paused
from graphaudit.errors import ArtifactError
from graphaudit.formats import protos, textproto
from graphaudit.formats.graphs import build_graph, check_importable, graph_from_wire, read_metagraph
from graphaudit.formats.checkpoint_paths import has_v1_files, meta_checkpoint_prefix, meta_prefix
from graphaudit.formats.sniff import SAVED_MODEL_FILES, looks_text, Candidate, ensure_inside, sniff_file

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


# Readers make a record per variable or key (millions in a large index), none in a cycle: with the
# cyclic collector on, each batch of them would set off a scan of everything already read.
@gc_paused
def read(candidate: Candidate, *, max_file_size: int) -> Artifact:
    """Read one discovered artifact. Raises ArtifactError with a one-line reason."""
    path = Path(candidate.path)
    if candidate.error:
        raise ArtifactError(path, candidate.error)
    fmt = candidate.format
    reader = _READERS.get(fmt)
    if reader is None:
        raise ArtifactError(path, f"reading {fmt.value if fmt else 'this'} files is not supported yet")
    return reader(path, max_file_size)


def _read_bytes(path: Path, max_file_size: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_file_size:
            raise ArtifactError(path, f"file is {size:,} bytes, over the {max_file_size:,}-byte size cap "
                                      "(raise it with --max-file-size)")
        return path.read_bytes()
    except OSError as exc:
        raise ArtifactError(path, f"cannot read: {exc.strerror}") from None


def _from_wire(path: Path, data: bytes, cls, problem: str):
    msg = cls()
    try:
        msg.ParseFromString(data)
    except (pb_message.DecodeError, RuntimeError, ValueError) as exc:
        raise ArtifactError(path, f"{problem} ({_short(exc)})") from None
    return msg


def _parse_binary(path: Path, data: bytes, cls, what: str):
    return _from_wire(path, data, cls, f"expected a binary {what} protobuf; it does not parse")


def parse_proto(path: Path, data: bytes, cls, what: str, *, text: bool):
    """``data`` parsed as ``cls``, in text or binary form; a bad file is one ArtifactError line."""
    return _parse_text(path, data, cls, what) if text else _parse_binary(path, data, cls, what)


# graphaudit's own text reader (formats/textproto) reads 4-6 MB/s; a check peaks at about 11 times
# the text's size in RSS (30 MB of GraphDef text: 308 MB). At this limit that is about 1.1 GB, the
# peak of a binary million-node check (docs/configuration.md, "Size limits").
MAX_TEXT_BYTES = 100 * 1024**2
# protobuf's own text parser, for what textproto leaves to it (extensions, groups), runs at
# about 0.2 MB/s in Python: past this it would take minutes.
MAX_FALLBACK_TEXT_BYTES = 10 * 1024**2


def text_to_wire(path: Path, data: bytes, cls, what: str) -> bytes | None:
    """The wire bytes of text-format ``data``, or None where only protobuf's own parser reads it."""
    if len(data) > MAX_TEXT_BYTES:
        raise ArtifactError(path, f"text-format {what} is {len(data):,} bytes; graphaudit parses text protobufs "
                                  f"of at most {MAX_TEXT_BYTES:,}; save it in binary form instead")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArtifactError(path, f"expected a text-format {what}; not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        return textproto.to_wire(text, cls.DESCRIPTOR)
    except textproto.TextProtoError as exc:
        raise ArtifactError(path, f"expected a text-format {what}; {exc}") from None
    except textproto.Unsupported:
        return None


def _parse_text(path: Path, data: bytes, cls, what: str):
    wire = text_to_wire(path, data, cls, what)
    if wire is None:
        return _parse_text_format(path, data, cls, what)
    return _parse_transcoded(path, wire, cls, what)


def _parse_transcoded(path: Path, wire: bytes, cls, what: str):
    # What upb checks beyond the text's syntax (a string field's UTF-8, its depth limit).
    return _from_wire(path, wire, cls, f"expected a text-format {what}; its values do not form one")


def _parse_text_format(path: Path, data: bytes, cls, what: str):
    if len(data) > MAX_FALLBACK_TEXT_BYTES:
        raise ArtifactError(path, f"text-format {what} is {len(data):,} bytes and uses extensions or groups, "
                                  f"which graphaudit reads only up to {MAX_FALLBACK_TEXT_BYTES:,} bytes "
                                  "(protobuf's own text parser, about 0.2 MB/s); save it in binary form instead")
    msg = cls()
    try:
        text_format.Parse(data.decode("utf-8"), msg, allow_unknown_extension=True)
    except text_format.ParseError as exc:
        where = f"line {exc.GetLine()}, column {exc.GetColumn()}: " if exc.GetLine() else ""
        detail = str(exc).split(" : ", 1)[-1]
        raise ArtifactError(path, f"expected a text-format {what}; {where}{detail}") from None
    except RecursionError:
        raise ArtifactError(path, f"expected a text-format {what}; its messages nest deeper than the "
                                  "protobuf text parser follows") from None
    return msg


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else "no detail"


def _starts_texty(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(256)
    return bool(head) and b"\x00" not in head and head.lstrip()[:1].isalpha()


# ---------------------------------------------------------------------------- GraphDef

def read_graphdef(path: Path, max_file_size: int) -> Artifact:
    data = _read_bytes(path, max_file_size)
    text = _starts_texty(path) and looks_text(data[:4096])  # binary protos hold control bytes early
    art = Artifact(path=str(path), format=Format.GRAPHDEF_TEXT if text else Format.GRAPHDEF)
    parse = _parse_binary
    if text:
        # Text is transcoded to wire bytes, then read like a binary GraphDef.
        wire = text_to_wire(path, data, protos.GraphDef, "GraphDef")
        if wire is not None:
            data, text, parse = wire, False, _parse_transcoded
    graph = None if text else _read_nodes_in_chunks(path, data, parse)
    if graph is not None:
        check_importable(graph, str(path))
    else:
        if text:
            gd = _parse_text_format(path, data, protos.GraphDef, "GraphDef")
        else:
            gd = parse(path, data, protos.GraphDef, "GraphDef")
        if not gd.node and not gd.library.function:
            raise ArtifactError(path, "expected a GraphDef with nodes; it parsed but holds no nodes")
        _check_nodes(path, gd.node)
        graph, functions = build_graph("graph", gd, str(path), serialized=None if text else data)
        art.functions.update(functions)
    art.graphs["graph"] = graph
    from graphaudit.formats.graphs import collect_variables

    collect_variables(art, graph, (), set(), False)
    art.value_sources = (ValueOrigin.INIT,) if art.variables else ()
    if not art.variables:
        frozen_weights(art, graph)
    _release_freed_memory(len(data))
    return art


# Node records parsed at a time when a binary GraphDef is validated: the protobuf tree of a whole
# 1M-node graph is about six times the file's size, that of 4,096 nodes a few megabytes.
VALIDATE_NODES = 4096


def _read_nodes_in_chunks(path: Path, data: bytes, parse: Callable = _parse_binary):
    """The Graph of a binary GraphDef without a function library, read column-wise, or None.

    protobuf parses the file a few thousand node records at a time (a serialized message is the
    concatenation of its fields, so the parts parse exactly when the whole does; a broken file is
    parsed whole for protobuf's own error text), and each part's tree goes before the next: the whole file is checked without ever
    holding its tree (``parse`` words its errors: binary, or transcoded text). The nodes are then
    read column-wise (formats/wire.py). None when the nodes are not laid out back to back, when
    there is a function library (read through the tree), or when the column read disagrees with
    protobuf: the caller then parses the whole file.
    """
    from graphaudit.formats import wire

    # The C scan reads any bytes safely (every span is checked against its record), so it runs first
    # and its record ends cut the parts; the numpy one reads only what protobuf has validated.
    columns = None
    if wire.native is not None and wire.USE_NATIVE:
        columns = wire.scan_nodes(data)
        if columns is None:  # an unusual layout: the caller parses the whole file
            return None
        ends = columns.node_end
    else:
        spans = wire.node_records(data)
        if spans is None:
            return None
        ends = spans[1]
    n = len(ends)
    if not n:
        return None
    wanted = sorted({0, n // 2, n - 1})
    probes: list[tuple[int, str]] = []
    view = memoryview(data)
    begin = 0
    for first in range(0, n, VALIDATE_NODES):
        stop = int(ends[min(first + VALIDATE_NODES, n) - 1]) if first + VALIDATE_NODES < n else len(data)
        try:
            part = parse(path, view[begin:stop], protos.GraphDef, "GraphDef")
        except ArtifactError:
            # protobuf words some errors by what follows the broken field (a length running past
            # its record reads on into the next one): the whole file's parse gives its own words.
            parse(path, data, protos.GraphDef, "GraphDef")
            raise
        if part.library.function or len(part.node) != min(VALIDATE_NODES, n - first):
            return None
        probes += [(i, part.node[i - first].name) for i in wanted if first <= i < first + VALIDATE_NODES]
        begin = stop
    return graph_from_wire("graph", data, (n, probes), columns=columns)


# Below this size, what reading frees is too little to be worth a system call.
_RELEASE_BYTES = 16 * 1024**2


def _release_freed_memory(size: int) -> None:
    """Hand memory freed by reading a big graph (the parsed tree, the scan's temporaries) back to the system.

    glibc keeps freed blocks in the heap, and numpy's big temporaries move its mmap threshold up,
    so a 1M-node read leaves about 450 MB free but resident, on top of which the analyses then
    allocate. ``malloc_trim`` returns it (20 ms); elsewhere this does nothing.
    """
    if size < _RELEASE_BYTES:
        return
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc


# What a frozen graph's weight Consts are named after (the variable they replaced), when no
# Identity reads them (a graph whose reads were stripped after freezing).
_WEIGHT_LEAVES = frozenset({"kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance", "depthwise_kernel",
                            "pointwise_kernel", "embeddings", "weights", "biases"})
_FLOAT_DTYPES = frozenset({1, 2, 14, 19})


def frozen_weights(art: Artifact, graph) -> None:
    """A frozen GraphDef's weights: float Consts that an Identity reads (what freezing leaves of a
    variable read), or big ones named like a weight. Their values are decoded only when asked for."""
    nodes = {}
    for i in graph.by_op.get("Const", ()):
        av = graph.attr(i, "value")
        if av is None or av.tensor.dtype not in _FLOAT_DTYPES:
            continue
        dims = tuple(d.size for d in av.tensor.tensor_shape.dim)
        if not dims:
            continue
        read = any(graph.ops[j] in ("Identity", "Switch", "Enter") for j in graph.consumers[i])
        named = graph.names[i].rpartition("/")[2] in _WEIGHT_LEAVES and len(av.tensor.tensor_content) >= 64
        if not (read or named):
            continue
        name = graph.names[i]
        art.variables[name] = Variable(name=name, dtype=protos.dtype_name(av.tensor.dtype), shape=dims,
                                       graph=graph.name, node=name, trainable=False,
                                       trainable_source="a frozen graph's constant")
        nodes[name] = i
    if nodes:
        art.stored_values = ConstValues(graph, nodes)
        art.frozen_weights = len(nodes)


class ConstValues(Mapping):
    """name -> the ndarray of a frozen weight Const, decoded from ``tensor_content`` when asked for."""

    def __init__(self, graph, nodes: dict[str, int]) -> None:
        self._graph = graph
        self._nodes = nodes

    def __getitem__(self, name: str):
        import numpy as np

        t = self._graph.attr(self._nodes[name], "value").tensor
        dims = tuple(d.size for d in t.tensor_shape.dim)
        np_name = protos.DTYPES.get(t.dtype, (None, None))[1]
        if t.tensor_content:
            return np.frombuffer(t.tensor_content, dtype=np.dtype(np_name)).reshape(dims)
        vals = t.half_val if t.dtype in (14, 19) else (t.double_val if t.dtype == 2 else t.float_val)
        arr = np.asarray(vals, dtype=np.uint16).view(np.dtype(np_name)) if t.dtype in (14, 19) else \
            np.asarray(vals, dtype=np.dtype(np_name))
        size = int(np.prod(dims))
        # TensorFlow repeats the last value to fill the shape (a Const of zeros stores one zero).
        return np.resize(arr if arr.size else np.zeros(1, arr.dtype), size).reshape(dims) if arr.size != size \
            else arr.reshape(dims)

    def __iter__(self):
        return iter(self._nodes)

    def __len__(self) -> int:
        return len(self._nodes)


def _check_nodes(path: Path, nodes) -> None:
    for nd in nodes[:64]:
        if not nd.op:
            raise ArtifactError(path, f"expected GraphDef nodes with an op; node `{nd.name}` has none "
                                      "(is this really a GraphDef?)")


# ---------------------------------------------------------------------------- MetaGraph

def read_metagraph_file(path: Path, max_file_size: int) -> Artifact:
    data = _read_bytes(path, max_file_size)
    text = _starts_texty(path)
    if not text and data[:1] != b"\x0a" and data[:1] != b"\x12":
        # A SavedModel or GraphDef handed over under a .meta name: read what it is.
        fmt = sniff_file(path)
        if fmt is Format.GRAPHDEF:
            return read_graphdef(path, max_file_size)
    mg = (_parse_text if text else _parse_binary)(path, data, protos.MetaGraphDef, "MetaGraphDef")
    if not mg.graph_def.node:
        # Not a MetaGraphDef after all: maybe a GraphDef whose first node fooled the sniffer.
        if not text:
            gd = protos.GraphDef()
            try:
                gd.ParseFromString(data)
                if gd.node and all(n.op for n in gd.node[:64]):
                    return read_graphdef(path, max_file_size)
            except pb_message.DecodeError:
                pass
        raise ArtifactError(path, "expected a MetaGraphDef with a graph_def; it holds no graph nodes")
    art = Artifact(path=str(path), format=Format.METAGRAPH)
    info = read_metagraph(art, mg, "graph", str(path))
    prefix = meta_checkpoint_prefix(path)
    if prefix is None:
        # `import_meta_graph` reads a `.meta` alone: audit the graph, say what needs values.
        if art.variables:
            graph_only(art, f"no checkpoint beside the `.meta` (`{meta_prefix(path).name}.index`)")
        return art
    _attach_checkpoint(art, prefix)
    art.value_sources = (ValueOrigin.CHECKPOINT,) if info.restore_op else (ValueOrigin.CHECKPOINT_BY_NAME,)
    _map_checkpoint_by_name(art)
    return art


def graph_only(art: Artifact, why: str) -> None:
    """An artifact read without its values: nothing can be said about what holds which value."""
    art.value_sources = ()
    art.checkpoint = None
    art.values_missing = ValuesMissing(why, len(art.variables))


def _attach_checkpoint(art: Artifact, prefix: Path) -> None:
    from graphaudit.formats.checkpoint import Checkpoint

    if not prefix.with_name(prefix.name + ".index").is_file():
        from graphaudit.formats.checkpoint_v1 import CheckpointV1

        if has_v1_files(prefix):
            art.checkpoint = CheckpointV1.open(prefix)
            return
    art.checkpoint = Checkpoint.open(prefix)


def _map_checkpoint_by_name(art: Artifact) -> None:
    """With no restore op to say otherwise, TF1 savers key each variable by its name."""
    for var in art.variables.values():
        if var.checkpoint_key is None and var.restored is None:
            var.checkpoint_key = var.name


# ---------------------------------------------------------------------------- SavedModel

def read_saved_model(path: Path, max_file_size: int) -> Artifact:
    if path.is_file():
        pb_path = path
        path = path.parent
    else:
        pb_path = next((path / n for n in SAVED_MODEL_FILES if (path / n).is_file()), None)
        if pb_path is None:
            found = ", ".join(sorted(f"`{p.name}`" for p in path.iterdir())[:5]) or "nothing"
            raise ArtifactError(path, f"no saved_model.pb or saved_model.pbtxt in this folder; found: {found}")
    ensure_inside(pb_path, path, pb_path.name)
    data = _read_bytes(pb_path, max_file_size)
    text = pb_path.name.endswith(".pbtxt") or _starts_texty(pb_path)
    sm = (_parse_text if text else _parse_binary)(pb_path, data, protos.SavedModel, "SavedModel")
    if not sm.meta_graphs:
        raise ArtifactError(pb_path, "expected a SavedModel with at least one MetaGraph; it holds none")
    v2 = any(mg.HasField("object_graph_def") and mg.object_graph_def.nodes for mg in sm.meta_graphs)
    art = Artifact(path=str(path), format=Format.SAVED_MODEL_V2 if v2 else Format.SAVED_MODEL_V1)
    for k, mg in enumerate(sm.meta_graphs):
        tags = ",".join(sorted(mg.meta_info_def.tags)) or f"#{k}"
        name = f"tags:{tags}" if len(sm.meta_graphs) > 1 or tags else "graph"
        read_metagraph(art, mg, name, str(pb_path))
    var_dir = path / "variables"
    prefix = var_dir / "variables"
    has_index = prefix.with_name("variables.index").is_file()
    if var_dir.exists():
        ensure_inside(var_dir, path, "variables/")
    if v2:
        # TF2 variables are object-graph nodes; the graph's VarHandleOps only restate them.
        art.variables.clear()
        _read_object_graph(art, sm.meta_graphs[0].object_graph_def)
    if not has_index:
        # `saved_model_cli` shows such a SavedModel; only loading it needs the values.
        if art.variables:
            what = "no `variables/` folder" if not var_dir.exists() else "no `variables/variables.index`"
            graph_only(art, f"SavedModel has {what}")
        _read_keras_metadata(art, path, max_file_size)
        return art
    _attach_checkpoint(art, prefix)
    if v2:
        _map_object_graph_to_checkpoint(art)
        art.value_sources = (ValueOrigin.CHECKPOINT,)
    else:
        art.value_sources = (ValueOrigin.CHECKPOINT, ValueOrigin.INIT)
        _map_checkpoint_by_name(art)
    _read_keras_metadata(art, path, max_file_size)
    return art


def _read_object_graph(art: Artifact, og) -> None:
    """TF2 SavedModels: variables are nodes of the object graph (SavedVariable)."""
    names: dict[int, str] = {}
    seen: dict[str, int] = {}
    paths = _object_paths(og)
    for node_id, obj in enumerate(og.nodes):
        if obj.WhichOneof("kind") != "variable":
            continue
        sv = obj.variable
        name = sv.name or paths.get(node_id, f"node_{node_id}")
        if name in seen:
            name = f"{name} ({paths.get(node_id, node_id)})"
        seen[name] = node_id
        names[node_id] = name
        var = art.variables.get(name) or Variable(name=name)
        var.dtype = protos.dtype_name(sv.dtype)
        var.shape = protos.shape_list(sv.shape)
        var.trainable = bool(sv.trainable)
        var.trainable_source = "SavedVariable.trainable"
        art.variables[name] = var
    art.object_variable_ids = names
    art.object_paths = paths


def _object_paths(og) -> dict[int, str]:
    """Breadth-first path of each object-graph node from the root (node 0)."""
    paths = {0: ""}
    queue = [0]
    while queue:
        nxt = []
        for node_id in queue:
            for child in og.nodes[node_id].children:
                if child.node_id not in paths and child.node_id < len(og.nodes):
                    base = paths[node_id]
                    paths[child.node_id] = f"{base}/{child.local_name}" if base else child.local_name
                    nxt.append(child.node_id)
        queue = nxt
    return paths


def _map_object_graph_to_checkpoint(art: Artifact) -> None:
    """The checkpoint's TrackableObjectGraph shares node ids with the SavedObjectGraph."""
    ids = art.object_variable_ids
    ckpt = art.checkpoint
    tog = ckpt.object_graph() if ckpt is not None else None
    if tog is None:
        return
    for node_id, name in ids.items():
        if node_id >= len(tog.nodes):
            continue
        for attr in tog.nodes[node_id].attributes:
            if attr.name == "VARIABLE_VALUE":
                art.variables[name].checkpoint_key = attr.checkpoint_key
                art.variables[name].restored = True
    for node in tog.nodes:
        for slot in node.slot_variables:
            owner = ids.get(slot.original_variable_node_id)
            if owner is None or slot.slot_variable_node_id >= len(tog.nodes):
                continue
            for attr in tog.nodes[slot.slot_variable_node_id].attributes:
                if attr.name == "VARIABLE_VALUE":
                    art.variables[owner].slots.append(attr.checkpoint_key)


def _read_keras_metadata(art: Artifact, path: Path, max_file_size: int) -> None:
    meta = path / "keras_metadata.pb"
    if not meta.is_file():
        return
    msg = _parse_binary(meta, _read_bytes(meta, max_file_size), protos.KerasSavedMetadata, "Keras SavedMetadata")
    art.keras_objects = tuple(KerasObject(n.node_path, n.identifier, n.metadata) for n in msg.nodes)
    from graphaudit.formats.keras import apply_saved_model_metadata

    apply_saved_model_metadata(art)


# ---------------------------------------------------------------------------- checkpoint

def read_checkpoint(path: Path, max_file_size: int) -> Artifact:
    from graphaudit.formats.checkpoint import Checkpoint

    ckpt = Checkpoint.open(path, max_file_size=max_file_size)
    return _checkpoint_artifact(path, ckpt, Format.CHECKPOINT)


def read_checkpoint_v1(path: Path, max_file_size: int) -> Artifact:
    from graphaudit.formats.checkpoint_v1 import CheckpointV1

    return _checkpoint_artifact(path, CheckpointV1.open(path), Format.CHECKPOINT_V1)


def _checkpoint_artifact(path: Path, ckpt, fmt: Format) -> Artifact:
    art = Artifact(path=str(path), format=fmt, checkpoint=ckpt)
    tog = ckpt.object_graph()
    slot_keys: set[str] = set()
    if tog is not None:
        # TF2: name variables by their full_name when the object graph gives one.
        owners: dict[int, str] = {}
        for node_id, node in enumerate(tog.nodes):
            for attr in node.attributes:
                # The checkpoint's own lookup: no set of its keys (millions in a large index).
                if attr.name == "VARIABLE_VALUE" and attr.checkpoint_key in ckpt:
                    owners[node_id] = attr.checkpoint_key
        for node in tog.nodes:
            for slot in node.slot_variables:
                key = owners.get(slot.slot_variable_node_id)
                if key:
                    slot_keys.add(key)
        for node_id, key in sorted(owners.items()):
            if key in slot_keys:
                continue
            full = next((a.full_name for a in tog.nodes[node_id].attributes if a.name == "VARIABLE_VALUE"), "")
            _add_checkpoint_variable(art, full or key, key)
        for node in tog.nodes:
            for slot in node.slot_variables:
                owner_key = owners.get(slot.original_variable_node_id)
                slot_key = owners.get(slot.slot_variable_node_id)
                if owner_key and slot_key:
                    for var in art.variables.values():
                        if var.checkpoint_key == owner_key:
                            var.slots.append(slot_key)
    else:
        # One variable per key (no object graph, so no OBJECT_GRAPH_KEY), kept as the index's
        # columns: a Variable is made only for the ones looked up.
        art.variables = VariableTable(*ckpt.columns())  # type: ignore[assignment]  (a read-only mapping)
    art.value_sources = (ValueOrigin.CHECKPOINT,)
    return art


def _add_checkpoint_variable(art: Artifact, name: str, key: str) -> None:
    entry = art.checkpoint.entry(key)
    art.variables[name] = Variable(name=name, dtype=entry.dtype, shape=tuple(entry.shape),
                                   checkpoint_key=key, restored=True)


_READERS: dict[Format | None, Callable[[Path, int], Artifact]] = {
    Format.GRAPHDEF: read_graphdef,
    Format.GRAPHDEF_TEXT: read_graphdef,
    Format.METAGRAPH: read_metagraph_file,
    Format.SAVED_MODEL_V1: read_saved_model,
    Format.SAVED_MODEL_V2: read_saved_model,
    Format.CHECKPOINT: read_checkpoint,
    Format.CHECKPOINT_V1: read_checkpoint_v1,
}


def register_reader(fmt: Format, reader: Callable[[Path, int], Artifact]) -> None:
    """Formats added later (Keras .h5 / .keras) plug in here."""
    _READERS[fmt] = reader


def read_keras_h5(path: Path, max_file_size: int) -> Artifact:
    # formats/keras.py (zipfile, and h5py when it reads) is imported only when a Keras file is read.
    from graphaudit.formats import keras

    return keras.read_keras_h5(path, max_file_size)


def read_keras_v3(path: Path, max_file_size: int) -> Artifact:
    from graphaudit.formats import keras

    return keras.read_keras_v3(path, max_file_size)


register_reader(Format.KERAS_H5, read_keras_h5)
register_reader(Format.KERAS_V3, read_keras_v3)
