"""What runs: predicates of conds folded to constants, so that only the branch taken counts.

Predicates are folded when they are

- a ``Const``, through ``Identity``-like ops, ``Cast``, ``LogicalNot``, comparisons and
  ``LogicalAnd``/``LogicalOr`` of folded operands;
- a ``PlaceholderWithDefault`` left at its default: under signatures, one that no signature
  feeds; without signatures, only Keras' learning phase (``keras_learning_phase``), which
  serving never feeds;
- a function argument (``_Arg``) that every call site passes the same folded value for, e.g. a
  ``training`` flag that a serving function passes as a constant ``False``.

Then a TF1 ``Switch`` sends its data to one port only; what reads the other port is dead, and
so is everything that reads a dead tensor, except a ``Merge``, which is dead only when all its
inputs are. An ``If``/``StatelessIf`` calls only the branch its predicate selects, and a
``Case`` only the branch its index selects (the last, its default, when out of range).

A predicate that cannot be folded (a placeholder a signature feeds, a value computed at run time)
leaves both branches live, and the branches it guards are *conditional*: rules that find
something only there lower their confidence. Nothing is dead unless a folded predicate says so.

When the artifact trains (a train op is a root), the learning phase is fed while training:
defaults are not assumed for it, only constants fold (``assume_defaults=False``).
"""

from __future__ import annotations

import re
from dataclasses import field
from typing import TYPE_CHECKING, Iterable, Mapping

from graphaudit.analysis.calls import callers as _callers
from graphaudit.artifact import function_of, graph_key
from graphaudit.records import dataclass

if TYPE_CHECKING:
    from graphaudit.artifact import Artifact, Graph

_PASS = frozenset({"Identity", "Snapshot", "StopGradient", "RefIdentity", "PreventGradient"})
_SWITCH_OPS = frozenset({"Switch", "RefSwitch"})
_MERGE_OPS = frozenset({"Merge", "RefMerge"})
_IF_OPS = frozenset({"If", "StatelessIf"})
_CASE_OPS = frozenset({"Case", "StatelessCase"})
_COMPARE = {"Equal": lambda a, b: a == b, "NotEqual": lambda a, b: a != b, "Greater": lambda a, b: a > b,
            "GreaterEqual": lambda a, b: a >= b, "Less": lambda a, b: a < b, "LessEqual": lambda a, b: a <= b,
            "LogicalAnd": lambda a, b: bool(a) and bool(b), "LogicalOr": lambda a, b: bool(a) or bool(b)}
_LEARNING_PHASE = re.compile(r"(^|/)keras_learning_phase(_\d+)?$")
_UNKNOWN = object()


@dataclass(frozen=True)
class Predicate:
    """One cond's predicate: where it is, and what it folded to (None: unresolved)."""

    graph: str  # graph name, or `function:<name>`
    node: str  # the Switch, If or Case
    predicate: str  # the node its predicate comes from
    value: bool | int | None
    how: str  # e.g. "`keras_learning_phase` left at its default"


@dataclass
class Folding:
    """Folded predicates of an artifact, and what they make dead or conditional."""

    assume_defaults: bool
    predicates: dict[tuple[str, int], Predicate] = field(default_factory=dict)  # (graph key, node) ->
    dead: dict[str, bytearray] = field(default_factory=dict)  # graph key -> 1 for nodes that never run
    conditional: dict[str, bytearray] = field(default_factory=dict)  # graph key -> guarded by unresolved
    _arg_values: dict[tuple[str, int], object] = field(default_factory=dict, repr=False)

    def is_dead(self, key: str, i: int) -> bool:
        marks = self.dead.get(key)
        return bool(marks is not None and marks[i])

    def is_conditional(self, key: str, i: int) -> bool:
        marks = self.conditional.get(key)
        return bool(marks is not None and marks[i])

    def calls(self, key: str, graph: "Graph", i: int, library: Mapping[str, "Graph"]) -> tuple[list[str], list[str]]:
        """(functions node ``i`` surely calls, functions it calls only if an unresolved predicate says so)."""
        called = graph.function_calls(i, library)
        op = graph.ops[i]
        if op not in _IF_OPS and op not in _CASE_OPS:
            return called, []
        branches = _branches(graph, i)
        pred = self.predicates.get((key, i))
        if pred is None or pred.value is None:
            return [f for f in called if f not in branches], [f for f in called if f in branches]
        if op in _IF_OPS:
            taken = branches[0] if pred.value else branches[1] if len(branches) > 1 else None
        else:
            k = int(pred.value)
            taken = branches[k] if 0 <= k < len(branches) else (branches[-1] if branches else None)
        return [f for f in called if f not in branches or f == taken], []

    def unresolved(self) -> list[Predicate]:
        return [p for p in self.predicates.values() if p.value is None]

    def resolved(self) -> list[Predicate]:
        return [p for p in self.predicates.values() if p.value is not None]


def _branches(graph: "Graph", i: int) -> list[str]:
    op = graph.ops[i]
    if op in _IF_OPS:
        out = []
        for key in ("then_branch", "else_branch"):
            av = graph.attr(i, key)
            out.append(av.func.name if av is not None else "")
        return out
    av = graph.attr(i, "branches")
    return [f.name for f in av.list.func] if av is not None else []


def fold(artifact: "Artifact", *, assume_defaults: bool) -> Folding:
    """Fold every Switch, If and Case predicate of ``artifact``; mark what they make dead or conditional."""
    folding = Folding(assume_defaults)
    library = artifact.functions
    fed: dict[str, set[str]] = {}
    signed: set[str] = set()
    for mg in artifact.meta_graphs:
        for sig in mg.signatures:
            if sig.name.startswith("__"):
                continue
            signed.add(mg.graph)
            fed.setdefault(mg.graph, set()).update(t.lstrip("^").rsplit(":", 1)[0] for t, _, _ in sig.inputs.values())
    sites = _call_sites(artifact)
    graphs = [(name, g) for name, g in artifact.graphs.items()]
    graphs += [(graph_key(name, True), g) for name, g in library.items()]
    for key, graph in graphs:
        ids = [i for ops in (_SWITCH_OPS, _IF_OPS, _CASE_OPS) for op in ops for i in graph.by_op.get(op, ())]
        if not ids:
            continue
        ctx = _Context(artifact, folding, sites, fed.get(key, set()), key in signed, assume_defaults)
        for i in sorted(ids):
            j = graph.inputs[i][1] if graph.ops[i] in _SWITCH_OPS and len(graph.inputs[i]) > 1 else (
                graph.inputs[i][0] if graph.inputs[i] else None)
            if j is None:
                continue
            value, how = ctx.value(key, graph, j, 0)
            known = None if value is _UNKNOWN else value
            folding.predicates[(key, i)] = Predicate(key, graph.names[i], graph.names[graph.source(j)], known,
                                                     how if known is not None else how or "not a constant")
        _propagate(folding, key, graph, ids)
    return folding


def _call_sites(artifact: "Artifact") -> dict[str, list[tuple[str, "Graph", int, int]]]:
    """Function -> (caller key, caller graph, node, index of its first argument) of every call."""
    library = artifact.functions
    out: dict[str, list[tuple[str, "Graph", int, int]]] = {}
    if not library:
        return out
    graphs = [(name, g) for name, g in artifact.graphs.items()]
    graphs += [(graph_key(name, True), g) for name, g in library.items()]
    for key, graph in graphs:
        for i, callees in _callers(graph, library).items():
            offset = 1 if graph.ops[i] in _IF_OPS or graph.ops[i] in _CASE_OPS else 0
            for f in callees:
                out.setdefault(f, []).append((key, graph, i, offset))
    return out


class _Context:
    def __init__(self, artifact, folding, sites, fed, signed, assume_defaults) -> None:
        self.artifact = artifact
        self.folding = folding
        self.sites = sites
        self.fed = fed
        self.signed = signed
        self.assume_defaults = assume_defaults

    def value(self, key: str, graph: "Graph", i: int, depth: int) -> tuple[object, str]:
        """(folded value of node ``i``'s output 0, how) or (_UNKNOWN, why not)."""
        if depth > 32:
            return _UNKNOWN, ""
        op = graph.ops[i]
        name = graph.names[i]
        if op == "Const":
            got = _const_scalar(graph, i)
            return (got, f"constant `{name}`") if got is not _UNKNOWN else (_UNKNOWN, "")
        if op in _PASS or op == "Cast":
            if not graph.inputs[i]:
                return _UNKNOWN, ""
            got, how = self.value(key, graph, graph.inputs[i][0], depth + 1)
            if got is not _UNKNOWN and op == "Cast":
                got = _cast(graph, i, got)
            return got, how
        if op == "LogicalNot":
            got, how = self.value(key, graph, graph.inputs[i][0], depth + 1) if graph.inputs[i] else (_UNKNOWN, "")
            return (not got, how) if got is not _UNKNOWN else (_UNKNOWN, how)
        if op in _COMPARE and len(graph.inputs[i]) == 2:
            a, how_a = self.value(key, graph, graph.inputs[i][0], depth + 1)
            b, how_b = self.value(key, graph, graph.inputs[i][1], depth + 1)
            if a is _UNKNOWN or b is _UNKNOWN:
                return _UNKNOWN, how_a if a is _UNKNOWN else how_b
            return bool(_COMPARE[op](a, b)), " and ".join(h for h in (how_a, how_b) if h)
        if op == "PlaceholderWithDefault":
            learning_phase = bool(_LEARNING_PHASE.search(name))
            if name in self.fed:
                return _UNKNOWN, f"`{name}` is a signature input"
            at_default = self.assume_defaults and (self.signed or learning_phase)
            if not at_default:
                why = "fed while training" if learning_phase else "a placeholder that may be fed"
                return _UNKNOWN, f"`{name}` is {why}"
            got, _ = self.value(key, graph, graph.inputs[i][0], depth + 1) if graph.inputs[i] else (_UNKNOWN, "")
            what = "the Keras learning phase `" + name + "`" if learning_phase else f"`{name}`"
            unfed = "" if learning_phase or not self.signed else ", which no signature feeds,"
            return got, f"{what}{unfed} left at its default ({got})"
        if op == "_Arg" and function_of(key) is not None:
            return self._argument(function_of(key), graph, i, depth)
        if op in ("Placeholder", "PlaceholderV2"):
            return _UNKNOWN, f"`{name}` is fed"
        return _UNKNOWN, f"`{name}` ({op}) is computed when the graph runs"

    def _argument(self, fname: str, body: "Graph", i: int, depth: int) -> tuple[object, str]:
        k = i  # arguments are the first nodes of a body, in signature order
        memo = self.folding._arg_values
        if (fname, k) in memo:
            return memo[(fname, k)]
        memo[(fname, k)] = (_UNKNOWN, "")  # a guard; libraries are acyclic, but be safe
        calls = self.sites.get(fname, [])
        values = []
        hows = []
        for ckey, cgraph, ci, offset in calls:
            pos = k + offset
            if pos >= len(cgraph.inputs[ci]):
                values.append(_UNKNOWN)
                break
            got, how = self.value(ckey, cgraph, cgraph.inputs[ci][pos], depth + 1)
            values.append(got)
            hows.append(how)
            if got is _UNKNOWN:
                break
        if calls and all(v is not _UNKNOWN for v in values) and len({repr(v) for v in values}) == 1:
            result = (values[0], f"argument `{body.names[i]}` of `{fname}`, passed {hows[0]} by "
                                 f"{len(calls)} call site(s)")
        else:
            # The deepest reason says most: `serving_default_training` is fed, three calls up.
            why = hows[-1].rsplit(": ", 1)[-1] if hows and hows[-1] else "not the same constant at every call"
            result = (_UNKNOWN, f"argument `{body.names[i]}` of `{fname}`: {why}")
        memo[(fname, k)] = result
        return result


def _const_scalar(graph: "Graph", i: int) -> object:
    av = graph.attr(i, "value")
    if av is None:
        return _UNKNOWN
    t = av.tensor
    if any(d.size != 1 for d in t.tensor_shape.dim):
        return _UNKNOWN
    for field_name in ("bool_val", "int_val", "int64_val"):
        vals = getattr(t, field_name)
        if len(vals):
            return bool(vals[0]) if field_name == "bool_val" else int(vals[0])
    if t.tensor_content:
        import numpy as np

        kinds = {10: np.bool_, 3: np.int32, 9: np.int64, 4: np.uint8}
        dtype = kinds.get(t.dtype)
        if dtype is not None:
            arr = np.frombuffer(t.tensor_content, dtype=dtype)
            if arr.size == 1:
                return bool(arr[0]) if t.dtype == 10 else int(arr[0])
        return _UNKNOWN
    if t.dtype == 10:
        return False  # a bool scalar with no value field holds the default, False
    if t.dtype in (3, 9, 4):
        return 0
    return _UNKNOWN


def _cast(graph: "Graph", i: int, value: object) -> object:
    av = graph.attr(i, "DstT")
    if av is not None and av.type == 10:
        return bool(value)
    if av is not None and av.type in (3, 9, 4, 5, 6):
        return int(value)
    return value


def _propagate(folding: Folding, key: str, graph: "Graph", ids: Iterable[int]) -> None:
    """Mark what a folded Switch makes dead, and what an unresolved one makes conditional."""
    dead_seeds: list[tuple[int, int]] = []  # (switch, dead port)
    cond_seeds: list[int] = []
    for i in ids:
        if graph.ops[i] not in _SWITCH_OPS:
            continue
        pred = folding.predicates.get((key, i))
        if pred is None:
            continue
        if pred.value is None:
            cond_seeds.append(i)
        else:
            dead_seeds.append((i, 0 if pred.value else 1))
    if dead_seeds:
        folding.dead[key] = _spread(graph, dead_seeds)
    if cond_seeds:
        folding.conditional[key] = _spread(graph, [(i, p) for i in cond_seeds for p in (0, 1)], merge_stops=True)


def _spread(graph: "Graph", seeds: list[tuple[int, int]], merge_stops: bool = False) -> bytearray:
    """Nodes reading a seed's port, and everything reading them, up to Merges that have a live input."""
    n = len(graph)
    dead = bytearray(n)
    consumers = graph.consumers
    stack: list[int] = []
    for s, port in seeds:
        for c in consumers[s]:
            if dead[c]:
                continue
            hit = any(j == s and p == port for j, p in zip(graph.inputs[c], graph.input_ports[c]))
            if not hit and s in graph.control_inputs[c]:
                hit = False  # a control edge from a Switch carries no branch
            if hit:
                if graph.ops[c] in _MERGE_OPS and (merge_stops or not _all_dead(graph, c, dead, seeds)):
                    continue
                dead[c] = 1
                stack.append(c)
    while stack:
        i = stack.pop()
        for c in consumers[i]:
            if dead[c]:
                continue
            if graph.ops[c] in _MERGE_OPS and (merge_stops or not _all_dead(graph, c, dead, seeds)):
                continue
            dead[c] = 1
            stack.append(c)
    return dead


def _all_dead(graph: "Graph", m: int, dead: bytearray, seeds: list[tuple[int, int]]) -> bool:
    dead_ports = {(s, p) for s, p in seeds}
    for j, p in zip(graph.inputs[m], graph.input_ports[m]):
        if not (dead[j] or (j, p) in dead_ports):
            return False
    return True
