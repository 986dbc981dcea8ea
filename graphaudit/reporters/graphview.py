"""What the HTML report draws of an artifact: its name scopes, laid out one scope at a time, with findings marked."""

# Built while the artifact is still in memory (the engine calls `build_view` for --format html),
# so the result is small plain data: lists, dicts, strings and numbers that pickle across worker
# processes and become the page's JSON. A 1M-node graph gives a few thousand boxes at most:
# scopes are drawn collapsed, a scope draws at most MAX_CHILDREN boxes and folds the rest into
# one "N more" box, and scopes are expanded (laid out) until MAX_BOXES boxes are placed, the
# ones holding findings first. What was not drawn is counted, and the page says so.

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Any, Sequence

from graphaudit.reporters.layout import layered

if TYPE_CHECKING:
    from graphaudit.analysis import Analyses
    from graphaudit.artifact import Artifact
    from graphaudit.findings import Finding

MAX_CHILDREN = 48  # boxes one scope draws; the rest fold into one "N more" box
MAX_BOXES = 2500  # boxes laid out in all scopes of one artifact
MAX_GRAPHS = 4  # graphs drawn per artifact (function bodies a finding names come on top)
LABEL = 30  # characters of a name shown in a box (the full name is in its tooltip)
CHAR_W = 7.3  # px per character of the 12 px monospace font the page uses


def build_view(artifact: "Artifact", facts: "Analyses", findings: Sequence["Finding"]) -> dict:
    """The drawing of ``artifact`` with ``findings`` marked: a list of graphs, each a set of scope layouts."""
    named = [f.location.graph for f in findings]
    chosen = list(artifact.graphs)[:MAX_GRAPHS]
    for g in named:
        if g and g not in chosen and (g in artifact.graphs or g in artifact.functions):
            chosen.append(g)
    left_out = len(artifact.graphs) - len([g for g in chosen if g in artifact.graphs])
    try:
        reach = facts.use_reach
    except Exception:  # noqa: BLE001 - the picture goes on without the live path
        reach = None
    # A TF2 SavedModel's graph is a few calls: the model is in its function bodies. Draw the
    # largest ones too (those the roots reach first), in the tabs left.
    if artifact.functions and len(chosen) < MAX_GRAPHS:
        reached = reach.functions if reach is not None else set()
        bodies = sorted(artifact.functions, key=lambda f: (f not in reached, -len(artifact.functions[f]), f))
        for f in bodies[:MAX_GRAPHS - len(chosen)]:
            if f not in chosen and len(artifact.functions[f]) > 1:
                chosen.append(f)
    views = []
    budget = [MAX_BOXES]
    for gname in chosen:
        graph = artifact.graphs.get(gname) or artifact.functions[gname]
        marks = None
        if reach is not None:
            marks = reach.nodes.get(gname)
            if marks is None and gname in artifact.functions:
                # A function body runs whole when a reached node calls it.
                marks = bytearray([1]) * len(graph) if gname in reach.functions else bytearray(len(graph))
        marked, primary = _highlights(artifact, facts, gname, graph.index, findings)
        views.append(_graph_view(gname, graph.kind, list(graph.names), list(graph.ops), _edges(graph), marks,
                                 marked, artifact, budget, _copy_groups(facts, gname, graph.index), primary))
    if not views and artifact.variables:
        # A Keras file or a checkpoint has no graph: draw its variables by scope, without edges.
        names = sorted(artifact.variables)
        index = {n: i for i, n in enumerate(names)}
        hl = [{index[v] for v in f.location.variables if v in index} for f in findings]
        views.append(_graph_view("variables", "variables", names, ["Variable"] * len(names), None, None,
                                 hl, artifact, budget))
    return {"graphs": views, "graphs_left_out": max(left_out, 0)}


def _edges(graph: Any):
    """Data edges as two arrays (source, destination); control edges are not drawn."""
    import numpy as np

    in_offsets, in_nodes, _, _, _ = graph.edge_arrays()
    dst = np.repeat(np.arange(len(graph), dtype=np.int64), np.diff(in_offsets))
    return np.asarray(in_nodes, dtype=np.int64), dst


def _highlights(artifact: "Artifact", facts: "Analyses", gname: str, index: dict,
                findings) -> tuple[list[set[int]], set[int]]:
    """Per finding, the node ids it points at in graph ``gname``: its nodes, its variables' nodes,
    and the whole of a dead copy that one of its nodes belongs to; and, of those, the ones it is
    about (its nodes and the copy, not the variables it names), which are drawn first."""
    # Only copies the analyses already found (a rule asked for them); the report never starts a
    # costly analysis of its own.
    copies = [d for d in facts.__dict__.get("dead_copies", ()) if d.graph == gname]
    out = []
    primary: set[int] = set()
    for f in findings:
        ids: set[int] = set()
        if f.location.graph in ("", gname):
            for name in f.location.nodes:
                i = index.get(name.split(":")[0].lstrip("^"))
                if i is not None:
                    ids.add(i)
                    primary.add(i)
            for v in f.location.variables:
                var = artifact.variables.get(v)
                node = var.node if var is not None and var.graph in (None, gname) else None
                i = index.get(node or v)
                if i is not None:
                    ids.add(i)
            named = set(f.location.nodes)
            for d in copies:
                if named & (set(d.outputs) | set(d.inputs)):
                    copy = [index[n] for n in d.dead.nodes if n in index]
                    ids.update(copy)
                    primary.update(copy)
        out.append(ids)
    if not primary:  # a finding about variables only (GA302): its variables come first
        primary = set().union(*out) if out else set()
    return out, primary


def _copy_groups(facts: "Analyses", gname: str, index: dict) -> list[tuple[str, list[int]]]:
    """Dead copies built at the top of a scope (Keras' `block1_conv1/` ... `block5_pool/` beside
    `vgg19/`), each as a group of its ops, so the picture shows the copy as one box, as the twin is."""
    out = []
    for d in facts.__dict__.get("dead_copies", ()):
        if d.graph != gname:
            continue
        ids = [index[n] for n in d.dead.nodes if n in index]
        tops = {n.split("/")[0] for n in d.dead.nodes}
        if len(tops) > 1 and ids:
            twin = d.twin.scope or d.twin.label.strip("`/")
            out.append((f"unused copy of {twin}".replace("/", " "), ids))
    return out


def _graph_view(*args, **kw) -> dict:
    import gc

    # Millions of small objects (names, lists) would set the cyclic collector off again and
    # again; none of them forms a cycle.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _graph_view_inner(*args, **kw)
    finally:
        if enabled:
            gc.enable()


def _graph_view_inner(gname: str, graph_kind: str, names: list[str], ops: list[str], edges, marks, highlights: list[set[int]],
                artifact: "Artifact", budget: list[int], groups: Sequence[tuple[str, list[int]]] = (),
                primary: set[int] = frozenset()) -> dict:
    import numpy as np

    n = len(names)
    real_names = names
    if groups:
        # A group is a scope the graph does not have: its nodes are drawn as if named `group/name`.
        names = list(names)
        for label, ids in groups:
            for i in ids:
                names[i] = f"{label}/{names[i]}"
    parent_of = [nm.rpartition("/")[0] for nm in names]
    scopes = set(parent_of)
    todo = list(scopes)
    for s in todo:
        if s:
            p = s.rpartition("/")[0]
            if p not in scopes:
                scopes.add(p)
                todo.append(p)
    scopes.add("")
    # A node whose name is also a scope (`dense/kernel` beside `dense/kernel/Assign`) is drawn
    # inside that scope, as TensorBoard does.
    paths = sorted(scopes)
    sid = {s: k for k, s in enumerate(paths)}
    node_scope = np.fromiter((sid[nm] if nm in scopes else sid[parent_of[i]] for i, nm in enumerate(names)),
                             dtype=np.int64, count=n)
    del parent_of
    S = len(paths)
    up = [sid[s.rpartition("/")[0]] if s else -1 for s in paths]
    depth = [s.count("/") + 1 if s else 0 for s in paths]
    up_a = np.asarray(up, dtype=np.int64)
    depth_a = np.asarray(depth, dtype=np.int64)
    counts = np.bincount(node_scope, minlength=S).astype(np.int64)
    live_node = np.frombuffer(bytes(marks), dtype=np.uint8).astype(bool) if marks is not None else None
    live_s = np.bincount(node_scope, weights=live_node, minlength=S) > 0 if live_node is not None else None
    for d in range(int(depth_a.max()) if S else 0, 0, -1):  # subtree totals, deepest scopes first
        level = np.nonzero(depth_a == d)[0]
        np.add.at(counts, up_a[level], counts[level])
        if live_s is not None:
            live_s[up_a[level[live_s[level]]]] = True
    total = counts.tolist()
    live = live_s.tolist() if live_s is not None else None
    by_parent = np.argsort(up_a, kind="stable")  # children in path order, grouped by parent
    kid_bounds = np.searchsorted(up_a[by_parent], np.arange(-1, S + 1)).tolist()
    by_parent = by_parent.tolist()

    def kids_of(k: int) -> list[int]:
        return by_parent[kid_bounds[k + 1]:kid_bounds[k + 2]]

    order = np.argsort(node_scope, kind="stable")
    bounds = np.searchsorted(node_scope[order], np.arange(S + 1)).tolist()
    order = order.tolist()

    # Which findings each node and scope holds.
    node_f: dict[int, list[int]] = {}
    scope_f: dict[int, list[int]] = {}
    for k, ids in enumerate(highlights):
        for i in sorted(ids):
            node_f.setdefault(i, []).append(k)
            s = int(node_scope[i])
            while s >= 0:
                got = scope_f.setdefault(s, [])
                if got and got[-1] == k:
                    break
                got.append(k)
                s = up[s]

    first: set[int] = set()  # scopes holding what a finding is about
    for i in primary:
        s = int(node_scope[i])
        while s >= 0 and s not in first:
            first.add(s)
            s = up[s]

    # Expand scopes, those holding findings first, then live ones, shallow before deep.
    def rank(k: int) -> tuple:
        return (0 if k in first else 1, 0 if k in scope_f else 1, 0 if live is None or live[k] else 1, depth[k], k)

    def keep_rank(m):
        kind, ref = m
        if kind == "s":
            # Past what a finding is about, the largest of the scopes holding findings or on the
            # live path: the live twin of a dead copy outranks the small scopes of its weights.
            return (0 if ref in first else 1, 0 if ref in scope_f or live is None or live[ref] else 1,
                    -total[ref], ref)
        return (0 if ref in primary else 1, 0 if ref in node_f else 1,
                0 if live_node is None or live_node[ref] else 1, 0, ref)

    drawn: dict[int, tuple[list, list]] = {}
    folded_ops = folded_scopes = 0
    heap = [rank(0)]
    while heap:
        k = heapq.heappop(heap)[-1]
        members = [("s", c) for c in kids_of(k)] + [("n", i) for i in order[bounds[k]:bounds[k + 1]]]
        if drawn and min(len(members), MAX_CHILDREN + 1) > budget[0]:
            continue
        rest: list = []
        if len(members) > MAX_CHILDREN:
            kept = set(sorted(members, key=keep_rank)[:MAX_CHILDREN])
            rest = [m for m in members if m not in kept]
            members = [m for m in members if m in kept]
            folded_ops += sum(total[r] if kind == "s" else 1 for kind, r in rest)
            folded_scopes += sum(1 for kind, _ in rest if kind == "s")
        budget[0] -= len(members) + (1 if rest else 0)
        drawn[k] = (members, rest)
        for kind, c in members:
            if kind == "s":
                heapq.heappush(heap, rank(c))

    # The boxes of each drawn scope: child scopes, then ops; past MAX_CHILDREN, the least
    # telling ones (no finding, not live, small) are folded into one box.
    item_of_scope: dict[int, int] = {}
    item_of_node: dict[int, int] = {}
    layouts: dict[str, dict] = {}
    more_of: dict[int, int] = {}
    for k in sorted(drawn):
        members, rest = drawn[k]
        items = []
        prefix = paths[k] + "/" if paths[k] else ""
        for kind, ref in members:
            if kind == "s":
                item_of_scope[ref] = len(items)
                label = paths[ref][len(prefix):]
                sub = f"{total[ref]:,} op{'s' if total[ref] != 1 else ''}"
                items.append({"k": "s", "r": ref, "p": paths[ref], "l": label, "t": sub,
                              "v": None if live is None else int(live[ref]), "f": scope_f.get(ref, []),
                              "d": int(ref in drawn)})
            else:
                item_of_node[ref] = len(items)
                name = names[ref]
                label = name[len(prefix):] if name.startswith(prefix) else name.rpartition("/")[2]
                name = real_names[ref]
                item = {"k": "n", "r": ref, "p": name, "l": label or name, "t": ops[ref],
                        "v": None if live_node is None else int(live_node[ref]), "f": node_f.get(ref, [])}
                var = artifact.variables.get(name)
                if var is not None:
                    item["var"] = _variable_text(var)
                items.append(item)
        if rest:
            more_of[k] = len(items)
            n_ops = sum(total[r] if kind == "s" else 1 for kind, r in rest)
            items.append({"k": "m", "r": k, "p": paths[k], "l": f"{len(rest):,} more",
                          "t": f"{n_ops:,} ops folded", "v": None, "f": []})
        layouts[str(k)] = {"items": items, "edges": {}}

    # Data edges, each drawn once: in the innermost drawn scope holding both ends, between the
    # boxes that hold them there.
    if edges is not None and len(edges[0]):
        _bundle_edges(edges, node_scope, up, depth, live_node, layouts, item_of_scope, item_of_node, more_of)

    for key, lay in layouts.items():
        items = lay["items"]
        for it in items:
            text = max(len(_clip(it["l"])), len(it["t"]))
            it["w"] = int(min(max(text * CHAR_W + 18, 64), LABEL * CHAR_W + 18))
            it["h"] = 40 if it["k"] != "n" else 34
        pairs = sorted(lay["edges"])
        placed = layered([(it["w"], it["h"]) for it in items], pairs)
        for it, x, y in zip(items, placed.x, placed.y):
            it["x"], it["y"] = round(x), round(y)
            it["l"] = _clip(it["l"])
        lay["edges"] = [[a, b, lay["edges"][(a, b)][0], int(lay["edges"][(a, b)][1]), [round(c) for c in pts]]
                        for (a, b), pts in zip(pairs, placed.routes)]
        lay["w"], lay["h"] = round(placed.width), round(placed.height)
        lay["path"] = paths[int(key)]
        lay["up"] = up[int(key)]
        lay["folded"] = len(drawn[int(key)][1])

    homes = []
    for k, ids in enumerate(highlights):
        home = _common_scope([int(node_scope[i]) for i in ids], up, depth)
        while home > 0 and (home not in drawn or not _shows(home, ids, node_scope, up, drawn)):
            home = up[home]
        homes.append(max(home, 0))
    undrawn = sum(1 for k in range(S) if k not in drawn and k in item_of_scope)
    return {"name": gname, "kind": graph_kind, "nodes": n, "scopes": S - 1, "drawn_scopes": len(drawn), "root": 0,
            "layouts": layouts, "homes": homes, "live_known": live is not None, "collapsed_scopes": undrawn,
            "folded_ops": folded_ops, "folded_scopes": folded_scopes,
            "highlighted": [len(ids) for ids in highlights]}


def _bundle_edges(edges, node_scope, up: list[int], depth: list[int], live_node, layouts: dict,
                  item_of_scope: dict, item_of_node: dict, more_of: dict) -> None:
    """Each data edge, in the innermost scope holding both ends (their lowest common ancestor),
    between the boxes that hold them there; edges between the same two boxes become one, counted.
    Vectorized: a 1M-node graph has as many edges, too many for a Python loop over them."""
    import numpy as np

    src, dst = edges
    S = len(up)
    up_a = np.asarray(up, dtype=np.int64)
    depth_a = np.asarray(depth, dtype=np.int64)
    deepest = int(depth_a.max()) if S else 0
    # anc[d][s]: the ancestor of scope s at depth d (itself at its own depth), or -1 below it.
    anc = [np.full(S, -1, dtype=np.int64) for _ in range(deepest + 1)]
    cur = np.arange(S, dtype=np.int64)
    for d in range(deepest, -1, -1):
        here = (depth_a >= d) & (cur >= 0)
        at = np.where(here & (depth_a[np.maximum(cur, 0)] == d), cur, -1)
        anc[d] = at
        cur = np.where(at >= 0, up_a[np.maximum(cur, 0)], cur)
    ps, pd = node_scope[src], node_scope[dst]
    lca_depth = np.zeros(len(src), dtype=np.int64)
    for d in range(1, deepest + 1):
        same = (anc[d][ps] == anc[d][pd]) & (anc[d][ps] >= 0)
        lca_depth = np.where(same, d, lca_depth)
    lca = np.zeros(len(src), dtype=np.int64)
    for d in range(deepest + 1):
        lca = np.where(lca_depth == d, anc[d][ps], lca)
    drawn = np.zeros(S, dtype=bool)
    for key in layouts:
        drawn[int(key)] = True
    keep = drawn[lca]
    src, dst, ps, pd, lca, lca_depth = src[keep], dst[keep], ps[keep], pd[keep], lca[keep], lca_depth[keep]
    node_item = np.full(len(node_scope), -1, dtype=np.int64)
    if item_of_node:
        node_item[np.fromiter(item_of_node.keys(), dtype=np.int64)] = np.fromiter(item_of_node.values(), dtype=np.int64)
    scope_item = np.full(S, -1, dtype=np.int64)
    if item_of_scope:
        scope_item[np.fromiter(item_of_scope.keys(), dtype=np.int64)] = np.fromiter(item_of_scope.values(), dtype=np.int64)
    more = np.full(S, -1, dtype=np.int64)
    if more_of:
        more[np.fromiter(more_of.keys(), dtype=np.int64)] = np.fromiter(more_of.values(), dtype=np.int64)

    def box(nodes, scopes):
        """The box of each end in its edge's LCA scope: the node itself, or its scope's ancestor
        one level below the LCA; a member folded away stands in the LCA's "more" box."""
        direct = scopes == lca
        child = np.full(len(nodes), -1, dtype=np.int64)
        for d in range(deepest + 1):
            pick = (~direct) & (lca_depth + 1 == d)
            if pick.any():
                child[pick] = anc[d][scopes[pick]]
        out = np.where(direct, node_item[nodes], scope_item[np.maximum(child, 0)])
        return np.where(out >= 0, out, more[lca])

    ia, ib = box(src, ps), box(dst, pd)
    ok = (ia >= 0) & (ib >= 0) & (ia != ib)
    lca, ia, ib = lca[ok], ia[ok], ib[ok]
    hot = (live_node[src[ok]] & live_node[dst[ok]]) if live_node is not None else np.zeros(len(ia), dtype=bool)
    if not len(ia):
        return
    width = int(max(ia.max(), ib.max())) + 1
    key = (lca * width + ia) * width + ib
    uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    live_any = np.zeros(len(uniq), dtype=bool)
    np.logical_or.at(live_any, inverse, hot)
    for k, n, h in zip(uniq.tolist(), counts.tolist(), live_any.tolist()):
        scope, rest = divmod(k, width * width)
        a, b = divmod(rest, width)
        layouts[str(scope)]["edges"][(a, b)] = [n, h]


def _shows(home: int, ids, node_scope, up, drawn) -> bool:
    """Whether every highlighted node sits in ``home`` or below it."""
    for i in ids:
        s = int(node_scope[i])
        while s >= 0 and s != home:
            s = up[s]
        if s != home:
            return False
    return True


def _common_scope(scopes: list[int], up: list[int], depth: list[int]) -> int:
    if not scopes:
        return 0
    common = scopes[0]
    for s in scopes[1:]:
        a, b = common, s
        while a != b:
            if depth[a] >= depth[b]:
                a = up[a]
            else:
                b = up[b]
        common = a
    return common


def _item(key, item_of_scope, item_of_node, more_of, scope):
    kind, ref = key
    got = item_of_scope.get(ref) if kind == "s" else item_of_node.get(ref)
    return got if got is not None else more_of.get(scope)


def _clip(label: str) -> str:
    return label if len(label) <= LABEL else label[: LABEL - 1] + "\u2026"


def _variable_text(var) -> str:
    shape = "?" if var.shape is None else "(" + ", ".join(str(d) if d >= 0 else "?" for d in var.shape) + ")"
    parts = [f"{var.dtype or '?'} {shape}"]
    if var.trainable is not None:
        parts.append("trainable" if var.trainable else "not trainable")
    return ", ".join(parts)
