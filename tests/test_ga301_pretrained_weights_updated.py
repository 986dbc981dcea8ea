"""GA301 pretrained-weights-updated: fires where TensorFlow trained the backbone, stays clean on the twins."""

from __future__ import annotations

import io

import pytest

from graphaudit.config import Settings
from graphaudit.engine import audit_paths
from graphaudit.reporters.console import ConsoleReporter

pytestmark = pytest.mark.tf

# MobileNetV2's layers, top to bottom: fine-tuning every one of them is what these declare.
WHOLE_BACKBONE = ("Conv1*", "bn_Conv1*", "expanded_conv*", "block_*", "Conv_1*")


def audit(path, **settings):
    report = audit_paths([str(path)], Settings(**settings))
    assert not report.errors, [a.error for a in report.errors]
    return report


def findings(path, code="GA301", **settings):
    return [f for f in audit(path, **settings).findings if f.code == code]


def params(shapes: dict, names) -> int:
    total = 0
    for n in names:
        size = 1
        for d in shapes[n]:
            size *= d
        total += size
    return total


def tf1_case(artifacts, case):
    manifest = artifacts.manifest("trainability_tf1")
    return artifacts.folder("trainability_tf1") / case, manifest["cases"][case]


def tf2_case(artifacts, case):
    manifest = artifacts.manifest("trainability_tf2")
    return artifacts.folder("trainability_tf2") / case, manifest["cases"][case]


def test_tf1_minimize_without_var_list_fires_on_the_metagraph(artifacts):
    folder, facts = tf1_case(artifacts, "minimize_all")
    backbone = facts["backbone_variables"]
    # What TensorFlow's graph says: the Adam updates that write backbone variables.
    applied = sorted(v for v in backbone if any(op.startswith("ResourceApply") for op in facts["written_by"].get(v, ())))
    assert applied == facts["backbone_trainable_variables"]  # minimize() took all of TRAINABLE_VARIABLES
    shapes = {k: v["shape"] for k, v in facts["checkpoint_keys"].items()}

    (finding,) = findings(folder / facts["root"])
    assert finding.severity.value == "error" and finding.confidence.value == "high"
    assert finding.location.variables == tuple(applied)
    assert finding.location.scope == "" and finding.location.graph == "graph"
    assert finding.location.nodes == tuple(sorted(f"train_op/update_{v}/ResourceApplyAdam" for v in applied))
    assert finding.message == (
        f"pretrained `MobileNetV2 alpha=1.0` backbone is being trained: the train op updates {len(applied)} of its "
        f"{len(backbone)} variables ({params(shapes, applied):,} of {facts['backbone_params']:,} params) with "
        "`ResourceApplyAdam`; no `finetune` declaration covers them")
    assert any(e.startswith("fingerprint match: MobileNetV2") for e in finding.evidence)
    assert any(e.startswith(f"train op: `{facts['train_op'].split(':')[0]}` (collection `train_op`)")
               for e in finding.evidence)
    # The checkpoint beside the .meta holds the slots too, and says so.
    slots = [e for e in finding.evidence if "optimizer slots" in e]
    assert slots and f"{2 * len(applied):,} optimizer slots (`Adam`, `Adam_1`)" in slots[0]
    assert finding.fixup.title == "Exclude the pretrained `MobileNetV2 alpha=1.0` backbone from the optimizer"
    code = finding.fixup.code
    assert "minimize(loss, var_list=head_variables)" in code and "backbone.trainable = False" in code
    assert f"the MobileNetV2 alpha=1.0: `{sorted(backbone)[0]}` ... ({len(backbone)} variables)" in code
    # The finetune declaration names this backbone's blocks, not another architecture's.
    assert '"block_16_*"' in code and "block5_" not in code


def test_tf1_checkpoint_alone_fires_from_its_slots(artifacts):
    folder, facts = tf1_case(artifacts, "minimize_all")
    keys = facts["checkpoint_only_keys"]
    slotted = sorted(v for v in facts["backbone_variables"] if f"{v}/Adam" in keys and f"{v}/Adam_1" in keys)
    assert slotted == facts["backbone_trainable_variables"]

    (finding,) = findings(folder / facts["checkpoint_only"])
    assert finding.location.variables == tuple(slotted)
    assert finding.location.graph == "" and finding.location.nodes == ()
    assert "holds optimizer slots (`Adam`, `Adam_1`) for " f"{len(slotted)} of its" in finding.message
    # A checkpoint alone keeps no weight-loading ops and no Keras record: the architecture is all
    # that says "pretrained", and `weights=None` looks the same.
    assert finding.message.startswith("recognised `MobileNetV2 alpha=1.0` backbone is being trained: checkpoint `")
    assert (finding.severity.value, finding.confidence.value) == ("info", "low")


@pytest.mark.parametrize("case", ["var_list", "bn_updates"])
def test_tf1_var_list_twins_are_clean(artifacts, case):
    folder, facts = tf1_case(artifacts, case)
    assert not any(op.startswith("ResourceApply") for v in facts["backbone_variables"]
                   for op in facts["written_by"].get(v, ()))
    assert findings(folder / facts["root"]) == []


@pytest.mark.parametrize(("artifact", "grade"), [("saved_model", ("warning", "medium")),
                                                 ("model.h5", ("warning", "medium")),
                                                 ("ckpt-1.index", ("info", "low"))])
def test_tf2_base_left_trainable_fires(artifacts, artifact, grade):
    folder, facts = tf2_case(artifacts, "base_trainable")
    trained = facts["backbone_trainable_variables"]
    # tf_keras' optimizer named a slot after every variable it trained.
    named = sorted({n[len("Adam/m/"):-2] for n in facts["h5_optimizer_weight_names"] if n.startswith("Adam/m/")})
    assert sorted(set(named) & set(facts["backbone_variables"])) == trained
    full_names = set(facts["checkpoint_object_graph"]["full_names"].values())
    assert all(f"Adam/v/{v}" in full_names for v in trained)

    (finding,) = findings(folder / artifact)
    assert finding.location.variables == tuple(trained)
    assert finding.location.nodes == ()  # tf_keras saves no train function: the slots are the proof
    assert f"holds optimizer slots (`m`, `v`) for {len(trained)} of its 260 variables" in finding.message
    # Keras recorded the nested base (keras_metadata.pb, the .h5 model_config); the checkpoint did not.
    assert (finding.severity.value, finding.confidence.value) == grade


def test_keras3_base_left_trainable_fires(artifacts):
    manifest = artifacts.manifest("trainability_keras3")
    facts = manifest["cases"]["base_trainable"]
    path = artifacts.folder("trainability_keras3") / "base_trainable" / facts["root"]
    trained = set(facts["backbone_trainable_variables"])
    # Keras 3 built one momentum and one velocity per trainable variable, after its two scalars.
    assert len(facts["optimizer_variables"]) == 2 + 2 * len(facts["model_trainable_variables"])

    (finding,) = findings(path)
    # Keras 3 names depthwise kernels `kernel`; the matcher aliases them, so the whole backbone is found.
    assert set(finding.location.variables) == trained
    assert f"holds optimizer slots (`momentum`, `velocity`) for {len(trained)} of its 260 variables" in finding.message
    # The slots are tied to variables by position only.
    assert finding.confidence.value == "medium"
    assert any("Keras 3 optimizer variable order (2 per trainable variable)" in e for e in finding.evidence)


@pytest.mark.parametrize("artifact", ["saved_model", "model.h5", "ckpt-1.index"])
def test_tf2_base_frozen_before_compile_is_clean(artifacts, artifact):
    folder, facts = tf2_case(artifacts, "base_frozen")
    assert facts["backbone_trainable_variables"] == []
    assert findings(folder / artifact) == []


def test_keras3_base_frozen_is_clean(artifacts):
    facts = artifacts.manifest("trainability_keras3")["cases"]["base_frozen"]
    assert facts["backbone_trainable_variables"] == []
    assert findings(artifacts.folder("trainability_keras3") / "base_frozen" / facts["root"]) == []


def test_no_pretrained_group_is_clean(artifacts):
    # Trained with every variable trainable, but the small backbone is no known architecture.
    report = audit(artifacts.path("checkpoint_tf2"))
    assert [f for f in report.findings if f.code.startswith("GA3")] == []


def test_finetune_declaration_silences_what_it_covers(artifacts):
    folder, facts = tf1_case(artifacts, "minimize_all")
    path = folder / facts["root"]
    top = ("block_16_*", "Conv_1*")
    covered = {p: [v for v in facts["backbone_trainable_variables"] if v.startswith(p.rstrip("*"))] for p in top}
    report = audit(path, finetune=top)
    (finding,) = [f for f in report.findings if f.code == "GA301"]
    rest = sorted(set(facts["backbone_trainable_variables"]) - {v for vs in covered.values() for v in vs})
    assert finding.location.variables == tuple(rest)
    assert report.silenced == (('finetune "Conv_1*"', 1), ('finetune "block_16_*"', 1))
    assert all(covered.values())

    out = io.StringIO()
    reporter = ConsoleReporter(out, color=False)
    reporter.start()
    for result in report.artifacts:
        reporter.handle(result)
    reporter.stop(report)
    assert '1 silenced by finetune "Conv_1*", 1 silenced by finetune "block_16_*"' in out.getvalue()


@pytest.mark.parametrize("artifact", ["saved_model", "model.h5"])
def test_declared_finetune_of_the_whole_backbone_is_clean(artifacts, artifact):
    folder, _ = tf2_case(artifacts, "base_trainable")
    report = audit(folder / artifact, finetune=WHOLE_BACKBONE)
    assert [f for f in report.findings if f.code in ("GA301", "GA302")] == []
    assert dict(report.silenced) == {f'finetune "{p}"': 1 for p in WHOLE_BACKBONE}
