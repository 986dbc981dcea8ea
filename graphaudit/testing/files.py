"""Writers for the files the test harness reads back: checkpoints (tensor bundles) and their index table."""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping

import numpy as np

from graphaudit.formats import crc32c, protos
from graphaudit.formats.table import encode_varint, write_table

_DTYPE_ENUM = {name: number for number, (name, _) in protos.DTYPES.items()}


def dtype_enum(name: str) -> int:
    """TensorFlow's DataType number of ``name`` (``"float32"`` -> 1); ``_ref`` names add 100."""
    if name.endswith("_ref"):
        return dtype_enum(name[:-4]) + 100
    try:
        return _DTYPE_ENUM[name]
    except KeyError:
        raise ValueError(f"unknown dtype `{name}`; expected one of: {', '.join(sorted(_DTYPE_ENUM))}") from None


def write_checkpoint(prefix: str | os.PathLike[str], values: Mapping[str, np.ndarray],
                     extra_entries: Mapping[str, bytes] | None = None) -> str:
    """Write ``values`` (key -> array) as a one-shard tensor bundle at ``prefix``; return the prefix.

    ``extra_entries`` are raw string tensors stored as one-element string arrays (the TF2
    object graph under ``_CHECKPOINTABLE_OBJECT_GRAPH``).
    """
    prefix = os.fspath(prefix)
    data = bytearray()
    rows: list[tuple[bytes, bytes]] = []
    header = protos.BundleHeaderProto(num_shards=1, endianness=0)
    header.version.producer = 1
    rows.append((b"", header.SerializeToString()))
    items: dict[str, tuple[str, tuple[int, ...], bytes]] = {}
    crcs: dict[str, int] = {}
    for key, value in values.items():
        arr = np.asarray(value)
        name = _numpy_dtype_name(arr)
        if name == "bfloat16":
            raw = arr.view(np.uint16).astype("<u2").tobytes()
        else:
            raw = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
        items[key] = (name, arr.shape, raw)
    for key, raw in (extra_entries or {}).items():
        # A scalar string tensor: varint length, the 4-byte masked crc of the lengths, then the bytes.
        fixed = struct.pack("<I", len(raw))  # TensorFlow checksums lengths as fixed uint32s
        tail = struct.pack("<I", crc32c.mask(crc32c.value(fixed))) + raw
        items[key] = ("string", (), encode_varint(len(raw)) + tail)
        crcs[key] = crc32c.mask(crc32c.extend(crc32c.value(fixed), tail))
    for key in sorted(items, key=lambda k: k.encode("utf-8")):
        dtype, shape, raw = items[key]
        entry = protos.BundleEntryProto(dtype=dtype_enum(dtype), shard_id=0, offset=len(data), size=len(raw),
                                        crc32c=crcs.get(key, crc32c.mask(crc32c.value(raw))))
        for d in shape:
            entry.shape.dim.add().size = int(d)
        data += raw
        rows.append((key.encode("utf-8"), entry.SerializeToString()))
    os.makedirs(os.path.dirname(prefix) or ".", exist_ok=True)
    with open(prefix + ".data-00000-of-00001", "wb") as fh:
        fh.write(bytes(data))
    with open(prefix + ".index", "wb") as fh:
        fh.write(write_table(rows))
    return prefix


def _numpy_dtype_name(arr: np.ndarray) -> str:
    if arr.dtype.name == "bfloat16":
        return "bfloat16"
    for number, (name, np_name) in protos.DTYPES.items():
        if np_name and name != "bfloat16" and np.dtype(np_name) == arr.dtype.newbyteorder("<"):
            return name
    raise ValueError(f"cannot store a {arr.dtype} array in a checkpoint")
