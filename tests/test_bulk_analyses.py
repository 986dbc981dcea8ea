"""The per-variable analyses' bulk passes equal their per-name oracles on realistic and hostile names."""

from __future__ import annotations

import re

from hypothesis import given, settings, strategies as st

from graphaudit.analysis import roles as roles_mod
from graphaudit.analysis import slots as slots_mod
from graphaudit.artifact import Graph, Variable
from graphaudit.bulk import Joined
from graphaudit.catalog import matcher
from graphaudit.model.ops import classify_update, classify_updates
from tests.handmade import graph_def, node

# Name parts from every writer the analyses know, and hostile ones: unicode, empty parts,
# newlines (a joint of `Joined`), output indices, look-alikes of the optimizer words.
PARTS = ["Adam", "Adam_1", "Adam_12", "Adamax", "adam", "m", "v", "momentum", "velocity", "vhat", "kernel",
         "bias", "optimizer", "_variables", "_trainable_variables", ".OPTIMIZER_SLOT", ".ATTRIBUTES",
         "VARIABLE_VALUE", "training", "SGD", "RMSprop", "RMSProp_1", "Momentum", "Nadam", "Adagrad",
         "ExponentialMovingAverage", "moving_mean", "moving_variance:0", "global_step", "iterations",
         "iter:0", "total", "count_2", "accumulator", "true_positives_1:3", "beta1_power", "beta2_power",
         "conv1", "block1_conv1", "block1_conv1_4", "dense", "kernel:0", "bn", "é", "层", "", "x\ny",
         "Adam\n", "\noptimizer", "keras_api", "metrics", "model", "conv1/conv", "layer_00"]

part = st.one_of(st.sampled_from(PARTS), st.text(max_size=6))
name = st.lists(part, min_size=1, max_size=6).map("/".join)
names = st.lists(name, max_size=40)


@settings(max_examples=300, deadline=None)
@given(strings=names, needle=st.one_of(st.sampled_from(["Adam/", "optimizer/", "\n", "x\ny", "/", ":", "é/"]),
                                       st.text(max_size=4)))
def test_joined_finds_what_a_test_per_string_finds(strings, needle):
    joined = Joined(strings)
    assert joined.containing(needle) == [k for k, s in enumerate(strings) if needle in s]
    assert joined.starting(needle) == [k for k, s in enumerate(strings) if s.startswith(needle)]


@settings(max_examples=100, deadline=None)
@given(strings=st.lists(st.sampled_from(["Adam/m/w", "a/Adam/", "xAdam/", "Adam/", "w\nAdam/", "", "é/Adam/Adam/"]),
                        min_size=60, max_size=200),
       needle=st.sampled_from(["Adam/", "/", "Adam/Adam/", "\nAdam/", "m/w"]))
def test_joined_with_many_hits_finds_what_a_test_per_string_finds(strings, needle):
    # Past 64 hits the positions come from the pieces between them, unless hits can overlap.
    joined = Joined(strings)
    assert joined.containing(needle) == [k for k, s in enumerate(strings) if needle in s]
    assert joined.starting(needle) == [k for k, s in enumerate(strings) if s.startswith(needle)]
    assert joined.ending(needle) == [k for k, s in enumerate(strings) if s.endswith(needle)]


@settings(max_examples=300, deadline=None)
@given(strings=names, suffix=st.one_of(st.sampled_from(["/Adam", "kernel", "\n", "/", ""]), st.text(max_size=3)))
def test_joined_ending_equals_endswith(strings, suffix):
    assert Joined(strings).ending(suffix) == [k for k, s in enumerate(strings) if s.endswith(suffix)]


@settings(max_examples=300, deadline=None)
@given(strings=names, firsts=st.sets(part, max_size=10), lasts=st.sets(part, max_size=10), wide=st.booleans())
def test_may_own_equals_the_per_name_condition(strings, firsts, lasts, wide):
    # Both ways: one scan per end (few ends) and a test per name (many).
    firsts = {f.replace("/", "") for f in firsts} | ({f"f{k}" for k in range(20)} if wide else set())
    lasts = {s.replace("/", "") for s in lasts}
    ids = [3 * k for k in range(len(strings))]
    got = slots_mod._may_own(strings, ids, (frozenset(firsts), frozenset(lasts)))
    assert got == [ids[k] for k, n in enumerate(strings)
                   if not firsts.isdisjoint(n.split("/")[1:]) or not lasts.isdisjoint(n.split("/")[:-1])]


@settings(max_examples=300, deadline=None)
@given(strings=names)
def test_roles_by_name_in_bulk_equal_the_per_name_patterns(strings):
    got = roles_mod._roles_by_name(strings)
    assert got == {k: r for k, n in enumerate(strings) if (r := _role_by_name_oracle(n)) is not None}


def _role_by_name_oracle(name: str):
    """The last-resort name patterns as variable_roles tested them one variable at a time, at 5b67531."""
    if roles_mod._SLOT_NAME.search(name):
        return roles_mod._SLOT_BY_NAME
    if roles_mod._STATISTIC_NAME.search(name):
        return roles_mod._STATISTIC_BY_NAME
    if roles_mod._STEP_NAME.search(name):
        return roles_mod._STEP_BY_NAME
    if roles_mod._METRIC_NAME.search(name):
        return roles_mod._METRIC_BY_NAME
    return None


variable = st.builds(
    lambda name, key, trainable, shape: Variable(name=name, checkpoint_key=key, trainable=trainable, shape=shape),
    name, st.one_of(st.none(), name, name.map(lambda n: "optimizer/" + n), name.map(lambda n: "optimizer/_variables/" + n),
                    name.map(lambda n: "optimizer/_trainable_variables/" + n)),
    st.sampled_from([None, True, False]), st.sampled_from([None, (), (2,), (3, 2)]))


@settings(max_examples=300, deadline=None)
@given(variables=st.lists(variable, max_size=30), skip=st.sets(st.integers(0, 29)))
def test_optimizer_variables_in_bulk_equal_the_per_variable_test(variables, skip):
    names = [v.name for v in variables]
    got = slots_mod.optimizer_variables(names, variables, skip)
    assert got == [k for k, v in enumerate(variables) if k not in skip and slots_mod._is_optimizer_variable(v.name, v)]


@settings(max_examples=300, deadline=None)
@given(variables=st.lists(variable, max_size=30), probes=st.lists(name, max_size=10))
def test_owner_by_name_with_its_shortcut_equals_the_full_search(variables, probes):
    table = {v.name: v for v in variables}
    ends = slots_mod._name_ends(table)
    for probe in [*table, *probes]:
        for shape in (None, (2,), (3, 2)):
            assert slots_mod._owner_by_name(probe, shape, table, ends) == _owner_by_name_oracle(probe, shape, table)


def _owner_by_name_oracle(name, shape, variables):
    """`_owner_by_name` at 5b67531 without its candidate filters: every run of parts, longest first."""
    parts = name.split("/")
    n = len(parts)
    for length in range(n - 1, 0, -1):
        for start in range(0, n - length + 1):
            candidate = "/".join(parts[start:start + length])
            owner = variables.get(candidate)
            if owner is None or candidate == name or (shape is not None and owner.shape is not None
                                                      and tuple(owner.shape) != tuple(shape)):
                continue
            if start == 0:
                if length != n - 1 or not slots_mod.TF1_SLOT_RE.match(parts[-1]):
                    continue
                slot = parts[-1]
            elif start + length == n:
                slot = parts[start - 1]
            else:
                slot = parts[-1]
            return candidate, slot
    return None, ""


@settings(max_examples=200, deadline=None)
@given(strings=names)
def test_catalog_families_from_joined_parts_equal_the_per_folder_runs(strings):
    catalog = matcher.load_catalog()
    assert catalog.families_in(strings) == _families_in_oracle(catalog, strings)


def _families_in_oracle(catalog, variables):
    """`Catalog.families_in` at 5b67531: each distinct folder split, runs built folder by folder."""
    fingerprints = catalog.fingerprints
    table = fingerprints.families_of_layer()
    folders = set()
    for n in variables:
        head, sep, _ = matcher._strip_output_index(n).rpartition("/")
        if sep:
            folders.add(head)
    starts = fingerprints.multi_part_starts()
    runs: set[str] = set()
    for folder in folders:
        parts = folder.split("/")
        runs.update(parts)
        if len(parts) > 1 and not starts.isdisjoint(parts):
            for k, p in enumerate(parts[:-1]):
                if p in starts:
                    runs.add("/".join(parts[k:k + 2]))
                    if k + 3 <= len(parts):
                        runs.add("/".join(parts[k:k + 3]))
    found: set[str] = set()
    for layer in runs:
        hit = table.get(layer)
        if hit is None:
            split = matcher._split_number(layer)
            hit = table.get(split[0]) if split else None
        if hit:
            found |= hit
    return frozenset(found)


# Writes of every kind classify_update tells apart: optimizer ops, initializers by name, moving
# averages by name, assigns from restores, placeholders, BatchNorm, `/Initializer/` sources, others.
WRITE_OPS = ["Assign", "AssignVariableOp", "AssignAdd", "AssignSub", "AssignAddVariableOp", "AssignSubVariableOp",
             "ApplyAdam", "ResourceApplyAdam", "ResourceSparseApplyMomentum"]
SOURCE_OPS = ["Const", "RestoreV2", "Placeholder", "PlaceholderWithDefault", "FusedBatchNormV3", "Identity",
              "Mul", "VarHandleOp"]
WRITE_NAMES = ["w/Assign", "bn/AssignMovingAvg", "bn/AssignMovingAvg_1", "moving_mean/upd", "step/inc",
               "Adam/update", "load", "x"]
SOURCE_NAMES = ["w/Initializer/random_uniform", "save/RestoreV2", "ph", "gradients/g", "bn", "c", "é"]


@settings(max_examples=200, deadline=None)
@given(writes=st.lists(st.tuples(st.sampled_from(WRITE_OPS), st.sampled_from(WRITE_NAMES),
                                 st.sampled_from(SOURCE_OPS), st.sampled_from(SOURCE_NAMES),
                                 st.integers(0, 2)), min_size=1, max_size=12),
       initializers=st.sets(st.sampled_from(WRITE_NAMES)))
def test_classify_updates_in_bulk_equals_classify_update(writes, initializers):
    nodes = [node("var", "VarHandleOp")]
    writers = []
    for k, (op, wname, src_op, src_name, arity) in enumerate(writes):
        src = f"{src_name}_{k}" if k % 2 else src_name + "/" + str(k)
        # A source through an Identity now and then: classify_update follows it to its origin.
        nodes.append(node(src, src_op))
        via = src
        if k % 3 == 0:
            via = f"id_{k}"
            nodes.append(node(via, "Identity", src))
        inputs = ["var", via][:arity]
        writer = f"{wname}_{k}" if k % 2 else wname + "/" + str(k)
        nodes.append(node(writer, op, *inputs))
        writers.append(writer)
    graph = Graph("g", list(graph_def(*nodes).node))
    ids = [graph.index[w] for w in writers]
    inits = {writer for writer, w in zip(writers, writes) if w[1] in initializers}
    assert classify_updates(graph, ids, inits) == [classify_update(graph, i, inits) for i in ids]


def test_the_name_patterns_oracle_is_the_module_s_own():
    # The oracle above drops the cheap prefilters: they must only ever be necessary conditions.
    assert isinstance(roles_mod._SLOT_NAME, re.Pattern) and roles_mod.role_by_name("w/Adam_1") is roles_mod._SLOT_BY_NAME
    assert roles_mod.role_by_name("Adam/m/dense/kernel") is roles_mod._SLOT_BY_NAME
    assert roles_mod.role_by_name("bn/moving_mean:0") is roles_mod._STATISTIC_BY_NAME
    assert roles_mod.role_by_name("dense/kernel") is None
