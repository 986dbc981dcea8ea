"""Find keras.applications architectures among variables by layer names and weight shapes."""

# How an instance shows up in variable names, and how the matcher reads it back:
# - Named layers (`block1_conv1`) get a `_N` suffix when a graph already holds that name
#   (`block1_conv1_4`). The suffix is per layer name: VGG19 built after VGG16 in one graph has
#   `block1_conv1_1` but `block3_conv4`.
# - Unnamed layers are numbered by Keras per graph (`conv2d`, `conv2d_1`, ...), so a second
#   InceptionV3 starts at `conv2d_94`. The catalogue holds the numbers of a fresh graph; an
#   instance is found at an *offset* from them, one per class prefix.
# - Any scope may come in front (`VGG19/model/`), and `:0` may follow.
# Matching indexes the catalogue by (layer name without its suffix, weight name, shape), so
# each variable costs a few dict lookups. _Candidate instances (architecture, scope, suffix)
# are then accepted greedily, largest first, and each variable goes to one instance only: that
# is what makes VGG19 win over VGG16, whose weights it contains. Weights an instance still
# lacks are then taken from the same scope under another suffix, if nobody claimed them.
# Top layers (`predictions`, `fc1`) are left out of finding instances, because every
# architecture shares their names and their suffixes count across architectures; they are
# given afterwards, a whole layer at a time, to the instances whose shapes they fit. Names
# alone cannot say which of two instances in one scope had the top (VGG19 without top, then
# with, names exactly like with, then without): the first instance found gets it.
# Families, not single models: the catalogue holds each family (MobileNetV2, EfficientNet,
# ResNet, ...) as one template of layer names and kernel sizes, whose channel counts are symbols
# that each variant (every alpha Keras offers, B0-B7, 50/101/152 blocks) gives values to. Each
# variant is expanded to its exact weights, so a match names it ("MobileNetV2 alpha=0.35"), and
# a deeper variant wins over a shallower one whose weights it contains, the way VGG19 wins over
# VGG16. Widths Keras has no weights for (alpha=0.6 with weights=None) match no variant: shapes
# are the evidence; names alone are not.

from __future__ import annotations

import functools
import heapq
import json
import math
import operator
from operator import itemgetter, methodcaller
import os
import zlib
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from itertools import compress
from typing import Any

from graphaudit.bulk import Joined, last_parts
from graphaudit.records import dataclass

__all__ = [
    "ArchitectureMatch",
    "Catalog",
    "Fingerprint",
    "Variant",
    "WeightSpec",
    "catalog_initializer",
    "catalog_weight",
    "ShapeColumns",
    "load_catalog",
    "match_architectures",
]

_NAMED = ""  # the "class prefix" of named layers, next to auto prefixes such as "conv2d"


@dataclass(frozen=True)
class WeightSpec:
    """One weight of a catalogued architecture."""

    layer: str
    weight: str
    shape: tuple[int | None, ...]  # None where the dim follows the input size
    layer_class: str
    initializer: str | None  # key into Catalog.initializers
    top: bool = False  # only present with include_top=True
    auto: bool = False  # the layer has a Keras-generated name such as conv2d_5
    trainable: bool = True
    dtype: str = "float32"

    @property
    def name(self) -> str:
        return f"{self.layer}/{self.weight}"

    @property
    def size(self) -> int:
        return math.prod(d for d in self.shape if d is not None)


@dataclass(frozen=True)
class Variant:
    """An application built with or without its top."""

    name: str  # the Keras model's default name, e.g. "vgg19"
    params: int
    weight_count: int


@dataclass(frozen=True)
class Fingerprint:
    """A keras.applications architecture: every weight, its shape and its initializer."""

    architecture: str
    input_shape: tuple[int, ...]
    include_top: Variant
    no_top: Variant
    weights: tuple[WeightSpec, ...]
    family: str = ""  # "MobileNetV2" for "MobileNetV2 alpha=0.35"
    parameters: tuple[tuple[str, Any], ...] = ()  # (("alpha", 0.35),): what the application was called with

    def variant(self, include_top: bool) -> Variant:
        return self.include_top if include_top else self.no_top

    @functools.cached_property
    def _by_name(self) -> dict[str, WeightSpec]:
        return {spec.name: spec for spec in self.weights}

    def weight(self, name: str) -> WeightSpec | None:
        """The weight called ``layer/weight`` in a fresh graph, e.g. ``block1_conv1/kernel``."""
        return self._by_name.get(name)


@dataclass(frozen=True)
class Catalog:
    """The parsed ``fingerprints.json.gz``."""

    fingerprints: Mapping[str, Fingerprint]
    initializers: Mapping[str, Mapping[str, Any]]
    tf_keras_version: str

    def initializer(self, architecture: str, weight: str) -> dict[str, Any] | None:
        """``{"class_name", "config"}`` of one catalogue weight, or None when unknown."""
        spec = self.fingerprints[architecture].weight(weight)
        if spec is None or spec.initializer is None:
            return None
        found = self.initializers[spec.initializer]
        return {"class_name": found["class_name"], "config": json.loads(json.dumps(found["config"]))}

    def _index(self, families: frozenset[str] | None = None) -> _Index:
        """The matching index over some families (all when None), built once per set."""
        cache = self.__dict__.setdefault("_indexes", {})
        if families not in cache:
            cache[families] = _Index(self, families)
        return cache[families]

    def families_in(self, variables: Iterable[str]) -> frozenset[str]:
        """Families with a layer name among ``variables``: the only ones worth indexing."""
        names = list(variables)
        joined = Joined(names)
        return self._families_in(_split_names(names, joined)[1], joined.starting("/"))

    def _families_in(self, splits: Sequence[tuple[str, str, str]], rooted: Sequence[int]) -> frozenset[str]:
        """:meth:`families_in` of the names split at their last `/` (after :func:`_strip_output_index`);
        ``rooted``: the indices of the names that start with `/` (their stripped forms do too)."""
        fingerprints = self.fingerprints
        if not isinstance(fingerprints, _Fingerprints):
            return frozenset(fp.family for fp in fingerprints.values())
        return _families_in(fingerprints.families_of_layer(), fingerprints.multi_part_starts(), splits, rooted)


def _families_in(table: Mapping[str, frozenset[str]], starts: frozenset[str],
                 splits: Sequence[tuple[str, str, str]], rooted: Sequence[int]) -> frozenset[str]:
    """Families of ``table`` (layer name -> families) with a layer name among the split names;
    ``rooted``: the indices of the names that start with `/`."""
    # A layer name is looked for in every run of one to three path parts before the last one.
    # Keys share their folders and folders their parts: the single parts of all folders come
    # from one split of their joined text, and runs of two or three parts are only built in
    # the folders that hold a part some multi-part layer name starts with.
    folders = set(map(itemgetter(0), splits))
    # A name without a `/` has no folder, but its split gives an empty head, as `/x` does:
    # only a name that starts with `/` can have an empty folder.
    if "" in folders and not any(splits[k][1] and not splits[k][0] for k in rooted):
        folders.discard("")
    runs: set[str] = set()
    chunk = list(folders)
    for k in range(0, len(chunk), 8192):  # in chunks: the parts of a million folders at once weigh hundreds of MB
        runs.update("/".join(chunk[k:k + 8192]).split("/"))
    if not starts.isdisjoint(runs):
        for folder in folders:
            parts = folder.split("/")
            if len(parts) > 1 and not starts.isdisjoint(parts):
                for k, part in enumerate(parts[:-1]):
                    if part in starts:
                        runs.add("/".join(parts[k:k + 2]))
                        if k + 3 <= len(parts):
                            runs.add("/".join(parts[k:k + 3]))
    found: set[str] = set()
    for layer in runs:
        hit = table.get(layer)
        if hit is None:
            split = _split_number(layer)
            hit = table.get(split[0]) if split else None
        if hit:
            found |= hit
    return frozenset(found)


def _multi_part_starts(table: Iterable[str]) -> frozenset[str]:
    """First parts of the layer names with a `/`: where a run of parts may hit."""
    return frozenset(k.partition("/")[0] for k in table if "/" in k)


def _split_names(names: list[str], joined: Joined | None = None) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Every name without its output index (:func:`_strip_output_index`: only names with a `:` are
    looked at), and each of those split at its last `/`."""
    cleans = names
    with_colon = (joined if joined is not None and joined.strings is names else Joined(names)).containing(":")
    if with_colon:
        cleans = list(names)
        for k in with_colon:
            cleans[k] = _strip_output_index(names[k])
    return cleans, list(map(methodcaller("rpartition", "/"), cleans))


@dataclass(frozen=True)
class ArchitectureMatch:
    """One instance of a known architecture among the variables."""

    scope: str  # prefix common to the instance's variables, e.g. "" or "VGG19/model/"
    # Keras uniquification suffix of its named layers, e.g. "" or "_4"; when they differ
    # (ResNet50V2 after ResNet50 has `conv1_conv_1` but `post_bn`), the one most of them carry.
    suffix: str
    architecture: str  # the variant: "VGG19", "MobileNetV2 alpha=0.35", "EfficientNetB3"
    include_top: bool
    variables: tuple[str, ...]  # the artifact variable names that matched, sorted
    params: int  # parameters held by the matched variables, at their actual shapes
    quality: float  # matched weights / catalogue weights, 0..1
    missing: tuple[str, ...]  # catalogue weights not found (layer/weight), sorted
    # Catalogue weight (layer/weight) of each entry of `variables`, in the same order.
    catalog_weights: tuple[str, ...] = ()
    # Per class prefix of unnamed layers, how far the numbering is from a fresh graph's, when
    # not zero: (("batch_normalization", 94), ("conv2d", 94)) for a second InceptionV3.
    offsets: tuple[tuple[str, int], ...] = ()
    family: str = ""  # "MobileNetV2", "EfficientNet", "ResNet"


@functools.cache
def load_catalog() -> Catalog:
    """The packaged catalogue, read once."""
    # The package's own loader reads the file beside this module, in a folder or a zip (what
    # pkgutil.get_data does; importlib.resources and gzip cost 12 ms of imports at each start).
    data = __loader__.get_data(os.path.join(os.path.dirname(__file__), "fingerprints.json.gz"))
    return parse_catalog(json.loads(zlib.decompress(data, wbits=16 + zlib.MAX_WBITS).decode("utf-8")))


def parse_catalog(document: Mapping[str, Any]) -> Catalog:
    """A Catalog from the JSON document that ``build_catalog`` writes. Each family's template is
    expanded into one Fingerprint per variant only when something asks for that family."""
    if document.get("format") != 3:
        raise ValueError(f"fingerprints: expected format 3, found {document.get('format')!r}")
    return Catalog(
        fingerprints=_Fingerprints(document["families"]),
        initializers=document["initializers"],
        tf_keras_version=document["generator"]["tf_keras"],
    )


def _rows(entry: Mapping[str, Any]) -> list[list[str]]:
    """A family's template: [layer, weight, class, dims, initializer, flags, dtype] per weight."""
    return [(line.split("\t") + [""] * 7)[:7] for line in entry["weights"].split("\n")]


def _expand(family: str, entry: Mapping[str, Any]) -> dict[str, Fingerprint]:
    template = [(r[0], r[1], r[2], tuple(int(d) if d else None for d in r[3].split(",")) if r[3] else (),
                 r[4] or None, r[5], r[6] or "float32") for r in _rows(entry)]
    out = {}
    for name, variant in sorted(entry["variants"].items()):
        values = variant["values"]
        weights = []
        for start, end in variant["present"]:
            for layer, weight, layer_class, dims, init, flags, dtype in template[start:end]:
                weights.append(WeightSpec(
                    layer=layer,
                    weight=weight,
                    shape=tuple(d if d is None or d >= 0 else values[-1 - d] for d in dims),
                    layer_class=layer_class,
                    initializer=init,
                    top="t" in flags,
                    auto="a" in flags,
                    trainable="f" not in flags,
                    dtype=dtype,
                ))
        out[name] = Fingerprint(
            architecture=name,
            input_shape=tuple(variant["input_shape"]),
            include_top=Variant(name=variant["name"], params=variant["params"]["include_top"],
                                weight_count=variant["weights"]["include_top"]),
            no_top=Variant(name=variant["name"], params=variant["params"]["no_top"],
                           weight_count=variant["weights"]["no_top"]),
            weights=tuple(weights),
            family=family,
            parameters=tuple(sorted((variant.get("parameters") or {}).items())),
        )
    return out


class _Fingerprints(Mapping[str, Fingerprint]):
    """Variant name -> Fingerprint, expanding a family the first time one of its variants is asked for."""

    def __init__(self, families: Mapping[str, Any]) -> None:
        self._families = families
        self._family_of = {v: f for f, entry in families.items() for v in entry["variants"]}
        self._expanded: dict[str, dict[str, Fingerprint]] = {}
        self._layer_families: dict[str, frozenset[str]] | None = None
        self._multi_part_starts: frozenset[str] | None = None

    def family(self, name: str) -> dict[str, Fingerprint]:
        if name not in self._expanded:
            self._expanded[name] = _expand(name, self._families[name])
        return self._expanded[name]

    def __getitem__(self, key: str) -> Fingerprint:
        return self.family(self._family_of[key])[key]

    def __iter__(self):
        return iter(sorted(self._family_of))

    def __len__(self) -> int:
        return len(self._family_of)

    def families_of_layer(self) -> dict[str, frozenset[str]]:
        """Layer name (without a `_N` ending for unnamed layers) -> the families that have it."""
        if self._layer_families is None:
            self._layer_families = layer_table(self._families)
        return self._layer_families

    def multi_part_starts(self) -> frozenset[str]:
        """First parts of the layer names with a `/` in ``families_of_layer``: where a run of parts may hit."""
        if self._multi_part_starts is None:
            self._multi_part_starts = _multi_part_starts(self.families_of_layer())
        return self._multi_part_starts


def layer_table(families: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """Layer name (without a `_N` ending for unnamed layers) -> the families of ``families``
    (the catalogue document's) that have it; ``layers.json.gz`` holds it for the packaged one."""
    found: dict[str, set[str]] = {}
    for family, entry in families.items():
        # Only the layer and flags columns of each template row are read, and each (layer,
        # auto-named) pair is handled once.
        pairs = set()
        for line in entry["weights"].split("\n"):
            cols = line.split("\t", 6)
            pairs.add((cols[0], len(cols) > 5 and "a" in cols[5]))
        for layer, auto in pairs:
            if auto:
                layer = (_split_number(layer) or (layer, 0))[0]
            found.setdefault(layer, set()).add(family)
            if "/" in layer:  # it may show up by its own name or `_`-joined (_scoped_leaves, _joined_names)
                found.setdefault(layer.rpartition("/")[2], set()).add(family)
                found.setdefault(layer.replace("/", "_"), set()).add(family)
    return {k: frozenset(v) for k, v in found.items()}


@functools.cache
def _packaged_layers() -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    """The packaged catalogue's layer table and its multi-part starts, from ``layers.json.gz``
    (a tenth of the templates' text): most graphs name no catalogued layer, and
    their check then never reads the templates."""
    data = __loader__.get_data(os.path.join(os.path.dirname(__file__), "layers.json.gz"))
    document = json.loads(zlib.decompress(data, wbits=16 + zlib.MAX_WBITS).decode("utf-8"))
    if document.get("format") != 3:
        raise ValueError(f"layers: expected format 3, found {document.get('format')!r}")
    table: dict[str, frozenset[str]] = {}
    for families, layers in document["layers"].items():
        table.update(dict.fromkeys(layers.split("\n"), frozenset(families.split(","))))
    return table, _multi_part_starts(table)


def _split_number(name: str) -> tuple[str, int] | None:
    """``block1_conv1_4`` -> (``block1_conv1``, 4); None without a ``_N`` ending."""
    head, sep, tail = name.rpartition("_")
    if sep and head and tail.isdigit() and tail.isascii():
        return head, int(tail)
    return None


class _Arch:
    """Per-architecture facts the matcher needs, derived from a Fingerprint."""

    def __init__(self, fingerprint: Fingerprint) -> None:
        self.fingerprint = fingerprint
        self.name = fingerprint.architecture
        self.top = [spec.top for spec in fingerprint.weights]
        self.n_all = len(fingerprint.weights)
        self.n_base = self.n_all - sum(self.top)
        # Unnamed layers: class prefix and the number a fresh graph gives them.
        self.prefix: list[str] = []
        self.number: list[int] = []
        for spec in fingerprint.weights:
            if spec.auto:
                prefix, number = _split_number(spec.layer) or (spec.layer, 0)
            else:
                prefix, number = _NAMED, 0
            self.prefix.append(prefix)
            self.number.append(number)
        base_counts: dict[str, int] = {}
        for prefix, top in zip(self.prefix, self.top):
            if not top:
                base_counts[prefix] = base_counts.get(prefix, 0) + 1
        # Instances are enumerated by the prefix that holds most weights; the others follow.
        self.primary = max(sorted(base_counts), key=lambda p: (base_counts[p], p == _NAMED))
        self.secondary = sorted(set(base_counts) - {self.primary})
        self.n_primary = base_counts[self.primary]
        self.n_secondary = self.n_base - self.n_primary
        # Top weights grouped by layer, in catalogue order: they are assigned a layer at a time.
        layers: dict[str, list[int]] = {}
        for w, spec in enumerate(fingerprint.weights):
            if spec.top:
                layers.setdefault(spec.layer, []).append(w)
        self.top_layers = list(layers.values())


class _Index:
    """The catalogue keyed by (layer name, weight name, shape)."""

    def __init__(self, catalog: Catalog, families: frozenset[str] | None = None) -> None:
        fingerprints = catalog.fingerprints
        if families is not None and isinstance(fingerprints, _Fingerprints):
            chosen = {k: v for f in sorted(families) for k, v in fingerprints.family(f).items()}
        else:
            chosen = dict(fingerprints)
        self.archs = [_Arch(fp) for _, fp in sorted(chosen.items())]
        # (layer, weight) -> [(shape, has free dims, arch, weight index, role)]
        self.named: dict[tuple[str, str], list[tuple[tuple[int | None, ...], bool, int, int, str | None]]] = {}
        # (prefix, weight, shape) -> [(number, arch, weight index, role)]
        self.auto: dict[tuple[str, str, tuple[int, ...]], list[tuple[int, int, int, str | None]]] = {}
        self.weight_names: set[str] = set()
        self.max_depth = 1
        for a, arch in enumerate(self.archs):
            leaves = _scoped_leaves(arch.fingerprint.weights)
            joined = _joined_names(arch.fingerprint.weights)
            for w, spec in enumerate(arch.fingerprint.weights):
                self.weight_names.add(spec.weight)
                self.max_depth = max(self.max_depth, spec.layer.count("/") + 1)
                # The role decides where a hit is filed: None for top weights, else the prefix.
                role = None if spec.top else arch.prefix[w]
                if spec.auto:
                    key = (arch.prefix[w], spec.weight, spec.shape)
                    self.auto.setdefault(key, []).append((arch.number[w], a, w, role))
                else:
                    entry = (spec.shape, None in spec.shape, a, w, role)
                    self.named.setdefault((spec.layer, spec.weight), []).append(entry)
                    for alias in (leaves.get(spec.layer), joined.get(spec.layer)):
                        if alias is not None:
                            self.named.setdefault((alias, spec.weight), []).append(entry)
        self.named_layers = {layer for layer, _ in self.named}
        self.auto_prefixes = {prefix for prefix, _, _ in self.auto}
        # Every shape a weight of the index has, and the patterns with free dims.
        patterns = {entry[0] for entries in self.named.values() for entry in entries}
        self.free_shapes = [pattern for pattern in patterns if None in pattern]
        self.shapes = (patterns - set(self.free_shapes)) | {shape for _, _, shape in self.auto}

    def fitting(self, shapes: Sequence[Any]) -> list[bool]:
        """Whether each of ``shapes`` is the shape of some weight of the index (else it fills none)."""
        try:
            distinct = set(shapes)
        except TypeError:  # lists: each is asked
            distinct = None
        fits = self._fits_some
        if distinct is None:
            return list(map(fits, shapes))
        good = set(compress(distinct, map(fits, distinct)))
        return list(map(good.__contains__, shapes))

    def _fits_some(self, shape: Sequence[Any] | None) -> bool:
        if shape is None:
            return False
        shape = tuple(shape)
        return shape in self.shapes or any(_fits(shape, pattern) for pattern in self.free_shapes)

    def hits(self, layer: str, weight: str, shape: tuple[Any, ...]) -> list[tuple[int, int, int, str | None]]:
        """(arch, weight index, variant, role) for one layer/weight/shape of an artifact."""
        found = []
        split = _split_number(layer)
        named = []
        if layer in self.named_layers:
            named.append((layer, 0))
        if split is not None and split[0] in self.named_layers:
            named.append(split)
        for base, suffix in named:
            for alias in _WEIGHT_ALIASES.get(weight, (weight,)):
                for pattern, free, a, w, role in self.named.get((base, alias), ()):
                    if _fits(shape, pattern) if free else shape == pattern:
                        found.append((a, w, suffix, role))
        if layer in self.auto_prefixes:
            auto: tuple[str, int] | None = (layer, 0)
        elif split is not None and split[0] in self.auto_prefixes:
            auto = split
        else:
            auto = None
        if auto is not None:
            prefix, number = auto
            found.extend((a, w, number - n, role) for n, a, w, role in self.auto.get((prefix, weight, shape), ()))
        return found


def _scoped_leaves(weights: Sequence[WeightSpec]) -> dict[str, str]:
    """Layer path -> its last part, where that part names one layer of the architecture alone.

    tf_keras builds some layers inside a name scope (NASNet's `normal_A_block_2/.../
    separable_conv_1_normal_left5_2`), which TF1 and TF2 variable names keep and Keras 3's
    `.keras` files, named by layer, do not. A last part that is a unique layer name stands for
    the layer; one shared by many (DenseNet's `conv1/conv`, `conv2_block1_1/conv`) says nothing.
    """
    layers = {spec.layer for spec in weights if not spec.auto}
    counts: dict[str, int] = {}
    for layer in layers:
        leaf = layer.rpartition("/")[2]
        counts[leaf] = counts.get(leaf, 0) + 1
    return {layer: leaf for layer in layers if "/" in layer
            for leaf in (layer.rpartition("/")[2],) if counts[leaf] == 1 and leaf not in layers}


def _joined_names(weights: Sequence[WeightSpec]) -> dict[str, str]:
    """Layer path -> the same with `_` for `/` (`conv1/conv` -> `conv1_conv`), where that names no
    other layer: Keras 3 forbids `/` in layer names, and its applications join tf_keras' with `_`."""
    layers = {spec.layer for spec in weights if not spec.auto}
    out: dict[str, str] = {}
    taken: dict[str, int] = {}
    for layer in layers:
        if "/" in layer:
            name = layer.replace("/", "_")
            taken[name] = taken.get(name, 0) + 1
            out[layer] = name
    return {layer: name for layer, name in out.items() if taken[name] == 1 and name not in layers}


# Keras 3 names a DepthwiseConv2D's weight `kernel`; tf_keras (and so the catalogue) `depthwise_kernel`.
_WEIGHT_ALIASES = {"kernel": ("kernel", "depthwise_kernel")}


def _fits(shape: tuple[Any, ...], pattern: tuple[int | None, ...]) -> bool:
    return len(shape) == len(pattern) and all(p is None or p == s for p, s in zip(pattern, shape))


def _strip_output_index(name: str) -> str:
    """``block1_conv1/kernel:0`` -> ``block1_conv1/kernel``."""
    head, sep, tail = name.rpartition(":")
    return head if sep and tail.isdigit() else name


@dataclass
class _Instance:
    """One instance of an architecture being matched among the variables."""

    arch: int
    scope: str
    variants: dict[str, int]  # class prefix -> suffix (named) or offset (auto)
    matched: dict[int, str]  # weight index -> variable name
    include_top: bool = False
    quality: float = 0.0


class _Ranked:
    """Keys ranked once, then walked past the ones used up: amortized O(1) per question."""

    __slots__ = ("keys", "position")

    def __init__(self, keys: list[Any]) -> None:
        self.keys = keys
        self.position = 0

    def first(self, used: Callable[[Any], bool]) -> Any:
        # Only for questions whose answer, once "used", stays used: claims are never undone.
        while self.position < len(self.keys) and used(self.keys[self.position]):
            self.position += 1
        return self.keys[self.position] if self.position < len(self.keys) else None


_Candidate = tuple[int, str, int]  # (arch, scope, variant of the arch's primary prefix)


class _Matcher:
    """The state of one match_architectures call."""

    def __init__(self, index: _Index, min_quality: float) -> None:
        self.archs = index.archs
        self.index = index
        self.min_quality = min_quality
        # (arch, scope, weight) -> variant -> variable: every place a variable could fit.
        self.slots: dict[tuple[int, str, int], dict[int, str]] = {}
        # Non-top hits, by candidate instance, for the arch's primary prefix...
        self.primary: dict[_Candidate, dict[int, str]] = {}
        # ... and by variant for its other prefixes: (arch, scope, prefix) -> variant -> hits.
        self.secondary: dict[tuple[int, str, str], dict[int, dict[int, str]]] = {}
        self.claimed: set[str] = set()
        self.taken: dict[tuple[int, str, str], set[int]] = {}
        self.ranked: dict[Any, _Ranked] = {}
        self.instances: list[_Instance] = []

    def collect(self, entries: Iterable[tuple[str, str, Sequence[int] | None]]) -> None:
        """Record every (arch, scope, weight, variant) each variable could fill.

        ``entries``: (name, name without output index, shape) of each variable worth looking at,
        in the variables' order (see :func:`_candidates`); the others fill nothing.
        """
        index, slots, primary, secondary = self.index, self.slots, self.primary, self.secondary
        primaries = [arch.primary for arch in self.archs]
        # Only a variable whose last part is a weight name of the index can fill anything.
        weight_names = index.weight_names
        for name, clean, shape in entries:
            slash = clean.rfind("/")
            if slash <= 0 or shape is None or clean[slash + 1 :] not in weight_names:
                continue
            weight = clean[slash + 1 :]
            shape = tuple(shape)
            end = slash
            # Layer names may hold a slash (DenseNet's `conv1/conv`): try each split.
            for _ in range(index.max_depth):
                start = clean.rfind("/", 0, end) + 1
                layer, scope = clean[start:slash], clean[:start]
                for a, w, variant, role in index.hits(layer, weight, shape):
                    slot = slots.get((a, scope, w))
                    if slot is None:
                        slot = slots[(a, scope, w)] = {}
                    elif slot.get(variant, name) < name:
                        continue  # two spellings of one slot (`x:0` and `x`): keep one, whatever the order
                    slot[variant] = name
                    if role is None:
                        continue  # top weights are assigned after the instances are known
                    if role == primaries[a]:
                        primary.setdefault((a, scope, variant), {})[w] = name
                    else:
                        secondary.setdefault((a, scope, role), {}).setdefault(variant, {})[w] = name
                if start == 0:
                    break
                end = start - 1

    def _free_hits(self, candidate: _Candidate) -> dict[int, str]:
        return {w: v for w, v in self.primary[candidate].items() if v not in self.claimed}

    def _rank(self, candidate: _Candidate, count: int) -> tuple[Any, ...]:
        a, scope, variant = candidate
        # Ties go to the architecture the hits explain best (VGG16 over VGG19 for VGG16's).
        return (-count, -count / self.archs[a].n_primary, scope, variant, self.archs[a].name, a)

    def _greedy(
        self,
        candidates: Iterable[_Candidate],
        accept: Callable[[_Candidate, dict[int, str]], None],
        least: Callable[[_Candidate], float],
        rejected: list[_Candidate],
    ) -> None:
        """Offer candidates to ``accept`` largest first, recounting hits others claimed.

        A candidate with fewer than ``least`` free hits goes to ``rejected`` instead.
        """
        heap = []
        for candidate in candidates:
            count = len(self._free_hits(candidate))
            if count >= least(candidate):
                heap.append((self._rank(candidate, count), candidate))
            elif count:
                rejected.append(candidate)
        heapq.heapify(heap)
        while heap:
            (negative_count, *_), candidate = heapq.heappop(heap)
            hits = self._free_hits(candidate)
            if len(hits) == -negative_count:
                accept(candidate, hits)
            elif len(hits) >= least(candidate):
                heapq.heappush(heap, (self._rank(candidate, len(hits)), candidate))
            elif hits:
                rejected.append(candidate)

    def _with_secondary(self, candidate: _Candidate, matched: dict[int, str]) -> dict[str, int]:
        """Add the weights of the arch's other prefixes: each the variant with most hits."""
        a, scope, variant = candidate
        arch = self.archs[a]
        variants = {arch.primary: variant}
        for prefix in arch.secondary:
            key = (a, scope, prefix)
            options = self.secondary.get(key)
            if not options:
                continue
            if key not in self.ranked:
                self.ranked[key] = _Ranked(sorted(options, key=lambda v, o=options: (-len(o[v]), v)))
            chosen = self.ranked[key].first(self.taken.setdefault(key, set()).__contains__)
            if chosen is not None:
                variants[prefix] = chosen
                matched.update((w, v) for w, v in options[chosen].items() if v not in self.claimed)
        return variants

    def _accept(self, candidate: _Candidate, matched: dict[int, str], variants: dict[str, int]) -> None:
        a, scope, _ = candidate
        self.claimed.update(matched.values())
        for prefix, chosen in variants.items():
            if prefix != self.archs[a].primary:
                self.taken[(a, scope, prefix)].add(chosen)
        self.instances.append(_Instance(a, scope, variants, matched))

    def _fill(self, a: int, scope: str, matched: dict[int, str], max_misses: int) -> bool:
        """Fill missing named, non-top weights from any free suffix of theirs, smallest first.

        Stops, returning False, once more than ``max_misses`` weights stay missing. Unnamed
        layers are not filled: Keras numbers them in one run per instance, so a weight missing
        at the instance's offset is missing.
        """
        arch = self.archs[a]
        misses = 0
        for w in range(arch.n_all):
            if w in matched or arch.top[w]:
                continue
            variant = None
            key = (a, scope, w)
            slot = self.slots.get(key)
            if slot is not None and arch.prefix[w] == _NAMED:
                if key not in self.ranked:
                    self.ranked[key] = _Ranked(sorted(slot))
                variant = self.ranked[key].first(lambda v, s=slot: s[v] in self.claimed)
            if variant is None:
                misses += 1
                if misses > max_misses:
                    return False
            else:
                matched[w] = slot[variant]
        return True

    def _max_misses(self, a: int) -> int:
        return math.floor((1.0 - self.min_quality) * self.archs[a].n_base + 1e-9)

    def find_instances(self) -> None:
        """Accept instances whose own suffix explains them, then rebuild mixed-suffix ones."""
        rejected: list[_Candidate] = []

        def exact(candidate: _Candidate, hits: dict[int, str]) -> None:
            variants = self._with_secondary(candidate, hits)
            if len(hits) >= self.min_quality * self.archs[candidate[0]].n_base:
                self._accept(candidate, hits, variants)
            else:
                rejected.append(candidate)

        def reachable(candidate: _Candidate) -> float:
            # Fewer hits than this cannot reach min_quality, even with every other prefix.
            arch = self.archs[candidate[0]]
            return self.min_quality * arch.n_base - arch.n_secondary

        self._greedy(self.primary, exact, reachable, rejected)
        # Weights still missing may sit under another suffix in the same scope.
        for instance in self.instances:
            self._fill(instance.arch, instance.scope, instance.matched, max_misses=self.archs[instance.arch].n_all)
            self.claimed.update(instance.matched.values())

        # What is left may be instances whose layers carry different suffixes: ResNet50V2
        # built after ResNet50 has `conv1_conv_1` (the name exists) but `post_bn`.
        def mixed(candidate: _Candidate, hits: dict[int, str]) -> None:
            variants = self._with_secondary(candidate, hits)
            if self._fill(candidate[0], candidate[1], hits, self._max_misses(candidate[0])):
                self._accept(candidate, hits, variants)

        self._greedy(rejected, mixed, lambda candidate: 1, [])

    def assign_tops(self) -> None:
        """Give each instance, in the order found, the first free top layers its shapes fit."""
        for instance in self.instances:
            a, scope = instance.arch, instance.scope
            arch = self.archs[a]
            found = instance.matched
            for layer in arch.top_layers:
                keys = [(a, scope, w) for w in layer]
                if not all(key in self.slots for key in keys):
                    continue
                layer_slots = [self.slots[key] for key in keys]

                def unusable(v: int, layer_slots: list[dict[int, str]] = layer_slots) -> bool:
                    return any(v not in slot or slot[v] in self.claimed for slot in layer_slots)

                if keys[0] not in self.ranked:
                    self.ranked[keys[0]] = _Ranked(sorted(layer_slots[0]))
                variant = self.ranked[keys[0]].first(unusable)
                if variant is not None:
                    found.update((w, slot[variant]) for w, slot in zip(layer, layer_slots))
            instance.include_top, instance.quality, instance.matched = _score(arch, found, self.min_quality)
            self.claimed.update(instance.matched.values())


def _score(arch: _Arch, matched: Mapping[int, str], min_quality: float) -> tuple[bool, float, dict[int, str]]:
    """Decide include_top; give the quality and the weights the instance keeps."""
    top_hits = sum(1 for w in matched if arch.top[w])
    if top_hits and len(matched) / arch.n_all >= min_quality:
        return True, len(matched) / arch.n_all, dict(matched)
    kept = {w: v for w, v in matched.items() if not arch.top[w]}
    return False, len(kept) / arch.n_base, kept


class ShapeColumns(Mapping[str, Sequence[int]]):
    """Variable name -> shape over parallel lists, without a dict of them all.

    ``names`` and ``shapes`` are columns (a bare checkpoint's index holds millions of keys:
    :class:`~graphaudit.artifact.VariableTable`); ``leaves``, when the caller has them, the last
    `/` part of each name, and ``joined`` their :class:`Joined` (analysis/columns.py). ``among``:
    only these names are keys (None: all). A name whose shape is None is no key, as in a dict of
    the known shapes. :func:`match_architectures` reads the columns; looking a name up builds a
    dict once.
    """

    def __init__(self, names: Sequence[str], shapes: Sequence[Sequence[int] | None],
                 leaves: Sequence[str] | None = None, among: Container[str] | None = None,
                 joined: Joined | None = None) -> None:
        if len(shapes) != len(names) or leaves is not None and len(leaves) != len(names):
            raise ValueError("ShapeColumns: the columns differ in length")
        if joined is not None and joined.strings is not names:
            raise ValueError("ShapeColumns: the Joined is not of these names")
        self.names, self.shapes, self.leaves, self.among, self.joined = names, shapes, leaves, among, joined
        self._rows: dict[str, int] | None = None

    def _row(self, name: object) -> int | None:
        if self._rows is None:
            self._rows = dict(zip(self.names, range(len(self.names))))
        row = self._rows.get(name)  # type: ignore[arg-type]
        if row is None or self.shapes[row] is None or self.among is not None and name not in self.among:
            return None
        return row

    def __getitem__(self, name: str) -> Sequence[int]:
        row = self._row(name)
        if row is None:
            raise KeyError(name)
        return self.shapes[row]  # type: ignore[return-value]

    def __contains__(self, name: object) -> bool:
        return self._row(name) is not None

    def __iter__(self) -> Iterator[str]:
        among = self.among
        return (n for n, s in zip(self.names, self.shapes) if s is not None and (among is None or n in among))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def match_architectures(
    variables: Mapping[str, Sequence[int] | None],
    *,
    min_quality: float = 0.9,
    catalog: Catalog | None = None,
) -> list[ArchitectureMatch]:
    """Every instance of a catalogued architecture among ``variables`` (name -> shape; a
    :class:`ShapeColumns` is read column by column).

    Returns one match per instance, sorted by scope, then suffix. Runs in time linear in the
    number of variables.
    """
    if not 0.0 < min_quality <= 1.0:
        raise ValueError(f"min_quality must be in (0, 1], found {min_quality!r}")
    if catalog is None:
        table: Mapping[str, frozenset[str]] | None = _packaged_layers()[0]
        weights = _PACKAGED_WEIGHTS
    else:
        table = catalog.fingerprints.families_of_layer() if isinstance(catalog.fingerprints, _Fingerprints) else None
        weights = _weight_names(catalog)
    names, shapes, families = _candidates(variables, weights, table)
    if not names:
        return []  # no variable can fill a catalogue weight: the templates need not be read
    if catalog is None:
        catalog = load_catalog()
    index = catalog._index(families)
    fits = index.fitting(shapes)
    names, shapes = list(compress(names, fits)), list(compress(shapes, fits))
    cleans = [_strip_output_index(name) if ":" in name else name for name in names]
    matcher = _Matcher(index, min_quality)
    matcher.collect(zip(names, cleans, shapes))
    matcher.find_instances()
    matcher.assign_tops()
    shape_of = dict(zip(names, shapes))
    matches = [_to_match(matcher.archs[i.arch], i, shape_of) for i in matcher.instances]
    matches.sort(key=lambda m: (m.scope, int(m.suffix[1:] or 0), m.offsets, m.architecture, m.variables))
    return matches


# The weight names of the packaged catalogue's templates (tests/test_matcher_columns.py checks
# them): a variable whose last part, without `:N`, is none of these fills no weight of it.
_PACKAGED_WEIGHTS = frozenset({"beta", "bias", "count", "depthwise_kernel", "gamma", "kernel", "mean",
                               "moving_mean", "moving_variance", "pointwise_kernel", "variance"})


def _weight_names(catalog: Catalog) -> frozenset[str]:
    """Every weight name in ``catalog`` (a `layer/weight`'s `weight`), read once per catalogue."""
    found = catalog.__dict__.get("_weight_names")
    if found is None:
        fingerprints = catalog.fingerprints
        if isinstance(fingerprints, _Fingerprints):  # from the templates: no variant is expanded
            found = frozenset(row[1] for entry in fingerprints._families.values() for row in _rows(entry))
        else:
            found = frozenset(spec.weight for fp in fingerprints.values() for spec in fp.weights)
        catalog.__dict__["_weight_names"] = found
    return found


def _candidates(variables: Mapping[str, Sequence[int] | None], weights: frozenset[str],
                table: Mapping[str, frozenset[str]] | None) -> tuple[list[str], list[Any], frozenset[str] | None]:
    """The variables that may fill a catalogue weight, in their order, with their shapes, and the
    families worth indexing for them (None: all).

    A variable can fill one only when its last part (without `:N`) is one of ``weights``, and
    the part before it (the layer's own name, or the last part of a layer name with a `/`) is
    a layer name of ``table`` (layer name -> families), with or without a `_N` ending; the
    families of those layer names are all that can be hit. Both are tested on the distinct
    parts, and the names are picked out by C loops, so variables that name no catalogued weight
    (an optimizer's slots, a checkpoint key's `VARIABLE_VALUE`) cost little. Without ``table``,
    every variable with a weight's last part is a candidate.
    """
    if isinstance(variables, ShapeColumns):
        names, shape_column, leaves, among = variables.names, variables.shapes, variables.leaves, variables.among
        joined = variables.joined
    else:
        names, shape_column, leaves, among, joined = list(variables), None, None, None, None
    if leaves is None:
        leaves = last_parts(names)
    rows = _weight_rows(leaves, weights, joined)
    if not rows:
        return [], [], frozenset()
    picked = list(map(names.__getitem__, rows))
    families: frozenset[str] | None = None
    if table is not None:
        # The part before the last (the whole folder when the name has one `/`).
        try:
            layers = list(map(itemgetter(-2), map(methodcaller("rsplit", "/", 2), picked)))
        except IndexError:  # a name without `/`: it fills nothing
            layers = [split[-2] if len(split) > 1 else "" for split in map(methodcaller("rsplit", "/", 2), picked)]
        hits, families = _layer_hits(set(layers), table)
        if not hits:
            return [], [], frozenset()
        keep = list(map(hits.__contains__, layers))
        rows, picked = list(compress(rows, keep)), list(compress(picked, keep))
    if among is not None:
        keep = list(map(among.__contains__, picked))
        rows, picked = list(compress(rows, keep)), list(compress(picked, keep))
    if shape_column is not None:
        return picked, list(map(shape_column.__getitem__, rows)), families
    return picked, list(map(variables.__getitem__, picked)), families


def _weight_rows(leaves: Sequence[str], weights: frozenset[str], joined: Joined | None) -> list[int]:
    """The indices of the ``leaves`` that are one of ``weights`` once :func:`_strip_output_index`
    has stripped them; ``joined``: the names' :class:`Joined`, when the caller has it."""
    # Leaves mostly repeat (`kernel`, `VARIABLE_VALUE`): the set of them is cheap, and when none
    # is a weight name, nothing is left to do. Leaves mostly distinct (Keras 3 slots,
    # `adam/dense_7_kernel_momentum`) make a set slower than asking each leaf.
    sample = leaves[::max(1, len(leaves) >> 14)]
    if joined is None or len(set(sample)) * 4 <= len(sample):
        wanted = _weight_leaves(set(leaves), weights)
        if not wanted:
            return []
    else:
        wanted = set(weights)
        colons = joined.containing(":")
        if colons:
            wanted |= _weight_leaves(set(map(leaves.__getitem__, colons)), weights)
    return list(compress(range(len(leaves)), map(wanted.__contains__, leaves)))


def _weight_leaves(leaves: set[str], weights: frozenset[str]) -> set[str]:
    """The ``leaves`` that are one of ``weights`` once :func:`_strip_output_index` has stripped them."""
    found = leaves & weights
    # `kernel:0`: the part before its last `:` is a weight name (C loops), then its end is digits.
    colons = list(compress(leaves, map(methodcaller("__contains__", ":"), leaves)))
    heads = map(itemgetter(0), map(methodcaller("rpartition", ":"), colons))
    found.update(leaf for leaf in compress(colons, map(weights.__contains__, heads))
                 if _strip_output_index(leaf) in weights)
    return found


_DIGITS = "0123456789"


def _layer_hits(parts: set[str], table: Mapping[str, frozenset[str]]) -> tuple[set[str], frozenset[str]]:
    """The ``parts`` that name a layer of ``table``, themselves or without a `_N` ending, and
    the families of those layer names (both, when a numbered name is a layer name too)."""
    hits = parts & table.keys()
    families: set[str] = set().union(*map(table.__getitem__, hits))
    # `block1_conv1_4`: its ASCII digits stripped, `block1_conv1_` (few distinct) ends with `_`
    # after a layer name.
    listed = list(parts)
    stems = list(map(methodcaller("rstrip", _DIGITS), listed))
    bases = {stem: table.get(stem[:-1]) for stem in set(stems) if len(stem) > 1 and stem[-1] == "_"}
    bases = {stem: found for stem, found in bases.items() if found is not None}
    if bases:
        numbered = list(map(operator.and_, map(bases.__contains__, stems), map(operator.ne, stems, listed)))
        hits.update(compress(listed, numbered))
        families.update(*map(bases.__getitem__, set(compress(stems, numbered))))
    return hits, frozenset(families)


def _size(shape: Sequence[Any] | None, spec: WeightSpec) -> int:
    """Elements of a matched variable; the catalogue's count when its shape is not fully known."""
    if shape is not None:
        try:
            dims = [operator.index(d) for d in shape]
        except TypeError:  # None dims of a partially known shape
            dims = [-1]
        if min(dims, default=0) >= 0:
            return math.prod(dims)
    return spec.size


def _to_match(arch: _Arch, instance: _Instance, shapes: Mapping[str, Sequence[int]]) -> ArchitectureMatch:
    weights = arch.fingerprint.weights
    pairs = sorted((name, weights[w].name) for w, name in instance.matched.items())
    expected = range(arch.n_all) if instance.include_top else (w for w in range(arch.n_all) if not arch.top[w])
    suffix = instance.variants.get(_NAMED, 0)
    return ArchitectureMatch(
        scope=instance.scope,
        suffix=f"_{suffix}" if suffix else "",
        architecture=arch.name,
        include_top=instance.include_top,
        variables=tuple(name for name, _ in pairs),
        params=sum(_size(shapes[name], weights[w]) for w, name in instance.matched.items()),
        quality=instance.quality,
        missing=tuple(sorted(weights[w].name for w in expected if w not in instance.matched)),
        catalog_weights=tuple(weight for _, weight in pairs),
        offsets=tuple(sorted((p, v) for p, v in instance.variants.items() if p != _NAMED and v)),
        family=arch.fingerprint.family,
    )


def catalog_weight(
    match: ArchitectureMatch, variable_name: str, *, catalog: Catalog | None = None
) -> WeightSpec | None:
    """The catalogue weight that ``variable_name`` plays in ``match``, or None."""
    clean = _strip_output_index(variable_name)
    for name, weight in zip(match.variables, match.catalog_weights):
        if name == variable_name or _strip_output_index(name) == clean:
            return (catalog or load_catalog()).fingerprints[match.architecture].weight(weight)
    return None


def catalog_initializer(
    match: ArchitectureMatch, variable_name: str, *, catalog: Catalog | None = None
) -> dict[str, Any] | None:
    """What initializer Keras gives ``variable_name`` in ``match``: ``{"class_name", "config"}``.

    None when the variable is not part of the match, or the catalogue does not know.
    """
    spec = catalog_weight(match, variable_name, catalog=catalog)
    if spec is None:
        return None
    return (catalog or load_catalog()).initializer(match.architecture, spec.name)
