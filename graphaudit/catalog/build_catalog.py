"""Build ``fingerprints.json.gz`` from the tf_keras.applications architectures themselves."""

from __future__ import annotations

import argparse
import gzip
import io
import json
import math
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT_VERSION = 3


@dataclass(frozen=True)
class VariantSpec:
    """One concrete build: a family's application called with some width/depth parameters."""

    family: str  # "MobileNetV2", "EfficientNet", "ResNet"
    name: str  # what the matcher reports: "MobileNetV2 alpha=0.35", "EfficientNetB3"
    application: str  # the tf_keras.applications function
    kwargs: dict[str, Any] = field(default_factory=dict)


def _variants() -> tuple[VariantSpec, ...]:
    out: list[VariantSpec] = []
    # Every width Keras offers pretrained weights for; weights=None takes others, which then
    # match no variant (see the matcher's notes).
    for alpha in (0.25, 0.5, 0.75, 1.0):
        out.append(VariantSpec("MobileNet", f"MobileNet alpha={alpha}", "MobileNet", {"alpha": alpha}))
    for alpha in (0.35, 0.5, 0.75, 1.0, 1.3, 1.4):
        out.append(VariantSpec("MobileNetV2", f"MobileNetV2 alpha={alpha}", "MobileNetV2", {"alpha": alpha}))
    for size in ("Small", "Large"):
        for alpha in (0.75, 1.0):
            for minimalistic in (False, True):
                label = f"MobileNetV3{size} alpha={alpha}" + (" minimalistic" if minimalistic else "")
                out.append(VariantSpec(f"MobileNetV3{size}", label, f"MobileNetV3{size}",
                                       {"alpha": alpha, "minimalistic": minimalistic}))
    out += [VariantSpec("EfficientNet", f"EfficientNetB{i}", f"EfficientNetB{i}") for i in range(8)]
    out += [VariantSpec("EfficientNetV2", f"EfficientNetV2{s}", f"EfficientNetV2{s}")
            for s in ("B0", "B1", "B2", "B3", "S", "M", "L")]
    out += [VariantSpec("ResNet", f"ResNet{d}", f"ResNet{d}") for d in (50, 101, 152)]
    out += [VariantSpec("ResNetV2", f"ResNet{d}V2", f"ResNet{d}V2") for d in (50, 101, 152)]
    out += [VariantSpec("DenseNet", f"DenseNet{d}", f"DenseNet{d}") for d in (121, 169, 201)]
    out += [VariantSpec("VGG", f"VGG{d}", f"VGG{d}") for d in (16, 19)]
    out += [VariantSpec(n, n, n) for n in ("InceptionV3", "InceptionResNetV2", "Xception")]
    out += [VariantSpec("NASNet", f"NASNet{s}", f"NASNet{s}") for s in ("Mobile", "Large")]
    out += [VariantSpec("ConvNeXt", f"ConvNeXt{s}", f"ConvNeXt{s}") for s in ("Tiny", "Small", "Base", "Large", "XLarge")]
    for kind in ("X", "Y"):
        for flops in ("002", "004", "006", "008", "016", "032", "040", "064", "080", "120", "160", "320"):
            out.append(VariantSpec(f"RegNet{kind}", f"RegNet{kind}{flops}", f"RegNet{kind}{flops}"))
    return tuple(out)


PLANNED: tuple[VariantSpec, ...] = _variants()
# The variants in the committed catalogue: every planned one. `--all` stays for a variant
# added to PLANNED before its (slow: one to three minutes each) build is committed.
COMMITTED: frozenset[str] = frozenset((
    'MobileNet alpha=0.25',
    'MobileNet alpha=0.5',
    'MobileNet alpha=0.75',
    'MobileNet alpha=1.0',
    'MobileNetV2 alpha=0.35',
    'MobileNetV2 alpha=0.5',
    'MobileNetV2 alpha=0.75',
    'MobileNetV2 alpha=1.0',
    'MobileNetV2 alpha=1.3',
    'MobileNetV2 alpha=1.4',
    'MobileNetV3Small alpha=0.75',
    'MobileNetV3Small alpha=0.75 minimalistic',
    'MobileNetV3Small alpha=1.0',
    'MobileNetV3Small alpha=1.0 minimalistic',
    'MobileNetV3Large alpha=0.75',
    'MobileNetV3Large alpha=0.75 minimalistic',
    'MobileNetV3Large alpha=1.0',
    'MobileNetV3Large alpha=1.0 minimalistic',
    'EfficientNetB0',
    'EfficientNetB1',
    'EfficientNetB2',
    'EfficientNetB3',
    'EfficientNetB4',
    'EfficientNetB5',
    'EfficientNetB6',
    'EfficientNetB7',
    'EfficientNetV2B0',
    'EfficientNetV2B1',
    'EfficientNetV2B2',
    'EfficientNetV2B3',
    'EfficientNetV2S',
    'EfficientNetV2M',
    'EfficientNetV2L',
    'ResNet50',
    'ResNet101',
    'ResNet152',
    'ResNet50V2',
    'ResNet101V2',
    'ResNet152V2',
    'DenseNet121',
    'DenseNet169',
    'DenseNet201',
    'VGG16',
    'VGG19',
    'InceptionV3',
    'InceptionResNetV2',
    'Xception',
    'NASNetMobile',
    'NASNetLarge',
    'ConvNeXtTiny',
    'ConvNeXtSmall',
    'ConvNeXtBase',
    'ConvNeXtLarge',
    'ConvNeXtXLarge',
    'RegNetX002',
    'RegNetX004',
    'RegNetX006',
    'RegNetX008',
    'RegNetX016',
    'RegNetX032',
    'RegNetX040',
    'RegNetX064',
    'RegNetX080',
    'RegNetX120',
    'RegNetX160',
    'RegNetX320',
    'RegNetY002',
    'RegNetY004',
    'RegNetY006',
    'RegNetY008',
    'RegNetY016',
    'RegNetY032',
    'RegNetY040',
    'RegNetY064',
    'RegNetY080',
    'RegNetY120',
    'RegNetY160',
    'RegNetY320',
))
VARIANTS: tuple[VariantSpec, ...] = tuple(v for v in PLANNED if v.name in COMMITTED)
ARCHITECTURES: tuple[str, ...] = tuple(v.name for v in VARIANTS)

# A second include_top build at a larger input tells which weight dims follow the input size
# (only a Dense after a Flatten does). Graph mode allocates nothing, so size is free.
_SECOND_INPUT_GROWTH = 32

# Weights whose initializer tf_keras hard-codes in the layer's build() instead of its config.
_CODE_INITIALIZERS: dict[tuple[str, str], dict[str, Any]] = {
    ("Normalization", "mean"): {"class_name": "Zeros", "config": {}},
    ("Normalization", "variance"): {"class_name": "Ones", "config": {}},
    ("Normalization", "count"): {"class_name": "Zeros", "config": {}},
}

DEFAULT_OUTPUT = Path(__file__).with_name("fingerprints.json.gz")


def layers_path(output: Path) -> Path:
    """Where the layer table of the catalogue at ``output`` goes: beside it, ``layers.json.gz``."""
    return output.with_name("layers.json.gz")


def snake_case(class_name: str) -> str:
    """The prefix Keras gives an unnamed layer of this class (``Conv2D`` -> ``conv2d``)."""
    # Same two substitutions as tf_keras' generic_utils.to_snake_case, which is private API.
    intermediate = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", intermediate).lower()


def initializer_key(spec: dict[str, Any]) -> str:
    """A short, stable, readable key for an initializer, e.g. ``VarianceScaling(mode=fan_out,...)``."""
    params = ",".join(
        f"{name}={value}" for name, value in sorted(spec["config"].items()) if value is not None
    )
    return f"{spec['class_name']}({params})" if params else spec["class_name"]


def _initializer_spec(layer_class: str, layer_config: dict[str, Any], weight: str) -> dict[str, Any] | None:
    """The initializer of one weight, from the layer config, as ``{"class_name", "config"}``."""
    candidates = [f"{weight}_initializer"]
    if weight.endswith("_kernel"):
        # depthwise_kernel -> depthwise_initializer, pointwise_kernel -> pointwise_initializer
        candidates.append(f"{weight[: -len('_kernel')]}_initializer")
    for key in candidates:
        value = layer_config.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            return {"class_name": value, "config": {}}
        return {"class_name": value["class_name"], "config": dict(value.get("config") or {})}
    return _CODE_INITIALIZERS.get((layer_class, weight))


def _weights_of(model: Any) -> list[dict[str, Any]]:
    """One row per weight, in Keras model order."""
    rows = []
    for layer in model.layers:
        if not layer.weights:
            continue
        layer_class = type(layer).__name__
        config = layer.get_config()
        auto = re.fullmatch(rf"{re.escape(snake_case(layer_class))}(?:_\d+)?", layer.name) is not None
        for variable in layer.weights:
            full = variable.name.split(":")[0]
            # NASNet builds some layers inside a name scope (`reduction_A_block_stem_1/...`): the
            # scope is part of the layer's path in every graph, so it stays in the layer name.
            at = full.rfind(layer.name + "/")
            if at < 0 or (at and full[at - 1] != "/"):
                raise RuntimeError(f"weight `{variable.name}` is not under its layer `{layer.name}`")
            weight = full[at + len(layer.name) + 1 :]
            row: dict[str, Any] = {
                "class": layer_class,
                "layer": full[: at + len(layer.name)],
                "shape": [int(d) for d in variable.shape],
                "weight": weight,
                "spec": _initializer_spec(layer_class, config, weight),
                "auto": auto,
                "trainable": bool(variable.trainable),
                "dtype": variable.dtype.base_dtype.name,
            }
            rows.append(row)
    return rows


def _build(tf: Any, application: Any, **kwargs: Any) -> dict[str, Any]:
    # A fresh graph per build: names restart at conv2d, batch_normalization, ... (Keras keeps one
    # name counter per graph), and graph-mode variables are declared, never initialized.
    with tf.Graph().as_default():
        model = application(weights=None, **kwargs)
        flatten = any(type(layer).__name__ == "Flatten" for layer in model.layers)
        return {"name": model.name, "input_shape": [None if d is None else int(d) for d in model.input_shape[1:]],
                "params": int(model.count_params()), "rows": _weights_of(model), "flatten": flatten}


def _cached(cache: Path | None, key: str, make: Any) -> dict[str, Any]:
    """A raw build, from ``cache`` when it holds one: builds of the big models take a minute each."""
    if cache is None:
        return make()
    path = cache / (re.sub(r"[^A-Za-z0-9_.=-]", "_", key) + ".json")
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    built = make()
    _write_atomically(path, json.dumps(built, sort_keys=True))
    return built


def raw_builds(variants: Iterable[VariantSpec], cache: Path | None = None) -> dict[str, dict[str, Any]]:
    """Per variant: its include_top build (+ a bigger one where a Flatten makes dims follow the
    input), and per family one include_top=False build that tells which layers are the top."""
    import tensorflow as tf
    import tf_keras

    apps = tf_keras.applications
    out: dict[str, dict[str, Any]] = {}
    seen_families: set[str] = set()
    for v in variants:
        application = getattr(apps, v.application)
        top = _cached(cache, f"{v.name}|top", lambda: _build(tf, application, include_top=True, **v.kwargs))
        entry = {"top": top}
        if v.family not in seen_families:
            seen_families.add(v.family)
            entry["no_top"] = _cached(cache, f"{v.name}|no_top",
                                      lambda: _build(tf, application, include_top=False, **v.kwargs))
            shape = top["input_shape"]
            if not _is_top_minus_head(top, entry["no_top"]) and None not in shape:
                # Layers that follow the input size (NASNet's adjust blocks take a reduction
                # path where two inputs differ in size, a projection where the size is unknown):
                # the no-top model at the top's input size is the one to compare with.
                entry["no_top"] = _cached(cache, f"{v.name}|no_top|{'x'.join(map(str, shape))}", lambda: _build(
                    tf, application, include_top=False, input_shape=tuple(shape), **v.kwargs))
        if top["flatten"] and None not in top["input_shape"]:  # a model of any input size has no size-bound weight
            bigger = (top["input_shape"][0] + _SECOND_INPUT_GROWTH, top["input_shape"][1] + _SECOND_INPUT_GROWTH,
                      top["input_shape"][2])
            entry["big"] = _cached(cache, f"{v.name}|big", lambda: _build(
                tf, application, include_top=True, input_shape=bigger, **v.kwargs))
        out[v.name] = entry
    return out


def _row_key(row: dict[str, Any]) -> tuple[str, str]:
    return row["layer"], row["weight"]


def _normal(row: dict[str, Any]) -> dict[str, Any]:
    """A row whose weight is one name: a nested model's `stem_conv/kernel` moves into the layer path,
    which is how the variable's own name reads (`convnext_tiny_stem/convnext_tiny_stem_conv/kernel`)."""
    layer, _, weight = f"{row['layer']}/{row['weight']}".rpartition("/")
    return {**row, "layer": layer, "weight": weight}


def _variant_rows(v: VariantSpec, entry: dict[str, Any], top_count: int) -> tuple[list[dict], dict]:
    """The variant's weight rows (``top``, ``free`` marked) and its summary."""
    rows = [_normal(r) for r in entry["top"]["rows"]]
    big = entry.get("big")
    if big is not None:
        if [_row_key(_normal(r)) for r in big["rows"]] != [_row_key(r) for r in rows]:
            raise RuntimeError(f"{v.name}: weight names change with the input size")
        for row, other in zip(rows, big["rows"]):
            row["free"] = [i for i, (a, b) in enumerate(zip(row["shape"], other["shape"])) if a != b]
    for k, row in enumerate(rows):
        row["top"] = k >= len(rows) - top_count
        if row.get("free") and (row["auto"] or not row["top"]):
            raise RuntimeError(f"{v.name}: an input-size dependent weight outside the top")
    params_top = sum(math.prod(r["shape"]) for r in rows)
    params_base = sum(math.prod(r["shape"]) for r in rows if not r["top"])
    if params_top != entry["top"]["params"]:
        raise RuntimeError(f"{v.name}: weights hold {params_top} params, Keras counts {entry['top']['params']}")
    summary = {
        "family": v.family,
        "input_shape": entry["top"]["input_shape"],
        "name": entry["top"]["name"],
        "params": {"include_top": params_top, "no_top": params_base},
        "weights": {"include_top": len(rows), "no_top": sum(1 for r in rows if not r["top"])},
    }
    if v.kwargs:
        summary["parameters"] = dict(v.kwargs)
    return rows, summary


def _is_top_minus_head(top: dict[str, Any], no_top: dict[str, Any]) -> bool:
    try:
        _top_count({"top": top, "no_top": no_top}, "")
    except RuntimeError:
        return False
    return True


def _top_count(family_entry: dict[str, Any], name: str) -> int:
    """How many weights the top adds, from the family's include_top=False build: always the last
    ones (ConvNeXt and RegNet prefix them with the variant's name, so names would not carry over)."""
    top_rows = [_normal(r) for r in family_entry["top"]["rows"]]
    base_rows = [_normal(r) for r in family_entry["no_top"]["rows"]]
    top_keys = [_row_key(r) for r in top_rows]
    # Weights only the no-top model has (ConvNeXt ends it in an unnamed LayerNormalization that
    # the top names `head_layernorm`) are not catalogued: an instance without them still matches.
    base_keys = [_row_key(r) for r in base_rows if _row_key(r) in set(top_keys)]
    count = len(top_keys) - len(base_keys)
    if top_keys[: len(base_keys)] != base_keys:
        raise RuntimeError(f"{name}: include_top=False is not include_top=True minus its last weights")
    return count


def assemble(raw: dict[str, dict[str, Any]], variants: Iterable[VariantSpec], tf_keras_version: str) -> dict[str, Any]:
    """The catalogue document: per family one layer template, per variant its values.

    A family's template is the union of its variants' weights, in model order. A weight dim
    is a literal when it is the same in every variant that has the weight (kernel sizes), and
    else a symbol whose value each variant gives (channel counts, which follow the width).
    """
    variants = list(variants)
    by_family: dict[str, list[VariantSpec]] = {}
    for v in variants:
        by_family.setdefault(v.family, []).append(v)
    initializers: dict[str, Any] = {}
    families: dict[str, Any] = {}
    for family, members in sorted(by_family.items()):
        reference = next(raw[v.name] for v in members if "no_top" in raw[v.name])
        top_count = _top_count(reference, family)
        per_variant = {v.name: _variant_rows(v, raw[v.name], top_count) for v in members}
        # The template: deepest variant first, then what the others add, in their order.
        template: list[tuple[str, str]] = []
        position: dict[tuple[str, str], int] = {}
        meta: dict[tuple[str, str], dict[str, Any]] = {}
        for v in sorted(members, key=lambda m: -len(per_variant[m.name][0])):
            for row in per_variant[v.name][0]:
                key = _row_key(row)
                if key not in position:
                    position[key] = len(template)
                    template.append(key)
                    meta[key] = row
                elif (meta[key]["class"], len(meta[key]["shape"]), meta[key]["top"]) != \
                        (row["class"], len(row["shape"]), row["top"]):
                    raise RuntimeError(f"{family}: `{key[0]}/{key[1]}` is a different layer in {v.name}")
        names = [v.name for v in members]
        # Value of each dim in each variant (None where the variant lacks the weight).
        symbols: dict[tuple[Any, ...], int] = {}
        layers_out = []
        by_key = {v: {_row_key(r): r for r in per_variant[v][0]} for v in names}
        for key in template:
            row = meta[key]
            dims = []
            for d in range(len(row["shape"])):
                values = tuple(by_key[v][key]["shape"][d] if key in by_key[v] else None for v in names)
                present = {x for x in values if x is not None}
                if any(d in (by_key[v][key].get("free") or ()) for v in names if key in by_key[v]):
                    dims.append(None)
                elif len(present) == 1:
                    dims.append(present.pop())
                else:
                    dims.append(-1 - symbols.setdefault(values, len(symbols)))
            inits = {by_key[v][key]["spec"] and initializer_key(by_key[v][key]["spec"]) for v in names if key in by_key[v]}
            if len(inits) != 1:
                raise RuntimeError(f"{family}: `{key[0]}/{key[1]}` has different initializers across variants")
            spec = next(by_key[v][key]["spec"] for v in names if key in by_key[v])
            if spec is not None:
                initializers[initializer_key(spec)] = spec
            init = inits.pop()
            flags = "".join(flag for flag, on in (("a", row["auto"]), ("t", row["top"]),
                                                  ("f", not row["trainable"])) if on)
            fields = [key[0], key[1], row["class"], ",".join("" if d is None else str(d) for d in dims),
                      init or "", flags, "" if row["dtype"] == "float32" else row["dtype"]]
            if any("\t" in f or "\n" in f for f in fields):
                raise RuntimeError(f"{family}: `{key[0]}/{key[1]}` has a tab or newline in a field")
            layers_out.append("\t".join(fields).rstrip("\t"))
        variants_out = {}
        for i, v in enumerate(names):
            rows, summary = per_variant[v]
            # In the variant's own order: RegNets prefix every layer with the model name, so only
            # shared top layers sit elsewhere in the template.
            present = [position[_row_key(r)] for r in rows]
            summary["present"] = _ranges(present)
            summary["values"] = [values[i] or 0 for values in symbols]
            variants_out[v] = summary
        # One string per family: parsing a few long strings is three times faster than parsing
        # a list per weight, and a family's rows are only split when the matcher needs them.
        families[family] = {"weights": "\n".join(layers_out), "variants": variants_out}
    return {
        "families": families,
        "format": FORMAT_VERSION,
        "generator": {"command": "python -m graphaudit.catalog.build_catalog", "tf_keras": tf_keras_version},
        "initializers": initializers,
        "notes": [
            "per family: weights, one line each, tab-separated: layer, weight, class, dims, initializer, flags, "
            "dtype (empty: float32), in model order, the union of its variants",
            "dims: comma-separated; n >= 0 a literal; -1-k symbol k, whose value each variant lists in `values`; "
            "empty: follows the input size (the Dense after VGG's Flatten)",
            "flags: a = unnamed layer (Keras numbers them per graph), t = only with include_top=True, "
            "f = not trainable",
            "present: the template weights a variant has, in its own order, as [start, end) ranges",
        ],
    }


def _ranges(indices: list[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for i in indices:
        if out and out[-1][1] == i:
            out[-1][1] = i + 1
        else:
            out.append([i, i + 1])
    return out


def build_catalog(architectures: Iterable[str] | None = None, cache: Path | None = None,
                  planned: bool = False) -> dict[str, Any]:
    """Build the catalogue document (the parsed form of ``fingerprints.json.gz``).

    ``architectures`` restricts it to some variants (and the family builds they need);
    ``planned`` builds every planned variant instead of the committed ones.
    """
    import tf_keras

    pool = PLANNED if planned else VARIANTS
    wanted = set(v.name for v in pool) if architectures is None else set(architectures)
    unknown = sorted(wanted - {v.name for v in pool})
    if unknown:
        raise ValueError(f"unknown architecture(s) {unknown}; expected some of {[v.name for v in pool]}")
    variants = [v for v in pool if v.name in wanted]
    # Each family needs its no-top build, done for its first variant: keep that one in.
    families = {v.family for v in variants}
    firsts = {}
    for v in pool:
        firsts.setdefault(v.family, v)
    variants = [v for v in pool if v.name in wanted or (v.family in families and firsts[v.family] is v)]
    return assemble(raw_builds(variants, cache), variants, tf_keras.__version__)


def dumps(document: Any) -> str:
    """JSON with sorted keys, one family per line: deterministic."""
    lines = ["{"]
    keys = sorted(document)
    for n, key in enumerate(keys):
        value = document[key]
        end = "," if n < len(keys) - 1 else ""
        if key == "families":
            lines.append(' "families":{')
            fams = sorted(value)
            for m, fam in enumerate(fams):
                entry = json.dumps(value[fam], sort_keys=True, separators=(",", ":"))
                lines.append(f"  {json.dumps(fam)}:{entry}" + ("," if m < len(fams) - 1 else ""))
            lines.append(" }" + end)
        else:
            lines.append(f" {json.dumps(key)}:" + json.dumps(value, sort_keys=True, separators=(",", ":")) + end)
    lines.append("}")
    return "\n".join(lines) + "\n"


def layers_document(document: Any) -> dict[str, Any]:
    """The catalogue's layer table (matcher.layer_table: layer name -> families) as the families
    that share layers (names joined by `,`) -> their layers (joined by newlines), all sorted:
    what a check reads first, to know whether any catalogued layer is named at all."""
    from graphaudit.catalog.matcher import layer_table

    shared: dict[str, list[str]] = {}
    for layer, families in layer_table(document["families"]).items():
        assert not any("," in f for f in families), families
        shared.setdefault(",".join(sorted(families)), []).append(layer)
    return {"format": document["format"], "layers": {key: "\n".join(sorted(shared[key])) for key in sorted(shared)}}


def compress(text: str) -> bytes:
    """gzip with no timestamp and no file name: the same text always gives the same bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9, mtime=0, filename="") as f:
        f.write(text.encode("utf-8"))
    return buffer.getvalue()


def _write_atomically(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("wb", dir=path.parent, delete=False, suffix=".tmp") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
    # NamedTemporaryFile creates 0600; a committed data file should have the usual mode.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(f.name, 0o666 & ~umask)
    os.replace(f.name, path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graphaudit.catalog.build_catalog", description=__doc__)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="compare with --output instead of writing; 1 if it differs")
    parser.add_argument("--cache", type=Path, help="keep each raw build here and reuse it (the big models take "
                                                   "a minute each to build)")
    parser.add_argument("--all", action="store_true", help="every planned variant, not only the committed ones")
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # graph-mode deprecation notices are not ours to fix
    document = build_catalog(cache=args.cache, planned=args.all)
    outputs = {args.output: compress(dumps(document)), layers_path(args.output): compress(dumps(layers_document(document)))}
    if args.check:
        for path, data in outputs.items():
            current = path.read_bytes() if path.exists() else b""
            if current != data:
                print(f"{path}: out of date; run `python -m graphaudit.catalog.build_catalog`", file=sys.stderr)
                return 1
        return 0
    for path, data in outputs.items():
        _write_atomically(path, data)
        print(f"wrote {path} ({len(data):,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
