"""Variable roles from collections, readers and writers, types and names, on graphs written by hand."""

from __future__ import annotations

from graphaudit.analysis import Analyses
from graphaudit.analysis.roles import Role
from graphaudit.config import Settings
from graphaudit.formats.live import from_message
from tests.handmade import graph_def, meta_graph, node, variable


def _roles(mg):
    facts = Analyses(from_message(mg, label="<hand>"), Settings())
    return {n: (r.role, r.evidence) for n, r in facts.roles.items()}, facts


def _tf1_program():
    """A TF1 training graph: a conv with BatchNorm, Adam, a global step, an AUC-like metric, a table."""
    nodes = [node("images", "Placeholder", dtype="float", shape=(-1, 4, 4, 3))]
    for name, shape in (("conv/kernel", (3, 3, 3, 4)), ("bn/gamma", (4,)), ("bn/beta", (4,)),
                        ("bn/moving_mean", (4,)), ("bn/moving_variance", (4,)), ("conv/kernel/Adam", (3, 3, 3, 4)),
                        ("beta1_power", ()), ("auc/true_positives", (200,)), ("mean/total", ()),
                        ("running_sum", ())):
        nodes += variable(name, shape)
    nodes += variable("global_step", (), dtype="int64")
    nodes += variable("vocab", (), dtype="string")
    nodes += [
        node("conv", "Conv2D", "images", "conv/kernel/read", T="float"),
        node("bn", "FusedBatchNormV3", "conv", "bn/gamma/read", "bn/beta/read", "bn/moving_mean/read",
             "bn/moving_variance/read", T="float", is_training=False),
        node("lr", "Const", value=0.1), node("grad", "Const", value=[[[[0.0] * 4] * 3] * 3] * 3),
        node("Adam/update_conv/kernel", "ApplyAdam", "conv/kernel", "conv/kernel/Adam", "conv/kernel/Adam",
             "beta1_power", "beta1_power", "lr", "lr", "lr", "lr", "grad", T="float"),
        node("one", "Const", value=1), node("step_inc", "AssignAdd", "global_step", "one", T="int64"),
        node("x", "Const", value=1.0), node("acc", "AssignAdd", "running_sum", "x", T="float"),
        node("auc/update", "AssignAdd", "auc/true_positives", "x", T="float"),
    ]
    everything = ["conv/kernel", "bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance",
                  "conv/kernel/Adam", "beta1_power", "global_step", "vocab", "running_sum"]
    return meta_graph(graph_def(*nodes), variable_collections={
        "variables": everything, "trainable_variables": ["conv/kernel", "bn/gamma", "bn/beta"],
        "local_variables": ["auc/true_positives", "mean/total"], "metric_variables": ["auc/true_positives"],
        "global_step": ["global_step"]})


def test_each_role_comes_from_its_strongest_evidence():
    roles, facts = _roles(_tf1_program())
    assert roles["conv/kernel"][0] is Role.WEIGHT and "trainable" in roles["conv/kernel"][1]
    assert roles["bn/gamma"][0] is Role.WEIGHT
    assert roles["bn/moving_mean"] == (Role.BATCHNORM_STATISTIC, "mean or variance of `bn` (FusedBatchNormV3)")
    assert roles["bn/moving_variance"][0] is Role.BATCHNORM_STATISTIC
    assert roles["conv/kernel/Adam"] == (Role.OPTIMIZER_SLOT,
                                         "input of optimizer update `Adam/update_conv/kernel` (ApplyAdam)")
    assert roles["beta1_power"][0] is Role.OPTIMIZER_SLOT
    assert roles["global_step"] == (Role.STEP, "collection `global_step`")
    # Collections win over the writer (an AssignAdd makes it an accumulator anyway).
    assert roles["auc/true_positives"] == (Role.METRIC, "collection `metric_variables`")
    assert roles["mean/total"] == (Role.METRIC, "collection `local_variables`")
    assert roles["running_sum"] == (Role.METRIC, "an accumulator only `AssignAdd` writes (`acc`)")
    assert roles["vocab"] == (Role.RESOURCE, "dtype string")
    assert facts.model_variables == {"conv/kernel", "bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance"}


def test_without_collections_writers_types_and_names_decide():
    nodes = []
    for name, shape, dtype in (("dense/kernel", (4, 2), "float"), ("iterations", (), "int64"),
                               ("counter", (), "int32"), ("bn/moving_mean", (4,), "float"),
                               ("dense/kernel/Momentum", (4, 2), "float"), ("metrics/count", (), "float")):
        nodes += variable(name, shape, dtype)
    nodes += [node("x", "Const", value=1), node("inc", "AssignAdd", "counter", "x", T="int32")]
    roles, _ = _roles(meta_graph(graph_def(*nodes)))
    assert roles["dense/kernel"] == (Role.WEIGHT, "no other role applies")
    assert roles["iterations"] == (Role.STEP, "an integer scalar (int64)")
    assert roles["counter"] == (Role.STEP, "an integer only `AssignAdd` writes (`inc`)")
    assert roles["bn/moving_mean"] == (Role.BATCHNORM_STATISTIC, "name (a BatchNorm statistic's)")
    assert roles["dense/kernel/Momentum"] == (Role.OPTIMIZER_SLOT, "name (an optimizer slot's)")
    assert roles["metrics/count"] == (Role.METRIC, "name (a metric variable's)")


def test_a_trainable_variable_is_a_weight_whatever_its_name():
    nodes = variable("count", (8, 8)) + variable("total", (8,))
    roles, _ = _roles(meta_graph(graph_def(*nodes), variable_collections={
        "variables": ["count", "total"], "trainable_variables": ["count", "total"]}))
    assert roles["count"][0] is Role.WEIGHT and roles["total"][0] is Role.WEIGHT


def test_inspect_shows_each_variable_s_role_and_why():
    from graphaudit.inspection import inspect_dict

    info = inspect_dict(from_message(_tf1_program(), label="<hand>"))
    items = {v["name"]: v for v in info["variables"]["items"]}
    assert items["global_step"]["role"] == "step or counter"
    assert items["auc/true_positives"]["role_evidence"] == "collection `metric_variables`"
    assert items["conv/kernel"]["role"] == "model weight"


def test_a_leftover_computation_on_metric_counters_is_no_model_copy():
    """An evaluator's second AUC, built from the same counters, duplicates the first: not a model."""
    from graphaudit.rules.duplicates.orphaned_model_copy import OrphanedModelCopy
    from tests.test_structure import _seed_graph

    def ga101(**collections):
        art = from_message(meta_graph(_seed_graph(dead_kernels=("k0", "k1", "k2", "k3")).gd,
                                      variable_collections=collections), label="<hand>")
        facts = Analyses(art, Settings(min_duplicate_ops=5))
        return list(OrphanedModelCopy().check(art, facts)), facts

    (f,), _ = ga101()
    assert f.location.variables == ("k0", "k1", "k2", "k3")
    found, facts = ga101(metric_variables=["k0", "k1", "k2", "k3"])
    assert found == [] and not facts.model_variables & {"k0", "k1", "k2", "k3"}


def test_keras_optimizer_weights_name_slots_and_steps_but_an_unnamed_one_names_nothing():
    """tf_keras `.h5` names its optimizer weights; Keras 3 stores them by index (`optimizer/vars/3`),
    and slots.py ties those to weights by order: an empty name must not settle a variable's role."""
    from graphaudit.analysis.roles import variable_roles
    from graphaudit.analysis.updates import analyse_updates
    from graphaudit.artifact import Artifact, Format, Variable
    from graphaudit.model.keras import KerasInfo, OptimizerWeight

    art = Artifact(path="<hand>", format=Format.KERAS_V3)
    for name, shape, dtype in (("", (4,), "float32"), ("dense/kernel", (4, 2), "float32"),
                               ("Adam/m/dense/kernel", (4, 2), "float32"), ("Adam/iter", (), "int64")):
        art.variables[name] = Variable(name=name, dtype=dtype, shape=shape)
    art.keras = KerasInfo(optimizer_weights=(
        OptimizerWeight("optimizer/vars/0", "", (), "int64"),
        OptimizerWeight("optimizer/vars/1", "", (4,), "float32"),
        OptimizerWeight("optimizer_weights/Adam/m/dense/kernel:0", "Adam/m/dense/kernel", (4, 2), "float32"),
        OptimizerWeight("optimizer_weights/Adam/iter:0", "Adam/iter", (), "int64")))
    roles = {n: (r.role, r.evidence) for n, r in variable_roles(art, analyse_updates(art)).items()}
    assert roles["Adam/m/dense/kernel"] == (Role.OPTIMIZER_SLOT, "Keras `optimizer_weights`")
    assert roles["Adam/iter"] == (Role.STEP, "Keras `optimizer_weights`")
    assert roles[""][0] is Role.WEIGHT and roles["dense/kernel"][0] is Role.WEIGHT


def _keras3_checkpoint_artifact():
    """What the reader makes of `tf.train.Checkpoint(model=..., optimizer=...)` under Keras 3:
    TensorFlow keys each weight by its shortest path, often the optimizer's `_trainable_variables`;
    the optimizer's own state sits under `_variables`, named `adam/<variable path, _ for />_<slot>`."""
    from graphaudit.artifact import Artifact, Format, Variable

    art = Artifact(path="<hand>", format=Format.CHECKPOINT)
    key = "{}/.ATTRIBUTES/VARIABLE_VALUE".format

    def add(name, shape, ckey, dtype="float32"):
        art.variables[name] = Variable(name=name, dtype=dtype, shape=shape, checkpoint_key=key(ckey))

    add("block_1/conv/kernel", (3, 3, 8, 8), "optimizer/_trainable_variables/0")
    add("block_1/conv_kernel", (3, 3, 8, 8), "model/layer_with_weights-9/kernel")  # flattens alike: ambiguous
    add("Conv1/kernel", (3, 3, 3, 8), "optimizer/_trainable_variables/1")
    add("Conv1/bn/moving_mean", (8,), "model/layer_with_weights-1/moving_mean")
    add("logits/kernel", (8, 2), "optimizer/_trainable_variables/2")
    add("adam/iteration", (), "optimizer/_variables/0", dtype="int64")
    add("adam/Conv1_kernel_momentum", (3, 3, 3, 8), "optimizer/_variables/1")
    add("adam/Conv1_kernel_velocity", (3, 3, 3, 8), "optimizer/_variables/2")
    add("adam/logits_kernel_momentum", (8, 2), "optimizer/_variables/3")
    add("adam/block_1_conv_kernel_momentum", (3, 3, 8, 8), "optimizer/_variables/4")
    return art


def test_keras3_checkpoint_state_is_optimizer_state_and_the_trained_list_is_weights():
    from graphaudit.analysis.roles import variable_roles
    from graphaudit.analysis.updates import analyse_updates

    art = _keras3_checkpoint_artifact()
    roles = {n: r.role for n, r in variable_roles(art, analyse_updates(art)).items()}
    assert roles["Conv1/kernel"] is Role.WEIGHT and roles["logits/kernel"] is Role.WEIGHT
    assert roles["adam/iteration"] is Role.STEP
    assert {roles[n] for n in art.variables if n.startswith("adam/") and n != "adam/iteration"} == {
        Role.OPTIMIZER_SLOT}


def test_keras3_checkpoint_slots_are_tied_to_their_variables_by_name():
    from graphaudit.analysis.slots import optimizer_slots

    art = _keras3_checkpoint_artifact()
    slots = optimizer_slots(art)
    got = {v: sorted(s.slot for s in ss) for v, ss in slots.by_variable.items()}
    # `block_1_conv_kernel` flattens two variables' names: that slot is tied to neither.
    assert got == {"Conv1/kernel": ["momentum", "velocity"], "logits/kernel": ["momentum"]}
    assert slots.by_variable["Conv1/kernel"][0].how == "Keras 3 slot name `<optimizer>/<variable>_momentum`"
    # Each slot is named by its own key (not by a name the flattening went through).
    assert [(s.slot, s.key) for s in slots.by_variable["Conv1/kernel"]] == [
        ("momentum", "optimizer/_variables/1/.ATTRIBUTES/VARIABLE_VALUE"),
        ("velocity", "optimizer/_variables/2/.ATTRIBUTES/VARIABLE_VALUE")]


def test_a_keras3_slot_is_named_by_its_own_key_when_it_is_the_first_one_looked_at():
    from graphaudit.analysis.slots import optimizer_slots
    from graphaudit.artifact import Artifact, Format, Variable

    art = Artifact(path="<hand>", format=Format.CHECKPOINT)
    for name, key in (("Conv1/kernel", "optimizer/_trainable_variables/0"),
                      ("adam/Conv1_kernel_momentum", "optimizer/_variables/1"),
                      ("zz/bias", "model/layer_with_weights-1/bias")):
        art.variables[name] = Variable(name=name, dtype="float32", shape=(3, 3),
                                       checkpoint_key=f"{key}/.ATTRIBUTES/VARIABLE_VALUE")
    (slot,) = optimizer_slots(art).by_variable["Conv1/kernel"]
    assert (slot.slot, slot.key) == ("momentum", "optimizer/_variables/1/.ATTRIBUTES/VARIABLE_VALUE")
