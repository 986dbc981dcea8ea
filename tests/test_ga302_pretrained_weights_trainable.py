"""GA302 pretrained-weights-trainable: fires on a trainable backbone nothing trains yet, not where training leaves it alone."""

from __future__ import annotations

import pytest

from graphaudit.config import Settings
from graphaudit.engine import audit_paths

pytestmark = pytest.mark.tf

WHOLE_BACKBONE = ("Conv1*", "bn_Conv1*", "expanded_conv*", "block_*", "Conv_1*")


def audit(path, **settings):
    report = audit_paths([str(path)], Settings(**settings))
    assert not report.errors, [a.error for a in report.errors]
    return report


def findings(path, code="GA302", **settings):
    return [f for f in audit(path, **settings).findings if f.code == code]


def case(artifacts, builder, name):
    return artifacts.folder(builder) / name, artifacts.manifest(builder)["cases"][name]


@pytest.mark.parametrize("artifact", ["saved_model", "model.h5"])
def test_silent_on_a_model_nothing_can_train(artifacts, artifact):
    # Never compiled: no optimizer, no training config. Trainable flags alone are no defect where
    # training cannot happen (issue 11); GA302 needs training machinery.
    folder, facts = case(artifacts, "trainability_tf2", "untrained")
    assert facts["backbone_trainable_variables"]
    assert facts["h5_optimizer_weight_names"] == []
    assert findings(folder / artifact) == []
    assert [f for f in audit(folder / artifact).findings if f.code == "GA301"] == []


def test_silent_when_a_tf1_train_op_leaves_the_backbone_alone(artifacts):
    folder, facts = case(artifacts, "trainability_tf1", "var_list")
    # Keras still lists the backbone in TRAINABLE_VARIABLES: correct usage all the same.
    assert facts["backbone_trainable_variables"]
    assert findings(folder / facts["root"]) == []


@pytest.mark.parametrize("artifact", ["saved_model", "model.h5"])
def test_silent_when_the_base_was_frozen_before_compile(artifacts, artifact):
    folder, facts = case(artifacts, "trainability_tf2", "base_frozen")
    # SavedVariable.trainable stays True for the frozen base; keras_metadata.pb tells the truth.
    saved = {v["name"]: v["trainable"] for v in facts["variables"]}
    assert all(saved[v] for v in facts["backbone_variables"] if "moving_" not in v)
    assert findings(folder / artifact) == []


def test_silent_when_ga301_reports_the_group(artifacts):
    folder, _ = case(artifacts, "trainability_tf2", "base_trainable")
    report = audit(folder / "saved_model")
    assert [f.code for f in report.findings if f.code.startswith("GA30")] == ["GA301"]


def test_no_pretrained_group_is_clean(artifacts):
    assert findings(artifacts.path("tf2_saved_model_keras")) == []
