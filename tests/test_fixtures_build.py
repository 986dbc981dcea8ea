"""The fixture builders write what their manifests say, as TensorFlow itself reads it back."""

from __future__ import annotations

import filecmp
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.tf

BUILD_SCRIPT = Path(__file__).parent / "fixtures" / "build.py"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# Names are a contract with the rest of the test suite: builders may be added, never renamed.
CONTRACT = [
    "graphdef_pb",
    "graphdef_pbtxt",
    "graphdef_pb_noext",
    "tf1_meta_ckpt_clean",
    "tf1_meta_ckpt_missing_backbone",
    "tf1_saved_model_clean",
    "tf1_saved_model_partial_restore",
    "tf1_saved_model_text",
    "tf1_saved_model_multi_tags",
    "tf1_saved_model_main_op",
    "tf2_saved_model_module",
    "tf2_saved_model_keras",
    "checkpoint_tf1",
    "checkpoint_tf2",
    "checkpoint_tf2_new_optimizer",
    "checkpoint_sharded",
    "tf1_meta_ckpt_dtypes",
]
COMMITTED_EXAMPLES = {"example_missing_backbone": "tf1_missing_backbone", "example_clean": "tf1_clean"}
EXAMPLES_BUDGET = 300 * 1024
IMAGES = np.zeros((1, 32, 32, 3), np.float32)


@pytest.fixture(scope="module")
def built(artifacts):
    """Everything this module checks, built in one parallel batch."""
    return artifacts.folders(*CONTRACT, *COMMITTED_EXAMPLES)


@pytest.fixture(scope="module")
def tf():
    import tensorflow  # CI installs it: a missing TensorFlow must fail, not skip

    return tensorflow


def by_format(*formats: str) -> list[str]:
    """Contract names whose manifest format is one of ``formats`` (known without building)."""
    prefixes = {
        "graphdef": ("graphdef_pb", "graphdef_pb_noext"),
        "graphdef_text": ("graphdef_pbtxt",),
        "metagraph": ("tf1_meta_ckpt_",),
        "saved_model_v1": ("tf1_saved_model_",),
        "saved_model_v2": ("tf2_saved_model_",),
        "checkpoint": ("checkpoint_",),
    }
    return [
        n for n in CONTRACT
        if any(n == p or (p.endswith("_") and n.startswith(p)) for f in formats for p in prefixes[f])
    ]


def checkpoint_prefix(folder: Path, manifest: dict) -> Path:
    if manifest["format"] in ("saved_model_v1", "saved_model_v2"):
        return folder / manifest["root"] / "variables" / "variables"
    return folder / manifest["checkpoint_prefix"]


def uninitialized(tf, sess) -> list[str]:
    return sorted(n.decode() for n in sess.run(tf.compat.v1.report_uninitialized_variables()))


# ----- every builder ------------------------------------------------------------------------


def test_contract_names_are_registered(artifacts):
    missing = sorted(set(CONTRACT) - set(artifacts.names()))
    assert missing == []


@pytest.mark.parametrize("name", CONTRACT)
def test_manifest_describes_the_folder(artifacts, built, name):
    folder, manifest = built[name], artifacts.manifest(name)
    assert manifest["name"] == name
    assert (folder / manifest["root"]).exists()
    assert artifacts.path(name) == folder / manifest["root"]
    on_disk = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name not in ("manifest.json", ".done")
    )
    assert manifest["files"] == on_disk
    assert artifacts.builders.is_built(name, artifacts.root)


@pytest.mark.parametrize("name", by_format("graphdef", "graphdef_text"))
def test_graph_def_reads_back(tf, artifacts, built, name):
    from google.protobuf import text_format

    path, manifest = artifacts.path(name), artifacts.manifest(name)
    if manifest["format"] == "graphdef_text":
        graph_def = text_format.Parse(path.read_text(), tf.compat.v1.GraphDef())
    else:
        graph_def = tf.compat.v1.GraphDef.FromString(path.read_bytes())
    nodes = {n.name: n.op for n in graph_def.node}
    assert len(graph_def.node) == manifest["node_count"]
    assert nodes[manifest["output_node"]] == "Identity"
    assert nodes[manifest["input_node"]] == "Placeholder"
    variable_ops = {"VarHandleOp", "VariableV2"} & set(nodes.values())
    assert bool(variable_ops) is not manifest["frozen"]


def test_misleading_name_holds_a_binary_graph_def(artifacts, built):
    path = artifacts.path("graphdef_pb_noext")
    assert path.suffix not in (".pb", ".pbtxt")
    assert path.read_bytes() == artifacts.path("graphdef_pb").read_bytes()


@pytest.mark.parametrize("name", by_format("metagraph", "saved_model_v1", "saved_model_v2", "checkpoint"))
def test_checkpoint_keys_are_what_tensorflow_lists(tf, artifacts, built, name):
    manifest = artifacts.manifest(name)
    prefix = checkpoint_prefix(built[name], manifest)
    listed = {key: shape for key, shape in tf.train.list_variables(str(prefix))}
    assert listed == {key: entry["shape"] for key, entry in manifest["checkpoint_keys"].items()}
    data = sorted(p.name for p in prefix.parent.glob(prefix.name + ".data-*"))
    assert data == manifest["checkpoint_data_files"]


# ----- TF1 MetaGraph + checkpoint -----------------------------------------------------------


@pytest.mark.parametrize("name", ["tf1_meta_ckpt_clean", "tf1_meta_ckpt_missing_backbone"])
def test_meta_graph_restores_and_runs_unless_defective(tf, artifacts, built, name):
    manifest = artifacts.manifest(name)
    with tf.Graph().as_default() as graph, tf.compat.v1.Session() as sess:
        saver = tf.compat.v1.train.import_meta_graph(str(artifacts.path(name)))
        assert len(graph.as_graph_def().node) == manifest["node_count"]
        assert sorted(graph.get_all_collection_keys()) == sorted(manifest["collections"])
        saver.restore(sess, str(built[name] / manifest["checkpoint_prefix"]))
        # TensorFlow's own verdict on the defect: what is left without a value after restoring.
        assert uninitialized(tf, sess) == manifest["missing_variables"]
        feed = {f"{manifest['input_node']}:0": IMAGES}
        if manifest["defect"] is None:
            assert sess.run(f"{manifest['output_node']}:0", feed).shape == (1, 10)
        else:
            assert manifest["defect"]["code"] == "GA201"
            assert manifest["missing_variables"] == manifest["backbone_variables"]
            with pytest.raises(tf.errors.FailedPreconditionError):
                sess.run(f"{manifest['output_node']}:0", feed)


def test_load_weights_left_one_placeholder_fed_assign_per_backbone_variable(tf, artifacts, built):
    manifest = artifacts.manifest("tf1_meta_ckpt_clean")
    meta = tf.compat.v1.MetaGraphDef.FromString(artifacts.path("tf1_meta_ckpt_clean").read_bytes())
    nodes = {n.name: n for n in meta.graph_def.node}
    loads = manifest["weight_loads"]
    assert sorted(load["variable"] for load in loads) == manifest["backbone_variables"]
    for load in loads:
        assert list(nodes[load["assign"]].input) == [load["variable"], load["value"]]
        assert nodes[load["value"]].op == "Placeholder"


def test_dtypes_round_trip(tf, artifacts, built):
    manifest = artifacts.manifest("tf1_meta_ckpt_dtypes")
    reader = tf.train.load_checkpoint(str(built["tf1_meta_ckpt_dtypes"] / "model.ckpt"))
    dtypes = {key: dtype.name for key, dtype in reader.get_variable_to_dtype_map().items()}
    assert set(dtypes.values()) >= {"float16", "float64", "int32", "int64", "bool", "string"}
    assert {v["name"]: v["dtype"] for v in manifest["variables"]} == dtypes
    assert {v["resource"] for v in manifest["variables"]} == {True, False}
    for key, want in manifest["checkpoint_values"].items():
        got = reader.get_tensor(key)
        if got.dtype == object:
            got = [b.decode() for b in np.ravel(got)]
            want = want if isinstance(want, list) else [want]
        np.testing.assert_array_equal(got, want, err_msg=key)


# ----- SavedModels --------------------------------------------------------------------------


@pytest.mark.parametrize("name", by_format("saved_model_v1"))
def test_tf1_saved_model_loads_and_runs_unless_defective(tf, artifacts, built, name):
    manifest = artifacts.manifest(name)
    tag_sets = [m["tags"] for m in manifest["meta_graphs"]]
    assert sorted(manifest["node_counts"]) == sorted(",".join(t) for t in tag_sets)
    for tags in tag_sets:
        with tf.Graph().as_default() as graph, tf.compat.v1.Session() as sess:
            loaded = tf.compat.v1.saved_model.loader.load(sess, tags, str(artifacts.path(name)))
            assert len(loaded.graph_def.node) == manifest["node_counts"][",".join(tags)]
            assert uninitialized(tf, sess) == manifest["missing_variables"]
            if "train" in tags:
                (train_op,) = graph.get_collection(tf.compat.v1.GraphKeys.TRAIN_OP)
                updated = {op.inputs[0].op.name for op in graph.get_operations()
                           if op.type.startswith("ResourceApply") and op.name.startswith(train_op.name)}
                assert sorted(updated) == manifest["train_op_updates"] == manifest["head_variables"]
                continue
            signature = loaded.signature_def["serving_default"]
            feed = {signature.inputs["images"].name: IMAGES}
            fetch = signature.outputs["logits"].name
            if manifest["defect"] is None:
                assert sess.run(fetch, feed).shape == (1, 10)
            else:
                with pytest.raises(tf.errors.FailedPreconditionError):
                    sess.run(fetch, feed)


def test_saved_model_init_op_collections(artifacts, built):
    collections = {
        name: set(artifacts.manifest(name)["meta_graphs"][0]["collections"])
        for name in ("tf1_saved_model_clean", "tf1_saved_model_main_op", "tf2_saved_model_module")
    }
    assert "saved_model_main_op" not in collections["tf1_saved_model_clean"]
    assert "saved_model_main_op" in collections["tf1_saved_model_main_op"]
    assert "saved_model_main_op" in collections["tf2_saved_model_module"]


def test_text_saved_model_has_no_binary_twin(artifacts, built):
    folder = artifacts.path("tf1_saved_model_text")
    assert (folder / "saved_model.pbtxt").is_file() and not (folder / "saved_model.pb").exists()


@pytest.mark.parametrize("name", by_format("saved_model_v2"))
def test_tf2_saved_model_loads_and_runs(tf, artifacts, built, name):
    manifest = artifacts.manifest(name)
    loaded = tf.saved_model.load(str(artifacts.path(name)))
    signature = loaded.signatures["serving_default"]
    (input_name,) = manifest["meta_graphs"][0]["signatures"]["serving_default"]["inputs"]
    shape = signature.structured_input_signature[1][input_name].shape
    (output,) = signature(**{input_name: tf.zeros((1, *shape[1:]))}).values()
    assert output.shape[0] == 1
    assert manifest["keras_metadata"] is (name == "tf2_saved_model_keras")


def test_keras_trainable_flag_does_not_reach_saved_variables(artifacts, built):
    manifest = artifacts.manifest("tf2_saved_model_keras")
    keras_frozen = sorted(v["name"] for v in manifest["keras_variables"] if not v["trainable"])
    assert keras_frozen == manifest["backbone_variables"]
    assert all(v["trainable"] for v in manifest["variables"])


# ----- TF2 checkpoints ----------------------------------------------------------------------


def test_legacy_optimizer_links_two_slots_to_every_trained_variable(artifacts, built):
    manifest = artifacts.manifest("checkpoint_tf2")
    keys = manifest["checkpoint_keys"]
    model_keys = [k for k in keys if k.startswith("model/") and ".OPTIMIZER_SLOT" not in k]
    assert sorted(manifest["checkpoint_object_graph"]["slots"]) == sorted(model_keys)
    for variable, slots in manifest["checkpoint_object_graph"]["slots"].items():
        assert sorted(slots) == ["m", "v"]
        assert all(keys[s]["shape"] == keys[variable]["shape"] for s in slots.values())


def test_new_optimizer_slots_are_only_linked_by_name(artifacts, built):
    manifest = artifacts.manifest("checkpoint_tf2_new_optimizer")
    keys = manifest["checkpoint_keys"]
    assert manifest["checkpoint_object_graph"]["slots"] == {}
    assert not any(".OPTIMIZER_SLOT" in k for k in keys)
    for variable, slots in manifest["slots_by_name"].items():
        assert all(s.startswith("optimizer/_variables/") for s in slots.values())
        assert all(keys[s]["shape"] == keys[variable]["shape"] for s in slots.values())


def test_sharded_checkpoint_spans_several_data_files(tf, artifacts, built):
    manifest = artifacts.manifest("checkpoint_sharded")
    prefix = str(built["checkpoint_sharded"] / manifest["checkpoint_prefix"])
    assert len(manifest["checkpoint_data_files"]) >= 2
    reader = tf.train.load_checkpoint(prefix)
    for key in manifest["checkpoint_keys"]:
        reader.get_tensor(key)


# ----- builder mechanics and the committed examples -----------------------------------------


def test_stale_builds_are_not_reused(artifacts, built, tmp_path):
    builders = artifacts.builders
    copy = tmp_path / "tf1_meta_ckpt_clean"
    shutil.copytree(built["tf1_meta_ckpt_clean"], copy)
    assert builders.is_built("tf1_meta_ckpt_clean", tmp_path)
    (copy / ".done").write_text("built by other builder code\n")
    assert not builders.is_built("tf1_meta_ckpt_clean", tmp_path)


def test_unknown_builder_is_named_in_the_error(artifacts):
    with pytest.raises(KeyError, match="no fixture builder named 'nope'"):
        artifacts.builders.build(["nope"], "unused")


def test_cli_rebuilds_byte_identical_artifacts(artifacts, built, tmp_path):
    names = ["checkpoint_tf1", "tf2_saved_model_module"]
    proc = subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), str(tmp_path), *names],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    for name in names:
        files = artifacts.manifest(name)["files"] + ["manifest.json"]
        match, mismatch, errors = filecmp.cmpfiles(built[name], tmp_path / name, files, shallow=False)
        assert (mismatch, errors) == ([], []), name


@pytest.mark.parametrize(("name", "folder"), sorted(COMMITTED_EXAMPLES.items()))
def test_committed_examples_are_current(artifacts, built, name, folder):
    committed = EXAMPLES / folder
    assert json.loads((committed / "manifest.json").read_text()) == artifacts.manifest(name)
    files = artifacts.manifest(name)["files"]
    match, mismatch, errors = filecmp.cmpfiles(committed, built[name], files, shallow=False)
    assert (mismatch, errors) == ([], []), f"rebuild {committed} (see examples/README.md)"


def test_committed_examples_are_small():
    size = sum(p.stat().st_size for p in EXAMPLES.rglob("*") if p.is_file())
    assert 0 < size < EXAMPLES_BUDGET
