"""`Checkpoint.verify` checksums a tensor chunk by chunk, releasing pages, with the one-shot result."""

from __future__ import annotations

import numpy as np
import pytest

from graphaudit.errors import ArtifactError
from graphaudit.formats import checkpoint as checkpoint_mod
from graphaudit.formats.checkpoint import Checkpoint
from graphaudit.testing.files import write_checkpoint


@pytest.fixture()
def prefix(tmp_path):
    rng = np.random.default_rng(3)
    values = {"conv/kernel": rng.standard_normal((33, 17, 9), dtype=np.float32),
              "dense/bias": np.zeros(5, np.float32)}
    write_checkpoint(tmp_path / "model.ckpt", values)
    return tmp_path / "model.ckpt"


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 23])
def test_every_chunk_size_verifies_a_sound_checkpoint(prefix, monkeypatch, chunk):
    monkeypatch.setattr(checkpoint_mod, "VERIFY_CHUNK", chunk)
    ckpt = Checkpoint.open(str(prefix))
    for key in ("conv/kernel", "dense/bias"):
        ckpt.verify(key)


@pytest.mark.parametrize("chunk", [4096, 1 << 23])
def test_a_flipped_byte_past_the_first_chunk_fails_its_checksum(prefix, monkeypatch, chunk):
    monkeypatch.setattr(checkpoint_mod, "VERIFY_CHUNK", chunk)
    ckpt = Checkpoint.open(str(prefix))
    entry = ckpt.parts("conv/kernel")[0]
    data = prefix.parent / "model.ckpt.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[entry.offset + 5000] ^= 0x10  # in the second 4 KiB chunk of the 20,196-byte kernel
    data.write_bytes(bytes(raw))
    with pytest.raises(ArtifactError, match=r"tensor 'conv/kernel' fails its checksum: bytes "
                                            rf"{entry.offset}\.\.{entry.offset + entry.size} of "):
        Checkpoint.open(str(prefix)).verify("conv/kernel")
    Checkpoint.open(str(prefix)).verify("dense/bias")  # the other tensors still verify


def _each_by_name(ckpt) -> str | None:
    """What `verify` called on every key by name says first: the reference for `verify_all`."""
    for key in ckpt.keys():
        try:
            ckpt.verify(key)
        except ArtifactError as exc:
            return str(exc)
    return None


def _verify_all(ckpt) -> str | None:
    try:
        ckpt.verify_all()
    except ArtifactError as exc:
        return str(exc)
    return None


@pytest.fixture()
def many(tmp_path):
    """Tensors stored in the reverse of their name order, as TF2's object-graph order often does."""
    from graphaudit.formats import crc32c, protos
    from graphaudit.formats.table import write_table

    rng = np.random.default_rng(5)
    values = {f"layer_{i:02d}/{kind}": rng.standard_normal(size, dtype=np.float32)
              for i in range(12) for kind, size in (("kernel", 300 + 37 * i), ("bias", 3))}
    header = protos.BundleHeaderProto(num_shards=1)
    rows, data = [(b"", header.SerializeToString())], bytearray()
    for name in sorted(values, reverse=True):
        raw = values[name].tobytes()
        entry = protos.BundleEntryProto(dtype=1, offset=len(data), size=len(raw),
                                        crc32c=crc32c.mask(crc32c.value(raw)))
        entry.shape.dim.add().size = len(values[name])
        rows.append((name.encode(), entry.SerializeToString()))
        data += raw
    (tmp_path / "m.ckpt.index").write_bytes(write_table(sorted(rows)))
    (tmp_path / "m.ckpt.data-00000-of-00001").write_bytes(bytes(data))
    return tmp_path / "m.ckpt"


@pytest.mark.parametrize("chunk", [1, 4096, 1 << 23])
def test_verify_all_passes_a_sound_checkpoint_releasing_pages_behind(many, monkeypatch, chunk):
    monkeypatch.setattr(checkpoint_mod, "VERIFY_CHUNK", chunk)
    released = []
    original = checkpoint_mod._release_before
    monkeypatch.setattr(checkpoint_mod, "_release_before",
                        lambda *args: released.append(args[1:]) or original(*args))
    Checkpoint.open(str(many)).verify_all()
    if chunk == 1:
        # Every page before each tensor's offset goes, in rising steps, page by page.
        assert released and all(offset >= start for offset, start in released)


@pytest.mark.parametrize("flipped", [["layer_07/kernel", "layer_02/bias"], ["layer_05/bias"],
                                     ["layer_11/kernel", "layer_00/kernel"]])
def test_verify_all_fails_as_verify_does_on_the_first_tensor_by_name(many, flipped):
    ckpt = Checkpoint.open(str(many))
    for name in flipped:
        part = ckpt.parts(name)[0]
        path = ckpt.shard_path(part.shard_id)
        raw = bytearray(open(path, "rb").read())
        raw[part.offset + part.size - 1] ^= 0x08
        open(path, "wb").write(bytes(raw))
    expected = _each_by_name(ckpt)
    assert expected is not None and f"tensor '{min(flipped)}' " in expected
    assert _verify_all(ckpt) == expected


def test_verify_all_on_a_shard_gone_since_opening_says_what_verify_says(many):
    ckpt = Checkpoint.open(str(many))
    shard = ckpt.shard_path(0)
    with open(shard, "r+b") as f:
        f.truncate(16)
    expected = _each_by_name(ckpt)
    assert expected is not None and "cannot map tensor" in expected
    assert _verify_all(ckpt) == expected
    open(shard, "wb").close()  # empty: no map at all
    assert _verify_all(ckpt) == _each_by_name(ckpt)
