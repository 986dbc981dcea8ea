"""Which nodes and functions the artifact's roots reach, backwards over data and control edges.

Roots are what the artifact is for: signature outputs, train ops, collections, and the nodes named
with ``--output`` (``outputs`` in the config). A graph that declares none (a bare GraphDef, a
MetaGraph without signatures) gets inferred roots: its sinks (nodes nothing consumes), less

- bookkeeping: initializers, savers and restores (and everything under a saver's scope), weight
  loads (Keras' ``Placeholder_N`` -> ``AssignVariableOp_N``), variable snapshots
  (``<var>/Read/ReadVariableOp``), init NoOps (a NoOp grouping optimizer updates stays a root);
- sinks that read no weight (class DATA in analysis/node_keys.py), such as Keras' learning-phase
  cond outputs, when the graph has sinks that do;
- sinks inside a duplicated region of at least ``min-duplicate-ops`` ops when a copy of the same
  model is consumed further on: the dead copy's last op and the side outputs that both copies
  carry (analysis/copies.py, ``duplicate_sinks``);
- the sinks of a copy that hangs off a Keras ``InputLayer`` placeholder (``input_1``) that nothing
  else reads and no signature feeds, when its twin reads another input (analysis/orphans.py).
  Otherwise, when every copy ends in sinks, all stay roots: structure alone cannot tell which
  one is used, and ``--output`` settles it.

With a ``Folding`` (analysis/control_flow.py), ``reach`` follows only the branches of conds whose
predicates fold, and says which functions are reached only through unresolved ones.

The exclusions come from ``Analyses`` (analysis/__init__.py) through ``infer_roots(exclude=...)``,
and ``Analyses.roots_note`` says which roots were used and what was left out.
"""

from __future__ import annotations

from dataclasses import field
from typing import TYPE_CHECKING, Iterable, Mapping

import numpy as np

from graphaudit.analysis.calls import callers as _callers
from graphaudit.artifact import ASSIGN_OPS, VARIABLE_OPS, Artifact, Graph, Root, RootKind, graph_key
from graphaudit.records import dataclass

try:
    from graphaudit.analysis import _classes as native
except ImportError:  # installed without a C compiler: the walk runs in Python
    native = None

if TYPE_CHECKING:
    from graphaudit.analysis.control_flow import Folding

#: Tests switch the C walk off to compare it with the Python one.
USE_NATIVE = True

# Sinks that never make a graph's purpose: bookkeeping that every TF1 graph carries.
_NOT_A_ROOT_OPS = frozenset({
    "NoOp", "Const", "Placeholder", "PlaceholderWithDefault", "VarHandleOp", "VariableV2", "Variable",
    "VarIsInitializedOp", "IsVariableInitialized", "SaveV2", "Save", "SaveSlices", "RestoreV2",
    "Restore", "RestoreSlice", "MergeV2Checkpoints", "ShardedFilename", "StringJoin",
    "DestroyResourceOp", "_Arg", "_Retval",
}) | ASSIGN_OPS


_SAVE_OPS = ("SaveV2", "Save", "SaveSlices", "MergeV2Checkpoints")


@dataclass
class Reach:
    """Reached node ids per graph and reached function names.

    With a :class:`~graphaudit.analysis.control_flow.Folding`, nodes in a branch that a folded
    predicate rules out are not reached, and ``conditional`` holds the functions reached only
    through a branch whose predicate could not be folded.
    """

    nodes: dict[str, bytearray] = field(default_factory=dict)
    functions: set[str] = field(default_factory=set)
    conditional: set[str] = field(default_factory=set)

    def reached(self, graph: str, i: int) -> bool:
        marks = self.nodes.get(graph)
        return bool(marks is not None and marks[i])

    def count(self, graph: str) -> int:
        marks = self.nodes.get(graph)
        return sum(marks) if marks is not None else 0


def reach(artifact: Artifact, roots: Iterable[Root], folding: "Folding | None" = None) -> Reach:
    """Mark everything the ``roots`` depend on, following calls into function bodies.

    With ``folding``, only the branches that run are followed (analysis/control_flow.py).
    """
    result = Reach()
    by_graph: dict[str, list[int]] = {}
    for root in roots:
        graph = artifact.graphs.get(root.graph)
        if graph is None:
            continue
        i = graph.index.get(root.node)
        if i is not None:
            by_graph.setdefault(root.graph, []).append(i)
    pending: list[tuple[str, bool]] = []
    for gname, starts in by_graph.items():
        graph = artifact.graphs[gname]
        marks = result.nodes.setdefault(gname, bytearray(len(graph)))
        pending.extend(_mark(graph, starts, marks, artifact.functions, folding, gname, True))
    # Functions reached by a call are wholly in use: mark their bodies from their returns.
    sure: set[str] = set()
    while pending:
        fname, certain = pending.pop()
        if fname in sure or (not certain and fname in result.functions):
            continue
        result.functions.add(fname)
        if certain:
            sure.add(fname)
        body = artifact.functions[fname]
        key = graph_key(fname, True)
        marks = result.nodes.setdefault(key, bytearray(len(body)))
        if certain:
            marks[:] = bytearray(len(body))  # walk again: calls found before were only conditional
        starts = [i for i, nd in enumerate(body.defs) if nd is not None and not body.consumers[i]]
        pending.extend(_mark(body, starts, marks, artifact.functions, folding, key, certain))
    result.conditional = result.functions - sure
    return result


def _mark(graph: Graph, starts: list[int], marks: bytearray, library: Mapping[str, Graph],
          folding: "Folding | None" = None, key: str = "", certain: bool = True) -> list[tuple[str, bool]]:
    """Mark what ``starts`` depend on; the calls into ``library`` that the newly marked nodes make."""
    dead = folding.dead.get(key) if folding is not None else None
    callers = _callers(graph, library) if library else {}
    walk = getattr(native, "mark", None) if USE_NATIVE else None
    if walk is not None:
        before = bytes(marks) if callers else b""
        in_offsets, in_nodes, _, ctrl_offsets, ctrl_nodes = graph.edge_arrays()
        walk(in_offsets, in_nodes, ctrl_offsets, ctrl_nodes, np.asarray(starts, dtype=np.int64), marks, dead)
        newly = [i for i in sorted(callers) if marks[i] and not before[i]]
    else:
        newly = _walk(graph, starts, marks, dead, callers)
    called: list[tuple[str, bool]] = []
    for i in newly:
        calls = callers[i]
        if folding is None:
            called.extend((f, certain) for f in calls)
        else:
            surely, maybe = folding.calls(key, graph, i, library)
            cond = certain and not (folding.is_conditional(key, i))
            called.extend((f, cond) for f in surely)
            called.extend((f, False) for f in maybe)
    return called


def _walk(graph: Graph, starts: list[int], marks: bytearray, dead: bytearray | None,
          callers: Mapping[int, list[str]]) -> list[int]:
    """The walk of ``_classes.mark`` in Python (installed without a C compiler); the callers it marked."""
    stack = [i for i in starts if not marks[i] and not (dead is not None and dead[i])]
    for i in stack:
        marks[i] = 1
    offsets, flat, ctrl_offsets, ctrl_flat = graph.adjacency_lists()
    found = []
    while stack:
        i = stack.pop()
        if callers and i in callers:
            found.append(i)
        for j in flat[offsets[i]:offsets[i + 1]]:
            if not marks[j] and not (dead is not None and dead[j]):
                marks[j] = 1
                stack.append(j)
        for j in ctrl_flat[ctrl_offsets[i]:ctrl_offsets[i + 1]]:
            if not marks[j] and not (dead is not None and dead[j]):
                marks[j] = 1
                stack.append(j)
    return sorted(set(found))  # a start given twice is popped twice


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
    # Only ops that save mark a saver's scope: `init_from_checkpoint` leaves bare `RestoreV2` ops
    # (`checkpoint_initializer`) in the root scope, which holds the outputs too.
    saver_scopes = {graph.names[i].rpartition("/")[0] for op in _SAVE_OPS for i in graph.by_op.get(op, ())} - {""}
    codes, table = graph.op_codes()
    sink = graph.consumer_counts() == 0
    keep = sink & ~np.isin(codes, [c for c, op in enumerate(table) if op in _NOT_A_ROOT_OPS])
    # A train op grouped under a NoOp (``minimize`` without a train_op collection) is a root.
    for i in graph.by_op.get("NoOp", ()):
        if sink[i] and _is_update_group(graph, i):
            keep[i] = True
    for marks in (maint, exclude):
        if marks is not None:
            keep &= np.frombuffer(marks, dtype=np.uint8) == 0
    # A variable's snapshot (`<var>/Read/ReadVariableOp`): a ReadVariableOp right on the variable.
    in_offsets, in_nodes = graph.edge_arrays()[:2]
    if "ReadVariableOp" in table and len(in_nodes):
        first_input = in_nodes[np.minimum(in_offsets[:-1], len(in_nodes) - 1)]
        is_variable = np.isin(codes, [c for c, op in enumerate(table) if op in VARIABLE_OPS])
        keep &= ~((codes == table.index("ReadVariableOp")) & (in_offsets[1:] > in_offsets[:-1])
                  & is_variable[first_input])
    names = graph.names
    out: list[Root] = []
    for i in np.flatnonzero(keep).tolist():
        if saver_scopes and names[i].rpartition("/")[0] in saver_scopes:
            continue
        out.append(Root(graph_name, names[i], RootKind.INFERRED_SINK, f"sink `{names[i]}` ({graph.ops[i]})"))
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


def user_roots(artifact: Artifact, outputs: Iterable[str]) -> list[Root]:
    """Roots named with ``--output NODE`` (``outputs`` in the config): the node in every graph that holds it."""
    out = []
    for name in outputs:
        node = name.split(":")[0]
        for gname, graph in artifact.graphs.items():
            if node in graph.index:
                out.append(Root(gname, node, RootKind.USER_OUTPUT, f"--output `{node}`"))
    return out
