"""GA303 frozen-batchnorm-training on hand-built artifacts: a pretrained backbone's BatchNorm in training mode."""

from __future__ import annotations

import pytest

from graphaudit.testing.harness import (apply_gradients, assert_clean, assert_findings, batchnorm, conv, graph, head,
                                        load_weights, mobilenet, placeholder, render, resnet)

IMAGE = (None, 32, 32, 3)
PRETRAINED = {"pretrained": ["backbone/*"]}


def served(family, *, training=True, fmt="saved_model", loaded=False, **kw):
    """A serving export whose backbone was called in training mode (Keras' `training=True`)."""
    img = placeholder("images", IMAGE)
    net = family("backbone", img, training=training, **kw)
    top = head("head", net.out, 8)
    extra = [load_weights(*net.variables)] if loaded else []
    return graph(img, net, top, *extra, format=fmt, outputs=[top.out], saver=fmt == "meta")


def conv_bn_stack(scope, x, training):
    """A VGG-like stack with BatchNorm after each conv (VGG-BN), built from single layers."""
    c1 = conv(f"{scope}/conv1", x, (3, 3, 3, 8), activation=None)
    b1 = batchnorm(f"{scope}/bn1", c1.out, 8, training=training)
    c2 = conv(f"{scope}/conv2", b1.out, (3, 3, 8, 8), activation=None)
    b2 = batchnorm(f"{scope}/bn2", c2.out, 8, training=training)
    return [c1, b1, c2, b2], b2


def vgg_bn_served(training=True):
    img = placeholder("images", IMAGE)
    layers, last = conv_bn_stack("backbone", img, training)
    top = head("head", last.out, 8)
    return graph(img, *layers, top, format="saved_model", outputs=[top.out])


def frozen_backbone_drifting(family=resnet):
    """A TF1 training graph: the head is trained, the frozen backbone's BatchNorm updates ride along."""
    img = placeholder("images", IMAGE)
    net = family("backbone", img, training=True, trainable=False)
    top = head("head", net.out, 8)
    step = apply_gradients(*top.variables, loss=top.out, also=net.updates)
    return graph(img, net, top, step, train_op=step.out, saver=True)


BAD = {
    "resnet-serving": (lambda: served(resnet), PRETRAINED, "backbone/conv1_bn/moving_mean",
                       r"^5 BatchNorm layers of pretrained `backbone` run in training mode \(`FusedBatchNormV3` "
                       r"with `is_training=true`\) in signature `serving_default`: `backbone/conv1_bn`, "
                       r"`backbone/conv2_block1_1_bn`, `backbone/conv2_block1_2_bn` and 2 more; predictions depend "
                       r"on the batch$"),
    "mobilenet-weight-loads": (lambda: served(mobilenet, loaded=True, fmt="meta"), {}, "backbone/bn_Conv1/gamma",
                               r"^5 BatchNorm layers of pretrained `backbone` run in training mode"),
    "resnet-default-is-training": (lambda: served(resnet, training=None), PRETRAINED, "backbone/conv1_bn/beta",
                                   r"^5 BatchNorm layers"),
    "vgg-bn-serving": (vgg_bn_served, PRETRAINED, "backbone/bn2/moving_variance",
                       r"^2 BatchNorm layers of pretrained `backbone` run in training mode .*: `backbone/bn1`, "
                       r"`backbone/bn2`; predictions depend on the batch$"),
    "resnet-frozen-drift": (frozen_backbone_drifting, PRETRAINED, "backbone/conv1_bn/moving_mean",
                            r"^the train op updates the moving statistics of 5 BatchNorm layers of pretrained "
                            r"`backbone`, whose other variables it leaves alone: .*; the frozen backbone's "
                            r"normalization drifts with every batch$"),
    "mobilenet-frozen-drift": (lambda: frozen_backbone_drifting(mobilenet), PRETRAINED,
                               "backbone/expanded_conv_project_BN/moving_variance",
                               r"^the train op updates the moving statistics of 5 BatchNorm layers"),
}


@pytest.mark.parametrize("build, options, variable, message", BAD.values(), ids=BAD.keys())
def test_batchnorm_of_a_pretrained_backbone_in_training_mode_is_reported(build, options, variable, message):
    (finding,) = assert_findings(build(), "GA303", variable, message=message, **options)
    assert not any(v.startswith("head/") for v in finding.location.variables)


def trained_with_its_head():
    """Fine-tuning the whole model: BatchNorm in training mode is what the train op is for."""
    img = placeholder("images", IMAGE)
    net = resnet("backbone", img, training=True)
    top = head("head", net.out, 8)
    step = apply_gradients(*[v for v in (*net.variables, *top.variables) if v.trainable], loss=top.out,
                           also=net.updates)
    return graph(img, net, top, step, train_op=step.out, saver=True)


GOOD = {
    "resnet-inference-mode": (lambda: served(resnet, training=False), PRETRAINED),
    "mobilenet-inference-mode": (lambda: served(mobilenet, training=False), PRETRAINED),
    "vgg-bn-inference-mode": (lambda: vgg_bn_served(training=False), PRETRAINED),
    "resnet-not-pretrained": (lambda: served(resnet), {}),
    "resnet-fine-tuned-as-a-whole": (trained_with_its_head, PRETRAINED),
    "only-the-head-pretrained": (lambda: frozen_backbone_drifting(mobilenet), {"pretrained": ["head/*"]}),
}


@pytest.mark.parametrize("build, options", GOOD.values(), ids=GOOD.keys())
def test_inference_mode_or_no_pretrained_backbone_is_not_reported(build, options):
    assert_clean(build(), "GA303", **options)


def test_console_output(golden):
    golden("GA303", render(served(resnet), "GA303", **PRETRAINED))
