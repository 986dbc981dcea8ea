"""Reference wrappers for pretrained Keras backbones, the fix-ups graphaudit's findings point to."""

from __future__ import annotations

# Neither module imports TensorFlow at import time; they do it when a model is built.
from graphaudit.reference.keras3 import frozen_vgg19
from graphaudit.reference.vgg19 import VGG19, VGG_MEAN_BGR

__all__ = ["VGG19", "VGG_MEAN_BGR", "frozen_vgg19"]
