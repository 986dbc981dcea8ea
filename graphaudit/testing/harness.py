"""Rule tests without TensorFlow: build small artifacts in a line or two, assert findings in one.

A case is a graph of NodeDefs (TensorFlow's own messages, from tensorboard's protos) plus what a
writer would store around it: collections, signatures, a saver, a checkpoint with values, Keras
metadata. It is written to a temporary folder in a real format and read back by graphaudit's own
readers, so a rule sees exactly what it would see on a file::

    from graphaudit.testing.harness import assert_clean, assert_findings, conv, graph, placeholder

    x = placeholder("images", (None, 32, 32, 3))
    net = conv("backbone/block1_conv1", x, (3, 3, 3, 8))
    case = graph(x, net, outputs=[net.out], checkpoint_omit=["backbone/"])
    assert_findings(case, "GA201", "backbone/block1_conv1/kernel")

See docs/contributing.md ("Testing a rule without TensorFlow").
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import tempfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphaudit.formats import protos
from graphaudit.testing.files import dtype_enum, write_checkpoint

__all__ = [
    "Case", "Layer", "Var", "add", "apply_gradients", "assert_clean", "assert_findings", "assign", "batchnorm",
    "check", "checkpoint_only", "const", "conv", "dense", "depthwise_conv", "fresh", "function", "graph", "head",
    "keras_compiled", "keras_layer", "keras_model", "load_weights", "mlp", "mobilenet", "node", "op", "placeholder",
    "pool", "render", "resnet", "summary", "trained", "var", "vgg",
]

#: Attr keys whose string value names a dtype (``T="float32"``), not a string attr.
TYPE_KEYS = frozenset({"T", "dtype", "DstT", "SrcT", "Tidx", "Tindices", "Tparams", "out_type", "Tout", "U",
                       "Tshape", "Tpaddings", "Taxis", "output_type", "Tcond", "Tin"})
#: Attr keys whose list value is a list of dtypes.
TYPE_LIST_KEYS = frozenset({"dtypes", "Tin", "Tout", "T"})


# ----------------------------------------------------------------------------------------------- nodes

def node(name: str, op_type: str, *inputs: str, device: str = "", **attrs: Any) -> protos.NodeDef:
    """One NodeDef: ``node("c", "Conv2D", "x", "k/read", T="float32", strides=[1, 1, 1, 1])``.

    Inputs are tensor names as in a GraphDef (``"x"``, ``"split:1"``, ``"^init"``). Attr values
    are converted by type: a dtype name under a type key (``T``, ``dtype``...), ``shape=(None, 3)``
    (None for an unknown dimension), bool, int, float, str/bytes, lists of those, and numpy arrays
    (a tensor, e.g. a Const's ``value``).
    """
    nd = protos.NodeDef(name=name, op=op_type, device=device)
    nd.input.extend(inputs)
    for key, value in attrs.items():
        _set_attr(nd.attr[key], key, value)
    return nd


def _set_attr(av, key: str, value: Any) -> None:
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        av.tensor.CopyFrom(tensor_proto(np.asarray(value)))
    elif key in TYPE_KEYS and isinstance(value, str):
        av.type = dtype_enum(value)
    elif key in TYPE_LIST_KEYS and isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        av.list.type.extend(dtype_enum(v) for v in value)
    elif key.endswith("shape") and isinstance(value, (list, tuple)) or value is None and key.endswith("shape"):
        _set_shape(av.shape, value)
    elif isinstance(value, bool):
        av.b = value
    elif isinstance(value, int):
        av.i = value
    elif isinstance(value, float):
        av.f = value
    elif isinstance(value, str):
        av.s = value.encode("utf-8")
    elif isinstance(value, bytes):
        av.s = value
    elif isinstance(value, (list, tuple)):
        if all(isinstance(v, bool) for v in value) and value:
            av.list.b.extend(value)
        elif all(isinstance(v, int) for v in value):
            av.list.i.extend(value)
        elif all(isinstance(v, float) for v in value):
            av.list.f.extend(value)
        else:
            av.list.s.extend(v.encode("utf-8") if isinstance(v, str) else v for v in value)
    elif isinstance(value, dict) and "func" in value:
        av.func.name = value["func"]
    else:
        raise TypeError(f"attr `{key}`: cannot store a {type(value).__name__}")


def _set_shape(shape_proto, shape: Sequence[int | None] | None) -> None:
    if shape is None:
        shape_proto.unknown_rank = True
        return
    for d in shape:
        shape_proto.dim.add().size = -1 if d is None else int(d)


def tensor_proto(value: np.ndarray) -> protos.TensorProto:
    """A TensorProto holding ``value`` (numbers in ``tensor_content``, strings in ``string_val``)."""
    t = protos.TensorProto()
    if value.dtype.kind in ("S", "U", "O"):
        t.dtype = dtype_enum("string")
        t.string_val.extend(v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in value.ravel().tolist())
    else:
        name = {"f": {4: "float32", 8: "float64", 2: "float16"}, "i": {4: "int32", 8: "int64", 2: "int16", 1: "int8"},
                "u": {1: "uint8", 2: "uint16"}, "b": {1: "bool"}}[value.dtype.kind][value.dtype.itemsize]
        t.dtype = dtype_enum(name)
        if value.ndim == 0 and name in ("float32", "int32"):
            (t.float_val if name == "float32" else t.int_val).append(value.item())
        else:
            t.tensor_content = np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<")).tobytes()
    _set_shape(t.tensor_shape, value.shape)
    return t


def op(name: str, op_type: str, *inputs: str, dtype: str = "float32", **attrs: Any) -> protos.NodeDef:
    """A float op with its ``T`` attr set: ``op("y", "Relu", "x")``."""
    return node(name, op_type, *inputs, T=dtype, **attrs)


def const(name: str, value: Any) -> protos.NodeDef:
    """A Const holding ``value`` (Python floats become float32)."""
    arr = np.asarray(value)
    if arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    return node(name, "Const", value=arr, dtype=protos.dtype_name(tensor_proto(arr).dtype))


class Layer(list):
    """Nodes and variables built together (a conv layer, a model, a train op); ``out`` is the output.

    ``layers`` are the sublayers of a model, in order, so that a second call can share them.
    """

    def __init__(self, items: Iterable[Any] = (), out: str = "", variables: Sequence["Var"] = (),
                 layers: Sequence["Layer"] = ()) -> None:
        super().__init__(items)
        self.out = out
        self.variables = list(variables)
        self.layers = list(layers)
        self.updates: list[str] = [u for layer in self.layers for u in getattr(layer, "updates", ())]

    def __str__(self) -> str:
        return self.out


def placeholder(name: str, shape: Sequence[int | None] | None = None, dtype: str = "float32") -> Layer:
    return Layer([node(name, "Placeholder", dtype=dtype, shape=shape)], out=name)


# ------------------------------------------------------------------------------------------ variables

@dataclass
class Var:
    """A variable: its op, its initializer subgraph, its read and its VariableDef entry.

    ``init`` is a Keras initializer name (``glorot_uniform``, ``he_normal``, ``zeros``, ``ones``,
    ``random_normal``), an array (a Const initial value), or None (no initializer at all).
    ``value`` is what the checkpoint stores; without one the checkpoint gets a trained-looking
    value (see :func:`trained`).
    """

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    init: Any = "glorot_uniform"
    trainable: bool = True
    resource: bool = True
    value: np.ndarray | None = None
    collections: tuple[str, ...] = ("variables",)
    nodes: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.shape = tuple(self.shape)
        self.nodes = self._build()

    def __iter__(self):
        return iter(self.nodes)

    @property
    def read(self) -> str:
        """The tensor that reads the variable's value."""
        return f"{self.name}/Read/ReadVariableOp" if self.resource else f"{self.name}/read"

    @property
    def initializer(self) -> str | None:
        return f"{self.name}/Assign" if self.init is not None else None

    def _build(self) -> list[Any]:
        n, dtype = self.name, self.dtype
        if self.resource:
            out = [node(n, "VarHandleOp", dtype=dtype, shape=self.shape, shared_name=n, container="")]
        else:
            out = [node(n, "VariableV2", dtype=dtype, shape=self.shape, shared_name="", container="")]
        if self.init is not None:
            init_nodes, init_out = _initializer(f"{n}/Initializer", self.init, self.shape, dtype)
            out += init_nodes
            if self.resource:
                out.append(node(f"{n}/Assign", "AssignVariableOp", n, init_out, dtype=dtype))
            else:
                out.append(node(f"{n}/Assign", "Assign", n, init_out, T=dtype, use_locking=True,
                                validate_shape=True))
        if self.resource:
            out.append(node(self.read, "ReadVariableOp", n, dtype=dtype))
        else:
            out.append(node(self.read, "Identity", n, T=dtype))
        return out

    def variable_def(self) -> protos.VariableDef:
        vd = protos.VariableDef(variable_name=f"{self.name}:0", snapshot_name=f"{self.read}:0",
                                trainable=self.trainable, is_resource=self.resource)
        if self.initializer:
            vd.initializer_name = self.initializer
        return vd


def var(name: str, shape: Sequence[int], **kw: Any) -> Var:
    """``var("dense/kernel", (64, 10), init="glorot_uniform", trainable=True, value=array)``."""
    return Var(name, tuple(shape), **kw)


def fans(shape: Sequence[int]) -> tuple[float, float]:
    """Keras' fan-in and fan-out of a weight shape."""
    if len(shape) < 1:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    receptive = float(np.prod(shape[:-2])) if len(shape) > 2 else 1.0
    return shape[-2] * receptive, shape[-1] * receptive


def _initializer(scope: str, init: Any, shape: tuple[int, ...], dtype: str) -> tuple[list[Any], str]:
    """The TF1 initializer subgraph Keras and tf.compat.v1 write, and its output node."""
    if isinstance(init, np.ndarray) or isinstance(init, (int, float)) and not isinstance(init, bool):
        name = f"{scope}/initial_value"
        return [const(name, np.broadcast_to(np.asarray(init, dtype=np.float32), shape).copy())], name
    fan_in, fan_out = fans(shape)
    dims = np.asarray(shape, dtype=np.int32)
    if init in ("zeros", "ones"):
        name = f"{scope}/{init}"
        return [node(name, "Const", dtype=dtype, value=np.full((), 0.0 if init == "zeros" else 1.0, np.float32)
                     .reshape(()))], name
    if init in ("glorot_uniform", "he_uniform", "lecun_uniform", "random_uniform"):
        limit = {"glorot_uniform": np.sqrt(6.0 / (fan_in + fan_out)), "he_uniform": np.sqrt(6.0 / fan_in),
                 "lecun_uniform": np.sqrt(3.0 / fan_in), "random_uniform": 0.05}[init]
        base = f"{scope}/random_uniform"
        nodes = [
            const(f"{base}/shape", dims),
            const(f"{base}/min", np.float32(-limit)), const(f"{base}/max", np.float32(limit)),
            node(f"{base}/RandomUniform", "RandomUniform", f"{base}/shape", T="int32", dtype=dtype, seed=0, seed2=0),
            op(f"{base}/sub", "Sub", f"{base}/max", f"{base}/min", dtype=dtype),
            op(f"{base}/mul", "Mul", f"{base}/RandomUniform", f"{base}/sub", dtype=dtype),
            op(base, "AddV2", f"{base}/mul", f"{base}/min", dtype=dtype),
        ]
        return nodes, base
    if init in ("he_normal", "glorot_normal", "lecun_normal", "truncated_normal", "random_normal"):
        truncated = init != "random_normal"
        stddev = {"he_normal": np.sqrt(2.0 / fan_in), "glorot_normal": np.sqrt(2.0 / (fan_in + fan_out)),
                  "lecun_normal": np.sqrt(1.0 / fan_in), "truncated_normal": 0.05, "random_normal": 0.05}[init]
        if init.endswith("_normal") and init not in ("truncated_normal", "random_normal"):
            stddev /= 0.87962566103423978  # Keras' variance scaling corrects for the truncation
        kind = "truncated_normal" if truncated else "random_normal"
        base = f"{scope}/{kind}"
        draw = "TruncatedNormal" if truncated else "RandomStandardNormal"
        nodes = [
            const(f"{base}/shape", dims),
            const(f"{base}/mean", np.float32(0.0)), const(f"{base}/stddev", np.float32(stddev)),
            node(f"{base}/{draw}", draw, f"{base}/shape", T="int32", dtype=dtype, seed=0, seed2=0),
            op(f"{base}/mul", "Mul", f"{base}/{draw}", f"{base}/stddev", dtype=dtype),
            op(base, "AddV2", f"{base}/mul", f"{base}/mean", dtype=dtype),
        ]
        return nodes, base
    raise ValueError(f"unknown initializer {init!r}; expected a Keras initializer name, a number or an array")


# ------------------------------------------------------------------------------------------- values

def _seed(*parts: Any) -> int:
    return zlib.crc32(repr(parts).encode())


def fresh(init: str, shape: Sequence[int], seed: Any = 0) -> np.ndarray:
    """What initializer ``init`` draws for ``shape``: a freshly initialized, untrained value."""
    rng = np.random.default_rng(_seed("fresh", init, tuple(shape), seed))
    fan_in, fan_out = fans(shape)
    shape = tuple(shape)
    if init == "zeros":
        return np.zeros(shape, np.float32)
    if init == "ones":
        return np.ones(shape, np.float32)
    if init in ("glorot_uniform", "he_uniform", "lecun_uniform", "random_uniform"):
        limit = {"glorot_uniform": np.sqrt(6.0 / (fan_in + fan_out)), "he_uniform": np.sqrt(6.0 / fan_in),
                 "lecun_uniform": np.sqrt(3.0 / fan_in), "random_uniform": 0.05}[init]
        return rng.uniform(-limit, limit, shape).astype(np.float32)
    if init in ("he_normal", "glorot_normal", "lecun_normal", "truncated_normal"):
        stddev = {"he_normal": np.sqrt(2.0 / fan_in), "glorot_normal": np.sqrt(2.0 / (fan_in + fan_out)),
                  "lecun_normal": np.sqrt(1.0 / fan_in), "truncated_normal": 0.05 * 0.87962566103423978}[init]
        stddev /= 0.87962566103423978
        draws = rng.standard_normal(int(np.prod(shape)) * 2 + 16)
        draws = draws[np.abs(draws) <= 2.0][: int(np.prod(shape))]
        return (draws * stddev).reshape(shape).astype(np.float32)
    if init == "random_normal":
        return rng.normal(0.0, 0.05, shape).astype(np.float32)
    raise ValueError(f"unknown initializer {init!r}")


def trained(shape: Sequence[int], seed: Any = 0, scale: float = 0.05) -> np.ndarray:
    """A value shaped like trained weights: heavy tails, a per-output-channel scale, a small offset."""
    rng = np.random.default_rng(_seed("trained", tuple(shape), seed))
    shape = tuple(shape)
    if not shape:
        return np.float32(rng.normal())
    channels = shape[-1]
    per_channel = np.exp(rng.normal(0.0, 0.5, channels))
    values = rng.laplace(0.0, scale, shape) * per_channel + rng.normal(0.0, scale / 4, channels)
    return values.astype(np.float32)


# -------------------------------------------------------------------------------------------- layers

def _weights(scope: str, share: "Layer | None", specs: Sequence[tuple[str, tuple[int, ...], Any, bool]], *,
             resource: bool, trainable: bool) -> tuple[list[Any], list["Var"], list[str]]:
    """The layer's variables (new, or ``share``'s) and the tensors that read them in this call.

    A shared resource variable gets a read of its own per call, named under ``scope`` (what Keras
    writes when a model is called twice); a ref variable's single ``<var>/read`` is shared.
    """
    if share is None:
        made = [var(f"{scope}/{name}", shape, init=init, resource=resource,
                    trainable=trainable and train) for name, shape, init, train in specs]
        return list(made), made, [v.read for v in made]
    reused = list(share.variables)
    items: list[Any] = []
    reads = []
    for v, (name, _, _, _) in zip(reused, specs):
        if v.resource:
            read = f"{scope}/{name}/ReadVariableOp"
            items.append(node(read, "ReadVariableOp", v.name, dtype=v.dtype))
            reads.append(read)
        else:
            reads.append(v.read)
    return items, reused, reads


def conv(scope: str, x: Any, shape: Sequence[int], *, bias: bool = True, activation: str | None = "Relu",
         strides: int = 1, padding: str = "SAME", init: Any = "glorot_uniform", resource: bool = True,
         trainable: bool = True, share: "Layer | None" = None) -> "Layer":
    """A Keras-style Conv2D layer: ``scope/kernel``, ``scope/bias``, Conv2D, BiasAdd, activation.

    ``share``: a layer built before whose variables this call reads (a model called twice).
    """
    shape = tuple(shape)
    specs = [("kernel", shape, init, True)] + ([("bias", (shape[-1],), "zeros", True)] if bias else [])
    items, variables, reads = _weights(scope, share, specs, resource=resource, trainable=trainable)
    out = f"{scope}/Conv2D"
    items.append(op(out, "Conv2D", str(x), reads[0], strides=[1, strides, strides, 1], padding=padding,
                    data_format="NHWC", dilations=[1, 1, 1, 1], use_cudnn_on_gpu=True))
    if bias:
        items.append(op(f"{scope}/BiasAdd", "BiasAdd", out, reads[1], data_format="NHWC"))
        out = f"{scope}/BiasAdd"
    if activation:
        items.append(op(f"{scope}/{activation}", activation, out))
        out = f"{scope}/{activation}"
    return Layer(items, out=out, variables=variables)


def depthwise_conv(scope: str, x: Any, shape: Sequence[int], *, activation: str | None = None,
                   init: Any = "glorot_uniform", trainable: bool = True, share: "Layer | None" = None) -> "Layer":
    """A MobileNet-style DepthwiseConv2D: ``scope/depthwise_kernel`` of shape (kh, kw, channels, multiplier)."""
    items, variables, reads = _weights(scope, share, [("depthwise_kernel", tuple(shape), init, True)],
                                       resource=True, trainable=trainable)
    out = f"{scope}/depthwise"
    items.append(op(out, "DepthwiseConv2dNative", str(x), reads[0], strides=[1, 1, 1, 1], padding="SAME",
                    data_format="NHWC", dilations=[1, 1, 1, 1]))
    if activation:
        items.append(op(f"{scope}/{activation}", activation, out))
        out = f"{scope}/{activation}"
    return Layer(items, out=out, variables=variables)


def dense(scope: str, x: Any, shape: Sequence[int], *, activation: str | None = None, init: Any = "glorot_uniform",
          resource: bool = True, trainable: bool = True, share: "Layer | None" = None) -> "Layer":
    """A Keras Dense layer: ``scope/kernel`` (in, out), ``scope/bias``, MatMul, BiasAdd, activation."""
    shape = tuple(shape)
    items, variables, reads = _weights(scope, share, [("kernel", shape, init, True),
                                                      ("bias", (shape[-1],), "zeros", True)],
                                       resource=resource, trainable=trainable)
    items += [op(f"{scope}/MatMul", "MatMul", str(x), reads[0], transpose_a=False, transpose_b=False),
              op(f"{scope}/BiasAdd", "BiasAdd", f"{scope}/MatMul", reads[1], data_format="NHWC")]
    out = f"{scope}/BiasAdd"
    if activation:
        items.append(op(f"{scope}/{activation}", activation, out))
        out = f"{scope}/{activation}"
    return Layer(items, out=out, variables=variables)


def batchnorm(scope: str, x: Any, channels: int, *, training: bool | None = False, updates: bool | None = None,
              trainable: bool = True, share: "Layer | None" = None) -> "Layer":
    """A Keras BatchNormalization layer as FusedBatchNormV3.

    ``training`` sets ``is_training`` (None leaves the attr out: TensorFlow's default, true);
    ``updates`` (default: same as ``training``) adds the ``AssignNewValue`` writes of the moving
    statistics that Keras adds in training mode (``layer.updates`` lists them).
    """
    specs = [("gamma", (channels,), "ones", True), ("beta", (channels,), "zeros", True),
             ("moving_mean", (channels,), "zeros", False), ("moving_variance", (channels,), "ones", False)]
    items, variables, reads = _weights(scope, share, specs, resource=True, trainable=trainable)
    fused = f"{scope}/FusedBatchNormV3"
    mode = {} if training is None else {"is_training": training}
    items.append(op(fused, "FusedBatchNormV3", str(x), *reads, U="float32", epsilon=0.001, data_format="NHWC",
                    exponential_avg_factor=1.0, **mode))
    layer_updates = []
    if (training is not False) if updates is None else updates:
        mean, variance = variables[2], variables[3]
        items.append(node(f"{scope}/AssignNewValue", "AssignVariableOp", mean.name, f"{fused}:1", dtype="float32"))
        items.append(node(f"{scope}/AssignNewValue_1", "AssignVariableOp", variance.name, f"{fused}:2",
                          dtype="float32"))
        layer_updates = [f"{scope}/AssignNewValue", f"{scope}/AssignNewValue_1"]
    layer = Layer(items, out=fused, variables=variables)
    layer.updates = layer_updates
    return layer


def pool(name: str, x: Any, kind: str = "MaxPool", size: int = 2) -> Layer:
    return Layer([op(name, kind, str(x), ksize=[1, size, size, 1], strides=[1, size, size, 1], padding="VALID",
                     data_format="NHWC")], out=name)


def add(name: str, a: Any, b: Any) -> Layer:
    """A residual connection (ResNet's ``Add`` layer)."""
    return Layer([op(name, "AddV2", str(a), str(b))], out=name)


# ------------------------------------------------------------------------------------- architectures

class _Model:
    """Collects the sublayers of a model; with ``share``, each sublayer reads the shared model's."""

    def __init__(self, share: "Layer | None") -> None:
        self.share = share
        self.layers: list[Layer] = []

    def __call__(self, build, *args: Any, **kw: Any) -> "Layer":
        if self.share is not None:
            kw["share"] = self.share.layers[len(self.layers)]
        layer = build(*args, **kw)
        self.layers.append(layer)
        return layer

    def done(self, out: str, extra: Sequence["Layer"] = ()) -> "Layer":
        items: list[Any] = [*self.layers, *extra]
        variables = [v for layer in self.layers for v in layer.variables]
        return Layer(items, out=out, variables=variables, layers=self.layers)


def _prefix(scope: str) -> str:
    return f"{scope}/" if scope else ""


def vgg(scope: str, x: Any, *, channels: int = 3, widths: Sequence[int] = (4, 8), convs: int = 2,
        share: "Layer | None" = None, resource: bool = True, trainable: bool = True, suffix: str = "") -> "Layer":
    """A VGG-style backbone: blocks of 3x3 conv + ReLU, each closed by a max pool (``block1_conv1``...).

    ``suffix`` is Keras' uniquification of a second instance's layer names (``block1_conv1_1``).
    """
    p, m, pools = _prefix(scope), _Model(share), []
    h, cin = str(x), channels
    for b, width in enumerate(widths, 1):
        for c in range(1, convs + 1):
            h = m(conv, f"{p}block{b}_conv{c}{suffix}", h, (3, 3, cin, width), resource=resource,
                  trainable=trainable).out
            cin = width
        pooled = pool(f"{p}block{b}_pool{suffix}/MaxPool", h)
        pools.append(pooled)
        h = pooled.out
    return m.done(h, pools)


def resnet(scope: str, x: Any, *, channels: int = 3, width: int = 8, blocks: int = 2,
           share: "Layer | None" = None, training: bool | None = False, trainable: bool = True) -> "Layer":
    """A ResNet-style backbone: a stem conv + BatchNorm, then residual blocks (conv-BN-ReLU twice, add)."""
    p, m, extra = _prefix(scope), _Model(share), []
    h = m(conv, f"{p}conv1_conv", x, (3, 3, channels, width), activation=None, trainable=trainable).out
    h = m(batchnorm, f"{p}conv1_bn", h, width, training=training, trainable=trainable).out
    relu = op(f"{p}conv1_relu/Relu", "Relu", h)
    extra.append(relu)
    h = relu.name
    for b in range(1, blocks + 1):
        base = f"{p}conv2_block{b}"
        y = m(conv, f"{base}_1_conv", h, (3, 3, width, width), activation=None, trainable=trainable).out
        y = m(batchnorm, f"{base}_1_bn", y, width, training=training, trainable=trainable).out
        r1 = op(f"{base}_1_relu/Relu", "Relu", y)
        y = m(conv, f"{base}_2_conv", r1.name, (3, 3, width, width), activation=None, trainable=trainable).out
        y = m(batchnorm, f"{base}_2_bn", y, width, training=training, trainable=trainable).out
        added = add(f"{base}_add/add", h, y)
        out = op(f"{base}_out/Relu", "Relu", added.out)
        extra += [r1, added, out]
        h = out.name
    return m.done(h, extra)


def mobilenet(scope: str, x: Any, *, channels: int = 3, width: int = 8, blocks: int = 2,
              share: "Layer | None" = None, training: bool | None = False, trainable: bool = True) -> "Layer":
    """A MobileNetV2-style backbone: a stem, then depthwise + BatchNorm + ReLU6 and a 1x1 projection."""
    p, m, extra = _prefix(scope), _Model(share), []
    h = m(conv, f"{p}Conv1", x, (3, 3, channels, width), bias=False, activation=None, trainable=trainable).out
    h = m(batchnorm, f"{p}bn_Conv1", h, width, training=training, trainable=trainable).out
    relu = op(f"{p}Conv1_relu/Relu6", "Relu6", h)
    extra.append(relu)
    h = relu.name
    for b in range(blocks):
        base = f"{p}block_{b}" if b else f"{p}expanded_conv"
        y = m(depthwise_conv, f"{base}_depthwise", h, (3, 3, width, 1), trainable=trainable).out
        y = m(batchnorm, f"{base}_depthwise_BN", y, width, training=training, trainable=trainable).out
        r = op(f"{base}_depthwise_relu/Relu6", "Relu6", y)
        y = m(conv, f"{base}_project", r.name, (1, 1, width, width), bias=False, activation=None,
              trainable=trainable).out
        y = m(batchnorm, f"{base}_project_BN", y, width, training=training, trainable=trainable).out
        extra.append(r)
        h = y
    return m.done(h, extra)


def mlp(scope: str, x: Any, sizes: Sequence[int] = (16, 16, 8), *, share: "Layer | None" = None,
        resource: bool = True, trainable: bool = True, first: int = 0) -> "Layer":
    """A stack of Dense + ReLU layers (``dense``, ``dense_1``...), as Keras names them; a second
    instance built in the same graph continues the numbering (``first=``)."""
    p, m = _prefix(scope), _Model(share)
    h = str(x)
    for k in range(len(sizes) - 1):
        n = first + k
        name = f"{p}dense" + (f"_{n}" if n else "")
        h = m(dense, name, h, (sizes[k], sizes[k + 1]), activation="Relu", resource=resource,
              trainable=trainable).out
    return m.done(h)


def head(scope: str, x: Any, features: int, classes: int = 10) -> "Layer":
    """A classifier on a feature map: global average pool, then Dense + Softmax (``scope/...``)."""
    axes = const(f"{scope}/Mean/reduction_indices", np.array([1, 2], np.int32))
    pooled = op(f"{scope}/Mean", "Mean", str(x), axes.name, Tidx="int32", keep_dims=False)
    d = dense(f"{scope}/dense", pooled.name, (features, classes), activation="Softmax")
    return Layer([axes, pooled, d], out=d.out, variables=d.variables, layers=[d])


# ------------------------------------------------------------------------------------------- writes

def assign(variable: Var | str, value: Any, *, name: str | None = None, op_type: str | None = None) -> Layer:
    """A write of ``value`` (a tensor name or a number) into ``variable``: AssignVariableOp or Assign."""
    vname = variable.name if isinstance(variable, Var) else variable
    resource = variable.resource if isinstance(variable, Var) else True
    name = name or f"{vname}/assign_{_seed(value) % 1000}"
    items: list[Any] = []
    if not isinstance(value, str):
        items.append(const(f"{name}/value", np.float32(value)))
        value = f"{name}/value"
    if op_type is None:
        op_type = "AssignVariableOp" if resource else "Assign"
    if op_type.endswith("VariableOp"):
        items.append(node(name, op_type, vname, value, dtype="float32"))
    else:
        items.append(node(name, op_type, vname, value, T="float32"))
    return Layer(items, out=name)


def load_weights(*variables: Var) -> Layer:
    """Keras ``load_weights`` in graph mode: a ``Placeholder_N`` fed into ``AssignVariableOp_N`` per variable."""
    items: list[Any] = []
    for k, v in enumerate(variables):
        suffix = f"_{k}" if k else ""
        items.append(node(f"Placeholder{suffix}", "Placeholder", dtype=v.dtype, shape=v.shape))
        items.append(node(f"AssignVariableOp{suffix}", "AssignVariableOp", v.name, f"Placeholder{suffix}",
                          dtype=v.dtype))
    return Layer(items)


def apply_gradients(*variables: Var, loss: Any = None, optimizer: str = "GradientDescent",
                    name: str = "train_op", also: Sequence[str] = ()) -> Layer:
    """An optimizer step over ``variables`` grouped under the NoOp ``name`` (put it in ``train_op``).

    ``optimizer`` is ``GradientDescent`` (no slots) or ``Momentum`` (a ``<var>/Momentum`` slot).
    Ref variables get the ref ops (``ApplyGradientDescent``). ``also`` are more ops the step runs
    (e.g. BatchNorm's moving-statistics updates, as Keras' ``minimize`` adds them).
    """
    items: list[Any] = [const(f"{optimizer}/learning_rate", np.float32(0.01))]
    applies = []
    slots = []
    for v in variables:
        grad = f"gradients/{v.name}_grad"
        if loss is not None:
            items.append(op(grad, "Identity", str(loss)))
        else:
            items.append(const(grad, np.zeros(v.shape, np.float32)))
        prefix = "Resource" if v.resource else ""
        apply_name = f"{optimizer}/update_{v.name}/{prefix}Apply{optimizer}"
        if optimizer == "GradientDescent":
            items.append(node(apply_name, f"{prefix}ApplyGradientDescent", v.name, f"{optimizer}/learning_rate",
                              grad, T="float32", use_locking=False))
        elif optimizer == "Momentum":
            slot = var(f"{v.name}/Momentum", v.shape, init="zeros", trainable=False, resource=v.resource)
            slots.append(slot)
            items.append(slot)
            if not applies:
                items.append(const(f"{optimizer}/momentum", np.float32(0.9)))
            items.append(node(apply_name, f"{prefix}ApplyMomentum", v.name, slot.name, f"{optimizer}/learning_rate",
                              grad, f"{optimizer}/momentum", T="float32", use_locking=False, use_nesterov=False))
        else:
            raise ValueError(f"optimizer {optimizer!r}: expected GradientDescent or Momentum")
        applies.append(apply_name)
    items.append(node(name, "NoOp", *[f"^{a}" for a in [*applies, *also]]))
    return Layer(items, out=name, variables=slots)


# ----------------------------------------------------------------------------------------- functions

def function(name: str, *items: Any, inputs: Sequence[str] = (), outputs: Mapping[str, str] | None = None
             ) -> Any:
    """A FunctionDef for the graph's library: ``inputs`` are argument names, ``outputs`` map result
    names to tensors inside the body (``{"y": "relu:y:0"}``)."""
    from tensorboard.compat.proto import function_pb2

    fd = function_pb2.FunctionDef()
    fd.signature.name = name
    for arg in inputs:
        fd.signature.input_arg.add(name=arg, type=dtype_enum("float32"))
    for key, tensor in (outputs or {}).items():
        fd.signature.output_arg.add(name=key, type=dtype_enum("float32"))
        fd.ret[key] = tensor
    fd.node_def.extend(nd for nd in _flatten(items))
    return fd


# --------------------------------------------------------------------------------------------- Keras

def keras_layer(name: str, class_name: str = "Conv2D", *, path: str | None = None, trainable: bool = True,
                **config: Any) -> tuple[str, str, str]:
    """One ``keras_metadata.pb`` entry for a layer: ``(node_path, identifier, json)``."""
    cfg = {"name": name, "trainable": trainable, **config}
    meta = {"class_name": class_name, "name": name, "trainable": trainable, "config": cfg}
    return (path or f"root.layer-{name}", "_tf_keras_layer", json.dumps(meta, sort_keys=True))


def keras_compiled(name: str = "model", optimizer: str = "Adam") -> tuple[str, str, str]:
    """The root entry of a compiled tf_keras model's ``keras_metadata.pb``: its ``training_config``."""
    config = {"loss": "categorical_crossentropy", "metrics": None,
              "optimizer_config": {"class_name": optimizer, "config": {"name": optimizer, "learning_rate": 0.001}}}
    meta = {"class_name": "Functional", "name": name, "trainable": True, "training_config": config}
    return ("root", "_tf_keras_model", json.dumps(meta, sort_keys=True))


def keras_model(name: str, layers: Sequence[tuple[str, str, str]], *, path: str = "root.layer_with_weights-0",
                trainable: bool = True, class_name: str = "Functional") -> list[tuple[str, str, str]]:
    """A nested Keras model entry (``_tf_keras_network``) and its layers, re-rooted under ``path``."""
    names = [json.loads(meta)["name"] for _, _, meta in layers]
    config = {"name": name, "layers": [{"class_name": "Layer", "config": {"name": n}, "name": n} for n in names]}
    meta = {"class_name": class_name, "name": name, "trainable": trainable, "config": config}
    out = [(path, "_tf_keras_network", json.dumps(meta, sort_keys=True))]
    for k, (_, identifier, raw) in enumerate(layers):
        out.append((f"{path}.layer-{k}", identifier, raw))
    return out


# ---------------------------------------------------------------------------------------------- cases

_FORMATS = ("graphdef", "meta", "saved_model", "checkpoint")


@dataclass
class Case:
    """An artifact to be: the GraphDef, what surrounds it, and the format it is written in."""

    graph_def: Any
    format: str
    variables: list[Var]
    signatures: dict[str, tuple[dict[str, str], dict[str, str]]]
    collections: dict[str, list[str]]
    saver: Any
    checkpoint: dict[str, np.ndarray] | None
    keras: list[tuple[str, str, str]]
    name: str = "model"
    _folder: str | None = None
    _artifact: Any = None

    # -- files ------------------------------------------------------------------------------------

    def path(self) -> str:
        """Write the case once into a temporary folder; return the path graphaudit is pointed at."""
        if self._folder is None:
            self._folder = tempfile.mkdtemp(prefix="graphaudit-case-", dir=_tmp_root())
            self._write(self._folder)
        return _artifact_path(self._folder, self.format, self.name)

    def write(self, folder: str | os.PathLike[str]) -> str:
        """Write the case into ``folder`` (created); return the artifact's path."""
        folder = os.fspath(folder)
        os.makedirs(folder, exist_ok=True)
        self._write(folder)
        return _artifact_path(folder, self.format, self.name)

    def _write(self, folder: str) -> None:
        if self.format == "graphdef":
            with open(os.path.join(folder, f"{self.name}.pb"), "wb") as fh:
                fh.write(self.graph_def.SerializeToString(deterministic=True))
            return
        if self.format == "checkpoint":
            write_checkpoint(os.path.join(folder, f"{self.name}.ckpt"), self.checkpoint or {})
            return
        mg = self.meta_graph()
        if self.format == "meta":
            with open(os.path.join(folder, f"{self.name}.ckpt.meta"), "wb") as fh:
                fh.write(mg.SerializeToString(deterministic=True))
            if self.checkpoint is not None:
                write_checkpoint(os.path.join(folder, f"{self.name}.ckpt"), self.checkpoint)
            return
        root = os.path.join(folder, self.name)
        os.makedirs(root, exist_ok=True)
        sm = protos.SavedModel(saved_model_schema_version=1)
        sm.meta_graphs.add().CopyFrom(mg)
        with open(os.path.join(root, "saved_model.pb"), "wb") as fh:
            fh.write(sm.SerializeToString(deterministic=True))
        if self.checkpoint is not None:
            write_checkpoint(os.path.join(root, "variables", "variables"), self.checkpoint)
        if self.keras:
            msg = protos.KerasSavedMetadata()
            for k, (node_path, identifier, raw) in enumerate(self.keras):
                msg.nodes.add(node_id=k + 1, node_path=node_path, identifier=identifier, metadata=raw)
            with open(os.path.join(root, "keras_metadata.pb"), "wb") as fh:
                fh.write(msg.SerializeToString(deterministic=True))

    def meta_graph(self) -> Any:
        mg = protos.MetaGraphDef()
        mg.graph_def.CopyFrom(self.graph_def)
        mg.meta_info_def.tensorflow_version = "2.15.0"
        if self.format == "saved_model":
            mg.meta_info_def.tags.append("serve")
        by_collection: dict[str, list[Var]] = {}
        for v in self.variables:
            for c in v.collections:
                by_collection.setdefault(c, []).append(v)
            if v.trainable and "variables" in v.collections:
                by_collection.setdefault("trainable_variables", []).append(v)
        for key, vs in by_collection.items():
            mg.collection_def[key].bytes_list.value.extend(v.variable_def().SerializeToString() for v in vs)
        for key, names in self.collections.items():
            mg.collection_def[key].node_list.value.extend(names)
        for sig_name, (inputs, outputs) in self.signatures.items():
            sd = mg.signature_def[sig_name]
            sd.method_name = "tensorflow/serving/predict"
            for k, t in inputs.items():
                sd.inputs[k].name = _tensor(t)
                sd.inputs[k].dtype = dtype_enum("float32")
            for k, t in outputs.items():
                sd.outputs[k].name = _tensor(t)
                sd.outputs[k].dtype = dtype_enum("float32")
        if self.saver is not None:
            mg.saver_def.filename_tensor_name = "save/Const:0"
            mg.saver_def.save_tensor_name = "save/control_dependency:0"
            mg.saver_def.restore_op_name = "save/restore_all"
            mg.saver_def.version = 2
        return mg

    # -- reading ----------------------------------------------------------------------------------

    def artifact(self) -> Any:
        """The Artifact graphaudit's readers make of the written files (read once)."""
        if self._artifact is None:
            from graphaudit.config import DEFAULT_MAX_FILE_SIZE
            from graphaudit.formats.readers import read
            from graphaudit.formats.sniff import discover

            candidates = discover([self.path()], max_file_size=DEFAULT_MAX_FILE_SIZE)
            if len(candidates) != 1:
                raise AssertionError(f"expected one artifact at {self.path()}, found {len(candidates)}")
            self._artifact = read(candidates[0], max_file_size=DEFAULT_MAX_FILE_SIZE)
        return self._artifact

    def describe(self) -> str:
        """The input, in a few lines: format, ops, variables, roots, checkpoint keys."""
        return summary(self)


def _tensor(t: Any) -> str:
    t = str(t)
    return t if ":" in t else f"{t}:0"


def _artifact_path(folder: str, fmt: str, name: str) -> str:
    return {"graphdef": os.path.join(folder, f"{name}.pb"), "meta": os.path.join(folder, f"{name}.ckpt.meta"),
            "saved_model": os.path.join(folder, name),
            "checkpoint": os.path.join(folder, f"{name}.ckpt.index")}[fmt]


_TMP: list[str] = []


def _tmp_root() -> str:
    if not _TMP:
        _TMP.append(tempfile.mkdtemp(prefix="graphaudit-harness-"))
        atexit.register(shutil.rmtree, _TMP[0], True)
    return _TMP[0]


def _flatten(items: Iterable[Any]) -> Iterable[Any]:
    for item in items:
        if isinstance(item, protos.NodeDef):
            yield item
        elif isinstance(item, Var):
            yield from item.nodes
        elif isinstance(item, (list, tuple)):
            yield from _flatten(item)
        elif item is None:
            continue
        else:
            raise TypeError(f"graph(): cannot add a {type(item).__name__}; expected NodeDefs, var(), layers or lists")


def _variables(items: Iterable[Any]) -> Iterable[Var]:
    for item in items:
        if isinstance(item, Var):
            yield item
        elif isinstance(item, (list, tuple)):
            yield from _variables(item)


def graph(*items: Any, format: str = "meta", outputs: Sequence[Any] | None = None,
          inputs: Mapping[str, Any] | None = None, signatures: Mapping[str, Any] | None = None,
          collections: Mapping[str, Sequence[str]] | None = None, train_op: Any = None, main_op: bool = False,
          saver: bool | Sequence[str] | Mapping[str, str] | None = None,
          checkpoint: Mapping[str, np.ndarray] | bool | None = None, checkpoint_omit: Sequence[str] = (),
          keras: Sequence[tuple[str, str, str]] = (), functions: Sequence[Any] = (), name: str = "model") -> Case:
    """An artifact from nodes, variables and layers, in ``format``: ``meta`` (a ``.meta`` and its
    checkpoint, the default), ``saved_model`` (TF1 SavedModel), or ``graphdef`` (a bare ``.pb``).

    - ``outputs``: tensors of a ``serving_default`` signature (``inputs`` its inputs);
      ``signatures`` gives several: ``{"name": ({"in": "x"}, {"out": "y"})}``.
    - ``train_op``: a node put in the ``train_op`` collection; ``collections``: other node lists.
    - ``main_op``: an ``init`` NoOp running every initializer, in ``saved_model_main_op``.
    - ``saver``: restore ops (``save/restore_all``) and a ``saver_def``: True for every variable,
      a list of variable names, or ``{variable: checkpoint key}``.
    - ``checkpoint``: by default every variable is saved under its name with its ``value`` (or a
      trained-looking one), except those whose names start with a ``checkpoint_omit`` prefix;
      a mapping is the exact set of keys and values; False writes no checkpoint.
    - ``keras``: ``keras_metadata.pb`` entries (:func:`keras_layer`, :func:`keras_model`).
    """
    if format not in _FORMATS:
        raise ValueError(f"format {format!r}: expected one of {', '.join(_FORMATS)}")
    nodes = list(_flatten(items))
    variables = _unique(_variables(items))
    gd = protos.GraphDef()
    gd.versions.producer = 1205
    names = set()
    for nd in nodes:
        if nd.name in names:
            raise ValueError(f"graph(): two nodes are named `{nd.name}`")
        names.add(nd.name)
    gd.node.extend(nodes)
    for fd in functions:
        gd.library.function.add().CopyFrom(fd)
    extra: list[Any] = []
    colls = {k: list(v) for k, v in (collections or {}).items()}
    if train_op is not None:
        colls.setdefault("train_op", []).append(str(train_op))
    if main_op:
        extra.append(node("init", "NoOp", *[f"^{v.initializer}" for v in variables if v.initializer]))
        colls.setdefault("saved_model_main_op", []).append("init")
    if checkpoint is None or checkpoint is True:
        values = {v.name: (v.value if v.value is not None else trained(v.shape, v.name))
                  for v in variables if not any(v.name.startswith(p) for p in checkpoint_omit)}
    elif checkpoint is False:
        values = None
    else:
        values = dict(checkpoint)
    saver_spec = None
    if saver:
        if saver is True:
            mapping = {v.name: v.name for v in variables}
        elif isinstance(saver, Mapping):
            mapping = dict(saver)
        else:
            mapping = {n: n for n in saver}
        by_name = {v.name: v for v in variables}
        extra.extend(_restore_ops([(by_name[n], key) for n, key in mapping.items()]))
        saver_spec = mapping
    gd.node.extend(extra)
    sigs: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
    if outputs is not None:
        sigs["serving_default"] = ({k: str(v) for k, v in (inputs or {}).items()},
                                   {_key(o): str(o) for o in outputs})
    for sname, spec in (signatures or {}).items():
        ins, outs = spec
        sigs[sname] = ({k: str(v) for k, v in ins.items()}, {k: str(v) for k, v in outs.items()})
    if format == "graphdef" and (sigs or colls or saver_spec or keras):
        raise ValueError("graph(format='graphdef'): a bare GraphDef has no signatures, collections, saver or "
                         "Keras metadata; use format='meta' or 'saved_model'")
    if format == "graphdef":
        values = None
    return Case(graph_def=gd, format=format, variables=variables, signatures=sigs, collections=colls,
                saver=saver_spec, checkpoint=values, keras=list(keras), name=name)


def checkpoint_only(values: Mapping[str, np.ndarray], name: str = "model") -> Case:
    """A checkpoint alone (``model.ckpt.index`` + data), keys and values as given."""
    return Case(graph_def=protos.GraphDef(), format="checkpoint", variables=[], signatures={}, collections={},
                saver=None, checkpoint=dict(values), keras=[], name=name)


def _unique(variables: Iterable[Var]) -> list[Var]:
    seen: dict[str, Var] = {}
    for v in variables:
        seen.setdefault(v.name, v)
    return list(seen.values())


def _key(tensor: Any) -> str:
    return str(tensor).split(":")[0].rsplit("/", 2)[-2] if "/" in str(tensor) else str(tensor).split(":")[0]


def _restore_ops(pairs: Sequence[tuple[Var, str]]) -> list[Any]:
    """What ``tf.compat.v1.train.Saver`` writes to restore ``pairs`` of (variable, checkpoint key)."""
    keys = np.array([k for _, k in pairs], dtype=object)
    out: list[Any] = [
        const("save/Const", np.array("model", dtype=object)),
        const("save/RestoreV2/tensor_names", keys),
        const("save/RestoreV2/shape_and_slices", np.array([""] * len(pairs), dtype=object)),
        node("save/RestoreV2", "RestoreV2", "save/Const", "save/RestoreV2/tensor_names",
             "save/RestoreV2/shape_and_slices", dtypes=[v.dtype for v, _ in pairs]),
    ]
    assigns = []
    for k, (v, _) in enumerate(pairs):
        if v.resource:
            out.append(node(f"save/Identity_{k}", "Identity", f"save/RestoreV2:{k}", T=v.dtype))
            out.append(node(f"save/AssignVariableOp_{k}", "AssignVariableOp", v.name, f"save/Identity_{k}",
                            dtype=v.dtype))
            assigns.append(f"save/AssignVariableOp_{k}")
        else:
            out.append(node(f"save/Assign_{k}", "Assign", v.name, f"save/RestoreV2:{k}", T=v.dtype))
            assigns.append(f"save/Assign_{k}")
    out.append(node("save/restore_all", "NoOp", *[f"^{a}" for a in assigns]))
    out.append(node("save/control_dependency", "Identity", "save/Const", T="string"))
    return out


# ------------------------------------------------------------------------------------------- checking

def _target(case: Any) -> Any:
    return case.artifact() if isinstance(case, Case) else case


def check(case: Any, **options: Any) -> list[Any]:
    """Every finding graphaudit reports on ``case`` (a Case or an Artifact), with every rule enabled.

    ``options`` are the configuration keys in snake_case (``pretrained=["vgg19/*"]``,
    ``finetune=[...]``, ``outputs=[...]``...), as for `graphaudit.audit`; no config file is read.
    """
    from graphaudit.api import settings_for
    from graphaudit.engine import check_artifact

    result = check_artifact(_target(case), settings_for(options, isolated=True))
    if result.error:
        raise AssertionError(f"graphaudit could not check the case: {result.error}\n{summary(case)}")
    return list(result.findings)


def assert_findings(case: Any, code: str, *where: str, message: str | None = None, severity: str | None = None,
                    confidence: str | None = None, count: int | None = None, **options: Any) -> list[Any]:
    """Fail unless rule ``code`` reports on ``case``; return its findings.

    Each name in ``where`` must be in a finding's location (its variables, nodes or scope);
    ``message`` is a regular expression that some finding's message must match; ``severity``,
    ``confidence`` must hold for every finding of ``code``; ``count`` is the exact number of them.
    """
    __tracebackhide__ = True
    found = check(case, **options)
    mine = [f for f in found if f.code == code]
    problems = []
    if not mine:
        problems.append(f"expected {code}, which did not fire")
    if count is not None and len(mine) != count:
        problems.append(f"expected {count} {code} finding(s), got {len(mine)}")
    for name in where:
        if not any(_located_at(f, name) for f in mine):
            problems.append(f"expected {code} at `{name}`")
    if message is not None and mine and not any(re.search(message, f.message) for f in mine):
        problems.append(f"expected a {code} message matching {message!r}")
    for attr, want in (("severity", severity), ("confidence", confidence)):
        if want is not None:
            got = sorted({getattr(f, attr).value for f in mine})
            if got and got != [want]:
                problems.append(f"expected {attr} {want}, got {', '.join(got)}")
    if problems:
        raise AssertionError(_failure(problems, found, case, options))
    return mine


def assert_clean(case: Any, code: str, **options: Any) -> None:
    """Fail if rule ``code`` reports anything on ``case`` (other rules may)."""
    __tracebackhide__ = True
    found = check(case, **options)
    if any(f.code == code for f in found):
        raise AssertionError(_failure([f"expected no {code}"], found, case, options))


def _located_at(finding: Any, name: str) -> bool:
    loc = finding.location
    return name in loc.variables or name in loc.nodes or name == loc.scope


def _failure(problems: list[str], found: list[Any], case: Any, options: Mapping[str, Any]) -> str:
    lines = ["; ".join(problems)]
    lines.append("found:" if found else "found: nothing")
    for f in found:
        lines.append(f"  {format_finding(f)}")
    lines.append("input:")
    lines.extend("  " + line for line in summary(case).splitlines())
    if options:
        lines.append("options: " + ", ".join(f"{k}={v!r}" for k, v in sorted(options.items())))
    return "\n".join(lines)


def format_finding(f: Any) -> str:
    """One line: code, severity/confidence, where, message."""
    loc = f.location
    where = []
    if loc.scope:
        where.append(f"scope `{loc.scope}`")
    if loc.variables:
        where.append("variables " + _short_list(loc.variables))
    elif loc.nodes:
        where.append("nodes " + _short_list(loc.nodes))
    return f"{f.code} {f.severity.value}/{f.confidence.value} [{'; '.join(where) or loc.graph}]: {f.message}"


def _short_list(names: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" (+{len(names) - limit} more)" if len(names) > limit else "")


def summary(case: Any) -> str:
    """What the rules were given, read back from the artifact: format, ops, variables, roots, keys."""
    art = _target(case)
    lines = [f"format {art.format.value}"]
    for gname, g in art.graphs.items():
        counts: dict[str, int] = {}
        for o in g.ops:
            counts[o] = counts.get(o, 0) + 1
        ops = ", ".join(f"{o} {n}" for o, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:12])
        lines.append(f"graph `{gname}`: {len(g)} nodes ({ops}{' ...' if len(counts) > 12 else ''})")
    if art.functions:
        lines.append("functions: " + ", ".join(f"`{n}` ({len(g)} nodes)" for n, g in art.functions.items()))
    for v in list(art.variables.values())[:24]:
        flags = []
        if v.trainable is not None:
            flags.append("trainable" if v.trainable else "frozen")
        if v.checkpoint_key:
            flags.append(f"key `{v.checkpoint_key}`")
        kinds = sorted({u.kind.value for u in v.update_ops})
        if kinds:
            flags.append("writes: " + "/".join(kinds))
        lines.append(f"var `{v.name}` {list(v.shape) if v.shape is not None else '?'} {' '.join(flags)}")
    if len(art.variables) > 24:
        lines.append(f"... {len(art.variables) - 24} more variables")
    if art.roots:
        lines.append("roots: " + ", ".join(f"`{r.node}` ({r.kind.value})" for r in art.roots[:8])
                     + (" ..." if len(art.roots) > 8 else ""))
    else:
        lines.append("roots: none declared")
    if art.checkpoint is not None:
        keys = art.checkpoint.keys()
        lines.append(f"checkpoint: {len(keys)} keys ({_short_list(keys, 6)})")
    return "\n".join(lines)


def render(case: Any, code: str | None = None, *, name: str = "model", **options: Any) -> str:
    """The console report (no colour, fix-ups shown) of ``case``, only rule ``code`` when given.

    The temporary folder is replaced by ``name`` so the text is the same on every run.
    """
    import io

    from graphaudit.api import settings_for
    from graphaudit.engine import check_artifact
    from graphaudit.findings import Report
    from graphaudit.reporters.console import ConsoleReporter

    if code is not None:
        options = {**options, "select": [code]}
    settings = settings_for(options, isolated=True)
    result = check_artifact(_target(case), settings)
    buffer = io.StringIO()
    ConsoleReporter(buffer, color=False, show_fixes=True).write(
        Report(artifacts=(result,), fail_on=settings.fail_on))
    text = buffer.getvalue()
    if isinstance(case, Case) and case._folder:
        text = text.replace(case._folder + os.sep, "").replace(case._folder, name)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"
