"""Harness layers and models: Keras-style layers, four architecture families, writes, functions, Keras metadata."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from graphaudit.testing.files import dtype_enum
from graphaudit.testing.nodes import Layer, Var, const, flatten, node, op, stable_seed, var

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
    name = name or f"{vname}/assign_{stable_seed(value) % 1000}"
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
    fd.node_def.extend(nd for nd in flatten(items))
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
