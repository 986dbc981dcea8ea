"""The checkpoint-prefix resolver on hand-made files: every path TensorFlow accepts maps to one prefix."""

from __future__ import annotations

import pytest

from graphaudit.errors import ArtifactError
from graphaudit.formats.checkpoint_paths import (file_prefix, find_checkpoint_prefix, meta_checkpoint_prefix,
                                                 meta_prefix)


@pytest.mark.parametrize("name, prefix", [
    ("model.ckpt.index", "model.ckpt"),
    ("model.ckpt-1200.data-00001-of-00002", "model.ckpt-1200"),
    ("model.ckpt.meta", "model.ckpt"),
    ("model.ckpt", None),
    ("model.ckpt.data-0-of-1", None),  # not the five-digit shard pattern TF writes
    ("model.ckpt-00000-of-00002", None),  # a V1 shard names its table, not a V2 prefix
])
def test_file_names_map_to_their_prefix(name, prefix):
    assert file_prefix(name) == prefix


def bundle(folder, prefix="model.ckpt-7"):
    for suffix in (".index", ".data-00000-of-00001", ".meta"):
        (folder / (prefix + suffix)).write_bytes(b"")
    return folder / prefix


def test_every_path_tensorflow_accepts_gives_the_same_prefix(tmp_path):
    prefix = bundle(tmp_path)
    for given in (prefix, f"{prefix}.index", f"{prefix}.data-00000-of-00001"):
        assert find_checkpoint_prefix(given) == str(prefix)
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "/elsewhere/run\\0551/model.ckpt-7"\n')
    assert find_checkpoint_prefix(tmp_path) == str(prefix)  # another machine's path, escaped: its basename here


def test_a_folder_with_two_checkpoints_and_no_state_file_is_ambiguous(tmp_path):
    bundle(tmp_path, "a.ckpt"), bundle(tmp_path, "b.ckpt")
    with pytest.raises(ArtifactError, match=r"expected one checkpoint .* found 2: a.ckpt.index, b.ckpt.index"):
        find_checkpoint_prefix(tmp_path)


def test_a_meta_finds_a_v2_bundle_a_v1_table_or_v1_shards_beside_it(tmp_path):
    meta = tmp_path / "model.ckpt.meta"
    meta.write_bytes(b"")
    assert meta_prefix(meta) == tmp_path / "model.ckpt"
    assert meta_checkpoint_prefix(meta) is None
    shard = tmp_path / "model.ckpt-00000-of-00002"
    shard.write_bytes(b"")
    assert meta_checkpoint_prefix(meta) == tmp_path / "model.ckpt"
    shard.unlink()
    (tmp_path / "model.ckpt").write_bytes(b"")
    assert meta_checkpoint_prefix(meta) == tmp_path / "model.ckpt"
    (tmp_path / "model.ckpt").unlink()
    (tmp_path / "model.ckpt.index").write_bytes(b"")
    assert meta_checkpoint_prefix(meta) == tmp_path / "model.ckpt"
