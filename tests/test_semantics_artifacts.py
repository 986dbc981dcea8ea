"""Graph semantics on TensorFlow-written artifacts: the seed's programs, serving exports, metrics, fine-tunes."""

from __future__ import annotations

import pytest

import graphaudit
from graphaudit.analysis import Analyses
from graphaudit.config import Settings
from graphaudit.engine import audit_paths

PITFALLS = ("pitfall1", "pitfall2", "pitfall3", "pitfall4")


@pytest.fixture(scope="module")
def seed(artifacts):
    folder = artifacts.folder("sem_seed")
    return folder, artifacts.manifest("sem_seed")["programs"]


@pytest.fixture(scope="module")
def tf1(artifacts):
    folder = artifacts.folder("sem_tf1")
    return folder, artifacts.manifest("sem_tf1")["programs"]


def _codes(report, code):
    return [f for f in report.findings if f.code == code]


def _check_dead_copy_on_input_1(report, program):
    (f,) = _codes(report, "GA101")
    assert f.location.nodes[0] == program["dead_input"] == "input_1"
    assert f.location.nodes[1] == program["dead_output"]
    assert f" ops, {program['params']:,} params) is an unused copy of `vgg19/`" in f.message
    assert f"hangs off the placeholder `{program['dead_input']}`" in f.message
    assert len(f.location.variables) == program["weights"]
    return f


@pytest.mark.parametrize("form", ["graphdef", "meta"])
@pytest.mark.parametrize("name", PITFALLS)
def test_each_seed_program_names_the_dead_copy_on_input_1(seed, name, form):
    folder, programs = seed
    program = programs[name]
    report = audit_paths([str(folder / program[form])], Settings())
    f = _check_dead_copy_on_input_1(report, program)
    if name != "pitfall4":
        # No output is named and both copies end in sinks: the unfed Keras input tells them apart.
        assert f.confidence.value == "high"
        assert any(e.startswith(f"which copy is the orphan: the copy ending in `{program['dead_output']}` reads "
                                f"only `input_1`") and f"reads `{program['live_input']}`" in e for e in f.evidence)


@pytest.mark.parametrize("form", ["graphdef", "meta"])
def test_the_wrapper_s_graph_is_clean(seed, form):
    folder, programs = seed
    report = audit_paths([str(folder / programs["wrapper"][form])], Settings())
    assert not report.errors and report.findings == [], [(f.code, f.message) for f in report.findings]


@pytest.mark.tf
@pytest.mark.parametrize("name", [*PITFALLS, "wrapper"])
def test_the_live_graphs_say_the_same(seed, name):
    import tensorflow as tf

    folder, programs = seed
    program = programs[name]
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.train.import_meta_graph(str(folder / program["meta"]))
    report = graphaudit.audit(graph, isolated=True)
    if name == "wrapper":
        assert report.findings == [], [(f.code, f.message) for f in report.findings]
    else:
        _check_dead_copy_on_input_1(report, program)


def test_ga202_reads_a_frozen_graph_s_weight_constants(seed, tf1):
    folder, programs = seed
    (f,) = _codes(audit_paths([str(folder / programs["pitfall2"]["frozen"])], Settings()), "GA202")
    assert (f"VGG19 in the root scope ({programs['pitfall2']['params']:,} params) holds fresh initializer values: "
            "16/16 layers re-initialized (16/16 conv biases exactly zero; 16/16 conv kernels uniform within the glorot "
            "limit)") in f.message
    assert "initializers read from the architecture catalogue (32)" in f.evidence
    # The same program with the loaded weights kept.
    assert _codes(audit_paths([str(folder / programs["pitfall1"]["frozen"])], Settings()), "GA202") == []
    folder, programs = tf1
    fresh = programs["mobilenetv2_frozen_fresh"]
    (f,) = _codes(audit_paths([str(folder / fresh["path"])], Settings()), "GA202")
    assert "MobileNetV2 alpha=1.0 in the root scope" in f.message and f"{fresh['batch_norm_layers']}/{fresh['batch_norm_layers']} " \
        "BatchNorm gammas exactly one" in f.message


@pytest.mark.parametrize("name", ["mobilenetv2_serving", "resnet50_serving_cfv2"])
def test_batchnorm_conds_on_the_learning_phase_are_clean_when_serving(tf1, name):
    folder, programs = tf1
    program = programs[name]
    assert program["switch_ops"] + program["if_ops"] >= 2 * program["batch_norm_layers"]
    report = audit_paths([str(folder / program["path"])], Settings())
    assert not report.errors
    assert [f for f in report.findings if f.code in ("GA101", "GA201", "GA303")] == []
    facts = Analyses(_artifact(folder / program["path"]), Settings())
    folded = facts.serving_folding.resolved()
    assert len(folded) == program["switch_ops"] + program["if_ops"] and not facts.serving_folding.unresolved()
    assert all(p.value is False and "learning phase" in p.how for p in folded)


@pytest.mark.parametrize("name", ["mobilenetv2_learning_phase_1"])  # training=True baked in: sem_tf2
def test_batchnorm_forced_into_training_mode_fires(tf1, name):
    folder, programs = tf1
    program = programs[name]
    (f,) = _codes(audit_paths([str(folder / program["path"])], Settings()), "GA303")
    assert f.severity.value == "warning" and f.confidence.value == "high"
    assert f.message.startswith(f"{program['batch_norm_layers']} BatchNorm layers of pretrained `MobileNetV2")
    assert "backbone run in training mode (`FusedBatchNormV3` with `is_training=true`) in signature" in f.message


def test_an_evaluation_model_s_metric_state_is_no_model_and_needs_no_value(tf1):
    folder, programs = tf1
    program = programs["metrics_eval"]
    path = folder / program["path"]
    report = audit_paths([str(path)], Settings())
    assert not report.errors and report.findings == [], [(f.code, f.message) for f in report.findings]
    facts = Analyses(_artifact(path), Settings())
    counters = program["local_variables"] + program["keras_auc_variables"]
    assert counters and all(not facts.roles[v].is_model for v in counters)
    assert {facts.roles[v].role.value for v in counters} == {"metric or local state"}
    assert {"dense/kernel", "logistic/kernel"} <= facts.model_variables


def test_an_init_from_checkpoint_fine_tune_is_initialized(tf1):
    folder, programs = tf1
    program = programs["init_from_checkpoint"]
    assert program["checkpoint_initializers"] == program["backbone_variables"] > 0
    path = folder / "init_from_checkpoint" / program["path"]
    report = audit_paths([str(path)], Settings())
    assert not report.errors and report.findings == [], [(f.code, f.message) for f in report.findings]
    sources = Analyses(_artifact(path), Settings()).coverage
    assert sum(c.source.value == "checkpoint initializer" for c in sources.values()) == program["backbone_variables"]


def _artifact(path):
    from graphaudit.formats.readers import read
    from graphaudit.formats.sniff import discover

    (candidate,) = discover([str(path)], max_file_size=2**31)
    return read(candidate, max_file_size=2**31)


@pytest.fixture(scope="module")
def tf2(artifacts):
    folder = artifacts.folder("sem_tf2")
    return folder, artifacts.manifest("sem_tf2")["programs"]


def _ga303(path):
    report = audit_paths([str(path)], Settings(pretrained=("block*",)))
    assert not report.errors
    return _codes(report, "GA303")


def test_a_tf2_body_branching_on_training_is_clean_when_serving_passes_false(tf2):
    folder, programs = tf2
    assert _ga303(folder / programs["serving_false"]["path"]) == []


def test_a_tf2_body_branching_on_training_fires_when_serving_passes_true(tf2):
    folder, programs = tf2
    program = programs["serving_true"]
    (f,) = _ga303(folder / program["path"])
    assert f.severity.value == "warning" and f.confidence.value == "high"
    assert f.message.startswith(f"{program['batch_norm_layers']} BatchNorm layers of pretrained")
    assert any("cond predicate folded" in e and "passed constant" in e for e in f.evidence)


def test_a_training_flag_the_signature_takes_is_reported_as_uncertain(tf2):
    folder, programs = tf2
    (f,) = _ga303(folder / programs["serving_input"]["path"])
    assert f.severity.value == "info" and f.confidence.value == "low"
    assert "when a predicate that cannot be resolved statically is true" in f.message
    assert any("not resolved" in e and "`serving_default_training` is fed" in e for e in f.evidence)
