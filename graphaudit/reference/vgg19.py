"""VGG19 for `tf.compat.v1` graphs: built once, frozen, and restorable into any session."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Union

import numpy as np

if TYPE_CHECKING:  # TensorFlow is imported lazily: `import graphaudit.reference` must stay cheap.
    import tensorflow as tf

__all__ = ["VGG19", "VGG_MEAN_BGR", "WeightsSource"]

#: ImageNet channel means in BGR order, as `keras.applications.vgg19.preprocess_input` uses.
VGG_MEAN_BGR: tuple[float, float, float] = (103.939, 116.779, 123.68)

#: `"imagenet"`, a path to a Keras `.h5` weights file, or None for random weights.
WeightsSource = Union[str, "os.PathLike[str]", None]

_DEFAULT_IMAGE_SHAPE: tuple[int | None, ...] = (None, None, None, 3)


class VGG19:
    """VGG19 without its top, wired into a `tf.compat.v1` graph the way the seed article meant.

    Fixes the seed article's four pitfalls:

    1. *New sessions*: the pretrained values are kept as numpy arrays, and `load_weights(session)`
       restores them into any session of the graph, through one assign op per variable that
       is built once here.
    2. *`global_variables_initializer()`*: it still resets the backbone (it is a variable like any
       other), but `load_weights()` after it restores the values, without growing the graph.
    3. *Duplicate graphs*: the network is built once, on `input_tensor=`, never with `model(x)`.
    4. *Trainable weights*: the backbone is created non-trainable (out of `TRAINABLE_VARIABLES`)
       unless `trainable=True`, and `trainable_variables_excluding_backbone()` gives a safe
       `var_list` either way.

    Graph layout, under the scope `name` (`vgg19/`, or `vgg19_1/` for a second instance):
    `inputs/` (the placeholder, when the wrapper creates it), `preprocessing/` (RGB to BGR and
    mean subtraction), `model/` (the Keras layers, `model/block1_conv1/...`) and, when there are
    pretrained weights, `load_weights/` (one placeholder and one assign per variable, grouped by
    `load_weights/restore`).
    """

    def __init__(
        self,
        input_tensor: tf.Tensor | None = None,
        image_shape: Sequence[int | None] = _DEFAULT_IMAGE_SHAPE,
        weights: WeightsSource = "imagenet",
        name: str = "vgg19",
        *,
        trainable: bool = False,
    ) -> None:
        """Build VGG19 on `input_tensor` (raw RGB, 0-255), or on a placeholder of `image_shape`.

        `weights` is `"imagenet"` (downloaded by Keras itself, then cached), a path to a Keras
        `.h5` weights file, or None for random weights. When a default session of the same graph
        is active, the pretrained values are loaded into it right away, as Keras does.
        """
        import tensorflow as tf
        import tf_keras

        shape = _checked_image_shape(image_shape)
        weights = _checked_weights(weights)
        graph = _build_graph(input_tensor)
        if input_tensor is not None and not input_tensor.shape.is_compatible_with(shape):
            raise ValueError(
                f"`input_tensor` has shape {input_tensor.shape}, expected one compatible with "
                f"`image_shape` {shape} (batch, height, width, 3 RGB channels)"
            )

        # Everything that can fail runs before the caller's graph is touched: a bad weights file
        # must leave no half-built ops and no used-up `vgg19` scope name behind.
        snapshot = _read_pretrained(weights) if weights is not None else None

        with graph.as_default(), tf.compat.v1.name_scope(name) as scope:
            if input_tensor is None:
                with tf.compat.v1.name_scope("inputs"):
                    input_tensor = tf.compat.v1.placeholder(tf.float32, shape, name="images")
            with tf.compat.v1.name_scope("preprocessing"):
                preprocessed = _vgg_preprocessing(input_tensor)
            with tf.compat.v1.name_scope("model") as model_scope:
                model = _build_backbone(preprocessed, trainable=trainable)

            self._variables: tuple[tf.Variable, ...] = tuple(model.weights)
            self._relative_names = tuple(_relative_name(v, model_scope) for v in self._variables)
            self._restore_op: tf.Operation | None = None
            self._feed: dict[tf.Tensor, np.ndarray] = {}
            if snapshot is not None:
                self._restore_op, self._feed = self._build_restore(snapshot)

        self._graph = graph
        self._scope = scope
        self._input_tensor = input_tensor
        self._preprocessed = preprocessed
        self._model = model
        self._weights_source = None if weights is None else os.fspath(weights)
        # The InputLayer is left out: its name (`input_1`, `input_2`, ...) depends on what else
        # the graph holds, and `input_tensor` already exposes it.
        self._outputs: dict[str, tf.Tensor] = {
            layer.name: layer.output
            for layer in model.layers
            if not isinstance(layer, tf_keras.layers.InputLayer)
        }

        session = tf.compat.v1.get_default_session()
        if self._restore_op is not None and session is not None and session.graph is graph:
            self.load_weights(session)

    # -- what the graph holds -------------------------------------------------------------------

    @property
    def graph(self) -> tf.Graph:
        """The graph the network was built in."""
        return self._graph

    @property
    def scope(self) -> str:
        """The wrapper's name scope, with its trailing slash (`"vgg19/"`, `"vgg19_1/"`, ...)."""
        return self._scope

    @property
    def input_tensor(self) -> tf.Tensor:
        """The raw RGB input: the tensor passed in, or the `inputs/images` placeholder."""
        return self._input_tensor

    @property
    def preprocessed(self) -> tf.Tensor:
        """The BGR, mean-subtracted image the backbone sees."""
        return self._preprocessed

    @property
    def output(self) -> tf.Tensor:
        """The last feature map, `block5_pool`."""
        return self._outputs["block5_pool"]

    @property
    def keras_model(self) -> Any:
        """The underlying tf_keras `Functional` model (for `summary()` and layer lookups)."""
        return self._model

    @property
    def layer_names(self) -> tuple[str, ...]:
        """VGG19 layer names in order, from `block1_conv1` to `block5_pool`."""
        return tuple(self._outputs)

    def __getitem__(self, layer_name: str) -> tf.Tensor:
        """The output tensor of a layer: `vgg["block4_conv1"]`."""
        try:
            return self._outputs[layer_name]
        except KeyError:
            raise KeyError(
                f"no layer `{layer_name}` in VGG19; expected one of: {', '.join(self._outputs)}"
            ) from None

    def __contains__(self, layer_name: object) -> bool:
        return layer_name in self._outputs

    def __repr__(self) -> str:
        source = self._weights_source or "random"
        return f"<VGG19 scope={self._scope!r} input={self._input_tensor.name!r} weights={source!r}>"

    # -- the variables --------------------------------------------------------------------------

    @property
    def model_weights_tensors(self) -> tuple[tf.Variable, ...]:
        """The backbone variables (kernels and biases), in layer order.

        A tuple rather than a set: in TF2 a graph variable is unhashable outside its
        `graph.as_default()` block, so a set would break depending on where it is read.
        """
        return self._variables

    def trainable_variables_excluding_backbone(
        self, graph: tf.Graph | None = None
    ) -> list[tf.Variable]:
        """The graph's trainable variables minus the backbone: a `var_list` for `minimize()`.

        `graph` defaults to the graph the wrapper was built in, not the current default graph, so
        that the answer does not depend on which `with` block the caller is in.
        """
        import tensorflow as tf

        graph = self._graph if graph is None else graph
        # Identity, not equality or hashing: both are unsafe on graph variables in TF2.
        backbone = {id(v) for v in self._variables}
        return [
            v
            for v in graph.get_collection(tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES)
            if id(v) not in backbone
        ]

    # -- the pretrained values ------------------------------------------------------------------

    @property
    def has_pretrained_weights(self) -> bool:
        """Whether there are pretrained values for `load_weights()` to restore."""
        return self._restore_op is not None

    def load_weights(self, session: tf.compat.v1.Session | None = None) -> None:
        """Restore the pretrained values into `session` (the default session when None).

        Works in a brand new session and after `global_variables_initializer()`. It runs the
        assign ops built with the wrapper, so calling it any number of times adds no nodes.
        """
        import tensorflow as tf

        if self._restore_op is None:
            raise ValueError(
                "this VGG19 was built with `weights=None`; there are no pretrained values to "
                "load (initialize it with `tf.compat.v1.global_variables_initializer()`)"
            )
        if session is None:
            session = tf.compat.v1.get_default_session()
            if session is None:
                raise ValueError(
                    "no session given and no default session; pass `session=` or call "
                    "`load_weights()` inside `with session.as_default():`"
                )
        if session.graph is not self._graph:
            raise ValueError(
                f"the session runs a different graph from the one `{self._scope}` was built in; "
                "expected a session created with `graph=vgg.graph`"
            )
        session.run(self._restore_op, feed_dict=self._feed)

    def _build_restore(
        self, snapshot: list[tuple[str, np.ndarray]]
    ) -> tuple[tf.Operation, dict[tf.Tensor, np.ndarray]]:
        """One placeholder and one assign per variable, grouped under `load_weights/restore`."""
        import tensorflow as tf

        if [name for name, _ in snapshot] != list(self._relative_names):
            raise ValueError(
                "the weights file does not match VGG19 without its top: expected "
                f"{len(self._relative_names)} weights named like `{self._relative_names[0]}`, "
                f"found {len(snapshot)} named like `{snapshot[0][0] if snapshot else '(none)'}`"
            )
        by_layer: dict[str, list[tuple[tf.Variable, str, np.ndarray]]] = {}
        for variable, (relative, value) in zip(self._variables, snapshot):
            layer, _, weight = relative.rpartition("/")
            by_layer.setdefault(layer, []).append((variable, weight, value))

        assigns = []
        feed: dict[tf.Tensor, np.ndarray] = {}
        with tf.compat.v1.name_scope("load_weights"):
            for layer, layer_weights in by_layer.items():
                # One scope per layer: entering a name scope twice would uniquify it (`_1`).
                with tf.compat.v1.name_scope(layer):
                    for variable, weight, value in layer_weights:
                        # Placeholders, not constants: 80 MB of ImageNet weights stay out of the
                        # GraphDef, and one set of ops serves every session and every call.
                        placeholder = tf.compat.v1.placeholder(
                            variable.dtype.base_dtype, variable.shape, name=weight
                        )
                        assigns.append(
                            variable.assign(placeholder, read_value=False, name=f"assign_{weight}")
                        )
                        feed[placeholder] = value
            restore = tf.group(*assigns, name="restore")
        return restore, feed


# -- building blocks ----------------------------------------------------------------------------


def _checked_image_shape(image_shape: Sequence[int | None]) -> tuple[int | None, ...]:
    shape = tuple(image_shape)
    if len(shape) != 4 or shape[-1] != 3:
        raise ValueError(
            f"`image_shape` must be (batch, height, width, 3) with None for unknown sizes; "
            f"found {shape}"
        )
    return shape


def _checked_weights(weights: WeightsSource) -> WeightsSource:
    if weights is None or weights == "imagenet":
        return weights
    if not os.path.isfile(weights):
        raise FileNotFoundError(
            f"`weights` must be 'imagenet', None, or a Keras .h5 weights file; "
            f"no such file: {os.fspath(weights)}"
        )
    return weights


def _build_graph(input_tensor: tf.Tensor | None) -> tf.Graph:
    """The graph to build in: the input tensor's, else the default one; never an eager context."""
    import tensorflow as tf

    if input_tensor is not None:
        # EagerTensor.graph raises AttributeError, which getattr turns into None.
        graph = getattr(input_tensor, "graph", None)
        if graph is None:
            raise ValueError(
                "`input_tensor` is an eager tensor; expected a tensor of a `tf.compat.v1` graph "
                "(for TF2 use `graphaudit.reference.keras3.frozen_vgg19`)"
            )
    elif tf.executing_eagerly():
        raise RuntimeError(
            "VGG19 builds a `tf.compat.v1` graph, but TensorFlow is executing eagerly; build it "
            "inside `with tf.Graph().as_default():` (or after "
            "`tf.compat.v1.disable_eager_execution()`), or use "
            "`graphaudit.reference.keras3.frozen_vgg19` for TF2"
        )
    else:
        graph = tf.compat.v1.get_default_graph()
    if graph.building_function:
        raise RuntimeError(
            "VGG19 cannot be built inside a `tf.function`; expected a `tf.compat.v1` graph"
        )
    return graph


def _vgg_preprocessing(images: tf.Tensor) -> tf.Tensor:
    """Raw RGB 0-255 to what VGG was trained on: BGR with the ImageNet mean subtracted."""
    import tensorflow as tf

    if images.dtype != tf.float32:
        # uint8 images are the common case; VGG's arithmetic is float32.
        images = tf.cast(images, tf.float32, name="to_float")
    bgr = tf.reverse(images, axis=[-1], name="rgb_to_bgr")
    mean = tf.constant(VGG_MEAN_BGR, dtype=tf.float32, name="imagenet_mean_bgr")
    return tf.subtract(bgr, mean, name="centered")


def _build_backbone(preprocessed: tf.Tensor, *, trainable: bool) -> Any:
    """tf_keras VGG19 built directly on `preprocessed`, so the graph holds a single copy."""
    import tensorflow as tf
    import tf_keras

    def creator(next_creator: Any, **kwargs: Any) -> Any:
        # Keras creates its variables trainable when the layer is; there is no argument to ask
        # otherwise, so the flag is set where the variable is made. It then stays out of
        # TRAINABLE_VARIABLES, and `optimizer.minimize(loss)` without `var_list` cannot touch it.
        kwargs["trainable"] = trainable
        return next_creator(**kwargs)

    with tf.variable_creator_scope(creator):
        model = tf_keras.applications.VGG19(
            include_top=False, weights=None, input_tensor=preprocessed
        )
    model.trainable = trainable  # keep Keras' own view (`trainable_weights`) in line
    return model


def _relative_name(variable: tf.Variable, model_scope: str) -> str:
    """`vgg19/model/block1_conv1/kernel:0` -> `block1_conv1/kernel`."""
    name = variable.name.split(":")[0]
    return name[len(model_scope) :] if name.startswith(model_scope) else name


def _read_pretrained(weights: str | os.PathLike[str]) -> list[tuple[str, np.ndarray]]:
    """Load the weights with Keras' own loader, in a private graph, and keep them as numpy arrays.

    Keras' loader (not a hand-written h5 reader) gives exactly what `tf_keras.applications.VGG19(
    weights=...)` would, and downloads `imagenet` through Keras' cache. The private graph and
    session leave nothing in the caller's graph and do not create Keras' global session.
    """
    import tensorflow as tf
    import tf_keras

    graph = tf.Graph()
    # The donor's initial values are overwritten by the file, but its random initializers still
    # run; under op determinism (`TF_DETERMINISTIC_OPS=1`) a random op without a seed refuses to.
    graph.seed = 0
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session, session.as_default():
        donor = tf_keras.applications.VGG19(
            include_top=False, weights=weights, input_shape=(None, None, 3)
        )
        values = session.run(donor.weights)
        names = [v.name.split(":")[0] for v in donor.weights]
    snapshot = []
    for name, value in zip(names, values):
        value = np.ascontiguousarray(value, dtype=np.float32)
        value.setflags(write=False)  # the snapshot is the source of truth; nobody edits it
        snapshot.append((name, value))
    return snapshot
