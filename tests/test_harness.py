"""The TF-free harness writes real files that graphaudit's readers read back as TensorFlow's would."""

from __future__ import annotations

import numpy as np
import pytest

from graphaudit.analysis import initializers
from graphaudit.analysis import weight_stats as ws
from graphaudit.analysis.updates import analyse_updates
from graphaudit.artifact import Format, RootKind, UpdateKind
from graphaudit.formats.checkpoint import Checkpoint
from graphaudit.testing.files import write_checkpoint
from graphaudit.testing.harness import (apply_gradients, assert_clean, assert_findings, batchnorm, checkpoint_only,
                                        const, conv, dense, fresh, graph, keras_layer, load_weights, op, placeholder,
                                        render, trained, var)


def small_net(prefix: str = "backbone"):
    x = placeholder("images", (None, 16, 16, 3))
    c1 = conv(f"{prefix}/block1_conv1", x, (3, 3, 3, 4))
    c2 = conv(f"{prefix}/block1_conv2", c1, (3, 3, 4, 4))
    axes = const("axes", np.array([1, 2], np.int32))
    pooled = op("pooled", "Mean", c2.out, "axes", Tidx="int32", keep_dims=False)
    head = dense("head/dense", "pooled", (4, 10), activation="Softmax")
    return [x, c1, c2, axes, pooled, head], head


def test_checkpoint_writer_round_trips_values_and_checksums(tmp_path):
    values = {"a/kernel": np.arange(24, dtype=np.float32).reshape(2, 3, 4), "b": np.array([1, -2], np.int64),
              "c": np.float32(3.5), "d": np.zeros((0, 3), np.float32), "e": np.array([True, False])}
    prefix = write_checkpoint(tmp_path / "model.ckpt", values, {"_CHECKPOINTABLE_OBJECT_GRAPH": b"\x0a\x00"})
    ckpt = Checkpoint.open(prefix)
    assert ckpt.keys() == sorted([*values, "_CHECKPOINTABLE_OBJECT_GRAPH"])
    for key, want in values.items():
        got = ckpt.value(key)
        assert got.dtype == np.asarray(want).dtype and np.array_equal(got, want), key
        ckpt.verify(key)
    ckpt.verify("_CHECKPOINTABLE_OBJECT_GRAPH")
    assert ckpt.value("_CHECKPOINTABLE_OBJECT_GRAPH").item() == b"\x0a\x00"


@pytest.mark.parametrize("fmt, expected", [("meta", Format.METAGRAPH), ("saved_model", Format.SAVED_MODEL_V1),
                                           ("graphdef", Format.GRAPHDEF)])
def test_each_format_reads_back(fmt, expected):
    items, head = small_net()
    kw = {} if fmt == "graphdef" else {"outputs": [head.out]}
    art = graph(*items, format=fmt, **kw).artifact()
    assert art.format is expected
    assert sorted(art.variables) == sorted(f"{s}/{w}" for s in ("backbone/block1_conv1", "backbone/block1_conv2",
                                                                "head/dense") for w in ("kernel", "bias"))
    assert art.variables["backbone/block1_conv1/kernel"].shape == (3, 3, 3, 4)
    if fmt != "graphdef":
        assert [(r.node, r.kind) for r in art.use_roots()] == [("head/dense/Softmax", RootKind.SIGNATURE_OUTPUT)]
        assert art.checkpoint is not None and "head/dense/kernel" in art.checkpoint
        value = art.value_of("backbone/block1_conv1/kernel")
        assert value.shape == (3, 3, 3, 4)


def test_checkpoint_alone():
    art = checkpoint_only({"dense/kernel": trained((4, 2)), "global_step": np.int64(7)}).artifact()
    assert art.format is Format.CHECKPOINT
    assert sorted(art.variables) == ["dense/kernel", "global_step"]


def test_initializers_are_recognised_as_tf1_writes_them():
    kernels = [var("k_glorot", (3, 3, 8, 16)), var("k_he", (3, 3, 8, 16), init="he_normal"),
               var("b_zeros", (16,), init="zeros"), var("g_ones", (16,), init="ones")]
    art = graph(*kernels, format="graphdef").artifact()
    specs = initializers.resolve_initializers(art, [v.name for v in kernels])
    assert [specs[v.name].label for v in kernels] == ["glorot uniform", "he normal", "zeros", "ones"]
    writes = analyse_updates(art).writes
    for v in kernels:
        assert writes[v.name][0].kind is UpdateKind.INITIALIZER


@pytest.mark.parametrize("init", ["glorot_uniform", "he_normal", "zeros", "ones"])
def test_fresh_values_are_fresh_and_trained_values_are_not(init):
    shape = (3, 3, 16, 32) if init not in ("zeros", "ones") else (32,)
    art = graph(var("w", shape, init=init), format="graphdef").artifact()
    spec = initializers.resolve_initializers(art, ["w"])["w"]
    assert ws.test_values(fresh(init, shape, seed=1), spec).fresh
    assert not ws.test_values(trained(shape, seed=1), spec).fresh


def test_saver_maps_keys_and_keras_metadata_sets_trainable():
    x = placeholder("x", (None, 8))
    d = dense("dense", x, (8, 2))
    case = graph(x, d, outputs=[d.out], format="saved_model", saver={"dense/kernel": "old/dense/kernel"},
                 checkpoint={"old/dense/kernel": trained((8, 2)), "dense/bias": np.zeros(2, np.float32)},
                 keras=[keras_layer("dense", "Dense", trainable=False, kernel_initializer="GlorotUniform")])
    art = case.artifact()
    assert art.variables["dense/kernel"].checkpoint_key == "old/dense/kernel"
    assert art.variables["dense/kernel"].restored is True
    assert art.variables["dense/kernel"].trainable is False
    assert art.variables["dense/kernel"].trainable_source == "keras_metadata.pb: layer `dense` trainable=false"


def test_update_kinds_of_the_writes_the_helpers_add():
    x = placeholder("x", (None, 8, 8, 4))
    c = conv("net/conv", x, (3, 3, 4, 4))
    bn = batchnorm("net/bn", c.out, 4, training=True)
    load = load_weights(*c.variables)
    train = apply_gradients(*c.variables, loss=bn.out, optimizer="Momentum")
    art = graph(x, c, bn, load, train, train_op=train.out).artifact()
    kinds = {(u.node, u.kind) for writes in analyse_updates(art).writes.values() for u in writes}
    assert ("Placeholder", UpdateKind.WEIGHT_LOAD) not in kinds
    assert ("AssignVariableOp", UpdateKind.WEIGHT_LOAD) in kinds
    assert ("net/bn/AssignNewValue", UpdateKind.MOVING_AVERAGE) in kinds
    assert ("Momentum/update_net/conv/kernel/ResourceApplyMomentum", UpdateKind.OPTIMIZER) in kinds
    assert "net/conv/kernel/Momentum" in art.variables


def test_assertions_say_what_was_expected_found_and_given():
    items, head = small_net()
    missing = graph(*items, outputs=[head.out], saver=True, checkpoint_omit=["backbone/"])
    found = assert_findings(missing, "GA201", "backbone/block1_conv1/kernel", severity="error",
                            message=r"4 variables \(\d+ params\) are restored from keys the checkpoint lacks")
    assert found[0].location.scope == "backbone"
    with pytest.raises(AssertionError) as info:
        assert_clean(missing, "GA201")
    text = str(info.value)
    assert text.startswith("expected no GA201\nfound:\n  GA201 error/high [scope `backbone`; variables ")
    assert "input:\n  format metagraph\n  graph `graph`: " in text
    assert "var `backbone/block1_conv1/kernel` [3, 3, 3, 4] trainable key `backbone/block1_conv1/kernel`" in text
    assert "checkpoint: 2 keys (head/dense/bias, head/dense/kernel)" in text
    with pytest.raises(AssertionError, match=r"expected GA201 at `head/dense/kernel`"):
        assert_findings(missing, "GA201", "head/dense/kernel")
    assert_clean(graph(*items, outputs=[head.out], saver=True), "GA201")


def test_render_is_the_console_report_without_the_temporary_folder():
    items, head = small_net()
    case = graph(*items, outputs=[head.out], saver=True, checkpoint_omit=["backbone/"])
    text = render(case, "GA201")
    assert text.startswith("model.ckpt.meta  (metagraph, ")
    assert "graphaudit-case-" not in text and "GA201 error [uninitialized-variable] `backbone`" in text
    assert render(case, "GA201") == text


def test_checking_never_changes_the_artifact():
    """`--output` roots live in the analyses, not in the Artifact: a second check without them sees
    the artifact as read (the engine used to append them to `Artifact.roots`)."""
    from graphaudit.testing.harness import vgg

    inp, img = placeholder("input_1", (None, 16, 16, 3)), placeholder("images", (None, 16, 16, 3))
    first = vgg("", inp)
    second = vgg("model", img, share=first)
    case = graph(inp, img, first, second, outputs=[second.out], saver=True)
    roots = list(case.artifact().roots)
    assert_clean(case, "GA101", outputs=[second.out, first.out])
    assert case.artifact().roots == roots
    assert_findings(case, "GA101", "block1_conv1/kernel")
