"""Small graphs written node by node with graphaudit's own protos: control-flow and role cases without TensorFlow."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from graphaudit.formats import protos

DT = {"float": 1, "int32": 3, "string": 7, "int64": 9, "bool": 10, "resource": 20}


def node(name: str, op: str, *inputs: str, **attrs: Any):
    """A NodeDef. ``attrs``: ``dtype``/``T`` ("float"...), ``shape`` (tuple), ``value`` (a Const's
    value), booleans, ints, strings, ``then_branch``/``else_branch``/``f`` (function names) and
    ``branches`` (a list of function names)."""
    nd = protos.NodeDef(name=name, op=op, input=list(inputs))
    for key, val in attrs.items():
        av = nd.attr[key]
        if key in ("dtype", "T", "Tcond", "out_type"):
            av.type = DT[val]
        elif key == "shape":
            av.shape.CopyFrom(shape_proto(val))
        elif key == "value":
            av.tensor.CopyFrom(tensor_proto(val))
        elif key in ("then_branch", "else_branch", "f", "body", "cond"):
            av.func.name = val
        elif key == "branches":
            for f in val:
                av.list.func.add().name = f
        elif isinstance(val, bool):
            av.b = val
        elif isinstance(val, int):
            av.i = val
        elif isinstance(val, str):
            av.s = val.encode()
        else:
            raise TypeError(f"attr {key}={val!r}")
    return nd


def shape_proto(dims: Iterable[int]):
    sp = protos.TensorShapeProto()
    for d in dims:
        sp.dim.add().size = d
    return sp


def tensor_proto(value: Any):
    arr = np.asarray(value)
    tp = protos.TensorProto()
    tp.tensor_shape.CopyFrom(shape_proto(arr.shape))
    if arr.dtype == np.bool_:
        tp.dtype = DT["bool"]
        tp.bool_val.extend(arr.reshape(-1).tolist())
    elif arr.dtype.kind in "iu":
        tp.dtype = DT["int32"]
        tp.int_val.extend(arr.reshape(-1).tolist())
    else:
        tp.dtype = DT["float"]
        tp.tensor_content = arr.astype("<f4").tobytes()
    return tp


def graph_def(*nodes, functions: Iterable = ()):
    gd = protos.GraphDef()
    gd.node.extend(nodes)
    gd.library.function.extend(functions)
    return gd


def function(name: str, args: Iterable[tuple[str, str]], rets: dict[str, str], *nodes):
    """A FunctionDef: ``args`` are (name, dtype) pairs; ``rets`` maps output names to tensors."""
    fd = protos.function_pb2.FunctionDef()
    fd.signature.name = name
    for arg, dtype in args:
        a = fd.signature.input_arg.add()
        a.name = arg
        a.type = DT[dtype]
    for out in rets:
        o = fd.signature.output_arg.add()
        o.name = out
        o.type = DT["float"]
    fd.node_def.extend(nodes)
    for out, tensor in rets.items():
        fd.ret[out] = tensor
    return fd


def variable(name: str, shape=(3, 3), dtype: str = "float"):
    """A TF1 ref variable with its initializer and the Identity that reads it."""
    return [
        node(name, "VariableV2", dtype=dtype, shape=shape),
        node(f"{name}/Initializer/zeros", "Const", value=np.zeros(shape, dtype="float32" if dtype == "float"
                                                                   else "int32")),
        node(f"{name}/Assign", "Assign", name, f"{name}/Initializer/zeros", T=dtype),
        node(f"{name}/read", "Identity", name, T=dtype),
    ]


def meta_graph(gd, *, collections: dict[str, list[str]] | None = None,
               variable_collections: dict[str, list[str]] | None = None, signatures: dict | None = None):
    """A MetaGraphDef: ``collections`` are node lists, ``variable_collections`` lists of
    VariableDefs (by variable name), ``signatures`` maps a key to (inputs, outputs) dicts."""
    mg = protos.MetaGraphDef()
    mg.graph_def.CopyFrom(gd)
    for key, names in (collections or {}).items():
        mg.collection_def[key].node_list.value.extend(names)
    for key, names in (variable_collections or {}).items():
        for n in names:
            vd = protos.VariableDef(variable_name=f"{n}:0", initializer_name=f"{n}/Assign",
                                    snapshot_name=f"{n}/read:0")
            mg.collection_def[key].bytes_list.value.append(vd.SerializeToString())
    for key, (inputs, outputs) in (signatures or {}).items():
        sd = mg.signature_def[key]
        sd.method_name = "tensorflow/serving/predict"
        for k, t in inputs.items():
            sd.inputs[k].name = t
        for k, t in outputs.items():
            sd.outputs[k].name = t
    return mg
