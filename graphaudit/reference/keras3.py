"""VGG19 for TF2 and Keras 3: preprocessing inside, backbone frozen and run in inference mode."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Union

from graphaudit.reference.vgg19 import VGG_MEAN_BGR

if TYPE_CHECKING:  # Keras (and TensorFlow behind it) is imported when a model is built.
    import keras

__all__ = ["frozen_vgg19"]


def frozen_vgg19(
    input_shape: Sequence[int | None] = (None, None, 3),
    weights: Union[str, "os.PathLike[str]", None] = "imagenet",
    name: str = "frozen_vgg19",
) -> keras.Model:
    """A Keras 3 model from raw RGB images (0-255) to VGG19's `block5_pool` features.

    The TF2 counterpart of `graphaudit.reference.VGG19`; the seed article's pitfalls map as:

    - pretrained values live in the Keras variables themselves, so there is no session to lose
      them in and no global initializer to reset them (pitfalls 1 and 2);
    - the backbone is one nested `vgg19` model, used once (pitfall 3);
    - the backbone has `trainable = False`, so `fit()`, `model.trainable_weights` and a
      `tf.GradientTape` over them leave it alone, and it is called with `training=False`, so
      it stays in inference mode even when the outer model trains. VGG19 has no BatchNorm or
      Dropout, but a backbone swapped in later may, and this is what keeps it frozen (pitfall 4).

    The model holds three layers: `images` (input), `preprocessing` (a nested model of
    built-in ops: RGB to BGR, ImageNet mean subtraction) and `vgg19` (the backbone). No `Lambda`
    layer is used, so the model saves and reloads with `safe_mode=True`.
    """
    import keras
    import numpy as np

    shape = tuple(input_shape)
    if len(shape) != 3 or shape[-1] != 3:
        raise ValueError(
            f"`input_shape` must be (height, width, 3) with None for unknown sizes; found {shape}"
        )
    if weights is not None and weights != "imagenet" and not os.path.isfile(weights):
        raise FileNotFoundError(
            "`weights` must be 'imagenet', None, or a Keras .h5 weights file; "
            f"no such file: {os.fspath(weights)}"
        )

    raw = keras.Input(shape=shape, name="raw_rgb")
    bgr = keras.ops.flip(raw, axis=-1)
    centered = keras.ops.subtract(bgr, np.asarray(VGG_MEAN_BGR, dtype="float32"))
    preprocessing = keras.Model(raw, centered, name="preprocessing")

    backbone = keras.applications.VGG19(
        include_top=False, weights=weights, input_shape=shape, name="vgg19"
    )
    backbone.trainable = False

    images = keras.Input(shape=shape, name="images")
    features = backbone(preprocessing(images), training=False)
    return keras.Model(images, features, name=name)
