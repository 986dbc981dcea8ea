"""Harness building blocks: NodeDefs with attrs, Consts, placeholders, variables with their initializers, values."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import field
from typing import Any

import numpy as np

from graphaudit.formats import protos
from graphaudit.records import dataclass
from graphaudit.testing.files import dtype_enum

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

def stable_seed(*parts: Any) -> int:
    return zlib.crc32(repr(parts).encode())


def fresh(init: str, shape: Sequence[int], seed: Any = 0) -> np.ndarray:
    """What initializer ``init`` draws for ``shape``: a freshly initialized, untrained value."""
    rng = np.random.default_rng(stable_seed("fresh", init, tuple(shape), seed))
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
    rng = np.random.default_rng(stable_seed("trained", tuple(shape), seed))
    shape = tuple(shape)
    if not shape:
        return np.float32(rng.normal())
    channels = shape[-1]
    per_channel = np.exp(rng.normal(0.0, 0.5, channels))
    values = rng.laplace(0.0, scale, shape) * per_channel + rng.normal(0.0, scale / 4, channels)
    return values.astype(np.float32)


def flatten(items: Iterable[Any]) -> Iterable[Any]:
    for item in items:
        if isinstance(item, protos.NodeDef):
            yield item
        elif isinstance(item, Var):
            yield from item.nodes
        elif isinstance(item, (list, tuple)):
            yield from flatten(item)
        elif item is None:
            continue
        else:
            raise TypeError(f"graph(): cannot add a {type(item).__name__}; expected NodeDefs, var(), layers or lists")
