"""Keras `.h5`, `.keras` and `keras_metadata.pb`, read statically: facts against Keras, bad input, no TF import."""

from __future__ import annotations

import base64
import json
import marshal
import os
import subprocess
import sys
import zipfile

import h5py
import numpy as np
import pytest

from graphaudit.config import Settings
from graphaudit.engine import audit_paths
from graphaudit.formats.readers import read
from graphaudit.formats.sniff import discover


def load(path):
    (candidate,) = discover([str(path)], max_file_size=2**31)
    return read(candidate, max_file_size=2**31)


def one_error(path) -> str:
    report = audit_paths([str(path)], Settings())
    (result,) = report.artifacts
    assert result.error is not None and "\n" not in result.error
    return result.error


# ---------------------------------------------------------------------------- real files

@pytest.mark.tf
def test_h5_model_against_keras(artifacts):
    facts = artifacts.manifest("trainability_tf2")["cases"]["untrained"]
    path = artifacts.folder("trainability_tf2") / "untrained" / facts["h5"]
    art = load(path)
    assert art.format.value == "keras_h5"
    head = {"logits/kernel", "logits/bias"}
    assert set(art.variables) == set(facts["backbone_variables"]) | head
    assert {n for n, v in art.variables.items() if v.trainable} == set(facts["model_trainable_variables"])
    gamma = art.variables["bn_Conv1/gamma"]
    assert (gamma.keras_layer, gamma.initializer_kind) == ("classifier/mobilenetv2_1.00_32/bn_Conv1", "ones")
    assert art.variables["Conv1/kernel"].initializer_kind == "glorot_uniform"
    assert art.variables["bn_Conv1/moving_mean"].trainable is False
    with h5py.File(path, "r") as f:
        stored = f["model_weights/mobilenetv2_1.00_32/Conv1/kernel:0"][()]
    value = art.value_of("Conv1/kernel")
    assert value.shape == stored.shape and np.array_equal(value, stored)


@pytest.mark.tf
def test_keras3_model_against_keras(artifacts):
    facts = artifacts.manifest("trainability_keras3")["cases"]["base_frozen"]
    path = artifacts.folder("trainability_keras3") / "base_frozen" / facts["root"]
    art = load(path)
    assert art.format.value == "keras_v3"
    assert art.keras.keras_version == facts["keras_version"]
    # Class-based weight paths, mapped back to Keras 3's own variable paths through config.json.
    assert set(art.variables) == set(facts["backbone_variables"]) | {"logits/kernel", "logits/bias"}
    assert {n for n, v in art.variables.items() if v.trainable} == set(facts["model_trainable_variables"])
    assert art.variables["Conv1/kernel"].trainable_source.startswith("Keras config.json: layer `Conv1`")
    assert len(art.keras.optimizer_weights) == len(facts["optimizer_variables"])
    with zipfile.ZipFile(path) as z, z.open("model.weights.h5") as fh, h5py.File(fh, "r") as f:
        stored = f["layers/dense/vars/0"][()]
    assert np.array_equal(art.value_of("logits/kernel"), stored)


@pytest.mark.tf
def test_keras_metadata_overrides_saved_variable_trainable(artifacts):
    facts = artifacts.manifest("trainability_tf2")["cases"]["base_frozen"]
    art = load(artifacts.folder("trainability_tf2") / "base_frozen" / "saved_model")
    saved = {v["name"]: v["trainable"] for v in facts["variables"]}
    kernel = art.variables["Conv1/kernel"]
    assert saved["Conv1/kernel"] is True  # what the object graph says
    assert kernel.trainable is False
    assert kernel.trainable_source == "keras_metadata.pb: layer `Conv1` trainable=false"
    assert art.variables["logits/kernel"].trainable is True
    # An optimizer's own variables keep their SavedVariable flag.
    assert art.variables["Adam/m/logits/kernel"].trainable is False


@pytest.mark.tf
def test_keras_readers_never_import_tensorflow_or_keras(artifacts):
    tf2 = artifacts.folder("trainability_tf2")
    keras3 = artifacts.folder("trainability_keras3")
    paths = [tf2 / "base_trainable" / "model.h5", tf2 / "base_trainable" / "saved_model",
             keras3 / "base_trainable" / "model.keras"]
    code = (
        "import sys, json\n"
        "from graphaudit.config import Settings\n"
        "from graphaudit.engine import audit_paths\n"
        f"report = audit_paths({[str(p) for p in paths]!r}, Settings())\n"
        "codes = sorted({f.code for f in report.findings})\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'))\n"
        "print(json.dumps({'errors': [a.error for a in report.errors], 'codes': codes, 'modules': bad}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"errors": [], "codes": ["GA301"], "modules": []}


# ---------------------------------------------------------------------------- bad input

def _keras3_zip(path, config, *, weights: bytes | None = None, members: dict | None = None):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        z.writestr("config.json", json.dumps(config))
        if weights is not None:
            z.writestr("model.weights.h5", weights)
        for name, data in (members or {}).items():
            z.writestr(name, data)


def test_truncated_h5_is_one_line_error(tmp_path):
    path = tmp_path / "model.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = ["dense"]
        g = f.create_group("dense")
        g.attrs["weight_names"] = ["dense/kernel:0"]
        g.create_dataset("dense/kernel:0", data=np.ones((64, 64), np.float32))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    assert one_error(path).startswith("expected an HDF5 file; it does not open (")


def test_h5_weights_file_reads_without_config(tmp_path):
    path = tmp_path / "weights.h5"
    kernel = np.arange(6, dtype=np.float32).reshape(2, 3)
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = ["dense"]
        g = f.create_group("dense")
        g.attrs["weight_names"] = ["dense/kernel:0"]
        g.create_dataset("dense/kernel:0", data=kernel)
    art = load(path)
    assert list(art.variables) == ["dense/kernel"]
    assert art.variables["dense/kernel"].trainable is None
    assert np.array_equal(art.value_of("dense/kernel"), kernel)


def test_h5_that_is_no_keras_file(tmp_path):
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    assert one_error(path) == ("expected a Keras HDF5 file (`model_config` or `layer_names` attributes); "
                               "found groups: x")


def test_zip_bomb_is_refused(tmp_path):
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", "{}")
        z.writestr("model.weights.h5", b"\0" * (20 * 1024**2))
    assert "refusing a zip bomb" in one_error(path)


def test_too_many_zip_entries_are_refused(tmp_path):
    path = tmp_path / "model.keras"
    _keras3_zip(path, {"class_name": "Functional", "config": {"name": "m", "layers": []}},
                members={f"junk/{i}": b"" for i in range(1_001)})
    assert one_error(path) == ("zip holds 1,003 entries, over the limit of 1,000; a Keras 3 file holds "
                               "config.json, metadata.json and model.weights.h5")


def test_keras_zip_without_config(tmp_path):
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("notes.txt", "hello")
    assert one_error(path) == "expected a Keras 3 .keras zip with `config.json`; found: `notes.txt`"


def test_lambda_layer_is_read_not_run(tmp_path):
    sentinel = tmp_path / "pwned"
    code = compile(f"open({str(sentinel)!r}, 'w').write('ran')", "<lambda>", "exec")
    function = {"class_name": "__lambda__",
                "config": {"code": base64.b64encode(marshal.dumps(code)).decode(), "defaults": None,
                           "closure": None}}
    config = {"module": "keras.src.models.functional", "class_name": "Functional", "config": {
        "name": "m", "trainable": True, "layers": [
            {"module": "keras.layers", "class_name": "InputLayer", "config": {"name": "x", "batch_shape": [None, 2]}},
            {"module": "keras.layers", "class_name": "Lambda",
             "config": {"name": "evil", "trainable": True, "function": function}},
            {"module": "keras.layers", "class_name": "Dense",
             "config": {"name": "out", "trainable": False, "units": 1, "use_bias": True,
                        "kernel_initializer": {"class_name": "Zeros", "config": {}}}},
        ]}}
    weights = tmp_path / "w.h5"
    with h5py.File(weights, "w") as f:
        f.create_group("layers/input_layer/vars")
        f.create_group("layers/lambda/vars")
        dense = f.create_group("layers/dense/vars")
        dense.create_dataset("0", data=np.full((2, 1), 0.5, np.float32))
        dense.create_dataset("1", data=np.zeros((1,), np.float32))
    path = tmp_path / "model.keras"
    _keras3_zip(path, config, weights=weights.read_bytes())

    art = load(path)
    assert not sentinel.exists()
    assert [layer.class_name for layer in art.keras.layers] == ["Functional", "InputLayer", "Lambda", "Dense"]
    kernel = art.variables["out/kernel"]
    assert (kernel.shape, kernel.trainable, kernel.initializer_kind) == ((2, 1), False, "zeros")
    assert np.array_equal(art.value_of("out/kernel"), np.full((2, 1), 0.5, np.float32))
    report = audit_paths([str(path)], Settings())
    assert not report.errors and not sentinel.exists()


def test_missing_h5py_says_how_to_install_it(tmp_path):
    path = tmp_path / "weights.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = []
    code = (
        "import sys; sys.modules['h5py'] = None\n"
        "from graphaudit.config import Settings\n"
        "from graphaudit.engine import audit_paths\n"
        f"print(audit_paths([{str(path)!r}], Settings()).artifacts[0].error)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ("reading Keras HDF5 weights needs h5py, a dependency of graphaudit that is "
                                  "missing here: pip install h5py")


def test_keras3_slots_skip_a_normalization_layers_statistics(tmp_path):
    # EfficientNet's `Normalization` holds mean, variance and an integer count that no optimizer
    # has slots for; the ordered slots must still line up with the trainable weights after it.
    from graphaudit.analysis.slots import optimizer_slots

    config = {"class_name": "Functional", "config": {"name": "m", "trainable": True, "layers": [
        {"class_name": "Normalization", "config": {"name": "normalization", "trainable": True}},
        {"class_name": "Dense", "config": {"name": "dense", "units": 2, "use_bias": True, "trainable": True}}]}}
    weights = tmp_path / "w.h5"
    with h5py.File(weights, "w") as f:
        f["layers/normalization/vars/0"] = np.zeros(3, "float32")
        f["layers/normalization/vars/1"] = np.ones(3, "float32")
        f["layers/normalization/vars/2"] = np.int64(0)
        f["layers/dense/vars/0"] = np.zeros((3, 2), "float32")
        f["layers/dense/vars/1"] = np.zeros(2, "float32")
        f["optimizer/vars/0"] = np.int64(1)
        f["optimizer/vars/1"] = np.float32(1e-3)
        for k, shape in enumerate([(3, 2), (3, 2), (2,), (2,)], start=2):
            f[f"optimizer/vars/{k}"] = np.zeros(shape, "float32")
    path = tmp_path / "model.keras"
    _keras3_zip(path, config, weights=weights.read_bytes())
    art = load(path)
    assert [art.variables[n].trainable for n in ("normalization/mean", "normalization/count", "dense/kernel")] \
        == [False, False, True]
    slots = optimizer_slots(art)
    assert sorted(slots.by_variable) == ["dense/bias", "dense/kernel"]
    assert slots.unmapped == 0


def test_an_uncompressed_weights_member_is_read_once_not_once_per_seek(tmp_path, monkeypatch):
    # zipfile's member reader rewinds to the member's start on every backward seek and reads
    # (and CRC-checks) everything again; HDF5 seeks back and forth, so a 220 MB InceptionResNetV2
    # took 80 s. The reader reads the stored member's own bytes through a window on the zip.
    import io

    import graphaudit.formats.keras as keras_format

    layers = [{"class_name": "Dense", "config": {"name": f"dense_{k}", "units": 64, "use_bias": True,
                                                 "trainable": True}} for k in range(300)]
    config = {"class_name": "Sequential", "config": {"name": "m", "trainable": True, "layers": layers}}
    weights = tmp_path / "w.h5"
    rng = np.random.default_rng(0)
    with h5py.File(weights, "w") as f:
        for k in range(300):
            key = "dense" if k == 0 else f"dense_{k}"
            f[f"layers/{key}/vars/0"] = rng.normal(size=(64, 64)).astype("float32")
            f[f"layers/{key}/vars/1"] = np.full(64, k, "float32")
    path = tmp_path / "model.keras"
    _keras3_zip(path, config, weights=weights.read_bytes())
    read_bytes = []

    class Counting(io.FileIO):
        def readinto(self, buffer):
            n = super().readinto(buffer)
            read_bytes.append(n or 0)
            return n

    monkeypatch.setattr(keras_format, "open", lambda p, mode="rb": io.BufferedReader(Counting(p, mode)),
                        raising=False)
    art = load(path)
    for k in (0, 150, 299):
        assert np.array_equal(art.stored_values[f"dense_{k}/bias"], np.full(64, k, "float32"))
    member = weights.stat().st_size
    assert member <= sum(read_bytes) <= 2 * member + (1 << 20), (sum(read_bytes), member)
