"""Optimizer-slot evidence: which variables an optimizer kept state for, read from what was saved."""

# An optimizer keeps slots (Adam's `m` and `v`, Momentum's accumulator) only for the variables
# it trains, so slots in a checkpoint prove that a variable was trained. They show up as:
# - TF1 slot variables named `<var>/Adam`, `<var>/Adam_1`, `<var>/Momentum`, ...;
# - TF2 legacy optimizers: `.OPTIMIZER_SLOT` keys, linked to their variable by the
#   TrackableObjectGraph's `slot_variables` (the readers put them in `Variable.slots`);
# - tf_keras 2.11+ optimizers: opaque keys `optimizer/_variables/N`, tied to their variable only
#   by the slot variable's name `Adam/m/<var>`;
# - tf_keras `.h5`: `optimizer_weights` named like the above;
# - Keras 3 `.keras`: `optimizer/vars/N`, unnamed, in the order the optimizer built them: after
#   its scalars, one or more slots per trainable variable, in the model's variable order.

from __future__ import annotations

import os
import re
from dataclasses import field
from itertools import repeat
from operator import contains, itemgetter, methodcaller
from typing import Mapping, Sequence

import numpy as np

from graphaudit.analysis.columns import VariableColumns, columns_of
from graphaudit.artifact import Artifact, Format, Variable
from graphaudit.bulk import Joined
from graphaudit.model.keras import NEVER_TRAINED
from graphaudit.records import dataclass

# Slot names of the TF1 optimizers (`tf.compat.v1.train.*`), with the `_N` of a second optimizer.
TF1_SLOT_RE = re.compile(r"^(Adam|Momentum|RMSProp|Adagrad|AdagradDA|Ftrl|Adadelta|ProximalAdagrad|"
                         r"LazyAdam|Nadam|Adamax|AMSGrad|Lamb|LARS)(_\d+)?$")
# First name component of a Keras optimizer's own variables (`Adam/m/<var>`, `training/Adam/...`).
OPTIMIZER_NAME_RE = re.compile(r"^(training|adam|adamw|adamax|nadam|sgd|rmsprop|adagrad|adadelta|ftrl|lion|"
                               r"lamb|adafactor|momentum|optimizer)(_\d+)?$", re.I)
_OPTIMIZER_SLOT_KEY = ".OPTIMIZER_SLOT/"
_NON_TRAINABLE_WEIGHTS = ("moving_mean", "moving_variance")


@dataclass(frozen=True)
class Slot:
    """One optimizer slot, the variable it belongs to, and how the link was found."""

    variable: str  # the variable this slot belongs to
    slot: str  # e.g. `m`, `v`, `Adam_1`, `momentum`
    key: str  # where it is stored: a checkpoint key, an HDF5 dataset, or a variable name
    how: str  # how the link was found, for the evidence


@dataclass
class SlotEvidence:
    """The optimizer state an artifact holds, by the variable each slot belongs to."""

    by_variable: dict[str, list[Slot]] = field(default_factory=dict)
    slot_variables: set[str] = field(default_factory=set)  # artifact variables that are slots
    optimizer_weights: int = 0  # optimizer state seen at all (slots, iterations, ...)
    unmapped: int = 0  # slots whose variable could not be told
    where: str = ""  # e.g. "checkpoint `model.ckpt`"
    notes: list[str] = field(default_factory=list)

    def slot_names(self, variables: Sequence[str]) -> list[str]:
        return sorted({s.slot for v in variables for s in self.by_variable.get(v, ())})

    def add(self, slot: Slot) -> None:
        self.by_variable.setdefault(slot.variable, []).append(slot)


# Formats whose artifact path is a folder; the others are a file, whose folder holds its checkpoint.
_FOLDER_FORMATS = frozenset({Format.SAVED_MODEL_V1, Format.SAVED_MODEL_V2})


def beside_artifact(artifact: Artifact, path: str) -> str:
    """``path`` as a message shows it: relative to the artifact (its folder, or the folder of its
    file), like the artifact path the report prints beside it; as given when it lies elsewhere."""
    if not path or not os.path.isabs(path) or not artifact.path or artifact.path.startswith("<"):
        return path
    where = os.path.abspath(artifact.path)
    base = where if artifact.format in _FOLDER_FORMATS else os.path.dirname(where)
    rel = os.path.relpath(path, base)
    return path if rel == os.pardir or rel.startswith(os.pardir + os.sep) else rel


def optimizer_slots(artifact: Artifact, columns: VariableColumns | None = None) -> SlotEvidence:
    """The optimizer state ``artifact`` holds; ``columns`` are its variables' columns when shared."""
    out = SlotEvidence()
    if artifact.checkpoint is not None:
        out.where = f"checkpoint `{beside_artifact(artifact, artifact.checkpoint.prefix)}`"
    variables = artifact.variables
    # Links the readers already made (TF2 legacy optimizers, through the object graph).
    columns = columns_of(variables, columns)
    for var in columns.linked:
        for key in var.slots:
            out.add(Slot(var.name, _slot_name_of_key(key), key, "TrackableObjectGraph slot link"))
            out.optimizer_weights += 1
    linked_keys = {s.key for slots in out.by_variable.values() for s in slots}
    flat: dict[str, str] | None = None  # `Conv1_kernel` -> `Conv1/kernel`, for Keras 3 slot names, made when asked
    names = columns.names
    linked = [k for k, key in enumerate(columns.keys) if key in linked_keys] if linked_keys else []
    for k in linked:
        out.slot_variables.add(names[k])
    rows = _Rows.of(names, columns)
    found = _optimizer_mask(rows, linked)
    candidates = found.mask
    count = int(candidates.sum()) if len(candidates) else 0
    out.optimizer_weights += count
    if not count:
        order: list[int] = []
    else:
        ends = rows.ends
        # Only these can have an owner: by name, or by a Keras 3 slot name.
        order = np.flatnonzero(_may_own_rows(rows, found) | _keras3_rows(rows, found)).tolist()
    keys, shapes = columns.keys, columns.shapes
    slot_last = found.slot_last
    lookup = _Lookup(variables, names) if len(order) > 4096 and not isinstance(variables, dict) else variables
    for k in order:
        name, key, shape = names[k], keys[k], shapes[k]
        owner, slot = None, ""
        if slot_last:  # `<var>/Adam_1`: the first run `_owner_by_name` tries, looked up directly
            head, sep, leaf = name.rpartition("/")
            if sep and leaf in slot_last:
                var = lookup.get(head)
                if var is not None and (shape is None or var.shape is None or tuple(var.shape) == tuple(shape)):
                    owner, slot = head, leaf
        if owner is None:
            owner, slot = _owner_by_name(name, shape, lookup, ends)
        how = ""
        if owner is None and key.startswith(KERAS3_STATE_KEY):
            if flat is None:
                flat = {}
                for other in names:
                    if "/" in other:
                        flat_name = other.replace("/", "_")
                        flat[flat_name] = "" if flat_name in flat else other  # ambiguous ones left out
            owner, slot = _owner_by_flat_name(name, shape, lookup, flat)
            how = f"Keras 3 slot name `<optimizer>/<variable>_{slot}`"
        if owner is None:
            continue
        out.slot_variables.add(name)
        how = how or ("TF1 slot variable `<var>/" + slot + "`" if name.endswith("/" + slot) else
                      f"slot variable name `{name.split('/', 1)[0]}/{slot}/<var>`")
        out.add(Slot(owner, slot, key or name, how))
    keras = artifact.keras
    weights = keras.optimizer_weights if keras is not None else ()
    if weights:
        out.where = f"Keras file `{artifact.path.rsplit('/', 1)[-1]}`"
        out.optimizer_weights += len(weights)
        if any(w.name for w in weights):
            _h5_named(weights, variables, out)
        else:
            _keras3_ordered(weights, variables, out, _KERAS3_SLOTS.get(keras.optimizer_class))
    return out


class _Lookup:
    """``variables.get`` for many names, most of which may be no variable: a set of the names
    answers those, the mapping the others (so it makes a table's variables as before)."""

    __slots__ = ("variables", "names")

    def __init__(self, variables: Mapping[str, Variable], names: list[str]) -> None:
        self.variables, self.names = variables, set(names)

    def get(self, name: str) -> Variable | None:
        return self.variables.get(name) if name in self.names else None

    def __getitem__(self, name: str) -> Variable:
        return self.variables[name]


class _Rows:
    """What the bulk tests read of the variables, row by row: from shared columns, or made from
    ``Variable`` values (the tests' entry)."""

    __slots__ = ("names", "keys", "trainable", "firsts", "leaves", "first_set", "leaf_set", "_joined")

    def __init__(self, names, keys, trainable, firsts, leaves, joined) -> None:
        self.names, self.keys, self.trainable, self.firsts, self.leaves = names, keys, trainable, firsts, leaves
        self.first_set, self.leaf_set = frozenset(firsts), frozenset(leaves)
        self._joined = joined

    @classmethod
    def of(cls, names: list[str], columns: VariableColumns | None, values: Sequence[Variable] = ()) -> "_Rows":
        if columns is not None:
            return cls(names, columns.keys, columns.trainable, columns.firsts, columns.leaves, columns)
        return cls(names, [v.checkpoint_key or "" for v in values], [v.trainable for v in values],
                   [n.partition("/")[0] for n in names], [n.rpartition("/")[2] for n in names], None)

    @property
    def ends(self) -> tuple[frozenset[str], frozenset[str]]:
        return self.first_set, self.leaf_set

    @property
    def joined(self) -> Joined:
        """The names joined, for scans over all of them (the columns' when shared)."""
        if isinstance(self._joined, VariableColumns):
            self._joined = self._joined.joined_names
        elif self._joined is None:
            self._joined = Joined(self.names)
        return self._joined


@dataclass
class _Found:
    """The optimizer variables as a mask over the rows, and what their tests found on the way."""

    mask: np.ndarray
    slot_last: frozenset[str]  # last name parts that are a TF1 slot name (`Adam_1`)
    by_slot_last: np.ndarray | None  # rows whose last part is one of those
    prefixed: np.ndarray  # rows whose key starts with `optimizer/`


def optimizer_variables(names: list[str], values: list[Variable], skip: set[int] = frozenset(),
                        columns: VariableColumns | None = None) -> list[int]:
    """Indices of the variables :func:`_is_optimizer_variable` holds to be an optimizer's, but
    those in ``skip``, in order: each test runs once over a whole column, and the name tests once
    per distinct first and last name part."""
    return np.flatnonzero(_optimizer_mask(_Rows.of(names, columns, values), skip).mask).tolist()


def _optimizer_mask(rows: _Rows, skip) -> _Found:
    """:func:`_is_optimizer_variable` of every row as a mask, ``skip`` left out."""
    names, keys = rows.names, rows.keys
    n = len(names)
    slot_last = frozenset(p for p in rows.leaf_set if TF1_SLOT_RE.match(p))
    optimizer_first = frozenset(p for p in rows.first_set if OPTIMIZER_NAME_RE.match(p))
    # The key tests. A key that starts with `optimizer/` has the first part `optimizer`: when the
    # keys are the names, none does unless a name's first part is that.
    if keys is names and "optimizer" not in rows.first_set:
        prefixed = np.zeros(n, dtype=bool)
    else:
        prefixed = np.fromiter(map(str.startswith, keys, repeat("optimizer/")), dtype=bool, count=n)
    mask = np.fromiter(map(contains, keys, repeat(_OPTIMIZER_SLOT_KEY)), dtype=bool, count=n)
    decided = mask | prefixed
    if prefixed.any():
        at = np.flatnonzero(prefixed)
        trained = np.fromiter(map(str.startswith, map(keys.__getitem__, at.tolist()), repeat(KERAS3_TRAINED_KEY)),
                              dtype=bool, count=len(at))
        mask[at] = ~trained
    # The name tests, for the variables no key decides and that are not trainable: once per
    # distinct last and first part, mapped back to the rows by a membership pass.
    by_slot_last = None
    if slot_last or optimizer_first:
        named = np.zeros(n, dtype=bool)
        if slot_last:
            by_slot_last = np.fromiter(map(slot_last.__contains__, rows.leaves), dtype=bool, count=n)
            named |= by_slot_last
        if optimizer_first:
            named |= np.fromiter(map(optimizer_first.__contains__, rows.firsts), dtype=bool, count=n)
        named &= ~decided
        trainable = rows.trainable
        if any(trainable):
            named &= ~np.fromiter(map(bool, trainable), dtype=bool, count=n)
        at = np.flatnonzero(named)
        if len(at):  # a name of one part is its own first and last part: not a slot's
            named[at] = np.fromiter(map(contains, map(names.__getitem__, at.tolist()), repeat("/")),
                                    dtype=bool, count=len(at))
            mask |= named
    if len(skip):
        mask[[k for k in skip if 0 <= k < n]] = False
    return _Found(mask, slot_last, by_slot_last, prefixed)


def _may_own_rows(rows: _Rows, found: _Found) -> np.ndarray:
    """The optimizer variables for which ``_owner_by_name`` can find an owner (a superset).

    Its runs are of two kinds. One starts at the first part: `<var>/Adam_1`, only with a TF1
    slot name last. The others start at a later part, which is then some variable's first part
    ``f``: `/<f>/` inside the name, or `<f>` its last part. When few variables start with ``f``,
    the name must hold `/<variable>` itself. Few candidates are tested one by one
    (:func:`_may_own`); many, for few first parts, by a scan of the joined names per part (or per
    variable); for many first parts, by one pass that tests each candidate's later parts.
    """
    mask = found.mask
    firsts = rows.first_set
    n = len(mask)
    count = int(mask.sum())
    if count * 64 < n:
        ids = np.flatnonzero(mask).tolist()
        need = np.zeros(n, dtype=bool)
        need[_may_own(list(map(rows.names.__getitem__, ids)), ids, rows.ends)] = True
        return need
    need = np.zeros(n, dtype=bool) if found.by_slot_last is None else found.by_slot_last.copy()
    if len(firsts) > 16:
        # Too many first parts to scan for each: each candidate's later parts are tested against
        # them in one pass, but for the first parts that show up inside many candidates and
        # start few variables (`optimizer` of `optimizer/iter`): those variables are scanned for.
        ids = np.flatnonzero(mask)
        inside = _common_inside(rows, ids)
        scanned = frozenset(f for f in inside if _rows_starting(rows.firsts, f, 8) is not None)
        tested = firsts - scanned
        later = map(methodcaller("split", "/"), map(itemgetter(2), map(methodcaller("partition", "/"),
                                                                        map(rows.names.__getitem__, ids.tolist()))))
        need[ids] |= ~np.fromiter(map(tested.isdisjoint, later), dtype=bool, count=len(ids))
    else:
        scanned = firsts
        last_first = rows.leaf_set & firsts
        if last_first:
            need |= np.fromiter(map(last_first.__contains__, rows.leaves), dtype=bool, count=n)
    joined = rows.joined if scanned else None
    for first in scanned:
        few = _rows_starting(rows.firsts, first, 8)
        if few is None:
            need[joined.containing("/" + first + "/")] = True
            continue
        for k in few:
            var = rows.names[k]
            need[joined.containing("/" + var + "/")] = True
            need[joined.ending("/" + var)] = True
    return need & mask


def _common_inside(rows: _Rows, ids: np.ndarray, sample: int = 2000) -> set[str]:
    """The first parts that at least 1% of an even sample of the candidates ``ids`` hold after their own first part."""
    step = max(1, len(ids) // sample)
    firsts = rows.first_set
    seen: dict[str, int] = {}
    for k in ids[::step].tolist():
        for part in set(rows.names[k].split("/")[1:]) & firsts:
            seen[part] = seen.get(part, 0) + 1
    return {part for part, hits in seen.items() if hits * 100 >= min(len(ids), sample)}


def _rows_starting(firsts: list[str], first: str, most: int) -> list[int] | None:
    """The rows whose first name part is ``first``, or None when there are more than ``most``."""
    if firsts.count(first) > most:
        return None
    out, at = [], -1
    for _ in range(most):
        try:
            at = firsts.index(first, at + 1)
        except ValueError:
            break
        out.append(at)
    return out


def _keras3_rows(rows: _Rows, found: _Found) -> np.ndarray:
    """Optimizer variables keyed `optimizer/_variables/...`: a Keras 3 slot name may tell their owner.

    None when the names are the keys (a bare checkpoint): :func:`_owner_by_flat_name` cuts
    `_variables/...` only at its leading `_`, and finds nothing.
    """
    n = len(found.mask)
    out = np.zeros(n, dtype=bool)
    at = np.flatnonzero(found.prefixed & found.mask)
    if not len(at) or rows.keys is rows.names:
        return out
    keys = rows.keys
    out[at] = np.fromiter(map(str.startswith, map(keys.__getitem__, at.tolist()), repeat(KERAS3_STATE_KEY)),
                          dtype=bool, count=len(at))
    return out


def _slot_name_of_key(key: str) -> str:
    """`.../.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE` -> `m`."""
    if _OPTIMIZER_SLOT_KEY in key:
        rest = key.split(_OPTIMIZER_SLOT_KEY, 1)[1].split("/")
        if len(rest) >= 2:
            return rest[1]
    return key.rsplit("/", 1)[-1]


# A Keras 3 optimizer tracks the model's own variables it trains under `_trainable_variables`;
# TensorFlow keys a variable by its shortest path, which is often that one. They are weights.
KERAS3_TRAINED_KEY = "optimizer/_trainable_variables/"
# ... and its own state under `_variables`: `iterations`, then per trained variable its slots,
# named `<optimizer>/<variable path with _ for />_<slot>` (`adam/Conv1_kernel_momentum`).
KERAS3_STATE_KEY = "optimizer/_variables/"


def _is_optimizer_variable(name: str, var: Variable) -> bool:
    key = var.checkpoint_key or ""
    if key.startswith(KERAS3_TRAINED_KEY):
        return False
    if key.startswith("optimizer/") or _OPTIMIZER_SLOT_KEY in key:
        return True
    if var.trainable:
        return False
    parts = name.split("/")
    return len(parts) > 1 and (bool(TF1_SLOT_RE.match(parts[-1])) or bool(OPTIMIZER_NAME_RE.match(parts[0])))


def _name_ends(variables) -> tuple[frozenset[str], frozenset[str]]:
    """The first and the last parts of the variable names, for ``_owner_by_name``."""
    return (frozenset(map(itemgetter(0), map(methodcaller("partition", "/"), variables))),
            frozenset(map(itemgetter(2), map(methodcaller("rpartition", "/"), variables))))


def _may_own(names: list[str], ids: list[int], ends: tuple[frozenset[str], frozenset[str]]) -> list[int]:
    """The ``ids`` of the names for which ``_owner_by_name`` can find a candidate run: those with a
    part after the first that some variable name starts with, or a part before the last that some
    variable name ends with. With few distinct ends, one scan of all names per end."""
    firsts, lasts = ends
    if len(firsts) + len(lasts) > 16:
        return [k for name, k in zip(names, ids)
                if not (firsts.isdisjoint((parts := name.split("/"))[1:]) and lasts.isdisjoint(parts[:-1]))]
    joined = Joined(names)
    found: set[int] = set()
    for first in firsts:  # a part at 1 or later: `/<first>/` inside, or `/<first>` at the end
        found.update(joined.containing("/" + first + "/"))
        found.update(joined.ending("/" + first))
    for last in lasts:  # a part before the last: `/<last>/` inside, or `<last>/` at the start
        found.update(joined.containing("/" + last + "/"))
        found.update(joined.starting(last + "/"))
    return [ids[j] for j in sorted(found)]


def _owner_by_name(name: str, shape, variables, ends=None) -> tuple[str | None, str]:
    """The variable a slot is named after, and the slot's own name.

    `Conv1/kernel/Adam_1` -> (`Conv1/kernel`, `Adam_1`); `Adam/m/Conv1/kernel` -> (`Conv1/kernel`,
    `m`); `training/Adam/dense/kernel/m` -> (`dense/kernel`, `m`). The owner must have the slot's shape.
    """
    parts = name.split("/")
    n = len(parts)
    # A candidate can only be a variable when it starts with some variable's first part and ends
    # with some variable's last part: the others are skipped without a join.
    firsts, lasts = ends if ends is not None else _name_ends(variables)
    # The name itself opens at 0 and closes at n - 1, and is no candidate: without another part
    # that opens (after the first) or closes (before the last), there is none.
    if firsts.isdisjoint(parts[1:]) and lasts.isdisjoint(parts[:-1]):
        return None, ""
    # Each run from a part that opens to one that closes, but the whole name: longest first, then
    # from the left.
    opens = [at for at, part in enumerate(parts) if part in firsts]
    closes = {at for at, part in enumerate(parts) if part in lasts}
    for length, start in ((length, start) for length in range(n - 1, 0, -1) for start in opens):
        end = start + length - 1
        if end not in closes:  # (past the last part too)
            continue
        candidate = "/".join(parts[start:end + 1])
        owner = variables.get(candidate)
        if owner is None or candidate == name or (shape is not None and owner.shape is not None
                                                  and tuple(owner.shape) != tuple(shape)):
            continue
        if start == 0:  # `<var>/Adam_1`: a TF1 optimizer's slot name is required
            if length != n - 1 or not TF1_SLOT_RE.match(parts[-1]):
                continue
            slot = parts[-1]
        elif start + length == n:  # `Adam/m/<var>`
            slot = parts[start - 1]
        else:  # `Adam/<var>/m`, `training/Adam/<var>/m`
            slot = parts[-1]
        return candidate, slot
    return None, ""


def _owner_by_flat_name(name: str, shape, variables, flat: dict[str, str]) -> tuple[str | None, str]:
    """`adam/Conv1_kernel_momentum` -> (`Conv1/kernel`, `momentum`): the longest flattened variable
    name the slot name starts with, followed by `_<slot>`; the owner must have the slot's shape."""
    rest = name.partition("/")[2]
    cut = len(rest)
    while True:
        cut = rest.rfind("_", 0, cut)
        if cut <= 0:
            return None, ""
        owner = flat.get(rest[:cut])
        if owner:
            spec = variables[owner].shape
            if shape is None or spec is None or tuple(spec) == tuple(shape):
                return owner, rest[cut + 1:]


def _h5_named(weights, variables, out: SlotEvidence) -> None:
    ends = _name_ends(variables)
    for w in weights:
        if not w.shape and "/" not in w.name:
            continue  # `iteration`, `learning_rate`
        owner, slot = _owner_by_name(w.name, w.shape, variables, ends)
        if owner is None:
            out.unmapped += 1
            continue
        out.add(Slot(owner, slot, w.key, f"`optimizer_weights` name `{w.name}`"))


# Keras 3 optimizers name their slots, but the weights file keeps only their order.
_KERAS3_SLOTS = {"Adam": ("momentum", "velocity"), "AdamW": ("momentum", "velocity"),
                 "Adamax": ("m", "u"), "SGD": ("momentum",), "Lion": ("momentum",)}


def _keras3_ordered(weights, variables, out: SlotEvidence, names: tuple[str, ...] | None) -> None:
    """Keras 3 stores optimizer variables by index only; map them by the model's variable order."""
    k = 0
    while k < len(weights) and weights[k].shape == ():
        k += 1  # iteration, learning_rate
    rest = weights[k:]
    if not rest:
        return
    flagged = [n for n, v in variables.items() if v.trainable]
    capable = [n for n, v in variables.items() if _trainable_capable(n, v)]
    for label, order in (("trainable", flagged), ("trainable-capable", capable)):
        layout = _fit(rest, [variables[n].shape for n in order])
        if layout is None:
            continue
        per, interleaved = layout
        for i, owner in enumerate(order):
            for j in range(per):
                w = rest[i * per + j] if interleaved else rest[j * len(order) + i]
                slot = names[j] if names and len(names) == per else f"slot {j}"
                out.add(Slot(owner, slot, w.key,
                             f"Keras 3 optimizer variable order ({per} per trainable variable)"))
        if label != "trainable":
            out.notes.append("the optimizer holds slots for variables that the saved config marks "
                             "non-trainable: `trainable` was changed after the optimizer was built")
        return
    out.unmapped += len(rest)
    out.notes.append(f"{len(rest):,} Keras 3 optimizer variables do not line up with the model's variables")


def _trainable_capable(name: str, var: Variable) -> bool:
    """Whether an optimizer could hold slots for a variable: not statistics, not an integer."""
    if name.rsplit("/", 1)[-1].startswith(_NON_TRAINABLE_WEIGHTS) or var.trainable_source.endswith(NEVER_TRAINED):
        return False
    return not var.dtype or "float" in var.dtype


def _fit(rest, shapes) -> tuple[int, bool] | None:
    n = len(shapes)
    if not n or len(rest) % n:
        return None
    per = len(rest) // n
    if per > 4:
        return None
    for interleaved in (True, False):
        if all(tuple(rest[i * per + j].shape if interleaved else rest[j * n + i].shape) == tuple(shapes[i] or ())
               for i in range(n) for j in range(per)):
            return per, interleaved
    return None
