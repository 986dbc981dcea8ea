"""Where each variable's value comes from when the artifact is loaded: restore, init op, or nothing."""

from __future__ import annotations

import enum
from collections import Counter
from typing import Callable, Iterable, Iterator, Mapping

from graphaudit.artifact import (
    ASSIGN_OPS,
    RESTORE_OPS,
    VARIABLE_OPS,
    Artifact,
    RootKind,
    ValueOrigin,
    Variable,
    VariableTable,
)
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


def coverage(artifact: Artifact) -> Mapping[str, Coverage]:
    """Decide, for every variable, how it gets its value when this artifact is loaded."""
    init_written = _written_by_init_ops(artifact)
    live = artifact.live_initialized
    variables = artifact.variables
    plain = (live is None and artifact.value_sources == (ValueOrigin.CHECKPOINT,) and not init_written
             and artifact.stored_values is None)
    if isinstance(variables, VariableTable) and plain:
        # A bare checkpoint's variables are its keys, each restored from itself: only the ones
        # made (and so perhaps changed) since are decided one by one.
        return _Restored(variables, _decide(artifact, variables._made.items(), init_written,
                                            variables.__contains__))
    keys = artifact.checkpoint if artifact.checkpoint is not None else ()
    return _decide(artifact, variables.items(), init_written, keys.__contains__)


def source_counts(cov: Mapping[str, Coverage]) -> Counter[str]:
    """How many variables get their value each way, by :class:`ValueSource` value."""
    if isinstance(cov, _Restored):
        counts = Counter(c.source.value for c in cov.decided.values())
        counts[ValueSource.RESTORED.value] += len(cov.table.names) - len(cov.decided)
        return counts
    return Counter(c.source.value for c in cov.values())


class _Restored(Mapping[str, Coverage]):
    """The coverage of a :class:`VariableTable`: ``decided`` for the variables made, and restored
    from its own key for every other (a Coverage made when one is looked up)."""

    def __init__(self, table: VariableTable, decided: dict[str, Coverage]) -> None:
        self.table, self.decided = table, decided

    def __getitem__(self, name: str) -> Coverage:
        got = self.decided.get(name)
        if got is not None:
            return got
        if self.table.position(name) is None:
            raise KeyError(name)
        return Coverage(name, ValueSource.RESTORED, name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.table.names)

    def __len__(self) -> int:
        return len(self.table.names)


def _decide(artifact: Artifact, items: Iterable[tuple[str, Variable]], init_written: set[str],
            in_checkpoint: Callable[[str], bool]) -> dict[str, Coverage]:
    live = artifact.live_initialized
    out: dict[str, Coverage] = {}
    for name, var in items:
        key = var.checkpoint_key
        if live is not None:
            src = ValueSource.LIVE if name in live else ValueSource.NONE
        elif not artifact.value_sources or artifact.value_sources == (ValueOrigin.INIT,):
            src = ValueSource.UNKNOWN
        elif name in init_written:
            src = ValueSource.INIT_OP
        elif artifact.stored_values is not None and name in artifact.stored_values:
            src = ValueSource.RESTORED  # the file holds the value itself (Keras HDF5 weights)
        elif key is not None and in_checkpoint(key) and var.restored is not False:
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
