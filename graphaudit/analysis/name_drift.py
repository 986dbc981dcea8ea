"""Graph variables missing from the checkpoint that it holds under another name: a `_N` suffix or a scope."""

# Keras names a layer after its class or its `name=`, and makes the name unique in the graph:
# the second build of VGG19 in one graph gets `block1_conv1_1/kernel`, the fifth
# `block1_conv1_4/kernel`. A checkpoint written from the first build holds `block1_conv1/kernel`,
# so a saver of the graph's fifth build finds no key for it. The same happens when a scope is
# added or dropped between saving and loading (`model/vgg19/...` against `vgg19/...`).
#
# For each variable the checkpoint lacks, the candidate keys are, in order of preference:
#   1. the name with the `_N` suffix of one or all of its scope components removed;
#   2. the name with leading scope components removed (then also without `_N` suffixes; the
#      unstripped name wins when it fits);
#   3. a key that ends with the name (or its suffix-free form): the checkpoint adds a scope.
# A candidate counts only if the checkpoint holds it with the variable's shape and dtype, and
# it is the only such candidate at its level. Every lookup is a dict hit, so the cost is linear
# in the total length of the names.

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable

from graphaudit.records import dataclass

if TYPE_CHECKING:
    from graphaudit.artifact import Artifact

_SUFFIX = re.compile(r"^(.*)_(\d+)$")


@dataclass(frozen=True)
class Rename:
    """One variable and the checkpoint key that holds its value under another name."""

    variable: str
    key: str
    how: str  # "suffix", "drop-scope" or "add-scope"
    scope: str = ""  # the scope dropped or added, e.g. "model/"
    suffix: str = ""  # the `_N` suffix(es) removed, e.g. "_4" (comma-separated when several)


@dataclass(frozen=True)
class Drift:
    """Variables of one graph whose names drifted from the checkpoint's the same way."""

    graph: str
    how: str
    scope: str
    suffix: str
    renames: tuple[Rename, ...]
    params: int

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(r.variable for r in self.renames)


def _strip_suffixes(parts: list[str]) -> Iterable[tuple[list[str], str]]:
    """Variants of a name's scope components with `_N` removed: one component at a time, then all."""
    found = []
    for i, part in enumerate(parts[:-1]):
        m = _SUFFIX.match(part)
        if m:
            found.append((i, m.group(1), f"_{m.group(2)}"))
    for i, base, suffix in found:
        yield parts[:i] + [base] + parts[i + 1:], suffix
    if len(found) > 1:
        out = list(parts)
        suffixes = sorted({s for _, _, s in found})
        for i, base, _ in found:
            out[i] = base
        yield out, ",".join(suffixes)


def find_renames(artifact: "Artifact", names: Iterable[str]) -> dict[str, Rename]:
    """For each variable in ``names`` that the checkpoint lacks, the key it drifted from, if any."""
    ckpt = artifact.checkpoint
    if ckpt is None:
        return {}
    keys = set(ckpt.keys())
    tails: dict[str, list[str]] | None = None
    out: dict[str, Rename] = {}
    for name in names:
        var = artifact.variables.get(name)
        if var is None or var.shape is None:
            continue
        own = var.checkpoint_key or name
        if own in keys:
            continue

        def fits(key: str, var=var) -> bool:
            if key not in keys or key == own:
                return False
            entry = ckpt.entry(key)
            return tuple(entry.shape) == tuple(var.shape) and (not var.dtype or entry.dtype == var.dtype)

        parts = name.split("/")
        rename = None
        # 1. `_N` suffixes.
        options = [("/".join(p), s) for p, s in _strip_suffixes(parts)]
        hits = [(k, s) for k, s in options if fits(k)]
        if len(hits) >= 1 and len({k for k, _ in hits}) == 1:
            rename = Rename(name, hits[0][0], "suffix", "", hits[0][1])
        # 2. Leading scopes dropped, keeping at least `layer/weight`.
        if rename is None:
            for cut in range(1, len(parts) - 1):
                rest = parts[cut:]
                dropped = "/".join(parts[:cut]) + "/"
                candidates = [("/".join(rest), "")] + [("/".join(p), s) for p, s in _strip_suffixes(rest)]
                hits = [(k, s) for k, s in candidates if fits(k)]
                if hits:
                    # The same layer name without the scope beats a suffix-stripped one: with
                    # `dense/kernel` and `dense_1/kernel` both shaped alike, `model/dense_1/kernel`
                    # is `dense_1/kernel`.
                    if hits[0][1] == "" or len({k for k, _ in hits}) == 1:
                        key, suffix = hits[0]
                        rename = Rename(name, key, "drop-scope", dropped, suffix)
                    break
        # 3. The checkpoint adds scopes in front.
        if rename is None:
            if tails is None:
                tails = _tails(keys)
            for candidate, suffix in [(name, "")] + [("/".join(p), s) for p, s in _strip_suffixes(parts)]:
                hits = [k for k in tails.get(candidate, ()) if fits(k)]
                if len(hits) == 1:
                    added = hits[0][: -len(candidate)]
                    rename = Rename(name, hits[0], "add-scope", added, suffix)
                    break
                if hits:
                    break
        if rename is not None:
            out[name] = rename
    return out


def _tails(keys: Iterable[str]) -> dict[str, list[str]]:
    """Each proper ``a/b``-suffix of each key -> the keys that end with it."""
    out: dict[str, list[str]] = {}
    for key in sorted(keys):
        parts = key.split("/")
        for cut in range(1, len(parts) - 1):
            out.setdefault("/".join(parts[cut:]), []).append(key)
    return out


def drifts(artifact: "Artifact", names: Iterable[str]) -> list[Drift]:
    """Renames grouped by graph and by what drifted (one group per `_N` suffix or scope)."""
    renames = find_renames(artifact, names)
    groups: dict[tuple[str, str, str, str], list[Rename]] = {}
    for rename in renames.values():
        var = artifact.variables[rename.variable]
        groups.setdefault((var.graph or "", rename.how, rename.scope, rename.suffix), []).append(rename)
    out = []
    for (graph, how, scope, suffix), items in sorted(groups.items()):
        items.sort(key=lambda r: r.variable)
        params = sum(artifact.variables[r.variable].size for r in items)
        out.append(Drift(graph, how, scope, suffix, tuple(items), params))
    return out
