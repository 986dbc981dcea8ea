"""Where each variable's value comes from when the artifact is loaded: restore, init op, or nothing."""

from __future__ import annotations

import enum

from graphaudit.artifact import ASSIGN_OPS, RESTORE_OPS, VARIABLE_OPS, Artifact, RootKind, ValueOrigin, Variable
from graphaudit.records import dataclass


class ValueSource(str, enum.Enum):
    RESTORED = "restored"  # a restore op (or the TF2 object graph) reads a key the checkpoint holds
    INIT_OP = "init op"  # main_op / legacy_init_op / __saved_model_init_op assigns it
    # Its own initializer restores it from a checkpoint file (`init_from_checkpoint`): running the
    # variables' initializer, as every TF1 program does, gives it the checkpoint's value.
    INIT_CHECKPOINT = "checkpoint initializer"
    LIVE = "live"  # initialized in the live session that was audited
    MISSING_KEY = "missing key"  # restored from a key the checkpoint lacks: the restore fails
    NONE = "none"  # nothing gives it a value
    UNKNOWN = "unknown"  # the artifact carries no values (a bare GraphDef)


@dataclass(frozen=True)
class Coverage:
    """Where a variable's value comes from when the artifact is loaded."""

    variable: str
    source: ValueSource
    checkpoint_key: str | None


def coverage(artifact: Artifact) -> dict[str, Coverage]:
    """Decide, for every variable, how it gets its value when this artifact is loaded."""
    keys = set(artifact.checkpoint.keys()) if artifact.checkpoint is not None else set()
    init_written = _written_by_init_ops(artifact)
    live = artifact.live_initialized
    out: dict[str, Coverage] = {}
    for name, var in artifact.variables.items():
        key = var.checkpoint_key
        if live is not None:
            src = ValueSource.LIVE if name in live else ValueSource.NONE
        elif not artifact.value_sources or artifact.value_sources == (ValueOrigin.INIT,):
            src = ValueSource.UNKNOWN
        elif name in init_written:
            src = ValueSource.INIT_OP
        elif artifact.stored_values is not None and name in artifact.stored_values:
            src = ValueSource.RESTORED  # the file holds the value itself (Keras HDF5 weights)
        elif key is not None and key in keys and var.restored is not False:
            src = ValueSource.RESTORED
        elif key is not None and var.restored:
            src = ValueSource.MISSING_KEY
        elif _initializer_restores(artifact, var):
            src = ValueSource.INIT_CHECKPOINT
        else:
            src = ValueSource.NONE
        out[name] = Coverage(name, src, key)
    return out


def _written_by_init_ops(artifact: Artifact) -> set[str]:
    """Variables assigned by what the init roots (main_op, legacy_init_op, ...) run."""
    out: set[str] = set()
    for root in artifact.roots:
        if root.kind is not RootKind.INIT_OP:
            continue
        graph = artifact.graphs.get(root.graph)
        if graph is None or root.node not in graph.index:
            continue
        stack = [graph.index[root.node]]
        seen = set(stack)
        while stack:
            i = stack.pop()
            if graph.ops[i] in ASSIGN_OPS and graph.inputs[i]:
                target = graph.source(graph.inputs[i][0])
                if graph.ops[target] in VARIABLE_OPS:
                    out.add(graph.names[target])
            for j in graph.control_inputs[i] + graph.inputs[i]:
                if j not in seen:
                    seen.add(j)
                    stack.append(j)
    return out


def _initializer_restores(artifact: Artifact, var: Variable) -> bool:
    """True when the variable's initializer assigns it a ``RestoreV2`` output (``checkpoint_initializer``)."""
    graph = artifact.graphs.get(var.graph or "")
    if graph is None or not var.initializer or var.initializer not in graph.index:
        return False
    stack = [graph.index[var.initializer]]
    seen = set(stack)
    while stack:
        i = stack.pop()
        if graph.ops[i] in ASSIGN_OPS and len(graph.inputs[i]) >= 2:
            if graph.ops[graph.source(graph.inputs[i][1])] in RESTORE_OPS:
                return True
            continue
        if graph.ops[i] == "NoOp":  # a group of assigns
            for j in graph.control_inputs[i]:
                if j not in seen and len(seen) < 64:
                    seen.add(j)
                    stack.append(j)
    return False
