"""GA303 on hand-written Keras 3 `.keras` files: a BatchNorm left trainable inside a frozen base updates its statistics in `fit()`."""

from __future__ import annotations

import io
import json
import zipfile

import h5py
import numpy as np
import pytest

import graphaudit


def _layer(class_name: str, name: str, trainable: bool, **config) -> dict:
    return {"class_name": class_name, "config": {"name": name, "trainable": trainable, **config}}


def _keras_file(path, base_name: str, layers: list[tuple[str, str, bool]], *, base_trainable: bool = False,
                compiled: bool = True, channels: int = 4) -> None:
    """A classifier around a nested base, as Keras 3.15 saves it: config.json with each layer's own
    `trainable`, and model.weights.h5 keyed by snake-cased class names (`conv2d_1`)."""
    base = [_layer("InputLayer", "base_input", True)]
    weights: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    rng = np.random.default_rng(0)
    c_in = 3
    for class_name, name, trainable in layers:
        key = {"Conv2D": "conv2d", "SeparableConv2D": "separable_conv2d", "BatchNormalization": "batch_normalization"}[
            class_name]
        n = counts.get(key, 0)
        counts[key] = n + 1
        group = f"layers/functional/layers/{key}{'_' + str(n) if n else ''}/vars"
        if class_name == "Conv2D":
            base.append(_layer(class_name, name, trainable, filters=channels, kernel_size=[3, 3], use_bias=True))
            shapes = [(3, 3, c_in, channels), (channels,)]
            c_in = channels
        elif class_name == "SeparableConv2D":
            base.append(_layer(class_name, name, trainable, filters=channels, kernel_size=[3, 3], use_bias=True))
            shapes = [(3, 3, c_in, 1), (1, 1, c_in, channels), (channels,)]
            c_in = channels
        else:
            base.append(_layer(class_name, name, trainable, center=True, scale=True))
            shapes = [(c_in,)] * 4
        for k, shape in enumerate(shapes):
            weights[f"{group}/{k}"] = (rng.normal(size=shape) * 0.5 + 0.2).astype("float32")
    weights["layers/dense/vars/0"] = rng.normal(size=(c_in, 2)).astype("float32")
    weights["layers/dense/vars/1"] = np.zeros(2, "float32")
    config = {"class_name": "Functional", "config": {"name": "classifier", "trainable": True, "layers": [
        _layer("InputLayer", "images", True),
        {"class_name": "Functional", "config": {"name": base_name, "trainable": base_trainable, "layers": base}},
        _layer("GlobalAveragePooling2D", "pool", True),
        _layer("Dense", "logits", True, units=2, use_bias=True)]}}
    if compiled:
        config["compile_config"] = {"optimizer": {"class_name": "Adam", "config": {"learning_rate": 1e-3}},
                                    "loss": "mse"}
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for key, value in weights.items():
            f[key] = value
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", buffer.getvalue())


CONV_BN = [("Conv2D", "base_conv1", False), ("BatchNormalization", "base_bn1", True),
           ("Conv2D", "base_conv2", False), ("BatchNormalization", "base_bn2", False)]
SEPARABLE_BN = [("SeparableConv2D", "base_sep1", False), ("BatchNormalization", "base_sep1_bn", True),
                ("SeparableConv2D", "base_sep2", False), ("BatchNormalization", "base_sep2_bn", True)]


def _ga303(path, **options):
    return [f for f in graphaudit.audit(str(path), isolated=True, **options).findings if f.code == "GA303"]


@pytest.mark.parametrize("layers, bns", [(CONV_BN, ["base_bn1"]), (SEPARABLE_BN, ["base_sep1_bn", "base_sep2_bn"])],
                         ids=["conv-bn", "separable-bn"])
def test_a_batchnorm_left_trainable_in_a_frozen_base_drifts(tmp_path, layers, bns):
    path = tmp_path / "model.keras"
    _keras_file(path, "base", layers)
    (finding,) = _ga303(path, pretrained=["base_*"])
    assert (finding.severity.value, finding.confidence.value) == ("warning", "high")
    assert finding.message == (
        f"{len(bns)} BatchNorm layer{'s' if len(bns) > 1 else ''} of pretrained backbone declared `base_*` keep their "
        f"own `trainable` true inside frozen model `base`: Keras 3 updates their moving statistics in every `fit()` "
        f"step while the rest of the backbone stays frozen: {', '.join(f'`{b}`' for b in bns)}")
    assert finding.location.variables == tuple(sorted(f"{b}/{w}" for b in bns for w in ("moving_mean",
                                                                                        "moving_variance")))
    assert any(e.startswith("training machinery: an optimizer (`Adam`) in the Keras config") for e in finding.evidence)


def test_a_recorded_application_base_gives_medium_confidence(tmp_path):
    path = tmp_path / "model.keras"
    _keras_file(path, "resnet50", CONV_BN)
    findings = _ga303(path)
    assert [(f.severity.value, f.confidence.value, f.location.variables) for f in findings] == [
        ("warning", "medium", ("base_bn1/moving_mean", "base_bn1/moving_variance"))]


GOOD = {
    # `base.trainable = False` with no layer turned back on: every own flag is false.
    "all-frozen": dict(layers=[(c, n, False) for c, n, _ in CONV_BN]),
    # Nothing in the file can call fit(): an inference-only save.
    "not-compiled": dict(layers=CONV_BN, compiled=False),
    # The whole base trains: GA301/GA302's business, not a frozen backbone's drift.
    "base-trainable": dict(layers=[(c, n, True) for c, n, _ in CONV_BN], base_trainable=True),
}


@pytest.mark.parametrize("options", GOOD.values(), ids=GOOD.keys())
def test_frozen_uncompiled_or_fully_trainable_bases_are_clean(tmp_path, options):
    path = tmp_path / "model.keras"
    _keras_file(path, "base", **options)
    assert _ga303(path, pretrained=["base_*"]) == []


def test_scratch_silences_it(tmp_path):
    path = tmp_path / "model.keras"
    _keras_file(path, "base", CONV_BN)
    report = graphaudit.audit(str(path), isolated=True, pretrained=["base_*"], scratch=["base_*"])
    assert [f for f in report.findings if f.code == "GA303"] == []
