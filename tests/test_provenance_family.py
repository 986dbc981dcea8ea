"""Issue 11's independent family: six applications at other widths and depths, TF1, tf_keras TF2 and Keras 3; each defect fires, each twin stays clean."""

from __future__ import annotations

import os

import pytest

import graphaudit
from tests.fixtures.provenance_models import ARCHITECTURES, SERVING

pytestmark = pytest.mark.tf

# The suite builds the smallest one (about 30 s on two cores); the six together take minutes, so
# they run when asked: GRAPHAUDIT_PROVENANCE_FAMILY=all (the closing note's numbers come from that).
ALL = [name for name, *_ in ARCHITECTURES]
NAMES = ALL if os.environ.get("GRAPHAUDIT_PROVENANCE_FAMILY") == "all" else ALL[:1]
EXPORTS = [name for name in NAMES if name in SERVING]
PROVENANCE_RULES = ("GA202", "GA301", "GA302", "GA303")


def audit(path, **options):
    return graphaudit.audit(str(path), isolated=True, **options)


def grades(path, **options):
    """(code, severity, confidence) of the provenance rules' findings."""
    return sorted((f.code, f.severity.value, f.confidence.value) for f in audit(path, **options).findings
                  if f.code in PROVENANCE_RULES)


def only(path, code, **options):
    (finding,) = [f for f in audit(path, **options).findings if f.code == code]
    return finding


@pytest.fixture(params=NAMES)
def tf1(request, artifacts):
    name = f"provenance_tf1_{request.param}"
    return artifacts.folder(name), artifacts.manifest(name)


@pytest.fixture(params=NAMES)
def keras3(request, artifacts):
    name = f"provenance_keras3_{request.param}"
    return artifacts.folder(name), artifacts.manifest(name)


@pytest.fixture(params=NAMES)
def tf2(request, artifacts):
    name = f"provenance_tf2_{request.param}"
    return artifacts.folder(name), artifacts.manifest(name)


# -- TF1 graph mode (tf_keras): weight-loading ops say the values were loaded: error / high ------


def test_tf1_train_op_over_the_backbone_is_ga301_error(tf1):
    folder, facts = tf1
    finding = only(folder / facts["train_all"], "GA301")
    assert (finding.severity.value, finding.confidence.value) == ("error", "high")
    assert finding.location.variables == tuple(facts["backbone_trainable_variables"])
    # "of its N variables": N counts model weights only (EfficientNet's integer `count` is not one).
    assert finding.message.startswith(f"pretrained `{facts['variant']}` backbone is being trained: the train op "
                                      f"updates {len(facts['backbone_trainable_variables'])} of its ")
    assert any(e.startswith(f"fingerprint match: {facts['variant']} (no top)") for e in finding.evidence)


def test_tf1_checkpoint_alone_is_ga301_from_its_slots_at_info(tf1):
    # No graph, no load ops: only the architecture says "pretrained", so info / low.
    folder, facts = tf1
    finding = only(folder / facts["slots_only"], "GA301")
    assert (finding.severity.value, finding.confidence.value) == ("info", "low")
    assert finding.location.variables == tuple(facts["backbone_trainable_variables"])
    assert finding.message.startswith(f"recognised `{facts['variant']}` backbone is being trained: checkpoint `")


def test_tf1_values_replaced_by_the_initializer_are_ga202_error(tf1):
    folder, facts = tf1
    finding = only(folder / facts["reinit"], "GA202")
    assert (finding.severity.value, finding.confidence.value) == ("error", "high")
    assert set(finding.location.variables) <= set(facts["backbone_variables"])
    assert finding.message.startswith(f"pretrained {facts['variant']} in the root scope (")
    assert "holds fresh initializer values" in finding.message


def test_tf1_batchnorm_updates_of_a_frozen_backbone_are_ga303(tf1):
    folder, facts = tf1
    finding = only(folder / facts["bn_drift"], "GA303")
    assert (finding.severity.value, finding.confidence.value) == ("warning", "high")
    assert set(finding.location.variables) <= set(facts["moving_statistics"])
    assert finding.message.startswith("the train op updates the moving statistics of ")
    assert f"of pretrained `{facts['variant']}` backbone, whose other variables it leaves alone" in finding.message


def test_tf1_head_only_twin_is_clean(tf1):
    folder, facts = tf1
    assert grades(folder / facts["head_only"]) == []


@pytest.mark.parametrize("name", EXPORTS)
def test_tf1_serving_export_of_a_trainable_backbone_is_clean(artifacts, name):
    # Trainable in TRAINABLE_VARIABLES, never trained, and nothing in the export can train it.
    facts = artifacts.manifest(f"provenance_tf1_{name}")
    folder = artifacts.folder(f"provenance_tf1_{name}")
    assert facts["backbone_trainable_variables"]
    assert grades(folder / facts["serving"]) == []


# -- Keras 3 (.keras): Keras recorded the nested application: warning / medium or low ------------


def test_keras3_slots_for_the_backbone_are_ga301(keras3):
    folder, facts = keras3
    finding = only(folder / "finetune_all.keras", "GA301")
    assert (finding.severity.value, finding.confidence.value) == ("warning", "medium")
    assert finding.message.startswith(f"pretrained `{facts['variant']}` backbone is being trained: Keras file "
                                      "`finetune_all.keras` holds optimizer slots (`momentum`, `velocity`) for "
                                      f"{len(facts['backbone_trainable_variables'])} of its")
    assert any(e.startswith(f"Keras record: the `.keras` `config.json` nests model `{facts['backbone_name']}`")
               for e in finding.evidence)


def test_keras3_frozen_twin_is_clean(keras3):
    folder, _ = keras3
    assert grades(folder / "frozen.keras") == []


def test_keras3_compiled_with_the_base_trainable_is_ga302(keras3):
    folder, facts = keras3
    finding = only(folder / "compiled_trainable.keras", "GA302")
    assert (finding.severity.value, finding.confidence.value) == ("warning", "low")
    assert f"variables of pretrained `{facts['variant']}` backbone" in finding.message
    assert any(e.startswith("training machinery: an optimizer (`Adam`) in the Keras config") for e in finding.evidence)
    assert grades(folder / "compiled_frozen.keras") == []


def test_keras3_reinitialized_base_is_ga202(keras3):
    folder, facts = keras3
    finding = only(folder / "reinit.keras", "GA202")
    assert (finding.severity.value, finding.confidence.value) == ("warning", "medium")
    assert finding.message.startswith(f"pretrained {facts['variant']} in the root scope")
    assert [f.code for f in audit(folder / "frozen.keras").findings if f.code == "GA202"] == []


def test_keras3_declared_scratch_silences_ga202_and_ga3xx(keras3):
    folder, _ = keras3
    for artifact in ("finetune_all.keras", "reinit.keras", "compiled_trainable.keras"):
        report = audit(folder / artifact, scratch=["*"])
        assert grades(folder / artifact, scratch=["*"]) == []
        assert dict(report.silenced) == {'scratch "*"': 1}


@pytest.mark.parametrize("name", EXPORTS)
def test_keras3_correctly_frozen_export_is_clean(artifacts, name):
    # Keras 3 writes SavedVariable.trainable = true for the frozen base; it is not believed.
    facts = artifacts.manifest(f"provenance_keras3_{name}")
    assert grades(artifacts.folder(f"provenance_keras3_{name}") / facts["export"]) == []


def test_keras3_batchnorm_turned_back_on_in_a_frozen_base_is_ga303(keras3):
    folder, facts = keras3
    finding = only(folder / "bn_trainable.keras", "GA303")
    assert (finding.severity.value, finding.confidence.value) == ("warning", "medium")
    bns = facts["batchnorm_layers"]
    assert finding.message.startswith(f"{len(bns):,} BatchNorm layers of pretrained `{facts['variant']}` backbone keep "
                                      f"their own `trainable` true inside frozen model `{facts['backbone_name']}`")
    assert {v.rpartition("/")[0] for v in finding.location.variables} == set(bns)
    assert {v.rpartition("/")[2] for v in finding.location.variables} == {"moving_mean", "moving_variance"}


def test_keras3_tf_checkpoint_with_slots_for_the_backbone_is_ga301_at_info(keras3):
    # A bare checkpoint: no config, no Keras record; only the architecture says "pretrained".
    folder, facts = keras3
    finding = only(folder / "finetune_all_ckpt", "GA301")
    assert (finding.severity.value, finding.confidence.value) == ("info", "low")
    assert finding.message.startswith(f"recognised `{facts['variant']}` backbone is being trained: checkpoint `ckpt` "
                                      "holds optimizer slots (`momentum`, `velocity`) for "
                                      f"{len(facts['backbone_trainable_variables'])} of its")
    assert grades(folder / "frozen_ckpt") == []


# -- tf_keras in TF2 (.h5 and SavedModel): Keras recorded the nested application ---------------


def test_tf2_h5_and_saved_model_with_slots_for_the_backbone_are_ga301(tf2):
    folder, facts = tf2
    n = len(facts["backbone_trainable_variables"])
    for artifact, where in (("finetune_all.h5", "Keras file `finetune_all.h5`"),
                            ("finetune_all", "checkpoint `variables/variables`")):
        finding = only(folder / artifact, "GA301")
        assert (finding.severity.value, finding.confidence.value) == ("warning", "medium"), artifact
        assert finding.message.startswith(f"pretrained `{facts['variant']}` backbone is being trained: {where} holds "
                                          f"optimizer slots (`m`, `v`) for {n} of its"), finding.message
        assert set(finding.location.variables) == set(facts["backbone_trainable_variables"])


def test_tf2_frozen_twins_are_clean(tf2):
    folder, _ = tf2
    for artifact in ("frozen.h5", "frozen", "compiled_frozen.h5"):
        assert grades(folder / artifact) == [], artifact


def test_tf2_compiled_with_the_base_trainable_is_ga302(tf2):
    folder, facts = tf2
    finding = only(folder / "compiled_trainable.h5", "GA302")
    assert (finding.severity.value, finding.confidence.value) == ("warning", "low")
    assert finding.message.startswith(f"{len(facts['backbone_trainable_variables'])} of the ")
    assert f"variables of pretrained `{facts['variant']}` backbone" in finding.message


def test_tf2_reinitialized_base_is_ga202(tf2):
    folder, facts = tf2
    finding = only(folder / "reinit.h5", "GA202")
    assert (finding.severity.value, finding.confidence.value) == ("warning", "medium")
    assert finding.message.startswith(f"pretrained {facts['variant']} in the root scope")


# -- serving a tf_keras TF2 SavedModel in training mode (GA303) ---------------------------------
# Off by default (each export traces the whole model); GRAPHAUDIT_PROVENANCE_SERVING=all or a
# comma-separated list of names runs them.
_SERVING_ASKED = os.environ.get("GRAPHAUDIT_PROVENANCE_SERVING", "")
SERVING_NAMES = ALL if _SERVING_ASKED == "all" else [n for n in _SERVING_ASKED.split(",") if n in ALL]


@pytest.mark.parametrize("name", SERVING_NAMES)
def test_serving_in_training_mode_is_ga303_and_its_twin_is_clean(artifacts, name):
    facts = artifacts.manifest(f"provenance_serving_{name}")
    folder = artifacts.folder(f"provenance_serving_{name}")
    # `tf.saved_model.save` writes no keras_metadata.pb: only the architecture is known, so low.
    finding = only(folder / "serving_training", "GA303")
    assert (finding.severity.value, finding.confidence.value) == ("warning", "low")
    bns = facts["batchnorm_layers"]
    assert finding.message.startswith(f"{len(bns):,} BatchNorm layers of recognised `{facts['variant']}` backbone run "
                                      "in training mode (`FusedBatchNormV3` with `is_training=true`) in signature "
                                      "`serving_default`"), finding.message
    assert grades(folder / "serving") == []
