"""The index reader's bulk paths against their plain twins: Table.data_blocks against read_block, and
the shard check's furthest entry per shard against a loop over every entry."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from graphaudit.formats import snappy, table as table_module
from graphaudit.formats.checkpoint import Entry, _Columns
from graphaudit.formats.table import SNAPPY_COMPRESSION, Table, TableError, write_table


def _compressors():
    out = [None]  # literals only
    try:
        from cramjam import snappy as cramjam_snappy
    except ImportError:  # pragma: no cover - depends on the environment
        return out
    return [*out, lambda raw: bytes(cramjam_snappy.compress_raw(raw))]


def _blocks(data: bytes, bulk: bool) -> list[bytes] | str:
    table = Table(data)
    try:
        if bulk:
            return [bytes(block) for block in table.data_blocks()]  # each one used before the next
        return [table.read_block(handle) for handle in table.data_handles()]
    except TableError as exc:
        return f"error: {exc}"


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from([0, 1]), st.sampled_from(_compressors()), st.integers(0, 2**16))
def test_data_blocks_are_read_block_s(seed, compression, compress, flip):
    """Blocks of growing and shrinking sizes (the scratch buffer is replaced, never resized under a
    view), snappy or not, a byte flipped sometimes: the same contents, or the same error."""
    rng = random.Random(seed)
    items = sorted({f"k{rng.randrange(10**6):07d}".encode(): bytes(rng.randrange(4)) * rng.randrange(0, 3000)
                    for _ in range(rng.randrange(1, 60))}.items())
    data = write_table(items, per_block=rng.choice([1, 4, 16]), compression=compression, compress=compress)
    if flip % 4 == 0:
        at = flip % (len(data) - 48)
        data = data[:at] + bytes([data[at] ^ 0x10]) + data[at + 1:]
    assert _blocks(data, True) == _blocks(data, False)


def test_data_blocks_give_cramjam_s_error_as_read_block_does():
    """A snappy block cramjam refuses is read again by the pure decoder, which says what is wrong."""
    data = bytearray(write_table([(b"a", b"x" * 500), (b"b", b"y" * 900)], per_block=1,
                                 compression=SNAPPY_COMPRESSION))
    from graphaudit.formats import crc32c

    block = Table(bytes(data)).data_handles().__next__()
    contents = bytes(data[block.offset:block.offset + block.size])
    assert contents[0] & 0x7F < 0x7F
    broken = bytes([contents[0] + 1]) + contents[1:]  # one byte more announced: bad snappy, checksum mended
    data[block.offset:block.offset + block.size] = broken
    trailer = bytes([SNAPPY_COMPRESSION])
    data[block.offset + block.size + 1:block.offset + block.size + 5] = crc32c.mask(
        crc32c.value(broken + trailer)).to_bytes(4, "little")
    bulk, single = _blocks(bytes(data), True), _blocks(bytes(data), False)
    assert isinstance(bulk, str) and "bad snappy data" in bulk and "preamble announces" in bulk
    assert bulk == single


def test_data_blocks_keep_the_pure_decoder_s_budget(monkeypatch):
    items = [(b"k%05d" % i, bytes(200)) for i in range(500)]
    data = write_table(items, per_block=50, compression=SNAPPY_COMPRESSION)
    monkeypatch.setattr(snappy, "BACKEND", "python")
    monkeypatch.setattr(table_module, "PURE_SNAPPY_BUDGET", 10_000)
    with pytest.raises(TableError, match="more than 10,000 bytes of snappy"):
        list(Table(data).data_blocks())


def _int64(value: int) -> int:
    return (value + 2**63) % 2**64 - 2**63


def _furthest_by_loop(columns: _Columns, partitions) -> dict[int, Entry]:
    """The first entry (by name, a sliced tensor's parts in their order) that ends furthest into each
    shard; an entry's own end as an int64 (it wraps around in a hostile index), a part's as is."""
    best: dict[int, tuple[int, Entry]] = {}
    for name in columns.names:
        entry = columns.entry(name)
        if entry.sliced:
            ends = [(part.offset + part.size, part) for _, part in partitions[name]]
        else:
            ends = [(_int64(entry.offset + entry.size), entry)]
        for end, part in ends:
            if part.size and (part.shard_id not in best or end > best[part.shard_id][0]):
                best[part.shard_id] = (end, part)
    return {shard: part for shard, (_, part) in best.items()}


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from([1, 2, 7, 10**6]), st.sampled_from([1, 3, 1 << 20]))
def test_furthest_is_the_loop_s(seed, shards, chunk):
    """Ties, entries of no bytes, shards of only those, sliced tensors, shard ids far apart, ends
    that wrap around, rows gone through in chunks of every size."""
    from graphaudit.formats import checkpoint

    rng = random.Random(seed)
    n = rng.randrange(0, 40)
    names = sorted({f"v{rng.randrange(1000):03d}" for _ in range(n)})
    entries = {}
    partitions = {}
    for name in names:
        shard = rng.randrange(shards) if shards < 10**6 else rng.choice([0, 5, 999_999])
        offset, size = rng.choice([0, 8, 16, 2**62, 2**63 - 8]), rng.choice([0, 0, 4, 8, 12, 2**62])
        if rng.random() < 0.15:
            parts = []
            for k in range(rng.randrange(1, 4)):
                part = Entry(name=name, dtype="float32", shape=(1,), shard_id=rng.randrange(min(shards, 3)),
                             offset=rng.choice([0, 8, 24]), size=rng.choice([0, 4, 8]), crc32c=k)
                parts.append((((k, 1),), part))
            partitions[name] = tuple(parts)
            entries[name] = Entry(name=name, dtype="float32", shape=(len(parts),), shard_id=0, offset=0, size=0,
                                  crc32c=0, slices=tuple(spec for spec, _ in parts))
        else:
            entries[name] = Entry(name=name, dtype="float32", shape=(size // 4,), shard_id=shard, offset=offset,
                                  size=size, crc32c=0, nbytes=size)
    columns = _Columns.from_entries(entries)
    saved = checkpoint._FURTHEST_CHUNK
    checkpoint._FURTHEST_CHUNK = chunk
    try:
        assert columns.furthest(partitions) == _furthest_by_loop(columns, partitions)
    finally:
        checkpoint._FURTHEST_CHUNK = saved
    assert columns.numbers.dtype == np.int64
