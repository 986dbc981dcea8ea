"""Editing a graph artifact's protobuf for `graphaudit fix`: pruning nodes with their closure, the saver's lists, collections, and writing it back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from graphaudit.artifact import Artifact, Format
from graphaudit.formats.contexts import CONTEXTS, context_names, names_in
from graphaudit.formats.graphs import tensor_node
from graphaudit.records import dataclass


#: Collections of VariableDefs; the others name nodes or hold protos of their own.
VARIABLE_COLLECTIONS = ("variables", "trainable_variables", "local_variables", "model_variables",
                        "moving_average_variables", "metric_variables")


SAVE_OPS = ("SaveV2", "Save", "SaveSlices")


RESTORE_OPS = ("RestoreV2",)


class Unsafe(Exception):
    """A fix that the evidence does not make safe; the message says why, and the finding is left manual."""


def proto_path(art: Artifact) -> Path:
    path = Path(art.path)
    if art.format in (Format.SAVED_MODEL_V1, Format.SAVED_MODEL_V2) and path.is_dir():
        for name in ("saved_model.pb", "saved_model.pbtxt"):
            if (path / name).is_file():
                return path / name
    return path


def load_proto(art: Artifact):
    """The artifact's top protobuf, parsed with the generated classes, and whether it is text."""
    from graphaudit.formats import protos
    from graphaudit.formats.readers import parse_proto

    path = proto_path(art)
    cls, what = {Format.GRAPHDEF: (protos.GraphDef, "GraphDef"), Format.GRAPHDEF_TEXT: (protos.GraphDef, "GraphDef"),
                 Format.METAGRAPH: (protos.MetaGraphDef, "MetaGraphDef"),
                 Format.SAVED_MODEL_V1: (protos.SavedModel, "SavedModel")}[art.format]
    text = art.format is Format.GRAPHDEF_TEXT or path.suffix == ".pbtxt"
    return parse_proto(path, path.read_bytes(), cls, what, text=text), text


def meta_graphs(art: Artifact, message) -> dict[str, object]:
    """Graph name in the Artifact -> the MetaGraphDef (or GraphDef) that holds it, as the readers name them."""
    if art.format in (Format.GRAPHDEF, Format.GRAPHDEF_TEXT, Format.METAGRAPH):
        return {next(iter(art.graphs), "graph"): message}
    out = {}
    for k, mg in enumerate(message.meta_graphs):
        tags = ",".join(sorted(mg.meta_info_def.tags)) or f"#{k}"
        out[f"tags:{tags}" if len(message.meta_graphs) > 1 or tags else "graph"] = mg
    return out


def graph_def(holder):
    return holder.graph_def if hasattr(holder, "graph_def") else holder


@dataclass
class Pruned:
    nodes: list[tuple[str, str]]  # (name, op) removed, in graph order
    keys: set[str]  # checkpoint keys the saver no longer saves or restores
    collection_entries: int


def prune(holder, seeds: Iterable[str], protected: set[str]) -> Pruned:
    """Remove ``seeds`` from the graph, with what only they use and what only uses them.

    What is removed: the seeds; every node reading one of them over a data edge (an op cannot
    lose an input); and, repeatedly, every node all of whose consumers are removed (its
    initializer constants, its reads, its placeholder). Control edges into removed nodes are
    dropped (an init op's `^kernel/Assign`). A saver keeps its ops: the removed variables leave
    its tensor lists. Raises :class:`Unsafe` rather than remove a node in ``protected`` (roots,
    signature tensors, saver and init ops) or leave a collection or control-flow context naming
    a removed node it cannot drop whole.
    """
    gd = graph_def(holder)
    nodes = list(gd.node)
    by_name = {n.name: n for n in nodes}
    consumers: dict[str, list[tuple[str, bool]]] = {n.name: [] for n in nodes}
    for n in nodes:
        for ref in n.input:
            src = tensor_node(ref)
            if src in consumers:
                consumers[src].append((n.name, ref.startswith("^")))
    saver_ops = {n.name for n in nodes if n.op in SAVE_OPS + RESTORE_OPS}
    removed: set[str] = set()
    # Consumer edges not yet removed, per node: a node whose count drops to zero feeds only removed nodes.
    left = {name: len(uses) for name, uses in consumers.items()}

    def remove(start: list[str], downstream: bool) -> None:
        stack = [(name, downstream) for name in start]
        while stack:
            name, down = stack.pop()
            if name in removed or name in saver_ops or (not down and name in protected):
                continue
            removed.add(name)
            if down:
                stack.extend((c, True) for c, control in consumers[name] if not control)
            for ref in by_name[name].input:
                src = tensor_node(ref)
                if src in left:
                    left[src] -= 1
                    if left[src] == 0:
                        stack.append((src, False))

    # Downstream over data edges (stopping at the saver, whose lists are rewritten instead) and
    # upstream what only removed nodes use; then the scaffolding of control-flow contexts whose
    # values are removed (a cond's pivot and switches feed nothing but the removed branch).
    # Each node and edge is visited once.
    remove([s for s in seeds if s in by_name], downstream=True)
    while True:
        scaffolding = _context_scaffolding(holder, removed, by_name)
        if not scaffolding:
            break
        for name in scaffolding:
            outside = [c for c, _ in consumers[name] if c not in removed and c not in scaffolding]
            if outside or name in protected:
                raise Unsafe(f"the control-flow node `{name}` of a removed copy is used by `{(outside or [name])[0]}`")
        remove(sorted(scaffolding), downstream=False)
        missed = scaffolding - removed
        if missed:
            raise Unsafe(f"the control-flow node `{sorted(missed)[0]}` of a removed copy cannot be removed")
    clash = sorted(removed & protected)
    if clash:
        raise Unsafe(f"it would remove {', '.join(f'`{c}`' for c in clash[:3])}, which a root or the saver needs")
    keys = _rewrite_saver(gd, nodes, by_name, consumers, removed)
    entries = _prune_collections(holder, removed)
    kept = [n for n in nodes if n.name not in removed]
    for n in kept:
        inputs = [ref for ref in n.input if not (ref.startswith("^") and tensor_node(ref) in removed)]
        dangling = [ref for ref in inputs if tensor_node(ref) in removed]
        if dangling:
            raise Unsafe(f"`{n.name}` ({n.op}) would lose its input `{dangling[0]}`")
        if len(inputs) != len(n.input):
            del n.input[:]
            n.input.extend(inputs)
    gone = [(n.name, n.op) for n in nodes if n.name in removed]
    del gd.node[:]
    gd.node.extend(kept)
    return Pruned(gone, keys, entries)


def _context_scaffolding(holder, removed: set[str], by_name) -> set[str]:
    """Nodes of control-flow contexts that hold removed values, not yet removed themselves."""
    if not hasattr(holder, "collection_def"):
        return set()
    out: set[str] = set()
    for key, (pivot_field, values_field) in CONTEXTS.items():
        coll = holder.collection_def.get(key)
        if coll is None:
            continue
        for raw in coll.bytes_list.value:
            pivot, values, external = context_names(raw, pivot_field, values_field)
            if values & removed:
                own = ({pivot} | values) - external - removed
                out |= {n for n in own if n in by_name}
    return out


def _string_list(node) -> list[bytes]:
    return list(node.attr["value"].tensor.string_val)


def _set_string_list(node, values: Sequence[bytes]) -> None:
    tensor = node.attr["value"].tensor
    del tensor.string_val[:]
    tensor.string_val.extend(values)
    shape = tensor.tensor_shape
    del shape.dim[:]
    shape.dim.add().size = len(values)
    if "_output_shapes" in node.attr:
        for s in node.attr["_output_shapes"].list.shape:
            del s.dim[:]
            s.dim.add().size = len(values)


def _rewrite_saver(gd, nodes, by_name, consumers, removed: set[str]) -> set[str]:
    """Take the removed variables out of every save and restore op; return their checkpoint keys.

    A save op's tensors follow its `tensor_names` constant position by position; a restore op's
    outputs do too. A key is dropped when the save op's tensor for it is removed, or when every
    reader of the restore op's output for it is removed.
    """
    savers = [n for n in nodes if n.name not in removed and n.op in SAVE_OPS + RESTORE_OPS and len(n.input) >= 3]
    original = {}  # const name -> its strings before any rewrite (save and restore may share one)
    for n in savers:
        for ref in n.input[1:3]:
            const = by_name.get(tensor_node(ref))
            if const is None or const.op != "Const":
                if any(tensor_node(r) in removed for r in n.input):
                    raise Unsafe(f"the saver op `{n.name}` takes its tensor names from a non-constant")
                break
            original.setdefault(const.name, _string_list(const))
    port_readers: dict[tuple[str, int], list[str]] = {}
    restore_names = {n.name for n in savers if n.op in RESTORE_OPS}
    for n in nodes:
        for ref in n.input:
            src = tensor_node(ref)
            if src in restore_names and not ref.startswith("^"):
                port = int(ref.split(":")[1]) if ":" in ref else 0
                port_readers.setdefault((src, port), []).append(n.name)
    keys: set[bytes] = set()
    for n in savers:
        names = original.get(tensor_node(n.input[1]))
        if names is None:
            continue
        if n.op in SAVE_OPS:
            start = 3 if n.op == "SaveV2" else 2
            data = [r for r in n.input[start:] if not r.startswith("^")]
            keys.update(names[i] for i, ref in enumerate(data[:len(names)]) if tensor_node(ref) in removed)
        else:
            for i, key in enumerate(names):
                readers = port_readers.get((n.name, i), [])
                if readers and all(r in removed for r in readers):
                    keys.add(key)
    if not keys:
        return set()
    for n in savers:
        names = original.get(tensor_node(n.input[1]))
        if names is None:
            continue
        keep = [i for i, k in enumerate(names) if k not in keys]
        if len(keep) == len(names):
            continue
        if n.op in SAVE_OPS:
            start = 3 if n.op == "SaveV2" else 2
            data = list(n.input[start:start + len(names)])
            new = list(n.input[:start]) + [data[i] for i in keep] + list(n.input[start + len(names):])
            del n.input[:]
            n.input.extend(new)
        else:
            remap = {old: new for new, old in enumerate(keep)}
            for (src, port), readers in port_readers.items():
                if src != n.name:
                    continue
                for reader in readers:
                    if reader in removed:
                        continue
                    if port not in remap:
                        raise Unsafe(f"`{reader}` reads the restored value of a removed variable")
                    user = by_name[reader]
                    refs = [(f"{n.name}:{remap[port]}" if remap[port] else n.name)
                            if tensor_node(r) == n.name and not r.startswith("^")
                            and (int(r.split(":")[1]) if ":" in r else 0) == port else r for r in user.input]
                    del user.input[:]
                    user.input.extend(refs)
        if "dtypes" in n.attr:
            types = list(n.attr["dtypes"].list.type)
            del n.attr["dtypes"].list.type[:]
            n.attr["dtypes"].list.type.extend(types[i] for i in keep)
    for name, values in original.items():
        # The names and their shape_and_slices line up position by position; both lose the same ones.
        names_of = next((original[tensor_node(n.input[1])] for n in savers
                         if name in (tensor_node(n.input[1]), tensor_node(n.input[2]))), values)
        _set_string_list(by_name[name], [v for v, k in zip(values, names_of) if k not in keys])
    return {k.decode("utf-8", "surrogateescape") for k in keys}


def _prune_collections(holder, removed: set[str]) -> int:
    if not hasattr(holder, "collection_def"):
        return 0
    from graphaudit.formats import protos

    dropped = 0
    for key in list(holder.collection_def):
        coll = holder.collection_def[key]
        kind = coll.WhichOneof("kind")
        if kind == "node_list":
            values = list(coll.node_list.value)
            keep = [v for v in values if tensor_node(v) not in removed]
            if len(keep) != len(values):
                del coll.node_list.value[:]
                coll.node_list.value.extend(keep)
                dropped += len(values) - len(keep)
        elif kind == "bytes_list" and key in VARIABLE_COLLECTIONS:
            values = list(coll.bytes_list.value)
            keep = []
            for raw in values:
                vd = protos.VariableDef.FromString(raw)
                if tensor_node(vd.variable_name) not in removed:
                    keep.append(raw)
            if len(keep) != len(values):
                del coll.bytes_list.value[:]
                coll.bytes_list.value.extend(keep)
                dropped += len(values) - len(keep)
        elif kind == "bytes_list" and removed:
            keep = []
            for raw in coll.bytes_list.value:
                if _context_gone(key, raw, removed):
                    continue
                keep.append(raw)
            if len(keep) != len(coll.bytes_list.value):
                dropped += len(coll.bytes_list.value) - len(keep)
                del coll.bytes_list.value[:]
                coll.bytes_list.value.extend(keep)
    if hasattr(holder, "signature_def"):
        for sig in holder.signature_def.values():
            for info in list(sig.inputs.values()) + list(sig.outputs.values()):
                if tensor_node(info.name) in removed:
                    raise Unsafe(f"the signature reads `{info.name}`, which would be removed")
    return dropped


def _context_gone(key: str, raw: bytes, removed: set[str]) -> bool:
    """Whether a collection entry belongs to removed nodes (drop it); raise Unsafe for a mix.

    A control-flow context goes with its pivot node; any other entry must name no removed node.
    """
    if key in CONTEXTS:
        pivot, values, external = context_names(raw, *CONTEXTS[key])
        if pivot in removed:
            return True
        if (values - external) & removed:
            raise Unsafe(f"a `{key}` entry holds removed nodes but its pivot `{pivot}` stays")
        return False
    hit = names_in(raw) & removed
    if hit:
        raise Unsafe(f"collection `{key}` names the removed node `{sorted(hit)[0]}`")
    return False


def untrain(holder, nodes: set[str]) -> int:
    coll = holder.collection_def.get("trainable_variables") if hasattr(holder, "collection_def") else None
    if coll is None:
        return 0
    from graphaudit.formats import protos

    values = list(coll.bytes_list.value)
    keep = [raw for raw in values if tensor_node(protos.VariableDef.FromString(raw).variable_name) not in nodes]
    del coll.bytes_list.value[:]
    coll.bytes_list.value.extend(keep)
    return len(values) - len(keep)


def write_proto(path: Path, message, text: bool) -> None:
    from google.protobuf import text_format

    path.parent.mkdir(parents=True, exist_ok=True)
    if text:
        path.write_text(text_format.MessageToString(message), encoding="utf-8")
    else:
        path.write_bytes(message.SerializeToString(deterministic=True))



def named_by_holder(holder) -> set[str]:
    """Nodes a MetaGraph names outside its graph: its saver's tensors and its signatures' tensors."""
    out: set[str] = set()
    if hasattr(holder, "saver_def") and holder.HasField("saver_def"):
        sd = holder.saver_def
        out.update(tensor_node(n) for n in (sd.filename_tensor_name, sd.save_tensor_name, sd.restore_op_name) if n)
    if hasattr(holder, "signature_def"):
        for sig in holder.signature_def.values():
            out.update(tensor_node(t.name) for t in list(sig.inputs.values()) + list(sig.outputs.values()))
    return out
