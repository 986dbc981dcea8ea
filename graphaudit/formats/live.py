"""Live objects (GraphDef messages, tf.Graph, Session, Keras models, tf.Module) to an Artifact."""

# The only module that touches TensorFlow, and only for objects that already come from it: an
# object's kind is told from the modules of its classes, before anything is imported.

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from graphaudit.artifact import VARIABLE_OPS, Artifact, Format, Graph, Root, RootKind, ValueOrigin, Variable
from graphaudit.errors import ArtifactError
from graphaudit.formats import protos
from graphaudit.formats.graphs import (
    GRAPH_KEYS_VARIABLES,
    INIT_COLLECTIONS,
    TRAIN_OP_COLLECTION,
    build_graph,
    collect_variables,
    read_metagraph,
)

_LIVE_PACKAGES = ("tensorflow", "tf_keras", "keras")
# TensorFlow's own messages and tensorboard's copies of them (graphaudit's protos).
_MESSAGES = {"tensorflow.GraphDef": "graphdef", "tensorflow.MetaGraphDef": "metagraph",
             "tensorboard.GraphDef": "graphdef", "tensorboard.MetaGraphDef": "metagraph"}
# Values kept in memory after a first read, so that rules reading a variable twice fetch it once.
_VALUE_CACHE_BYTES = 256 * 1024**2
_READ_OPS = ("ReadVariableOp",)
_IS_INITIALIZED_OPS = ("VarIsInitializedOp", "IsVariableInitialized")


def live_kind(obj: Any) -> str | None:
    """``graphdef``, ``metagraph``, ``session``, ``graph``, ``keras`` or ``module``; None otherwise.

    Looks only at class names and modules, so nothing is imported for an object of another kind.
    """
    descriptor = getattr(type(obj), "DESCRIPTOR", None)
    full_name = getattr(descriptor, "full_name", None)
    if isinstance(full_name, str) and callable(getattr(obj, "SerializeToString", None)):
        return _MESSAGES.get(full_name)
    classes = [(c.__module__ or "", c.__name__) for c in type(obj).__mro__]
    if not any(module.split(".")[0] in _LIVE_PACKAGES for module, _ in classes):
        return None
    for module, name in classes:
        top = module.split(".")[0]
        if top in ("keras", "tf_keras") and name in ("Model", "Layer"):
            return "keras"
        if top == "tensorflow":
            if name in ("BaseSession", "_MonitoredSession") or (name == "SessionInterface"):
                return "session"
            if name == "Graph" and module.endswith("framework.ops"):
                return "graph"
            if name == "Module" and module.endswith("module.module"):
                return "module"
    return None


def describe(obj: Any) -> str:
    """The label that stands for a live object where a path would be: ``<Session>``, ``<keras.Model `vgg`>``."""
    kind = live_kind(obj)
    name = getattr(obj, "name", None)
    named = f" `{name}`" if isinstance(name, str) and name else ""
    return {
        "graphdef": "<GraphDef>",
        "metagraph": "<MetaGraphDef>",
        "session": "<Session>",
        "graph": "<tf.Graph>",
        "keras": f"<keras.{'Model' if hasattr(obj, 'layers') else 'Layer'}{named}>",
        "module": f"<tf.Module{named}>",
    }.get(kind or "", f"<{type(obj).__name__}>")


def to_artifact(obj: Any, *, session: Any = None) -> Artifact:
    """Convert a live object. ``session`` gives variable values to a tf.Graph or a graph-mode Keras model."""
    kind = live_kind(obj)
    label = describe(obj)
    if kind in ("graphdef", "metagraph"):
        return from_message(obj, label=label)
    if kind == "session":
        return from_session(obj, label=label)
    if kind == "graph":
        return from_graph(obj, label=label, session=session)
    if kind == "keras":
        return from_keras(obj, label=label, session=session)
    if kind == "module":
        return from_module(obj, label=label)
    raise TypeError(f"cannot audit a {type(obj).__module__}.{type(obj).__qualname__}; expected a path, a "
                    "GraphDef or MetaGraphDef, a tf.Graph, a tf.compat.v1.Session, a Keras model or a tf.Module")


# ---------------------------------------------------------------------------- messages (no TensorFlow)

def from_message(msg: Any, *, label: str) -> Artifact:
    """TensorFlow's own GraphDef/MetaGraphDef, or tensorboard's copies: re-parsed as graphaudit's."""
    data = msg.SerializeToString()
    if live_kind(msg) == "graphdef":
        gd = protos.GraphDef.FromString(data)
        art = Artifact(path=label, format=Format.GRAPHDEF)
        graph, functions = build_graph("graph", gd, label)
        art.graphs["graph"] = graph
        art.functions.update(functions)
        collect_variables(art, graph, (), set(), False)
        art.value_sources = (ValueOrigin.INIT,) if art.variables else ()
        if not art.variables:
            from graphaudit.formats.readers import frozen_weights

            frozen_weights(art, graph)  # as a frozen `.pb` file is read
        return art
    mg = protos.MetaGraphDef.FromString(data)
    art = Artifact(path=label, format=Format.METAGRAPH)
    read_metagraph(art, mg, "graph", label)
    if art.variables:
        art.notes.append("a MetaGraphDef alone carries no variable values; audit the Session, or the saved "
                         "files, to check initialization")
    return art


# ---------------------------------------------------------------------------- tf.Graph and Session

def _tf():
    import tensorflow as tf

    return tf


def from_graph(graph: Any, *, label: str, session: Any = None, outputs: Iterable[str] = ()) -> Artifact:
    """A tf.Graph through its MetaGraphDef, read like a `.meta` file; values only with a ``session``."""
    if session is not None:
        session = _raw_session(session)
        if session.graph is not graph:
            raise ArtifactError(label, "the session given runs another graph than the one audited")
    art = Artifact(path=label, format=Format.LIVE)
    tf = _tf()
    keys = set(graph.get_all_collection_keys())
    wanted = [k for k in (*GRAPH_KEYS_VARIABLES, *INIT_COLLECTIONS, TRAIN_OP_COLLECTION) if k in keys]
    try:
        with graph.as_default():  # TF refuses to export while executing eagerly
            exported = tf.compat.v1.train.export_meta_graph(graph=graph, collection_list=wanted)
    except Exception as exc:  # noqa: BLE001 - e.g. a FuncGraph TF cannot export: fall back to its GraphDef
        exported = None
        art.notes.append(f"the graph's collections could not be exported ({type(exc).__name__}); "
                         "read its GraphDef only")
    if exported is not None:
        mg = protos.MetaGraphDef.FromString(exported.SerializeToString())
        read_metagraph(art, mg, "graph", label)
    else:
        gd = protos.GraphDef.FromString(graph.as_graph_def().SerializeToString())
        g, functions = build_graph("graph", gd, label)
        art.graphs["graph"] = g
        art.functions.update(functions)
        collect_variables(art, g, (), set(), False)
    for node in outputs:
        if node in art.graphs["graph"].index:
            art.roots.append(Root("graph", node, RootKind.USER_OUTPUT, "the model's output"))
    if session is not None:
        _attach_session(art, session, label)
    else:
        art.value_sources = ()
        if art.variables:
            art.notes.append("no session given: variable values are unknown, so initialization is not checked")
    return art


def from_session(sess: Any, *, label: str) -> Artifact:
    sess = _raw_session(sess)
    if getattr(sess, "_closed", False):
        raise ArtifactError(label, "the session is closed; audit it while it is open")
    return from_graph(sess.graph, label=label, session=sess)


def _raw_session(sess: Any) -> Any:
    """A MonitoredSession's plain session: running through the wrapper would run its hooks."""
    unwrap = getattr(sess, "_tf_sess", None)
    return unwrap() if callable(unwrap) else sess


def _attach_session(art: Artifact, sess: Any, label: str) -> None:
    """Which variables the session has initialized, and a lazy view of their current values.

    Only fetches tensors the graph already holds (each resource variable's `VarIsInitializedOp`
    and `ReadVariableOp`, each ref variable's own output), so the user's graph is never changed,
    and a finalized graph works too.
    """
    tf = _tf()
    graph = art.graphs["graph"]
    probes: dict[str, str] = {}  # variable -> a boolean "is initialized" tensor
    reads: dict[str, str] = {}  # variable -> a tensor holding its value
    for op in VARIABLE_OPS:
        for i in graph.by_op.get(op, ()):
            name = graph.names[i]
            if op == "VarHandleOp":
                read = _consumer(graph, i, _READ_OPS, prefer=f"{name}/Read/ReadVariableOp")
                if read is not None:
                    reads[name] = f"{read}:0"
            else:
                reads[name] = f"{name}:0"
            probe = _consumer(graph, i, _IS_INITIALIZED_OPS, prefer=f"{name}/IsInitialized/VarIsInitializedOp")
            if probe is not None:
                probes[name] = f"{probe}:0"
    initialized: set[str] = set()
    unknown: list[str] = []
    names = sorted(probes)
    if names:
        flags = sess.run([probes[n] for n in names])
        initialized.update(n for n, ok in zip(names, flags) if bool(ok))
    for name in sorted(set(reads) - set(probes)):
        # A ref variable has no "is initialized" op of its own: reading it tells.
        try:
            sess.run(reads[name])
            initialized.add(name)
        except tf.errors.FailedPreconditionError:
            pass
        except (tf.errors.OpError, ValueError, TypeError):
            unknown.append(name)
    for name in sorted(set(art.variables) - set(reads) - set(probes)):
        unknown.append(name)
    if unknown:
        # Counted as initialized: a finding must come from a fact, not from a failed probe.
        initialized.update(unknown)
        art.notes.append(f"{len(unknown):,} variable(s) could not be probed in the session and are taken as "
                         f"initialized: {', '.join(f'`{n}`' for n in unknown[:5])}{' ...' if len(unknown) > 5 else ''}")
    art.live_initialized = initialized
    art.live_values = LiveValues({n: t for n, t in reads.items() if n in initialized and n not in unknown},
                                 lambda tensor: sess.run(tensor))
    art.value_sources = (ValueOrigin.LIVE,)


def _consumer(graph: Graph, i: int, ops: tuple[str, ...], *, prefer: str) -> str | None:
    best = None
    for j in graph.consumers[i]:
        if graph.ops[j] in ops and i in graph.inputs[j]:
            if graph.names[j] == prefer:
                return prefer
            if best is None or graph.names[j] < best:
                best = graph.names[j]
    return best


class LiveValues(Mapping):
    """Variable name -> ndarray, read from the live object on first use; kept while memory allows."""

    def __init__(self, sources: Mapping[str, Any], read) -> None:
        self._sources = dict(sources)
        self._read = read
        self._cache: dict[str, Any] = {}
        self._cached_bytes = 0

    def __getitem__(self, name: str):
        if name in self._cache:
            return self._cache[name]
        import numpy as np

        value = np.asarray(self._read(self._sources[name]))
        if self._cached_bytes + value.nbytes <= _VALUE_CACHE_BYTES:
            self._cache[name] = value
            self._cached_bytes += value.nbytes
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._sources))

    def __len__(self) -> int:
        return len(self._sources)

    def __contains__(self, name: object) -> bool:
        return name in self._sources


# ---------------------------------------------------------------------------- Keras and tf.Module

def from_keras(model: Any, *, label: str, session: Any = None) -> Artifact:
    """A tf_keras or Keras 3 model (or layer): its graph in TF1 graph mode, else its variables."""
    weights = list(model.weights)
    if weights and getattr(weights[0], "_in_graph_mode", False):
        # tf_keras in a TF1 graph: audit the whole graph, with the model's outputs as its roots.
        graph = weights[0].graph
        session = session or _graph_session(graph)
        outputs = [_tensor_op_name(t) for t in (getattr(model, "outputs", None) or [])]
        art = from_graph(graph, label=label, session=session, outputs=[o for o in outputs if o])
        layers = _keras_layers(model)
        art.keras_layers = [row for row, _, _ in layers]
        owner = {id(w): row["path"] for row, _, owned in layers for w in owned}
        for w in weights:
            var = art.variables.get(_tensor_op_name(w))
            if var is not None:
                var.keras_layer = owner.get(id(w))
        return art
    art = Artifact(path=label, format=Format.LIVE)
    layers = _keras_layers(model)
    art.keras_layers = [row for row, _, _ in layers]
    owner = {id(w): (row["path"], layer) for row, layer, owned in layers for w in owned}
    # Keras's view wins over the variable's own flag: a frozen layer's weights keep `trainable=True`.
    trainable = {id(w) for w in model.trainable_weights}
    entries = []
    for w in weights:
        path, layer = owner.get(id(w), (None, None))
        name = getattr(w, "path", None) or _strip_port(w.name)
        entries.append((name, w, path, layer, id(w) in trainable))
    _add_eager_variables(art, entries, source="Keras `trainable_weights`")
    if not weights:
        art.notes.append("the model has no weights yet: build it, or call it once, before auditing")
    return art


def from_module(module: Any, *, label: str) -> Artifact:
    tf = _tf()
    art = Artifact(path=label, format=Format.LIVE)
    found = module._flatten(predicate=lambda x: isinstance(x, tf.Variable), with_path=True)
    entries = [("/".join(str(p) for p in path), v, None, None, bool(v.trainable)) for path, v in found]
    _add_eager_variables(art, entries, source="tf.Variable.trainable")
    return art


def _add_eager_variables(art: Artifact, entries: list[tuple[str, Any, str | None, Any, bool]], *,
                         source: str) -> None:
    """Eager variables: each named once (a clash takes its layer path), with its current value."""
    seen: set[str] = set()
    values: dict[str, Any] = {}
    initialized: set[str] = set()
    for name, w, layer_path, layer, trainable in entries:
        if name in seen and layer_path:
            name = f"{name} ({layer_path})"
        base, k = name, 1
        while name in seen:
            k += 1
            name = f"{base} (#{k})"
        seen.add(name)
        var = Variable(name=name, dtype=_dtype_name(w.dtype), shape=tuple(int(d) for d in w.shape),
                       trainable=trainable, trainable_source=source)
        if layer_path:
            var.keras_layer = layer_path
            var.initializer_kind, var.initializer_params = _initializer_of(layer, name)
        art.variables[name] = var
        values[name] = w
        if _is_initialized(w):
            initialized.add(name)
    art.live_initialized = initialized
    art.live_values = LiveValues({n: w for n, w in values.items() if n in initialized}, _to_numpy)
    art.value_sources = (ValueOrigin.LIVE,)


def _keras_layers(model: Any) -> list[tuple[dict, Any, list]]:
    """Each layer once, parents first: its row (path, class, name, trainable), the layer, its own weights."""
    rows: list[tuple[dict, Any, list]] = []
    seen: set[int] = set()
    owner: dict[int, int] = {}
    by_id: dict[int, Any] = {}

    def visit(layer: Any, prefix: str) -> None:
        if id(layer) in seen:
            return
        seen.add(id(layer))
        path = f"{prefix}/{layer.name}" if prefix else layer.name
        rows.append(({"path": path, "class_name": type(layer).__name__, "name": layer.name,
                      "trainable": bool(getattr(layer, "trainable", True))}, layer, []))
        for w in getattr(layer, "weights", []):
            owner[id(w)] = len(rows) - 1  # nested layers, visited later, take over their own weights
            by_id[id(w)] = w
        for child in _children(layer):
            visit(child, path)

    visit(model, "")
    for wid, index in owner.items():
        rows[index][2].append(by_id[wid])
    return rows


def _children(layer: Any) -> list:
    flatten = getattr(layer, "_flatten_layers", None)
    if callable(flatten):
        try:
            return list(flatten(include_self=False, recursive=False))
        except TypeError:
            pass
    return list(getattr(layer, "layers", None) or [])


_SNAKE_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _initializer_of(layer: Any, name: str) -> tuple[str | None, dict[str, float]]:
    """The Keras initializer of weight ``name`` (``kernel`` -> ``kernel_initializer``), as a kind and numbers."""
    if layer is None:
        return None, {}
    short = name.split(" (")[0].rsplit("/", 1)[-1]
    init = None
    for attr in (f"{short}_initializer", f"{short.replace('_kernel', '')}_initializer"):
        init = getattr(layer, attr, None)
        if init is not None:
            break
    if init is None or isinstance(init, str):
        return (init if isinstance(init, str) else None), {}
    kind = _SNAKE_RE.sub("_", type(init).__name__).lower()
    params: dict[str, float] = {}
    get_config = getattr(init, "get_config", None)
    if callable(get_config):
        try:
            for key, value in sorted(get_config().items()):
                if key != "seed" and isinstance(value, (int, float)) and not isinstance(value, bool):
                    params[key] = float(value)
        except Exception:  # noqa: BLE001 - a custom initializer's config is optional evidence
            pass
    return kind, params


def _is_initialized(w: Any) -> bool:
    check = getattr(w, "is_initialized", None)
    if callable(check):
        try:
            return bool(check())
        except Exception:  # noqa: BLE001 - a variable type without the check: eager ones hold a value
            return True
    return True


def _to_numpy(w: Any):
    import numpy as np

    to_numpy = getattr(w, "numpy", None)
    return np.asarray(to_numpy() if callable(to_numpy) else w)


def _dtype_name(dtype: Any) -> str:
    name = getattr(dtype, "name", dtype)
    return str(name).removesuffix("_ref")


def _strip_port(name: str) -> str:
    head, _, port = name.rpartition(":")
    return head if head and port.isdigit() else name


def _tensor_op_name(t: Any) -> str | None:
    op = getattr(t, "op", None)
    return getattr(op, "name", None)


def _graph_session(graph: Any) -> Any:
    """The session already running ``graph``, if one can be found without creating or initializing one."""
    tf = _tf()
    default = tf.compat.v1.get_default_session()
    if default is not None and default.graph is graph:
        return default
    try:  # tf_keras keeps its session here; `get_session()` would initialize variables as a side effect
        from tf_keras.src import backend as keras_backend

        sess = getattr(keras_backend._SESSION, "session", None)
        if sess is not None and sess.graph is graph and not getattr(sess, "_closed", False):
            return sess
    except Exception:  # noqa: BLE001 - no tf_keras, or another layout of its internals
        pass
    return None
