"""GA301 pretrained-weights-updated on hand-built artifacts: the train op or saved slots touch a pretrained backbone."""

from __future__ import annotations

import pytest

from graphaudit.testing.harness import (apply_gradients, assert_clean, assert_findings, graph, head, load_weights,
                                        mlp, mobilenet, placeholder, render, resnet, var, vgg)

IMAGE = (None, 32, 32, 3)
PRETRAINED = {"pretrained": ["backbone/*"]}


def fine_tuned(family, *, train="all", optimizer="GradientDescent", fmt="meta", loaded=False, **kw):
    """A classifier on a backbone; the train op updates ``train`` ("all" or "head") variables."""
    img = placeholder("images", IMAGE)
    net = family("backbone", img, **kw)
    top = head("head", net.out, 8)
    # An optimizer trains the trainable variables only (not BatchNorm's moving statistics).
    trained_vars = [v for v in (*net.variables, *top.variables) if v.trainable] if train == "all" else top.variables
    step = apply_gradients(*trained_vars, loss=top.out, optimizer=optimizer)
    extra = [load_weights(*net.variables)] if loaded else []
    return graph(img, net, top, step, *extra, format=fmt, train_op=step.out, saver=True)


def mlp_trained():
    x = placeholder("features", (None, 16))
    net = mlp("backbone", x, (16, 16, 16, 8))
    step = apply_gradients(*net.variables, loss=net.out)
    return graph(x, net, step, format="saved_model", train_op=step.out, outputs=[net.out])


def slots_in_checkpoint():
    """An inference export of a fine-tuned graph: no train op, but the Momentum slot variables of
    the backbone were saved with it."""
    img = placeholder("images", IMAGE)
    net = vgg("backbone", img)
    top = head("head", net.out, 8)
    slots = [var(f"{v.name}/Momentum", v.shape, init="zeros", trainable=False) for v in net.variables]
    return graph(img, net, top, *slots, outputs=[top.out], saver=True)


BAD = {
    "vgg-sgd-all": (lambda: fine_tuned(vgg), PRETRAINED, "backbone/block1_conv1/kernel",
                    r"^pretrained `backbone` is being trained: the train op updates 8 of its 8 variables \(1,140 of "
                    r"1,140 params\) with `ResourceApplyGradientDescent`; no `finetune` declaration covers them$"),
    "resnet-momentum": (lambda: fine_tuned(resnet, optimizer="Momentum"), PRETRAINED, "backbone/conv1_conv/kernel",
                        r"the train op updates 20 of its \d+ variables \(2,640 of [\d,]+ params\) with "
                        r"`ResourceApplyMomentum`"),
    "mobilenet-weight-loads": (lambda: fine_tuned(mobilenet, loaded=True), {}, "backbone/Conv1/kernel",
                               r"the train op updates 15 of its 25 variables \(568 of 648 params\)"),
    "vgg-ref-variables": (lambda: fine_tuned(vgg, resource=False), PRETRAINED, "backbone/block2_conv2/bias",
                          r"updates 8 of its 8 variables \(1,140 of 1,140 params\) with `ApplyGradientDescent`"),
    "mlp-saved-model": (mlp_trained, PRETRAINED, "backbone/dense_1/kernel",
                        r"updates 6 of its 6 variables \(680 of 680 params\)"),
    "vgg-slots-in-checkpoint": (slots_in_checkpoint, PRETRAINED, "backbone/block1_conv2/kernel",
                                # the slots match `backbone/*` too, but are no part of the backbone's totals; the
                                # checkpoint is named as the report names the artifact, not by an absolute path
                                r"^pretrained `backbone` is being trained: checkpoint `model.ckpt` holds optimizer slots "
                                r"\(`Momentum`\) for 8 of its 8 variables \(1,140 of 1,140 params\)"),
}


@pytest.mark.parametrize("build, options, variable, message", BAD.values(), ids=BAD.keys())
def test_training_a_pretrained_backbone_is_reported(build, options, variable, message):
    (finding,) = assert_findings(build(), "GA301", variable, message=message, severity="error", **options)
    assert not any(v.startswith("head/") for v in finding.location.variables)


GOOD = {
    "vgg-head-only": (lambda: fine_tuned(vgg, train="head"), PRETRAINED),
    "resnet-head-only-momentum": (lambda: fine_tuned(resnet, train="head", optimizer="Momentum"), PRETRAINED),
    "vgg-finetune-declared": (lambda: fine_tuned(vgg), {**PRETRAINED, "finetune": ["backbone/*"]}),
    "mobilenet-not-pretrained": (lambda: fine_tuned(mobilenet), {}),
    "mlp-trained-from-scratch": (mlp_trained, {}),
    "vgg-head-only-with-weight-loads": (lambda: fine_tuned(vgg, train="head", loaded=True), {}),
}


@pytest.mark.parametrize("build, options", GOOD.values(), ids=GOOD.keys())
def test_a_backbone_left_alone_is_not_reported(build, options):
    assert_clean(build(), "GA301", **options)


def test_console_output(golden):
    golden("GA301", render(fine_tuned(vgg), "GA301", **PRETRAINED))
