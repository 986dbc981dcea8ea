"""What each variable is for: model weight, BatchNorm statistic, optimizer slot, metric state, counter, resource.

Only model weights and BatchNorm statistics make a model: a "copy" of a model (GA101), an
instance (GA102) or a pretrained group. The other roles are bookkeeping that every TF program
carries, and no rule may call them a model.

Evidence, strongest first; the first that speaks decides:

1. **Collections and object-graph kinds.** ``local_variables`` and ``metric_variables`` hold
   metric and other local state (never saved by a ``Saver``); ``global_step`` the step; the
   TF2 checkpoint's slot variables are optimizer slots, and the object graph puts an optimizer's
   variables under ``optimizer/`` and a Keras model's metrics under ``keras_api/metrics/``.
2. **What reads and writes it.** A variable fed to an ``Apply*`` op other than as its first input
   (``m``, ``v``, ``beta1_power``) is optimizer state; one read as a ``FusedBatchNorm``'s mean or
   variance, or written by a moving-average update, is a BatchNorm statistic; one that only
   ``AssignAdd`` ever writes, and that is not trainable, is a counter (integer) or an
   accumulator (float).
3. **Its type.** An integer scalar is a step or counter; a string, variant or resource variable
   is a table, iterator or other resource.
4. **Names, as a last resort:** ``global_step``, ``iterations``, ``moving_mean``, Keras' metric
   variables (``total``, ``count``, ``true_positives``), optimizer slot suffixes (``/Adam``, ...).

Anything else is a model weight: when nothing speaks, rules keep their old behaviour.
"""

from __future__ import annotations

import enum
import re
from itertools import chain, compress, count, filterfalse, repeat
from operator import itemgetter, methodcaller
from typing import TYPE_CHECKING, AbstractSet, Iterator, Mapping, Sequence

from graphaudit.artifact import Artifact, UpdateKind, VariableTable, graph_key
from graphaudit.analysis.columns import VariableColumns, columns_of
from graphaudit.bulk import Joined
from graphaudit.model.ops import BATCH_NORM_OPS, OPTIMIZER_PREFIXES
from graphaudit.records import dataclass

if TYPE_CHECKING:
    from graphaudit.analysis.updates import UpdateFacts


class Role(str, enum.Enum):
    WEIGHT = "model weight"
    BATCHNORM_STATISTIC = "BatchNorm statistic"
    OPTIMIZER_SLOT = "optimizer slot"
    METRIC = "metric or local state"
    STEP = "step or counter"
    RESOURCE = "table, iterator or resource"


#: Roles that are part of the model itself: only these make a model, a copy or a pretrained group.
MODEL_ROLES = frozenset({Role.WEIGHT, Role.BATCHNORM_STATISTIC})


@dataclass(frozen=True)
class VariableRole:
    """A variable's role, and the evidence that decided it."""

    role: Role
    evidence: str  # why, e.g. "collection `metric_variables`"

    @property
    def is_model(self) -> bool:
        return self.role in MODEL_ROLES


_METRIC_COLLECTIONS = ("metric_variables", "local_variables")
_STEP_COLLECTIONS = ("global_step",)
_COUNTING_OPS = frozenset({"AssignAdd", "AssignAddVariableOp"})
_INT_TYPES = frozenset({"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"})
_RESOURCE_TYPES = frozenset({"string", "variant", "resource"})
_HANDLE_PASS = frozenset({"Identity", "IdentityN", "Snapshot", "ReadVariableOp", "RefIdentity"})

# Names, last resort only. Slots: `<var>/Adam`, `<var>/Adam_1`, `<var>/Momentum`, `Adam/m/<var>`.
_SLOT_NAME = re.compile(r"(/(Adam|Adam_\d+|Momentum|RMSProp|RMSProp_\d+|Adagrad|Adadelta|Adadelta_\d+|Ftrl|Ftrl_\d+|"
                        r"ExponentialMovingAverage)$)|(^|/)(Adam|SGD|RMSprop|Adagrad|Nadam|Adamax)/(m|v|momentum|"
                        r"velocity|vhat|accumulator)/|(^|/)(beta1_power|beta2_power)$")
_STEP_NAME = re.compile(r"(^|/)(global_step|iterations|iter|step|steps|epoch|counter)(:\d+)?$")
_STATISTIC_NAME = re.compile(r"(^|/)(moving_mean|moving_variance|moving_var|running_mean|running_var)(:\d+)?$")
_METRIC_NAME = re.compile(r"(^|/)(true_positives|false_positives|true_negatives|false_negatives|total|count|"
                          r"accumulator|confusion_matrix|total_weights|num_examples)(_\d+)?(:\d+)?$")
# Necessary conditions for the name patterns above, cheap to test on every variable: each pattern
# but one ends at the last part of the name, which these match whole (a final newline is what `$`
# allows), and `Adam/m/<var>` needs one of the optimizer scope words followed by `/`. The full
# pattern decides only where its condition holds.
_SLOT_LEAF = re.compile(r"(Adam|Adam_\d+|Momentum|RMSProp|RMSProp_\d+|Adagrad|Adadelta|Adadelta_\d+|Ftrl|Ftrl_\d+|"
                        r"ExponentialMovingAverage|beta1_power|beta2_power)\n?")
_STEP_LEAF = re.compile(r"(global_step|iterations|iter|step|steps|epoch|counter)(:\d+)?\n?")
_STATISTIC_LEAF = re.compile(r"(moving_mean|moving_variance|moving_var|running_mean|running_var)(:\d+)?\n?")
_METRIC_LEAF = re.compile(r"(true_positives|false_positives|true_negatives|false_negatives|total|count|"
                          r"accumulator|confusion_matrix|total_weights|num_examples)(_\d+)?(:\d+)?\n?")


# One shared VariableRole per (role, evidence): most variables share a handful of them.
_SHARED: dict[tuple[Role, str], VariableRole] = {}


def _role(role: Role, why: str) -> VariableRole:
    got = _SHARED.get((role, why))
    if got is None:
        got = VariableRole(role, why)
        if len(_SHARED) < 4096:  # evidence that names a node is one of a kind: not worth keeping
            _SHARED[(role, why)] = got
    return got


def variable_roles(artifact: Artifact, updates: "UpdateFacts",
                   columns: VariableColumns | None = None) -> Mapping[str, VariableRole]:
    """The role of every variable of ``artifact``, with the evidence that decided it.

    A dict, or for a bare checkpoint's :class:`VariableTable` a :class:`RoleTable` (the same
    mapping, held as shared roles by row). ``columns`` are the variables' columns
    (analysis/columns.py) when the caller shares them.
    """
    decided: dict[str, VariableRole] = {}
    variables = artifact.variables
    own: tuple[int, int, int] | None = None  # a table's Keras 3 optimizer state, decided by row (below)

    def settle(name: str, role: Role, why: str) -> None:
        if name in variables and name not in decided and (own is None or not name.startswith(_KERAS3_OWN)):
            decided[name] = _role(role, why)

    # 1. Collections, the TF2 object graph and checkpoint slots.
    for info in artifact.meta_graphs:
        for key in _STEP_COLLECTIONS:
            for name in info.collections.get(key, ()):
                settle(name, Role.STEP, f"collection `{key}`")
        for key in _METRIC_COLLECTIONS:
            for name in info.collections.get(key, ()):
                settle(name, Role.METRIC, f"collection `{key}`")
    columns = columns_of(variables, columns)
    names, values = columns.names, columns.values
    slot_keys = {k for v in columns.linked for k in v.slots}
    if slot_keys and columns.table is not None:
        # A bare checkpoint's variables are named by their keys: each slot key is looked up, in
        # the variables' order.
        found = (columns.table.position(key) for key in slot_keys)
        for row in sorted(row for row in found if row is not None):
            settle(names[row], Role.OPTIMIZER_SLOT, "the checkpoint lists it as another variable's slot")
    elif slot_keys:
        for name, key in zip(names, columns.keys):
            if key and key in slot_keys:
                settle(name, Role.OPTIMIZER_SLOT, "the checkpoint lists it as another variable's slot")
    if columns.table is not None:
        # A bare checkpoint's keys are its sorted names: those under the prefix are one run of rows,
        # each decided when looked up (RoleTable), after the ones decided so far.
        lo, hi = _prefix_rows(names, _KERAS3_OWN)
        if lo < hi:
            own = (lo, hi, len(decided))
    else:
        for k in columns.joined_keys.starting(_KERAS3_OWN):
            settle(names[k], *_keras3_own(values[k]))
    paths: Mapping[int, str] = artifact.object_paths
    for node_id, name in artifact.object_variable_ids.items():
        path = paths.get(node_id, "")
        where = f"object-graph path `{path}`"
        if "_trainable_variables/" in path:
            continue  # a Keras 3 optimizer's list of the model variables it trains: weights
        if path.startswith("optimizer/") or "/optimizer/" in path:
            leaf = path.rsplit("/", 1)[-1]
            settle(name, Role.STEP if leaf in ("iter", "iterations") else Role.OPTIMIZER_SLOT, where)
        elif "keras_api/metrics/" in path or path.startswith("metrics/"):
            settle(name, Role.METRIC, where)
    for entry in artifact.keras.optimizer_weights if artifact.keras is not None else ():
        # Keras 3 stores its optimizer's variables by index only (`optimizer/vars/3`): an unnamed
        # entry names no variable here; analysis/slots.py ties them to weights by order.
        if entry.name:
            step = _STEP_NAME.search(entry.name) and entry.dtype in _INT_TYPES
            settle(entry.name, Role.STEP if step else Role.OPTIMIZER_SLOT, "Keras `optimizer_weights`")

    # 2. What reads and writes it.
    handles = updates.handles
    graphs = [(name, g) for name, g in artifact.graphs.items()]
    graphs += [(graph_key(name, True), g) for name, g in artifact.functions.items()]
    for key, graph in graphs:
        marks = handles.get(key, {})
        if not marks:
            continue
        for op, ids in graph.by_op.items():
            if op.startswith(OPTIMIZER_PREFIXES):
                for i in ids:
                    for j in graph.inputs[i][1:]:
                        for v in marks.get(graph.source(j, through=_HANDLE_PASS), ()):
                            settle(v, Role.OPTIMIZER_SLOT, f"input of optimizer update `{graph.names[i]}` ({op})")
            elif op in BATCH_NORM_OPS:
                for i in ids:
                    for j in graph.inputs[i][3:5]:
                        for v in marks.get(graph.source(j, through=_HANDLE_PASS), ()):
                            settle(v, Role.BATCHNORM_STATISTIC, f"mean or variance of `{graph.names[i]}` ({op})")
    averaged: dict[str, str] = {}  # variable -> its first moving-average write
    for w in updates.select((UpdateKind.MOVING_AVERAGE,)):
        averaged.setdefault(w.variable, w.node)
    counted = {w.variable for w in updates.select(ops=_COUNTING_OPS)}
    if averaged or counted:
        # In the order the variables are first written, as `updates.writes` lists them.
        first: dict[str, int] = {}
        for k, row in enumerate(updates.rows):
            if row[0] not in first:
                first[row[0]] = k
        for name in sorted(averaged, key=first.__getitem__):
            if not name.endswith("/ExponentialMovingAverage"):
                settle(name, Role.BATCHNORM_STATISTIC, f"moving-average update `{averaged[name]}`")
    if counted:
        writes = updates.writes
        for name in [n for n in names if n in counted]:
            var = variables[name]
            if name in decided or var.trainable:
                continue
            counting = [w for w in writes[name] if w.op in _COUNTING_OPS]
            others = [w for w in writes[name] if w.op not in _COUNTING_OPS and w.kind not in (
                UpdateKind.INITIALIZER, UpdateKind.RESTORE, UpdateKind.WEIGHT_LOAD)]
            if counting and not others:
                if var.dtype in _INT_TYPES:
                    settle(name, Role.STEP, f"an integer only `{counting[0].op}` writes (`{counting[0].node}`)")
                else:
                    settle(name, Role.METRIC, f"an accumulator only `{counting[0].op}` writes (`{counting[0].node}`)")

    # 3. Its type, then 4. names; trainable variables are weights whatever their name. Decided
    # for all variables at once, as a few shared roles and a code per variable (analysis/roles.py
    # `_RowRoles`), lowest precedence first, each later step overwriting.
    rows = _row_roles(columns)
    if columns.table is not None:
        # A bare checkpoint's: one shared role for most variables, nothing made per variable.
        return RoleTable(columns.table, decided, rows, own)
    roles = rows.as_list()
    if decided:
        rest = dict(zip(names, roles))
        for name in decided:
            del rest[name]
        decided.update(rest)
        return decided
    return dict(zip(names, roles))


_NO_OTHER_ROLE = VariableRole(Role.WEIGHT, "no other role applies")
_SLOT_BY_NAME = VariableRole(Role.OPTIMIZER_SLOT, "name (an optimizer slot's)")
_STATISTIC_BY_NAME = VariableRole(Role.BATCHNORM_STATISTIC, "name (a BatchNorm statistic's)")
_STEP_BY_NAME = VariableRole(Role.STEP, "name (a step's)")
_METRIC_BY_NAME = VariableRole(Role.METRIC, "name (a metric variable's)")
# Words before a `/` that `_SLOT_NAME`'s middle part needs (`Adam/m/<var>`), and that part alone.
_SLOT_WORDS = ("Adam/", "SGD/", "RMSprop/", "Adagrad/", "Nadam/", "Adamax/")
_SLOT_MIDDLE = re.compile(r"(^|/)(Adam|SGD|RMSprop|Adagrad|Nadam|Adamax)/(m|v|momentum|velocity|vhat|accumulator)/")
# Checkpoint keys of a Keras 3 optimizer's own state in a TF checkpoint: `iterations`, then the slots.
_KERAS3_OWN = "optimizer/_variables/"


def _keras3_own(var) -> tuple[Role, str]:
    """The role of a Keras 3 optimizer's own variable (its key under `_KERAS3_OWN`), and why."""
    step = var.dtype in _INT_TYPES and var.shape == ()
    return (Role.STEP if step else Role.OPTIMIZER_SLOT,
            f"checkpoint key `{var.checkpoint_key.rsplit('/.ATTRIBUTES', 1)[0]}` (a Keras 3 optimizer's own)")


def _prefix_rows(names: Sequence[str], prefix: str) -> tuple[int, int]:
    """``lo, hi``: the rows of the sorted ``names`` that start with ``prefix`` (which ends with `/`)."""
    from bisect import bisect_left

    lo = bisect_left(names, prefix)
    return lo, bisect_left(names, prefix[:-1] + chr(ord(prefix[-1]) + 1), lo)


def role_by_name(name: str) -> VariableRole | None:
    """The role a variable's name alone gives it (last resort), or None; a metric's name counts
    only for a variable that is not a Keras layer's. The oracle of :func:`_roles_by_name`."""
    leaf = name.rpartition("/")[2]
    if (_SLOT_LEAF.fullmatch(leaf) or any(w in name for w in _SLOT_WORDS)) and _SLOT_NAME.search(name):
        return _SLOT_BY_NAME
    if _STATISTIC_LEAF.fullmatch(leaf) and _STATISTIC_NAME.search(name):
        return _STATISTIC_BY_NAME
    if _STEP_LEAF.fullmatch(leaf) and _STEP_NAME.search(name):
        return _STEP_BY_NAME
    if _METRIC_LEAF.fullmatch(leaf) and _METRIC_NAME.search(name):
        return _METRIC_BY_NAME
    return None


# Any of the four last-part conditions above: one test per distinct last part.
_ANY_LEAF = re.compile("|".join(f"(?:{p.pattern})" for p in (_SLOT_LEAF, _STATISTIC_LEAF, _STEP_LEAF, _METRIC_LEAF)))


class _RowRoles:
    """Steps 3 and 4 of :func:`variable_roles` (type, trainable flag, name) for every variable, at
    no cost per variable when one role holds for most of them.

    Variables share a handful of roles: ``palette`` holds them (``palette[0]`` is the default, "no
    other role applies"), ``codes`` each variable's index into it (a uint8 array by row; None while
    every row has the default), and ``overrides`` row -> role for rows whose role did not fit in the
    palette (it holds at most 256 roles; a trainable variable's evidence names its source).
    """

    __slots__ = ("size", "palette", "codes", "overrides", "_code_of")

    def __init__(self, size: int) -> None:
        self.size = size
        self.palette: list[VariableRole] = [_NO_OTHER_ROLE]
        self.codes = None
        self.overrides: dict[int, VariableRole] = {}
        self._code_of = {id(_NO_OTHER_ROLE): 0}

    def code(self, role: VariableRole) -> int | None:
        """The palette index of ``role`` (added when new), or None when the palette is full."""
        got = self._code_of.get(id(role))
        if got is None and len(self.palette) < 256:
            got = self._code_of[id(role)] = len(self.palette)
            self.palette.append(role)  # kept: its id stays its own
        return got

    def put(self, rows: list[int], role: VariableRole) -> None:
        """Give ``rows`` the role ``role``, over what they had."""
        if not rows:
            return
        code = self.code(role)
        if code is None:
            self.overrides.update(dict.fromkeys(rows, role))
            return
        if self.codes is None:
            import numpy as np

            self.codes = np.zeros(self.size, dtype=np.uint8)
        self.codes[rows] = code
        if self.overrides:
            for row in rows:
                self.overrides.pop(row, None)

    def at(self, row: int) -> VariableRole:
        """The role of row ``row``."""
        if self.overrides:
            got = self.overrides.get(row)
            if got is not None:
                return got
        return self.palette[self.codes[row]] if self.codes is not None else _NO_OTHER_ROLE

    def as_list(self) -> list[VariableRole]:
        """The role of every row, in order."""
        if self.codes is None:
            out = [_NO_OTHER_ROLE] * self.size
        else:
            out = list(map(self.palette.__getitem__, self.codes.tolist()))
        for row, role in self.overrides.items():
            out[row] = role
        return out


def _row_roles(columns: VariableColumns) -> _RowRoles:
    """Each variable's role by its type, its trainable flag and, as a last resort, its name
    (steps 3 and 4 of :func:`variable_roles`), lowest precedence first, each later step overwriting."""
    names, table = columns.names, columns.table
    out = _RowRoles(len(names))
    if table is not None:
        rows_named = _rows_in_table(table)
    else:
        variables = columns.variables
        rows_named = lambda name: [names.index(name)] if name in variables else []  # noqa: E731
    _name_roles(out, names, columns.leaves, columns.joined_names, rows_named)
    metric = out._code_of.get(id(_METRIC_BY_NAME))
    if metric is not None:  # a metric's name counts only for a variable that is not a Keras layer's
        import numpy as np

        codes = out.codes
        if table is not None:  # only a variable made since can name its layer
            layered = [table.position(name) for name, var in table._made.items() if var.keras_layer]
        else:
            values = columns.values
            layered = [k for k in np.flatnonzero(codes == metric).tolist() if values[k].keras_layer]
        out.put([k for k in layered if codes[k] == metric], _NO_OTHER_ROLE)
    dtypes = columns.dtypes
    kinds = set(dtypes)
    if not kinds.isdisjoint(_INT_TYPES):
        shapes = columns.shapes
        scalars: dict[str, list[int]] = {}
        for k in compress(count(), map(_INT_TYPES.__contains__, dtypes)):
            if shapes[k] == ():
                scalars.setdefault(dtypes[k], []).append(k)
        for dtype, rows in scalars.items():
            out.put(rows, _role(Role.STEP, f"an integer scalar ({dtype})"))
    sources: dict[str, list[int]] = {}
    if table is not None:  # a checkpoint says nothing of it, unless someone said it since
        for name, var in table._made.items():
            if var.trainable:
                sources.setdefault(var.trainable_source, []).append(table.position(name))
        for rows in sources.values():
            rows.sort()
    else:
        trainable = columns.trainable
        if any(trainable):
            values = columns.values
            for k in compress(count(), trainable):
                sources.setdefault(values[k].trainable_source, []).append(k)
    for source, rows in sources.items():
        out.put(rows, _role(Role.WEIGHT, f"trainable ({source or 'flag'})"))
    if not kinds.isdisjoint(_RESOURCE_TYPES):
        resources: dict[str, list[int]] = {}
        for k in compress(count(), map(_RESOURCE_TYPES.__contains__, dtypes)):
            resources.setdefault(dtypes[k], []).append(k)
        for dtype, rows in resources.items():
            out.put(rows, _role(Role.RESOURCE, f"dtype {dtype}"))
    return out


def _rows_in_table(table: VariableTable):
    def rows_named(name: str) -> list[int]:
        row = table.position(name)
        return [] if row is None else [row]

    return rows_named


def _name_roles(out: _RowRoles, names: Sequence[str], leaves: Sequence[str], joined: Joined,
                rows_named) -> None:
    """Put :func:`role_by_name` of every name in ``out`` (the first step to write it).

    Where a name holds none of `_SLOT_WORDS`, its role depends on its last part alone (and, for
    `/Adam`, on whether it has a `/` before it): every pattern but `_SLOT_NAME`'s middle one ends
    at the last part, which none of them crosses. So each distinct last part is tested once, as
    `x/<part>` and alone, and only the variable named `<part>` (``rows_named``) can take the
    latter; the names that hold a word (one scan per word) are tested whole.
    """
    by_leaf: dict[str, int] = {}
    alone: list[tuple[str, VariableRole]] = []
    for leaf in set(leaves):
        if not _ANY_LEAF.fullmatch(leaf):
            continue
        scoped, bare = role_by_name("x/" + leaf), role_by_name(leaf)
        if scoped is not None:
            by_leaf[leaf] = out.code(scoped)  # type: ignore[assignment]  # the palette is nearly empty
        if bare is not scoped:
            alone.append((leaf, bare or _NO_OTHER_ROLE))
    if by_leaf:
        import numpy as np

        out.codes = np.fromiter(map(by_leaf.get, leaves, repeat(0)), dtype=np.uint8, count=len(leaves))
    for leaf, role in alone:
        out.put(rows_named(leaf), role)
    worded: set[int] = set()
    for word in _SLOT_WORDS:
        worded.update(joined.containing(word))
    if worded:
        # A name that holds a word is a slot's by `_SLOT_NAME`'s middle part, or else by its last
        # part as above (a word ends with `/`: such a name is never a last part alone).
        rows = sorted(worded)
        out.put(list(compress(rows, map(_SLOT_MIDDLE.search, map(names.__getitem__, rows)))), _SLOT_BY_NAME)


def _roles_by_name(names: list[str], leaves: list[str] | None = None,
                   joined: Joined | None = None) -> dict[int, VariableRole]:
    """:func:`role_by_name` of every name, for the names it gives a role (see :func:`_name_roles`)."""
    if leaves is None:
        leaves = list(map(itemgetter(2), map(methodcaller("rpartition", "/"), names)))
    out = _RowRoles(len(names))
    _name_roles(out, names, leaves, joined if joined is not None else Joined(names),
                lambda name: [k for k, n in enumerate(names) if n == name])
    return {k: role for k, role in enumerate(out.as_list()) if role is not _NO_OTHER_ROLE}


class RoleTable(Mapping[str, VariableRole]):
    """The roles of a bare checkpoint's variables (a :class:`VariableTable`), as the table's rows.

    ``decided`` holds the roles that collections, the object graph or slot links gave by name (a
    few); ``own`` = ``(lo, hi, after)`` the run of rows keyed under `optimizer/_variables/` (a
    Keras 3 optimizer's own state), each decided when looked up, as if settled after the first
    ``after`` entries of ``decided``; every other variable's role is its row's in ``rows``
    (:class:`_RowRoles`): one shared role for most, nothing made per variable. It iterates as the
    dict :func:`variable_roles` returns for other artifacts: in the order roles were decided, then
    the others in the table's order.
    """

    __slots__ = ("variables", "decided", "rows", "own", "_model")

    def __init__(self, variables: VariableTable, decided: dict[str, VariableRole], rows: _RowRoles,
                 own: tuple[int, int, int] | None = None) -> None:
        self.variables, self.decided, self.rows, self.own = variables, decided, rows, own
        self._model: ModelNames | None = None

    def _at(self, row: int) -> VariableRole:
        own = self.own
        if own is not None and own[0] <= row < own[1]:
            table = self.variables
            name = table.names[row]
            var = table._made.get(name)
            if var is None:  # what the variable would be made with
                var = _Unmade(table.dtypes[row], table.shapes[row], name)
            return _role(*_keras3_own(var))
        return self.rows.at(row)

    def __getitem__(self, name: str) -> VariableRole:
        got = self.decided.get(name)
        if got is not None:
            return got
        row = self.variables.position(name)
        if row is None:
            raise KeyError(name)
        return self._at(row)

    def get(self, name, default=None):
        got = self.decided.get(name)
        if got is not None:
            return got
        row = self.variables.position(name)
        return default if row is None else self._at(row)

    def __contains__(self, name: object) -> bool:
        return name in self.decided or self.variables.position(name) is not None

    def __iter__(self) -> Iterator[str]:
        decided, names, own = self.decided, self.variables.names, self.own
        if own is None:
            return chain(decided, filterfalse(decided.__contains__, names)) if decided else iter(names)
        lo, hi, after = own
        keys = list(decided)
        rest = chain(names[:lo], names[hi:])
        return chain(keys[:after], filterfalse(decided.__contains__, names[lo:hi]), keys[after:],
                     filterfalse(decided.__contains__, rest) if decided else rest)

    def __len__(self) -> int:
        return len(self.variables.names)

    def __repr__(self) -> str:
        return f"<RoleTable of {len(self):,} variables, {len(self.rows.palette)} roles>"


@dataclass(frozen=True)
class _Unmade:
    """The fields :func:`_keras3_own` reads of a table's variable not made yet."""

    dtype: str
    shape: tuple[int, ...] | None
    checkpoint_key: str


class ModelNames(AbstractSet[str]):
    """:func:`model_variables` of a :class:`RoleTable`: every variable of its table but those whose
    role is not a model's, as a read-only set without a set of millions of names.

    Iterates in the table's order; set operations with it give frozensets.
    """

    __slots__ = ("roles", "_mask", "_len")

    def __init__(self, roles: RoleTable) -> None:
        self.roles = roles
        rows, table = roles.rows, roles.variables
        mask = None  # by row: a model variable; None when all are
        if rows.codes is not None:
            import numpy as np

            model_code = np.array([r.is_model for r in rows.palette], dtype=bool)
            if not model_code.all():
                mask = model_code[rows.codes]
        fixes = [(row, r.is_model) for row, r in rows.overrides.items()]
        decided = [(table.position(name), r.is_model) for name, r in roles.decided.items()]
        if mask is None and (roles.own is not None or not all(is_model for _, is_model in fixes + decided)):
            import numpy as np

            mask = np.ones(len(table.names), dtype=bool)
        if mask is not None:
            # By precedence: a row's own role, a Keras 3 optimizer's state (never a model's), the decided.
            for row, is_model in fixes:
                mask[row] = is_model
            if roles.own is not None:
                mask[roles.own[0]:roles.own[1]] = False
            for row, is_model in decided:
                mask[row] = is_model
        self._mask = mask
        self._len = len(table.names) if mask is None else int(mask.sum())

    def rows(self) -> Sequence[int]:
        """The rows of the model variables in the table, in order."""
        if self._mask is None:
            return range(len(self.roles.variables.names))
        import numpy as np

        return np.flatnonzero(self._mask).tolist()

    def __contains__(self, name: object) -> bool:
        role = self.roles.get(name)
        return role is not None and role.is_model

    def __iter__(self) -> Iterator[str]:
        names = self.roles.variables.names
        if self._mask is None:
            return iter(names)
        return map(names.__getitem__, self.rows())

    def __len__(self) -> int:
        return self._len

    @classmethod
    def _from_iterable(cls, it):
        return frozenset(it)

    def __repr__(self) -> str:
        return f"<ModelNames: {self._len:,} of {len(self.roles):,} variables>"


def covers(roles: Mapping[str, VariableRole], variables: Mapping[str, object]) -> bool:
    """``roles.keys() == variables.keys()``: a role for each variable and no other; at no cost for the
    :class:`RoleTable` of ``variables``."""
    if isinstance(roles, RoleTable) and roles.variables is variables:
        return True
    return roles.keys() == variables.keys()


def model_variables(roles: Mapping[str, VariableRole]) -> AbstractSet[str]:
    """Names of the variables that are part of a model (weights and BatchNorm statistics).

    A :class:`RoleTable`'s is a :class:`ModelNames` view (made once), any other mapping's a frozenset.
    """
    if isinstance(roles, RoleTable):
        if roles._model is None:
            roles._model = ModelNames(roles)
        return roles._model
    # Variables share a few role objects: each distinct one is asked once, the rest are C loops.
    ids = list(map(id, roles.values()))
    model = {i: r.is_model for i, r in dict(zip(ids, roles.values())).items()}
    if all(model.values()):
        return frozenset(roles)
    return frozenset(compress(roles, map(model.__getitem__, ids)))
