"""`graphaudit.audit` on paths, GraphDef/MetaGraphDef messages, tf.Graph, Session, Keras models and tf.Module."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import graphaudit
from graphaudit.errors import UsageError
from graphaudit.findings import Report
from graphaudit.formats.live import live_kind, to_artifact

MISSING = "tf1_meta_ckpt_missing_backbone"
CLEAN = "tf1_meta_ckpt_clean"


@pytest.fixture(scope="module")
def built(artifacts):
    artifacts.folders(MISSING, CLEAN, "graphdef_pb")
    return artifacts


# -- paths and Report -------------------------------------------------------------------------

def test_path_report_is_the_cli_report(built, tmp_path, capsys):
    from graphaudit.cli import main

    path = built.path(MISSING)
    report = graphaudit.audit(path, isolated=True)
    assert not report and len(report.findings) == 1 and report.errors == []
    assert report.exit_code() == 1
    (finding,) = report.findings
    assert finding.code == "GA201"
    assert finding.location.variables == tuple(built.manifest(MISSING)["missing_variables"])
    assert main(["check", "--isolated", "--format", "json", str(path)]) == 1
    assert capsys.readouterr().out == graphaudit.to_json(report) + "\n"
    assert main(["check", "--isolated", "--format", "sarif", str(path)]) == 1
    assert capsys.readouterr().out == graphaudit.to_sarif(report) + "\n"
    sarif = json.loads(graphaudit.to_sarif(report))
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["GA201"]


def test_report_truth_follows_fail_on_and_options(built):
    path = built.path(MISSING)
    assert graphaudit.audit(path, isolated=True, fail_on="error").failing()
    assert graphaudit.audit(path, isolated=True, ignore=["GA201"])
    assert graphaudit.audit(built.path(CLEAN), isolated=True)
    assert graphaudit.audit([built.path(CLEAN), built.path(MISSING)], isolated=True).exit_code() == 1


def test_report_renders_through_rich():
    from rich.console import Console

    from graphaudit.findings import ArtifactResult
    from graphaudit.reporters import renderable

    report = Report(artifacts=(ArtifactResult(path="models/x.meta", format=None, error="truncated `graph_def`"),))
    console = Console(record=True, width=100, color_system=None)
    console.print(renderable(report))
    text = console.export_text()
    assert "models/x.meta: error: truncated `graph_def`" in text
    assert "1 artifact checked, no findings, 1 unreadable" in text
    assert repr(report) == "<Report 1 artifact, no findings, unreadable: models/x.meta>"


def test_options_are_checked_like_config_keys(built):
    path = built.path(CLEAN)
    with pytest.raises(TypeError, match="unknown option 'selct'; known: select, ignore"):
        graphaudit.audit(path, selct=["GA2"])
    with pytest.raises(UsageError, match="select: unknown rule code `GA999`"):
        graphaudit.audit(path, select=["GA999"])
    with pytest.raises(UsageError, match="`jobs` must be a number of processes"):
        graphaudit.audit(path, jobs=-1)
    with pytest.raises(TypeError, match="cannot audit a builtins.dict; expected a path"):
        graphaudit.audit({"not": "a model"})


def test_folder_audit_in_processes_is_the_same_report(built):
    folders = [built.folder(MISSING), built.folder(CLEAN), built.folder("graphdef_pb")]
    one = graphaudit.audit(folders, isolated=True, jobs=1)
    two = graphaudit.audit(folders, isolated=True, jobs=2)
    assert graphaudit.to_json(two) == graphaudit.to_json(one)
    assert [a.path for a in two.artifacts] == sorted(a.path for a in one.artifacts)


# -- protobuf messages ------------------------------------------------------------------------

def test_graphdef_and_metagraphdef_messages_of_tf_and_tensorboard(built):
    import tensorflow as tf
    from tensorboard.compat.proto import graph_pb2, meta_graph_pb2

    pb = built.path("graphdef_pb").read_bytes()
    meta = built.path(MISSING).read_bytes()
    from_file = graphaudit.audit(built.path("graphdef_pb"), isolated=True).artifacts[0].stats
    for message in (tf.compat.v1.GraphDef.FromString(pb), graph_pb2.GraphDef.FromString(pb)):
        assert live_kind(message) == "graphdef"
        (result,) = graphaudit.audit(message, isolated=True).artifacts
        assert (result.path, result.format, result.stats) == ("<GraphDef>", "graphdef", from_file)
        assert result.stats.nodes == built.manifest("graphdef_pb")["node_count"]
    for message in (tf.compat.v1.MetaGraphDef.FromString(meta), meta_graph_pb2.MetaGraphDef.FromString(meta)):
        report = graphaudit.audit(message, isolated=True)
        (result,) = report.artifacts
        assert result.stats.nodes == built.manifest(MISSING)["node_count"]
        assert result.stats.variables == len(built.manifest(MISSING)["variables"])
        # No checkpoint comes with a message: values are unknown, so GA201 cannot judge.
        assert report.findings == [] and "carries no variable values" in result.notes[0]


def test_paths_and_tensorboard_messages_never_import_tensorflow(built):
    script = (
        "import sys, graphaudit\n"
        "from tensorboard.compat.proto import graph_pb2\n"
        f"graphaudit.audit({str(built.path(MISSING))!r}, isolated=True)\n"
        f"graphaudit.audit(graph_pb2.GraphDef.FromString(open({str(built.path('graphdef_pb'))!r}, 'rb').read()))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# -- tf.Graph and Session -----------------------------------------------------------------------

def _program():
    """A TF1-style program: a tf_keras backbone, a head, and a legacy ref variable; nothing initialized."""
    import tensorflow as tf
    import tf_keras

    graph = tf.Graph()
    with graph.as_default():
        images = tf.compat.v1.placeholder(tf.float32, (None, 8, 8, 3), name="images")
        inputs = tf_keras.layers.Input(tensor=images, name="backbone_input")
        features = tf_keras.layers.Conv2D(4, 3, name="block1_conv1")(inputs)
        backbone = tf_keras.Model(inputs, features, name="backbone")
        with tf.compat.v1.variable_scope("head"):
            pooled = tf_keras.layers.GlobalAveragePooling2D(name="pool")(backbone.output)
            logits = tf_keras.layers.Dense(2, name="dense")(pooled)
        scale = tf.compat.v1.get_variable("legacy/scale", [2], use_resource=False,
                                          initializer=tf.compat.v1.ones_initializer())
        tf.multiply(logits, scale, name="scaled")
        head = [v for v in tf.compat.v1.global_variables() if v.name.startswith("head/")]
        init_head = tf.compat.v1.variables_initializer(head)
        init_all = tf.compat.v1.global_variables_initializer()
    return graph, backbone, scale, init_head, init_all


def test_session_reports_the_truly_uninitialized_variables_without_changing_the_graph():
    import tensorflow as tf

    graph, backbone, scale, init_head, init_all = _program()
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init_head)
        ops_before = len(graph.get_operations())
        report = graphaudit.audit(sess, isolated=True)
        assert len(graph.get_operations()) == ops_before  # probes use the graph's own ops
        (finding,) = report.findings
        assert finding.code == "GA201" and finding.location.artifact == "<Session>"
        # The backbone's resource variables and the ref variable: 3*3*3*4 + 4 + 2 = 114 params.
        assert finding.location.variables == ("block1_conv1/bias", "block1_conv1/kernel", "legacy/scale")
        assert "(114 params)" in finding.message

        art = to_artifact(sess)
        assert art.live_initialized == {"head/dense/kernel", "head/dense/bias"}
        kernel = [v for v in tf.compat.v1.global_variables() if v.name == "head/dense/kernel:0"]
        np.testing.assert_array_equal(art.value_of("head/dense/kernel"), sess.run(kernel[0]))
        assert art.value_of("block1_conv1/kernel") is None  # uninitialized: no value to read

        sess.run(init_all)
        sess.run(scale.assign([2.0, 3.0]))
        assert graphaudit.audit(sess, isolated=True).findings == []
        art = to_artifact(sess)
        assert sorted(art.live_values) == ["block1_conv1/bias", "block1_conv1/kernel", "head/dense/bias",
                                           "head/dense/kernel", "legacy/scale"]
        # The current value, not the initializer's: GA202 reads these.
        np.testing.assert_array_equal(art.value_of("legacy/scale"), [2.0, 3.0])


def test_ga202_judges_the_session_s_current_values_not_a_checkpoint():
    """The seed's bug #2 in a live session: weights loaded, then `global_variables_initializer()` again."""
    import tensorflow as tf
    import tf_keras

    graph = tf.Graph()
    with graph.as_default():
        images = tf.compat.v1.placeholder(tf.float32, (None, 32, 32, 3), name="images")
        x = tf_keras.layers.Conv2D(8, 3, name="block1_conv1")(tf_keras.layers.Input(tensor=images))
        tf.identity(tf_keras.layers.Conv2D(8, 3, name="block1_conv2")(x), name="output")
        weights = tf.compat.v1.global_variables()
        init = tf.compat.v1.global_variables_initializer()
    rng = np.random.default_rng(0)
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        for v in weights:  # "load the pretrained weights": values no initializer would draw
            v.load(rng.normal(0.05, 0.2, v.shape.as_list()).astype("float32"), sess)
        options = dict(isolated=True, select=["GA202"], pretrained=["block1_*"])
        assert graphaudit.audit(sess, **options).findings == []
        sess.run(init)  # the bug: the initializer runs after the load
        (finding,) = graphaudit.audit(sess, **options).findings
    assert finding.code == "GA202" and finding.location.artifact == "<Session>"
    assert "(808 params)" in finding.message and "2/2 layers re-initialized" in finding.message


def test_graph_alone_has_no_values_and_keras_model_roots_at_its_outputs():
    import tensorflow as tf

    graph, backbone, scale, init_head, init_all = _program()
    report = graphaudit.audit(graph, isolated=True)
    (result,) = report.artifacts
    assert report.findings == [] and result.path == "<tf.Graph>"
    assert result.stats.variables == 5 and result.stats.nodes == len(graph.get_operations())
    assert "no session given" in result.notes[-1]

    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init_head)
        # A graph-mode Keras model: the session is found as the default one; roots are its outputs,
        # so the head and the legacy variable (not read by `backbone.output`) are out of scope.
        with sess.as_default():
            (finding,) = graphaudit.audit(backbone, isolated=True).findings
        assert finding.location.artifact == "<keras.Model `backbone`>"
        assert finding.location.variables == ("block1_conv1/bias", "block1_conv1/kernel")
        art = to_artifact(backbone, session=sess)
        assert art.variables["block1_conv1/kernel"].keras_layer == "backbone/block1_conv1"
        assert [r.node for r in art.use_roots()] == [backbone.output.op.name]


# -- eager Keras models and tf.Module -----------------------------------------------------------

def test_tf_keras_eager_model_uses_keras_trainable_flags_and_current_values():
    import tf_keras

    layers = tf_keras.layers
    inputs = layers.Input((8, 8, 3), name="api_in")
    backbone = tf_keras.Model(inputs, layers.Conv2D(2, 3, name="block1_conv1")(inputs), name="vgg19")
    backbone.trainable = False
    outer_in = layers.Input((8, 8, 3), name="api_outer_in")
    pooled = layers.GlobalAveragePooling2D(name="api_pool")(backbone(outer_in))
    model = tf_keras.Model(outer_in, layers.Dense(3, name="dense")(pooled), name="classifier")
    art = to_artifact(model)
    got = {n: (v.shape, v.trainable, v.keras_layer, v.initializer_kind) for n, v in art.variables.items()}
    assert got == {
        "block1_conv1/kernel": ((3, 3, 3, 2), False, "classifier/vgg19/block1_conv1", "glorot_uniform"),
        "block1_conv1/bias": ((2,), False, "classifier/vgg19/block1_conv1", "zeros"),
        "dense/kernel": ((2, 3), True, "classifier/dense", "glorot_uniform"),
        "dense/bias": ((3,), True, "classifier/dense", "zeros"),
    }
    model.get_layer("dense").bias.assign([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(art.value_of("dense/bias"), [1.0, 2.0, 3.0])
    rows = {r["path"]: (r["class_name"], r["trainable"]) for r in art.keras_layers}
    assert rows["classifier/vgg19"] == ("Functional", False)
    assert graphaudit.audit(model, isolated=True).artifacts[0].path == "<keras.Model `classifier`>"


def test_keras3_model_names_weights_by_path():
    import keras

    inputs = keras.Input((8, 8, 3), name="k3_in")
    x = keras.layers.Conv2D(2, 3, name="block1_conv1")(inputs)
    x = keras.layers.BatchNormalization(name="block1_bn")(x)
    model = keras.Model(inputs, x, name="k3")
    model.get_layer("block1_bn").trainable = False
    art = to_artifact(model)
    assert sorted(art.variables) == sorted(w.path for w in model.weights)
    bn = art.variables["block1_bn/moving_variance"]
    assert (bn.shape, bn.trainable, bn.initializer_kind, bn.keras_layer) == ((2,), False, "ones", "k3/block1_bn")
    assert art.variables["block1_conv1/kernel"].trainable is True
    np.testing.assert_array_equal(art.value_of("block1_conv1/kernel"),
                                  model.get_layer("block1_conv1").kernel.numpy())
    assert graphaudit.audit(model, isolated=True).findings == []


def test_tf_module_variables_are_named_by_attribute_path():
    import tensorflow as tf

    class Head(tf.Module):
        def __init__(self):
            super().__init__(name="head")
            self.w = tf.Variable(tf.fill([3, 2], 0.5), name="w")
            self.norm = tf.Module(name="norm")
            self.norm.scale = tf.Variable(tf.ones([2]), trainable=False, name="scale")

    module = Head()
    art = to_artifact(module)
    assert {n: (v.shape, v.trainable) for n, v in art.variables.items()} == {
        "norm/scale": ((2,), False), "w": ((3, 2), True)}
    np.testing.assert_array_equal(art.value_of("w"), np.full((3, 2), 0.5))
    assert art.live_initialized == {"w", "norm/scale"}
    assert graphaudit.audit(module, isolated=True).artifacts[0].path == "<tf.Module `head`>"
