"""`graphaudit inspect`: what an artifact holds, read statically (formats, signatures, variables, ops)."""

from __future__ import annotations

import heapq
from collections import Counter
from operator import attrgetter
from typing import Iterable

from graphaudit.analysis import Analyses
from graphaudit.analysis.coverage import ValueSource, source_counts
from graphaudit.artifact import Artifact, Variable, VariableTable, variable_params
from graphaudit.config import Settings
from graphaudit.engine import artifact_notes


#: Variables the console summary lists; the rest are counted.
CONSOLE_VARIABLES = 40


def inspect_dict(art: Artifact, *, top_ops: int = 15, settings=None, listed: int | None = None) -> dict:
    """The summary of ``art``; with ``listed``, only the first ``listed`` variables by name are itemized
    (what the console shows), so a checkpoint of millions of keys is not described key by key."""
    ops: Counter[str] = Counter()
    for g in art.graphs.values():
        ops.update(g.ops)
    fn_ops: Counter[str] = Counter()
    for f in art.functions.values():
        fn_ops.update(op for op, d in zip(f.ops, f.defs) if d is not None)
    facts = Analyses(art, settings or Settings())
    params = variable_params(art.variables)
    cov = facts.coverage
    roles = facts.roles
    by_source = source_counts(cov)
    ckpt = art.checkpoint
    variables = [
        {"name": v.name, "dtype": v.dtype, "shape": list(v.shape) if v.shape is not None else None,
         "trainable": v.trainable, "trainable_source": v.trainable_source,
         "checkpoint_key": v.checkpoint_key, "value": cov[v.name].source.value,
         "role": roles[v.name].role.value, "role_evidence": roles[v.name].evidence,
         "slots": list(v.slots)}
        for v in _listed(art.variables, listed)
    ]
    return {
        "path": art.path,
        "format": art.format.value,
        "meta_graphs": [
            {"tags": list(m.tags), "graph": m.graph, "tensorflow_version": m.tf_version,
             "signatures": [{"name": s.name, "method": s.method,
                             "inputs": {k: _tensor(t) for k, t in s.inputs.items()},
                             "outputs": {k: _tensor(t) for k, t in s.outputs.items()}}
                            for s in m.signatures if not s.name.startswith("__saved_model_")],
             "init_ops": m.init_ops, "restore_op": m.restore_op,
             "collections": {k: len(v) for k, v in sorted(m.collections.items())}}
            for m in art.meta_graphs
        ],
        "graphs": {name: len(g) for name, g in art.graphs.items()},
        "functions": len(art.functions),
        "function_nodes": sum(fn_ops.values()),
        "variables": {"count": len(art.variables), "params": params, "items": variables},
        "checkpoint": None if ckpt is None else {
            "prefix": str(ckpt.prefix), "keys": len(ckpt), "shards": ckpt.num_shards,
            "coverage": dict(sorted(by_source.items())),
        },
        "op_histogram": dict(sorted(ops.most_common(top_ops), key=lambda kv: (-kv[1], kv[0]))),
        "roots": [{"graph": r.graph, "node": r.node, "kind": r.kind.value, "source": r.source}
                  for r in [*art.roots, *(r for r in facts.use_roots if r not in art.roots)]],
        "roots_note": facts.roots_note,
        "notes": list(artifact_notes(art)),
        "metadata": {} if art.frozen_weights is None else {"frozen_weights": art.frozen_weights},
        **_provenance(facts),
    }


_by_name = attrgetter("name")


def _listed(variables, listed: int | None) -> Iterable[Variable]:
    """The variables by name, or the first ``listed`` of them."""
    if isinstance(variables, VariableTable):  # sorted by name already
        return map(variables.at, range(len(variables) if listed is None else min(listed, len(variables))))
    if listed is None:
        return sorted(variables.values(), key=_by_name)
    return heapq.nsmallest(listed, variables.values(), key=_by_name)


def _provenance(facts: Analyses) -> dict:
    """Every pretrained group (one line each, as findings name it), its variant, each piece of
    evidence with its strength, the declarations covering it, and what was considered and rejected."""
    from graphaudit.analysis.provenance import matches_any

    settings = facts.settings
    found = facts.provenance
    groups = []
    for g in found.groups:
        declared = [f'{kind} "{p}"' for kind, patterns in (("scratch", settings.scratch), ("finetune", settings.finetune))
                    for p in patterns if any(matches_any(v, [p]) for v in g.variables)]
        groups.append({
            "group": g.describe(), "scope": g.scope, "variant": g.architecture, "family": g.family or None,
            "include_top": g.include_top, "variables": len(g.variables), "params": g.params,
            "strength": g.strength.name.lower(),
            "evidence": [{"kind": e.kind.name.lower(), "strength": e.level.name.lower(), "detail": e.detail}
                         for e in g.evidence],
            "declarations": declared,
        })
    return {"provenance": [g.describe() for g in found.groups], "provenance_groups": groups,
            "provenance_rejected": [str(r) for r in found.rejected]}


def _tensor(t) -> dict:
    name, dtype, shape = t
    return {"name": name, "dtype": dtype, "shape": list(shape) if shape is not None else None}


def render_console(info: dict, console) -> None:
    from rich.table import Table
    from rich.text import Text

    console.print(Text.assemble((info["path"], "bold underline"), f"  ({info['format']})"))
    for m in info["meta_graphs"]:
        tags = ",".join(m["tags"]) or "(no tags)"
        console.print(f"  meta graph [bold]{tags}[/bold]: graph `{m['graph']}`"
                      + (f", TF {m['tensorflow_version']}" if m["tensorflow_version"] else ""))
        for s in m["signatures"]:
            ins = ", ".join(f"{k}: {_fmt_tensor(t)}" for k, t in s["inputs"].items())
            outs = ", ".join(f"{k}: {_fmt_tensor(t)}" for k, t in s["outputs"].items())
            console.print(f"    signature [bold]{s['name']}[/bold] ({ins}) -> ({outs})")
        if m["init_ops"] or m["restore_op"]:
            console.print(f"    init ops: {', '.join(m['init_ops']) or '-'}; restore op: {m['restore_op'] or '-'}")
    graphs = ", ".join(f"{n} ({c:,} nodes)" for n, c in info["graphs"].items()) or "none"
    console.print(f"  graphs: {graphs}; functions: {info['functions']:,} ({info['function_nodes']:,} nodes)")
    v = info["variables"]
    console.print(f"  variables: {v['count']:,} ({v['params']:,} params)")
    ck = info["checkpoint"]
    if ck:
        cov = ", ".join(f"{n} {src}" for src, n in ck["coverage"].items())
        sums = f"; checksums {ck['checksums']}" if ck.get("checksums") else ""
        console.print(f"  checkpoint: {ck['prefix']} ({ck['keys']:,} keys, {ck['shards']} shard(s)); values: {cov}{sums}")
    if v["items"]:
        table = Table(show_header=True, header_style="bold", box=None, padding=(0, 1), pad_edge=True,
                      expand=False)
        for col in ("variable", "dtype", "shape", "trainable", "role", "value"):
            table.add_column(col)
        for item in v["items"][:CONSOLE_VARIABLES]:
            shape = "?" if item["shape"] is None else "x".join(map(str, item["shape"])) or "scalar"
            table.add_row(item["name"], item["dtype"], shape, str(item["trainable"]), item["role"], item["value"])
        console.print(table)
        if v["count"] > CONSOLE_VARIABLES:
            console.print(f"  ... and {v['count'] - CONSOLE_VARIABLES:,} more (use --format json for all)")
    console.print(f"  roots: {info['roots_note']}")
    for note in info.get("notes", ()):
        console.print(f"  note: {note}", markup=False)
    if info["op_histogram"]:
        ops = ", ".join(f"{op} {n:,}" for op, n in info["op_histogram"].items())
        console.print(f"  ops: {ops}")
    for group in info.get("provenance_groups", []):
        console.print(f"  provenance: {group['group']}")
        for e in group["evidence"]:
            console.print(f"    {e['kind']} ({e['strength']}): {e['detail']}")
        console.print(f"    strength: {group['strength']}"
                      + (f"; declared {', '.join(group['declarations'])}" if group["declarations"] else ""))
    for rejected in info.get("provenance_rejected", []):
        console.print(f"  provenance considered and rejected: {rejected}")


def _fmt_tensor(t: dict) -> str:
    shape = "?" if t["shape"] is None else "x".join("?" if d < 0 else str(d) for d in t["shape"])
    return f"{t['dtype']}[{shape}]"


__all__ = ["ValueSource", "inspect_dict", "render_console"]
