"""The roles of a bare checkpoint's VariableTable (a RoleTable, and its ModelNames) equal the
roles of the same variables as a dict, and both equal the per-variable oracle (role_by_name, then
type, trainable flag and dtype as variable_roles decided them one variable at a time)."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from graphaudit.analysis import Analyses
from graphaudit.analysis import roles as roles_mod
from graphaudit.analysis.provenance import provenance
from graphaudit.analysis.roles import (ModelNames, Role, RoleTable, covers, model_variables, role_by_name,
                                       variable_roles)
from graphaudit.analysis.updates import analyse_updates
from graphaudit.artifact import Artifact, Format, Variable, VariableTable
from graphaudit.config import Settings
from tests.test_bulk_analyses import name as any_name

# Names every writer makes: TF1 (`<var>/Adam_1`, `beta1_power`, `global_step`, `moving_mean`),
# tf_keras (`:0`), Keras 3 (`adam/<var>_momentum`, `optimizer/_variables/3`), metrics, TF2
# object-graph keys, and names that are one word alone (`Adam`, `iter`).
REAL = ["vgg19/block1_conv1/kernel", "vgg19/block1_conv1/kernel/Adam", "vgg19/block1_conv1/kernel/Adam_1",
        "vgg19/block1_conv1/bias/Momentum", "beta1_power", "beta2_power", "global_step", "bn/moving_mean",
        "bn/moving_variance:0", "dense/kernel:0", "Adam/m/dense/kernel", "training/Adam/v/dense/bias",
        "SGD/momentum/w", "adam/dense_kernel_momentum", "optimizer/_variables/3/.ATTRIBUTES/VARIABLE_VALUE",
        "model/block_00/layer_00/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE",
        "metrics/auc/true_positives", "mean/total", "count", "total", "iter", "iterations", "Adam", "Adam_1",
        "ExponentialMovingAverage", "w/ExponentialMovingAverage", "accuracy/count_2:0", "epoch", "x/step",
        "Adam\n", "a/Adam\n", "RMSprop/accumulator/v", "Nadam/vhat/k", "Adamax/velocity/", "layer/counter"]
DTYPES = ["float32", "float32", "float32", "int64", "int32", "string", "resource", "bfloat16"]
SHAPES = [(), (3,), (2, 2), ()]

name = st.one_of(st.sampled_from(REAL), any_name)
row = st.tuples(name, st.sampled_from(DTYPES), st.sampled_from(SHAPES))


def _artifacts(rows):
    """The same variables as a VariableTable (a bare checkpoint) and as a dict, in the same order."""
    rows = sorted({n: (n, d, s) for n, d, s in rows}.values())
    table = VariableTable([n for n, _, _ in rows], [d for _, d, _ in rows], [s for _, _, s in rows])
    bare = Artifact(path="<table>", format=Format.CHECKPOINT, variables=table)
    plain = Artifact(path="<dict>", format=Format.CHECKPOINT, variables={
        n: Variable(name=n, dtype=d, shape=s, checkpoint_key=n, restored=True) for n, d, s in rows})
    return bare, plain


def _oracle(var: Variable):
    """Steps 3 and 4 of variable_roles for one variable, as it decided them before the bulk form."""
    role = roles_mod._NO_OTHER_ROLE
    by_name = role_by_name(var.name)
    if by_name is not None and (by_name is not roles_mod._METRIC_BY_NAME or not var.keras_layer):
        role = by_name
    if var.dtype in roles_mod._INT_TYPES and var.shape == ():
        role = roles_mod._role(Role.STEP, f"an integer scalar ({var.dtype})")
    if var.trainable:
        role = roles_mod._role(Role.WEIGHT, f"trainable ({var.trainable_source or 'flag'})")
    if var.dtype in roles_mod._RESOURCE_TYPES:
        role = roles_mod._role(Role.RESOURCE, f"dtype {var.dtype}")
    return role


def _roles(art):
    return variable_roles(art, analyse_updates(art))


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(row, max_size=40), touched=st.lists(st.tuples(st.integers(0, 39), st.sampled_from(
    ["trainable", "layer", "untrained"])), max_size=6))
def test_a_table_has_the_roles_of_the_same_variables_as_a_dict_and_of_the_oracle(rows, touched):
    bare, plain = _artifacts(rows)
    names = bare.variables.names
    for k, what in touched:  # variables someone made and changed since (a reader, a live model)
        if k < len(names):
            for var in (bare.variables[names[k]], plain.variables[names[k]]):
                if what == "trainable":
                    var.trainable, var.trainable_source = True, "collection `trainable_variables`"
                elif what == "layer":
                    var.keras_layer = "dense"
                else:
                    var.trainable = False
    got, want = _roles(bare), _roles(plain)
    assert isinstance(got, RoleTable) and isinstance(want, dict)
    assert list(got) == list(want) and sorted(got) == names and len(got) == len(want)
    assert list(got.items()) == list(want.items())
    # Steps 1 and 2 decide only a Keras 3 optimizer's own keys here; the oracle all the others.
    assert {n: r for n, r in want.items() if not n.startswith("optimizer/_variables/")} == {
        n: _oracle(v) for n, v in plain.variables.items() if not n.startswith("optimizer/_variables/")}
    for n in names:
        assert got[n] is want[n] and got.get(n) is want[n] and n in got
    for missing in ("", "nope/Adam", names[0] + "x" if names else "x"):
        if missing not in want:
            assert missing not in got and got.get(missing) is None and got.get(missing, 1) == 1
    model = model_variables(got)
    assert isinstance(model, ModelNames)
    assert model == model_variables(want) == {n for n, r in want.items() if r.is_model}
    assert len(model) == len(model_variables(want)) and list(model) == [n for n in names if want[n].is_model]
    assert all((n in model) == want[n].is_model for n in names) and "nope" not in model
    assert set(names) & model == model_variables(want) and model & set(names) == model_variables(want)
    assert covers(got, bare.variables) and covers(want, plain.variables)
    assert model_variables(got) is model  # made once


def test_decided_roles_come_first_in_the_order_they_were_decided_and_win_over_the_name_and_the_type():
    own = "optimizer/_variables/{}/.ATTRIBUTES/VARIABLE_VALUE".format
    rows = [("a/kernel", "float32", (2,)), ("a/kernel/m", "float32", (2,)), ("a/kernel/Adam", "float32", (2,)),
            ("global_step", "int64", ()), ("metrics/total", "float32", ()), ("w", "int64", ()),
            (own(0), "int64", ()), (own(1), "float32", (2,)), (own(2), "float32", (2,)), ("z", "float32", ())]
    artifacts = _artifacts(rows)
    for art in artifacts:
        art.variables["a/kernel"].slots = ["a/kernel/m", own(2), "nothing/such"]  # links someone read
        art.object_variable_ids = {7: "metrics/total", 8: own(1), 9: "z"}
        art.object_paths = {7: "optimizer/iter", 8: "keras_api/metrics/x", 9: "keras_api/metrics/z"}
    bare, plain = artifacts
    roles, want = _roles(bare), _roles(plain)
    assert isinstance(roles, RoleTable) and list(roles.items()) == list(want.items())
    assert list(roles)[:6] == ["a/kernel/m", own(2), own(0), own(1), "metrics/total", "z"]
    slot = roles_mod.VariableRole(Role.OPTIMIZER_SLOT, "the checkpoint lists it as another variable's slot")
    assert roles["a/kernel/m"] == roles[own(2)] == slot
    assert roles[own(0)] == roles_mod.VariableRole(
        Role.STEP, "checkpoint key `optimizer/_variables/0` (a Keras 3 optimizer's own)")
    assert roles[own(1)].role is Role.OPTIMIZER_SLOT and "Keras 3" in roles[own(1)].evidence
    assert roles["metrics/total"].role is Role.STEP and "object-graph path" in roles["metrics/total"].evidence
    assert roles["z"].role is Role.METRIC
    assert roles["a/kernel/Adam"] is roles_mod._SLOT_BY_NAME and roles["w"].evidence == "an integer scalar (int64)"
    assert model_variables(roles) == model_variables(want) == {"a/kernel"} and len(model_variables(roles)) == 1
    assert list(model_variables(roles)) == ["a/kernel"]
    assert not bare.variables._made.keys() - {"a/kernel"}  # the Keras 3 state is decided from the columns


def test_provenance_of_a_table_with_optimizer_slots_equals_the_dicts():
    """TF1 names with Adam's slots: the model is not every variable, and the fingerprint sees
    only the model's shapes, from the table's columns."""
    rows = []
    for block, width in ((1, 64), (2, 128)):
        for conv in (1, 2):
            for part, shape in (("kernel", (3, 3, width, width)), ("bias", (width,))):
                base = f"vgg19/block{block}_conv{conv}/{part}"
                rows += [(base, "float32", shape), (base + "/Adam", "float32", shape),
                         (base + "/Adam_1", "float32", shape)]
    rows += [("beta1_power", "float32", ()), ("beta2_power", "float32", ()), ("global_step", "int64", ())]
    bare, plain = _artifacts(rows)
    got = Analyses(bare, Settings())
    want = Analyses(plain, Settings())
    assert isinstance(got.roles, RoleTable) and isinstance(got.model_variables, ModelNames)
    assert got.model_variables == want.model_variables and len(got.model_variables) == 8
    assert got.provenance == want.provenance
    assert provenance(bare, Settings(), roles=got.roles) == provenance(plain, Settings(), roles=want.roles)


@settings(max_examples=200, deadline=None)
@given(strings=st.lists(name, max_size=40))
def test_roles_by_name_equal_role_by_name_on_real_and_hostile_names(strings):
    got = roles_mod._roles_by_name(strings)
    assert got == {k: r for k, n in enumerate(strings) if (r := role_by_name(n)) is not None}
