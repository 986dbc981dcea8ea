"""Reader of the immutable LevelDB-style table (SSTable) that holds a checkpoint's `.index`."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Sequence

from graphaudit.formats import crc32c, snappy
from graphaudit.records import dataclass

MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48  # two block handles padded to 40 bytes, then the 8-byte magic
BLOCK_TRAILER_SIZE = 5  # compression type byte, then the masked crc32c of block + type byte
NO_COMPRESSION = 0
SNAPPY_COMPRESSION = 1
# TensorFlow writes blocks of about 256 KB (one entry past `block_size`); far larger is hostile.
MAX_BLOCK_BYTES = 64 * 1024**2
# Without cramjam, snappy is decoded by a Python loop at about 1.5 M elements per second: past this
# many compressed bytes per table, a table is refused rather than taking minutes.
PURE_SNAPPY_BUDGET = 8 * 1024**2

_U32 = struct.Struct("<I")


class TableError(ValueError):
    """The bytes are not a well-formed table; the message says what was expected and found."""


@dataclass(frozen=True)
class BlockHandle:
    """Where a block sits in the file; ``size`` excludes the 5-byte trailer."""

    offset: int
    size: int


class Table:
    """A whole table held in memory: its footer is parsed on creation, blocks as they are read.

    ``verify_checksums`` checks each block's crc32c when it is read. It is cheap (a table is
    read once and index files are small) and is the only thing that catches a flipped byte
    inside a value, so it defaults to on.
    """

    def __init__(
        self, data: bytes | bytearray | memoryview, *, verify_checksums: bool = True
    ) -> None:
        self._data = memoryview(data).cast("B")
        self.verify_checksums = verify_checksums
        self._pure_snappy_left = PURE_SNAPPY_BUDGET
        try:
            self._read_footer()
        except BaseException:
            self.release()
            raise

    def _read_footer(self) -> None:
        size = len(self._data)
        if size < FOOTER_SIZE:
            raise TableError(
                f"{size} bytes is shorter than the {FOOTER_SIZE}-byte table footer"
                + (" (the file is empty)" if size == 0 else "")
            )
        footer = bytes(self._data[size - FOOTER_SIZE :])
        magic = int.from_bytes(footer[FOOTER_SIZE - 8 :], "little")
        if magic != MAGIC:
            raise TableError(
                f"bad table magic 0x{magic:016x} in the last 8 bytes (expected 0x{MAGIC:016x};"
                " the file is truncated or is not a table)"
            )
        try:
            self.metaindex_handle, pos = _block_handle(footer, 0)
            self.index_handle, _ = _block_handle(footer, pos)
        except TableError as exc:
            raise TableError(f"bad table footer: {exc}") from None
        for what, handle in (("metaindex", self.metaindex_handle), ("index", self.index_handle)):
            self._check_bounds(what, handle)

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        return self.items()

    def release(self) -> None:
        """Drop the view of the data, so that a memory map under it can be closed."""
        try:
            self._data.release()
        except BufferError:
            pass  # a block view is still alive; the data goes when it is collected

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Yield every (key, value) pair in key order.

        On an error the table lets go of its data first: a memory map under it can then close
        while the error is still being handled.
        """
        try:
            yield from self._items()
        except BaseException:
            self.release()
            raise

    def data_handles(self) -> Iterator[BlockHandle]:
        """The handle of every data block, in key order, as the index block lists them."""
        for _, handle_bytes in self._block_entries("index", self.index_handle):
            try:
                handle, _ = _block_handle(memoryview(handle_bytes), 0)
            except TableError as exc:
                raise TableError(f"bad block handle in the index block: {exc}") from None
            self._check_bounds("data", handle)
            yield handle

    def _items(self) -> Iterator[tuple[bytes, bytes]]:
        previous: bytes | None = None
        for handle in self.data_handles():
            for key, value in self._block_entries("data", handle):
                if previous is not None and key <= previous:
                    raise TableError(
                        f"keys out of order in the data block at offset {handle.offset}:"
                        f" {key!r} follows {previous!r}"
                    )
                previous = key
                yield key, value

    def read_block(self, handle: BlockHandle, what: str = "data") -> bytes:
        """Return the uncompressed contents of the block at ``handle``, checking its trailer."""
        return self._read_block(handle, what, None)  # type: ignore[return-value]  (no scratch: bytes)

    def data_blocks(self) -> Iterator[bytes | memoryview]:
        """The uncompressed contents of every data block, in key order, checked as :meth:`read_block`
        checks them. A snappy block can come as a view of a buffer that the next block overwrites
        (no fresh memory per block): use each one before asking for the next."""
        scratch = [bytearray()]
        for handle in self.data_handles():
            yield self._read_block(handle, "data", scratch)

    def _read_block(self, handle: BlockHandle, what: str, scratch: list[bytearray] | None) -> bytes | memoryview:
        self._check_bounds(what, handle)
        if handle.size > MAX_BLOCK_BYTES:
            raise TableError(
                f"{what} block at offset {handle.offset} is {handle.size:,} bytes"
                f" (expected at most {MAX_BLOCK_BYTES:,})"
            )
        data = self._data
        start, end = handle.offset, handle.offset + handle.size
        kind = data[end]
        # A copy, not a view: no view of a memory-mapped file may outlive an error raised here.
        contents = bytes(data[start:end])
        if self.verify_checksums:
            stored = crc32c.unmask(_U32.unpack_from(data, end + 1)[0])
            actual = crc32c.extend(crc32c.value(contents), bytes([kind]))  # the type byte is checksummed too
            if stored != actual:
                raise TableError(
                    f"{what} block at offset {start} has crc32c 0x{actual:08x} but its trailer"
                    f" says 0x{stored:08x} (the file is corrupt)"
                )
        if kind == NO_COMPRESSION:
            return contents
        if kind == SNAPPY_COMPRESSION:
            try:
                announced = snappy.uncompressed_length(contents)
                if announced > MAX_BLOCK_BYTES:
                    raise TableError(
                        f"{what} block at offset {start} inflates to {announced:,} bytes"
                        f" (expected at most {MAX_BLOCK_BYTES:,})"
                    )
                if snappy.BACKEND == "python":
                    self._pure_snappy_left -= len(contents)
                    if self._pure_snappy_left < 0:
                        raise TableError(
                            f"holds more than {PURE_SNAPPY_BUDGET:,} bytes of snappy-compressed blocks,"
                            " too slow to decode in Python; install cramjam"
                            " (pip install 'graphaudit[fast]') to read it"
                        )
                elif scratch is not None and _cramjam_snappy is not None:
                    into = _decompress_into(contents, announced, scratch)
                    if into is not None:
                        return into
                return snappy.decompress_fast(contents)
            except snappy.SnappyError as exc:
                raise TableError(
                    f"{what} block at offset {start} is bad snappy data: {exc}"
                ) from None
        raise TableError(
            f"{what} block at offset {start} has compression type {kind}"
            " (expected 0 for none or 1 for snappy)"
        )

    def _check_bounds(self, what: str, handle: BlockHandle) -> None:
        limit = len(self._data) - FOOTER_SIZE
        if handle.offset + handle.size + BLOCK_TRAILER_SIZE > limit:
            raise TableError(
                f"{what} block at bytes {handle.offset}..{handle.offset + handle.size}"
                f" (plus its {BLOCK_TRAILER_SIZE}-byte trailer) runs past the {limit} bytes before"
                " the footer (the file is truncated or corrupt)"
            )

    def _block_entries(self, what: str, handle: BlockHandle) -> Iterator[tuple[bytes, bytes]]:
        block = self.read_block(handle, what)
        try:
            yield from _parse_block(block)
        except TableError as exc:
            raise TableError(f"{what} block at offset {handle.offset}: {exc}") from None



try:  # cramjam decompresses into a buffer that is used again (Table.data_blocks); optional
    from cramjam import snappy as _cramjam_snappy
except ImportError:  # pragma: no cover - depends on the environment
    _cramjam_snappy = None


def _decompress_into(contents: bytes, announced: int, scratch: list[bytearray]) -> memoryview | None:
    """``contents`` decompressed by cramjam into ``scratch[0]`` (replaced by a larger buffer when
    it is too small, never resized under a view); None when cramjam does not give the announced
    bytes, so that :func:`snappy.decompress_fast` says what is wrong."""
    if len(scratch[0]) < announced:
        scratch[0] = bytearray(max(announced, 2 * len(scratch[0])))
    out = memoryview(scratch[0])[:announced]
    try:
        written = _cramjam_snappy.decompress_raw_into(contents, out)
    except Exception:  # noqa: BLE001 - cramjam's error type varies by version
        written = None
    if written != announced:
        out.release()
        return None
    return out


def _parse_block(block: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Yield the entries of one block.

    A block is a run of entries, each ``varint shared, varint non_shared, varint value_length,
    key[shared:], value``, where the key shares ``shared`` leading bytes with the previous key.
    A fixed32 array of restart offsets (entries with ``shared == 0``) and its fixed32 count end
    the block.
    """
    size = len(block)
    if size < 4:
        raise TableError(f"{size} bytes is too short for a block (expected at least 4)")
    num_restarts = _U32.unpack_from(block, size - 4)[0]
    restarts_at = size - 4 - 4 * num_restarts
    if num_restarts == 0 or restarts_at < 0:
        raise TableError(f"restart count {num_restarts} does not fit in a block of {size} bytes")
    restarts = set(struct.unpack_from(f"<{num_restarts}I", block, restarts_at))
    fresh: set[int] = set()  # offsets of entries that share no prefix: where restarts may point
    key = b""
    pos = 0
    while pos < restarts_at:
        entry_at = pos
        # Index entries almost always have three one-byte varints: read those without calls.
        if pos + 3 <= restarts_at and block[pos] < 0x80 and block[pos + 1] < 0x80 and block[pos + 2] < 0x80:
            shared, non_shared, value_length = block[pos], block[pos + 1], block[pos + 2]
            pos += 3
        else:
            shared, pos = _varint(block, pos, restarts_at, 32)
            non_shared, pos = _varint(block, pos, restarts_at, 32)
            value_length, pos = _varint(block, pos, restarts_at, 32)
        if shared > len(key):
            raise TableError(
                f"entry at byte {entry_at} shares {shared} key bytes"
                f" but the previous key has {len(key)}"
            )
        value_at = pos + non_shared
        end = value_at + value_length
        if end > restarts_at:
            raise TableError(
                f"entry at byte {entry_at} needs bytes up to {end} but entries end at {restarts_at}"
            )
        if shared == 0:
            fresh.add(entry_at)
        key = key[:shared] + block[pos:value_at]
        yield key, block[value_at:end]
        pos = end
    stray = restarts - fresh
    if restarts_at == 0:
        stray.discard(0)  # an empty block still carries one restart point at offset 0
    if stray:
        raise TableError(
            f"restart offset {min(stray)} does not point at an entry that starts a key"
        )


def _block_handle(buf: memoryview, pos: int) -> tuple[BlockHandle, int]:
    offset, pos = _varint(buf, pos, len(buf), 64)
    size, pos = _varint(buf, pos, len(buf), 64)
    return BlockHandle(offset, size), pos


def _varint(buf: bytes | memoryview, pos: int, end: int, bits: int) -> tuple[int, int]:
    """Decode a little-endian base-128 varint of at most ``bits`` bits at ``pos``."""
    value = 0
    shift = 0
    start = pos
    while pos < end and shift < bits:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if value >> bits:
                break
            return value, pos
        shift += 7
    raise TableError(f"bad varint{bits} at byte {start}")


def encode_varint(value: int) -> bytes:
    """``value`` as a protobuf/LevelDB base-128 varint."""
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_block(entries: Sequence[tuple[bytes, bytes]], interval: int) -> bytes:
    """One block's bytes: entries sharing key prefixes within each run of ``interval``, the restart
    points, their count."""
    body, restarts, previous = bytearray(), [], b""
    for i, (key, value) in enumerate(entries):
        shared = 0
        if i % interval:
            while shared < min(len(key), len(previous)) and key[shared] == previous[shared]:
                shared += 1
        else:
            restarts.append(len(body))
        body += (encode_varint(shared) + encode_varint(len(key) - shared) + encode_varint(len(value))
                 + key[shared:] + value)
        previous = key
    restarts = restarts or [0]  # an empty block still has one restart point
    return bytes(body) + struct.pack(f"<{len(restarts) + 1}I", *restarts, len(restarts))


def write_table(
    items: Sequence[tuple[bytes, bytes]],
    *,
    compression: int = NO_COMPRESSION,
    compress: Callable[[bytes], bytes] | None = None,
    per_block: int = 16,
    restart_interval: int = 16,
    block_handles: list[BlockHandle] | None = None,
    block_size: int | None = None,
) -> bytes:
    """A table as LevelDB lays it out, the inverse of :class:`Table`; ``items`` sorted by key.

    Keys share prefixes within a restart interval, as LevelDB writes them. With
    ``compression=SNAPPY_COMPRESSION`` each block goes through ``compress`` (snappy literals by
    default). ``block_handles`` collects every block written, data blocks first.

    With ``block_size``, blocks are cut as TensorFlow's ``TableBuilder`` cuts them (once a block's
    estimated size reaches ``block_size``) and index keys are its shortest separators, so the
    bytes are the ones TensorFlow writes; otherwise every ``per_block`` items make a block and
    each index key is the block's last key.
    """
    out = bytearray()

    def block(entries: Sequence[tuple[bytes, bytes]], interval: int = restart_interval) -> bytes:
        return encode_block(entries, interval)

    def write(raw: bytes) -> bytes:
        contents = (compress or snappy.compress_literals)(raw) if compression == SNAPPY_COMPRESSION else raw
        if block_handles is not None:
            block_handles.append(BlockHandle(len(out), len(contents)))
        handle = encode_varint(len(out)) + encode_varint(len(contents))
        trailer = bytes([compression])
        out.extend(contents + trailer + _U32.pack(crc32c.mask(crc32c.value(contents + trailer))))
        return handle

    index = []
    if block_size is None:
        for start in range(0, len(items), per_block):
            chunk = items[start:start + per_block]
            index.append((chunk[-1][0], write(block(chunk))))
    else:
        chunks: list[list[tuple[bytes, bytes]]] = []
        current: list[tuple[bytes, bytes]] = []
        estimate = 4 + 4  # TableBuilder's CurrentSizeEstimate: entries, restarts (one at 0), count
        for i, (key, value) in enumerate(items):
            if current and len(current) % restart_interval == 0:
                estimate += 4
            previous = current[-1][0] if current else b""
            shared = 0
            if len(current) % restart_interval:
                while shared < min(len(key), len(previous)) and key[shared] == previous[shared]:
                    shared += 1
            estimate += (len(encode_varint(shared)) + len(encode_varint(len(key) - shared))
                         + len(encode_varint(len(value))) + len(key) - shared + len(value))
            current.append((key, value))
            if estimate >= block_size:
                chunks.append(current)
                current, estimate = [], 8
        if current:
            chunks.append(current)
        for k, chunk in enumerate(chunks):
            last = chunk[-1][0]
            separator = (_shortest_separator(last, chunks[k + 1][0][0]) if k + 1 < len(chunks)
                         else _short_successor(last))
            index.append((separator, write(block(chunk))))
    metaindex = write(block([]))
    # LevelDB (and TensorFlow) restart the index block at every entry.
    index_handle = write(block(index, 1 if block_size is not None else restart_interval))
    footer = (metaindex + index_handle).ljust(FOOTER_SIZE - 8, b"\x00") + struct.pack("<Q", MAGIC)
    return bytes(out + footer)


def _shortest_separator(start: bytes, limit: bytes) -> bytes:
    """LevelDB's FindShortestSeparator: a short key in ``[start, limit)`` for an index entry."""
    common = 0
    while common < min(len(start), len(limit)) and start[common] == limit[common]:
        common += 1
    if common < min(len(start), len(limit)):
        byte = start[common]
        if byte < 0xFF and byte + 1 < limit[common]:
            return start[:common] + bytes([byte + 1])
    return start


def _short_successor(key: bytes) -> bytes:
    """LevelDB's FindShortSuccessor: a short key at or after ``key``, for the last index entry."""
    for i, byte in enumerate(key):
        if byte != 0xFF:
            return key[:i] + bytes([byte + 1])
    return key
