"""The static checkpoint writer: what it writes reads back exactly, checksums and all (TF's own bytes: test_fix_tf.py)."""

from __future__ import annotations

import numpy as np
import pytest

from graphaudit.formats.checkpoint import Checkpoint
from graphaudit.formats.checkpoint_writer import encode_tensor, write_checkpoint
from graphaudit.formats.table import Table, _short_successor, _shortest_separator, write_table

VALUES = {
    "dense/kernel": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
    "half": np.array([1.5, -2.25, 65504], dtype=np.float16),
    "double": np.array([[1e-300, -2.0]], dtype=np.float64),
    "int8": np.array([-128, 127], dtype=np.int8),
    "int32": np.array(7, dtype=np.int32),
    "int64": np.array([1 << 40, -1], dtype=np.int64),
    "uint8": np.array([0, 255], dtype=np.uint8),
    "flag": np.array([True, False, True]),
    "empty": np.zeros((0, 3), np.float32),
    "vocab": np.array([b"hello", b"", b"x" * 300], dtype=object),
    "scalar_string": np.array(b"\x00\xff", dtype=object),
}


@pytest.mark.parametrize("key", sorted(VALUES))
def test_every_dtype_reads_back_exactly_and_passes_its_checksum(tmp_path, key):
    write_checkpoint(tmp_path / "ckpt", VALUES)
    ck = Checkpoint.open(tmp_path / "ckpt")
    assert ck.keys() == sorted(VALUES)
    got, want = ck.value(key), VALUES[key]
    assert got.shape == want.shape and got.dtype == (want.dtype if want.dtype != object else object)
    assert got.tolist() == want.tolist()
    ck.verify(key)


def test_bfloat16_is_written_from_its_bits_or_rounded_from_float32(tmp_path):
    bits = np.array([0x3F80, 0xC040, 0x7FC0], dtype=np.uint16)  # 1.0, -3.0, nan
    floats = np.array([1.0, -3.0, 1.00390625], dtype=np.float32)  # the last rounds to even: 1.0
    write_checkpoint(tmp_path / "ckpt", {"bits": bits, "floats": floats}, dtypes={"bits": "bfloat16", "floats": "bfloat16"})
    ck = Checkpoint.open(tmp_path / "ckpt")
    assert ck.entry("bits").dtype == ck.entry("floats").dtype == "bfloat16"
    assert ck.value("bits").tolist() == [0x3F80, 0xC040, 0x7FC0]
    assert ck.value("floats").tolist() == [0x3F80, 0xC040, 0x3F80]
    ck.verify("floats")


def test_keys_are_sorted_by_bytes_and_data_is_laid_out_in_that_order(tmp_path):
    values = {"b": np.ones(2, np.float32), "a/z": np.zeros(3, np.float32), "a": np.full(1, 5, np.int64)}
    written = write_checkpoint(tmp_path / "ckpt", values)
    ck = Checkpoint.open(tmp_path / "ckpt")
    assert written.keys == ("a", "a/z", "b")
    assert [(ck.entry(k).offset, ck.entry(k).size) for k in written.keys] == [(0, 8), (8, 12), (20, 8)]
    assert written.data_bytes == 28 == (tmp_path / "ckpt.data-00000-of-00001").stat().st_size


def test_values_may_be_read_one_at_a_time(tmp_path):
    calls = []

    def lazy(key, value):
        def read():
            calls.append(key)
            return value
        return read

    write_checkpoint(tmp_path / "ckpt", {"b": lazy("b", np.ones(2)), "a": lazy("a", np.zeros(1))})
    assert calls == ["a", "b"]
    assert Checkpoint.open(tmp_path / "ckpt").value("b").tolist() == [1.0, 1.0]


def test_many_keys_span_several_index_blocks_with_shortest_separators(tmp_path):
    values = {f"layer_{i:05d}/{'w' * 200}": np.full(1, i, np.int32) for i in range(3000)}
    write_checkpoint(tmp_path / "ckpt", values)
    table = Table((tmp_path / "ckpt.index").read_bytes())
    index_keys = [k for k, _ in table._block_entries("index", table.index_handle)]
    assert len(index_keys) > 1  # more than 256 KiB of entries
    ck = Checkpoint.open(tmp_path / "ckpt")
    assert len(ck) == 3000 and ck.value(f"layer_02999/{'w' * 200}").tolist() == [2999]
    # Every index key separates its block from the next one, and is no longer than the last key.
    assert all(len(k) <= len(f"layer_00000/{'w' * 200}") for k in index_keys)


@pytest.mark.parametrize("start, limit, expected", [
    (b"abcd", b"abzz", b"abd"),      # one byte bumped, the rest dropped
    (b"abcd", b"abd", b"abcd"),      # bumping would reach the limit
    (b"ab", b"abc", b"ab"),          # a prefix is kept whole
    (b"a\xff", b"b", b"a\xff"),
])
def test_shortest_separator(start, limit, expected):
    got = _shortest_separator(start, limit)
    assert got == expected and start <= got < limit


@pytest.mark.parametrize("key, expected", [(b"u8", b"v"), (b"\xff\xffa", b"\xff\xffb"), (b"\xff", b"\xff")])
def test_short_successor(key, expected):
    assert _short_successor(key) == expected


def test_the_block_layout_is_unchanged_without_block_size():
    items = [(bytes([i]), b"v") for i in range(40)]
    assert [k for k, _ in Table(write_table(items, per_block=16))] == [k for k, _ in items]


def test_string_checksum_covers_lengths_as_fixed_width_then_the_rest():
    raw, crc = encode_tensor(np.array([b"ab", b"c"], dtype=object), "string")
    assert raw[:2] == b"\x02\x01" and raw[-3:] == b"abc" and len(raw) == 2 + 4 + 3
    assert isinstance(crc, int) and 0 <= crc < 2**32


@pytest.mark.parametrize("bad, message", [
    ({"": np.zeros(1)}, "cannot be empty"),
    ({"x": np.zeros(1, dtype=np.complex64).astype(np.dtype("V8"))}, "cannot store"),
])
def test_bad_input_is_refused_with_a_reason(tmp_path, bad, message):
    with pytest.raises(ValueError, match=message):
        write_checkpoint(tmp_path / "ckpt", bad)
    assert not (tmp_path / "ckpt.index").exists()
