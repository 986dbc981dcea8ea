"""Tensor bundle (checkpoint) writer: the `.index` table and one `.data-00000-of-00001` shard, as TensorFlow writes them."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Mapping

import numpy as np

from graphaudit.formats import crc32c, protos
from graphaudit.formats.table import encode_varint, write_table
from graphaudit.model.dtypes import DTYPE_NUMBERS, NUMPY_BY_NAME
from graphaudit.records import dataclass

#: tensor_bundle.h: kTensorBundleVersion and kTensorBundleMinConsumer.
BUNDLE_VERSION = 1
BUNDLE_MIN_CONSUMER = 0
#: TensorFlow's table::Options default: its TableBuilder cuts blocks once they reach 256 KiB.
BLOCK_SIZE = 262144



@dataclass(frozen=True)
class Written:
    """What :func:`write_checkpoint` wrote: the prefix, its keys in order, and the bytes of each file."""

    prefix: str
    keys: tuple[str, ...]
    index_bytes: int
    data_bytes: int


def dtype_of(value: np.ndarray) -> str:
    """TensorFlow's name for the dtype of ``value`` (``bfloat16`` for ml_dtypes' bfloat16 arrays)."""
    if value.dtype.name == "bfloat16":
        return "bfloat16"
    if value.dtype == object:
        return "string"
    for name, np_dtype in NUMPY_BY_NAME.items():
        if name not in ("bfloat16", "uint16") and np_dtype == value.dtype.newbyteorder("<"):
            return name
    if value.dtype.newbyteorder("<") == np.dtype("<u2"):
        return "uint16"
    raise ValueError(f"cannot store a {value.dtype} array in a checkpoint")


def encode_tensor(value: np.ndarray, dtype: str) -> tuple[bytes, int]:
    """The bytes TensorFlow stores for one tensor, and the masked CRC-32C its index entry holds.

    Numbers are little-endian and C-ordered; ``bfloat16`` may be given as its raw ``uint16`` bits
    (what :meth:`Checkpoint.value` returns). Strings are their varint64 lengths, a masked CRC-32C
    of those lengths (each checksummed as a fixed uint32, or uint64 past 4 GiB), then the bytes.
    """
    if dtype == "string":
        items = [bytes(v) if not isinstance(v, str) else v.encode("utf-8") for v in np.asarray(value).ravel()]
        lengths = b"".join(encode_varint(len(v)) for v in items)
        fixed = b"".join(struct.pack("<Q" if len(v) > 0xFFFFFFFF else "<I", len(v)) for v in items)
        tail = struct.pack("<I", crc32c.mask(crc32c.value(fixed))) + b"".join(items)
        return lengths + tail, crc32c.mask(crc32c.extend(crc32c.value(fixed), tail))
    if dtype == "bfloat16":
        arr = np.asarray(value)
        bits = arr.view(np.uint16) if arr.dtype.itemsize == 2 else _float32_to_bfloat16(arr)
        raw = np.ascontiguousarray(bits, dtype="<u2")
    else:
        try:
            target = NUMPY_BY_NAME[dtype]
        except KeyError:
            raise ValueError(f"cannot write dtype `{dtype}`; expected one of: string, "
                             + ", ".join(sorted(NUMPY_BY_NAME))) from None
        raw = np.ascontiguousarray(value, dtype=target)
    data = raw.tobytes()
    return data, crc32c.mask(crc32c.value(raw.view(np.uint8).reshape(-1)))


def _float32_to_bfloat16(value: np.ndarray) -> np.ndarray:
    """Round float32 to bfloat16 bits, to nearest even, as TensorFlow's cast does."""
    bits = np.ascontiguousarray(value, dtype="<f4").view(np.uint32)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return np.where(np.isnan(value), 0x7FC0, rounded).astype(np.uint16)


def write_checkpoint(
    prefix: str | os.PathLike[str],
    tensors: Mapping[str, np.ndarray] | Iterable[tuple[str, np.ndarray]],
    *,
    dtypes: Mapping[str, str] | None = None,
) -> Written:
    """Write ``tensors`` (key -> array) as a one-shard tensor bundle at ``prefix``.

    Keys are written in byte order, data first to last, as ``tf.raw_ops.SaveV2`` and the
    ``Saver`` write sorted names: for the same tensors the files are TensorFlow's byte for byte.
    A value may be a zero-argument callable, read when its turn comes, so that a large
    checkpoint is copied one tensor at a time. ``dtypes`` overrides the dtype read off an array
    (``"bfloat16"`` for raw uint16 bits). The data file is written whole before the index, and
    each under a temporary name renamed into place, so a failure leaves no half checkpoint.
    """
    prefix = os.fspath(prefix)
    pairs = list(tensors.items()) if isinstance(tensors, Mapping) else list(tensors)
    by_key: dict[bytes, tuple[str, object]] = {}
    for key, value in pairs:
        if not key:
            raise ValueError("a checkpoint key cannot be empty (the empty key holds the bundle header)")
        encoded = key.encode("utf-8", "surrogateescape")
        if encoded in by_key:
            raise ValueError(f"key `{key}` is given twice")
        by_key[encoded] = (key, value)
    header = protos.BundleHeaderProto(num_shards=1, endianness=0)
    header.version.producer = BUNDLE_VERSION
    header.version.min_consumer = BUNDLE_MIN_CONSUMER
    rows: list[tuple[bytes, bytes]] = [(b"", header.SerializeToString())]
    data_path = f"{prefix}.data-00000-of-00001"
    os.makedirs(os.path.dirname(prefix) or ".", exist_ok=True)
    offset = 0
    try:
        with open(data_path + ".tmp", "wb") as fh:
            for encoded in sorted(by_key):
                key, value = by_key[encoded]
                if callable(value):
                    value = value()
                arr = np.asarray(value)
                dtype = (dtypes or {}).get(key) or dtype_of(arr)
                raw, crc = encode_tensor(arr, dtype)
                entry = protos.BundleEntryProto(dtype=DTYPE_NUMBERS[dtype], offset=offset, size=len(raw), crc32c=crc)
                entry.shape.SetInParent()  # TensorFlow writes a scalar's empty shape, not none
                for dim in arr.shape:
                    entry.shape.dim.add().size = int(dim)
                fh.write(raw)
                offset += len(raw)
                rows.append((encoded, entry.SerializeToString()))
    except BaseException:
        _remove(data_path + ".tmp")
        raise
    index = write_table(rows, block_size=BLOCK_SIZE)
    with open(prefix + ".index.tmp", "wb") as fh:
        fh.write(index)
    os.replace(data_path + ".tmp", data_path)
    os.replace(prefix + ".index.tmp", prefix + ".index")
    return Written(prefix, tuple(by_key[k][0] for k in sorted(by_key)), len(index), offset)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
