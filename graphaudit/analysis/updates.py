"""Which ops write each variable, in graphs and function bodies, and which of them the train op runs."""

# TF2 function bodies see variables as resource-handle `_Arg`s. A handle's variable is found
# at the call sites: a `StatefulPartitionedCall` (or `If`, `While`, ...) passes a `VarHandleOp`
# (or its own `_Arg`) as argument k, so the callee's `_Arg` k is that variable. Handles are
# propagated through the (acyclic) call graph once per new fact, so the cost stays linear in
# nodes and edges for real libraries.

from __future__ import annotations

from collections import deque
from dataclasses import field
from typing import Iterable, Iterator

import numpy as np

from graphaudit.analysis.reachability import Reach, reach
from graphaudit.artifact import (
    VARIABLE_OPS,
    Artifact,
    Graph,
    Root,
    RootKind,
    UpdateKind,
    function_of,
    graph_key,
    made_variables,
)
from graphaudit.model.ops import classify_updates, is_write
from graphaudit.records import dataclass

# Control-flow ops whose first input is not passed to the branch functions.
_PREDICATE_FIRST = frozenset({"If", "StatelessIf", "Case", "StatelessCase"})
_HANDLE_PASS = frozenset({"Identity", "IdentityN", "Snapshot"})


@dataclass(frozen=True)
class Write:
    """One op that writes a variable, and what kind of write it is."""

    variable: str
    graph: str  # a graph name, or `function:<name>` for a function body
    node: str
    op: str
    kind: UpdateKind


# One write of one variable, as the fields of a `Write`: (variable, graph, node, op, kind). Writes are
# kept as these rows, and `Write` objects made only for the rows a question asks about.
_Row = tuple[str, str, str, str, UpdateKind]


@dataclass
class UpdateFacts:
    """Every write to every variable, and which of them the train op runs."""

    rows: list[_Row] = field(default_factory=list)  # every write, in graph then node order
    train_roots: list[Root] = field(default_factory=list)
    train_declared: bool = False
    trained: dict[str, list[Write]] = field(default_factory=dict)  # optimizer writes the train op runs
    moving_average: dict[str, list[Write]] = field(default_factory=dict)  # moving averages it runs
    optimizer_writes: int = 0  # optimizer writes anywhere in the artifact
    # graph key -> node id -> variables that node's handle refers to
    handles: dict[str, dict[int, frozenset[str]]] = field(default_factory=dict)

    @property
    def writes(self) -> dict[str, list[Write]]:
        """Variable -> every write to it (built on first use: most questions need a few rows only)."""
        got = self.__dict__.get("_writes")
        if got is None:
            got = {}
            for row in self.rows:
                got.setdefault(row[0], []).append(Write(*row))
            self.__dict__["_writes"] = got
        return got

    def select(self, kinds: Iterable[UpdateKind] | None = None, ops: Iterable[str] | None = None) -> Iterator[Write]:
        """The writes of these kinds (all when None) by these ops (any when None), in ``rows`` order."""
        kinds = frozenset(kinds) if kinds is not None else None
        ops = frozenset(ops) if ops is not None else None
        for row in self.rows:
            if (kinds is None or row[4] in kinds) and (ops is None or row[3] in ops):
                yield Write(*row)

    @property
    def has_train_op(self) -> bool:
        """True when something in the artifact trains: a declared train op or optimizer updates."""
        return self.train_declared or self.optimizer_writes > 0

    def train_note(self) -> str:
        if self.train_declared:
            return ", ".join(f"`{r.node}` ({r.source})" for r in self.train_roots[:3])
        return "no train op is declared; every optimizer update in the artifact counts"


def analyse_updates(artifact: Artifact) -> UpdateFacts:
    facts = UpdateFacts()
    handles = _resolve_handles(artifact)
    facts.handles = handles
    initializers = {v.initializer for _, v in made_variables(artifact.variables) if v.initializer}
    rows = facts.rows
    for key, graph in _all_graphs(artifact):
        marks = handles.get(key, {})
        if not marks or not len(graph):
            continue
        is_function = graph.kind == "function"
        # Only the op types that write are visited, and their targets are followed in bulk.
        codes, table = graph.op_codes()
        writes = np.array([is_write(op) for op in table], dtype=bool)
        in_offsets, in_nodes = graph.edge_arrays()[:2]
        writers = np.flatnonzero(writes[codes] & (in_offsets[1:] > in_offsets[:-1]))
        targets = graph.sources(in_nodes[in_offsets[writers]], through=_HANDLE_PASS).tolist()
        get = marks.get
        hit = [k for k, t in enumerate(targets) if get(t)]
        writers = writers[hit]
        kinds = classify_updates(graph, writers, set() if is_function else initializers)
        facts.optimizer_writes += kinds.count(UpdateKind.OPTIMIZER)
        names, ops = graph.names, graph.ops
        # A handle of several variables writes each of them, in name order.
        rows.extend((name, key, names[i], ops[i], kind)
                    for i, t, kind in zip(writers.tolist(), [targets[k] for k in hit], kinds)
                    for name in (marks[t] if len(marks[t]) == 1 else sorted(marks[t])))
    facts.train_roots = [r for r in artifact.roots if r.kind is RootKind.TRAIN_OP]
    facts.train_declared = bool(facts.train_roots)
    run = reach(artifact, facts.train_roots) if facts.train_declared else None
    # Grouped by variable in the order the variables are first written, as `writes` is.
    first: dict[str, int] = {}
    chosen: list[Write] = []
    for w in facts.select((UpdateKind.OPTIMIZER, UpdateKind.MOVING_AVERAGE)):
        if run is not None and not _reached(run, artifact, w):
            continue
        if run is None and w.kind is UpdateKind.MOVING_AVERAGE:
            continue  # without a train op, an unrun moving-average assign proves nothing
        chosen.append(w)
    if chosen:
        wanted = {w.variable for w in chosen}
        for k, row in enumerate(rows):
            if row[0] in wanted and row[0] not in first:
                first[row[0]] = k
        chosen.sort(key=lambda w: first[w.variable])  # stable: each variable's writes keep their order
    for w in chosen:
        target = facts.trained if w.kind is UpdateKind.OPTIMIZER else facts.moving_average
        target.setdefault(w.variable, []).append(w)
    return facts


def _reached(run: Reach, artifact: Artifact, w: Write) -> bool:
    function = function_of(w.graph)
    if function is not None:
        return function in run.functions
    graph = artifact.graphs.get(w.graph)
    if graph is None:
        return False
    i = graph.index.get(w.node)
    return i is not None and run.reached(w.graph, i)


def _all_graphs(artifact: Artifact):
    for name, graph in artifact.graphs.items():
        yield name, graph
    for name, body in artifact.functions.items():
        yield graph_key(name, True), body


def _variable_of_node(artifact: Artifact, graph: Graph, i: int) -> str | None:
    name = graph.names[i]
    if name in artifact.variables:
        return name
    av = graph.attr(i, "shared_name")
    if av is not None and av.s:
        shared = av.s.decode("utf-8", "replace")
        if shared in artifact.variables:
            return shared
    return None


def _resolve_handles(artifact: Artifact) -> dict[str, dict[int, frozenset[str]]]:
    """For every graph and function body: which nodes are handles of which variables."""
    library = artifact.functions
    out: dict[str, dict[int, frozenset[str]]] = {}
    args: dict[str, dict[int, set[str]]] = {}  # function -> arg index -> variables
    queue: deque[str] = deque()

    def scan(key: str, graph: Graph, marks: dict[int, frozenset[str]]) -> None:
        """Record marks for the graph's variable ops and pass handles on to its callees."""
        variables, names, by_op = artifact.variables, graph.names, graph.by_op
        for op in VARIABLE_OPS:
            ids = by_op.get(op, ())
            # Most variable ops are named as their variable; only the others read `shared_name`.
            named = [i for i in ids if names[i] in variables]
            if len(named) < len(ids):
                named = set(named)
                for i in ids:
                    name = names[i] if i in named else _variable_of_node(artifact, graph, i)
                    if name is not None:
                        marks[i] = frozenset((name,))
            else:
                marks.update(zip(named, map(frozenset, zip(map(names.__getitem__, named)))))
        out[key] = marks
        if not marks or not library:
            return
        for i in range(len(graph)):
            callees = graph.function_calls(i, library)
            if not callees:
                continue
            offset = 1 if graph.ops[i] in _PREDICATE_FIRST else 0
            for pos, j in enumerate(graph.inputs[i]):
                src = graph.source(j, through=_HANDLE_PASS)
                names = marks.get(src)
                if not names or pos < offset:
                    continue
                for callee in callees:
                    slot = args.setdefault(callee, {}).setdefault(pos - offset, set())
                    if not names <= slot:
                        slot.update(names)
                        queue.append(callee)

    for gname, graph in artifact.graphs.items():
        scan(gname, graph, {})
    done: dict[str, int] = {}
    while queue:
        fname = queue.popleft()
        body = library.get(fname)
        if body is None:
            continue
        size = sum(len(v) for v in args.get(fname, {}).values())
        if done.get(fname) == size:
            continue
        done[fname] = size
        marks = {k: frozenset(v) for k, v in args.get(fname, {}).items() if k < len(body.arg_names)}
        scan(graph_key(fname, True), body, marks)
    return out


def batch_norm_variables(graph: Graph, i: int, marks: dict[int, frozenset[str]]) -> set[str]:
    """Variables feeding a FusedBatchNorm's scale, offset, mean and variance inputs."""
    out: set[str] = set()
    for j in graph.inputs[i][1:5]:
        src = graph.source(j, through=_HANDLE_PASS | {"ReadVariableOp"})
        out.update(marks.get(src, ()))
    return out
