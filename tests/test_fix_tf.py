"""`graphaudit fix` and the checkpoint writer against TensorFlow: TF's own bytes, TF reads the values, the repaired artifacts compute what pure Keras computes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from graphaudit.api import settings_for
from graphaudit.fix import fix
from graphaudit.formats.checkpoint import Checkpoint
from graphaudit.formats.checkpoint_writer import write_checkpoint
from graphaudit.testing import assert_clean

pytestmark = pytest.mark.tf

IMAGE = (32, 32, 3)
TOLERANCE = 1e-5

# ------------------------------------------------------------------------------------------ the writer

DTYPED = {
    "a/kernel": (np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7, tf.float32),
    "half": (np.array([1.5, -2.25, 65504], np.float16), tf.float16),
    "double": (np.array([[1e-300, -2.0]], np.float64), tf.float64),
    "bf16": (np.array([1.0, 2.5, -3.0, 1e30], np.float32), tf.bfloat16),
    "int8": (np.array([-128, 127], np.int8), tf.int8),
    "int16": (np.array([-3, 300], np.int16), tf.int16),
    "int32": (np.array(7, np.int32), tf.int32),
    "int64": (np.array([1 << 40, -1], np.int64), tf.int64),
    "uint8": (np.array([0, 255], np.uint8), tf.uint8),
    "flag": (np.array([True, False, True]), tf.bool),
    "empty": (np.zeros((0, 3), np.float32), tf.float32),
    "vocab": (np.array([b"hello", b"", b"x" * 300], dtype=object), tf.string),
    "scalar_string": (np.array(b"\x00\xff", dtype=object), tf.string),
}


def tf_values(spec):
    return {k: tf.constant(v, dtype=d) for k, (v, d) in spec.items()}


def save_with_tf(prefix: Path, tensors: dict) -> None:
    names = sorted(tensors)
    tf.raw_ops.SaveV2(prefix=str(prefix), tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tensors[n] for n in names])


def write_like(prefix: Path, tensors: dict) -> None:
    values = {k: (t.numpy().view(np.uint16) if t.dtype == tf.bfloat16 else t.numpy()) for k, t in tensors.items()}
    dtypes = {k: t.dtype.name for k, t in tensors.items()}
    write_checkpoint(prefix, values, dtypes=dtypes)


@pytest.mark.parametrize("spec", [
    DTYPED,
    # Long keys past TensorFlow's 256 KiB index blocks: its block cuts and shortest separators.
    {f"layer_{i:05d}/{'w' * 150}": (np.full((2,), i, np.int32), tf.int32) for i in range(2500)},
], ids=["every-dtype", "several-index-blocks"])
def test_the_writer_writes_tensorflow_s_bytes(tmp_path, spec):
    tensors = tf_values(spec)
    save_with_tf(tmp_path / "tf", tensors)
    write_like(tmp_path / "ga", tensors)
    for suffix in (".index", ".data-00000-of-00001"):
        ours, theirs = (tmp_path / f"ga{suffix}").read_bytes(), (tmp_path / f"tf{suffix}").read_bytes()
        assert len(ours) == len(theirs) and ours == theirs, f"{suffix} differs from TensorFlow's"


def test_tensorflow_reads_back_every_dtype_exactly(tmp_path):
    tensors = tf_values(DTYPED)
    write_like(tmp_path / "ga", tensors)
    reader = tf.train.load_checkpoint(str(tmp_path / "ga"))
    assert sorted(reader.get_variable_to_shape_map()) == sorted(DTYPED)
    for key, t in tensors.items():
        got = np.asarray(reader.get_tensor(key))
        want = np.asarray(t.numpy())
        assert got.dtype == want.dtype and got.shape == want.shape, key
        assert got.tobytes() == want.tobytes() if want.dtype != object else got.tolist() == want.tolist(), key


def test_a_tf1_saver_restores_what_the_writer_wrote(tmp_path):
    tensors = tf_values(DTYPED)
    write_like(tmp_path / "ga", tensors)
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        variables = {k: tf.compat.v1.Variable(tf.zeros_like(t) if t.dtype != tf.string else tf.fill(t.shape, ""),
                                              name=k.replace("/", "_"), dtype=t.dtype)
                     for k, t in tensors.items()}
        tf.compat.v1.train.Saver(var_list=variables).restore(sess, str(tmp_path / "ga"))
        got = sess.run(variables)
    for key, t in tensors.items():
        want = np.asarray(t.numpy())
        got[key] = np.asarray(got[key])
        assert got[key].tolist() == want.tolist() if want.dtype != object else list(got[key].ravel()) == list(
            want.ravel()), key


# ------------------------------------------------------------------------------------------ fix


def digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


def run_meta(meta: Path, feed: str, fetch: str, images: np.ndarray) -> np.ndarray:
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        saver = tf.compat.v1.train.import_meta_graph(str(meta))
        saver.restore(sess, str(meta.with_suffix("")))
        return sess.run(f"{fetch}:0", {f"{feed}:0": images})


def run_saved_model(folder: Path, images: np.ndarray) -> np.ndarray:
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        mg = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(folder))
        sig = mg.signature_def["serving_default"]
        (inp,), (out,) = sig.inputs.values(), sig.outputs.values()
        return sess.run(out.name, {inp.name: images})


def run_frozen(pb: Path, feed: str, fetch: str, images: np.ndarray) -> np.ndarray:
    gd = tf.compat.v1.GraphDef.FromString(pb.read_bytes())
    with tf.Graph().as_default() as g, tf.compat.v1.Session(graph=g) as sess:
        tf.compat.v1.import_graph_def(gd, name="")
        return sess.run(f"{fetch}:0", {f"{feed}:0": images})


def keras_model(arch: str, weights: dict[str, np.ndarray], head: bool) -> tf_keras.Model:
    """Pure tf_keras: the application (and the fixtures' head), every weight set by its name."""
    tf_keras.backend.clear_session()
    if arch == "vgg19":
        base = tf_keras.applications.VGG19(weights=None, include_top=False, input_shape=IMAGE)
    else:
        alpha = 1.0 if weights["Conv1/kernel"].shape[-1] == 32 else 0.35  # the fixtures build both
        base = tf_keras.applications.MobileNetV2(weights=None, include_top=False, alpha=alpha, input_shape=IMAGE)
    model = base
    if head:
        pooled = tf_keras.layers.GlobalAveragePooling2D(name="pool")(base.output)
        logits = tf_keras.layers.Dense(10, name="dense")(pooled)
        model = tf_keras.Model(base.input, logits)
    values = []
    for w in model.weights:
        name = w.name.split(":")[0]
        key = f"head/{name}" if name.startswith("dense/") else name
        assert key in weights, f"no value for `{key}`"
        values.append(weights[key])
    model.set_weights(values)
    return model


def reference(arch, weights, images, head):
    return keras_model(arch, weights, head).predict(images, verbose=0)


def checkpoint_values(prefix: Path) -> dict[str, np.ndarray]:
    ck = Checkpoint.open(prefix)
    return {k: np.array(ck.value(k)) for k in ck.keys()}


def h5_values(path: Path) -> dict[str, np.ndarray]:
    """A Keras weights file's values by `layer/weight` (read with h5py, as data)."""
    import h5py

    out = {}
    with h5py.File(path, "r") as f:
        for layer in f.attrs["layer_names"]:
            group = f[layer]
            for name in group.attrs["weight_names"]:
                out[(name.decode() if isinstance(name, bytes) else name).split(":")[0]] = np.array(group[name])
    return out


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(20170503).uniform(0, 255, (2, *IMAGE)).astype(np.float32)


CASES = {
    # name: (fixture, the artifact under it, arch, input, output, head, where the pretrained values are);
    # the name starts with the rules the case fixes (the dup_ fixtures also hold GA202's initializer values).
    "GA101-vgg19-meta": ("dup_vgg19", "meta/model.ckpt.meta", "vgg19", "images", "output", False, "checkpoint"),
    "GA101-vgg19-saved-model": ("dup_vgg19", "saved_model", "vgg19", "images", "output", False, "checkpoint"),
    "GA101-vgg19-frozen": ("dup_vgg19", "frozen.pb", "vgg19", "images", "output", False, "meta"),
    "GA101-mobilenetv2-saved-model": ("dup_mobilenetv2", "saved_model", "mobilenetv2", "images", "output", False,
                                      "checkpoint"),
    "GA101-mobilenetv2-frozen": ("dup_mobilenetv2", "frozen.pb", "mobilenetv2", "images", "output", False, "meta"),
    "GA102-GA203-vgg19-meta": ("initialization_vgg19_drift", "model.ckpt.meta", "vgg19", "input_img", "output", True,
                               "checkpoint"),
    "GA102-GA203-mobilenetv2-meta": ("initialization_mobilenetv2_drift", "model.ckpt.meta", "mobilenetv2",
                                     "input_img", "output", True, "checkpoint"),
    "GA202-vgg19-meta": ("initialization_vgg19_reinit", "model.ckpt.meta", "vgg19", "input_img", "output", True,
                         "h5"),
    "GA202-vgg19-saved-model": ("initialization_vgg19_reinit", "saved_model", "vgg19", "input_img", "output", True,
                                "h5"),
}


def id_of(case) -> str:
    return next(k for k, v in CASES.items() if v == case)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_fix_then_check_is_clean_and_tensorflow_computes_what_keras_computes(artifacts, tmp_path, images, case):
    name, rel, arch, feed, fetch, head, source = case
    folder = artifacts.folder(name)
    path = folder / rel
    weights_file = folder / f"{arch}_weights.h5" if source == "h5" else None
    codes = [c for c in id_of(case).split("-") if c.startswith("GA")]
    options = {"select": codes, **({"weights": str(weights_file)} if weights_file else {})}
    before = digest(folder)
    result = fix(str(path), str(tmp_path / "out"), settings_for(options, isolated=True))
    assert digest(folder) == before, "fix changed the original"
    assert result.outcomes and all(o.fixed for o in result.outcomes), [(o.finding.code, o.detail)
                                                                       for o in result.outcomes]
    out = tmp_path / "out"
    fixed = out / Path(rel).name if path.is_file() else out
    assert_clean(str(fixed), isolated=True, **options)
    # The pretrained values the model should compute with, from the original artifact.
    if source == "h5":
        weights = h5_values(weights_file)
        weights.update({k: v for k, v in checkpoint_values(path.with_suffix("") if path.suffix == ".meta"
                                                           else path / "variables" / "variables").items()
                        if k.startswith("head/")})
    elif source == "meta":
        weights = checkpoint_values(folder / "meta" / "model.ckpt")
    else:
        weights = checkpoint_values(path.with_suffix("") if path.suffix == ".meta" else path / "variables" / "variables")
    want = reference(arch, weights, images, head)
    if fixed.is_dir():
        got = run_saved_model(fixed, images)
    elif fixed.suffix == ".meta":
        got = run_meta(fixed, feed, fetch, images)
    else:
        got = run_frozen(fixed, feed, fetch, images)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=TOLERANCE, atol=TOLERANCE)


def test_pruning_keeps_what_the_used_instance_computes(artifacts, tmp_path, images):
    """GA102 on the five-instance build (a custom backbone): the repaired graphs compute what the originals do."""
    folder = artifacts.folder("dup_five_instances")
    before = digest(folder)
    for rel in ("meta/model.ckpt.meta", "saved_model", "frozen.pb"):
        out = tmp_path / rel.replace("/", "_")
        result = fix(str(folder / rel), str(out), settings_for({}, isolated=True))
        assert [(o.finding.code, o.fixed) for o in result.outcomes] == [("GA102", True)]
        fixed = out / Path(rel).name if (folder / rel).is_file() else out
        assert_clean(str(fixed), isolated=True)
        if rel == "saved_model":
            got, want = run_saved_model(fixed, images), run_saved_model(folder / rel, images)
        elif rel.endswith(".meta"):
            got, want = run_meta(fixed, "images", "output", images), run_meta(folder / rel, "images", "output", images)
        else:
            got, want = (run_frozen(fixed, "images", "output", images),
                         run_frozen(folder / rel, "images", "output", images))
        np.testing.assert_allclose(got, want, rtol=TOLERANCE, atol=TOLERANCE)
    assert digest(folder) == before


def test_drifted_keys_that_no_restore_op_reads_are_left_manual(artifacts, tmp_path):
    """The drift SavedModel's saver restores the first build only: new keys would be read by nothing."""
    folder = artifacts.folder("initialization_mobilenetv2_drift")
    result = fix(str(folder / "saved_model"), str(tmp_path / "out"), settings_for({}, isolated=True))
    outcomes = {o.finding.code: (o.fixed, o.detail) for o in result.outcomes}
    assert outcomes["GA203"] == (False, "its evidence does not make an automatic fix safe")
    (finding,) = [o.finding for o in result.outcomes if o.finding.code == "GA203"]
    assert finding.fixup.applicability == "manual"
    assert outcomes["GA102"][0] is True


def tiny_classifier(images=None):
    """A tiny VGG-shaped backbone (`block1_conv*`) and a dense head, as tf_keras builds it."""
    layers = tf_keras.layers
    inputs = layers.Input(shape=IMAGE, tensor=images, name="images")
    x = inputs
    for name, width in (("block1_conv1", 8), ("block1_conv2", 8)):
        x = layers.Conv2D(width, 3, padding="same", activation="relu", name=name)(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return tf_keras.Model(inputs, layers.Dense(10, name="head")(x))


def test_a_tf1_backbone_leaves_trainable_variables_and_tensorflow_sees_it(tmp_path, images):
    """GA302 on a TF1 `.meta`: the optimizer is set up (`beta1_power`) but no train op exists yet."""
    folder = tmp_path / "in"
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        tf.compat.v1.set_random_seed(20170503)
        ph = tf.compat.v1.placeholder(tf.float32, (None, *IMAGE), name="input_img")
        model = tiny_classifier(ph)
        tf.identity(model.output, name="output")
        tf.compat.v1.Variable(0.9, name="beta1_power", trainable=False)
        sess.run(tf.compat.v1.global_variables_initializer())
        tf.compat.v1.train.Saver().save(sess, str(folder / "model.ckpt"))
        weights = {v.op.name: sess.run(v) for v in model.weights}
    options = {"pretrained": ["block1_*"], "select": ["GA302"]}
    before = digest(folder)
    result = fix(str(folder / "model.ckpt.meta"), str(tmp_path / "out"), settings_for(options, isolated=True))
    assert digest(folder) == before
    assert [(o.finding.code, o.fixed) for o in result.outcomes] == [("GA302", True)]
    assert_clean(str(tmp_path / "out" / "model.ckpt.meta"), isolated=True, **options)
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        saver = tf.compat.v1.train.import_meta_graph(str(tmp_path / "out" / "model.ckpt.meta"))
        saver.restore(sess, str(tmp_path / "out" / "model.ckpt"))
        trainable = sorted(v.op.name for v in tf.compat.v1.trainable_variables())
        got = sess.run("output:0", {"input_img:0": images})
    assert trainable == ["head/bias", "head/kernel"]
    tf_keras.backend.clear_session()
    ref = tiny_classifier()
    ref.set_weights([weights[k] for k in sorted(weights, key=[w.op.name for w in model.weights].index)])
    np.testing.assert_allclose(got, ref.predict(images, verbose=0), rtol=TOLERANCE, atol=TOLERANCE)
