"""A bare checkpoint's variables as columns (`VariableTable`) against the dict of Variables it stands for.

The reader keeps a checkpoint without an object graph as the index's columns and makes a Variable
only when one is looked up. Every analysis, rule and `inspect` must answer exactly as they do for
the plain dict the reader used to build: each case below is audited both ways and compared.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from graphaudit.analysis import Analyses
from graphaudit.analysis.columns import VariableColumns
from graphaudit.analysis.coverage import source_counts
from graphaudit.artifact import Artifact, Variable, VariableTable, made_variables, variable_params
from graphaudit.catalog.matcher import load_catalog
from graphaudit.config import Settings
from graphaudit.engine import check_artifact
from graphaudit.formats.checkpoint_writer import write_checkpoint
from graphaudit.formats.readers import read_checkpoint
from graphaudit.inspection import CONSOLE_VARIABLES, inspect_dict
from graphaudit.reporters.base import finding_dict

RNG = np.random.default_rng(7)
TF2 = "/.ATTRIBUTES/VARIABLE_VALUE"


def _backbone(architecture: str) -> dict[str, tuple[int, ...]]:
    """The catalogued weights of ``architecture`` without its top, as `layer/weight` -> shape."""
    fp = load_catalog().fingerprints[architecture]
    return {f"{w.layer}/{w.weight}": tuple(w.shape) for w in fp.weights
            if not w.top and None not in w.shape}


def _values(shapes: dict[str, tuple[int, ...]], *, scale: float = 0.05) -> dict[str, np.ndarray]:
    return {k: (RNG.standard_normal(s) * scale).astype(np.float32) for k, s in shapes.items()}


def _tf1_adam(scope: str) -> dict[str, np.ndarray]:
    """A TF1 Saver's names: the weights, their Adam slots, beta powers and the step."""
    weights = _values({f"{scope}{k}": s for k, s in _backbone("MobileNetV2 alpha=0.35").items()})
    out = dict(weights)
    for k, v in weights.items():
        out[f"{k}/Adam"] = np.zeros_like(v)
        out[f"{k}/Adam_1"] = np.zeros_like(v)
    out["beta1_power"] = np.array(0.9, np.float32)
    out["global_step"] = np.array(1200, np.int64)
    return out


def _tf2_keys() -> dict[str, np.ndarray]:
    """TF2-style object keys with optimizer slots beside them, without the object graph."""
    out: dict[str, np.ndarray] = {}
    for k, (name, v) in enumerate(_values(_backbone("MobileNet alpha=0.25")).items()):
        base = f"model/layer_with_weights-{k // 2}/{name.rsplit('/', 1)[1]}"
        out[base + TF2] = v
        for slot in ("m", "v"):
            out[f"{base}/.OPTIMIZER_SLOT/optimizer/{slot}{TF2}"] = np.zeros_like(v)
    out["optimizer/iter" + TF2] = np.array(3, np.int64)
    out["save_counter" + TF2] = np.array(1, np.int64)
    return out


def _keras3_and_metrics() -> dict[str, np.ndarray]:
    """Keras 3 optimizer state by index, metric accumulators and a resource-free tail."""
    out = {f"mobilenetv3small_1/{k}": v for k, v in _values(_backbone("MobileNetV3Small alpha=0.75 minimalistic")).items()}
    out["optimizer/_variables/0" + TF2] = np.array(7, np.int64)
    for k, name in enumerate(sorted(out)[:6], start=1):
        if not name.startswith("optimizer/"):
            out[f"optimizer/_variables/{k}" + TF2] = np.zeros_like(out[name])
    out["metrics/accuracy/total"] = np.array(3.0, np.float32)
    out["metrics/accuracy/count"] = np.array(4.0, np.float32)
    out["batch_normalization/moving_mean"] = np.zeros(8, np.float32)
    out["dense/kernel:0"] = RNG.standard_normal((4, 3)).astype(np.float32)
    out["émoji/kernel"] = np.ones((2, 2), np.float32)
    return out


CASES = {"tf1 adam": lambda: _tf1_adam(""), "tf1 adam scoped": lambda: _tf1_adam("tower_1/"),
         "tf2 keys": _tf2_keys, "keras3 and metrics": _keras3_and_metrics}


def _read_both(tmp_path: Path, tensors: dict[str, np.ndarray]) -> tuple[Artifact, Artifact]:
    """The artifact as read (a VariableTable), and its twin with the dict the table stands for."""
    prefix = tmp_path / "model.ckpt"
    write_checkpoint(prefix, tensors)
    art = read_checkpoint(Path(f"{prefix}.index"), 1 << 40)
    assert isinstance(art.variables, VariableTable)
    twin = Artifact(path=art.path, format=art.format, checkpoint=art.checkpoint, value_sources=art.value_sources)
    twin.variables = {name: Variable(name=name, dtype=str(tensors[name].dtype), shape=tuple(tensors[name].shape),
                                     checkpoint_key=name, restored=True) for name in sorted(tensors)}
    return art, twin


def _findings(art: Artifact) -> list[dict]:
    return [json.loads(json.dumps(finding_dict(f))) for f in check_artifact(art, Settings()).findings]


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_table_audits_and_inspects_as_the_dict_it_stands_for(tmp_path, case):
    art, twin = _read_both(tmp_path, CASES[case]())
    assert dict(art.variables.items()) == twin.variables
    assert _findings(art) == _findings(twin)
    fresh, fresh_twin = _read_both(tmp_path / "again", CASES[case]())
    for listed in (None, CONSOLE_VARIABLES, 3):
        assert inspect_dict(fresh, listed=listed) == inspect_dict(fresh_twin, listed=listed)


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_analyses_read_the_same_columns_and_make_no_variable(tmp_path, case):
    art, twin = _read_both(tmp_path, CASES[case]())
    facts, twin_facts = Analyses(art, Settings()), Analyses(twin, Settings())
    cols, twin_cols = VariableColumns(art.variables), VariableColumns(twin.variables)
    for column in ("names", "keys", "dtypes", "shapes", "trainable", "leaves", "firsts"):
        assert list(getattr(cols, column)) == list(getattr(twin_cols, column)), column
    assert dict(facts.roles) == dict(twin_facts.roles)
    assert set(facts.model_variables) == set(twin_facts.model_variables)
    assert facts.slots.by_variable == twin_facts.slots.by_variable
    assert facts.read_variables == twin_facts.read_variables
    assert dict(facts.coverage) == dict(twin_facts.coverage)
    assert source_counts(facts.coverage) == Counter(c.source.value for c in twin_facts.coverage.values())
    assert variable_params(art.variables) == sum(v.size for v in twin.variables.values()) > 0
    # Looking at every variable through the analyses made (almost) none of them.
    assert len(dict(made_variables(art.variables))) < len(art.variables) // 2


def test_a_variable_is_made_once_and_keeps_what_is_set_on_it(tmp_path):
    art, _ = _read_both(tmp_path, _tf1_adam(""))
    table = art.variables
    name = table.names[3]
    var = table[name]
    assert table[name] is var and table.at(3) is var and table.get(name) is var
    var.trainable = True
    assert VariableColumns(table).trainable[3] is True
    assert dict(made_variables(table)) == {name: var}
    assert "no/such/variable" not in table and table.get("no/such/variable") is None and 5 not in table
    with pytest.raises(KeyError):
        table["no/such/variable"]
    assert list(table) == sorted(table) and len(table) == len(table.names)
    assert repr(table) == f"<VariableTable of {len(table):,} variables>"


def test_a_checkpoint_with_an_object_graph_keeps_a_dict(tmp_path):
    """Only a bare checkpoint's variables are a table: the object graph names them otherwise."""
    from graphaudit.formats.protos import TrackableObjectGraph

    graph = TrackableObjectGraph()
    node = graph.nodes.add()
    attr = node.attributes.add()
    attr.name, attr.full_name, attr.checkpoint_key = "VARIABLE_VALUE", "dense/kernel", "dense/kernel" + TF2
    tensors = {"dense/kernel" + TF2: np.ones((2, 2), np.float32),
               "_CHECKPOINTABLE_OBJECT_GRAPH": np.array(graph.SerializeToString(), dtype=object)}
    write_checkpoint(tmp_path / "ckpt", tensors)
    art = read_checkpoint(tmp_path / "ckpt.index", 1 << 40)
    assert type(art.variables) is dict and list(art.variables) == ["dense/kernel"]
