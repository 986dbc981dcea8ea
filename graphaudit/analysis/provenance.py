"""Which variable groups are pretrained, and the evidence for each, strongest first."""

from __future__ import annotations

import enum
import fnmatch
import functools
import os
import re
from dataclasses import field
from typing import Any, Container, Iterable, Iterator, Mapping, Sequence

import numpy as np

from graphaudit.analysis.columns import VariableColumns, columns_of
from graphaudit.analysis.roles import covers, model_variables
from graphaudit.artifact import Artifact, UpdateKind, made_variables
from graphaudit.config import Settings
from graphaudit.errors import ArtifactError
from graphaudit.names import common_scope
from graphaudit.records import dataclass


class EvidenceKind(enum.IntEnum):
    """Kinds of evidence, in the order of strength ARCHITECTURE.md gives (lower is stronger)."""

    DECLARED = 1  # `pretrained = [...]` in config, or --pretrained
    WEIGHTS_FILE = 2  # matches a reference weights file given with --weights
    FINGERPRINT = 3  # a known keras.applications architecture, by layer names and shapes
    WEIGHT_LOAD_OPS = 4  # Keras load_weights assigns, a restricted Saver, init_from_checkpoint
    METADATA = 5  # Keras' own record: a nested application model in its config or metadata


class Strength(enum.IntEnum):
    """What evidence says about the values, weakest first; rules pick severity and confidence by it."""

    # "This is a VGG19": a fingerprint, or Keras naming the whole model after an application.
    # It says nothing about where the values came from: `weights=None` gives the same.
    ARCHITECTURE = 1
    # Keras recorded an application nested inside a bigger model: the transfer-learning pattern
    # (`base = MobileNetV2(...)`, `model = Model(inputs, head(base(inputs)))`).
    RECORDED_BASE = 2
    # The values came from elsewhere: declared, a `--weights` match, weight-loading ops,
    # `init_from_checkpoint`.
    LOADED = 3


_DEFAULT_STRENGTH = {
    EvidenceKind.DECLARED: Strength.LOADED,
    EvidenceKind.WEIGHTS_FILE: Strength.LOADED,
    EvidenceKind.FINGERPRINT: Strength.ARCHITECTURE,
    EvidenceKind.WEIGHT_LOAD_OPS: Strength.LOADED,
    EvidenceKind.METADATA: Strength.RECORDED_BASE,
}


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence that a variable group is pretrained."""

    kind: EvidenceKind
    detail: str  # a fact with numbers, e.g. "fingerprint match: VGG19, include_top=False, 32/32 weights"
    strength: Strength | None = None  # None: the kind's default

    def __str__(self) -> str:
        return self.detail

    @property
    def level(self) -> Strength:
        return self.strength if self.strength is not None else _DEFAULT_STRENGTH[self.kind]


@dataclass(frozen=True)
class Rejection:
    """Something provenance considered and did not take as evidence, and why."""

    subject: str  # e.g. "`saved_model_counter`"
    reason: str  # e.g. "written by `AssignAdd`, not a weight load"

    def __str__(self) -> str:
        return f"{self.subject}: {self.reason}"


@dataclass(frozen=True)
class PretrainedGroup:
    """A set of variables that hold pretrained weights, e.g. one VGG19 instance."""

    scope: str  # common scope of the group (may be empty), e.g. "vgg19"
    label: str  # what it is, e.g. "VGG19" or "declared `vgg19/*`"
    variables: tuple[str, ...]
    params: int
    evidence: tuple[Evidence, ...]
    architecture: str | None = None  # the catalogue variant, e.g. "MobileNetV2 alpha=0.35"
    include_top: bool | None = None
    suffix: str = ""  # Keras uniquification suffix, e.g. "_4"
    # Catalogue weight (``layer/weight``) of each variable, for fingerprint groups: variable -> weight.
    catalog_weights: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    family: str = ""  # e.g. "MobileNetV2"

    def describe(self) -> str:
        """E.g. "`vgg19` (VGG19, include_top=False, 20,024,384 params) pretrained: fingerprint match"."""
        what = self.architecture or self.label
        top = f", include_top={self.include_top}" if self.include_top is not None else ""
        if self.scope:
            where = f"`{self.scope}/`"
        else:
            where = "root scope" if self.architecture else ""
        if self.suffix:
            where += f", layers `*{self.suffix}`"
        where += " " if where else ""
        kinds = ", ".join(dict.fromkeys(_KIND_LABELS[e.kind] for e in self.evidence))
        return f"{where}({what}{top}, {self.params:,} params) pretrained: {kinds}"

    @property
    def kinds(self) -> tuple[EvidenceKind, ...]:
        return tuple(dict.fromkeys(e.kind for e in self.evidence))

    @property
    def strength(self) -> Strength:
        """The strongest evidence's strength."""
        return max((e.level for e in self.evidence), default=Strength.ARCHITECTURE)

    def strength_note(self) -> str:
        """Why the finding has the severity it has, for the evidence list."""
        return _STRENGTH_NOTES[self.strength]

    def catalog_initializers(self) -> dict[str, dict[str, Any]]:
        """Variable -> the initializer the catalogue gives its weight (``{"class_name", "config"}``)."""
        if not self.architecture or not self.catalog_weights:
            return {}
        from graphaudit.catalog import load_catalog

        catalog = load_catalog()
        if self.architecture not in catalog.fingerprints:
            return {}
        out = {}
        for name, weight in self.catalog_weights.items():
            found = catalog.initializer(self.architecture, weight)
            if found is not None:
                out[name] = found
        return out


_KIND_LABELS = {
    EvidenceKind.DECLARED: "declared",
    EvidenceKind.WEIGHTS_FILE: "matches --weights",
    EvidenceKind.FINGERPRINT: "fingerprint match",
    EvidenceKind.WEIGHT_LOAD_OPS: "weight-loading ops",
    EvidenceKind.METADATA: "Keras record",
}

_STRENGTH_NOTES = {
    Strength.LOADED: "evidence strength: the values were loaded or declared pretrained",
    Strength.RECORDED_BASE: ("evidence strength: Keras recorded an application nested as a base model, "
                             "but not where its values came from"),
    Strength.ARCHITECTURE: ("evidence strength: architecture only; `weights=None` looks the same "
                            "(declare `pretrained` or `scratch` to settle it)"),
}


def matches_any(name: str, patterns: Sequence[str]) -> bool:
    """Glob match of a variable name (``vgg19/*``, ``block5_*``); a bare scope matches below it."""
    for pattern in patterns:
        if fnmatch.fnmatchcase(name, pattern) or name.startswith(pattern.rstrip("/*") + "/"):
            return True
    return False


@dataclass
class _Draft:
    """A pretrained group being gathered, before it is merged with the others."""

    variables: set[str]
    label: str
    evidence: list[Evidence] = field(default_factory=list)
    architecture: str | None = None
    include_top: bool | None = None
    suffix: str = ""
    scope: str | None = None
    catalog_weights: dict[str, str] = field(default_factory=dict)
    family: str = ""
    standalone: bool = True  # may become a group of its own when it overlaps none
    # One model by Keras' record: what it holds beyond the group it overlaps most joins that group.
    whole: bool = False


@dataclass(frozen=True)
class Provenance:
    """The pretrained groups, and what was considered and rejected on the way."""

    groups: tuple[PretrainedGroup, ...]
    rejected: tuple[Rejection, ...]


def pretrained_groups(artifact: Artifact, settings: Settings,
                      reference: "ReferenceWeights | None" = None,
                      roles: Mapping[str, Any] | None = None) -> list[PretrainedGroup]:
    """Combine every kind of evidence into groups; a variable belongs to at most one group."""
    return list(provenance(artifact, settings, reference, roles).groups)


def provenance(artifact: Artifact, settings: Settings, reference: "ReferenceWeights | None" = None,
               roles: Mapping[str, Any] | None = None, updates: Any = None,
               columns: VariableColumns | None = None) -> Provenance:
    """Groups with their evidence, strongest first, and the rejected candidates.

    ``reference`` is the ``--weights`` file, opened (see :func:`open_reference`); ``roles`` the
    variable roles (analysis/roles.py): only model variables make a group; ``columns`` the
    variables' columns (analysis/columns.py) when the caller shares them.
    """
    rejected: list[Rejection] = []
    variables = artifact.variables
    if roles is None:
        model = variables.keys()
    elif covers(roles, variables):
        model = model_variables(roles)
    else:  # a variable without a role counts as the model's
        model = {n for n in variables if n not in roles or roles[n].is_model}
    drafts: list[_Draft] = []
    # The model's variables, every one when all are (no need to ask), read as columns.
    drafts.extend(_fingerprint_drafts(columns_of(variables, columns), None if len(model) == len(variables) else model))
    if settings.pretrained:
        _attach(drafts, _declared([n for n in variables if n in model], settings.pretrained))
    if reference is not None:
        _attach(drafts, _weights_file(artifact, reference))
    _attach(drafts, _weight_loads(artifact, roles, rejected, updates))
    _attach(drafts, _metadata(artifact, rejected), model)
    return Provenance(tuple(_finish(d, artifact) for d in drafts if d.variables), tuple(rejected))


def _fingerprint_drafts(columns: VariableColumns, model: Container[str] | None = None) -> list[_Draft]:
    """A draft per architecture instance among the variables of ``columns`` (only those in
    ``model`` when given) whose shapes are known."""
    try:
        from graphaudit.catalog.matcher import ShapeColumns, match_architectures
    except ImportError:  # the catalogue is optional data; without it, other evidence still works
        return []
    out = []
    shapes = ShapeColumns(columns.names, columns.shapes, columns.leaves, model, columns.joined_names)
    for m in match_architectures(shapes):
        top = "include_top" if m.include_top else "no top"
        out.append(_Draft(
            variables=set(m.variables), label=m.architecture, architecture=m.architecture,
            include_top=m.include_top, suffix=m.suffix, scope=m.scope.rstrip("/"),
            catalog_weights=dict(zip(m.variables, m.catalog_weights)), family=m.family,
            evidence=[Evidence(EvidenceKind.FINGERPRINT,
                               f"fingerprint match: {m.architecture} ({top}), {len(m.variables)} weights, "
                               f"quality {m.quality:.0%}")],
        ))
    return out


def _declared(variables: Iterable[str], patterns: Sequence[str]) -> list[_Draft]:
    out = []
    for pattern in patterns:
        hit = {n for n in variables if matches_any(n, [pattern])}
        if hit:
            out.append(_Draft(variables=hit, label=f"declared `{pattern}`",
                              evidence=[Evidence(EvidenceKind.DECLARED,
                                                 f"declared pretrained by `{pattern}` ({len(hit)} variables)")]))
    return out


_LOAD_OPS = frozenset({"Assign", "AssignVariableOp"})
_FLOAT_TYPES = frozenset({"float16", "bfloat16", "float32", "float64", "half", "float", "double"})


def _weight_loads(artifact: Artifact, roles: Mapping[str, Any] | None, rejected: list[Rejection],
                  updates: Any = None) -> list[_Draft]:
    """Keras `load_weights` in a graph: `Assign`/`AssignVariableOp` from placeholders over a set of
    variables shaped like a model (float weights, at least one kernel of rank 2 or more).

    ``updates`` are the artifact's writes (analysis/updates.py, computed when not given); only
    writes in graphs count, not in function bodies.
    """
    if updates is None:
        from graphaudit.analysis.updates import analyse_updates

        updates = analyse_updates(artifact)
    loaded = set()
    feeds: dict[str, list[Any]] = {}
    for u in updates.select((UpdateKind.WEIGHT_LOAD,)):
        if u.graph in artifact.graphs and u.variable in artifact.variables:
            feeds.setdefault(u.variable, []).append(u)
    for name in sorted(feeds):
        fed, var = feeds[name], artifact.variables[name]
        plain = [u for u in fed if u.op in _LOAD_OPS]
        role = roles.get(name) if roles is not None else None
        if not plain:
            rejected.append(Rejection(f"`{name}`", f"written by `{fed[0].op}` from a placeholder, not a weight load"))
        elif role is not None and not role.is_model:
            rejected.append(Rejection(f"`{name}`", f"assigned from a placeholder, but it is a {role.role.value} "
                                                   f"({role.evidence}), not a weight"))
        elif var.dtype and var.dtype not in _FLOAT_TYPES:
            rejected.append(Rejection(f"`{name}`", f"assigned from a placeholder, but a {var.dtype} variable "
                                                   "is not a weight"))
        elif not var.shape:
            rejected.append(Rejection(f"`{name}`", "assigned from a placeholder, but a scalar is not a weight"))
        else:
            loaded.add(name)
    if loaded and (len(loaded) < 2 or not any(len(artifact.variables[n].shape or ()) >= 2 for n in loaded)):
        names = ", ".join(f"`{n}`" for n in sorted(loaded)[:3])
        rejected.append(Rejection(names, f"{len(loaded)} variable(s) assigned from placeholders, but no set of "
                                         "weights with a kernel: not a model's `load_weights`"))
        loaded = set()
    from_ckpt = {n for n, v in made_variables(artifact.variables)
                 if v.initializer and "checkpoint_initializer" in v.initializer}
    out = []
    if loaded:
        out.append(_Draft(variables=loaded, label="loaded weights",
                          evidence=[Evidence(EvidenceKind.WEIGHT_LOAD_OPS,
                                             f"{len(loaded)} variables assigned from placeholders "
                                             "(Keras `load_weights`)")]))
    if from_ckpt:
        out.append(_Draft(variables=from_ckpt, label="init_from_checkpoint",
                          evidence=[Evidence(EvidenceKind.WEIGHT_LOAD_OPS,
                                             f"{len(from_ckpt)} variables initialized from a checkpoint "
                                             "(`init_from_checkpoint`)")]))
    return out


def _attach(drafts: list[_Draft], extra: list[_Draft], model: set[str] | None = None) -> None:
    """Add evidence to the groups it overlaps; what overlaps none becomes a group of its own."""
    for e in extra:
        rest = set(e.variables)
        best: _Draft | None = None
        for d in drafts:
            common = d.variables & e.variables
            if common:
                d.evidence.extend(e.evidence)
                rest -= common
                if best is None or len(common) > len(best.variables & e.variables):
                    best = d
        if rest and e.whole and best is not None:
            owned = {v for d in drafts for v in d.variables}
            # Only model weights join: a Keras record's scope also holds the optimizer's slots.
            best.variables |= (rest - owned) & model if model is not None else rest - owned
            rest = set()
        if rest and e.standalone:
            drafts.append(_Draft(variables=rest, label=e.label, evidence=list(e.evidence)))


def _finish(d: _Draft, artifact: Artifact) -> PretrainedGroup:
    names = tuple(sorted(d.variables))
    params = sum(artifact.variables[n].size for n in names if n in artifact.variables)
    scope = d.scope if d.scope is not None else common_scope(names)
    return PretrainedGroup(scope=scope, label=d.label, variables=names, params=params,
                           evidence=tuple(sorted(d.evidence, key=lambda e: (-e.level, e.kind))),
                           architecture=d.architecture, include_top=d.include_top, suffix=d.suffix,
                           catalog_weights=dict(d.catalog_weights), family=d.family)


# ----------------------------------------------------------------------- --weights FILE (.h5)

_NUMBER_SUFFIX = re.compile(r"_\d+$")


@dataclass(frozen=True)
class ReferenceWeight:
    """One dataset of a reference weights file."""

    key: str  # ``layer/weight`` as the file names it, without ``:0``
    dataset: str  # HDF5 path of the dataset
    shape: tuple[int, ...]
    dtype: str


class ReferenceWeights:
    """A Keras ``.h5`` weights file (``save_weights`` or a whole-model ``.h5``), read statically.

    Only HDF5 attributes and datasets are read: the ``layer_names`` / ``weight_names`` attributes
    say where each weight is, datasets hold the values. Nothing in the file is executed, and a
    model config it may carry is never deserialized.
    """

    def __init__(self, path: str, weights: dict[str, ReferenceWeight]) -> None:
        self.path = path
        self.weights = weights  # key -> weight
        self._by_tail: dict[str, list[ReferenceWeight]] = {}
        for w in weights.values():
            self._by_tail.setdefault(_tail(w.key), []).append(w)
        self._file: Any = None

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    def lookup(self, variable: str, shape: Sequence[int] | None) -> ReferenceWeight | None:
        """The reference weight a variable matches: by its full name, else by ``layer/weight``,
        else with the layer's ``_N`` suffix removed; always with the same shape."""
        if shape is None:
            return None
        shape = tuple(shape)
        name = _strip_port(variable)
        found = self.weights.get(name)
        if found is not None and found.shape == shape:
            return found
        tail = _tail(name)
        layer, _, weight = tail.rpartition("/")
        for key in (tail, f"{_NUMBER_SUFFIX.sub('', layer)}/{weight}"):
            same = [w for w in self._by_tail.get(key, ()) if w.shape == shape]
            if len(same) == 1:
                return same[0]
        return None

    def chunks(self, weight: ReferenceWeight, rows: int) -> Iterator[np.ndarray]:
        """The dataset, ``rows`` leading-axis rows at a time (the whole value for scalars)."""
        ds = self._open()[weight.dataset]
        if not weight.shape:
            yield np.asarray(ds[()])
            return
        for start in range(0, weight.shape[0], max(1, rows)):
            yield np.asarray(ds[start:start + rows])

    def compare(self, weight: ReferenceWeight, values: Any) -> bool:
        """True when ``values`` equal the reference exactly (compared a slice at a time)."""
        values = np.asarray(values) if not isinstance(values, np.ndarray) else values
        if tuple(values.shape) != weight.shape:
            return False
        row = max(1, int(np.prod(weight.shape[1:], dtype=np.int64))) if weight.shape else 1
        rows = max(1, (1 << 20) // row)
        start = 0
        for ref in self.chunks(weight, rows):
            part = values[start:start + rows] if weight.shape else values
            if not np.array_equal(np.asarray(part, dtype=ref.dtype), ref):
                return False
            start += rows
        return True

    def _open(self):
        if self._file is None:
            import h5py

            self._file = h5py.File(self.path, "r")
        return self._file

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def reference_status(artifact: Artifact, reference: ReferenceWeights, names: Iterable[str],
                     verdicts: Mapping[str, Any]) -> dict[str, str]:
    """Each variable against the ``--weights`` file: "equals reference", "differs from reference
    (trained)", "initializer values" (differs, and its weight statistics say fresh init),
    "not in reference" or "no stored value". ``verdicts`` are weight_stats Verdicts by name."""
    out = {}
    for name in names:
        var = artifact.variables.get(name)
        weight = reference.lookup(name, var.shape if var else None)
        if weight is None:
            out[name] = "not in reference"
            continue
        try:
            values = artifact.value_of(name)
        except KeyError:
            values = None
        verdict = verdicts.get(name)
        if values is None:
            out[name] = "no stored value"
        elif reference.compare(weight, values):
            out[name] = "equals reference"
        elif verdict is not None and verdict.fresh:
            out[name] = "initializer values"
        else:
            out[name] = "differs from reference (trained)"
    return out


def _strip_port(name: str) -> str:
    head, sep, tail = name.rpartition(":")
    return head if sep and tail.isdigit() else name


def _tail(name: str) -> str:
    parts = name.split("/")
    return "/".join(parts[-2:])


def open_reference(path: str) -> ReferenceWeights:
    """Index a Keras ``.h5`` weights file. Raises ArtifactError naming the file if it is not one."""
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a dependency
        raise ArtifactError(path, "--weights needs h5py to read Keras .h5 files") from None
    if not os.path.isfile(path):
        raise ArtifactError(path, "--weights: no such file; expected a Keras .h5 weights file")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head != b"\x89HDF\r\n\x1a\n":
        found = "a zip archive (a Keras 3 `.keras` file?)" if head[:2] == b"PK" else "no HDF5 signature"
        raise ArtifactError(path, f"--weights: expected a Keras .h5 weights file (HDF5); found {found}")
    weights: dict[str, ReferenceWeight] = {}
    try:
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "model_weights" in f else f
            keras3 = "layer_names" not in root.attrs and _keras3_weights(f, weights)
            if not keras3 and "layer_names" not in root.attrs:
                raise ArtifactError(path, "--weights: expected Keras weights (a `layer_names` attribute, or "
                                          "Keras 3 `vars` groups); this HDF5 file has neither")
            for layer in [] if keras3 else _strings(root.attrs["layer_names"]):
                group = root.get(layer)
                if group is None or not hasattr(group, "attrs"):
                    continue
                for weight_name in _strings(group.attrs.get("weight_names", ())):
                    ds = group.get(weight_name)
                    if ds is None or not hasattr(ds, "shape"):
                        continue
                    key = _strip_port(weight_name)
                    weights.setdefault(key, ReferenceWeight(key, ds.name, tuple(int(d) for d in ds.shape),
                                                            str(ds.dtype)))
    except ArtifactError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise ArtifactError(path, f"--weights: cannot read this HDF5 file ({str(exc)[:120]})") from None
    if not weights:
        raise ArtifactError(path, "--weights: the file lists no weights")
    return ReferenceWeights(path, weights)


def _keras3_weights(f: Any, weights: dict[str, ReferenceWeight]) -> bool:
    """Index a Keras 3 weights file (`layers/<key>/vars/<i>`, each `vars` group naming its layer in
    a `name` attribute). Datasets carry indices, not names: they get `layer/kernel`, `layer/bias`
    only when their ranks say so without doubt (one matrix, then one vector), else `layer/<i>`,
    which matches nothing by name; so an unsure guess can only miss, never pair wrong values."""
    groups: list[Any] = []

    def visit(name: str, obj: Any) -> None:
        if name.replace("\\", "/").split("/")[-1] == "vars" and hasattr(obj, "keys") and "name" in obj.attrs:
            groups.append(obj)

    f.visititems(visit)
    for group in groups:
        layer = _strings([group.attrs["name"]])[0]
        keys = sorted((k for k in group.keys() if k.isdigit()), key=int)
        shapes = [tuple(int(d) for d in group[k].shape) for k in keys]
        names = [str(k) for k in keys]
        if len(shapes) in (1, 2) and len(shapes[0]) >= 2 and (len(shapes) == 1 or len(shapes[1]) == 1):
            names = ["kernel", "bias"][:len(shapes)]
        for k, weight, shape in zip(keys, names, shapes):
            key = f"{layer}/{weight}"
            weights.setdefault(key, ReferenceWeight(key, group[k].name, shape, str(group[k].dtype)))
    return bool(groups)


def _strings(values: Any) -> list[str]:
    out = []
    for v in np.asarray(values).reshape(-1):
        out.append(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v))
    return out


def _weights_file(artifact: Artifact, reference: ReferenceWeights) -> list[_Draft]:
    hit = {n for n, v in artifact.variables.items() if reference.lookup(n, v.shape) is not None}
    if not hit:
        return []
    return [_Draft(variables=hit, label=f"matches `{reference.name}`", evidence=[Evidence(
        EvidenceKind.WEIGHTS_FILE,
        f"{len(hit):,} variables match `{reference.name}` (--weights) by name and shape")])]


# --------------------------------------------------------------------------------- metadata

@functools.cache
def _application_names() -> tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]:
    """Model names Keras gives the catalogued applications (``vgg19``, ``mobilenetv2_0.35_224``),
    each with the variants that carry it."""
    try:
        from graphaudit.catalog import load_catalog
    except ImportError:  # pragma: no cover
        return ()
    names: dict[str, set[str]] = {}
    for fp in load_catalog().fingerprints.values():
        for variant in (fp.include_top, fp.no_top):
            # MobileNets put the input size in the name: any size matches.
            pattern = re.sub(r"_(\d+|None)$", r"_(\\d+|None)", re.escape(variant.name))
            names.setdefault(pattern, set()).add(fp.architecture)
    return tuple((re.compile(f"^{n}(_\\d+)?$", re.I), tuple(sorted(v))) for n, v in sorted(names.items()))


def _application(model: str) -> tuple[str, ...]:
    for pattern, variants in _application_names():
        if pattern.match(model):
            return variants
    return ()


def _record(model: str, variants: tuple[str, ...], nested: bool, where: str, hit: set[str]) -> _Draft:
    what = variants[0] if len(variants) == 1 else " or ".join(variants[:3]) + (" ..." if len(variants) > 3 else "")
    if nested:
        detail = (f"Keras record: {where} nests model `{model}` ({what}, a keras.applications model) as a base "
                  f"({len(hit):,} variables)")
        return _Draft(variables=hit, label=f"Keras model `{model}`", whole=True,
                      evidence=[Evidence(EvidenceKind.METADATA, detail)])
    detail = (f"Keras record: {where} names the whole model `{model}` ({what}); a model built by an application "
              "itself is as often trained from scratch")
    return _Draft(variables=hit, label=f"Keras model `{model}`", standalone=False, whole=True,
                  evidence=[Evidence(EvidenceKind.METADATA, detail, Strength.ARCHITECTURE)])


def _metadata(artifact: Artifact, rejected: list[Rejection]) -> list[_Draft]:
    """Models Keras recorded, named after a keras.applications model: `keras_metadata.pb` (tf_keras
    SavedModels), the `.h5` `model_config` and the `.keras` `config.json`."""
    out = []
    entries = artifact.keras_objects
    if entries:
        by_layer: dict[str, list[str]] = {}
        for name in artifact.variables:
            parts = _strip_port(name).split("/")
            if len(parts) >= 2:
                by_layer.setdefault(parts[-2], []).append(name)
        for obj in entries:
            if obj.identifier not in ("_tf_keras_network", "_tf_keras_model"):
                continue
            path, meta = obj.path, obj.data
            model = meta.get("name") if meta is not None else None
            if not isinstance(model, str):
                continue
            variants = _application(model)
            if not variants:
                continue
            layers = (meta.get("config") or {}).get("layers") or ()
            hit = set()
            for layer in layers:
                layer_name = (layer.get("config") or {}).get("name") or layer.get("name")
                hit.update(by_layer.get(layer_name, ()))
            if hit:
                out.append(_record(model, variants, path != "root", "`keras_metadata.pb`", hit))
    layers = artifact.keras.layers if artifact.keras is not None else ()
    if layers:
        where = "the `.keras` `config.json`" if artifact.format.value == "keras_v3" else "the `.h5` `model_config`"
        by_path: dict[str, set[str]] = {}
        for name, var in made_variables(artifact.variables):
            if var.keras_layer:
                by_path.setdefault(var.keras_layer, set()).add(name)
        for layer in layers:
            if layer.class_name not in ("Functional", "Model", "Sequential"):
                continue
            variants = _application(layer.name)
            if not variants:
                continue
            prefix = layer.qualified + "/"
            hit = {n for path, names in by_path.items() if path.startswith(prefix) for n in names}
            if hit:
                out.append(_record(layer.name, variants, len(layer.path) > 1, where, hit))
            else:
                rejected.append(Rejection(f"Keras model `{layer.name}`", "named like an application, but no "
                                                                         "variable is under it"))
    return out
