"""GA302 pretrained-weights-trainable on hand-built artifacts: a pretrained backbone left trainable, no training seen."""

from __future__ import annotations

import pytest

from graphaudit.testing.harness import (apply_gradients, assert_clean, assert_findings, graph, head, keras_layer,
                                        load_weights, mlp, mobilenet, placeholder, render, resnet, vgg)

IMAGE = (None, 32, 32, 3)
PRETRAINED = {"pretrained": ["backbone/*"]}


def exported(family, *, fmt="meta", frozen=False, loaded=False, train_head=False, **kw):
    """A classifier on a backbone, exported for inference (no train op unless ``train_head``)."""
    img = placeholder("images", IMAGE)
    net = family("backbone", img, trainable=not frozen, **kw)
    top = head("head", net.out, 8)
    extra = [load_weights(*net.variables)] if loaded else []
    kwargs = {"outputs": [top.out]}
    if train_head:
        step = apply_gradients(*top.variables, loss=top.out)
        extra.append(step)
        kwargs = {"train_op": step.out}
    return graph(img, net, top, *extra, format=fmt, saver=fmt == "meta", **kwargs)


def mlp_exported(**kw):
    x = placeholder("features", (None, 16))
    net = mlp("backbone", x, (16, 16, 16, 8), **kw)
    return graph(x, net, format="saved_model", outputs=[net.out])


def keras_frozen_layers():
    """tf_keras' keras_metadata.pb says the backbone's layers are frozen, whatever the VariableDefs say."""
    img = placeholder("images", IMAGE)
    net = vgg("", img)
    top = head("head", net.out, 8)
    layers = [keras_layer(f"block{b}_conv{c}", "Conv2D", trainable=False) for b in (1, 2) for c in (1, 2)]
    return graph(img, net, top, format="saved_model", outputs=[top.out], keras=layers)


BAD = {
    "vgg-collection": (lambda: exported(vgg), PRETRAINED, "backbone/block1_conv1/kernel",
                       r"^8 of the 8 variables of pretrained `backbone` \(1,140 of 1,140 params\) are marked "
                       r"trainable, by TRAINABLE_VARIABLES collection \(8\); the next `fit\(\)` or `minimize\(\)` "
                       r"trains them$"),
    "resnet-saved-model": (lambda: exported(resnet, fmt="saved_model"), PRETRAINED, "backbone/conv1_bn/gamma",
                           r"^20 of the 30 variables of pretrained `backbone` \(2,640 of 2,720 params\) are marked "
                           r"trainable"),
    "mobilenet-weight-loads": (lambda: exported(mobilenet, loaded=True), {}, "backbone/Conv1/kernel",
                               r"^15 of the 25 variables of pretrained `backbone` \(568 of 648 params\)"),
    "vgg-ref-variables": (lambda: exported(vgg, resource=False), PRETRAINED, "backbone/block2_conv1/kernel",
                          r"^8 of the 8 variables"),
    "mlp-saved-model": (mlp_exported, PRETRAINED, "backbone/dense_2/bias",
                        r"^6 of the 6 variables of pretrained `backbone` \(680 of 680 params\)"),
}


@pytest.mark.parametrize("build, options, variable, message", BAD.values(), ids=BAD.keys())
def test_a_trainable_pretrained_backbone_is_reported(build, options, variable, message):
    (finding,) = assert_findings(build(), "GA302", variable, message=message, severity="warning", **options)
    assert not any(v.endswith(("moving_mean", "moving_variance")) for v in finding.location.variables)


def unused_backbone():
    """A pretrained backbone nothing reads: GA101/GA102's business, not a training risk."""
    img, other = placeholder("images", IMAGE), placeholder("input_1", IMAGE)
    used = mlp("head", placeholder("features", (None, 16)), (16, 8))
    spare = vgg("backbone", other)
    return graph(img, other, placeholder("features", (None, 16)), used, spare, outputs=[used.out], saver=True)


GOOD = {
    "vgg-frozen": (lambda: exported(vgg, frozen=True), PRETRAINED),
    "resnet-frozen-weight-loads": (lambda: exported(resnet, frozen=True, loaded=True), {}),
    "keras-metadata-frozen": (keras_frozen_layers, {"pretrained": ["block*"]}),
    "mobilenet-head-trained": (lambda: exported(mobilenet, train_head=True), PRETRAINED),
    "mlp-finetune-declared": (mlp_exported, {**PRETRAINED, "finetune": ["backbone/*"]}),
    "vgg-not-pretrained": (lambda: exported(vgg), {}),
    "unused-backbone": (unused_backbone, PRETRAINED),
}


@pytest.mark.parametrize("build, options", GOOD.values(), ids=GOOD.keys())
def test_frozen_or_trained_on_purpose_is_not_reported(build, options):
    assert_clean(build(), "GA302", **options)


def test_the_keras_frozen_backbone_is_reported_without_its_metadata():
    case = keras_frozen_layers()
    case.keras = []
    assert_findings(case, "GA302", "block1_conv1/kernel", pretrained=["block*"])


def test_console_output(golden):
    golden("GA302", render(exported(vgg), "GA302", **PRETRAINED))
