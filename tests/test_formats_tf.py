"""V1 checkpoints, session bundles and Keras 3 files written by TensorFlow, read as TensorFlow and h5py read them."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from graphaudit.formats.readers import read
from graphaudit.formats.sniff import discover

pytestmark = pytest.mark.tf
BUILDER = Path(__file__).parent / "fixtures" / "formats_tf.py"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, dict]:
    """Built once (about 20 s), or kept in $GRAPHAUDIT_FIXTURES_DIR keyed by the builder's code."""
    digest = hashlib.sha256(BUILDER.read_bytes()).hexdigest()[:12]
    shared = os.environ.get("GRAPHAUDIT_FIXTURES_DIR")
    out = Path(shared) / f"formats_tf_{digest}" if shared else tmp_path_factory.mktemp("formats_tf")
    if not (out / "manifest.json").is_file():
        tmp = out.with_name(out.name + f".tmp{os.getpid()}")
        subprocess.run([sys.executable, str(BUILDER), str(tmp)], check=True, capture_output=True,
                       env={**os.environ, "TF_USE_LEGACY_KERAS": "0"})
        try:
            os.rename(tmp, out)  # atomic: parallel sessions never see half a build
        except OSError:
            pass  # another session built it first
    return out, json.loads((out / "manifest.json").read_text())


def _load(path: Path):
    (cand,) = discover([str(path)])
    assert cand.error is None, cand.error
    return read(cand, max_file_size=2**31)


@pytest.mark.parametrize("case, given", [("v1/model.ckpt-7", "v1/model.ckpt-7"),
                                         ("bundle/export", "bundle/export-00000-of-00001")])
def test_v1_checkpoint_matches_list_variables(built, case, given):
    out, manifest = built
    facts = manifest["v1"][case]
    ckpt = _load(out / given).checkpoint
    assert type(ckpt).__name__ == "CheckpointV1"
    assert [[k, list(ckpt.entry(k).shape)] for k in ckpt.keys()] == facts["list_variables"]
    assert {k: ckpt.entry(k).dtype for k in ckpt.keys()} == facts["dtypes"]
    for name, value in facts["values"].items():
        assert np.array_equal(ckpt.value(name), np.asarray(value)), name


@pytest.mark.parametrize("meta", ["v1/model.ckpt-7.meta", "bundle/export.meta"])
def test_meta_with_v1_checkpoint_is_one_artifact_with_every_value_restored(built, meta):
    out, _ = built
    art = _load(out / meta)
    assert art.format.value == "metagraph" and len(art.checkpoint.keys()) == 4
    found = discover([str((out / meta).parent)])
    assert [c.path for c in found] == [str(out / meta)]
    from graphaudit.analysis.coverage import coverage

    assert {c.source.value for c in coverage(art).values()} == {"restored"}


@pytest.mark.parametrize("model", ["lstm", "subclassed", "nested"])
def test_keras3_weight_count_equals_h5py(built, model):
    out, manifest = built
    facts = manifest["keras3"][model]
    art = _load(out / "keras3" / f"{model}.keras")
    assert len(art.variables) == facts["variables"]
    assert len(art.variables) + len(art.keras.optimizer_weights) == facts["datasets"]
    assert len(art.keras.optimizer_weights) == facts["optimizer_datasets"]
    if model == "subclassed":  # no layers in config.json: named by each layer's stored name
        assert {n.split("/")[0] for n in art.variables} == {p.split("/")[-2] for p in facts["weights"]}
    else:
        keras_paths = {p.split("/", 1)[1] if p.startswith("sequential/") else p for p in facts["weights"]}
        assert set(art.variables) == keras_paths
    weights_only = _load(out / "keras3" / f"{model}.weights.h5")
    assert weights_only.format.value == "keras_v3" and len(weights_only.variables) == facts["variables"]
    for name in art.variables:
        assert art.value_of(name).shape == art.variables[name].shape


def test_keras3_weights_file_as_reference(built):
    from graphaudit.analysis.provenance import open_reference

    out, _ = built
    ref = open_reference(str(out / "keras3" / "nested.weights.h5"))
    art = _load(out / "keras3" / "nested.keras")
    matched = {name for name, var in art.variables.items() if ref.lookup(name, var.shape) is not None}
    # Conv and Dense weights are named by rank (a matrix, then a vector); BatchNorm's four equal
    # vectors are not guessed, so they match nothing rather than the wrong statistic.
    assert matched == {"conv/kernel", "conv/bias", "logits/kernel", "logits/bias"}
    for name in matched:
        weight = ref.lookup(name, art.variables[name].shape)
        assert ref.compare(weight, art.value_of(name)), name
