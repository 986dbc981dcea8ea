"""optimizer_slots' bulk passes (masks over the rows, scans per distinct name part) equal the
per-variable search they replace, on dicts and on a bare checkpoint's VariableTable, for the name
styles of every optimizer writer and hostile ones."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from graphaudit.analysis import slots as slots_mod
from graphaudit.analysis.columns import VariableColumns
from graphaudit.artifact import Artifact, Format, Variable, VariableTable
from tests.test_bulk_analyses import PARTS, _owner_by_name_oracle


def _oracle(variables) -> tuple:
    """The slot evidence as the per-variable tests give it: `_is_optimizer_variable`, then the
    full search over every run of parts, then the Keras 3 flat names, one variable at a time."""
    items = list(variables.items())
    weights, slot_variables, by_variable = 0, set(), {}
    linked_keys = set()
    for name, var in items:
        for key in var.slots:
            by_variable.setdefault(var.name, []).append((var.name, slots_mod._slot_name_of_key(key), key))
            weights += 1
            linked_keys.add(key)
    flat = None
    for name, var in items:
        key = var.checkpoint_key or ""
        if key in linked_keys:
            slot_variables.add(name)
            continue
        if not slots_mod._is_optimizer_variable(name, var):
            continue
        weights += 1
        owner, slot = _owner_by_name_oracle(name, var.shape, variables)
        if owner is None and key.startswith(slots_mod.KERAS3_STATE_KEY):
            if flat is None:
                flat = {}
                for other, _ in items:
                    if "/" in other:
                        flat_name = other.replace("/", "_")
                        flat[flat_name] = "" if flat_name in flat else other
            owner, slot = slots_mod._owner_by_flat_name(name, var.shape, variables, flat)
        if owner is not None:
            slot_variables.add(name)
            by_variable.setdefault(owner, []).append((owner, slot, key or name))
    return weights, slot_variables, by_variable


def _got(artifact) -> tuple:
    ev = slots_mod.optimizer_slots(artifact, VariableColumns(artifact.variables))
    return (ev.optimizer_weights, ev.slot_variables,
            {v: [(s.variable, s.slot, s.key) for s in slots] for v, slots in ev.by_variable.items()})


def _table(rows: dict[str, tuple | None]) -> VariableTable:
    names = sorted(rows)
    return VariableTable(names, ["float"] * len(names), [rows[n] for n in names])


def _table_oracle(rows: dict[str, tuple | None]) -> tuple:
    # A fresh table, so that the variables the search makes do not carry over.
    return _oracle(_table(rows))


def _check_table(rows: dict[str, tuple | None]) -> None:
    art = Artifact(path="<test>", format=Format.CHECKPOINT, variables=_table(rows))  # type: ignore[arg-type]
    assert _got(art) == _table_oracle(rows)


part = st.one_of(st.sampled_from(PARTS), st.text(max_size=4))
name = st.lists(part, min_size=1, max_size=6).map("/".join).filter(bool)
shape = st.sampled_from([None, (), (2,), (3, 2)])


@settings(max_examples=300, deadline=None)
@given(rows=st.dictionaries(name, shape, max_size=40))
def test_a_variable_table_gives_what_the_per_variable_search_gives(rows):
    _check_table(rows)


def _grow(rows: dict, scopes: int) -> dict:
    """``rows`` plus many plain weights: the bulk scans run only when the candidates are a
    fair share of all rows, and the first-part scans only for few distinct first parts."""
    out = dict(rows)
    for k in range(200):
        out[f"w{k % scopes}/dense_{k}/kernel"] = (2,)
    return out


@settings(max_examples=150, deadline=None)
@given(rows=st.dictionaries(name, shape, min_size=1, max_size=40), scopes=st.sampled_from([1, 3, 40]))
def test_the_scans_over_many_rows_give_what_the_per_variable_search_gives(rows, scopes):
    # Slot-like rows beside a block of weights, so the candidates are a fair share and each way
    # (few first parts: scans; many: the per-name shortcut) runs.
    slots = {f"{n}/Adam_1": s for n, s in rows.items()}
    slots.update({f"training/Adam/{n}/m": s for n, s in rows.items()})
    slots.update({f"x/.OPTIMIZER_SLOT/{n}/m": s for n, s in rows.items()})
    _check_table(_grow({**rows, **slots}, scopes))


variable = st.builds(
    lambda name, key, trainable, shape: Variable(name=name, checkpoint_key=key, trainable=trainable, shape=shape),
    name, st.one_of(st.none(), name, name.map(lambda n: "optimizer/" + n), name.map(lambda n: "optimizer/_variables/" + n),
                    name.map(lambda n: "optimizer/_trainable_variables/" + n), name.map(lambda n: n + "/.OPTIMIZER_SLOT/o/m")),
    st.sampled_from([None, True, False]), shape)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(variable, max_size=40), links=st.lists(st.tuples(st.integers(0, 39), st.integers(0, 39)), max_size=4))
def test_a_dict_gives_what_the_per_variable_search_gives(values, links):
    variables = {v.name: v for v in values}
    values = list(variables.values())
    for owner, slot in links:  # links the readers made (TF2 object graph)
        if owner < len(values) and slot < len(values) and values[slot].checkpoint_key:
            values[owner].slots.append(values[slot].checkpoint_key)
    art = Artifact(path="<test>", format=Format.SAVED_MODEL_V2, variables=variables)
    assert _got(art) == _oracle(variables)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(variable, max_size=40), skip=st.sets(st.integers(0, 39)))
def test_optimizer_variables_over_columns_equal_the_per_variable_test(values, skip):
    variables = {v.name: v for v in values}
    names = list(variables)
    columns = VariableColumns(variables)
    want = [k for k, (n, v) in enumerate(variables.items()) if k not in skip and slots_mod._is_optimizer_variable(n, v)]
    assert slots_mod.optimizer_variables(names, columns.values, skip, columns) == want
    assert slots_mod.optimizer_variables(names, list(variables.values()), skip) == want


def _family(style: str, n: int) -> dict[str, tuple]:
    """Checkpoint names as each writer makes them, ``n`` variables."""
    rows: dict[str, tuple] = {}
    for i in range(n):
        s = (2,) if i % 2 else (3, 2)
        if style == "tf1":
            v = f"vgg19/block{i // 50}_conv{i % 50}/kernel"
            rows.update({v: s, v + "/Adam": s, v + "/Adam_1": s})
        elif style == "tf1_global":
            v = f"scope_{i}/w"
            rows.update({v: s, v + "/Momentum": s, f"RMSProp/{v}/rms": s, "global_step": ()})
        elif style == "training":
            v = f"dense_{i % 40}/kernel" if i < 40 else f"model/dense_{i}/kernel"
            rows.update({v: s, f"training/Adam/{v}/m": s, f"training/Adam/{v}/v": s, "training/Adam/iter": ()})
        elif style == "adam_m":
            v = f"model/dense_{i}/kernel:0" if i % 5 == 0 else f"model/dense_{i}/kernel"
            rows.update({v: s, f"Adam/m/{v}": s, f"Adam/v/{v}": s, "Adam/iter": ()})
        elif style == "keras3":
            rows.update({f"layer_with_weights-{i}/kernel/.ATTRIBUTES/VARIABLE_VALUE": s,
                         f"optimizer/_trainable_variables/{i}/.ATTRIBUTES/VARIABLE_VALUE": s,
                         f"optimizer/_variables/{2 * i + 1}/.ATTRIBUTES/VARIABLE_VALUE": s,
                         "optimizer/_variables/0/.ATTRIBUTES/VARIABLE_VALUE": ()})
        elif style in ("tf2", "tf2_iter"):
            base = f"model/block_{i // 50:05d}/layer_{i % 50:02d}/kernel"
            rows[f"{base}/.ATTRIBUTES/VARIABLE_VALUE"] = s
            for m in "mv":
                rows[f"{base}/.OPTIMIZER_SLOT/optimizer/{m}/.ATTRIBUTES/VARIABLE_VALUE"] = s
            if style == "tf2_iter":
                rows["optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE"] = ()
                rows["save_counter/.ATTRIBUTES/VARIABLE_VALUE"] = ()
                # an owner inside a slot's key, by name: `<x>/optimizer/iter/...` under it
                rows["model/.OPTIMIZER_SLOT/x/optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE"] = ()
        elif style == "keras_tf2":  # `model.save_weights`: a first part per layer, `optimizer/iter` beside
            for w in ("kernel", "bias"):
                base = f"layer_with_weights-{i}/{w}"
                rows[f"{base}/.ATTRIBUTES/VARIABLE_VALUE"] = s
                for m in "mv":
                    rows[f"{base}/.OPTIMIZER_SLOT/optimizer/{m}/.ATTRIBUTES/VARIABLE_VALUE"] = s
            rows.update({f"optimizer/{k}/.ATTRIBUTES/VARIABLE_VALUE": () for k in ("iter", "beta_1", "decay")})
            rows["layer_with_weights-0/.OPTIMIZER_SLOT/x/optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE"] = ()
        elif style == "tf2_plain":
            rows[f"model/block_{i // 50:05d}/layer_{i % 50:02d}/kernel/.ATTRIBUTES/VARIABLE_VALUE"] = s
    return rows


@pytest.mark.parametrize("style", ["tf1", "tf1_global", "training", "adam_m", "keras3", "keras_tf2", "tf2", "tf2_iter", "tf2_plain"])
def test_each_writers_names_at_scale_give_the_per_variable_answer(style):
    _check_table(_family(style, 2100))  # past the size at which the names are kept in a set


def test_a_written_bundle_gives_the_per_variable_answer(tmp_path):
    from graphaudit.formats.checkpoint_writer import write_checkpoint
    from graphaudit.formats.readers import read
    from graphaudit.formats.sniff import Candidate

    rows = {**_family("tf1", 30), **_family("tf2_iter", 30), **_family("adam_m", 10)}
    write_checkpoint(tmp_path / "ckpt", {n: np.zeros(s, np.float32) for n, s in rows.items()})
    art = read(Candidate(str(tmp_path / "ckpt.index"), Format.CHECKPOINT), max_file_size=1 << 30)
    assert isinstance(art.variables, VariableTable)
    got = _got(art)
    assert got == _table_oracle({n: tuple(s) for n, s in rows.items()})
    assert got[0] == 2 * 30 + 2 * 30 + 2 * 10 + 3 and len(got[1]) == 2 * 30 + 2 * 10 + 1
