"""Initializer specs: what a variable's initializer draws, read from the graph, the Keras config or the catalogue."""

from __future__ import annotations

import math
import re
from dataclasses import field
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from graphaudit.records import dataclass

if TYPE_CHECKING:
    from graphaudit.artifact import Artifact, Graph, Variable

#: Keras truncates its truncated normal at two standard deviations; VarianceScaling divides
#: its stddev by the stddev of a standard normal truncated there.
TRUNCATION = 2.0
TRUNCATED_STDDEV = 0.87962566103423978

#: Constant kinds: all elements equal ``params["value"]``.
CONSTANT_KINDS = frozenset({"zeros", "ones", "constant"})
#: Random kinds after normalisation.
RANDOM_KINDS = frozenset({"uniform", "normal", "truncated_normal"})


@dataclass(frozen=True)
class InitSpec:
    """A concrete initializer of one variable, at its shape.

    ``kind`` is one of ``zeros``, ``ones``, ``constant`` (``value``), ``uniform`` (``low``,
    ``high``), ``normal`` and ``truncated_normal`` (``mean``, ``stddev``; truncated at two
    stddevs). ``label`` names it for people ("glorot uniform", "zeros"), ``source`` says where
    it was read ("graph", "keras config", "catalogue", "artifact").
    """

    kind: str
    params: Mapping[str, float] = field(default_factory=dict)
    label: str = ""
    source: str = ""

    def describe(self) -> str:
        """E.g. "uniform within the glorot limit (±0.0589)" or "exactly zero"."""
        p = self.params
        if self.kind == "zeros":
            return "exactly zero"
        if self.kind == "ones":
            return "exactly one"
        if self.kind == "constant":
            return f"exactly {p['value']:g}"
        family = self.label.split(" ")[0] if self.label in _FAMILY_LABELS else ""
        if self.kind == "uniform":
            low, high = p["low"], p["high"]
            if family and math.isclose(low, -high):
                return f"uniform within the {family} limit (±{high:.4g})"
            return f"uniform in [{low:.4g}, {high:.4g}]"
        if family:
            return f"{self.label} (truncated at 2 stddevs, stddev {p['stddev']:.4g})"
        name = "truncated normal" if self.kind == "truncated_normal" else "normal"
        return f"{name} (mean {p['mean']:.4g}, stddev {p['stddev']:.4g})"


def fans(shape: tuple[int, ...]) -> tuple[float, float]:
    """Keras' fan_in and fan_out for a weight of ``shape`` (conv: receptive field times channels)."""
    if len(shape) < 1:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    if len(shape) == 2:
        return float(shape[0]), float(shape[1])
    receptive = math.prod(shape[:-2])
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


def variance_scaling(shape: tuple[int, ...], scale: float, mode: str, distribution: str,
                     label: str, source: str) -> InitSpec | None:
    fan_in, fan_out = fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}.get(mode)
    if not n or scale <= 0:
        return None
    variance = scale / max(1.0, n)
    if distribution == "uniform":
        limit = math.sqrt(3.0 * variance)
        return InitSpec("uniform", {"low": -limit, "high": limit}, label, source)
    if distribution in ("truncated_normal", "normal"):
        stddev = math.sqrt(variance) / TRUNCATED_STDDEV
        return InitSpec("truncated_normal", {"mean": 0.0, "stddev": stddev}, label, source)
    if distribution == "untruncated_normal":
        return InitSpec("normal", {"mean": 0.0, "stddev": math.sqrt(variance)}, label, source)
    return None


_VARIANCE_FAMILIES = {
    # name: (scale, mode, distribution)
    "glorot_uniform": (1.0, "fan_avg", "uniform"),
    "glorot_normal": (1.0, "fan_avg", "truncated_normal"),
    "he_uniform": (2.0, "fan_in", "uniform"),
    "he_normal": (2.0, "fan_in", "truncated_normal"),
    "lecun_uniform": (1.0, "fan_in", "uniform"),
    "lecun_normal": (1.0, "fan_in", "truncated_normal"),
}
_FAMILY_LABELS = frozenset(name.replace("_", " ") for name in _VARIANCE_FAMILIES)
_ALIASES = {"xavier_uniform": "glorot_uniform", "xavier_normal": "glorot_normal",
            "zeros_initializer": "zeros", "ones_initializer": "ones", "zero": "zeros", "one": "ones",
            "random_uniform_initializer": "random_uniform", "random_normal_initializer": "random_normal",
            "truncated_normal_initializer": "truncated_normal", "constant_initializer": "constant"}


def snake(name: str) -> str:
    """``GlorotUniform`` -> ``glorot_uniform``; already-snake names are unchanged."""
    text = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    text = re.sub("([a-z0-9])([A-Z])", r"\1_\2", text).lower()
    return _ALIASES.get(text, text)


def spec_from_config(name: str, config: Mapping[str, Any] | None, shape: tuple[int, ...] | None,
                     source: str) -> InitSpec | None:
    """An InitSpec from a Keras initializer (class name or identifier, and its config) at ``shape``.

    Also accepts graphaudit's own kinds (``uniform`` with ``low``/``high``, ...). Returns None
    for initializers it cannot test (orthogonal, identity, unknown) or a shape it needs but lacks.
    """
    kind = snake(name)
    cfg = dict(config or {})
    if kind in ("zeros", "ones"):
        return InitSpec(kind, {"value": 0.0 if kind == "zeros" else 1.0}, kind, source)
    if kind == "constant":
        value = cfg.get("value", 0.0)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return None
        value = float(value)
        if value == 0.0:
            return InitSpec("zeros", {"value": 0.0}, "zeros", source)
        if value == 1.0:
            return InitSpec("ones", {"value": 1.0}, "ones", source)
        return InitSpec("constant", {"value": value}, "constant", source)
    if kind in ("uniform", "random_uniform"):
        low = float(cfg.get("low", cfg.get("minval", -0.05)))
        high = float(cfg.get("high", cfg.get("maxval", 0.05)))
        return InitSpec("uniform", {"low": low, "high": high}, "uniform" if kind == "uniform" else "random uniform",
                        source) if high > low else None
    if kind in ("normal", "random_normal", "truncated_normal"):
        mean = float(cfg.get("mean", 0.0))
        stddev = float(cfg.get("stddev", 0.05))
        out_kind = "truncated_normal" if kind == "truncated_normal" else "normal"
        label = {"normal": "normal", "random_normal": "random normal", "truncated_normal": "truncated normal"}[kind]
        return InitSpec(out_kind, {"mean": mean, "stddev": stddev}, label, source) if stddev > 0 else None
    if shape is None:
        return None
    if kind in _VARIANCE_FAMILIES:
        scale, mode, distribution = _VARIANCE_FAMILIES[kind]
        return variance_scaling(tuple(shape), scale, mode, distribution, kind.replace("_", " "), source)
    if kind == "variance_scaling":
        return variance_scaling(tuple(shape), float(cfg.get("scale", 1.0)), str(cfg.get("mode", "fan_in")),
                                str(cfg.get("distribution", "truncated_normal")), _family_of(cfg), source)
    return None


def _family_of(cfg: Mapping[str, Any]) -> str:
    """Name a VarianceScaling config after the family it equals, if any."""
    dist = str(cfg.get("distribution", "truncated_normal"))
    for name, (scale, mode, family_dist) in _VARIANCE_FAMILIES.items():
        same_dist = dist == family_dist or (family_dist == "truncated_normal" and dist == "normal")
        if float(cfg.get("scale", 1.0)) == scale and cfg.get("mode") == mode and same_dist:
            return name.replace("_", " ")
    return "variance scaling " + ("uniform" if dist == "uniform" else "normal")


def spec_from_variable(var: "Variable") -> InitSpec | None:
    """What a reader recorded on the Variable (``initializer_kind`` / ``initializer_params``)."""
    if not var.initializer_kind:
        return None
    params = dict(var.initializer_params or {})
    if snake(var.initializer_kind) == "variance_scaling" and not {"mode", "distribution"} <= set(params):
        return None  # without its mode and distribution the defaults would guess wrong: look elsewhere
    spec = spec_from_config(var.initializer_kind, params, var.shape, "artifact")
    return _named_by_shape(spec, var.shape)


def spec_from_graph(artifact: "Artifact", var: "Variable") -> InitSpec | None:
    """Read a TF1 initializer subgraph: ``<var>/Initializer/random_uniform`` and its min/max
    Consts, ``.../truncated_normal`` with mean/stddev, ``.../zeros``, ``.../ones``, ``.../Const``.

    ``init_from_checkpoint`` initializers (RestoreV2) and anything unrecognised give None.
    """
    if var.graph is None or var.initializer is None:
        return None
    graph = artifact.graphs.get(var.graph)
    if graph is None:
        return None
    i = graph.index.get(var.initializer)
    if i is None or len(graph.inputs[i]) < 2:
        return None
    src = graph.source(graph.inputs[i][1])
    return _named_by_shape(_spec_of_value(graph, src), var.shape)


def _spec_of_value(graph: "Graph", src: int) -> InitSpec | None:
    op = graph.ops[src]
    name = graph.names[src]
    if op == "Const":
        value = _const_scalar(graph, src)
        return None if value is None else spec_from_config("constant", {"value": value}, None, "graph")
    if op == "Fill" and len(graph.inputs[src]) >= 2:
        value = _const_scalar(graph, graph.source(graph.inputs[src][1]))
        return None if value is None else spec_from_config("constant", {"value": value}, None, "graph")
    base = name.rsplit("/", 1)[-1]
    base = re.sub(r"_\d+$", "", base)
    if base.startswith("stateless_"):
        base = base[len("stateless_"):]
    if base == "random_uniform":
        low, high = _child_const(graph, name, "min"), _child_const(graph, name, "max")
        if low is not None and high is not None and high > low:
            return InitSpec("uniform", {"low": low, "high": high}, "uniform", "graph")
    elif base in ("random_normal", "truncated_normal"):
        mean, stddev = _child_const(graph, name, "mean"), _child_const(graph, name, "stddev")
        if mean is not None and stddev is not None and stddev > 0:
            kind = "truncated_normal" if base == "truncated_normal" else "normal"
            return InitSpec(kind, {"mean": mean, "stddev": stddev}, kind.replace("_", " "), "graph")
    return None


def _child_const(graph: "Graph", parent: str, leaf: str) -> float | None:
    j = graph.index.get(f"{parent}/{leaf}")
    return None if j is None else _const_scalar(graph, j)


def _const_scalar(graph: "Graph", i: int) -> float | None:
    """The value of a Const that holds one repeated number, or None."""
    if graph.ops[i] != "Const":
        return None
    av = graph.attr(i, "value")
    if av is None:
        return None
    t = av.tensor
    for field_name in ("float_val", "double_val", "half_val", "int_val", "int64_val"):
        vals = getattr(t, field_name)
        if len(vals):
            if field_name == "half_val":
                vals = np.asarray(vals, dtype=np.uint16).view(np.float16)
            arr = np.asarray(vals, dtype=np.float64)
            return float(arr[0]) if np.all(arr == arr[0]) else None
    if t.tensor_content:
        from graphaudit.model.dtypes import numpy_dtype

        np_dtype = numpy_dtype(t.dtype)
        if np_dtype is None:
            return None
        arr = np.frombuffer(t.tensor_content, dtype=np_dtype)
        return float(arr[0]) if arr.size and np.all(arr == arr[0]) else None
    return None


def _named_by_shape(spec: InitSpec | None, shape: tuple[int, ...] | None) -> InitSpec | None:
    """Give a uniform/normal read from a graph the family name its parameters match, if any."""
    if spec is None or shape is None or spec.label not in ("uniform", "normal", "truncated normal"):
        return spec
    for family, (scale, mode, dist) in _VARIANCE_FAMILIES.items():
        if (dist == "uniform") != (spec.kind == "uniform") or (spec.kind == "normal"):
            continue
        ref = variance_scaling(tuple(shape), scale, mode, dist, family, spec.source)
        if ref is None:
            continue
        if spec.kind == "uniform":
            same = math.isclose(spec.params["high"], ref.params["high"], rel_tol=1e-4) and math.isclose(
                spec.params["low"], ref.params["low"], rel_tol=1e-4)
        else:
            same = spec.params["mean"] == 0.0 and math.isclose(spec.params["stddev"], ref.params["stddev"],
                                                                rel_tol=1e-4)
        if same:
            return InitSpec(spec.kind, dict(spec.params), family.replace("_", " "), spec.source)
    return spec


# ----------------------------------------------------------------- where initializers come from

def keras_config_initializers(artifact: "Artifact") -> dict[str, dict[str, Any]]:
    """``layer/weight`` -> ``{"class_name", "config"}`` from the Keras layer configs an artifact carries
    (``keras_metadata.pb`` of a tf_keras SavedModel). Cheap: only layer entries are parsed."""
    out: dict[str, dict[str, Any]] = {}
    for obj in artifact.keras_objects:
        if obj.identifier != "_tf_keras_layer":
            continue
        meta = obj.data
        if meta is None:
            continue
        config = meta.get("config") or {}
        layer = config.get("name") or meta.get("name")
        if not isinstance(layer, str):
            continue
        for key, value in config.items():
            if not key.endswith("_initializer") or value is None:
                continue
            weight = key[: -len("_initializer")]
            if isinstance(value, str):
                value = {"class_name": value, "config": {}}
            if not isinstance(value, dict) or "class_name" not in value:
                continue
            spec = {"class_name": value["class_name"], "config": dict(value.get("config") or {})}
            out[f"{layer}/{weight}"] = spec
            if weight in ("depthwise", "pointwise"):
                out[f"{layer}/{weight}_kernel"] = spec
    return out


_WEIGHT_OF = re.compile(r"(?:^|/)([^/]+)/([^/:]+)(?::\d+)?$")


def resolve_initializers(artifact: "Artifact", names: Any, catalogue: Mapping[str, dict[str, Any]] | None = None
                         ) -> dict[str, InitSpec | None]:
    """The initializer of each variable in ``names``: what the artifact records on the Variable,
    else its graph's initializer subgraph, else the Keras config, else the catalogue's.

    ``catalogue`` maps variable names to ``{"class_name", "config"}`` (from a fingerprint match).
    """
    keras = None
    out: dict[str, InitSpec | None] = {}
    for name in names:
        var = artifact.variables.get(name)
        if var is None:
            out[name] = None
            continue
        spec = spec_from_variable(var) or spec_from_graph(artifact, var)
        if spec is None:
            if keras is None:
                keras = keras_config_initializers(artifact)
            m = _WEIGHT_OF.search(name)
            found = keras.get(f"{m.group(1)}/{m.group(2)}") if m and keras else None
            if found is not None:
                spec = spec_from_config(found["class_name"], found["config"], var.shape, "keras config")
        if spec is None and catalogue and name in catalogue:
            found = catalogue[name]
            spec = spec_from_config(found["class_name"], found["config"], var.shape, "catalogue")
        out[name] = _named_by_shape(spec, var.shape)
    return out
