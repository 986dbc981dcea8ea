"""Which variable groups are pretrained, and the evidence for each, strongest first."""

from __future__ import annotations

import enum
import fnmatch
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from graphaudit.artifact import Artifact, UpdateKind
from graphaudit.config import Settings
from graphaudit.errors import ArtifactError
from graphaudit.names import common_scope


class EvidenceKind(enum.IntEnum):
    """Kinds of evidence, in the order of strength ARCHITECTURE.md gives (lower is stronger)."""

    DECLARED = 1  # `pretrained = [...]` in config, or --pretrained
    WEIGHTS_FILE = 2  # matches a reference weights file given with --weights
    FINGERPRINT = 3  # a known keras.applications architecture, by layer names and shapes
    WEIGHT_LOAD_OPS = 4  # Keras load_weights assigns, a restricted Saver, init_from_checkpoint
    METADATA = 5  # Keras metadata: a nested Functional named after an application, a hub scope


@dataclass(frozen=True)
class Evidence:
    kind: EvidenceKind
    detail: str  # a fact with numbers, e.g. "fingerprint match: VGG19, include_top=False, 32/32 weights"

    def __str__(self) -> str:
        return self.detail


@dataclass(frozen=True)
class PretrainedGroup:
    """A set of variables that hold pretrained weights, e.g. one VGG19 instance."""

    scope: str  # common scope of the group (may be empty), e.g. "vgg19"
    label: str  # what it is, e.g. "VGG19" or "declared `vgg19/*`"
    variables: tuple[str, ...]
    params: int
    evidence: tuple[Evidence, ...]
    architecture: str | None = None
    include_top: bool | None = None
    suffix: str = ""  # Keras uniquification suffix, e.g. "_4"
    # Catalogue weight (``layer/weight``) of each variable, for fingerprint groups: variable -> weight.
    catalog_weights: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

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

    def catalog_initializers(self) -> dict[str, dict[str, Any]]:
        """Variable -> the initializer the catalogue gives its weight (``{"class_name", "config"}``)."""
        if not self.architecture or not self.catalog_weights:
            return {}
        from graphaudit.catalog import load_catalog

        catalog = load_catalog()
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
    EvidenceKind.METADATA: "metadata",
}


def matches_any(name: str, patterns: Sequence[str]) -> bool:
    """Glob match of a variable name (``vgg19/*``, ``block5_*``); a bare scope matches below it."""
    for pattern in patterns:
        if fnmatch.fnmatchcase(name, pattern) or name.startswith(pattern.rstrip("/*") + "/"):
            return True
    return False


@dataclass
class _Draft:
    variables: set[str]
    label: str
    evidence: list[Evidence] = field(default_factory=list)
    architecture: str | None = None
    include_top: bool | None = None
    suffix: str = ""
    scope: str | None = None
    catalog_weights: dict[str, str] = field(default_factory=dict)


def pretrained_groups(artifact: Artifact, settings: Settings,
                      reference: "ReferenceWeights | None" = None) -> list[PretrainedGroup]:
    """Combine every kind of evidence into groups; a variable belongs to at most one group.

    ``reference`` is the ``--weights`` file, opened (see :func:`open_reference`).
    """
    shapes = {n: v.shape for n, v in artifact.variables.items() if v.shape is not None}
    drafts: list[_Draft] = []
    drafts.extend(_fingerprint_drafts(shapes))
    _attach(drafts, _declared(artifact.variables, settings.pretrained))
    if reference is not None:
        _attach(drafts, _weights_file(artifact, reference))
    _attach(drafts, _weight_loads(artifact))
    _attach(drafts, _metadata(artifact))
    return [_finish(d, artifact) for d in drafts if d.variables]


def _fingerprint_drafts(shapes: Mapping[str, tuple[int, ...]]) -> list[_Draft]:
    try:
        from graphaudit.catalog.matcher import match_architectures
    except ImportError:  # the catalogue is optional data; without it, other evidence still works
        return []
    out = []
    for m in match_architectures(shapes):
        top = "include_top" if m.include_top else "no top"
        out.append(_Draft(
            variables=set(m.variables), label=m.architecture, architecture=m.architecture,
            include_top=m.include_top, suffix=m.suffix, scope=m.scope.rstrip("/"),
            catalog_weights=dict(zip(m.variables, m.catalog_weights)),
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


def _weight_loads(artifact: Artifact) -> list[_Draft]:
    loaded = {n for n, v in artifact.variables.items()
              if any(u.kind is UpdateKind.WEIGHT_LOAD for u in v.update_ops)}
    from_ckpt = {n for n, v in artifact.variables.items()
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


def _attach(drafts: list[_Draft], extra: list[_Draft]) -> None:
    """Add evidence to the groups it overlaps; what overlaps none becomes a group of its own."""
    for e in extra:
        rest = set(e.variables)
        for d in drafts:
            common = d.variables & e.variables
            if common:
                d.evidence.extend(e.evidence)
                rest -= common
        if rest:
            drafts.append(_Draft(variables=rest, label=e.label, evidence=list(e.evidence)))


def _finish(d: _Draft, artifact: Artifact) -> PretrainedGroup:
    names = tuple(sorted(d.variables))
    params = sum(artifact.variables[n].size for n in names if n in artifact.variables)
    scope = d.scope if d.scope is not None else common_scope(names)
    return PretrainedGroup(scope=scope, label=d.label, variables=names, params=params,
                           evidence=tuple(sorted(d.evidence, key=lambda e: e.kind)),
                           architecture=d.architecture, include_top=d.include_top, suffix=d.suffix,
                           catalog_weights=dict(d.catalog_weights))


# ----------------------------------------------------------------------- --weights FILE (.h5)

_NUMBER_SUFFIX = re.compile(r"_\d+$")


@dataclass(frozen=True)
class ReferenceWeight:
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
                raise ArtifactError(path, "--weights: expected Keras weights (a `layer_names` attribute, or Keras 3 `vars` groups); "
                                          "this HDF5 file has none")
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

def _application_names() -> list[re.Pattern[str]]:
    """Default model names of the catalogued applications (``vgg19``, ``mobilenetv2_1.00_224``)."""
    try:
        from graphaudit.catalog import load_catalog
    except ImportError:  # pragma: no cover
        return []
    names = set()
    for fp in load_catalog().fingerprints.values():
        for variant in (fp.include_top, fp.no_top):
            # MobileNets put the input size in the name: any size matches.
            names.add(re.sub(r"_(\d+|None)$", r"_(\\d+|None)", re.escape(variant.name)))
    return [re.compile(f"^{n}(_\\d+)?$") for n in sorted(names)]


def _metadata(artifact: Artifact) -> list[_Draft]:
    """Nested Keras models named after a keras.applications model (tf_keras SavedModel metadata)."""
    entries = artifact.metadata.get("keras_metadata") or ()
    if not entries:
        return []
    patterns = _application_names()
    by_layer: dict[str, list[str]] = {}
    for name in artifact.variables:
        parts = _strip_port(name).split("/")
        if len(parts) >= 2:
            by_layer.setdefault(parts[-2], []).append(name)
    out = []
    for path, identifier, raw in entries:
        if identifier not in ("_tf_keras_network", "_tf_keras_model") or path == "root":
            continue
        try:
            meta = json.loads(raw)
        except (ValueError, TypeError):
            continue
        model = meta.get("name")
        if not isinstance(model, str) or not any(p.match(model) for p in patterns):
            continue
        layers = (meta.get("config") or {}).get("layers") or ()
        hit = set()
        for layer in layers:
            layer_name = (layer.get("config") or {}).get("name") or layer.get("name")
            hit.update(by_layer.get(layer_name, ()))
        if hit:
            out.append(_Draft(variables=hit, label=f"Keras model `{model}`", evidence=[Evidence(
                EvidenceKind.METADATA,
                f"Keras metadata: nested model `{model}` is named like a keras.applications model "
                f"({len(hit):,} variables)")]))
    return out
