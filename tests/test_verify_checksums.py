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
