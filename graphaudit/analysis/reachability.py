"""Which nodes and functions the artifact's roots reach, backwards over data and control edges."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from graphaudit.artifact import ASSIGN_OPS, VARIABLE_OPS, Artifact, Graph, Root, RootKind

# Sinks that never make a graph's purpose: bookkeeping that every TF1 graph carries.
_NOT_A_ROOT_OPS = frozenset({
    "NoOp", "Const", "Placeholder", "PlaceholderWithDefault", "VarHandleOp", "VariableV2", "Variable",
    "VarIsInitializedOp", "IsVariableInitialized", "SaveV2", "Save", "SaveSlices", "RestoreV2",
    "Restore", "RestoreSlice", "MergeV2Checkpoints", "ShardedFilename", "StringJoin",
    "DestroyResourceOp", "_Arg", "_Retval",
}) | ASSIGN_OPS


_SAVER_OPS = ("SaveV2", "Save", "SaveSlices", "RestoreV2", "Restore", "RestoreSlice", "MergeV2Checkpoints")


@dataclass
class Reach:
    """Reached node ids per graph and reached function names."""

    nodes: dict[str, bytearray] = field(default_factory=dict)
    functions: set[str] = field(default_factory=set)

    def reached(self, graph: str, i: int) -> bool:
        marks = self.nodes.get(graph)
        return bool(marks is not None and marks[i])

    def count(self, graph: str) -> int:
        marks = self.nodes.get(graph)
        return sum(marks) if marks is not None else 0


def reach(artifact: Artifact, roots: Iterable[Root]) -> Reach:
    """Mark everything the ``roots`` depend on, following calls into function bodies."""
    result = Reach()
    by_graph: dict[str, list[int]] = {}
    for root in roots:
        graph = artifact.graphs.get(root.graph)
        if graph is None:
            continue
        i = graph.index.get(root.node)
        if i is not None:
            by_graph.setdefault(root.graph, []).append(i)
    pending_functions: list[str] = []
    for gname, starts in by_graph.items():
        graph = artifact.graphs[gname]
        marks = result.nodes.setdefault(gname, bytearray(len(graph)))
        pending_functions.extend(_mark(graph, starts, marks, artifact.functions))
    # Functions reached by a call are wholly in use: mark their bodies from their returns.
    while pending_functions:
        fname = pending_functions.pop()
        if fname in result.functions:
            continue
        result.functions.add(fname)
        body = artifact.functions[fname]
        marks = result.nodes.setdefault(f"function:{fname}", bytearray(len(body)))
        starts = [i for i, nd in enumerate(body.defs) if nd is not None and not body.consumers[i]]
        pending_functions.extend(_mark(body, starts, marks, artifact.functions))
    return result


def _mark(graph: Graph, starts: list[int], marks: bytearray, library: Mapping[str, Graph]) -> list[str]:
    called: list[str] = []
    stack = [i for i in starts if not marks[i]]
    for i in stack:
        marks[i] = 1
    inputs, controls = graph.inputs, graph.control_inputs
    has_library = bool(library)
    while stack:
        i = stack.pop()
        if has_library:
            called.extend(graph.function_calls(i, library))
        for j in inputs[i]:
            if not marks[j]:
                marks[j] = 1
                stack.append(j)
        for j in controls[i]:
            if not marks[j]:
                marks[j] = 1
                stack.append(j)
    return called


def infer_roots(artifact: Artifact, graph_name: str, *, exclude: bytearray | None = None) -> list[Root]:
    """Roots for a graph that declares none: its sinks, less bookkeeping and state maintenance.

    A sink is a node nothing consumes. Sinks that are initializers, savers, restores, weight
    loads (Keras' ``Placeholder_N`` -> ``AssignVariableOp_N``), variable snapshots
    (``<var>/Read/ReadVariableOp``) or init NoOps are left out, and so are nodes in ``exclude``
    (e.g. the inside of a structural duplicate).
    """
    graph = artifact.graphs[graph_name]
    maintenance = reach(artifact, [r for r in artifact.roots if r.graph == graph_name and
                                   r.kind in (RootKind.INIT_OP, RootKind.RESTORE_OP, RootKind.SAVE_OP)])
    maint = maintenance.nodes.get(graph_name)
    # Every Saver leaves a scope (`save/`, `save_1/`, ...) whose sinks are never outputs, even
    # when the saver_def names another one.
    saver_scopes = {graph.names[i].rpartition("/")[0] for op in _SAVER_OPS for i in graph.by_op.get(op, ())}
    consumers = graph.consumers
    out: list[Root] = []
    for i, op in enumerate(graph.ops):
        if consumers[i] or op in _NOT_A_ROOT_OPS:
            if op == "NoOp" and not consumers[i] and _is_update_group(graph, i):
                pass  # a train op grouped under a NoOp (``minimize`` without a train_op collection)
            else:
                continue
        if maint is not None and maint[i]:
            continue
        if exclude is not None and exclude[i]:
            continue
        if saver_scopes and graph.names[i].rpartition("/")[0] in saver_scopes:
            continue
        if op == "ReadVariableOp" and graph.inputs[i] and graph.ops[graph.inputs[i][0]] in VARIABLE_OPS:
            continue
        out.append(Root(graph_name, graph.names[i], RootKind.INFERRED_SINK, f"sink `{graph.names[i]}` ({op})"))
    return out


def _is_update_group(graph: Graph, i: int) -> bool:
    """A NoOp whose control inputs reach optimizer updates (``Apply*``), not initializers."""
    stack = list(graph.control_inputs[i])
    seen = set(stack)
    while stack:
        j = stack.pop()
        op = graph.ops[j]
        if op.startswith(("Apply", "ResourceApply", "ResourceSparseApply", "SparseApply")):
            return True
        if op == "NoOp":
            for k in graph.control_inputs[j]:
                if k not in seen:
                    seen.add(k)
                    stack.append(k)
    return False
