"""Which of two model copies that both end in sinks is the orphan, when the graph names no output.

In TF1 Keras, ``model = VGG19(...)`` builds the network on a placeholder Keras makes for the
model's ``InputLayer`` (``input_1``, ``input_2``, ...), and ``model(images)`` builds it again on
the user's tensor. When the script never consumes ``model(images)`` further (the seed article's
``output = vgg19(input_img)``), both copies end in sinks and root inference keeps both. The
orphan is still nameable:

- its sinks read, among graph inputs, only Keras ``InputLayer`` placeholders: ``Placeholder``
  ops named ``input`` or ``input_N`` (names are the only mark Keras leaves on them);
- nothing but that copy reads those placeholders, and no signature feeds them;
- its twin (a sink of the same structural class) reads other graph inputs: the user's
  placeholder (strong), or Keras inputs too, in which case the twin's ops must carry the orphan's
  names under the model's scope (``vgg19/block5_pool/MaxPool`` for ``block5_pool/MaxPool``),
  which is how Keras names a model called on a tensor (weaker: it rests on names).

Each orphan says which of these facts named it; GA101 shows them. Anything less says nothing:
both copies stay roots.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from graphaudit.analysis.node_keys import DATA_SOURCE_OPS
from graphaudit.records import dataclass

if TYPE_CHECKING:
    from graphaudit.analysis.structure import GraphStructure

_KERAS_INPUT = re.compile(r"(^|/)input(_\d+)?$")
#: Ambiguous classes looked at per graph: a bound, so graphs with many parallel heads stay linear.
_MAX_GROUPS = 16


@dataclass(frozen=True)
class Orphan:
    """A model copy, ending in sinks, that nothing feeds: its sinks are not roots."""

    graph: str
    placeholders: tuple[str, ...]  # the Keras InputLayer placeholders it hangs off
    sinks: tuple[int, ...]  # node ids of its sinks, left out of the inferred roots
    twin_sink: str  # the sink of the copy that stays a root
    twin_inputs: tuple[str, ...]  # the graph inputs the twin reads
    strong: bool  # False when only the twin's scoped names tell the copies apart
    evidence: str


def find_orphans(gs: "GraphStructure", graph_name: str, candidates: Sequence[int], fed: Iterable[str],
                 min_ops: int) -> list[Orphan]:
    """Orphan copies among ``candidates`` (the sinks root inference kept); ``fed`` are signature inputs."""
    graph = gs.graph
    fed = set(fed)
    big = gs.copy & (gs.component_size >= min_ops)
    by_class: dict[int, list[int]] = {}
    for i in candidates:
        if big[i]:
            by_class.setdefault(int(gs.abstract[i]), []).append(i)
    groups = [members for members in by_class.values() if len(members) >= 2][:_MAX_GROUPS]
    if not groups:
        return []
    upstream_cache: dict[int, tuple[set[int], frozenset[int]]] = {}

    def upstream(i: int) -> tuple[set[int], frozenset[int]]:
        """(every node ``i`` reads over data edges, the graph inputs among them)."""
        got = upstream_cache.get(i)
        if got is None:
            seen = {i}
            stack = [i]
            while stack:
                j = stack.pop()
                for k in graph.inputs[j]:
                    if k not in seen:
                        seen.add(k)
                        stack.append(k)
            inputs = frozenset(k for k in seen if graph.ops[k] in DATA_SOURCE_OPS)
            got = upstream_cache[i] = (seen, inputs)
        return got

    def keras_input(p: int) -> bool:
        return graph.ops[p] == "Placeholder" and bool(_KERAS_INPUT.search(graph.names[p]))

    out: list[Orphan] = []
    for members in groups:
        inputs = {i: upstream(i)[1] for i in members}
        orphans = []
        for s in members:
            mine = inputs[s]
            if not mine or not all(keras_input(p) for p in mine) or any(graph.names[p] in fed for p in mine):
                continue
            others = [t for t in members if t != s]
            if any(mine & inputs[t] for t in others):
                continue  # a placeholder both copies read: they are the same computation's parts
            twins = [t for t in others if inputs[t]]
            if not twins:
                continue
            strong = [t for t in twins if not all(keras_input(p) for p in inputs[t])]
            scoped = [t for t in twins if graph.names[t].endswith("/" + graph.names[s])]
            twin = (strong or scoped or [None])[0]
            if twin is None:
                continue
            ends = _sinks_of(gs, candidates, mine, upstream)
            reads = set().union(*(upstream(e)[0] for e in ends))
            if any(c not in reads for p in mine for c in graph.consumers[p]):
                continue  # something besides this copy reads its placeholder
            orphans.append((s, twin, bool(strong), ends))
        # Every member an orphan would leave nothing: then nothing is known.
        if not orphans or len(orphans) == len(members):
            continue
        for s, twin, is_strong, ends in orphans:
            placeholders = sorted(inputs[s])
            names = tuple(graph.names[p] for p in placeholders)
            twin_inputs = tuple(sorted(graph.names[p] for p in inputs[twin]))
            shown = ", ".join(f"`{n}`" for n in names)
            if is_strong:
                why = (f"the copy ending in `{graph.names[s]}` reads only {shown}, the placeholder Keras makes for "
                       f"a model's `InputLayer` (`input_N`), which nothing else reads and no signature feeds; "
                       f"its twin `{graph.names[twin]}` reads {', '.join(f'`{n}`' for n in twin_inputs)}")
            else:
                why = (f"both copies read Keras `InputLayer` placeholders; the copy ending in `{graph.names[s]}` "
                       f"reads only {shown}, which nothing else reads and no signature feeds, and its twin "
                       f"`{graph.names[twin]}` carries the same names under the model's scope, as calling a "
                       "Keras model on a tensor names them (evidence from names)")
            out.append(Orphan(graph_name, names, tuple(ends),
                              graph.names[twin], twin_inputs, is_strong, why))
    return out


def _sinks_of(gs: "GraphStructure", candidates: Sequence[int], placeholders: frozenset[int], upstream) -> list[int]:
    """Candidate sinks that read no graph input but ``placeholders`` and hold a copy node: the orphan's ends."""
    out = []
    for i in candidates:
        if not gs.copy[i]:
            continue
        _, inputs = upstream(i)
        if inputs and inputs <= placeholders:
            out.append(i)
    return sorted(out)


def mask_of(n: int, orphans: Iterable[Orphan]) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for o in orphans:
        mask[list(o.sinks)] = True
    return mask
