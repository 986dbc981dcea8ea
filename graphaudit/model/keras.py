"""What a Keras file says about its model: layers, training config, optimizer and its saved weights."""

from __future__ import annotations

from typing import Any, Mapping

from graphaudit.records import dataclass

# How a variable's `trainable_source` ends when Keras never trains it: readers write it, and the
# optimizer-slot analysis leaves such variables out when it lines slots up by order.
NEVER_TRAINED = "is never trained"


@dataclass(frozen=True)
class KerasLayer:
    """One layer of a Keras model config, with the `trainable` that actually applies to it."""

    name: str
    class_name: str
    path: tuple[str, ...]  # names of the enclosing models, outermost first, then this layer
    trainable: bool  # the layer's own flag and every enclosing model's
    own_trainable: bool
    config: Mapping[str, Any]
    index: int  # position in the parent's layer list
    frozen_by: str | None = None  # the outermost enclosing model with trainable=false, if any

    @property
    def qualified(self) -> str:
        return "/".join(self.path)


@dataclass(frozen=True)
class OptimizerWeight:
    """One weight an optimizer saved: where it is stored, its name when the file has one."""

    key: str  # dataset path, or checkpoint key
    name: str  # e.g. `Adam/m/Conv1/kernel`; empty when only an index is stored (Keras 3)
    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class KerasInfo:
    """The Keras facts of a `.h5` or `.keras` file (keras_metadata.pb is Artifact.keras_objects)."""

    keras_version: str = ""
    backend: str = ""  # tf_keras .h5 only
    model_config: Mapping[str, Any] | None = None
    layers: tuple[KerasLayer, ...] = ()  # every layer of model_config, depth first
    training_config: Mapping[str, Any] | None = None  # tf_keras .h5: set by compile()
    optimizer_class: str = ""  # from training_config or a Keras 3 compile_config
    optimizer_name: str = ""  # Keras 3: the name on the weights file's optimizer group
    optimizer_weights: tuple[OptimizerWeight, ...] = ()
    weights_only: bool = False  # Keras 3 `save_weights`: no config at all
