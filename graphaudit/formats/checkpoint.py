"""TensorFlow checkpoint (tensor bundle) reader: the `.index` table, values memory-mapped lazily."""

from __future__ import annotations

import bisect
import dataclasses
import math
import mmap
import os
import re
import stat

import numpy as np
from google.protobuf.message import DecodeError

from graphaudit.bulk import gc_paused
from graphaudit.errors import ArtifactError
from graphaudit.formats import crc32c, protos, table as table_module
from graphaudit.formats.checkpoint_paths import find_checkpoint_prefix, siblings
from graphaudit.formats.table import FOOTER_SIZE, Table, TableError
from graphaudit.model.dtypes import NUMPY_BY_NAME, bfloat16_to_float32  # noqa: F401  (bfloat16_to_float32 re-exported)
from graphaudit.records import dataclass

try:  # optional C decoding of index blocks (setup.py builds it when it can); Python reads them otherwise
    from graphaudit.formats import _table as native
except ImportError:  # pragma: no cover - depends on the build
    native = None

#: Tests turn the C block decoder off to compare it with the Python reader.
USE_NATIVE = True

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
BUNDLE_VERSION = 1  # tensor_bundle.h kTensorBundleVersion: the format this reader understands
MAX_STRING_ELEMENTS = 8 * 1024**2  # vocabularies and file names, not data sets

_STRING = "string"

#: One partition of a sliced tensor: ``(start, length)`` for each dimension.
Slice = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Entry:
    """What the index says about one tensor.

    ``dtype`` is TensorFlow's name (``"float32"``, ``"bfloat16"``, ``"string"``...). A sliced
    (partitioned) tensor has no data of its own: ``slices`` lists its partitions, each stored
    as a separate entry, and its ``offset``, ``size`` and ``crc32c`` are zero.
    ``crc32c`` is the masked CRC-32C that TensorFlow stores. ``nbytes`` is what the tensor's
    data occupies in the shard files, slices included.
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int
    slices: tuple[Slice, ...] = ()
    nbytes: int = 0

    @property
    def sliced(self) -> bool:
        return bool(self.slices)


class EntryTable:
    """The name lookup both checkpoint formats share: ``_entries`` maps tensor names to entries
    (:class:`Checkpoint` keeps columns instead and overrides the lookups)."""

    prefix: str
    _entries: dict[str, Entry]

    def keys(self) -> list[str]:
        """Tensor names, sorted. Neither a bundle's header nor the partitions of sliced tensors count."""
        return sorted(self._entries)

    def entry(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"no tensor {name!r} in checkpoint {self.prefix}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def verify_all(self) -> None:
        """``verify`` every tensor by name; the first failure raises ArtifactError."""
        for name in self.keys():
            self.verify(name)  # type: ignore[attr-defined]  (each format has its own)

    def columns(self) -> tuple[list[str], list[str], list[tuple[int, ...]]]:
        """Every tensor's name (sorted), dtype and shape, as three parallel lists; read them only."""
        names = self.keys()
        return names, [self._entries[n].dtype for n in names], [tuple(self._entries[n].shape) for n in names]


class Checkpoint(EntryTable):
    """A tensor bundle: ``PREFIX.index`` plus ``PREFIX.data-NNNNN-of-NNNNN`` shard files.

    Opening reads and checks the whole index, and checks each shard's size against the
    tensors it must hold, but reads no tensor data. :meth:`value` maps one tensor at a time.
    The entries are held as columns (one row per tensor, by name); an :class:`Entry` is made
    when one is asked for, so an index of millions of keys costs no object per key.
    """

    def __init__(
        self,
        prefix: str,
        header,
        entries: dict[str, Entry] | _Columns,
        partitions: dict[str, tuple[tuple[Slice, Entry], ...]],
    ) -> None:
        self.prefix = prefix
        self.header = header
        self._columns = entries if isinstance(entries, _Columns) else _Columns.from_entries(entries)
        self._partitions = partitions

    def keys(self) -> list[str]:
        return list(self._columns.names)

    def entry(self, name: str) -> Entry:
        entry = self._columns.entry(name)
        if entry is None:
            raise KeyError(f"no tensor {name!r} in checkpoint {self.prefix}")
        return entry

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._columns.position(name) is not None

    def __len__(self) -> int:
        return len(self._columns.names)

    def columns(self) -> tuple[list[str], list[str], list[tuple[int, ...]]]:
        """Every tensor's name (sorted), dtype and shape: the index's own lists, so read them only."""
        return self._columns.names, self._columns.dtypes, self._columns.shapes

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    @gc_paused  # millions of names and rows, none in a cycle: a collection would scan them all for nothing
    def open(cls, prefix: str | os.PathLike[str], *, max_file_size: int | None = None) -> Checkpoint:
        """Open the checkpoint at ``prefix`` (``dir/model.ckpt``, ``dir/variables/variables``).

        A path that is not itself a prefix (a ``.index`` or ``.data-*`` file, a folder) is
        resolved with :func:`find_checkpoint_prefix`. An index larger than ``max_file_size``
        is refused; the index is memory-mapped, so only the blocks read cost memory.
        """
        prefix = os.fspath(prefix)
        if not os.path.isfile(prefix + ".index"):
            if not os.path.exists(prefix):
                raise ArtifactError(
                    prefix,
                    f"expected a checkpoint index {_name(prefix)}.index; {siblings(prefix)}",
                )
            prefix = find_checkpoint_prefix(prefix)
        index_path = prefix + ".index"
        try:
            with open(index_path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if max_file_size is not None and size > max_file_size:
                    raise ArtifactError(
                        index_path,
                        f"checkpoint index is {size:,} bytes, over the {max_file_size:,}-byte size cap"
                        " (raise it with --max-file-size)",
                    )
                if size < FOOTER_SIZE:
                    header, columns, partitions = _read_index(index_path, f.read())
                else:
                    data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                    try:
                        header, columns, partitions = _read_index(index_path, data)
                    finally:
                        try:
                            data.close()
                        except BufferError:
                            pass  # a view outlived an error mid-read; the map closes when collected
        except OSError as exc:
            raise ArtifactError(
                index_path, f"cannot read the checkpoint index: {exc.strerror or exc}"
            ) from None
        checkpoint = cls(prefix, header, columns, partitions)
        checkpoint._check_shards()
        return checkpoint

    def _check_shards(self) -> None:
        # The furthest byte each shard must hold; one stat per shard, no data read.
        furthest = self._columns.furthest(self._partitions)
        for shard_id in sorted(furthest):
            entry = furthest[shard_id]
            path = self.shard_path(shard_id)
            try:
                info = os.stat(path)
            except FileNotFoundError:
                raise ArtifactError(
                    self.prefix,
                    f"data shard {_name(path)} is missing"
                    f" (the index names {self.num_shards} shards)",
                ) from None
            except OSError as exc:
                raise ArtifactError(
                    self.prefix, f"cannot read data shard {_name(path)}: {exc.strerror}"
                ) from None
            if not stat.S_ISREG(info.st_mode):
                raise ArtifactError(self.prefix, f"data shard {_name(path)} is not a regular file")
            end = entry.offset + entry.size
            if info.st_size < end:
                raise ArtifactError(
                    self.prefix,
                    f"tensor '{entry.name}' needs bytes {entry.offset}..{end}"
                    f" but {_name(path)} has only {info.st_size}",
                )

    # -- the index ---------------------------------------------------------------------------

    @property
    def num_shards(self) -> int:
        return int(self.header.num_shards)

    def shard_path(self, shard_id: int) -> str:
        return f"{self.prefix}.data-{shard_id:05d}-of-{self.num_shards:05d}"

    def parts(self, name: str) -> tuple[Entry, ...]:
        """The entries that hold the tensor's bytes: its own, or one per slice if it is sliced."""
        entry = self.entry(name)
        return tuple(part for _, part in self._partitions[name]) if entry.sliced else (entry,)

    def __repr__(self) -> str:
        return f"<Checkpoint {self.prefix!r}: {len(self)} tensors in {self.num_shards} shards>"

    # -- values ------------------------------------------------------------------------------

    def value(self, name: str) -> np.ndarray:
        """Return the tensor ``name``, read-only.

        Numeric tensors are a ``numpy.memmap`` of just their bytes: nothing is read until the
        array is used. Sliced tensors are assembled into a new array from their partitions.
        ``string`` tensors become an object array of ``bytes``. ``bfloat16`` tensors come back
        as their raw ``uint16`` bits, whatever is installed, so results never depend on an
        optional package; :func:`bfloat16_to_float32` widens them exactly.
        """
        entry = self.entry(name)
        if not entry.sliced:
            return self._read(entry)
        dtype = np.dtype(object) if entry.dtype == _STRING else self._numpy_dtype(entry)
        out = np.zeros(entry.shape, dtype=dtype)  # one variable in memory, never the whole file
        for spec, part in self._partitions[name]:
            out[tuple(slice(start, start + length) for start, length in spec)] = self._read(part)
        out.flags.writeable = False
        return out

    def verify_all(self) -> None:
        """:meth:`verify` every tensor; raise the error :meth:`verify` raises first, by name.

        Each shard is mapped once and read in offset order with its pages released behind the
        read (a map per tensor costs more than checksumming a small one), so memory stays flat.
        """
        cols = self._columns
        numbers = cols.numbers
        by_offset = np.lexsort((numbers[:, 1], numbers[:, 0])).tolist()
        failures: dict[tuple[int, int], ArtifactError] = {}
        maps: dict[int, np.ndarray | None] = {}
        released: dict[int, int] = {}
        since_release = 0
        try:
            for at in by_offset:
                name = cols.names[at]
                for k, part in enumerate(self.parts(name)):
                    try:
                        self._verify_part(name, part, maps)
                    except ArtifactError as exc:
                        failures[at, k] = exc
                    since_release += part.size
                    mm = maps.get(part.shard_id)
                    if since_release >= VERIFY_CHUNK and mm is not None:
                        # Every byte before this tensor has been read: let its pages go.
                        released[part.shard_id] = _release_before(mm, part.offset, released.get(part.shard_id, 0))
                        since_release = 0
        finally:
            maps.clear()
        if failures:
            raise failures[min(failures)]

    def verify(self, name: str) -> None:
        """Check the tensor's bytes against the CRC-32C in the index; raise ArtifactError if not."""
        for part in self.parts(name):
            self._verify_part(name, part, None)

    def _verify_part(self, name: str, part: Entry, maps: dict[int, np.ndarray | None] | None) -> None:
        raw = self._shard_bytes(part, maps) if maps is not None and part.size else None
        if raw is None:
            raw = self._map(part, np.dtype(np.uint8), (part.size,))
        if part.dtype == _STRING:
            lengths, lengths_end = self._string_lengths(part, raw)
            # TensorFlow checksums each length as a fixed uint32 (uint64 past 4 GiB), not
            # as the varint it stores, then the stored length checksum and string bytes.
            actual = crc32c.value(_fixed_width_lengths(lengths))
            actual = _extend_released(actual, raw, lengths_end)
        else:
            actual = _extend_released(0, raw, 0)
        if crc32c.mask(actual) != part.crc32c:
            raise ArtifactError(
                self.prefix,
                f"tensor '{name}' fails its checksum: bytes"
                f" {part.offset}..{part.offset + part.size}"
                f" of {_name(self.shard_path(part.shard_id))} have masked crc32c"
                f" 0x{crc32c.mask(actual):08x} but the index says 0x{part.crc32c:08x}",
            )

    def _shard_bytes(self, part: Entry, maps: dict[int, np.ndarray | None]) -> np.ndarray | None:
        """The part's bytes in a map of its whole shard, or None to map it alone (as :meth:`verify`
        does, which says what is wrong when the shard cannot be mapped or has shrunk)."""
        if part.shard_id not in maps:
            try:
                maps[part.shard_id] = np.memmap(self.shard_path(part.shard_id), dtype=np.uint8, mode="r")
            except (OSError, ValueError):
                maps[part.shard_id] = None
        shard = maps[part.shard_id]
        if shard is None:
            return None
        raw = shard[part.offset : part.offset + part.size]
        return raw if len(raw) == part.size else None

    def object_graph(self):
        """Return the ``TrackableObjectGraph`` that TF2 checkpoints carry, or None."""
        if OBJECT_GRAPH_KEY not in self:
            return None
        entry = self.entry(OBJECT_GRAPH_KEY)
        if entry.dtype != _STRING or entry.shape != ():
            raise ArtifactError(
                self.prefix,
                f"'{OBJECT_GRAPH_KEY}' should be a string scalar"
                f" but is {entry.dtype}{list(entry.shape)}",
            )
        graph = protos.TrackableObjectGraph()
        try:
            graph.ParseFromString(self.value(OBJECT_GRAPH_KEY).item())
        except DecodeError:
            raise ArtifactError(
                self.prefix, f"'{OBJECT_GRAPH_KEY}' does not hold a TrackableObjectGraph"
            ) from None
        return graph

    def _read(self, entry: Entry) -> np.ndarray:
        if entry.dtype == _STRING:
            return self._read_strings(entry)
        return self._map(entry, self._numpy_dtype(entry), entry.shape)

    def _numpy_dtype(self, entry: Entry) -> np.dtype:
        try:
            return NUMPY_BY_NAME[entry.dtype]
        except KeyError:
            raise ArtifactError(
                self.prefix,
                f"tensor '{entry.name}' has dtype {entry.dtype}, which graphaudit cannot read",
            ) from None

    def _map(self, entry: Entry, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
        if entry.size == 0:
            empty = np.zeros(shape, dtype=dtype)
            empty.flags.writeable = False
            return empty
        path = self.shard_path(entry.shard_id)
        try:
            return np.memmap(path, dtype=dtype, mode="r", offset=entry.offset, shape=shape)
        except (OSError, ValueError) as exc:
            # The shard was checked at open time, so it changed underneath us.
            raise ArtifactError(
                self.prefix, f"cannot map tensor '{entry.name}' from {_name(path)}: {exc}"
            ) from None

    def _read_strings(self, entry: Entry) -> np.ndarray:
        raw = self._map(entry, np.dtype(np.uint8), (entry.size,))
        lengths, lengths_end = self._string_lengths(entry, raw)
        ends = np.cumsum(lengths, dtype=np.uint64)
        data = raw[lengths_end + 4 :].tobytes()
        bounds = zip([0, *ends[:-1].tolist()], ends.tolist())
        # Building the Python bytes objects that an object array holds is inherently per element.
        out = np.empty(len(lengths), dtype=object)
        out[:] = [data[start:end] for start, end in bounds]
        out = out.reshape(entry.shape)
        out.flags.writeable = False
        return out

    def _string_lengths(self, entry: Entry, raw: np.ndarray) -> tuple[np.ndarray, int]:
        """Decode the layout TF writes for strings: varint64 lengths, a 4-byte masked
        crc32c of those lengths, then the bytes. Return the lengths and where they end."""
        count = math.prod(entry.shape)

        def bad(what: str) -> ArtifactError:
            return ArtifactError(self.prefix, f"string tensor '{entry.name}' is corrupt: {what}")

        if count > MAX_STRING_ELEMENTS:
            # Decoding costs about 60 bytes of memory per element, whatever the strings hold.
            raise ArtifactError(
                self.prefix,
                f"string tensor '{entry.name}' has {count:,} elements; graphaudit reads string"
                f" tensors of at most {MAX_STRING_ELEMENTS:,}",
            )
        try:
            lengths, varints_end = _decode_varints(raw, count)
        except ValueError as exc:
            raise bad(str(exc)) from None
        strings_at = varints_end + 4
        if strings_at > len(raw):
            raise bad(
                f"its {count} lengths and their checksum need {strings_at} bytes"
                f" but it has {len(raw)}"
            )
        stored = int.from_bytes(raw[varints_end:strings_at].tobytes(), "little")
        if crc32c.mask(crc32c.value(_fixed_width_lengths(lengths))) != stored:
            raise bad("the checksum of its string lengths does not match")
        available = len(raw) - strings_at
        ends = np.cumsum(lengths, dtype=np.uint64)
        # No single length exceeds the space left, so a running sum passes it before it can
        # wrap around 2**64: checking every running sum catches an overflow.
        if count and (
            lengths.max() > available or (ends > available).any() or ends[-1] != available
        ):
            total = "more than that" if (ends > available).any() else int(ends[-1])
            raise bad(f"{available} bytes follow its string lengths, which add up to {total}")
        if not count and available:
            raise bad(f"it has no elements but {available} bytes follow its header")
        return lengths, varints_end


# -- index parsing -----------------------------------------------------------------------------


def _read_index(
    index_path: str, data: bytes
) -> tuple[object, _Columns, dict[str, tuple[tuple[Slice, Entry], ...]]]:
    """Parse the index into the header, the entries as columns, and each sliced tensor's parts."""
    try:
        table = Table(data, verify_checksums=True)
    except TableError as exc:
        raise ArtifactError(index_path, f"not a checkpoint index: {exc}") from None
    try:
        # A _table built before decode_index (rebuild it: see docs/contributing.md) reads the Python way.
        if native is not None and USE_NATIVE and hasattr(native, "decode_index"):
            try:
                return _read_columns(index_path, table)
            except (_Unusual, ArtifactError, TableError):
                # Read again the Python way, which says what is wrong (and where) if anything is.
                table._pure_snappy_left = table_module.PURE_SNAPPY_BUDGET
        header, raw_entries, slice_keys = _read_table(index_path, table)
    finally:
        table.release()  # the memory map can close only once no view of it is left
    entries, partitions = _build_entries(index_path, raw_entries, slice_keys)
    return header, _Columns.from_entries(entries), partitions


class _Unusual(Exception):
    """The index is not laid out the usual way: the C decoder leaves it to the Python reader."""


#: Per DataType number (``_ref`` types folded): bytes per element, 0 for strings, -1 when unknown.
_ITEMSIZE = np.full(256, -1, dtype=np.int64)
for _number in range(256):
    _base = _number - 100 if _number > 100 else _number
    _name_of = protos.dtype_name(_number)
    if _name_of == _STRING:
        _ITEMSIZE[_number] = 0
    elif _name_of in NUMPY_BY_NAME:
        _ITEMSIZE[_number] = NUMPY_BY_NAME[_name_of].itemsize
#: The arguments of the C decoder: each DataType number's name, and its bytes per element (int8).
_DTYPE_NAMES = tuple(protos.dtype_name(n) for n in range(256))
_ITEMSIZE_BYTES = _ITEMSIZE.astype(np.int8).tobytes()


def _read_columns(
    index_path: str, table: Table
) -> tuple[object, _Columns, dict[str, tuple[tuple[Slice, Entry], ...]]]:
    """The usual index, decoded in C into columns in one pass over its blocks; raise _Unusual for
    anything else.

    Every check of :func:`_read_table` and :func:`_build_entries` is made here (most in C, as the
    rows are read); when one fails, the caller reads the index again the Python way for its exact
    message. The C decoder keeps the rows before the first tensor (the header, the parts of sliced
    tensors) in lists of their own, so the tensors' lists are the columns as they are.
    """
    decoded = native.decode_index(table.data_blocks(), _DTYPE_NAMES, _ITEMSIZE_BYTES)
    if decoded is None:
        raise _Unusual
    names, dtypes, shapes, part_names, part_dtypes, part_shapes, raw_numbers, specials, max_shard = decoded
    if not part_names or part_names[0] != "" or not specials or specials[0][0] != 0:
        raise _Unusual  # no bundle header first
    header = protos.BundleHeaderProto()
    _parse(index_path, header, specials[0][1], "the bundle header")
    _check_header(index_path, header)
    if max_shard >= header.num_shards:
        raise _Unusual
    numbers = np.frombuffer(raw_numbers, dtype=np.int64).reshape(-1, 4)  # the rows of both lists
    first_public = len(part_names)
    special_entries: dict[int, Entry] = {}
    slice_keys: dict[int, list[bytes]] = {}
    for row, value in specials[1:]:
        part = row < first_public
        name = part_names[row] if part else names[row - first_public]
        proto = protos.BundleEntryProto()
        what = "a slice entry" if name.startswith("\x00") else f"the entry of '{name}'"
        _parse(index_path, proto, value, what)
        entry = _entry(index_path, header, name, proto)
        special_entries[row] = entry
        if proto.slices:
            slice_keys[row] = [
                _slice_key(name, [(ext.start, ext.length or -1) for ext in piece.extent])
                for piece in proto.slices
            ]
        if part:
            part_dtypes[row], part_shapes[row] = entry.dtype, entry.shape
        else:
            dtypes[row - first_public], shapes[row - first_public] = entry.dtype, entry.shape
        numbers[row] = (entry.shard_id, entry.offset, entry.size, entry.crc32c)
    columns = _Columns(names, dtypes, shapes, numbers[first_public:], {})
    partitions: dict[str, tuple[tuple[Slice, Entry], ...]] = {}
    if special_entries:
        raw_entries = _PartEntries(part_names, part_dtypes, part_shapes, numbers, special_entries)
        for row, entry in special_entries.items():
            if row < first_public:
                continue
            if not entry.slices:
                _check_size(index_path, entry, entry.shape)
                continue
            whole, parts = _sliced(index_path, raw_entries, entry, slice_keys[row])
            partitions[entry.name] = parts
            columns.sliced[entry.name] = whole
    return header, columns, partitions


class _PartEntries:
    """``raw_entries.get(key)`` of :func:`_partition` over the rows before the first tensor (the
    header, then the parts of sliced tensors): the entry of a key."""

    def __init__(self, names, dtypes, shapes, numbers, special_entries) -> None:
        self.names, self.dtypes, self.shapes, self.numbers = names, dtypes, shapes, numbers
        self.special_entries = special_entries
        # By name, not by bisection: parts' keys are binary, and their names (read with
        # surrogateescape) need not sort as the keys do.
        self.rows = {name: row for row, name in enumerate(names) if row}

    def get(self, key: bytes) -> Entry | None:
        name = key.decode("utf-8", "surrogateescape")
        row = self.rows.get(name)
        if row is None:
            return None
        if row in self.special_entries:
            return self.special_entries[row]
        shard, offset, size, crc = self.numbers[row].tolist()
        return Entry(name=name, dtype=self.dtypes[row], shape=self.shapes[row], shard_id=shard,
                     offset=offset, size=size, crc32c=crc & 0xFFFFFFFF, nbytes=size)


#: Rows gone through at once by :meth:`_Columns.furthest`.
_FURTHEST_CHUNK = 1 << 20


class _Columns:
    """The tensors of an index as columns, sorted by name: ``numbers`` holds each one's shard id,
    offset, size and masked crc32c; ``sliced`` the whole entries of sliced tensors."""

    def __init__(self, names: list[str], dtypes: list[str], shapes: list[tuple[int, ...]],
                 numbers: np.ndarray, sliced: dict[str, Entry]) -> None:
        self.names, self.dtypes, self.shapes, self.numbers, self.sliced = names, dtypes, shapes, numbers, sliced

    @classmethod
    def from_entries(cls, entries: dict[str, Entry]) -> _Columns:
        names = sorted(entries)
        chosen = [entries[name] for name in names]
        numbers = np.array([(e.shard_id, e.offset, e.size, e.crc32c) for e in chosen], dtype=np.int64).reshape(-1, 4)
        return cls(names, [e.dtype for e in chosen], [e.shape for e in chosen], numbers,
                   {e.name: e for e in chosen if e.slices})

    def position(self, name: str) -> int | None:
        at = bisect.bisect_left(self.names, name)
        return at if at < len(self.names) and self.names[at] == name else None

    def entry(self, name: str) -> Entry | None:
        at = self.position(name)
        if at is None:
            return None
        if name in self.sliced:
            return self.sliced[name]
        shard, offset, size, crc = self.numbers[at].tolist()
        return Entry(name=self.names[at], dtype=self.dtypes[at], shape=self.shapes[at], shard_id=shard,
                     offset=offset, size=size, crc32c=crc, nbytes=size)

    def furthest(self, partitions: dict[str, tuple[tuple[Slice, Entry], ...]]) -> dict[int, Entry]:
        """Per shard, the first entry (by name, a sliced tensor's parts in their order) that
        ends furthest into it; entries of no bytes are not counted.

        The rows are gone through in chunks, so the arrays made on the way stay small beside the
        columns (an index can hold millions of rows)."""
        numbers = self.numbers
        extra: list[tuple[float, Entry]] = []
        sliced_rows = []
        for name in self.sliced:  # its bytes are its parts'
            at = self.position(name)
            sliced_rows.append(at)
            parts = partitions[name]
            extra += [(at + (k + 1) / (len(parts) + 1), part) for k, (_, part) in enumerate(parts)]
        no_bytes = np.array(sorted(sliced_rows), dtype=np.int64)
        shard = numbers[:, 0]
        top = int(shard.max()) if len(numbers) else -1
        # Shard ids are below the header's count, which a hostile header can make huge.
        ids = None if top < len(numbers) + 65536 else np.unique(shard, return_index=True)[0]
        slots = top + 1 if ids is None else len(ids)
        best_end = np.zeros(slots, dtype=np.int64)  # offset + size can wrap around, as before: compared
        best_row = np.full(slots, -1, dtype=np.int64)  # only among entries of bytes
        least = np.iinfo(np.int64).min
        for start in range(0, len(numbers), _FURTHEST_CHUNK):
            rows = numbers[start:start + _FURTHEST_CHUNK]
            has_bytes = rows[:, 2] > 0
            has_bytes[no_bytes[(no_bytes >= start) & (no_bytes < start + len(rows))] - start] = False
            end = rows[:, 1] + rows[:, 2]
            end[~has_bytes] = least
            if slots == 1:  # one shard, as most checkpoints have
                k = int(np.argmax(end))
                if not has_bytes[k]:  # none, or all of them end at the least int64
                    k = int(np.argmax(has_bytes))
                winners = [(0, k)] if has_bytes[k] else []
            else:
                slot = rows[:, 0] if ids is None else np.searchsorted(ids, rows[:, 0])
                chunk_end = np.full(slots, least, dtype=np.int64)
                np.maximum.at(chunk_end, slot[has_bytes], end[has_bytes])
                hits = np.flatnonzero(has_bytes & (end == chunk_end[slot]))
                # return_index: numpy 2 imports numpy.ma (~10 ms of a cold start) for a bare np.unique
                firsts = np.unique(slot[hits], return_index=True)
                winners = list(zip(firsts[0].tolist(), hits[firsts[1]].tolist()))
            for s, k in winners:
                if best_row[s] < 0 or end[k] > best_end[s]:  # ties: the earlier row stays
                    best_end[s], best_row[s] = end[k], start + k
        candidates: dict[int, tuple[int, float, Entry | int]] = {}
        for s in np.flatnonzero(best_row >= 0).tolist():
            shard_id = s if ids is None else int(ids[s])
            candidates[shard_id] = (int(best_end[s]), float(best_row[s]), int(best_row[s]))
        for at, part in extra:
            if not part.size:
                continue
            known = candidates.get(part.shard_id)
            part_end = part.offset + part.size
            if known is None or part_end > known[0] or (part_end == known[0] and at < known[1]):
                candidates[part.shard_id] = (part_end, at, part)
        return {shard_id: (found if isinstance(found, Entry) else self.entry(self.names[found]))
                for shard_id, (_, _, found) in candidates.items()}


def _sliced(
    index_path: str, raw_entries, entry: Entry, part_keys: list[bytes]
) -> tuple[Entry, tuple[tuple[Slice, Entry], ...]]:
    """A sliced tensor's parts, checked to cover it, and its entry counting their bytes."""
    parts = tuple(
        _partition(index_path, raw_entries, entry, spec, part_key)
        for spec, part_key in zip(entry.slices, part_keys)
    )
    covered = sum(math.prod(length for _, length in spec) for spec in entry.slices)
    if covered != math.prod(entry.shape):
        raise ArtifactError(
            index_path,
            f"the slices of tensor '{entry.name}' cover {covered}"
            f" of its {math.prod(entry.shape)} elements",
        )
    return dataclasses.replace(entry, nbytes=sum(part.size for _, part in parts)), parts


def _read_table(
    index_path: str, table: Table
) -> tuple[object, dict[bytes, Entry], dict[bytes, list[bytes]]]:
    header = None
    entries: dict[bytes, Entry] = {}
    slice_keys: dict[bytes, list[bytes]] = {}
    try:
        for key, value in table.items():
            if key == b"":
                header = protos.BundleHeaderProto()
                _parse(index_path, header, value, "the bundle header")
                _check_header(index_path, header)
                continue
            if header is None:
                raise ArtifactError(
                    index_path, "not a checkpoint index: no bundle header under the empty key"
                )
            proto = protos.BundleEntryProto()
            name = key.decode("utf-8", "surrogateescape")
            what = "a slice entry" if key.startswith(b"\x00") else f"the entry of '{name}'"
            _parse(index_path, proto, value, what)
            entries[key] = _entry(index_path, header, name, proto)
            if proto.slices:
                # A full extent has no length in the proto (read back as 0) and -1 in the key.
                slice_keys[key] = [
                    _slice_key(name, [(ext.start, ext.length or -1) for ext in piece.extent])
                    for piece in proto.slices
                ]
    except TableError as exc:
        raise ArtifactError(index_path, f"corrupt checkpoint index: {exc}") from None
    if header is None:
        raise ArtifactError(
            index_path, "not a checkpoint index: the table has no bundle header (empty key)"
        )
    return header, entries, slice_keys


def _parse(index_path: str, message, value: bytes, what: str) -> None:
    try:
        message.ParseFromString(value)
    except DecodeError:
        raise ArtifactError(
            index_path, f"corrupt checkpoint index: {what} is not a {type(message).__name__}"
        ) from None


def _check_header(index_path: str, header) -> None:
    if header.num_shards < 1:
        raise ArtifactError(
            index_path, f"the bundle header says {header.num_shards} shards (expected at least 1)"
        )
    if header.endianness != 0:
        raise ArtifactError(
            index_path,
            "the checkpoint was written big-endian; graphaudit reads little-endian checkpoints",
        )
    version = header.version
    if version.min_consumer > BUNDLE_VERSION or BUNDLE_VERSION in version.bad_consumers:
        raise ArtifactError(
            index_path,
            f"the checkpoint needs a bundle reader of version {version.min_consumer} or later;"
            f" graphaudit reads version {BUNDLE_VERSION}",
        )


def _entry(index_path: str, header, name: str, proto) -> Entry:
    shape = protos.shape_list(proto.shape)
    if shape is None or any(dim < 0 for dim in shape):
        raise ArtifactError(
            index_path, f"tensor '{name}' has shape {shape}; a saved tensor needs a known shape"
        )
    if not 0 <= proto.shard_id < header.num_shards:
        raise ArtifactError(
            index_path,
            f"tensor '{name}' is in shard {proto.shard_id}"
            f" but the index names {header.num_shards} shards",
        )
    if proto.offset < 0 or proto.size < 0:
        raise ArtifactError(
            index_path, f"tensor '{name}' has offset {proto.offset} and size {proto.size}"
        )
    slices = ()
    if proto.slices:  # most tensors are not sliced: no generator for them
        for piece in proto.slices:
            if len(piece.extent) != len(shape):
                raise ArtifactError(
                    index_path,
                    f"a slice of tensor '{name}' has {len(piece.extent)} dimensions"
                    f" but the tensor has {len(shape)}",
                )
        slices = tuple(
            # A full extent has no length, which proto3 reads as 0 (no real partition is empty).
            tuple((ext.start, ext.length or shape[d] - ext.start) for d, ext in enumerate(piece.extent))
            for piece in proto.slices
        )
    return Entry(
        name=name,
        dtype=protos.dtype_name(proto.dtype),
        shape=shape,
        shard_id=int(proto.shard_id),
        offset=int(proto.offset),
        size=int(proto.size),
        crc32c=int(proto.crc32c),
        slices=slices,
        nbytes=int(proto.size),
    )


def _build_entries(
    index_path: str, raw_entries: dict[bytes, Entry], slice_keys: dict[bytes, list[bytes]]
) -> tuple[dict[str, Entry], dict[str, tuple[tuple[Slice, Entry], ...]]]:
    entries: dict[str, Entry] = {}
    partitions: dict[str, tuple[tuple[Slice, Entry], ...]] = {}
    for key, entry in raw_entries.items():
        if key.startswith(b"\x00"):
            continue  # a partition of a sliced tensor; reached through its tensor's slices
        if entry.slices:
            entry, partitions[entry.name] = _sliced(index_path, raw_entries, entry, slice_keys[key])
        else:
            _check_size(index_path, entry, entry.shape)
        entries[entry.name] = entry
    return entries, partitions


def _partition(
    index_path: str, raw_entries: dict[bytes, Entry], entry: Entry, spec: Slice, key: bytes
) -> tuple[Slice, Entry]:
    text = ", ".join(f"{start}:{start + length}" for start, length in spec)
    if len(spec) != len(entry.shape) or any(
        start < 0 or length < 0 or start + length > dim
        for (start, length), dim in zip(spec, entry.shape)
    ):
        raise ArtifactError(
            index_path,
            f"slice [{text}] of tensor '{entry.name}' is outside its shape {list(entry.shape)}",
        )
    part = raw_entries.get(key)
    if part is None:
        raise ArtifactError(
            index_path,
            f"tensor '{entry.name}' lists slice [{text}] but the index has no entry for it",
        )
    part = dataclasses.replace(part, name=entry.name)  # its key is an encoding, not a name
    shape = tuple(length for _, length in spec)
    if part.dtype != entry.dtype or part.shape != shape:
        raise ArtifactError(
            index_path,
            f"slice [{text}] of tensor '{entry.name}' should be {entry.dtype}{list(shape)}"
            f" but its entry is {part.dtype}{list(part.shape)}",
        )
    _check_size(index_path, part, shape)
    return spec, part


def _check_size(index_path: str, entry: Entry, shape: tuple[int, ...]) -> None:
    if entry.dtype == _STRING:
        # At least one varint byte per element, then the 4-byte length checksum.
        needed = math.prod(shape) + 4
        if entry.size < needed:
            raise ArtifactError(
                index_path,
                f"string tensor '{entry.name}' has {math.prod(shape)} elements, which need at least"
                f" {needed} bytes, but its entry says {entry.size}",
            )
        return
    dtype = NUMPY_BY_NAME.get(entry.dtype)
    if dtype is None:
        return  # refused when read, not when listed
    expected = math.prod(shape) * dtype.itemsize
    if entry.size != expected:
        raise ArtifactError(
            index_path,
            f"tensor '{entry.name}' is {entry.dtype}{list(shape)} ({expected} bytes)"
            f" but its entry says {entry.size} bytes",
        )


_ORDERED_ESCAPE_RE = re.compile(rb"[\x00\xff]")
_ORDERED_ESCAPES = {b"\x00": b"\x00\xff", b"\xff": b"\xff\x00"}


def _slice_key(name: str, spec: list[tuple[int, int]]) -> bytes:
    """The index key of one partition: TF's EncodeTensorNameSlice, in OrderedCode."""
    escaped = _ORDERED_ESCAPE_RE.sub(
        lambda m: _ORDERED_ESCAPES[m.group()], name.encode("utf-8", "surrogateescape")
    )
    parts = [_ordered_unsigned(0), escaped, b"\x00\x01", _ordered_unsigned(len(spec))]
    for start, length in spec:
        parts += [_ordered_signed(start), _ordered_signed(length)]
    return b"".join(parts)


def _ordered_unsigned(value: int) -> bytes:
    width = (value.bit_length() + 7) // 8
    return bytes([width]) + value.to_bytes(width, "big")


def _ordered_signed(value: int) -> bytes:
    magnitude = ~value if value < 0 else value
    # The first `width` bits say the width; one sign bit and 7*width - 1 payload bits follow.
    width = min(magnitude.bit_length() // 7 + 1, 10)
    encoded = bytearray(value.to_bytes(10, "big", signed=True)[10 - width :])
    header = ((1 << width) - 1) << (16 - width)  # `width` leading one bits over two bytes
    encoded[0] ^= header >> 8
    if width > 1:
        encoded[1] ^= header & 0xFF
    return bytes(encoded)


# -- helpers -----------------------------------------------------------------------------------


def _decode_varints(raw: np.ndarray, count: int) -> tuple[np.ndarray, int]:
    """Decode ``count`` varint64s at the start of ``raw``, vectorized; return them and the end."""
    if count == 0:
        return np.zeros(0, dtype=np.uint64), 0
    head = raw[: 10 * count]  # a varint64 takes at most 10 bytes
    last_bytes = np.flatnonzero(head < 0x80)[:count]
    if len(last_bytes) < count:
        raise ValueError(f"expected {count} varint lengths but the data ends first")
    end = int(last_bytes[-1]) + 1
    starts = np.concatenate(([0], last_bytes[:-1] + 1))
    widths = last_bytes - starts + 1
    if widths.max() > 10 or (head[last_bytes[widths == 10]] > 1).any():  # more than 64 bits
        raise ValueError("a string length is not a valid varint64")
    position = np.arange(end) - np.repeat(starts, widths)
    parts = (head[:end] & 0x7F).astype(np.uint64) << (7 * position).astype(np.uint64)
    return np.add.reduceat(parts, starts), end


def _fixed_width_lengths(lengths: np.ndarray) -> np.ndarray:
    """The bytes TF checksums for string lengths: uint32 each, or uint64 for those past 4 GiB."""
    as64 = lengths.astype("<u8").view(np.uint8).reshape(-1, 8)
    keep = np.ones_like(as64, dtype=bool)
    keep[:, 4:] = (lengths > 0xFFFFFFFF)[:, None]
    return as64[keep]


def _name(path: str) -> str:
    return os.path.basename(path)


def _release_before(shard: np.ndarray, offset: int, start: int) -> int:
    """Drop the mapped pages of ``shard`` from ``start`` up to the page holding ``offset``; return
    where the next release starts. Read pages count in the RSS until the kernel reclaims them."""
    mm = getattr(shard, "_mmap", None)
    end = offset // mmap.PAGESIZE * mmap.PAGESIZE
    if mm is None or not hasattr(mm, "madvise") or end <= start:
        return start
    try:
        mm.madvise(mmap.MADV_DONTNEED, start, end - start)
    except (OSError, ValueError):
        return start
    return end


#: Bytes checksummed between two page releases in :func:`_extend_released`.
VERIFY_CHUNK = 8 << 20


def _extend_released(crc: int, raw: np.ndarray, start: int) -> int:
    """``crc32c.extend(crc, raw[start:])`` in chunks, dropping each chunk's mapped pages once read.

    Read pages of a memory map count in the RSS until the kernel reclaims them, so checksumming a
    multi-GB tensor in one call peaked at the tensor's size; here the peak stays at one chunk.
    """
    mm = getattr(raw, "_mmap", None)
    base = 0
    if mm is not None and hasattr(mm, "madvise"):
        try:
            base = np.frombuffer(mm, dtype=np.uint8, count=1).ctypes.data
        except (TypeError, ValueError):
            mm = None
    else:
        mm = None
    page = mmap.PAGESIZE
    for pos in range(start, len(raw), VERIFY_CHUNK):
        end = min(pos + VERIFY_CHUNK, len(raw))
        crc = crc32c.extend(crc, raw[pos:end])
        if mm is not None:
            first = (raw.ctypes.data + pos - base) // page * page
            last = (raw.ctypes.data + end - base) // page * page  # the partial page is read next
            if last > first:
                try:
                    mm.madvise(mmap.MADV_DONTNEED, first, last - first)
                except (OSError, ValueError):
                    mm = None
    return crc

