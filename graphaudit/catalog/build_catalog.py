"""Build ``fingerprints.json`` from the tf_keras.applications architectures themselves."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1

# The architectures graphaudit recognises. Each is built with its defaults (alpha=1.0 for the
# MobileNets), so a catalogue entry is one concrete set of shapes.
ARCHITECTURES: tuple[str, ...] = (
    "DenseNet121",
    "EfficientNetB0",
    "InceptionV3",
    "MobileNet",
    "MobileNetV2",
    "ResNet50",
    "ResNet50V2",
    "VGG16",
    "VGG19",
    "Xception",
)

# A second include_top build at a larger input tells which weight dims follow the input size
# (only the Dense after VGG's Flatten does). Graph mode allocates nothing, so size is free.
_SECOND_INPUT_GROWTH = 32

# Weights whose initializer tf_keras hard-codes in the layer's build() instead of its config.
_CODE_INITIALIZERS: dict[tuple[str, str], dict[str, Any]] = {
    ("Normalization", "mean"): {"class_name": "Zeros", "config": {}},
    ("Normalization", "variance"): {"class_name": "Ones", "config": {}},
    ("Normalization", "count"): {"class_name": "Zeros", "config": {}},
}

DEFAULT_OUTPUT = Path(__file__).with_name("fingerprints.json")


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
            if not full.startswith(layer.name + "/"):
                raise RuntimeError(f"weight `{variable.name}` is not under its layer `{layer.name}`")
            weight = full[len(layer.name) + 1 :]
            row: dict[str, Any] = {
                "class": layer_class,
                "layer": layer.name,
                "shape": [int(d) for d in variable.shape],
                "weight": weight,
            }
            spec = _initializer_spec(layer_class, config, weight)
            row["init"] = None if spec is None else initializer_key(spec)
            row["_spec"] = spec
            if auto:
                row["auto"] = True
            if not variable.trainable:
                row["trainable"] = False
            dtype = variable.dtype.base_dtype.name
            if dtype != "float32":
                row["dtype"] = dtype
            rows.append(row)
    return rows


def _build(tf: Any, application: Any, **kwargs: Any) -> tuple[Any, list[dict[str, Any]], int]:
    # A fresh graph per build: names restart at conv2d, batch_normalization, ... (Keras keeps one
    # name counter per graph), and graph-mode variables are declared, never initialized.
    with tf.Graph().as_default():
        model = application(weights=None, **kwargs)
        return model, _weights_of(model), int(model.count_params())


def _row_key(row: dict[str, Any]) -> tuple[str, str]:
    return row["layer"], row["weight"]


def build_architecture(tf: Any, applications: Any, architecture: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The catalogue entry of one architecture, and the initializers it refers to."""
    application = getattr(applications, architecture)
    top_model, top_rows, top_params = _build(tf, application, include_top=True)
    input_shape = [int(d) for d in top_model.input_shape[1:]]
    # Built with an unknown input size, so none of these shapes can depend on it.
    base_model, base_rows, base_params = _build(tf, application, include_top=False)
    bigger = [input_shape[0] + _SECOND_INPUT_GROWTH, input_shape[1] + _SECOND_INPUT_GROWTH, input_shape[2]]
    _, big_top_rows, _ = _build(tf, application, include_top=True, input_shape=tuple(bigger))
    if [_row_key(r) for r in big_top_rows] != [_row_key(r) for r in top_rows]:
        raise RuntimeError(f"{architecture}: weight names change with the input size")

    base_by_key = {_row_key(r): r for r in base_rows}
    initializers: dict[str, Any] = {}
    rows = []
    for row, big in zip(top_rows, big_top_rows):
        free = [i for i, (a, b) in enumerate(zip(row["shape"], big["shape"])) if a != b]
        if free:
            row["free"] = free
        base = base_by_key.get(_row_key(row))
        if base is None:
            row["top"] = True
        elif (base["shape"], base["init"], base["class"]) != (row["shape"], row["init"], row["class"]):
            raise RuntimeError(f"{architecture}: `{row['layer']}/{row['weight']}` differs with include_top")
        spec = row.pop("_spec")
        if spec is not None:
            initializers[row["init"]] = spec
        rows.append(row)
    if [_row_key(r) for r in rows if not r.get("top")] != [_row_key(r) for r in base_rows]:
        raise RuntimeError(f"{architecture}: include_top=False is not include_top=True minus its top")
    if any(r.get("free") and (r.get("auto") or not r.get("top")) for r in rows):
        raise RuntimeError(f"{architecture}: an input-size dependent weight outside the top")

    entry = {
        "input_shape": input_shape,
        "variants": {
            "include_top": {"name": top_model.name, "params": top_params, "weights": len(top_rows)},
            "no_top": {"name": base_model.name, "params": base_params, "weights": len(base_rows)},
        },
        "weights": rows,
    }
    for variant in ("include_top", "no_top"):
        counted = sum(math.prod(r["shape"]) for r in rows if variant == "include_top" or not r.get("top"))
        if counted != entry["variants"][variant]["params"]:
            raise RuntimeError(f"{architecture}: {variant} weights hold {counted} params, Keras counts more")
    return entry, initializers


def build_catalog(architectures: Iterable[str] | None = None) -> dict[str, Any]:
    """Build the catalogue document (the parsed form of ``fingerprints.json``)."""
    import tensorflow as tf
    import tf_keras

    names = sorted(ARCHITECTURES if architectures is None else set(architectures))
    unknown = [name for name in names if name not in ARCHITECTURES]
    if unknown:
        raise ValueError(f"unknown architecture(s) {unknown}; expected some of {list(ARCHITECTURES)}")
    entries: dict[str, Any] = {}
    initializers: dict[str, Any] = {}
    for name in names:
        entries[name], used = build_architecture(tf, tf_keras.applications, name)
        initializers.update(used)
    return {
        "architectures": entries,
        "format": FORMAT_VERSION,
        "generator": {
            "command": "python -m graphaudit.catalog.build_catalog",
            "tf_keras": tf_keras.__version__,
        },
        "initializers": initializers,
        "notes": [
            "weights are in Keras model order; shapes are those of the default input size",
            "free: dims that follow the input size (the Dense after VGG's Flatten); matchers ignore them",
            "top: weights only present with include_top=True",
            "auto: unnamed layers; Keras numbers them per graph (conv2d, conv2d_1, ...)",
            "MobileNet and MobileNetV2 are alpha=1.0 only: other alphas change every channel count",
        ],
    }


def _height(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_height, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_height, value), default=0)
    return 0


def dumps(document: Any, indent: int = 0) -> str:
    """JSON with sorted keys, one weight per line: small, deterministic and diffable."""
    # Containers at most two levels deep (a weight row, an initializer) stay on one line.
    if _height(document) <= 2:
        return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    pad = " " * (indent + 1)
    if isinstance(document, dict):
        items = [f"{pad}{json.dumps(k)}:{dumps(document[k], indent + 1)}" for k in sorted(document)]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [f"{pad}{dumps(v, indent + 1)}" for v in document]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def _write_atomically(path: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp") as f:
        f.write(text)
    # NamedTemporaryFile creates 0600; a committed data file should have the usual mode.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(f.name, 0o666 & ~umask)
    os.replace(f.name, path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graphaudit.catalog.build_catalog", description=__doc__)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="compare with --output instead of writing; 1 if it differs")
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # graph-mode deprecation notices are not ours to fix
    text = dumps(build_catalog()) + "\n"
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output}: out of date; run `python -m graphaudit.catalog.build_catalog`", file=sys.stderr)
            return 1
        return 0
    _write_atomically(args.output, text)
    print(f"wrote {args.output} ({len(text.encode())} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
