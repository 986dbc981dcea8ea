"""Harness cases: a GraphDef and what surrounds it, written as a real artifact in a temporary folder and read back."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from graphaudit.formats import protos
from graphaudit.records import dataclass
from graphaudit.testing.files import dtype_enum, write_checkpoint
from graphaudit.testing.nodes import Var, const, flatten, node, trained

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
    nodes = list(flatten(items))
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


def artifact_of(case: Any) -> Any:
    """The Artifact of a Case (read once), or ``case`` itself when it is already one."""
    return case.artifact() if isinstance(case, Case) else case


def summary(case: Any) -> str:
    """What the rules were given, read back from the artifact: format, ops, variables, roots, keys."""
    art = artifact_of(case)
    lines = [f"format {art.format.value}"]
    for gname, g in art.graphs.items():
        counts: dict[str, int] = {}
        for o in g.ops:
            counts[o] = counts.get(o, 0) + 1
        ops = ", ".join(f"{o} {n}" for o, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:12])
        lines.append(f"graph `{gname}`: {len(g)} nodes ({ops}{' ...' if len(counts) > 12 else ''})")
    if art.functions:
        lines.append("functions: " + ", ".join(f"`{n}` ({len(g)} nodes)" for n, g in art.functions.items()))
    from graphaudit.analysis.updates import analyse_updates

    writes = analyse_updates(art).writes
    for v in list(art.variables.values())[:24]:
        flags = []
        if v.trainable is not None:
            flags.append("trainable" if v.trainable else "frozen")
        if v.checkpoint_key:
            flags.append(f"key `{v.checkpoint_key}`")
        kinds = sorted({u.kind.value for u in writes.get(v.name, ()) if u.graph in art.graphs})
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
        lines.append(f"checkpoint: {len(keys)} keys ({short_list(keys, 6)})")
    return "\n".join(lines)


def short_list(names: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" (+{len(names) - limit} more)" if len(names) > limit else "")
