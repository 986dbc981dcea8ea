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
from itertools import compress
from operator import itemgetter, methodcaller
from typing import TYPE_CHECKING, Mapping

from graphaudit.artifact import Artifact, UpdateKind, graph_key
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
                   columns: VariableColumns | None = None) -> dict[str, VariableRole]:
    """The role of every variable of ``artifact``, with the evidence that decided it.

    ``columns`` are the variables' columns (analysis/columns.py) when the caller shares them.
    """
    decided: dict[str, VariableRole] = {}
    variables = artifact.variables

    def settle(name: str, role: Role, why: str) -> None:
        if name in variables and name not in decided:
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
    if slot_keys:
        for name, key in zip(names, columns.keys):
            if key and key in slot_keys:
                settle(name, Role.OPTIMIZER_SLOT, "the checkpoint lists it as another variable's slot")
    for k in columns.joined_keys.starting("optimizer/_variables/"):
        # A Keras 3 optimizer's own state in a TF checkpoint: `iterations`, then the slots.
        var = values[k]
        step = var.dtype in _INT_TYPES and var.shape == ()
        settle(names[k], Role.STEP if step else Role.OPTIMIZER_SLOT,
               f"checkpoint key `{var.checkpoint_key.rsplit('/.ATTRIBUTES', 1)[0]}` (a Keras 3 optimizer's own)")
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
    # for all variables at once, lowest precedence first, each later step overwriting.
    roles = [_NO_OTHER_ROLE] * len(names)
    for k, role in _roles_by_name(names, columns.leaves, columns.joined_names).items():
        if role is not _METRIC_BY_NAME or not values[k].keras_layer:
            roles[k] = role
    dtypes = columns.dtypes
    kinds = set(dtypes)
    if not kinds.isdisjoint(_INT_TYPES):
        for k, dtype in enumerate(dtypes):
            if dtype in _INT_TYPES and columns.shapes[k] == ():
                roles[k] = _role(Role.STEP, f"an integer scalar ({dtype})")
    trainable = columns.trainable
    if any(trainable):
        for k, flag in enumerate(trainable):
            if flag:
                roles[k] = _role(Role.WEIGHT, f"trainable ({values[k].trainable_source or 'flag'})")
    if not kinds.isdisjoint(_RESOURCE_TYPES):
        for k, dtype in enumerate(dtypes):
            if dtype in _RESOURCE_TYPES:
                roles[k] = _role(Role.RESOURCE, f"dtype {dtype}")
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
# Words before a `/` that `_SLOT_NAME`'s middle part needs (`Adam/m/<var>`).
_SLOT_WORDS = ("Adam/", "SGD/", "RMSprop/", "Adagrad/", "Nadam/", "Adamax/")


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


def _roles_by_name(names: list[str], leaves: list[str] | None = None,
                   joined: Joined | None = None) -> dict[int, VariableRole]:
    """:func:`role_by_name` of every name, for the names it gives a role: each pattern's necessary
    condition (its last part, or an optimizer word) is tested once per distinct last part, or by
    one scan of all names per word, and the full patterns only run where one holds."""
    if leaves is None:
        leaves = list(map(itemgetter(2), map(methodcaller("rpartition", "/"), names)))
    telling = {leaf for leaf in set(leaves) if _SLOT_LEAF.fullmatch(leaf) or _STATISTIC_LEAF.fullmatch(leaf)
               or _STEP_LEAF.fullmatch(leaf) or _METRIC_LEAF.fullmatch(leaf)}
    candidates = {k for k, leaf in enumerate(leaves) if leaf in telling} if telling else set()
    joined = joined if joined is not None else Joined(names)
    for word in _SLOT_WORDS:
        candidates.update(joined.containing(word))
    out = {}
    for k in sorted(candidates):
        role = role_by_name(names[k])
        if role is not None:
            out[k] = role
    return out


def model_variables(roles: Mapping[str, VariableRole]) -> frozenset[str]:
    """Names of the variables that are part of a model (weights and BatchNorm statistics)."""
    # Variables share a few role objects: each distinct one is asked once, the rest are C loops.
    ids = list(map(id, roles.values()))
    model = {i: r.is_model for i, r in dict(zip(ids, roles.values())).items()}
    if all(model.values()):
        return frozenset(roles)
    return frozenset(compress(roles, map(model.__getitem__, ids)))
