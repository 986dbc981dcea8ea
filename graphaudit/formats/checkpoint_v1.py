"""V1 checkpoint reader: the pre-2017 table of `SavedTensorSlices` (also TensorFlow Serving's session bundles)."""

# A V1 checkpoint is one LevelDB-style table per shard (`model.ckpt-1000`, or
# `export-00000-of-00002`). The entry under the empty key holds a SavedTensorSliceMeta: every
# tensor's name, shape, dtype and the slices saved of it. Each slice is a separate entry, keyed by
# EncodeTensorNameSlice(name, slice), whose SavedSlice carries the values as a TensorProto.
# Opening reads the metadata and the keys only; a value is parsed when it is asked for.

from __future__ import annotations

import math
import mmap
import os

import numpy as np
from google.protobuf.message import DecodeError

from graphaudit.errors import ArtifactError
from graphaudit.formats import protos
from graphaudit.formats.checkpoint import Entry, EntryTable, Slice, _slice_key
from graphaudit.formats.checkpoint_paths import V1_SHARD_RE, v1_files
from graphaudit.formats.table import Table, TableError, _block_handle

# TensorProto repeated fields by dtype, as the V1 writer fills them.
_VALUE_FIELDS = {
    "float32": "float_val", "float64": "double_val", "int32": "int_val", "int16": "int_val",
    "int8": "int_val", "uint8": "int_val", "uint16": "int_val", "int64": "int64_val", "bool": "bool_val",
    "string": "string_val", "float16": "half_val", "bfloat16": "half_val", "complex64": "scomplex_val",
    "complex128": "dcomplex_val", "uint32": "uint32_val", "uint64": "uint64_val",
}


class CheckpointV1(EntryTable):
    """A V1 checkpoint with the reading interface of :class:`~graphaudit.formats.checkpoint.Checkpoint`."""

    def __init__(self, prefix: str, files: list[str], entries: dict[str, Entry],
                 locations: dict[str, list[tuple[Slice, int, bytes, object]]]) -> None:
        self.prefix = prefix
        self.files = files
        self._entries = entries
        self._locations = locations  # name -> [(slice, file index, key, block handle)]

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> "CheckpointV1":
        path = os.fspath(path)
        match = V1_SHARD_RE.search(path)
        prefix = path[: match.start()] if match and not os.path.isfile(path[: match.start()]) else path
        files = v1_files(prefix) if not match else v1_files(prefix) or [path]
        if not files:
            raise ArtifactError(path, "expected a V1 checkpoint file, or its shards `-00000-of-0000N`; found none")
        entries: dict[str, Entry] = {}
        locations: dict[str, list] = {}
        for k, file in enumerate(files):
            _read_file(file, k, entries, locations)
        return cls(prefix, files, entries, locations)

    @property
    def num_shards(self) -> int:
        return len(self.files)

    def parts(self, name: str) -> tuple[Entry, ...]:
        return (self.entry(name),)

    def __repr__(self) -> str:
        return f"<CheckpointV1 {self.prefix!r}: {len(self)} tensors in {self.num_shards} files>"

    def object_graph(self):
        return None  # V1 checkpoints predate object-based saving

    def verify(self, name: str) -> None:
        """Every block read is checked against its CRC-32C; reading the value verifies it."""
        self.value(name)

    def value(self, name: str) -> np.ndarray:
        entry = self.entry(name)
        pieces = self._locations.get(name, [])
        dtype = np.dtype(object) if entry.dtype == "string" else _numpy_dtype(self.prefix, entry)
        full = tuple((0, d) for d in entry.shape)
        if len(pieces) == 1 and pieces[0][0] == full:
            out = self._slice_values(entry, pieces[0], dtype)
        else:
            out = np.zeros(entry.shape, dtype=dtype)
            covered = 0
            for piece in pieces:
                spec = piece[0]
                out[tuple(slice(s, s + n) for s, n in spec)] = self._slice_values(entry, piece, dtype)
                covered += math.prod(n for _, n in spec)
            if covered != math.prod(entry.shape):
                raise ArtifactError(self.prefix, f"the slices of tensor '{name}' cover {covered} of its "
                                                 f"{math.prod(entry.shape)} elements")
        out.flags.writeable = False
        return out

    def _slice_values(self, entry: Entry, piece, dtype: np.dtype) -> np.ndarray:
        spec, file_index, key, handle = piece
        file = self.files[file_index]
        shape = tuple(n for _, n in spec)
        raw = _lookup(file, handle, key)
        if raw is None:
            raise ArtifactError(file, f"tensor '{entry.name}': the slice's entry is missing")
        msg = protos.SavedTensorSlices()
        try:
            msg.ParseFromString(raw)
        except DecodeError:
            raise ArtifactError(file, f"corrupt V1 checkpoint: the data of '{entry.name}' is not a SavedSlice") from None
        tensor = msg.data.data
        count = math.prod(shape)
        if tensor.tensor_content:
            arr = np.frombuffer(tensor.tensor_content, dtype=dtype)
        else:
            values = getattr(tensor, _VALUE_FIELDS.get(entry.dtype, "float_val"))
            if entry.dtype == "string":
                arr = np.empty(len(values), dtype=object)
                arr[:] = list(values)
            elif entry.dtype in ("float16", "bfloat16"):
                arr = np.asarray(values, dtype=np.uint16).view(np.float16 if entry.dtype == "float16" else np.uint16)
            elif entry.dtype.startswith("complex"):
                flat = np.asarray(values, dtype=np.float32 if entry.dtype == "complex64" else np.float64)
                arr = flat[0::2] + 1j * flat[1::2]
            else:
                arr = np.asarray(values, dtype=dtype)
        if arr.size == 1 and count > 1:
            arr = np.full(count, arr[0], dtype=arr.dtype)  # a constant stored once
        if arr.size != count:
            raise ArtifactError(file, f"tensor '{entry.name}': a slice of shape {list(shape)} holds "
                                      f"{arr.size} values")
        return arr.reshape(shape)


def _numpy_dtype(prefix: str, entry: Entry) -> np.dtype:
    for _, (name, np_name) in protos.DTYPES.items():
        if name == entry.dtype and np_name:
            return np.dtype(np_name)
    raise ArtifactError(prefix, f"tensor '{entry.name}' has dtype {entry.dtype}, which graphaudit cannot read")


def _open_table(file: str):
    fh = open(file, "rb")
    try:
        buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except ValueError:
        fh.close()
        raise ArtifactError(file, "expected a V1 checkpoint table; the file is empty") from None
    fh.close()
    try:
        return buf, Table(buf, verify_checksums=True)
    except TableError as exc:
        buf.close()
        raise ArtifactError(file, f"not a V1 checkpoint: {exc}") from None


def _read_file(file: str, file_index: int, entries: dict[str, Entry], locations: dict[str, list]) -> None:
    """Read the meta entry and the key of every slice (values stay on disk)."""
    buf, table = _open_table(file)
    try:
        meta = None
        keys: dict[bytes, object] = {}
        for _, handle_bytes in table._block_entries("index", table.index_handle):
            handle, _ = _block_handle(memoryview(handle_bytes), 0)
            for key, value in table._block_entries("data", handle):
                if key == b"":
                    msg = protos.SavedTensorSlices()
                    try:
                        msg.ParseFromString(bytes(value))
                    except DecodeError:
                        raise ArtifactError(file, "not a V1 checkpoint: the entry under the empty key is not "
                                                  "a SavedTensorSlices") from None
                    if not msg.HasField("meta"):
                        raise ArtifactError(file, "not a V1 checkpoint: no SavedTensorSliceMeta under the empty key")
                    meta = msg.meta
                else:
                    keys[bytes(key)] = handle
    except TableError as exc:
        raise ArtifactError(file, f"corrupt V1 checkpoint: {exc}") from None
    finally:
        del table
        _close(buf)
    if meta is None:
        raise ArtifactError(file, "not a V1 checkpoint: the table has no entry under the empty key")
    for tensor in meta.tensor:
        shape = protos.shape_list(tensor.shape)
        if shape is None or any(d < 0 for d in shape):
            raise ArtifactError(file, f"tensor '{tensor.name}' has shape {shape}; a saved tensor needs a known shape")
        pieces = locations.setdefault(tensor.name, [])
        for sl in tensor.slice:
            if len(sl.extent) not in (0, len(shape)):
                raise ArtifactError(file, f"a slice of tensor '{tensor.name}' has {len(sl.extent)} dimensions "
                                          f"but the tensor has {len(shape)}")
            raw = [(ext.start, ext.length or -1) for ext in sl.extent] or [(0, -1)] * len(shape)
            key = _slice_key(tensor.name, raw)
            if key not in keys:
                raise ArtifactError(file, f"tensor '{tensor.name}' lists a slice the table has no entry for")
            spec = tuple((s, n if n >= 0 else shape[d] - s) for d, (s, n) in enumerate(raw))
            pieces.append((spec, file_index, key, keys[key]))
        if tensor.name not in entries:
            entries[tensor.name] = Entry(name=tensor.name, dtype=protos.dtype_name(tensor.type), shape=tuple(shape),
                                         shard_id=file_index, offset=0, size=0, crc32c=0)


def _lookup(file: str, handle, key: bytes) -> bytes | None:
    buf, table = _open_table(file)
    try:
        for k, value in table._block_entries("data", handle):
            if bytes(k) == key:
                return bytes(value)
    except TableError as exc:
        raise ArtifactError(file, f"corrupt V1 checkpoint: {exc}") from None
    finally:
        del table
        _close(buf)
    return None


def _close(buf: mmap.mmap) -> None:
    try:
        buf.close()
    except BufferError:
        pass  # a view of it is still alive; the mapping goes with it
