"""graphaudit reads checkpoints as TensorFlow does, and without importing it."""

from __future__ import annotations

import dataclasses
import os
import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from graphaudit.errors import ArtifactError
from graphaudit.formats import crc32c, snappy
from graphaudit.formats.checkpoint import Checkpoint, bfloat16_to_float32
from graphaudit.formats.checkpoint_paths import find_checkpoint_prefix
from graphaudit.formats.table import Table, TableError, write_table

KINDS = ["tf1", "tf2", "sharded"]
REPO = Path(__file__).resolve().parent.parent

# ----------------------------------------------------------------------------------------------
# Real checkpoints, written by TensorFlow once per session


def _dtype_values(tf):
    """One small variable value per dtype the reader must handle."""
    return {
        "f32": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
        "f16": np.array([0.5, -1.25, 65504.0], dtype=np.float16),
        "f64": np.array([[np.pi, -np.e]], dtype=np.float64),
        "i32": np.array([-(2**31), 7, 2**31 - 1], dtype=np.int32),
        "i64": np.array([-(2**63), 2**40], dtype=np.int64),
        "b": np.array([[True, False], [False, True]]),
        "s": np.array([b"", b"kernel", b"\x00\xff\x80binary", b"x" * 300], dtype=object),
        "scalar": np.float32(3.5),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "bf16": np.array([1.5, -2.0, 3.0e38, 1e-3], dtype=tf.bfloat16.as_numpy_dtype),
    }


def _write_tf1(tf, prefix: Path) -> dict:
    graph = tf.Graph()
    with graph.as_default():
        for name, value in _dtype_values(tf).items():
            tf.compat.v1.Variable(value, name=f"dense/{name}")
        tf.compat.v1.get_variable(
            "part/kernel",
            shape=[10, 4],
            initializer=tf.compat.v1.random_normal_initializer(seed=1),
            partitioner=tf.compat.v1.fixed_size_partitioner(3),
        )
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, str(prefix))
    return {}


def _write_tf2(tf, prefix: Path, sharded: bool) -> dict:
    module = tf.Module()
    module.dense = tf.Module()
    for name, value in _dtype_values(tf).items():
        setattr(module.dense, name, tf.Variable(value))
    originals = {}
    options = None
    if sharded:
        # Big enough for 2- and 3-byte slice keys; MaxShardSizePolicy cuts tensors into slices.
        module.big = tf.Variable(np.linspace(-1, 1, 20000, dtype=np.float32))
        module.words = tf.Variable(np.array([b"w%d" % i * 8 for i in range(600)], dtype=object))
        originals["model/words/.ATTRIBUTES/VARIABLE_VALUE"] = module.words.numpy()
        options = tf.train.CheckpointOptions(
            experimental_sharding_callback=tf.train.experimental.MaxShardSizePolicy(
                max_shard_size=30_000
            )
        )
    tf.train.Checkpoint(model=module).write(str(prefix), options=options)
    return originals


def _tensorflow_view(tf, prefix: Path, originals: dict) -> dict:
    reader = tf.train.load_checkpoint(str(prefix))
    dtypes = reader.get_variable_to_dtype_map()
    view = {}
    for key, shape in reader.get_variable_to_shape_map().items():
        if key in originals:
            value = originals[key]  # TF's own reader refuses sliced string tensors
        else:
            value = reader.get_tensor(key)
        value = np.asarray(value, dtype=object if dtypes[key] == tf.string else None)
        view[key] = (dtypes[key].name, tuple(shape), value)
    return view


def _tfrecord_crcs(tf, folder: Path) -> list[tuple[bytes, int]]:
    """(payload, masked crc32c) pairs as TensorFlow's TFRecordWriter computes them."""
    rng = np.random.default_rng(7)
    payloads = [b"", b"a", b"123456789"] + [
        rng.bytes(n) for n in (255, 256, 4095, 4096, 4100, 70_001)
    ]
    path = folder / "crc.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for payload in payloads:
            writer.write(payload)
    # Record framing: uint64 length, masked crc of the length, data, masked crc of the data.
    raw = path.read_bytes()
    pairs, pos = [], 0
    while pos < len(raw):
        (length,) = struct.unpack_from("<Q", raw, pos)
        data = raw[pos + 12 : pos + 12 + length]
        (masked,) = struct.unpack_from("<I", raw, pos + 12 + length)
        pairs.append((data, masked))
        pos += 12 + length + 4
    assert [p for p, _ in pairs] == payloads
    return pairs


@pytest.fixture(scope="session")
def tf_checkpoints(tmp_path_factory):
    """Checkpoints of each kind, with TensorFlow's own view of them, and TF-computed crc32c."""
    # No skip without TensorFlow: CI installs it, and a skip would hide a broken install step.
    import tensorflow as tf
    root = tmp_path_factory.mktemp("checkpoints")
    built = {}
    for kind in KINDS:
        prefix = root / kind / "model.ckpt"
        prefix.parent.mkdir()
        originals = (
            _write_tf1(tf, prefix) if kind == "tf1" else _write_tf2(tf, prefix, kind == "sharded")
        )
        built[kind] = (prefix, _tensorflow_view(tf, prefix, originals))
    built["crcs"] = _tfrecord_crcs(tf, root)
    return built


@pytest.fixture
def copy_of(tf_checkpoints, tmp_path):
    """A private copy of one kind's checkpoint files, safe to damage."""

    def copy(kind: str) -> Path:
        prefix = tf_checkpoints[kind][0]
        for path in prefix.parent.iterdir():
            shutil.copy(path, tmp_path / path.name)
        return tmp_path / prefix.name

    return copy


def _view(tf_checkpoints, kind):
    prefix, view = tf_checkpoints[kind]
    return Checkpoint.open(prefix), view


def _assert_same_values(ours: np.ndarray, theirs: np.ndarray, dtype: str) -> None:
    assert ours.shape == theirs.shape
    if dtype == "string":
        assert ours.dtype == object and ours.tolist() == theirs.tolist()
    elif dtype == "bfloat16":
        np.testing.assert_array_equal(ours, theirs.view(np.uint16))  # raw bits, by design
    else:
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.tf
@pytest.mark.parametrize("kind", KINDS)
def test_keys_dtypes_shapes_match_tensorflow(tf_checkpoints, kind):
    ckpt, view = _view(tf_checkpoints, kind)
    assert ckpt.keys() == sorted(view)
    assert {k: (ckpt.entry(k).dtype, ckpt.entry(k).shape) for k in ckpt.keys()} == {
        k: (dtype, shape) for k, (dtype, shape, _) in view.items()
    }


@pytest.mark.tf
@pytest.mark.parametrize("kind", KINDS)
def test_values_match_tensorflow(tf_checkpoints, kind):
    ckpt, view = _view(tf_checkpoints, kind)
    for key, (dtype, _, expected) in view.items():
        _assert_same_values(ckpt.value(key), expected, dtype)


@pytest.mark.tf
@pytest.mark.parametrize("kind", KINDS)
def test_every_tensor_passes_its_checksum(tf_checkpoints, kind):
    ckpt, _ = _view(tf_checkpoints, kind)
    for key in ckpt.keys():
        ckpt.verify(key)


@pytest.mark.tf
def test_verify_without_google_crc32c(tf_checkpoints, monkeypatch):
    monkeypatch.setattr(crc32c, "_native_extend", None)
    ckpt, _ = _view(tf_checkpoints, "sharded")
    for key in ckpt.keys():
        ckpt.verify(key)


@pytest.mark.tf
def test_checkpoint_kinds_cover_what_they_should(tf_checkpoints):
    tf1, _ = _view(tf_checkpoints, "tf1")
    tf2, _ = _view(tf_checkpoints, "tf2")
    sharded, _ = _view(tf_checkpoints, "sharded")
    assert {tf1.entry(k).dtype for k in tf1.keys()} >= {
        "float32",
        "float16",
        "float64",
        "int32",
        "int64",
        "bool",
        "string",
        "bfloat16",
    }
    assert tf1.entry("part/kernel").slices == (((0, 4), (0, 4)), ((4, 3), (0, 4)), ((7, 3), (0, 4)))
    assert (tf1.num_shards, tf2.num_shards) == (1, 1) and sharded.num_shards > 2
    big = sharded.entry("model/big/.ATTRIBUTES/VARIABLE_VALUE")
    assert len(big.slices) > 2 and max(start for ((start, _),) in big.slices) > 8192
    assert big.nbytes == 20000 * 4
    assert sharded.entry("model/words/.ATTRIBUTES/VARIABLE_VALUE").sliced


@pytest.mark.tf
def test_values_are_read_only_maps_of_one_tensor(tf_checkpoints):
    ckpt, _ = _view(tf_checkpoints, "tf2")
    entry = ckpt.entry("model/dense/f32/.ATTRIBUTES/VARIABLE_VALUE")
    value = ckpt.value(entry.name)
    assert isinstance(value, np.memmap) and value.mode == "r" and not value.flags.writeable
    assert value.offset == entry.offset and value.nbytes == entry.size == entry.nbytes
    assert ckpt.value("model/dense/scalar/.ATTRIBUTES/VARIABLE_VALUE").shape == ()
    assert ckpt.value("model/dense/empty/.ATTRIBUTES/VARIABLE_VALUE").shape == (0, 3)


@pytest.mark.tf
def test_bfloat16_widens_exactly(tf_checkpoints):
    ckpt, view = _view(tf_checkpoints, "tf2")
    key = "model/dense/bf16/.ATTRIBUTES/VARIABLE_VALUE"
    bits = ckpt.value(key)
    assert bits.dtype == np.uint16
    np.testing.assert_array_equal(bfloat16_to_float32(bits), view[key][2].astype(np.float32))


@pytest.mark.tf
def test_object_graph_of_tf2_checkpoints_only(tf_checkpoints):
    tf1, _ = _view(tf_checkpoints, "tf1")
    tf2, _ = _view(tf_checkpoints, "tf2")
    assert tf1.object_graph() is None
    graph = tf2.object_graph()
    keys = {a.checkpoint_key for node in graph.nodes for a in node.attributes}
    assert keys == set(tf2.keys()) - {"_CHECKPOINTABLE_OBJECT_GRAPH"}
    assert "_CHECKPOINTABLE_OBJECT_GRAPH" in tf2


@pytest.mark.tf
def test_header_and_entries(tf_checkpoints):
    ckpt, _ = _view(tf_checkpoints, "tf1")
    assert ckpt.header.version.producer == 1 and ckpt.header.endianness == 0
    entry = ckpt.entry("dense/f32")
    assert (entry.dtype, entry.shape, entry.shard_id, entry.size, entry.sliced) == (
        "float32",
        (3, 4),
        0,
        48,
        False,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.size = 0
    with pytest.raises(KeyError, match="no tensor 'nope'"):
        ckpt.entry("nope")


@pytest.mark.tf
def test_tensorflow_is_never_imported(tf_checkpoints):
    prefixes = [str(tf_checkpoints[kind][0]) for kind in KINDS]
    script = textwrap.dedent(f"""
        import sys
        from graphaudit.formats.checkpoint import Checkpoint
        for prefix in {prefixes!r}:
            ckpt = Checkpoint.open(prefix)
            for key in ckpt.keys():
                ckpt.value(key).sum() if ckpt.entry(key).dtype != "string" else ckpt.value(key)
                ckpt.verify(key)
            ckpt.object_graph()
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
        assert not loaded, loaded
        print("ok")
        """)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


# ----------------------------------------------------------------------------------------------
# Damaged checkpoints: one line that says what was expected and what was found


def _open_error(prefix: Path) -> str:
    with pytest.raises(ArtifactError) as info:
        Checkpoint.open(prefix)
    assert "\n" not in str(info.value)
    return info.value.message


@pytest.mark.tf
def test_verify_fails_after_a_byte_flips(tf_checkpoints, copy_of):
    prefix = copy_of("tf2")
    ckpt = Checkpoint.open(prefix)
    for name in [
        "model/dense/f64/.ATTRIBUTES/VARIABLE_VALUE",
        "model/dense/s/.ATTRIBUTES/VARIABLE_VALUE",
    ]:
        entry = ckpt.entry(name)
        shard = Path(ckpt.shard_path(entry.shard_id))
        data = bytearray(shard.read_bytes())
        data[entry.offset + entry.size - 1] ^= 0x01  # the last byte: a value, never a length
        shard.write_bytes(bytes(data))
        with pytest.raises(ArtifactError, match=f"tensor '{name}' fails its checksum: bytes "):
            Checkpoint.open(prefix).verify(name)
    Checkpoint.open(prefix).verify("model/dense/f32/.ATTRIBUTES/VARIABLE_VALUE")  # untouched


@pytest.mark.tf
def test_missing_shard(copy_of):
    prefix = copy_of("sharded")
    num = Checkpoint.open(prefix).num_shards
    os.remove(f"{prefix}.data-00001-of-{num:05d}")
    assert _open_error(prefix) == (
        f"data shard model.ckpt.data-00001-of-{num:05d} is missing (the index names {num} shards)"
    )


@pytest.mark.tf
def test_truncated_shard(copy_of):
    prefix = copy_of("tf1")
    ckpt = Checkpoint.open(prefix)
    last = max(
        (part for k in ckpt.keys() for part in ckpt.parts(k)), key=lambda e: e.offset + e.size
    )
    shard = Path(ckpt.shard_path(0))
    shard.write_bytes(shard.read_bytes()[:100])
    assert _open_error(prefix) == (
        f"tensor '{last.name}' needs bytes {last.offset}..{last.offset + last.size}"
        " but model.ckpt.data-00000-of-00001 has only 100"
    )


@pytest.mark.tf
def test_garbage_index(copy_of):
    prefix = copy_of("tf1")
    Path(f"{prefix}.index").write_bytes(b"\x89PNG" + bytes(range(256)) * 4)
    assert _open_error(prefix).startswith("not a checkpoint index: bad table magic 0x")


@pytest.mark.tf
@pytest.mark.parametrize("keep", [200, 30, 0])
def test_truncated_index(copy_of, keep):
    prefix = copy_of("tf1")
    index = Path(f"{prefix}.index")
    index.write_bytes(index.read_bytes()[:keep])
    expected = {
        200: "not a checkpoint index: bad table magic",
        30: "not a checkpoint index: 30 bytes is shorter than the 48-byte table footer",
        0: "not a checkpoint index: 0 bytes is shorter than the 48-byte table footer (the file is empty)",
    }[keep]
    assert _open_error(prefix).startswith(expected)


@pytest.mark.tf
def test_corrupt_index_block(copy_of):
    prefix = copy_of("tf1")
    index = Path(f"{prefix}.index")
    data = bytearray(index.read_bytes())
    data[20] ^= 0x40  # inside the first data block
    index.write_bytes(bytes(data))
    assert _open_error(prefix).startswith(
        "corrupt checkpoint index: data block at offset 0 has crc32c 0x"
    )


def test_missing_index(tmp_path):
    (tmp_path / "other.ckpt.index").write_bytes(b"")
    assert (
        _open_error(tmp_path / "model.ckpt")
        == "expected a checkpoint index model.ckpt.index; found: other.ckpt.index"
    )


@pytest.mark.tf
def test_snappy_compressed_index_reads_the_same(tf_checkpoints, copy_of):
    """TF writes uncompressed blocks, but the format allows snappy: rebuild the index with it."""
    prefix = copy_of("sharded")
    index = Path(f"{prefix}.index")
    items = list(Table(index.read_bytes()))
    index.write_bytes(_build_table(items, compression=1, per_block=3, restart_interval=2))
    ckpt, view = Checkpoint.open(prefix), tf_checkpoints["sharded"][1]
    assert ckpt.keys() == sorted(view)
    for key, (dtype, _, expected) in view.items():
        _assert_same_values(ckpt.value(key), expected, dtype)


# ----------------------------------------------------------------------------------------------
# Finding the prefix from what users and pre-commit pass


@pytest.mark.tf
def test_find_checkpoint_prefix(tf_checkpoints, tmp_path):
    prefix = tf_checkpoints["tf1"][0]
    folder = prefix.parent
    assert find_checkpoint_prefix(prefix) == str(prefix)
    assert find_checkpoint_prefix(f"{prefix}.index") == str(prefix)
    assert find_checkpoint_prefix(f"{prefix}.data-00000-of-00001") == str(prefix)
    assert find_checkpoint_prefix(folder) == str(prefix)  # through the `checkpoint` state file
    assert Checkpoint.open(f"{prefix}.index").prefix == str(prefix)

    saved_model = tmp_path / "export"
    shutil.copytree(folder, saved_model / "variables")
    for path in (saved_model / "variables").iterdir():
        path.rename(path.with_name(path.name.replace("model.ckpt", "variables")))
    assert find_checkpoint_prefix(saved_model) == str(saved_model / "variables" / "variables")

    moved = tmp_path / "moved"
    shutil.copytree(folder, moved)
    (moved / "checkpoint").write_text('model_checkpoint_path: "/elsewhere/model.ckpt"\n')
    assert find_checkpoint_prefix(moved) == str(
        moved / "model.ckpt"
    )  # absolute path from another machine

    (moved / "checkpoint").unlink()
    shutil.copy(moved / "model.ckpt.index", moved / "model2.ckpt.index")
    with pytest.raises(ArtifactError, match="found 2: model.ckpt.index, model2.ckpt.index"):
        find_checkpoint_prefix(moved)


def test_find_checkpoint_prefix_in_an_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(ArtifactError, match="expected a `checkpoint` file, .*; found: notes.txt"):
        find_checkpoint_prefix(tmp_path)


# ----------------------------------------------------------------------------------------------
# crc32c, checked against TensorFlow's own values


@pytest.mark.tf
def test_crc32c_matches_tensorflow(tf_checkpoints):
    for payload, masked in tf_checkpoints["crcs"]:
        assert crc32c.mask(crc32c.value(payload)) == masked, len(payload)
        assert crc32c.mask(crc32c.extend_pure(0, payload)) == masked, len(payload)


def test_crc32c_known_values():
    assert crc32c.value(b"123456789") == 0xE3069283  # the standard check value
    assert crc32c.value(b"") == 0
    assert crc32c.value(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4
    assert crc32c.value(b"\xff" * 32) == 0x62A8AB43


@pytest.mark.parametrize("size", [0, 1, 7, 4095, 4096, 4097, 65_536 + 3, (8 << 20) + 257])
def test_crc32c_pure_path_agrees_and_extends(size):
    data = np.random.default_rng(size).bytes(size)
    whole = crc32c.value(data)
    assert crc32c.extend_pure(0, data) == whole
    cut = size // 3
    assert crc32c.extend_pure(crc32c.extend_pure(0, data[:cut]), data[cut:]) == whole
    assert crc32c.extend(crc32c.value(memoryview(data)[:cut]), bytearray(data[cut:])) == whole


def test_crc32c_takes_any_buffer():
    array = np.arange(24, dtype=np.float32).reshape(4, 6)
    expected = crc32c.value(array.tobytes())
    assert crc32c.value(array) == crc32c.value(memoryview(array)) == expected
    assert crc32c.value(array[:, ::2]) == crc32c.value(array[:, ::2].tobytes())  # not contiguous


@pytest.mark.parametrize("crc", [0, 1, 0x12345678, 0xFFFFFFFF, 0xA282EAD8])
def test_mask_round_trips(crc):
    assert crc32c.unmask(crc32c.mask(crc)) == crc


def test_mask_formula():
    crc = 0x12345678
    assert (
        crc32c.mask(crc) == ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
    )


# ----------------------------------------------------------------------------------------------
# snappy, from vectors built by hand


@pytest.mark.parametrize(
    "compressed, expected",
    [
        (b"\x00", b""),
        (b"\x05\x10hello", b"hello"),  # literal: tag (len-1) << 2
        (b"\x0c\x08abc\x15\x03", b"abc" * 4),  # copy, 1-byte offset: len 4 + 5, offset 3
        (b"\x0b\x00a\x19\x01", b"a" * 11),  # overlapping copy repeats one byte
        (b"\x43\x08abc\xfe\x03\x00", b"abc" * 22 + b"a"),  # copy, 2-byte offset: len 64
        (b"\x07\x08xyz\x0f\x02\x00\x00\x00", b"xyzyzyz"),  # copy, 4-byte offset: len 4
        (b"\x64\xf0\x63" + b"q" * 100, b"q" * 100),  # literal of 100: tag 60, then len-1 in 1 byte
        (b"\xac\x02\xf4\x2b\x01" + b"r" * 300, b"r" * 300),  # literal of 300: tag 61, 2-byte len
        (b"\x83\x02\x00a" + b"\xfe\x01\x00" * 4 + b"\x06\x01\x00", b"a" * 259),  # 2-byte preamble
    ],
)
def test_snappy_vectors(compressed, expected):
    assert snappy.uncompressed_length(compressed) == len(expected)
    assert snappy.decompress(compressed) == expected


def test_snappy_copy_with_a_long_one_byte_offset():
    # copy1 keeps offset bits 8..10 in the tag: offset 0x105 = 261, length 4.
    literal = bytes(range(256)) + b"ABCDE"
    compressed = (
        b"\x89\x02" + b"\xf0\xff" + bytes(range(256)) + b"\x10ABCDE" + bytes([(1 << 5) | 1, 0x05])
    )
    assert snappy.decompress(compressed) == literal + literal[:4]


@pytest.mark.parametrize(
    "compressed, message",
    [
        (b"", "missing or malformed length preamble"),
        (b"\xff\xff\xff\xff\xff\x01", "missing or malformed length preamble"),
        (b"\x05\x10hel", "literal of 5 bytes at byte 2 needs 2 more input bytes"),
        (b"\x04\x01\x01", "copy at byte 1 reaches back 1 bytes but only 0 are decoded"),
        (b"\x09\x08abc\x15\x07", "copy at byte 5 reaches back 7 bytes but only 3 are decoded"),
        (b"\x06\x08abc\x15", "copy at byte 5 runs past the end of the input"),
        (b"\x04\x08abc", "preamble announces 4 bytes but the elements decode to 3"),
        (b"\x02\x08abc", "elements decode to more than the 2 bytes the preamble announces"),
        (b"\x05\xf4\x00", "literal length at byte 1 runs past the end of the input"),
    ],
)
def test_snappy_rejects_bad_input(compressed, message):
    with pytest.raises(snappy.SnappyError, match=message):
        snappy.decompress(compressed)


# ----------------------------------------------------------------------------------------------
# the table format, from tables built here


def _build_table(items, *, compression=0, per_block=4, restart_interval=16, bad_crc=False, handles=None) -> bytes:
    """A table from the product's writer; ``bad_crc`` flips a bit of every block's checksum."""
    blocks = []
    data = bytearray(write_table(items, compression=compression, per_block=per_block,
                                 restart_interval=restart_interval, block_handles=blocks))
    if bad_crc:
        for block in blocks:
            data[block.offset + block.size + 1] ^= 1  # the first byte of the crc after the type byte
    if handles is not None:
        handles.extend((block.offset, block.size) for block in blocks)
    return bytes(data)


ITEMS = [(b"", b"header")] + [(b"dense_%02d/kernel" % i, b"v" * i) for i in range(1, 12)]


@pytest.mark.parametrize("compression", [0, 1])
@pytest.mark.parametrize("restart_interval", [1, 3, 16])
def test_table_round_trip(compression, restart_interval):
    data = _build_table(ITEMS, compression=compression, restart_interval=restart_interval)
    assert list(Table(data)) == ITEMS


def test_table_checks_block_crc_only_when_asked():
    data = _build_table(ITEMS, bad_crc=True)
    with pytest.raises(
        TableError,
        match=r"index block at offset \d+ has crc32c 0x[0-9a-f]{8} but its trailer says 0x",
    ):
        list(Table(data))
    assert list(Table(data, verify_checksums=False)) == ITEMS


def test_table_rejects_unknown_compression():
    handles = []
    data = bytearray(_build_table(ITEMS, handles=handles))
    offset, size = handles[0]
    data[offset + size] = 2  # the compression type byte of the first data block's trailer
    with pytest.raises(
        TableError, match=r"has compression type 2 \(expected 0 for none or 1 for snappy\)"
    ):
        list(Table(bytes(data), verify_checksums=False))


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d[:-1] + b"\x00", "bad table magic 0x00477524"),
        (lambda d: d[:10], "10 bytes is shorter than the 48-byte table footer"),
        (lambda d: d[-48:], "metaindex block at bytes .* runs past the 0 bytes before the footer"),
    ],
)
def test_table_rejects_damage(mutate, message):
    with pytest.raises(TableError, match=message):
        list(Table(mutate(_build_table(ITEMS))))


def test_table_rejects_keys_out_of_order():
    with pytest.raises(TableError, match=r"keys out of order .*: b'a' follows b'b'"):
        list(Table(_build_table([(b"b", b""), (b"a", b"")])))
