"""GA302 pretrained-weights-trainable on hand-built artifacts: a trainable pretrained backbone, set up for training."""

from __future__ import annotations

import pytest

from graphaudit.testing.harness import (apply_gradients, assert_clean, assert_findings, graph, head, keras_compiled,
                                        keras_layer, load_weights, mlp, mobilenet, placeholder, render, resnet, var,
                                        vgg)

IMAGE = (None, 32, 32, 3)
PRETRAINED = {"pretrained": ["backbone/*"]}


def compiled(family, *, fmt="saved_model", frozen=False, loaded=False, train_head=False, **kw):
    """A classifier on a backbone, set up for training but not trained yet: a tf_keras SavedModel
    with a `training_config` (or, as a TF1 `.meta`, the optimizer's `beta1_power`), no train op
    unless ``train_head``, and no optimizer slots yet."""
    img = placeholder("images", IMAGE)
    net = family("backbone", img, trainable=not frozen, **kw)
    top = head("head", net.out, 8)
    extra = [load_weights(*net.variables)] if loaded else []
    kwargs = {"outputs": [top.out]}
    if train_head:
        step = apply_gradients(*top.variables, loss=top.out)
        extra.append(step)
        kwargs = {"train_op": step.out}
    if fmt == "meta":
        extra.append(var("beta1_power", (), init=0.9, trainable=False))
        return graph(img, net, top, *extra, format=fmt, saver=True, **kwargs)
    return graph(img, net, top, *extra, format=fmt, keras=[keras_compiled()], **kwargs)


def inference_export(family):
    """The same classifier exported for serving: nothing in it can train."""
    img = placeholder("images", IMAGE)
    net = family("backbone", img)
    top = head("head", net.out, 8)
    return graph(img, net, top, format="saved_model", outputs=[top.out])


def mlp_compiled():
    x = placeholder("features", (None, 16))
    net = mlp("backbone", x, (16, 16, 16, 8))
    return graph(x, net, format="saved_model", outputs=[net.out], keras=[keras_compiled()])


def keras_frozen_layers(with_layers=True):
    """tf_keras' keras_metadata.pb says the backbone's layers are frozen, whatever the VariableDefs say."""
    img = placeholder("images", IMAGE)
    net = vgg("", img)
    top = head("head", net.out, 8)
    layers = [keras_layer(f"block{b}_conv{c}", "Conv2D", trainable=False) for b in (1, 2) for c in (1, 2)]
    return graph(img, net, top, format="saved_model", outputs=[top.out],
                 keras=[keras_compiled(), *(layers if with_layers else [])])


BAD = {
    "vgg-meta-beta1-power": (lambda: compiled(vgg, fmt="meta"), PRETRAINED, "backbone/block1_conv1/kernel",
                             r"^8 of the 8 variables of pretrained `backbone` \(1,140 of 1,140 params\) are marked "
                             r"trainable, by TRAINABLE_VARIABLES collection \(8\)"),
    "resnet-compiled": (lambda: compiled(resnet), PRETRAINED, "backbone/conv1_bn/gamma",
                        r"^20 of the 30 variables of pretrained `backbone` \(2,640 of 2,720 params\) are marked "
                        r"trainable"),
    "mobilenet-weight-loads": (lambda: compiled(mobilenet, loaded=True), {}, "backbone/Conv1/kernel",
                               r"^15 of the 25 variables of pretrained `backbone` \(568 of 648 params\)"),
    "vgg-ref-variables-meta": (lambda: compiled(vgg, fmt="meta", resource=False), PRETRAINED,
                               "backbone/block2_conv1/kernel", r"^8 of the 8 variables"),
    "mlp-compiled": (mlp_compiled, PRETRAINED, "backbone/dense_2/bias",
                     r"^6 of the 6 variables of pretrained `backbone` \(680 of 680 params\)"),
    "keras-layers-without-metadata": (lambda: keras_frozen_layers(with_layers=False), {"pretrained": ["block*"]},
                                      "block1_conv1/kernel",
                                      r"^8 of the 8 variables of pretrained backbone declared `block\*` \(1,140 of 1,140 "
                                      r"params\) are marked trainable"),
}


@pytest.mark.parametrize("build, options, variable, message", BAD.values(), ids=BAD.keys())
def test_a_trainable_pretrained_backbone_is_reported(build, options, variable, message):
    (finding,) = assert_findings(build(), "GA302", variable, message=message, **options)
    assert not any(v.endswith(("moving_mean", "moving_variance")) for v in finding.location.variables)


def unused_backbone():
    """A pretrained backbone nothing reads: GA101/GA102's business, not a training risk."""
    other, x = placeholder("input_1", IMAGE), placeholder("features", (None, 16))
    used = mlp("head", x, (16, 8))
    spare = vgg("backbone", other)
    return graph(other, x, used, spare, outputs=[used.out], keras=[keras_compiled()])


GOOD = {
    "vgg-frozen": (lambda: compiled(vgg, frozen=True), PRETRAINED),
    "resnet-frozen-weight-loads": (lambda: compiled(resnet, frozen=True, loaded=True), {}),
    "keras-metadata-frozen-layers": (keras_frozen_layers, {"pretrained": ["block*"]}),
    "mobilenet-only-the-head-trained": (lambda: compiled(mobilenet, train_head=True), PRETRAINED),
    "mlp-finetune-declared": (mlp_compiled, {**PRETRAINED, "finetune": ["backbone/*"]}),
    "vgg-not-pretrained": (lambda: compiled(vgg), {}),
    "vgg-inference-export": (lambda: inference_export(vgg), PRETRAINED),
    "resnet-inference-export": (lambda: inference_export(resnet), PRETRAINED),
    "unused-backbone": (unused_backbone, PRETRAINED),
}


@pytest.mark.parametrize("build, options", GOOD.values(), ids=GOOD.keys())
def test_frozen_inference_only_or_trained_on_purpose_is_not_reported(build, options):
    assert_clean(build(), "GA302", **options)


def test_console_output(golden):
    golden("GA302", render(compiled(resnet), "GA302", **PRETRAINED))
