"""A small layered (Sugiyama-style) layout: layers by longest path, barycenter ordering, routed edges."""

# The HTML report draws one scope at a time with at most a few dozen boxes, so a plain layered
# layout computed in Python at report time is enough: no layout library is shipped in the page
# (docs/html-report.md says how this was chosen). Every step is deterministic: the same graph
# gives byte-identical coordinates.

from __future__ import annotations

from dataclasses import field
from typing import Sequence

from graphaudit.records import dataclass

GAP_X = 22  # between boxes of one layer
GAP_Y = 34  # between layers
DUMMY_W = 10  # width a long edge takes in the layers it crosses
SOURCE_WRAP = 10  # boxes in a row of the first layer before it wraps
WIDE_WRAP = 16  # boxes in a row of any other layer before it wraps
LOOSE_PER_ROW = 12  # boxes without edges, set in a grid under the rest
SWEEPS = 6


@dataclass
class Placed:
    """Boxes' top-left corners (``x``, ``y``), each edge's polyline, and the drawing's size."""

    x: list[float]
    y: list[float]
    routes: list[list[float]] = field(default_factory=list)  # [x0, y0, x1, y1, ...] per edge
    width: float = 0.0
    height: float = 0.0


def layered(sizes: Sequence[tuple[float, float]], edges: Sequence[tuple[int, int]]) -> Placed:
    """Lay boxes of ``sizes`` (w, h) top to bottom along ``edges`` (a, b): a above b where it can.

    Boxes that no edge touches go in a grid under the rest, so a scope of a hundred unrelated
    ops stays compact. Cycles are broken by reversing the edges that close them.
    """
    n = len(sizes)
    adj: list[list[int]] = [[] for _ in range(n)]
    linked = [False] * n
    pairs: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()
    for a, b in edges:
        if a == b or (a, b) in seen:
            continue
        seen.add((a, b))
        pairs.append((a, b))
        adj[a].append(b)
        linked[a] = linked[b] = True
    forward = _acyclic(n, adj, pairs)
    layer = _longest_path(n, forward, linked)
    # A long edge crosses the layers between its ends as a chain of dummies, so ordering sees it.
    rows: dict[int, list[int]] = {}
    for v in range(n):
        if linked[v]:
            rows.setdefault(layer[v], []).append(v)
    width = [float(w) for w, _ in sizes]
    height = [float(h) for _, h in sizes]
    lay = list(layer)
    chains: list[list[int]] = []
    up: dict[int, list[int]] = {}
    down: dict[int, list[int]] = {}
    for a, b in forward:
        chain = [a]
        for k in range(lay[a] + 1, lay[b]):
            d = len(width)
            width.append(DUMMY_W)
            height.append(0.0)
            lay.append(k)
            rows.setdefault(k, []).append(d)
            chain.append(d)
        chain.append(b)
        for s, t in zip(chain, chain[1:]):
            down.setdefault(s, []).append(t)
            up.setdefault(t, []).append(s)
        chains.append(chain)
    order = _order(rows, up, down)
    rows_placed: list[list[int]] = []
    xs = [0.0] * len(width)
    ys = [0.0] * len(width)
    top = 0.0
    right = 0.0
    for k in sorted(order):
        # The first layer (sources: variables, placeholders) wraps onto rows of SOURCE_WRAP boxes
        # and other layers past WIDE_WRAP, evenly, so a scope holding dozens of layers' weights
        # fits a screen at a readable size; it costs crossings (docs/html-report.md measures both).
        row = order[k]
        limit = SOURCE_WRAP if k == 0 else WIDE_WRAP
        step = -(-len(row) // -(-len(row) // limit)) if len(row) > limit else max(len(row), 1)
        for start in range(0, len(row), step):
            part = row[start:start + step]
            x = 0.0
            tallest = max(height[v] for v in part) or 8.0
            for v in part:
                xs[v] = x
                ys[v] = top + (tallest - height[v]) / 2
                x += width[v] + GAP_X
            right = max(right, x - GAP_X)
            top += tallest + GAP_Y
            rows_placed.append(part)
    _center_rows(rows_placed, xs, width, right)
    loose = [v for v in range(n) if not linked[v]]
    if loose:
        x = 0.0
        line = 0.0
        for k, v in enumerate(loose):
            if k and k % LOOSE_PER_ROW == 0:
                top += line + GAP_Y / 2
                x, line = 0.0, 0.0
            xs[v], ys[v] = x, top
            x += width[v] + GAP_X
            line = max(line, height[v])
            right = max(right, x - GAP_X)
        top += line + GAP_Y
    routes = {}
    for (a, b), chain in zip(forward, chains):
        pts: list[float] = []
        for j, v in enumerate(chain):
            cx = xs[v] + width[v] / 2
            if j == 0:
                pts += [cx, ys[v] + height[v]]
            elif j == len(chain) - 1:
                pts += [cx, ys[v]]
            else:
                pts += [cx, ys[v]]
        routes[(a, b)] = pts
    out = []
    for a, b in pairs:
        if (a, b) in routes:
            out.append(routes[(a, b)])
        else:  # drawn against the flow: reverse the route, so the arrow still points from a to b
            pts = routes[(b, a)]
            out.append([c for k in range(len(pts) - 2, -1, -2) for c in pts[k:k + 2]])
    return Placed(x=xs[:n], y=ys[:n], routes=out, width=max(right, 1.0), height=max(top - GAP_Y, 1.0))


def _acyclic(n: int, adj: list[list[int]], pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The edges with those that close a cycle (back edges of a depth-first search) reversed."""
    state = [0] * n  # 0 new, 1 on the stack, 2 done
    back: set[tuple[int, int]] = set()
    for start in range(n):
        if state[start]:
            continue
        state[start] = 1
        stack = [(start, iter(adj[start]))]
        while stack:
            v, it = stack[-1]
            w = next(it, None)
            if w is None:
                state[v] = 2
                stack.pop()
            elif state[w] == 1:
                back.add((v, w))
            elif state[w] == 0:
                state[w] = 1
                stack.append((w, iter(adj[w])))
    present = set(pairs)
    out = []
    for a, b in pairs:
        if (a, b) not in back:
            out.append((a, b))
        elif (b, a) not in present:  # a two-cycle keeps its forward edge only
            out.append((b, a))
    return list(dict.fromkeys(out))


def _longest_path(n: int, forward: list[tuple[int, int]], linked: list[bool]) -> list[int]:
    """Each box's layer: one below the lowest of its predecessors (Kahn's order on the DAG)."""
    succ: list[list[int]] = [[] for _ in range(n)]
    indeg = [0] * n
    for a, b in forward:
        succ[a].append(b)
        indeg[b] += 1
    layer = [0] * n
    ready = [v for v in range(n) if indeg[v] == 0 and linked[v]]
    while ready:
        v = ready.pop()
        for w in succ[v]:
            layer[w] = max(layer[w], layer[v] + 1)
            indeg[w] -= 1
            if indeg[w] == 0:
                ready.append(w)
    return layer


def _order(rows: dict[int, list[int]], up: dict[int, list[int]], down: dict[int, list[int]]) -> dict[int, list[int]]:
    """Order each layer by the barycenter of its neighbours, sweeping down and up; keep the best."""
    order = {k: list(v) for k, v in rows.items()}
    best = {k: list(v) for k, v in order.items()}
    best_cross = _crossings(order, down)
    layers = sorted(order)
    for sweep in range(SWEEPS):
        seq = layers[1:] if sweep % 2 == 0 else layers[-2::-1]
        near = up if sweep % 2 == 0 else down
        for k in seq:
            ref = order.get(k - 1 if sweep % 2 == 0 else k + 1, [])
            pos = {v: i for i, v in enumerate(ref)}
            row = order[k]

            def key(item, pos=pos):
                i, v = item
                ns = [pos[w] for w in near.get(v, ()) if w in pos]
                return (sum(ns) / len(ns) if ns else float(i), i)

            order[k] = [v for _, v in sorted(enumerate(row), key=key)]
        cross = _crossings(order, down)
        if cross < best_cross:
            best, best_cross = {k: list(v) for k, v in order.items()}, cross
    return best


def _crossings(order: dict[int, list[int]], down: dict[int, list[int]]) -> int:
    total = 0
    for k, row in order.items():
        below = order.get(k + 1)
        if not below:
            continue
        pos = {v: i for i, v in enumerate(below)}
        ends = [(i, pos[w]) for i, v in enumerate(row) for w in down.get(v, ()) if w in pos]
        ends.sort()
        # Crossings are inversions of the lower ends once upper ends are sorted (quadratic is fine:
        # a scope draws at most a few dozen boxes).
        for a in range(len(ends)):
            for b in range(a + 1, len(ends)):
                if ends[a][0] != ends[b][0] and ends[a][1] > ends[b][1]:
                    total += 1
    return total


def _center_rows(rows: list[list[int]], xs: list[float], width: list[float], right: float) -> None:
    """Center each row under the widest one: short layers sit in the middle, as in TensorBoard."""
    for row in rows:
        span = xs[row[-1]] + width[row[-1]] - xs[row[0]]
        shift = (right - span) / 2 - xs[row[0]]
        for v in row:
            xs[v] += shift
