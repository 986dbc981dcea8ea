"""Write every artifact format from plain Python values, without TensorFlow: the fuzzers' raw material."""

# These writers lay bytes out as TensorFlow and Keras do, so that a mutation lands deep inside a
# reader rather than at its first magic check. They never validate: hostile values go through.

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from graphaudit.formats import crc32c, protos
from graphaudit.formats.snappy import compress_literals
from graphaudit.formats.table import encode_varint, write_table

DT_FLOAT, DT_INT32, DT_STRING = 1, 3, 7

# The product's own table writer and encoders, under the short names the fuzzers use.
varint = encode_varint
snappy_literals = compress_literals
table = write_table


def snappy_copies(raw_len: int) -> bytes:
    """Raw snappy of one literal byte then 64-byte copies: tiny input, ``raw_len`` bytes out."""
    out = bytearray(varint(raw_len)) + bytes([0 << 2]) + b"a"
    left = raw_len - 1
    while left >= 64:
        out += bytes([(63 << 2) | 2]) + (1).to_bytes(2, "little")
        left -= 64
    if left:
        out += bytes([((left - 1) << 2) | 2]) + (1).to_bytes(2, "little")
    return bytes(out)


def bundle_header(num_shards: int = 1) -> bytes:
    h = protos.BundleHeaderProto()
    h.num_shards = num_shards
    h.version.producer = 1
    return h.SerializeToString()


def bundle_entry(dtype: int, shape: Iterable[int], offset: int, size: int, crc: int = 0, shard_id: int = 0) -> bytes:
    e = protos.BundleEntryProto()
    e.dtype = dtype
    for d in shape:
        e.shape.dim.add(size=d)
    e.shard_id, e.offset, e.size, e.crc32c = shard_id, offset, size, crc
    return e.SerializeToString()


def checkpoint(prefix: Path, tensors: dict[bytes, np.ndarray], *, compression: int = 0) -> None:
    """A one-shard TF checkpoint of float/int tensors, keys as raw bytes (any bytes go)."""
    data = bytearray()
    items = [(b"", bundle_header())]
    for key in sorted(tensors):
        arr = np.ascontiguousarray(tensors[key])
        dtype = {np.dtype("float32"): DT_FLOAT, np.dtype("int32"): DT_INT32}[arr.dtype]
        raw = arr.tobytes()
        items.append((key, bundle_entry(dtype, arr.shape, len(data), len(raw), crc32c.mask(crc32c.value(raw)))))
        data += raw
    Path(f"{prefix}.index").write_bytes(table(items, compression=compression))
    Path(f"{prefix}.data-00000-of-00001").write_bytes(bytes(data))


def graphdef(nodes: Sequence[tuple[str, str, Sequence[str]]]) -> protos.GraphDef:
    """(name, op, inputs) triples; VariableV2 nodes get float shape attrs so readers see variables."""
    gd = protos.GraphDef()
    for name, op, inputs in nodes:
        nd = gd.node.add(name=name, op=op)
        nd.input.extend(inputs)
        if op in ("VariableV2", "VarHandleOp"):
            nd.attr["dtype"].type = DT_FLOAT
            for d in (3, 3):
                nd.attr["shape"].shape.dim.add(size=d)
        if op == "Const":
            nd.attr["dtype"].type = DT_FLOAT
            nd.attr["value"].tensor.dtype = DT_FLOAT
            nd.attr["value"].tensor.float_val.append(1.0)
    return gd


def small_graph(prefix: str = "m") -> list[tuple[str, str, list[str]]]:
    return [(f"{prefix}/x", "Placeholder", []), (f"{prefix}/w", "VariableV2", []),
            (f"{prefix}/w/read", "Identity", [f"{prefix}/w"]),
            (f"{prefix}/y", "MatMul", [f"{prefix}/x", f"{prefix}/w/read"]),
            (f"{prefix}/init", "Const", []), (f"{prefix}/w/Assign", "Assign", [f"{prefix}/w", f"{prefix}/init"])]


def metagraph(gd: protos.GraphDef, variables: Sequence[str] = ()) -> protos.MetaGraphDef:
    mg = protos.MetaGraphDef()
    mg.graph_def.CopyFrom(gd)
    mg.meta_info_def.tags.append("serve")
    coll = mg.collection_def["variables"].bytes_list
    for v in variables:
        vd = protos.VariableDef(variable_name=f"{v}:0", initializer_name=f"{v}/Assign", trainable=True)
        coll.value.append(vd.SerializeToString())
    return mg


def saved_model(folder: Path, mg: protos.MetaGraphDef, ckpt: dict[bytes, np.ndarray] | None = None) -> Path:
    sm = protos.SavedModel()
    sm.saved_model_schema_version = 1
    sm.meta_graphs.add().CopyFrom(mg)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "saved_model.pb").write_bytes(sm.SerializeToString())
    if ckpt is not None:
        (folder / "variables").mkdir(exist_ok=True)
        checkpoint(folder / "variables" / "variables", ckpt)
    return folder


def keras_config(layers: Sequence[tuple[str, str, dict]], name: str = "model") -> dict:
    return {"class_name": "Functional", "config": {"name": name, "trainable": True, "layers": [
        {"class_name": cls, "config": {"name": lname, "trainable": True, **cfg}} for lname, cls, cfg in layers]}}


def keras_h5(target, config: dict | str | None, weights: dict[str, dict[str, np.ndarray]]) -> None:
    """A tf_keras whole-model `.h5`; ``target`` is a path or a file object."""
    import h5py

    with h5py.File(target, "w") as f:
        if config is not None:
            f.attrs["model_config"] = config if isinstance(config, str) else json.dumps(config)
        f.attrs["keras_version"] = "2.15.0"
        root = f.create_group("model_weights")
        root.attrs["layer_names"] = [n.encode("utf-8", "surrogateescape") for n in weights]
        for lname, ws in weights.items():
            g = root.create_group(lname)
            names = [f"{lname}/{w}:0" for w in ws]
            g.attrs["weight_names"] = [n.encode("utf-8", "surrogateescape") for n in names]
            for full, value in zip(names, ws.values()):
                g.create_dataset(full, data=value)


def keras_v3(path: Path, config: dict, weights: dict[str, Sequence[np.ndarray]], *,
             compression: int = zipfile.ZIP_DEFLATED) -> None:
    """A Keras 3 `.keras` zip; ``weights`` maps the class-based group (`dense`) to its vars."""
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        layers = f.create_group("layers")
        for group, values in weights.items():
            v = layers.create_group(group).create_group("vars")
            for k, value in enumerate(values):
                v.create_dataset(str(k), data=value)
    with zipfile.ZipFile(path, "w", compression) as zf:
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.5.0"}))
        zf.writestr("model.weights.h5", buf.getvalue())
