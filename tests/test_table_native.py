"""The C index-block decoder (graphaudit/formats/_table.c) and the Python reader agree: same entries, same errors."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from graphaudit.errors import ArtifactError
from graphaudit.formats import checkpoint, protos
from graphaudit.formats.table import (NO_COMPRESSION, SNAPPY_COMPRESSION, TableError, _parse_block, encode_block,
                                     encode_varint, write_table)

pytestmark = pytest.mark.skipif(checkpoint.native is None or not hasattr(checkpoint.native, "decode_index"),
                                reason="graphaudit.formats._table is not built here (or was built before decode_index)")

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
    shards = rng.choice([1, 2, 2, 5])
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


def _real_snappy():
    """cramjam's snappy compressor (copies, as TensorFlow writes), or None for literals only."""
    try:
        from cramjam import snappy
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return lambda raw: bytes(snappy.compress_raw(raw))


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
            ck.columns(), {k: k in ck for k in [*ck.keys(), "missing", ""]})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 2**32))
def test_checkpoint_open_is_the_same_with_and_without_c(tmp_path, seed):
    rows, corrupt = _rows(seed)
    rng = random.Random(seed)
    # Uncompressed blocks, or snappy ones (literals, or cramjam's real snappy where it is installed).
    compression = rng.choice([NO_COMPRESSION, SNAPPY_COMPRESSION])
    compress = _real_snappy() if rng.random() < 0.5 else None
    data = write_table(rows, per_block=rng.choice([1, 3, 16]), compression=compression, compress=compress)
    if corrupt % 11 == 0 and len(data) > 60:
        at = corrupt % (len(data) - 48)
        data = data[:at] + bytes([data[at] ^ 0x41]) + data[at + 1:]  # a flipped byte: a checksum error
    prefix = tmp_path / f"c{seed}"
    Path(f"{prefix}.index").write_bytes(data)
    for count in (1, 2, 5):
        for shard in range(count):
            Path(f"{prefix}.data-{shard:05d}-of-{count:05d}").write_bytes(b"\x00" * (8192 if shard != 3 else 100))
    assert _open(prefix, True) == _open(prefix, False)


def _expected_index(blocks: list[bytes]):
    """What the Python reader makes of the blocks: their entries, or None where it refuses them."""
    try:
        expected = [entry for block in blocks for entry in _parse_block(block)]
    except TableError:
        return None
    keys = [key for key, _ in expected]
    # A part's key (b"\x00...") is binary; a tensor's name must be UTF-8 to sort as its key does.
    if any(b <= a for a, b in zip(keys, keys[1:])) or not all(_utf8(k) for k in keys if k[:1] not in (b"", b"\x00")):
        return None
    return expected


def _refused_by_c(key: bytes, value: bytes) -> bool:
    """Whether an entry the C decoder may read as usual has a dtype past 255 or, for a tensor, a
    size that does not fit its shape (both left to the Python reader, which says what is wrong)."""
    try:
        proto = protos.BundleEntryProto.FromString(value)
    except Exception:  # noqa: BLE001 - not a proto: left to Python, never refused by C
        return False
    if not key or proto.slices or protos.shape_list(proto.shape) is None:
        return False
    if proto.dtype > 255:
        return True
    count = math.prod(protos.shape_list(proto.shape))
    each = int(checkpoint._ITEMSIZE[proto.dtype])
    public = key[:1] not in (b"", b"\x00")
    return public and (proto.size < count + 4 if each == 0 else each > 0 and proto.size != count * each)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 2**16), st.lists(st.integers(0, 12), max_size=4))
def test_index_blocks_decode_as_python_reads_them(seed, flip, cuts):
    """decode_index over a run of blocks (cut anywhere, some empty, a byte flipped) agrees with
    _parse_block and the protobuf reader: the same rows, or None where Python would refuse them."""
    rows, _ = _rows(seed)
    bounds = sorted({min(c, len(rows)) for c in cuts} | {0, len(rows)})
    interval = random.Random(seed).choice([1, 2, 16])
    blocks = [encode_block(rows[a:b], interval) for a, b in zip(bounds, bounds[1:])] or [encode_block([], 1)]
    if flip % 5 == 0:
        k = flip % len(blocks)
        at = flip % len(blocks[k])
        blocks[k] = blocks[k][:at] + bytes([flip >> 8 & 0xFF]) + blocks[k][at + 1:]
    expected = _expected_index(blocks)
    got = checkpoint.native.decode_index(iter(blocks), checkpoint._DTYPE_NAMES, checkpoint._ITEMSIZE_BYTES)
    if expected is None:
        assert got is None
        return
    if got is None:
        assert any(_refused_by_c(key, value) for key, value in expected)
        return
    names, dtypes, shapes, part_names, part_dtypes, part_shapes, numbers, specials, max_shard = got
    first_public = len(part_names)
    assert part_names + names == [k.decode("utf-8", "surrogateescape") for k, _ in expected]
    assert all(k[:1] in (b"", b"\x00") for k, _ in expected[:first_public])
    assert all(k[:1] not in (b"", b"\x00") for k, _ in expected[first_public:])
    special = dict(specials)
    numbers = memoryview(numbers).cast("q")
    assert len(numbers) == 4 * len(expected)
    shards = []
    for row, (key, value) in enumerate(expected):
        dtype, shape = (part_dtypes[row], part_shapes[row]) if row < first_public else (
            dtypes[row - first_public], shapes[row - first_public])
        shard, offset, size, crc = numbers[4 * row:4 * row + 4]
        if row in special:
            assert special[row] == value and shape is None and dtype is None
            assert (shard, offset, size, crc) == (0, 0, 0, 0)
            continue
        assert key and not _refused_by_c(key, value)
        proto = protos.BundleEntryProto.FromString(value)
        assert not proto.slices and not proto.shape.unknown_rank
        assert (dtype, shard, offset, size, crc) == (protos.dtype_name(proto.dtype), proto.shard_id, proto.offset,
                                                     proto.size, proto.crc32c)
        assert shape == protos.shape_list(proto.shape)
        assert min([shard, offset, size, *shape]) >= 0
        shards.append(shard)
    assert b"" not in [k for k, _ in expected] or 0 in special
    assert max_shard == max(shards, default=-1)
    equal = {}
    for shape in [*part_shapes, *shapes]:
        assert equal.setdefault(shape, shape) is shape  # equal shapes are one tuple


def _entry_with_dim(size: int, padded: bool) -> bytes:
    """A float32 BundleEntryProto of shape (size,), the dim's size as a longer varint when ``padded``."""
    dim = b"\x08" + (bytes([size & 0x7F | 0x80, size >> 7 | 0x80, 0]) if padded else encode_varint(size))
    shape = b"\x12" + encode_varint(len(dim)) + dim
    return b"\x08\x01\x12" + encode_varint(len(shape)) + shape + b"\x28" + encode_varint(4 * size)


def test_decode_index_shares_equal_shapes_written_two_ways_and_reads_many():
    """Equal shapes are one tuple even when their bytes differ; more shapes than the cache first
    holds, and a shape longer than it keeps, still read."""
    rows = [(f"v{i:05d}".encode(), _entry_with_dim(i % 700 + 1, i % 7 == 0)) for i in range(3000)]
    dim = b"\x08\x81" + b"\x80" * 8 + b"\x00"  # a size of 1 in ten bytes
    shape = (b"\x12" + encode_varint(len(dim)) + dim) * 40  # 520 bytes: longer than the shape cache keeps
    big = b"\x08\x01\x12" + encode_varint(len(shape)) + shape + b"\x28\x04"
    rows += [(b"w_big", big), (b"w_big2", big)]
    expected = [protos.shape_list(protos.BundleEntryProto.FromString(v).shape) for _, v in rows]
    got = checkpoint.native.decode_index(iter([encode_block(rows[:1500], 16), encode_block(rows[1500:], 16)]),
                                         checkpoint._DTYPE_NAMES, checkpoint._ITEMSIZE_BYTES)
    names, dtypes, shapes = got[:3]
    assert shapes == expected and dtypes == ["float32"] * len(rows) and not got[7]
    assert shapes[0] is shapes[700] and shapes[7] is shapes[707]  # padded and not, one tuple


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


def test_sliced_tensors_are_read_by_c_whatever_their_parts_keys_hold(tmp_path, monkeypatch):
    """Parts' keys are OrderedCode, not UTF-8: they stay on the fast path, and are found by key even
    where their names (read with surrogateescape) sort otherwise (start 31 is b"\\x9f", 640 b"\\xc2\\x80")."""
    header = protos.BundleHeaderProto(num_shards=1)
    whole = protos.BundleEntryProto(dtype=1)
    whole.shape.dim.add().size = 1000
    rows, offset = [], 0
    for start, length in ((0, 31), (31, 609), (640, 360)):
        whole.slices.add().extent.add(start=start, length=length)
        part = protos.BundleEntryProto(dtype=1, offset=offset, size=4 * length, crc32c=start)
        part.shape.dim.add().size = length
        rows.append((checkpoint._slice_key("layer/kernel", [(start, length)]), part.SerializeToString()))
        offset += 4 * length
    plain = protos.BundleEntryProto(dtype=1, offset=offset, size=8)
    plain.shape.dim.add().size = 2
    rows += [(b"layer/kernel", whole.SerializeToString()), (b"layer/bias", plain.SerializeToString())]
    assert b"\x9f" in rows[0][0] and b"\xc2\x80" in rows[2][0]
    prefix = tmp_path / "ckpt"
    Path(f"{prefix}.index").write_bytes(write_table([(b"", header.SerializeToString()), *sorted(rows)]))
    Path(f"{prefix}.data-00000-of-00001").write_bytes(b"\x00" * (offset + 8))
    expected = _open(prefix, False)
    monkeypatch.setattr(checkpoint, "_read_table", None)  # the Python reader would fail if called
    assert _open(prefix, True) == expected
    assert [part.size for part in expected[3]["layer/kernel"]] == [124, 2436, 1440]
