"""`graphaudit fix`: write a repaired copy of an artifact, applying the fixes that a finding's evidence makes safe."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import field
from pathlib import Path

import numpy as np

from graphaudit.artifact import Artifact, Format
from graphaudit.errors import ArtifactError, UsageError
from graphaudit.findings import Finding
from graphaudit.formats import editing
from graphaudit.formats.editing import Unsafe
from graphaudit.names import plural
from graphaudit.records import dataclass

#: Formats whose graph `fix` rewrites: their protobufs hold the whole graph and its saver.
GRAPH_FORMATS = (Format.GRAPHDEF, Format.GRAPHDEF_TEXT, Format.METAGRAPH, Format.SAVED_MODEL_V1)


@dataclass
class Outcome:
    """What one finding got: fixed (with what changed) or manual (with why)."""

    finding: Finding
    fixed: bool
    detail: str


@dataclass
class FixResult:
    source: str
    out: str
    format: str
    outcomes: list[Outcome] = field(default_factory=list)
    files: list[tuple[str, str]] = field(default_factory=list)  # (relative path, what changed)
    removed: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # file -> [(node, op)]
    sizes: tuple[int, int] = (0, 0)  # bytes of the artifact's files before and after
    in_place: bool = False


# ------------------------------------------------------------------------------------------ the files


def artifact_files(art: Artifact) -> tuple[Path, list[Path]]:
    """The folder the artifact's files are relative to, and every file it is made of."""
    path = Path(art.path)
    if art.format in (Format.SAVED_MODEL_V1, Format.SAVED_MODEL_V2):
        root = path if path.is_dir() else path.parent
        return root, sorted(p for p in root.rglob("*") if p.is_file())
    root = path.parent
    files = [path]
    if art.checkpoint is not None:
        prefix = Path(art.checkpoint.prefix)
        files += sorted(p for p in prefix.parent.iterdir()
                        if p.is_file() and p.name.startswith(prefix.name + ".") and p != path)
        state = prefix.parent / "checkpoint"
        if state.is_file():
            files.append(state)
    return root, files


# ------------------------------------------------------------------------------------------ the plan


@dataclass
class Plan:
    """Everything to change: nodes to prune per graph, checkpoint edits, collection edits."""

    seeds: dict[str, set[str]] = field(default_factory=dict)  # graph -> nodes to remove (with their closure)
    drop_keys: set[str] = field(default_factory=set)
    renames: dict[str, str] = field(default_factory=dict)  # new key -> old key
    values: dict[str, Callable[[], object]] = field(default_factory=dict)  # key -> new value
    untrain: dict[str, set[str]] = field(default_factory=dict)  # graph -> variable nodes to leave trainable_variables
    by_finding: dict[int, str] = field(default_factory=dict)  # id(finding) -> what the fix does


def _plan_finding(plan: Plan, art: Artifact, facts, finding: Finding, weights) -> str:
    """Add the fix of one finding to ``plan`` and say what it does, or raise Unsafe."""
    code = finding.code
    loc = finding.location
    if code == "GA202" and art.checkpoint is None:
        raise Unsafe("the values are not in a checkpoint (a frozen graph's constants): load the pretrained "
                     "weights in the code and freeze the graph again")
    if code == "GA202" and weights is None:
        raise Unsafe("give the pretrained weights with `--weights FILE.h5` to write them into the checkpoint")
    if code == "GA301":
        raise Unsafe("a train op in the graph updates them: rebuild it with `var_list=` leaving them out, then "
                     "save again (`fix` cannot rewrite an optimizer's update ops)")
    if not finding.fixup.automatic:
        raise Unsafe("its evidence does not make an automatic fix safe")
    if art.format not in GRAPH_FORMATS and code != "GA202":
        raise Unsafe(f"`fix` rewrites GraphDefs, MetaGraphs and TF1 SavedModels, not {art.format.value}")
    if code in ("GA101", "GA102"):
        copies = [d for d in facts.dead_copies if d.graph == loc.graph and d.dead.scope == loc.scope] or \
                 [d for d in facts.dead_copies if d.graph == loc.graph and set(loc.variables) & set(d.dead.weights)]
        if code == "GA102":
            copies = [d for d in facts.dead_copies if d.graph == loc.graph and not d.shares_weights]
        if not copies:
            raise Unsafe("the dead copy is no longer found in the graph")
        seeds = plan.seeds.setdefault(loc.graph, set())
        ops = params = 0
        for d in copies:
            seeds.update(d.dead.nodes)
            seeds.update(d.inputs)
            ops += len(d.dead.nodes)
            if not d.shares_weights:
                # Its own variables go too: their nodes, then (by the closure) their init and reads.
                nodes = [art.variables[w].node for w in d.unused_weights if w in art.variables]
                seeds.update(n for n in nodes if n)
                params += d.unused_params
        what = f"remove {plural(len(copies), 'unused copy', 'unused copies')} ({ops:,} ops"
        return what + (f", {params:,} params)" if params else "; their weights are shared and kept)")
    if code == "GA203":
        if art.checkpoint is None or not hasattr(art.checkpoint, "header"):
            raise Unsafe("the checkpoint is not a tensor bundle that `fix` can rewrite")
        drifts = [d for d in facts.name_drift if d.graph == loc.graph]
        count = 0
        for drift in drifts:
            for r in drift.renames:
                var = art.variables[r.variable]
                has_restore = any(m.restore_op for m in art.meta_graphs if m.graph == var.graph)
                if not var.checkpoint_key or (has_restore and var.restored is not True):
                    raise Unsafe(f"the graph's restore op does not restore `{r.variable}`: a key under its name "
                                 "would not be read (restore it in the code, or rebuild the saver)")
                new_key = var.checkpoint_key
                entry = art.checkpoint.entry(r.key)
                if new_key in art.checkpoint or new_key in plan.renames:
                    raise Unsafe(f"the checkpoint already holds `{new_key}`")
                if var.shape is not None and tuple(entry.shape) != tuple(var.shape):
                    raise Unsafe(f"`{r.key}` is {list(entry.shape)} but `{r.variable}` is {list(var.shape)}")
                plan.renames[new_key] = r.key
                count += 1
        return f"copy {plural(count, 'checkpoint value')} to the keys the graph restores"
    if code == "GA202":
        if weights is None:
            raise Unsafe("give the pretrained weights with `--weights FILE.h5`")
        if art.checkpoint is None or not hasattr(art.checkpoint, "header"):
            raise Unsafe("the values are not in a tensor bundle that `fix` can rewrite")
        count = 0
        for name in loc.variables:
            var = art.variables.get(name)
            weight = weights.lookup(name, var.shape) if var is not None else None
            if var is None or weight is None or var.checkpoint_key is None:
                raise Unsafe(f"`{weights.name}` has no weight of the same name and shape for `{name}`")
            if var.checkpoint_key not in art.checkpoint:
                raise Unsafe(f"the checkpoint holds no value for `{name}`")
            plan.values[var.checkpoint_key] = (lambda w=weight: np.concatenate(list(weights.chunks(w, 1 << 16)))
                                               if w.shape else next(weights.chunks(w, 1)))
            count += 1
        return f"write the pretrained values of {plural(count, 'variable')} into the checkpoint"
    if code in ("GA301", "GA302"):
        if art.format not in (Format.METAGRAPH, Format.SAVED_MODEL_V1):
            raise Unsafe("only a MetaGraph's `trainable_variables` collection can be edited")
        nodes = set()
        for v in loc.variables:
            var = art.variables.get(v)
            if var is not None and var.node and var.graph:
                plan.untrain.setdefault(var.graph, set()).add(var.node)
                nodes.add(var.node)
        what = f"remove {plural(len(nodes), 'variable')} from `trainable_variables`"
        if code == "GA301":
            what += "; the train op that updates them is still in the graph: rebuild it with `var_list=`"
        return what
    raise Unsafe("graphaudit has no automatic fix for this rule")


# ------------------------------------------------------------------------------------------ running


def fix(path: str, out: str | None, settings, *, in_place: bool = False, weights_file: str | None = None,
        max_file_size: int | None = None) -> FixResult:
    """Audit the artifact at ``path``, apply the safe fixes into ``out`` (or ``path`` itself)."""
    from graphaudit.analysis import Analyses
    from graphaudit.config import DEFAULT_MAX_FILE_SIZE
    from graphaudit.engine import check_artifact
    from graphaudit.formats.readers import read
    from graphaudit.formats.sniff import discover

    cap = max_file_size or DEFAULT_MAX_FILE_SIZE
    candidates = discover([path], max_file_size=cap)
    if len(candidates) != 1:
        raise UsageError(f"{path}: holds {len(candidates)} artifacts; fix takes one"
                         + (f" (for example {candidates[0].path})" if candidates else ""))
    art = read(candidates[0], max_file_size=cap)
    result = check_artifact(art, settings)
    if result.error:
        raise ArtifactError(art.path, result.error)
    facts = Analyses(art, settings)
    weights_file = weights_file or getattr(settings, "weights", None)
    weights = _read_weights(weights_file) if weights_file else None
    root, files = artifact_files(art)
    target = root.resolve() if in_place else Path(out).resolve()
    if not in_place:
        _check_out(root, target, files)
    plan = Plan()
    outcomes: list[Outcome] = []
    for finding in result.findings:
        trial = Plan(**{k: _copy(v) for k, v in plan.__dict__.items()})
        try:
            what = _plan_finding(trial, art, facts, finding, weights)
        except Unsafe as exc:
            outcomes.append(Outcome(finding, False, str(exc)))
            continue
        plan = trial
        outcomes.append(Outcome(finding, True, what))
    fixed = FixResult(source=str(root), out=str(target), format=art.format.value, outcomes=outcomes,
                      in_place=in_place)
    before = sum(f.stat().st_size for f in files)
    if not in_place:
        target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".graphaudit-fix-", dir=target.parent if not in_place else root.parent))
    try:
        while True:
            try:
                _apply(art, plan, root, files, staging, fixed)
                break
            except Unsafe as exc:
                # Pruning this graph turned out unsafe: its findings become manual, the rest still apply.
                graph = getattr(exc, "graph", "")
                plan.seeds.pop(graph, None)
                for o in fixed.outcomes:
                    if o.fixed and o.finding.code in ("GA101", "GA102") and o.finding.location.graph == graph:
                        o.fixed, o.detail = False, str(exc)
                fixed.files.clear()
                fixed.removed.clear()
                shutil.rmtree(staging, ignore_errors=True)
                staging.mkdir()
        written = {f.relative_to(staging): f.stat().st_size for f in staging.rglob("*") if f.is_file()}
        after = sum(written.values())
        if in_place:
            for rel in sorted(written):
                os.replace(staging / rel, root / rel)
            for f in files:
                rel = f.relative_to(root)
                if rel in written:
                    continue
                index = f.with_name(f.name.split(".data-")[0] + ".index").relative_to(root)
                if ".data-" in f.name and index in written:
                    f.unlink()  # a checkpoint written anew has one shard: the old shards go
                else:
                    after += f.stat().st_size
        else:
            target.mkdir(parents=True, exist_ok=True)
            for rel in sorted(written):
                dest = target / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / rel, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    fixed.sizes = (before, after)
    return fixed


def _copy(value):
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, set):
        return set(value)
    return value


def _check_out(root: Path, target: Path, files: Sequence[Path]) -> None:
    src = root.resolve()
    if target == src or src in target.parents or target in src.parents:
        raise UsageError(f"-o {target}: the output folder must not overlap the artifact's folder {src}"
                         " (give --in-place to rewrite the artifact itself)")
    clash = [f.relative_to(root) for f in files if (target / f.relative_to(root)).exists()]
    if clash:
        raise UsageError(f"-o {target}: already holds `{clash[0]}`; give an empty or new folder")


def _apply(art: Artifact, plan: Plan, root: Path, files: Sequence[Path], staging: Path, result: FixResult) -> None:
    """Write every changed file into ``staging``; copy the unchanged ones (for -o)."""
    changed: set[Path] = set()
    drop_keys: set[str] = set()
    if art.format in GRAPH_FORMATS and (plan.seeds or plan.untrain):
        message, text = editing.load_proto(art)
        holders = editing.meta_graphs(art, message)
        pb = editing.proto_path(art)
        rel = str(pb.relative_to(root))
        notes = []
        for graph, seeds in sorted(plan.seeds.items()):
            holder = holders[graph]
            protected = _protected(art, graph, holder)
            before = len(editing.graph_def(holder).node)
            try:
                pruned = editing.prune(holder, seeds, protected)
            except Unsafe as exc:
                exc.graph = graph
                raise
            drop_keys |= pruned.keys
            result.removed.setdefault(rel, []).extend(pruned.nodes)
            notes.append(f"{before:,} -> {len(editing.graph_def(holder).node):,} nodes"
                         + (f", {pruned.collection_entries} collection entries" if pruned.collection_entries else "")
                         + (f", {len(pruned.keys)} saver entries" if pruned.keys else ""))
        for graph, nodes in sorted(plan.untrain.items()):
            n = editing.untrain(holders[graph], nodes)
            notes.append(f"{n} variables out of `trainable_variables`")
        if drop_keys and art.checkpoint is None:
            drop_keys = set()
        editing.write_proto(staging / rel, message, text)
        changed.add(pb)
        result.files.append((rel, "; ".join(notes)))
    if art.checkpoint is not None and (drop_keys or plan.renames or plan.values):
        if not hasattr(art.checkpoint, "header"):
            raise ArtifactError(art.path, "the checkpoint is not a tensor bundle; `fix` cannot rewrite it")
        ck = art.checkpoint
        prefix = Path(ck.prefix)
        if any(ck.entry(k).sliced for k in ck.keys() if k not in drop_keys):
            raise ArtifactError(art.path, "the checkpoint holds partitioned tensors, which `fix` does not rewrite")
        from graphaudit.formats.checkpoint_writer import write_checkpoint

        tensors: dict[str, object] = {}
        dtypes: dict[str, str] = {}
        for key in ck.keys():
            if key in drop_keys:
                continue
            tensors[key] = plan.values.get(key) or (lambda k=key: ck.value(k))
            dtypes[key] = ck.entry(key).dtype
        for new, old in plan.renames.items():
            tensors[new] = plan.values.get(new) or (lambda k=old: ck.value(k))
            dtypes[new] = ck.entry(old).dtype
        rel_prefix = prefix.relative_to(root)
        write_checkpoint(staging / rel_prefix, tensors, dtypes=dtypes)
        old_files = [f for f in files if f.name.startswith(prefix.name + ".") and f.parent == prefix.parent
                     and (f.name.endswith(".index") or ".data-" in f.name)]
        changed.update(old_files)
        params = sum(_elements(ck.entry(k).shape) for k in drop_keys if k in ck)
        parts = []
        if drop_keys:
            parts.append(f"-{len(drop_keys)} keys ({params:,} values)")
        if plan.renames:
            parts.append(f"+{len(plan.renames)} keys under the names the graph restores")
        if plan.values:
            parts.append(f"{len(plan.values)} values replaced by `--weights`")
        result.files.append((str(rel_prefix) + ".index", ", ".join(parts)))
        result.removed.setdefault(str(rel_prefix) + ".index", []).extend((k, "key") for k in sorted(drop_keys))
    for f in files:
        if f in changed:
            continue
        dest = staging / f.relative_to(root)
        if f.name == "checkpoint" and art.checkpoint is not None:
            text = _relative_state(f, Path(art.checkpoint.prefix))
            if text is not None:
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_text(text, encoding="utf-8")
                continue
        if not dest.exists() and not in_place_copy(result):
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dest)


def in_place_copy(result: FixResult) -> bool:
    """In place, unchanged files stay where they are: nothing to copy."""
    return result.in_place


def _relative_state(state: Path, prefix: Path) -> str | None:
    """The `checkpoint` state file with absolute paths into the artifact's folder made relative, or None
    when it has none: a copy must not send `tf.train.latest_checkpoint` back to the original."""
    try:
        text = state.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    folder = str(prefix.parent.resolve()) + os.sep
    if folder not in text and str(prefix.parent) + os.sep not in text:
        return None
    return text.replace(folder, "").replace(str(prefix.parent) + os.sep, "")


def _elements(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _protected(art: Artifact, graph: str, holder) -> set[str]:
    """Nodes a fix must keep: the graph's roots, init, save and restore ops, and its saver and signature tensors."""
    out = {r.node for r in art.roots if r.graph == graph}
    for info in art.meta_graphs:
        if info.graph == graph:
            out.update(info.init_ops)
            out.update(n for n in (info.restore_op, info.save_op) if n)
    return out | editing.named_by_holder(holder)


def _read_weights(path: str):
    """The ``--weights`` file, indexed statically (its values are read one weight at a time)."""
    from graphaudit.analysis.provenance import open_reference

    return open_reference(path)


# ------------------------------------------------------------------------------------------ output

SHOWN_REMOVALS = 12


def render_fix(result: FixResult, report, stream) -> None:
    """A diff-like summary: each changed file and what left it, each finding fixed or manual, what remains."""
    from graphaudit.reporters.escaping import escape

    def say(line: str = "") -> None:
        stream.write(escape(line) + "\n")

    say(f"graphaudit fix: {result.source} -> {result.out}")
    for rel, what in result.files:
        say(f"--- a/{rel}")
        say(f"+++ b/{rel}  ({what})" if what else f"+++ b/{rel}")
        removed = result.removed.get(rel, [])
        for name, op in removed[:SHOWN_REMOVALS]:
            say(f"-{'key' if op == 'key' else 'node'} `{name}`" + ("" if op == "key" else f" ({op})"))
        if len(removed) > SHOWN_REMOVALS:
            say(f"-... and {len(removed) - SHOWN_REMOVALS:,} more")
    fixed = [o for o in result.outcomes if o.fixed]
    manual = [o for o in result.outcomes if not o.fixed]
    for o in fixed:
        say(f"fixed  {o.finding.code} {o.finding.name}: {o.detail}")
    for o in manual:
        say(f"manual {o.finding.code} {o.finding.name}: {o.detail}; see `graphaudit check --show-fixes`")
    before, after = result.sizes
    if before:
        say(f"size: {before:,} -> {after:,} bytes ({(after - before) / before:+.1%})")
    if not result.outcomes:
        say("nothing to fix: the artifact has no findings")
    remaining = report.findings
    errors = report.errors
    if errors:
        say(f"the repaired copy cannot be read: {errors[0].error}")
    elif remaining:
        codes = ", ".join(sorted({f.code for f in remaining}))
        say(f"left after fixing: {len(remaining)} finding{'s' if len(remaining) != 1 else ''} ({codes})")
    else:
        say("left after fixing: no findings")
