"""Facts about an Artifact that several rules share, each computed once and only when asked."""

from __future__ import annotations

from functools import cached_property
from typing import AbstractSet, Mapping

from graphaudit.analysis import columns as _columns
from graphaudit.analysis import control_flow as _control_flow
from graphaudit.analysis import coverage as _coverage
from graphaudit.analysis import name_drift as _name_drift
from graphaudit.analysis import orphans as _orphans
from graphaudit.analysis import roles as _roles
from graphaudit.analysis import slots as _slots
from graphaudit.analysis import updates as _updates
from graphaudit.analysis import verdicts as _verdicts
from graphaudit.analysis import weight_stats as _weight_stats
from graphaudit.analysis.provenance import PretrainedGroup, Provenance, ReferenceWeights, open_reference
from graphaudit.analysis.provenance import provenance as _provenance
from graphaudit.analysis.reachability import Reach, infer_roots, reach, user_roots
from graphaudit.analysis.copies import DeadCopy, dead_copies, duplicate_sinks, input_only_sinks
from graphaudit.analysis.structure import FunctionHashes, GraphStructure, graph_structure
from graphaudit.artifact import VARIABLE_OPS, Artifact, Root, RootKind, VariableTable, made_variables
from graphaudit.config import Settings


class Analyses:
    """Lazily computed, cached analyses of one artifact under one configuration."""

    def __init__(self, artifact: Artifact, settings: Settings) -> None:
        self.artifact = artifact
        self.settings = settings

    @cached_property
    def user_roots(self) -> list[Root]:
        """The nodes named with ``--output`` (``outputs`` in the config)."""
        return user_roots(self.artifact, self.settings.outputs or ())

    @cached_property
    def use_roots(self) -> list[Root]:
        """Declared use roots and ``--output`` nodes; for graphs that have none, inferred sinks."""
        art = self.artifact
        declared = [*art.use_roots(), *self.user_roots]
        roots = list(declared)
        declared_graphs = {r.graph for r in declared}
        for gname in art.graphs:
            if gname not in declared_graphs:
                inferred = infer_roots(art, gname, exclude=self._duplicate_sink_mask(gname))
                roots.extend(self._drop_orphans(gname, inferred))
        return roots

    @cached_property
    def orphans(self) -> dict[str, list[_orphans.Orphan]]:
        """Per graph without declared roots, model copies that end in sinks but that nothing feeds."""
        self.use_roots
        return self.__dict__.setdefault("_orphans", {})

    def _drop_orphans(self, gname: str, inferred: list[Root]) -> list[Root]:
        graph = self.artifact.graphs[gname]
        ids = [graph.index[r.node] for r in inferred]
        fed = {t.lstrip('^').rsplit(':', 1)[0] for mg in self.artifact.meta_graphs if mg.graph == gname
               for s in mg.signatures for t, _, _ in s.inputs.values()}
        found = _orphans.find_orphans(self.structure(gname), gname, ids, fed, self.settings.min_duplicate_ops)
        if not found:
            return inferred
        self.__dict__.setdefault("_orphans", {})[gname] = found
        drop = {i for o in found for i in o.sinks}
        return [r for r, i in zip(inferred, ids) if i not in drop]

    @cached_property
    def roots_note(self) -> str:
        roots = self.use_roots
        inferred = [r for r in roots if r.kind.value == "inferred sink"]
        declared = [r for r in roots if r.kind.value != "inferred sink"]
        parts = []
        if declared:
            kinds = sorted({r.kind.value for r in declared})
            parts.append(f"{len(declared)} declared root(s) ({', '.join(kinds)})")
        if inferred:
            inferred = sorted(inferred, key=self._sink_display_key)
            names = ", ".join(f"`{r.node}`" for r in inferred[:3]) + (" ..." if len(inferred) > 3 else "")
            skipped = [n for names_ in self.skipped_sinks.values() for n in names_]
            left_out = ""
            if skipped:
                left_out = (f", leaving out {len(skipped)} sink(s) that end a structural duplicate of a used "
                            f"subgraph ({', '.join(f'`{n}`' for n in skipped[:3])}{' ...' if len(skipped) > 3 else ''})")
            orphaned = [o for found in self.orphans.values() for o in found]
            if orphaned:
                left_out += "".join(
                    f", leaving out {len(o.sinks)} sink(s) of the copy on {', '.join(f'`{p}`' for p in o.placeholders)}"
                    f" that nothing feeds" for o in orphaned[:3])
            parts.append(f"{len(inferred)} root(s) inferred from graph sinks ({names}){left_out}; "
                         "name the real outputs with --output")
        return "; ".join(parts) or "no roots"

    def _sink_display_key(self, root: Root) -> tuple:
        """Sinks outside any duplicated region first (`output`), then side outputs of a copy."""
        graph = self.artifact.graphs[root.graph]
        i = graph.index.get(root.node, 0)
        return (bool(self.structure(root.graph).copy[i]), root.graph, i)

    @cached_property
    def function_hashes(self) -> FunctionHashes:
        """Structural ids of the function library's bodies (see analysis/structure.py)."""
        return FunctionHashes(self.artifact.functions)

    def structure(self, graph: str) -> GraphStructure:
        """Structural hashes, copy nodes and duplicated regions of one graph, computed once."""
        cache = self.__dict__.setdefault("_structures", {})
        if graph not in cache:
            cache[graph] = graph_structure(self.artifact.graphs[graph], self.function_hashes)
        return cache[graph]

    @cached_property
    def skipped_sinks(self) -> dict[str, list[str]]:
        """Per graph, sinks that root inference left out because they end a structural duplicate."""
        return {}

    def _duplicate_sink_mask(self, graph: str) -> bytearray:
        g = self.artifact.graphs[graph]
        mask = bytearray(len(g))
        gs = self.structure(graph)
        skipped = duplicate_sinks(gs, self.settings.min_duplicate_ops)
        for i in skipped + input_only_sinks(gs):
            mask[i] = 1
        if skipped:
            self.skipped_sinks[graph] = [g.names[i] for i in skipped]
        return mask

    @cached_property
    def dead_copies(self) -> list[DeadCopy]:
        """Duplicated regions of at least `min_duplicate_ops` nodes that no root reaches, with their twins."""
        out: list[DeadCopy] = []
        for gname in self.artifact.graphs:
            out.extend(dead_copies(self.artifact, gname, self.structure(gname), self.graph_reach,
                                   self.settings.min_duplicate_ops))
        # Metric counters, steps and optimizer state never make a model: a leftover metric
        # computation that duplicates another is not a copy of the model.
        return [d for d in out if self._reads_model(d.dead.weights)]

    def _reads_model(self, weights) -> bool:
        variables, model = self.artifact.variables, self.model_variables
        return any(w not in variables or w in model for w in weights)

    @cached_property
    def graph_reach(self) -> Reach:
        """What the use roots depend on in the graph, every branch of every cond included.

        GA101 asks this: a copy in a branch that serving does not take is still used (when
        training, say), so it is no orphan; and a copy's size counts both branches of its conds.
        """
        return reach(self.artifact, self.use_roots)

    @cached_property
    def signature_roots(self) -> list[Root]:
        """The outputs of the artifact's signatures: what serving runs."""
        return [r for r in self.artifact.roots if r.kind is RootKind.SIGNATURE_OUTPUT]

    @cached_property
    def signature_reach(self) -> Reach:
        """What serving runs: what the signature outputs depend on, in the branches that folded predicates take."""
        return reach(self.artifact, self.signature_roots, self.serving_folding)

    @cached_property
    def use_reach(self) -> Reach:
        """What the use roots run: only the branches that folded predicates take."""
        return reach(self.artifact, self.use_roots, self.folding)

    @cached_property
    def folding(self) -> _control_flow.Folding:
        """Cond predicates folded for what the use roots run (analysis/control_flow.py).

        Defaults (the Keras learning phase, unfed PlaceholderWithDefaults) are assumed unless the
        artifact trains: a train op's runner feeds the learning phase.
        """
        trains = any(r.kind is RootKind.TRAIN_OP for r in self.artifact.roots)
        return self.serving_folding if not trains else _control_flow.fold(self.artifact, assume_defaults=False)

    @cached_property
    def serving_folding(self) -> _control_flow.Folding:
        """Cond predicates folded as serving runs them: every default left as it is."""
        return _control_flow.fold(self.artifact, assume_defaults=True)

    @cached_property
    def read_variables(self) -> set[str]:
        """Variables the use roots depend on. Object-graph variables (TF2) count as read."""
        art = self.artifact
        out: set[str] = set()
        r = self.use_reach
        for gname, graph in art.graphs.items():
            for op in VARIABLE_OPS:
                for i in graph.by_op.get(op, ()):
                    if r.reached(gname, i):
                        out.add(graph.names[i])
        if isinstance(art.variables, VariableTable):  # a bare checkpoint's: no variable has a node
            out.update(n for n in art.variables.names if n not in art.variables._made)
        for name, var in made_variables(art.variables):
            if var.node is None:
                out.add(name)
        return out

    @cached_property
    def coverage(self) -> dict[str, _coverage.Coverage]:
        return _coverage.coverage(self.artifact)

    @cached_property
    def name_drift(self) -> list[_name_drift.Drift]:
        """Read variables the checkpoint lacks but holds under another name (see analysis/name_drift.py)."""
        cov = self.coverage
        lacking = (_coverage.ValueSource.NONE, _coverage.ValueSource.MISSING_KEY)
        missing = [n for n in sorted(self.read_variables) if n in cov and cov[n].source in lacking]
        return _name_drift.drifts(self.artifact, missing)

    @cached_property
    def reference_weights(self) -> ReferenceWeights | None:
        """The `--weights` file, indexed (values are read on demand)."""
        return open_reference(self.settings.weights) if self.settings.weights else None

    @cached_property
    def provenance(self) -> Provenance:
        """Pretrained groups with their evidence, and what was considered and rejected (analysis/provenance.py)."""
        return _provenance(self.artifact, self.settings, self.reference_weights, self.roles, self.updates,
                           self.variable_columns)

    @cached_property
    def pretrained_groups(self) -> list[PretrainedGroup]:
        """Pretrained variable groups with their evidence (see analysis/provenance.py)."""
        return list(self.provenance.groups)

    @cached_property
    def weight_verdicts(self) -> dict[str, _weight_stats.Verdict]:
        """Pretrained variable -> is its stored value fresh initializer output (analysis/verdicts.py)."""
        return _verdicts.judge_groups(self.artifact, self.pretrained_groups)

    @cached_property
    def group_of(self) -> dict[str, PretrainedGroup]:
        """Variable name -> the pretrained group holding it."""
        return {v: g for g in self.pretrained_groups for v in g.variables}

    @cached_property
    def variable_columns(self) -> _columns.VariableColumns:
        """The variables as parallel lists, shared by the analyses that look at every one (analysis/columns.py)."""
        return _columns.VariableColumns(self.artifact.variables)

    @cached_property
    def updates(self) -> _updates.UpdateFacts:
        """Every write of every variable, in graphs and function bodies, and what the train op runs."""
        return _updates.analyse_updates(self.artifact)

    @cached_property
    def roles(self) -> Mapping[str, _roles.VariableRole]:
        """Variable -> its role (model weight, BatchNorm statistic, optimizer slot, metric, counter, resource).

        A dict, or a bare checkpoint's :class:`~graphaudit.analysis.roles.RoleTable` (the same mapping)."""
        return _roles.variable_roles(self.artifact, self.updates, self.variable_columns)

    @cached_property
    def model_variables(self) -> AbstractSet[str]:
        """Variables that are part of a model: only these make a model, a copy or a pretrained group.

        A frozenset, or a bare checkpoint's :class:`~graphaudit.analysis.roles.ModelNames` (a set view)."""
        return _roles.model_variables(self.roles)

    @cached_property
    def slots(self) -> _slots.SlotEvidence:
        """Optimizer slots saved for each variable (analysis/slots.py)."""
        return _slots.optimizer_slots(self.artifact, self.variable_columns)

