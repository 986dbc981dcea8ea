"""The C index-block decoder (graphaudit/formats/_table.c) and the Python reader agree: same entries, same errors."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from graphaudit.errors import ArtifactError
from graphaudit.formats import checkpoint, protos
from graphaudit.formats.table import TableError, _parse_block, encode_block, encode_varint, write_table

pytestmark = pytest.mark.skipif(checkpoint.native is None, reason="graphaudit.formats._table is not built here")

NAMES = ["a", "a/b", "kernel", "dense/kernel", "é/bias", "x" * 130, "\x00part", "v\udcff", "dense/kernel/m",
         "_CHECKPOINTABLE_OBJECT_GRAPH"]


def _clean_entry(rng: random.Random, shard_count: int) -> protos.BundleEntryProto:
    """An entry as TensorFlow writes it: known rank, sizes that add up, inside the shard files."""
    e = protos.BundleEntryProto(dtype=rng.choice([1, 1, 2, 3, 7, 9, 10, 14, 19, 101, 30]))
    for _ in range(rng.choice([0, 1, 2, 2, 4])):
        e.shape.dim.add().size = rng.choice([1, 3, 4, 0])
    count = math.prod(d.size for d in e.shape.dim)
    itemsize = {1: 4, 2: 8, 3: 4, 9: 8, 10: 1, 14: 2, 19: 2, 101: 4}.get(e.dtype, 3)
    e.size = count + 4 + rng.randint(0, 9) if e.dtype == 7 else count * itemsize
    e.shard_id = rng.randrange(shard_count)
    e.offset = rng.choice([0, 16, 4096])
    e.crc32c = rng.getrandbits(32)
    return e


def _entry_bytes(rng: random.Random, shard_count: int, hostility: float) -> bytes:
    """A BundleEntryProto, mostly as TensorFlow writes it, sometimes not (odd fields, negatives, cut short)."""
    e = _clean_entry(rng, shard_count)
    if rng.random() < hostility:
        what = rng.randrange(7)
        if what == 0:
            e.shape.dim.add().size = rng.choice([-1, 2**40])
        elif what == 1:
            e.shape.unknown_rank = True
        elif what == 2:
            e.shape.dim.add(size=2, name="batch")
        elif what == 3:
            e.shard_id = rng.choice([shard_count, -1])
        elif what == 4:
            e.offset, e.size = rng.choice([(-8, e.size), (0, e.size + 1), (8190, e.size), (0, -4)])
        elif what == 5:
            e.dtype = rng.choice([0, 300, -2])
        else:
            piece = e.slices.add()
            for _ in e.shape.dim:
                piece.extent.add(start=0, length=rng.choice([0, 1, 2]))
    raw = e.SerializeToString()
    if rng.random() < hostility:
        twist = rng.randrange(3)
        if twist == 0:
            raw += encode_varint((9 << 3) | 0) + b"\x01"  # an unknown field
        elif twist == 1:
            raw += encode_varint((4 << 3) | 0) + encode_varint(32)  # a field repeated: the last one wins
        elif raw:
            raw = raw[: rng.randrange(len(raw))]  # cut short
    return raw


def _sliced(rng: random.Random) -> list[tuple[bytes, bytes]]:
    """A tensor saved in two partitions, as a partitioned variable is, and its parts' entries."""
    whole = protos.BundleEntryProto(dtype=1)
    whole.shape.dim.add().size = 4
    rows = []
    for start in (0, 2):
        whole.slices.add().extent.add(start=start, length=2)
        part = protos.BundleEntryProto(dtype=1, offset=64 + 8 * start, size=8, crc32c=start)
        part.shape.dim.add().size = rng.choice([2, 2, 2, 3])
        rows.append((checkpoint._slice_key("part_var", [(start, 2)]), part.SerializeToString()))
    return [(b"part_var", whole.SerializeToString()), *rows]


def _rows(seed: int) -> tuple[list[tuple[bytes, bytes]], int]:
    rng = random.Random(seed)
    shards = rng.choice([1, 2])
    hostility = rng.choice([0, 0, 0, 0.01, 0.1])
    header = protos.BundleHeaderProto(num_shards=shards)
    header.version.producer = 1
    pool = NAMES if rng.random() < 0.1 else [n for n in NAMES if n.isprintable()]  # a non-UTF-8 key, rarely
    names = sorted({f"{rng.choice(pool)}/{i}" if rng.random() < 0.9 else rng.choice(pool)
                    for i in range(rng.randint(0, 40))})
    rows = [(n.encode("utf-8", "surrogateescape"), _entry_bytes(rng, shards, hostility)) for n in names]
    if rng.random() < 0.2:
        rows += _sliced(rng)
    rows = sorted(dict(rows).items())
    if rng.random() < 0.97:
        rows.insert(0, (b"", header.SerializeToString()))
    if rng.random() < 0.03 and len(rows) > 2:
        rows[1], rows[2] = rows[2], rows[1]  # keys out of order
    return rows, rng.getrandbits(32)


def _open(prefix: Path, native: bool):
    saved = checkpoint.USE_NATIVE
    checkpoint.USE_NATIVE = native
    try:
        ck = checkpoint.Checkpoint.open(str(prefix))
    except ArtifactError as exc:
        return ("error", str(exc))
    finally:
        checkpoint.USE_NATIVE = saved
    return ("ok", ck.keys(), [ck.entry(k) for k in ck.keys()], {k: ck.parts(k) for k in ck.keys()},
            list(ck.described()), {k: k in ck for k in [*ck.keys(), "missing", ""]})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 2**32))
def test_checkpoint_open_is_the_same_with_and_without_c(tmp_path, seed):
    rows, corrupt = _rows(seed)
    data = write_table(rows, per_block=random.Random(seed).choice([1, 3, 16]))
    if corrupt % 11 == 0 and len(data) > 60:
        at = corrupt % (len(data) - 48)
        data = data[:at] + bytes([data[at] ^ 0x41]) + data[at + 1:]  # a flipped byte: a checksum error
    prefix = tmp_path / f"c{seed}"
    Path(f"{prefix}.index").write_bytes(data)
    for shard in range(2):
        Path(f"{prefix}.data-{shard:05d}-of-{2:05d}").write_bytes(b"\x00" * 8192)
        Path(f"{prefix}.data-00000-of-00001").write_bytes(b"\x00" * 8192)
    assert _open(prefix, True) == _open(prefix, False)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 2**16), st.sampled_from([None, b"", b"a/0", b"zzz"]))
def test_one_block_decodes_as_python_reads_it(seed, flip, previous):
    rows, _ = _rows(seed)
    block = encode_block(rows, random.Random(seed).choice([1, 2, 16]))
    if flip % 5 == 0 and block:
        at = flip % len(block)
        block = block[:at] + bytes([flip >> 8 & 0xFF]) + block[at + 1:]
    try:
        expected = list(_parse_block(block))
        last = previous
        for key, _ in expected:
            if last is not None and key <= last:
                raise TableError("keys out of order")
            last = key
    except TableError:
        expected = None
    got = checkpoint.native.decode_block(block, previous, {})
    if expected is None:
        assert got is None
        return
    assert got is not None
    names, columns, shapes, specials, last_key, all_utf8 = got
    assert names == [k.decode("utf-8", "surrogateescape") for k, _ in expected]
    assert all_utf8 == all(_utf8(k) for k, _ in expected)
    if expected:
        assert last_key == expected[-1][0]
    special = dict(specials)
    cols = memoryview(columns).cast("q")
    for row, (key, value) in enumerate(expected):
        dtype, shard, offset, size, crc, count, is_special = cols[row * 7:row * 7 + 7]
        if is_special:
            assert special[row] == value and shapes[row] is None
            continue
        assert key and row not in special
        proto = protos.BundleEntryProto.FromString(value)
        assert not proto.slices and not proto.shape.unknown_rank
        assert (dtype, shard, offset, size, crc) == (proto.dtype, proto.shard_id, proto.offset, proto.size,
                                                     proto.crc32c)
        assert shapes[row] == protos.shape_list(proto.shape) and count == math.prod(shapes[row])
        assert min([dtype, shard, offset, size, *shapes[row]]) >= 0


def _utf8(key: bytes) -> bool:
    try:
        key.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_a_usual_index_is_read_by_c(tmp_path, monkeypatch):
    """The fast path is taken (no silent fallback) on the index TensorFlow writes most often."""
    rows, _ = _rows(0)
    header = protos.BundleHeaderProto(num_shards=1)
    entries = []
    for i in range(100):
        e = protos.BundleEntryProto(dtype=1, offset=16 * i, size=16, crc32c=i)
        e.shape.dim.add().size = 4
        entries.append((f"layer_{i:03d}/kernel".encode(), e.SerializeToString()))
    prefix = tmp_path / "ckpt"
    Path(f"{prefix}.index").write_bytes(write_table([(b"", header.SerializeToString()), *entries]))
    Path(f"{prefix}.data-00000-of-00001").write_bytes(b"\x00" * 1600)
    monkeypatch.setattr(checkpoint, "_read_table", None)  # the Python reader would fail if called
    ck = checkpoint.Checkpoint.open(str(prefix))
    assert ck.entry("layer_007/kernel").offset == 112 and ck.entry("layer_007/kernel").shape == (4,)
    assert len(ck) == 100 and "layer_100/kernel" not in ck


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=5000), st.integers(0, 2**32 - 1), st.integers(0, 9))
def test_crc32c_in_c_is_the_numpy_one(data, start, skip):
    from graphaudit.formats import crc32c

    piece = data[skip:]  # unaligned starts and every tail length
    assert checkpoint.native.crc32c_extend(start, piece) == crc32c.extend_pure(start, piece)


def test_crc32c_in_c_on_large_buffers_and_the_check_value():
    import numpy as np

    from graphaudit.formats import crc32c

    assert checkpoint.native.crc32c_extend(0, b"123456789") == 0xE3069283  # the CRC-32C check value
    big = np.random.default_rng(1).integers(0, 256, 3 << 20, dtype=np.uint8)
    assert checkpoint.native.crc32c_extend(7, big[3:]) == crc32c.extend_pure(7, big[3:])
