"""GA202 pretrained-weights-reinitialized on hand-built artifacts: pretrained variables hold fresh initializer draws."""

from __future__ import annotations

import math

import numpy as np
import pytest

from graphaudit.testing.harness import (assert_clean, assert_findings, fresh, graph, head, load_weights, mlp,
                                        mobilenet, placeholder, render, resnet, trained, vgg)

IMAGE = (None, 32, 32, 3)
PRETRAINED = {"pretrained": ["backbone/*"]}


def saved(variables, fresh_if=lambda v: True):
    """Checkpoint values: what each variable's initializer draws, or trained-looking values."""
    return {v.name: fresh(v.init, v.shape, v.name) if fresh_if(v) else trained(v.shape, v.name) for v in variables}


def reinitialized(family, *, fmt="meta", loaded=False, fresh_if=lambda v: True, widths=None, **kw):
    """`global_variables_initializer()` ran after the pretrained weights were loaded, then the model was saved."""
    img = placeholder("images", IMAGE)
    net = family("backbone", img, **({"widths": widths} if widths else {}), **kw)
    top = head("head", net.out, 8)
    values = {**saved(net.variables, fresh_if), **saved(top.variables, lambda v: False)}
    extra = [load_weights(*net.variables)] if loaded else []
    return graph(img, net, top, *extra, format=fmt, outputs=[top.out], saver=fmt == "meta", checkpoint=values)


def mlp_reinitialized(fresh_values=True):
    x = placeholder("features", (None, 64))
    net = mlp("backbone", x, (64, 64, 64, 32))
    return graph(x, net, format="saved_model", outputs=[net.out],
                 checkpoint=saved(net.variables, lambda v: fresh_values))


def second_block(v):
    return "block2" in v.name


BAD = {
    "vgg-all-layers": (lambda: reinitialized(vgg, widths=(8, 16)), PRETRAINED, "backbone/block1_conv2/kernel",
                       r"^pretrained declared `backbone/\*` in `backbone/` \(4,296 params\) holds fresh initializer "
                       r"values: 4/4 layers re-initialized \(4/4 biases exactly zero; 4/4 kernels uniform within the "
                       r"glorot limit\)$", "high"),
    "resnet-batchnorm-constants": (lambda: reinitialized(resnet), PRETRAINED, "backbone/conv1_bn/moving_variance",
                                   r"\(2,720 params\) holds fresh initializer values: 10/10 layers re-initialized "
                                   r"\(5/5 BatchNorm betas exactly zero; 5/5 BatchNorm gammas exactly one; ", "high"),
    "mobilenet-weight-loads": (lambda: reinitialized(mobilenet, loaded=True), {}, "backbone/bn_Conv1/gamma",
                               r"^pretrained loaded weights in `backbone/` \(648 params\) holds fresh initializer "
                               r"values: 10/10 layers re-initialized .*2/2 depthwise kernels uniform within the glorot "
                               r"limit\)$", "high"),
    "vgg-ref-variables": (lambda: reinitialized(vgg, resource=False, widths=(8, 16)), PRETRAINED,
                          "backbone/block2_conv1/kernel", r"4/4 layers re-initialized", "high"),
    "mlp-saved-model": (mlp_reinitialized, PRETRAINED, "backbone/dense_1/kernel", r"\(10,400 params\) holds fresh initializer values: 3/3 layers re-initialized",
                        "high"),
    "vgg-half-the-layers": (lambda: reinitialized(vgg, widths=(8, 16), fresh_if=second_block), PRETRAINED,
                            "backbone/block2_conv2/kernel", r"2/4 layers re-initialized \(2/4 biases exactly zero; 2/4 kernels uniform within the "
                            r"glorot limit\)", "high"),
}


@pytest.mark.parametrize("build, options, variable, message, confidence", BAD.values(), ids=BAD.keys())
def test_pretrained_variables_holding_initializer_output_are_reported(build, options, variable, message, confidence):
    (finding,) = assert_findings(build(), "GA202", variable, message=message, confidence=confidence, **options)
    assert not any(v.startswith("head/") for v in finding.location.variables)


def one_layer_reset():
    """Only the last layer holds fresh values (a replaced classifier layer): too little to call the backbone reset."""
    return reinitialized(vgg, widths=(8, 16, 16), fresh_if=lambda v: "block3_conv2" in v.name)


GOOD = {
    "vgg-trained-values": (lambda: reinitialized(vgg, widths=(8, 16), fresh_if=lambda v: False), PRETRAINED),
    "resnet-trained-values": (lambda: reinitialized(resnet, fresh_if=lambda v: False), PRETRAINED),
    "mobilenet-fresh-but-not-pretrained": (lambda: reinitialized(mobilenet), {}),
    "mlp-trained-values": (lambda: mlp_reinitialized(fresh_values=False), PRETRAINED),
    "vgg-one-layer-reset": (one_layer_reset, PRETRAINED),
    "graphdef-has-no-values": (lambda: graph(placeholder("x", (None, 64)), mlp("backbone", "x", (64, 64, 8)),
                                             format="graphdef"), PRETRAINED),
}


@pytest.mark.parametrize("build, options", GOOD.values(), ids=GOOD.keys())
def test_trained_values_or_no_pretrained_evidence_are_not_reported(build, options):
    assert_clean(build(), "GA202", **options)


def test_console_output(golden):
    golden("GA202", render(reinitialized(vgg, widths=(8, 16)), "GA202", **PRETRAINED))


def sampled_blocks_look_fresh():
    """Pretrained kernels whose values look like a fresh glorot draw in every block a sample reads, and are
    narrower (trained) everywhere else; the biases are zero, as some pretrained layers' are."""
    from graphaudit.analysis import weight_stats as ws

    img = placeholder("images", IMAGE)
    net = vgg("backbone", img, widths=(192, 192))
    top = head("head", net.out, 8)
    values = saved(top.variables, lambda v: False)
    rng = np.random.default_rng(202)
    for v in net.variables:
        size = math.prod(v.shape)
        if v.name.endswith("bias"):
            values[v.name] = np.zeros(v.shape, np.float32)
            continue
        if size < ws.SAMPLE_FROM:
            values[v.name] = trained(v.shape, v.name)
            continue
        limit = float(np.abs(fresh(v.init, v.shape, v.name)).max())
        flat = rng.uniform(-0.9 * limit, 0.9 * limit, size).astype(np.float32)
        block, starts = ws.sample_plan(size, v.shape[-1])
        for k, start in enumerate(starts):
            # Evenly spread values look exactly uniform; the last block is a little narrow (trained).
            even = rng.permutation(np.linspace(-limit, limit, block))
            flat[start:start + block] = even if k < len(starts) - 1 else rng.uniform(-0.975 * limit, 0.975 * limit, block)
        values[v.name] = flat.reshape(v.shape)
    return graph(img, net, top, format="meta", outputs=[top.out], saver=True, checkpoint=values)


def test_a_sample_that_looks_fresh_is_confirmed_on_every_value(monkeypatch):
    from graphaudit.analysis import weight_stats as ws

    case = sampled_blocks_look_fresh()
    assert_clean(case, "GA202", **PRETRAINED)
    # Trusting the pooled sample alone would report 3/4 layers re-initialized: a false alarm.
    monkeypatch.setattr(ws, "BLOCK_Z_FRESH", math.inf)
    assert_findings(case, "GA202", "backbone/block2_conv2/kernel", message=r"3/4 layers re-initialized",
                    **PRETRAINED)
