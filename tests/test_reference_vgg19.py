"""The reference VGG19 wrappers reproduce pure tf_keras numbers in every session situation."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest
import tensorflow as tf  # CI installs it: a missing TensorFlow must fail, not skip
import tf_keras

from graphaudit.reference import VGG19, frozen_vgg19

pytestmark = pytest.mark.tf

# 64x64 keeps the run fast and still gives a (1, 2, 2, 512) block5_pool, not a single pixel.
IMAGE_SHAPE = (1, 64, 64, 3)
RTOL = 1e-5
VGG19_CONV_LAYERS = 16
ONE_MB = 1 << 20


class Measurement(NamedTuple):
    """The seed article's hash of a run: the shape and mean of `block5_pool`."""

    shape: tuple[int, ...]
    mean: float

    @classmethod
    def of(cls, features: Any) -> Measurement:
        features = np.asarray(features)
        return cls(features.shape, float(features.mean(dtype=np.float64)))


def assert_same_measurement(got: Measurement, want: Measurement) -> None:
    __tracebackhide__ = True
    assert got.shape == want.shape, f"shape {got.shape} != pure tf_keras {want.shape}"
    assert got.mean == pytest.approx(want.mean, rel=RTOL), f"mean {got} != pure tf_keras {want}"


# -- fixtures: a weights file, an image, and what pure tf_keras says about them -----------------


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A VGG19 (no top) weights file with seeded He-normal weights: ReLUs stay alive to block5."""
    model = tf_keras.applications.VGG19(
        include_top=False, weights=None, input_shape=IMAGE_SHAPE[1:]
    )
    rng = np.random.default_rng(19)
    values = []
    for weight in model.weights:
        shape = tuple(weight.shape)
        if len(shape) == 4:
            fan_in = int(np.prod(shape[:3]))
            values.append(rng.normal(0.0, np.sqrt(2.0 / fan_in), shape).astype(np.float32))
        else:
            values.append(rng.normal(0.0, 0.01, shape).astype(np.float32))
    model.set_weights(values)
    path = tmp_path_factory.mktemp("weights") / "vgg19.h5"
    model.save_weights(path)
    return path


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    """A fixed raw RGB image, 0-255, as a camera or an image loader would give it."""
    return np.random.default_rng(7).uniform(0.0, 255.0, IMAGE_SHAPE).astype(np.float32)


@pytest.fixture(scope="module")
def pure_keras(weights_file: Path, image: np.ndarray) -> Measurement:
    """The seed's baseline: tf_keras alone, eager, with its own preprocessing and `predict`."""
    model = tf_keras.applications.VGG19(
        include_top=False, weights=str(weights_file), input_shape=IMAGE_SHAPE[1:]
    )
    # preprocess_input edits numpy input in place; the image fixture is shared.
    preprocessed = tf_keras.applications.vgg19.preprocess_input(image.copy())
    measurement = Measurement.of(model.predict(preprocessed, verbose=0))
    assert measurement.mean > 1e-3, "the weights file gives all-zero activations; rescale it"
    return measurement


class Built(NamedTuple):
    graph: Any
    vgg: VGG19
    images: Any
    output: Any
    init: Any
    building_session: Any


@pytest.fixture(scope="module")
def built(weights_file: Path) -> Iterator[Built]:
    """The seed's example graph: VGG19 on the caller's placeholder, built in a default session.

    An explicit `tf.Graph()` keeps graph mode local to this block (no
    `disable_eager_execution()`, which would leak into every later test). The graph is finalized
    once everything the tests need exists, so any op added later (by `load_weights()`, say)
    fails loudly instead of growing the graph.
    """
    graph = tf.Graph()
    with graph.as_default():
        images = tf.compat.v1.placeholder(tf.float32, IMAGE_SHAPE, name="my_original_image")
        building_session = tf.compat.v1.Session(graph=graph)
        with building_session.as_default():
            vgg = VGG19(input_tensor=images, image_shape=IMAGE_SHAPE, weights=weights_file)
        output = tf.identity(vgg["block5_pool"], name="my_output")
        init = tf.compat.v1.global_variables_initializer()
    graph.finalize()
    yield Built(graph, vgg, images, output, init, building_session)
    building_session.close()


def run_measurement(session: Any, built: Built, image: np.ndarray) -> Measurement:
    return Measurement.of(session.run(built.output, {built.images: image}))


# -- TF1: the same numbers in every session situation -------------------------------------------


def test_building_session_matches_pure_keras(
    built: Built, image: np.ndarray, pure_keras: Measurement
) -> None:
    assert_same_measurement(run_measurement(built.building_session, built, image), pure_keras)


def test_new_session_needs_load_weights_then_matches(
    built: Built, image: np.ndarray, pure_keras: Measurement
) -> None:
    with tf.compat.v1.Session(graph=built.graph) as session:
        # Pitfall 1: a new session has no values until they are restored.
        with pytest.raises(tf.errors.FailedPreconditionError):
            session.run(built.output, {built.images: image})
        built.vgg.load_weights(session)
        assert_same_measurement(run_measurement(session, built, image), pure_keras)


def test_load_weights_uses_default_session(
    built: Built, image: np.ndarray, pure_keras: Measurement
) -> None:
    with tf.compat.v1.Session(graph=built.graph) as session, session.as_default():
        built.vgg.load_weights()
        assert_same_measurement(run_measurement(session, built, image), pure_keras)


def test_global_initializer_then_load_weights_matches(
    built: Built, image: np.ndarray, pure_keras: Measurement
) -> None:
    with tf.compat.v1.Session(graph=built.graph) as session:
        built.vgg.load_weights(session)
        session.run(built.init)
        # Pitfall 2: the initializer replaced the pretrained values with random ones.
        assert run_measurement(session, built, image).mean != pytest.approx(
            pure_keras.mean, rel=RTOL
        )
        built.vgg.load_weights(session)
        assert_same_measurement(run_measurement(session, built, image), pure_keras)


def test_repeated_load_weights_adds_no_nodes(built: Built) -> None:
    # The graph is finalized: an op added by load_weights() would raise RuntimeError.
    nodes = len(built.graph.as_graph_def().node)
    with tf.compat.v1.Session(graph=built.graph) as session:
        for _ in range(3):
            built.vgg.load_weights(session)
    assert len(built.graph.as_graph_def().node) == nodes


def test_graph_holds_one_vgg_and_no_baked_weights(built: Built) -> None:
    graph_def = built.graph.as_graph_def()
    ops = Counter(node.op for node in graph_def.node)
    assert ops["Conv2D"] == VGG19_CONV_LAYERS  # pitfall 3: no orphaned second copy
    big_constants = [n.name for n in graph_def.node if n.op == "Const" and n.ByteSize() > ONE_MB]
    assert big_constants == []
    # 20M parameters are 80 MB; the whole graph must be a small fraction of one.
    assert graph_def.ByteSize() < ONE_MB


def test_graph_has_clean_name_scopes(built: Built) -> None:
    scopes = {n.name.split("/")[1] for n in built.graph.as_graph_def().node if "/" in n.name}
    # The caller gave the input tensor, so there is no `inputs` scope of the wrapper's own.
    assert scopes == {"preprocessing", "model", "load_weights"}
    assert built.vgg.scope == "vgg19/"
    assert built.vgg.output.name == "vgg19/model/block5_pool/MaxPool:0"
    assert built.vgg.model_weights_tensors[0].name == "vgg19/model/block1_conv1/kernel:0"
    assert built.graph.get_operation_by_name("vgg19/load_weights/block5_conv4/assign_bias")
    assert built.graph.get_operation_by_name("vgg19/load_weights/restore")


def test_layer_outputs_by_name(built: Built) -> None:
    vgg = built.vgg
    assert vgg.layer_names[0] == "block1_conv1"
    assert vgg.layer_names[-1] == "block5_pool"
    assert len(vgg.layer_names) == 21
    assert vgg["block5_pool"] is vgg.output
    assert vgg["block1_conv1"].shape.as_list() == [1, 64, 64, 64]
    with pytest.raises(KeyError, match="no layer `fc1`"):
        vgg["fc1"]


def test_backbone_is_frozen_by_default(built: Built) -> None:
    vgg = built.vgg
    assert len(vgg.model_weights_tensors) == 32
    assert not any(v.trainable for v in vgg.model_weights_tensors)
    assert built.graph.get_collection(tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES) == []
    assert vgg.trainable_variables_excluding_backbone() == []


def test_training_leaves_a_trainable_backbone_bit_for_bit(
    weights_file: Path, image: np.ndarray, pure_keras: Measurement
) -> None:
    """Style transfer, the seed's use case: gradients flow through VGG into the canvas only."""
    graph = tf.Graph()
    with graph.as_default():
        noise = np.random.default_rng(3).uniform(0.0, 255.0, IMAGE_SHAPE).astype(np.float32)
        canvas = tf.Variable(noise, name="canvas")
        # Trained through the canvas; fed with the fixed image to measure.
        images = tf.compat.v1.placeholder_with_default(canvas, IMAGE_SHAPE, name="images")
        # trainable=True is the seed's situation: the backbone sits in TRAINABLE_VARIABLES.
        vgg = VGG19(
            input_tensor=images, image_shape=IMAGE_SHAPE, weights=weights_file, trainable=True
        )
        head = tf.Variable(tf.ones([512]), name="head")  # a variable made after the backbone
        loss = tf.reduce_mean(tf.square(vgg.output * head - 1.0))
        var_list = vgg.trainable_variables_excluding_backbone()
        train = tf.compat.v1.train.AdamOptimizer(1.0).minimize(loss, var_list=var_list)
        init = tf.compat.v1.global_variables_initializer()
        trainable = graph.get_collection(tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES)
    graph.finalize()

    assert len(trainable) == 32 + 2
    assert [v.name for v in var_list] == ["canvas:0", "head:0"]
    with tf.compat.v1.Session(graph=graph) as session:
        session.run(init)
        vgg.load_weights(session)
        backbone_before = session.run(vgg.model_weights_tensors)
        canvas_before = session.run(canvas)
        for _ in range(3):
            session.run(train)
        backbone_after = session.run(vgg.model_weights_tensors)
        assert not np.array_equal(session.run(canvas), canvas_before)
        assert all(np.array_equal(a, b) for a, b in zip(backbone_before, backbone_after))
        got = Measurement.of(session.run(vgg.output, {images: image}))
    assert_same_measurement(got, pure_keras)


def test_wrapper_creates_its_placeholder_and_uniquifies_scopes() -> None:
    graph = tf.Graph()
    with graph.as_default():
        first = VGG19(image_shape=(None, 64, 64, 3), weights=None)
        second = VGG19(image_shape=(None, 64, 64, 3), weights=None)
    assert first.input_tensor.name == "vgg19/inputs/images:0"
    assert first.input_tensor.shape.as_list() == [None, 64, 64, 3]
    assert second.scope == "vgg19_1/"
    assert second.input_tensor.name == "vgg19_1/inputs/images:0"
    assert second.model_weights_tensors[0].name == "vgg19_1/model/block1_conv1/kernel:0"
    # weights=None builds no loader, and says so when asked to load.
    assert not any("load_weights" in op.name for op in graph.get_operations())
    with tf.compat.v1.Session(graph=graph) as session:
        with pytest.raises(ValueError, match="weights=None"):
            first.load_weights(session)


def test_graph_mode_does_not_leak_into_eager() -> None:
    assert tf.executing_eagerly()
    # Built outside any graph: refused, and nothing was half-built.
    with pytest.raises(RuntimeError, match="executing eagerly"):
        VGG19(weights=None)


def test_rejects_a_missing_weights_file_and_a_foreign_session(
    built: Built, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        VGG19(weights=tmp_path / "missing.h5")
    graph = tf.Graph()
    with graph.as_default():
        gray = tf.compat.v1.placeholder(tf.float32, (1, 64, 64, 1), name="gray")
        with pytest.raises(ValueError, match="compatible with `image_shape`"):
            VGG19(input_tensor=gray, weights=None)
    assert [op.name for op in graph.get_operations()] == ["gray"]  # nothing half-built
    with tf.compat.v1.Session(graph=tf.Graph()) as other:
        with pytest.raises(ValueError, match="different graph"):
            built.vgg.load_weights(other)


def test_importing_the_package_does_not_import_tensorflow() -> None:
    code = (
        "import sys, graphaudit.reference; "
        "heavy = [m for m in ('tensorflow', 'tf_keras', 'keras') if m in sys.modules]; "
        "print(heavy); sys.exit(bool(heavy))"
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- TF2: the Keras 3 counterpart -----------------------------------------------------------------


def test_keras3_frozen_vgg19_matches_pure_keras(
    weights_file: Path, image: np.ndarray, pure_keras: Measurement
) -> None:
    import keras
    model = frozen_vgg19(IMAGE_SHAPE[1:], weights=str(weights_file))
    backbone = model.get_layer("vgg19")
    assert [layer.name for layer in model.layers] == ["images", "preprocessing", "vgg19"]
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in model._flatten_layers())
    assert backbone.trainable is False
    assert model.trainable_weights == []
    assert len(backbone.non_trainable_weights) == 32

    # training=True on the outer model must not change the backbone's behaviour or values.
    trained_mode = Measurement.of(model(image, training=True))
    assert_same_measurement(trained_mode, pure_keras)
    assert_same_measurement(Measurement.of(model.predict(image, verbose=0)), pure_keras)
