"""What graphaudit reads statically equals TensorFlow's own view of the same files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from graphaudit.artifact import Format
from graphaudit.config import DEFAULT_MAX_FILE_SIZE
from graphaudit.formats.readers import read
from graphaudit.formats.sniff import discover

pytestmark = pytest.mark.tf

FORMATS = {
    "graphdef_pb": Format.GRAPHDEF,
    "graphdef_pbtxt": Format.GRAPHDEF_TEXT,
    "graphdef_pb_noext": Format.GRAPHDEF,
    "tf1_meta_ckpt_clean": Format.METAGRAPH,
    "tf1_saved_model_clean": Format.SAVED_MODEL_V1,
    "tf1_saved_model_text": Format.SAVED_MODEL_V1,
    "tf1_saved_model_multi_tags": Format.SAVED_MODEL_V1,
    "tf2_saved_model_module": Format.SAVED_MODEL_V2,
    "tf2_saved_model_keras": Format.SAVED_MODEL_V2,
    "checkpoint_tf1": Format.CHECKPOINT,
    "checkpoint_tf2": Format.CHECKPOINT,
    "checkpoint_sharded": Format.CHECKPOINT,
    "tf1_meta_ckpt_dtypes": Format.METAGRAPH,
}


def load(path: Path):
    cands = discover([str(path)], max_file_size=DEFAULT_MAX_FILE_SIZE)
    assert len(cands) == 1, cands
    return read(cands[0], max_file_size=DEFAULT_MAX_FILE_SIZE)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_format_detected_by_content(artifacts, name):
    art = load(artifacts.path(name))
    assert art.format is FORMATS[name], (name, art.format)


@pytest.mark.parametrize("name", ["graphdef_pb", "graphdef_pbtxt", "tf1_meta_ckpt_clean", "tf1_saved_model_clean",
                                  "tf1_saved_model_multi_tags", "tf2_saved_model_keras"])
def test_node_counts_match_tensorflow(artifacts, name):
    manifest = artifacts.manifest(name)
    art = load(artifacts.path(name))
    expected = manifest["node_counts"] if "node_counts" in manifest else {"graph": manifest["node_count"]}
    got = {g: len(graph) for g, graph in art.graphs.items()}
    if len(expected) == 1 and len(got) == 1:
        assert list(got.values()) == list(expected.values())
    else:
        assert sorted(got.values()) == sorted(expected.values())


CHECKPOINTED = ["tf1_meta_ckpt_clean", "tf1_saved_model_clean", "tf2_saved_model_keras", "checkpoint_tf1",
                "checkpoint_tf2", "checkpoint_sharded", "tf1_meta_ckpt_dtypes", "tf2_saved_model_module"]


@pytest.mark.parametrize("name", CHECKPOINTED)
def test_checkpoint_values_equal_tensorflow(artifacts, name):
    import tensorflow as tf  # the test side compares against TensorFlow itself
    art = load(artifacts.path(name))
    assert art.checkpoint is not None
    reader = tf.train.load_checkpoint(str(art.checkpoint.prefix))
    shapes = reader.get_variable_to_shape_map()
    ours = set(art.checkpoint.keys())
    assert ours == set(shapes), (sorted(ours ^ set(shapes)))
    for key in sorted(shapes):
        raw = reader.get_tensor(key)
        got = art.checkpoint.value(key)
        if isinstance(raw, bytes):  # a scalar string (e.g. the object graph); numpy would strip NULs
            assert got.shape == () and bytes(got.item()) == raw, key
            continue
        want = np.asarray(raw)
        assert tuple(got.shape) == tuple(shapes[key]), key
        if want.dtype == object:
            assert [bytes(x) for x in np.ravel(got)] == [bytes(x) for x in np.ravel(want)], key
        else:
            np.testing.assert_array_equal(np.asarray(got).view(want.dtype) if got.dtype != want.dtype
                                          and got.dtype.itemsize == want.dtype.itemsize else got, want, err_msg=key)


@pytest.mark.parametrize("name", ["tf1_meta_ckpt_clean", "tf1_saved_model_clean", "tf2_saved_model_keras",
                                  "tf2_saved_model_module"])
def test_variables_match_tensorflow(artifacts, name):
    manifest = artifacts.manifest(name)
    art = load(artifacts.path(name))
    expected = {v["name"]: tuple(v["shape"]) for v in manifest["variables"]}
    got = {n: v.shape for n, v in art.variables.items()}
    assert got == expected


STATIC = ["graphdef_pb", "tf1_meta_ckpt_missing_backbone", "tf1_saved_model_clean", "tf2_saved_model_keras",
          "checkpoint_sharded"]


def test_static_audit_never_imports_tensorflow(artifacts, tmp_path):
    paths = [str(artifacts.path(n)) for n in STATIC]
    script = (
        "import sys, json\n"
        "from graphaudit.cli import main\n"
        "code = main(['check', '--format', 'json', '-o', sys.argv[1], *sys.argv[2:]])\n"
        "code2 = main(['inspect', '--format', 'json', sys.argv[2]])\n"
        "bad = sorted(m for m in sys.modules if m == 'tensorflow' or m.startswith(('tensorflow.', 'keras', 'tf_keras')))\n"
        "print(json.dumps({'code': code, 'bad': bad}))\n"
    )
    out = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-c", script, str(out), *paths], capture_output=True, text=True,
                          timeout=300)
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    assert last["bad"] == [], last
    report = json.loads(out.read_text())
    assert report["summary"]["artifacts"] == len(paths)
    assert report["summary"]["errors"] == 0, [a["error"] for a in report["artifacts"]]
