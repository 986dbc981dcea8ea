"""The matcher's column path (match_architectures picking candidates by their distinct parts, a
ShapeColumns over a checkpoint's columns, provenance reading a VariableTable) finds exactly what
the per-name path before it found, on names as TF1, TF2 and Keras 3 write them."""

from __future__ import annotations

import random
import subprocess
import sys
from collections import Counter
from operator import itemgetter
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from graphaudit.analysis import provenance as provenance_mod
from graphaudit.analysis.columns import VariableColumns
from graphaudit.artifact import VariableTable
from graphaudit.bulk import Joined
from graphaudit.catalog import matcher
from graphaudit.catalog.matcher import ShapeColumns, load_catalog, match_architectures

CATALOG = load_catalog()


def slow_match(variables: dict[str, Any], min_quality: float = 0.9) -> list[matcher.ArchitectureMatch]:
    """match_architectures before the column path: families from every name's folder
    (Catalog._families_in), and every name whose last part is a weight name of the index
    collected, each shape looked up by name."""
    names = list(variables)
    joined = Joined(names)
    cleans, splits = matcher._split_names(names, joined)
    families = matcher._families_in(*matcher._packaged_layers(), splits, joined.starting("/"))
    if not families:
        return []
    found = matcher._Matcher(CATALOG._index(families), min_quality)
    wanted = set(map(itemgetter(2), splits)) & found.index.weight_names
    picked = [k for k, (head, _, leaf) in enumerate(splits) if head and leaf in wanted]
    found.collect((names[k], cleans[k], variables[names[k]]) for k in picked)
    found.find_instances()
    found.assign_tops()
    matches = [matcher._to_match(found.archs[i.arch], i, variables) for i in found.instances]
    matches.sort(key=lambda m: (m.scope, int(m.suffix[1:] or 0), m.offsets, m.architecture, m.variables))
    return matches


# -- names as the formats write them ----------------------------------------------------------

def build(rng: random.Random, architectures: list[tuple[str, bool]], style: str, scope: str,
          optimizer: bool) -> dict[str, Any]:
    """Variables of ``architectures`` built in turn, named in ``style`` (tf1, tf1_colon, keras3,
    keras3_colon, tf2_keys), some weights dropped or reshaped, and optimizer slots beside them."""
    out: dict[str, Any] = {}
    numbers: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for architecture, include_top in architectures:
        created: Counter[str] = Counter()
        renamed: dict[str, str] = {}
        for spec in CATALOG.fingerprints[architecture].weights:
            if spec.top and not include_top or rng.random() < 0.01:
                continue
            if spec.layer not in renamed:
                layer = spec.layer
                if spec.auto:
                    split = matcher._split_number(layer) or (layer, 0)
                    number = split[1] + numbers[split[0]]
                    layer = f"{split[0]}_{number}" if number else split[0]
                    created[split[0]] += 1
                else:
                    if seen[layer]:
                        layer = f"{layer}_{seen[layer]}"
                    seen[spec.layer] += 1
                renamed[spec.layer] = layer
            layer = renamed[spec.layer]
            weight = spec.weight
            if style.startswith("keras3"):
                layer = layer.replace("/", "_")
                weight = "kernel" if weight == "depthwise_kernel" else weight
            shape = tuple(224 if d is None else d for d in spec.shape)
            if rng.random() < 0.01:
                shape = shape[:-1] + (shape[-1] + 1,) if shape else (1,)
            base = f"{scope}{layer}/{weight}"
            if style == "tf2_keys":
                out[f"{base}/.ATTRIBUTES/VARIABLE_VALUE"] = shape
                if optimizer and spec.trainable:
                    for slot in "mv":
                        out[f"{base}/.OPTIMIZER_SLOT/optimizer/{slot}/.ATTRIBUTES/VARIABLE_VALUE"] = shape
                continue
            colon = ":0" if style.endswith("_colon") else ""
            out[base + colon] = shape
            if optimizer and spec.trainable:
                if style.startswith("keras3"):
                    for slot in ("momentum", "velocity"):
                        out[f"adam/{layer}_{weight}_{slot}{colon}"] = shape
                else:
                    for slot in ("Adam", "Adam_1"):
                        out[f"{base}/{slot}{colon}"] = shape
        numbers.update(created)
    return out


ODD_NAMES = ["kernel", "/kernel", "a//kernel", "conv1/kernel:x", "conv2d:0/kernel", "block1_conv1:3/bias:0",
             "global_step", "beta1_power:0", "conv1/conv/kernel", "x/conv1/bn/gamma", "Conv_1/kernel:0",
             "block1_conv1_/kernel", "_1/kernel", "block1_conv1/kernel:0:0", "é/block1_conv1/kernel"]

CASES = [
    ([("VGG19", False)], "tf1_colon", "", True),
    ([("VGG16", True), ("VGG19", False)], "tf1", "model/", True),
    ([("ResNet50", False), ("ResNet50V2", False)], "tf1_colon", "", False),
    ([("MobileNetV2 alpha=0.35", False)], "keras3", "", True),
    ([("MobileNetV2 alpha=1.0", True), ("MobileNet alpha=0.25", False)], "tf1", "net/backbone/", True),
    ([("EfficientNetB0", True), ("EfficientNetB0", False)], "tf1_colon", "", False),
    ([("DenseNet121", False)], "keras3", "functional/", True),
    ([("DenseNet121", False)], "tf1", "", True),
    ([("InceptionV3", True), ("Xception", False)], "tf1", "", False),
    ([("NASNetMobile", False)], "tf1_colon", "classifier/", False),
    ([("VGG19", True)], "tf2_keys", "model/", True),
    ([("ResNet101", False)], "tf1", "", True),
    ([("EfficientNetB3", False), ("VGG16", True)], "keras3_colon", "", True),
]


def variants(variables: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    out = dict(variables)
    for name in ODD_NAMES:
        out[name] = rng.choice([(3, 3, 3, 64), (64,), (4,), None])
    return out


def same(a: list[matcher.ArchitectureMatch], b: list[matcher.ArchitectureMatch]) -> None:
    assert a == b
    assert [m.catalog_weights for m in a] == [m.catalog_weights for m in b]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_the_column_path_finds_what_the_per_name_path_found(case: int) -> None:
    architectures, style, scope, optimizer = CASES[case]
    rng = random.Random(case)
    variables = variants(build(rng, architectures, style, scope, optimizer), rng)
    expected = slow_match({n: s for n, s in variables.items() if s is not None})
    if style != "tf2_keys":  # checkpoint keys name no weight: nothing is found, by either path
        assert expected
    same(match_architectures(variables), expected)
    # The columns of a bare checkpoint (sorted names, their last parts, their Joined) find
    # the same; with the Joined, leaves mostly distinct (Keras 3 slots) are asked one by one.
    names = sorted(variables)
    leaves = [n.rpartition("/")[2] for n in names]
    shapes = [variables[n] for n in names]
    for joined in (None, Joined(names)):
        same(match_architectures(ShapeColumns(names, shapes, leaves, None, joined)), expected)
    # ... and among some names only, as provenance asks for the model's variables.
    among = {n for n in names if rng.random() < 0.9}
    expected = slow_match({n: s for n, s in variables.items() if s is not None and n in among})
    for joined in (None, Joined(names)):
        same(match_architectures(ShapeColumns(names, shapes, leaves, among, joined)), expected)


@pytest.mark.parametrize("case", [0, 3, 5, 10, 12])
def test_provenance_of_a_variable_table_is_the_per_name_path_s(case: int) -> None:
    architectures, style, scope, optimizer = CASES[case]
    rng = random.Random(case)
    variables = build(rng, architectures, style, scope, optimizer)
    names = sorted(variables)
    table = VariableTable(names, ["float"] * len(names), [variables[n] for n in names])
    model = frozenset(n for n in names if "Adam" not in n and "OPTIMIZER_SLOT" not in n and "adam/" not in n)
    for among in (None, model):
        drafts = provenance_mod._fingerprint_drafts(VariableColumns(table), among)
        expected = slow_match({n: variables[n] for n in names if among is None or n in among})
        assert [(d.architecture, d.scope, d.suffix, d.include_top, sorted(d.variables), d.catalog_weights)
                for d in drafts] == [(m.architecture, m.scope.rstrip("/"), m.suffix, m.include_top,
                                      list(m.variables), dict(zip(m.variables, m.catalog_weights)))
                                     for m in expected]
        assert bool(drafts) == (style != "tf2_keys")
    assert table._made == {}  # no Variable was made to find them


part = st.sampled_from(["block1_conv1", "block1_conv1_1", "conv1", "conv", "conv1_conv", "conv2d", "conv2d_7",
                        "batch_normalization_3", "model", "", "Conv_1", "expanded_conv", "bn", "a:0", "x_1",
                        "normal_A_block_2", "separable_conv_1_normal_left5_2", "stem_bn1", "Adam"])
leaf = st.sampled_from(["kernel", "kernel:0", "bias", "bias:1", "gamma", "moving_mean:0", "depthwise_kernel",
                        "Adam", "VARIABLE_VALUE", "kernel:x", "count", "x"])
shape = st.sampled_from([(3, 3, 3, 64), (64,), (3, 3, 32, 1), (1, 1, 96, 16), (16,), (4,), None])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.builds(lambda parts, last: "/".join([*parts, last]), st.lists(part, max_size=4), leaf),
                       shape, max_size=25))
def test_any_names_find_what_the_per_name_path_found(variables: dict[str, Any]) -> None:
    expected = slow_match({n: s for n, s in variables.items() if s is not None})
    same(match_architectures(variables), expected)
    names = sorted(variables)
    same(match_architectures(ShapeColumns(names, [variables[n] for n in names])), expected)
    leaves = [n.rpartition("/")[2] for n in names]
    same(match_architectures(ShapeColumns(names, [variables[n] for n in names], leaves, None, Joined(names))), expected)


def test_shape_columns_are_the_mapping_of_the_known_shapes() -> None:
    columns = ShapeColumns(["a", "b", "c", "d"], [(1,), None, (2, 3), ()], among={"a", "b", "d"})
    assert dict(columns) == {"a": (1,), "d": ()} and len(columns) == 2
    assert "b" not in columns and "c" not in columns and "x" not in columns and columns["d"] == ()
    with pytest.raises(KeyError):
        columns["c"]
    with pytest.raises(ValueError):
        ShapeColumns(["a"], [])
    with pytest.raises(ValueError):
        ShapeColumns(["a"], [(1,)], joined=Joined(["a"]))  # the Joined of another list


def test_weight_rows_by_a_set_of_leaves_or_leaf_by_leaf() -> None:
    # Leaves that repeat are tested as a set, mostly distinct ones (with a Joined) one by one.
    rng = random.Random(7)
    words = ["kernel", "kernel:0", "kernel:x", "bias:12", "Adam", "gamma:0:0", "moving_mean", "x:0"]
    for distinct in (False, True):
        names = sorted({f"a{rng.randrange(9)}/{rng.choice(words)}" + (f"_{k}" if distinct and k % 3 else "")
                        for k in range(3000)})
        leaves = [n.rpartition("/")[2] for n in names]
        weights = matcher._PACKAGED_WEIGHTS
        expected = [k for k, leaf in enumerate(leaves) if matcher._strip_output_index(leaf) in weights]
        assert expected
        for joined in (None, Joined(names)):
            assert matcher._weight_rows(leaves, weights, joined) == expected


def test_the_packaged_weight_names_are_the_catalogue_s() -> None:
    assert matcher._PACKAGED_WEIGHTS == matcher._weight_names(CATALOG)
    assert {spec.weight for fp in CATALOG.fingerprints.values() for spec in fp.weights} == matcher._PACKAGED_WEIGHTS


def test_a_numbered_layer_name_has_the_families_of_its_base() -> None:
    # Why the column path indexes what the per-name path did: a family hit through a layer's
    # `_N`-less base is always among the families of the numbered name itself when both are
    # layer names of the packaged table (the per-name path looked the base up only then).
    table = matcher._packaged_layers()[0]
    for name, families in table.items():
        split = matcher._split_number(name)
        if split and split[0] in table:
            assert table[split[0]] <= families, name


def test_a_checkpoint_naming_no_catalogued_weight_never_reads_the_templates() -> None:
    code = (
        "from graphaudit.catalog import matcher\n"
        "names = [f'model/block1_conv{i}/kernel/.ATTRIBUTES/VARIABLE_VALUE' for i in range(9)]\n"
        "assert matcher.match_architectures(matcher.ShapeColumns(names, [(3, 3, 3, 64)] * 9)) == []\n"
        "assert matcher.match_architectures({'block1_conv1/Adam': (3, 3, 3, 64), 'x/conv9/kernel': (1,)}) == []\n"
        "print(matcher.load_catalog.cache_info().currsize)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["0"]


def test_layer_hits_are_the_lookups_part_by_part() -> None:
    table = matcher._packaged_layers()[0]
    rng = random.Random(3)
    keys = sorted(table)
    parts = {rng.choice(keys) + rng.choice(["", "_1", "_12", "_", "_x", "1", "_0_3", "_٣", "a_7"]) for _ in range(4000)}
    parts |= {"", "_", "_1", "dense_5", "conv2d", "conv2d_99", "block1_conv1_1", "x/conv1", "conv1/conv_2"}
    expected: dict[str, frozenset[str]] = {}
    for part in parts:
        split = matcher._split_number(part)
        found = table.get(part) or (table.get(split[0]) if split else None)
        if found:
            expected[part] = found
    hits, families = matcher._layer_hits(parts, table)
    assert hits == set(expected)
    assert families == frozenset().union(*expected.values())
