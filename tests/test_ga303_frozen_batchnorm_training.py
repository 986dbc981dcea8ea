"""GA303 frozen-batchnorm-training: BatchNorm in training mode when serving, or drifting while frozen."""

from __future__ import annotations

import pytest

from graphaudit.config import Settings
from graphaudit.engine import audit_paths

pytestmark = pytest.mark.tf


def findings(path, code="GA303"):
    report = audit_paths([str(path)], Settings())
    assert not report.errors, [a.error for a in report.errors]
    return [f for f in report.findings if f.code == code]


def test_fires_on_a_serving_signature_in_training_mode(artifacts):
    facts = artifacts.manifest("trainability_tf2")["cases"]["bn_signature"]
    folder = artifacts.folder("trainability_tf2") / "bn_signature"
    layers = facts["batch_norm_layers"]
    served = facts["serving_training"]["fused_batch_norm_is_training"]
    (serve_fn,) = [f for f in served if f.startswith("__inference_serve_training")]
    assert served[serve_fn] == [True] * len(layers)  # TensorFlow wrote is_training=true for every one
    bn_variables = sorted(v for v in facts["backbone_variables"] if v.split("/")[0] in layers)

    (finding,) = findings(folder / facts["root"])
    assert finding.severity.value == "warning"
    assert finding.location.graph == f"function:{serve_fn}"
    assert finding.location.variables == tuple(bn_variables)
    assert len(finding.location.nodes) == len(layers)
    assert finding.message.startswith(
        # A serving-only export of a base built in-process: only the architecture is known.
        f"{len(layers)} BatchNorm layers of recognised `MobileNetV2 alpha=1.0` backbone run in training mode "
        "(`FusedBatchNormV3` with `is_training=true`) in signature `serving_default`: ")
    moving = [v for v in bn_variables if "/moving_" in v]
    assert finding.message.endswith(f"predictions depend on the batch, and each call overwrites {len(moving)} "
                                    "moving statistics")
    assert finding.fixup.title == "Call the pretrained `MobileNetV2 alpha=1.0` backbone with `training=False`"


def test_inference_twin_is_clean(artifacts):
    facts = artifacts.manifest("trainability_tf2")["cases"]["bn_signature"]
    served = facts["serving_inference"]["fused_batch_norm_is_training"]
    (serve_fn,) = [f for f in served if f.startswith("__inference_serve_inference")]
    assert not any(served[serve_fn])
    assert findings(artifacts.folder("trainability_tf2") / "bn_signature" / facts["twin"]) == []


def test_fires_when_the_train_op_updates_a_frozen_backbones_statistics(artifacts):
    facts = artifacts.manifest("trainability_tf1")["cases"]["bn_updates"]
    folder = artifacts.folder("trainability_tf1") / "bn_updates"
    moving = facts["moving_statistics"]
    assert all("AssignSubVariableOp" in facts["written_by"][v] for v in moving)

    (finding,) = findings(folder / facts["root"])
    assert finding.location.variables == tuple(sorted(moving))
    assert finding.message.startswith(
        f"the train op updates the moving statistics of {len(moving) // 2} BatchNorm layers of pretrained "
        "`MobileNetV2 alpha=1.0` backbone, whose other variables it leaves alone: ")
    assert any("moving-average update" in e and "`AssignSubVariableOp`" in e for e in finding.evidence)


@pytest.mark.parametrize("case", ["var_list", "minimize_all"])
def test_tf1_without_statistics_updates_or_with_the_backbone_trained_is_clean(artifacts, case):
    facts = artifacts.manifest("trainability_tf1")["cases"][case]
    assert findings(artifacts.folder("trainability_tf1") / case / facts["root"]) == []


def test_frozen_base_called_in_inference_mode_is_clean(artifacts):
    folder = artifacts.folder("trainability_tf2") / "base_frozen"
    assert findings(folder / "saved_model") == []
