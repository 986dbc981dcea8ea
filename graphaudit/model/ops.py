"""Op sets of the model, and what kind of write an assign or optimizer op is."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a Graph: artifact.py imports this module, so no runtime import back
    from typing import Any as Graph

# Ops that hold a variable (its handle or its ref).
VARIABLE_OPS = frozenset({"VarHandleOp", "VariableV2", "Variable", "AutoReloadVariable"})
# Ops that write a variable through input 0 (ref or resource handle).
ASSIGN_OPS = frozenset({"Assign", "AssignVariableOp", "AssignAdd", "AssignSub",
                        "AssignAddVariableOp", "AssignSubVariableOp"})
RESTORE_OPS = frozenset({"RestoreV2", "Restore", "RestoreSlice"})
# Ops through which a value passes unchanged when following where it came from.
PASS_THROUGH_OPS = frozenset({"Identity", "IdentityN", "Snapshot", "StopGradient", "ReadVariableOp"})
FUNCTION_ATTR_KEYS = ("f", "then_branch", "else_branch", "body", "cond", "branches")
# Optimizer update ops: they write input 0 (a ref or a resource handle).
OPTIMIZER_PREFIXES = ("Apply", "ResourceApply", "ResourceSparseApply", "SparseApply")
MOVING_AVERAGE_OPS = frozenset({"AssignMovingAvg"})
BATCH_NORM_OPS = ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")


class UpdateKind(str, enum.Enum):
    INITIALIZER = "initializer"
    WEIGHT_LOAD = "weight_load"
    RESTORE = "restore"
    OPTIMIZER = "optimizer"
    MOVING_AVERAGE = "moving_average"
    OTHER = "other"


def is_write(op: str) -> bool:
    """An op that writes the variable of its input 0: an assign or an optimizer update."""
    return op in ASSIGN_OPS or op.startswith(OPTIMIZER_PREFIXES)


def classify_update(graph: "Graph", i: int, initializer_names: set[str]) -> UpdateKind:
    """What kind of write node ``i`` is."""
    op = graph.ops[i]
    name = graph.names[i]
    if op.startswith(OPTIMIZER_PREFIXES):
        return UpdateKind.OPTIMIZER
    if name in initializer_names:
        return UpdateKind.INITIALIZER
    if op in ("AssignSubVariableOp", "AssignSub") and "AssignMovingAvg" in name:
        return UpdateKind.MOVING_AVERAGE
    if op in ASSIGN_OPS and len(graph.inputs[i]) >= 2:
        src = graph.source(graph.inputs[i][1])
        return _by_source(op, name, graph.ops[src], graph.names[src])
    return UpdateKind.OTHER


def classify_updates(graph: "Graph", ids, initializer_names: set[str]) -> list[UpdateKind]:
    """:func:`classify_update` of every node in ``ids`` (writes, in any order), in bulk.

    The optimizer ops (by op type) and the initializers (by name) are told apart over the whole
    list; only the other writes follow their value's source one by one.
    """
    import numpy as np

    ids = np.asarray(ids, dtype=np.int64)
    if not len(ids):
        return []
    codes, table = graph.op_codes()
    optimizer = np.array([op.startswith(OPTIMIZER_PREFIXES) for op in table], dtype=bool)[codes[ids]]
    ops, names = graph.ops, graph.names
    id_list = ids.tolist()
    out = [UpdateKind.OPTIMIZER if o else UpdateKind.INITIALIZER if names[i] in initializer_names else None
           for i, o in zip(id_list, optimizer.tolist())]
    rest = [k for k, kind in enumerate(out) if kind is None]
    if not rest:
        return out
    rest_ids = ids[rest]
    in_offsets, in_nodes = graph.edge_arrays()[:2]
    two = (in_offsets[rest_ids + 1] - in_offsets[rest_ids]) >= 2
    src = np.full(len(rest_ids), -1, dtype=np.int64)
    src[two] = graph.sources(in_nodes[in_offsets[rest_ids[two]] + 1])
    for k, i, s in zip(rest, rest_ids.tolist(), src.tolist()):
        op = ops[i]
        name = names[i]
        if op in ("AssignSubVariableOp", "AssignSub") and "AssignMovingAvg" in name:
            out[k] = UpdateKind.MOVING_AVERAGE
        elif op in ASSIGN_OPS and s >= 0:
            out[k] = _by_source(op, name, ops[s], names[s])
        else:
            out[k] = UpdateKind.OTHER
    return out


def _by_source(op: str, name: str, src_op: str, src_name: str) -> UpdateKind:
    """An assign's kind from where its value comes from (as in :func:`classify_update`)."""
    if src_op in RESTORE_OPS:
        return UpdateKind.RESTORE
    if src_op in ("Placeholder", "PlaceholderWithDefault"):
        return UpdateKind.WEIGHT_LOAD
    if src_op.startswith("FusedBatchNorm"):
        return UpdateKind.MOVING_AVERAGE  # `AssignNewValue`: BatchNorm in training mode, TF2
    if "/Initializer/" in src_name or name.endswith("/Assign"):
        return UpdateKind.INITIALIZER
    if op in ("AssignSubVariableOp", "AssignSub", "AssignAddVariableOp", "AssignAdd"):
        if "/AssignMovingAvg" in name or "moving_" in name:
            return UpdateKind.MOVING_AVERAGE
        return UpdateKind.OPTIMIZER if "gradients" in src_name else UpdateKind.OTHER
    return UpdateKind.OTHER
