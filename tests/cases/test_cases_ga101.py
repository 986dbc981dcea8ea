"""GA101 orphaned-model-copy on hand-built graphs: a model called twice leaves a dead copy reading its weights."""

from __future__ import annotations

import pytest

from graphaudit.testing.harness import (apply_gradients, assert_clean, assert_findings, conv, graph, head, mlp,
                                        mobilenet, op, placeholder, render, resnet, vgg)

IMAGE = (None, 32, 32, 3)


def built_twice(family, fmt="meta", features=8, **kw):
    """Keras' classic mistake: the model is built on its own `input_1`, then called on `images`."""
    inp, img = placeholder("input_1", IMAGE), placeholder("images", IMAGE)
    first = family("", inp, **kw)
    second = family("model", img, share=first, **kw)
    top = head("head", second.out, features)
    if fmt == "graphdef":
        return graph(inp, img, first, second, top, format="graphdef")
    return graph(inp, img, first, second, top, format=fmt, outputs=[top.out], saver=True)


def mlp_twice():
    inp, x = placeholder("input_1", (None, 16)), placeholder("features", (None, 16))
    first = mlp("", inp, (16, 16, 16, 16, 16, 8))
    second = mlp("model", x, (16, 16, 16, 16, 16, 8), share=first)
    return graph(inp, x, first, second, outputs=[second.out], saver=True)


def trained_twice():
    """TF1 ref variables (one shared `<var>/read`), the used copy trained by a train op."""
    inp, img = placeholder("input_1", IMAGE), placeholder("images", IMAGE)
    first = vgg("", inp, resource=False, widths=(4, 8, 8))
    second = vgg("model", img, share=first, widths=(4, 8, 8))
    top = head("head", second.out, 8)
    train = apply_gradients(*top.variables, loss=top.out)
    return graph(inp, img, first, second, top, train, train_op=train.out, saver=True)


BAD = {
    "vgg-meta": (lambda: built_twice(vgg), r"^`block1_conv1/` \.\.\. `block2_pool/` \(22 ops, 1,140 params\) is an "
                 r"unused copy of `model/`: it reads the same weights, hangs off the placeholder `input_1` "
                 r"\(\?, 32, 32, 3\) that nothing feeds, and reaches no root$", "block1_conv1/kernel"),
    "resnet-saved-model": (lambda: built_twice(resnet, "saved_model"), r"\(52 ops, 2,720 params\) is an unused copy "
                           r"of `model/`", "conv2_block2_2_bn/gamma"),
    "mobilenet-meta": (lambda: built_twice(mobilenet), r"\(38 ops, 648 params\) is an unused copy of `model/`",
                       "expanded_conv_depthwise/depthwise_kernel"),
    "mlp-meta": (mlp_twice, r"^`dense/` \.\.\. `dense_4/` \(25 ops, 1,224 params\) is an unused copy of `model/`",
                 "dense_4/kernel"),
    "vgg-graphdef-inferred-roots": (lambda: built_twice(vgg, "graphdef"), r"\(22 ops, 1,140 params\) is an unused "
                                    r"copy of `model/`", "block2_conv2/bias"),
    "vgg-ref-variables-train-op": (trained_twice, r"\(21 ops, 2,308 params\) is an unused copy of `model/`",
                                   "block1_conv1/kernel"),
}


@pytest.mark.parametrize("build, message, weight", BAD.values(), ids=BAD.keys())
def test_a_dead_copy_reading_the_live_copy_s_weights_is_reported(build, message, weight):
    (finding,) = assert_findings(build(), "GA101", weight, "input_1", message=message, severity="error",
                                 confidence="high")
    assert finding.location.scope == ""
    assert not any(n.startswith("model/") for n in finding.location.nodes)


def built_once(family):
    img = placeholder("images", IMAGE)
    net = family("", img)
    top = head("head", net.out, 8)
    return graph(img, net, top, outputs=[top.out], saver=True)


def siamese():
    """Both copies of a shared-weight tower are used: a siamese network's two branches."""
    a, b = placeholder("left", IMAGE), placeholder("right", IMAGE)
    first = vgg("", a)
    second = vgg("twin", b, share=first)
    diff = op("distance", "Sub", first.out, second.out)
    return graph(a, b, first, second, diff, outputs=[diff.name], saver=True)


def small_dead_copy():
    """A copy of two conv layers: under the 20-op threshold, too small to call a model."""
    inp, img = placeholder("input_1", IMAGE), placeholder("images", IMAGE)
    c1 = conv("conv_a", inp, (3, 3, 3, 4))
    c2 = conv("model/conv_a", img, (3, 3, 3, 4), share=c1)
    top = head("head", c2.out, 4)
    return graph(inp, img, c1, c2, top, outputs=[top.out], saver=True)


def instances_with_own_weights():
    """A second instance with variables of its own: GA102's finding, not a copy reading shared weights."""
    img = placeholder("images", IMAGE)
    used = vgg("", img)
    unused = vgg("", placeholder("input_2", IMAGE), suffix="_1")
    top = head("head", used.out, 8)
    return graph(img, placeholder("input_2", IMAGE), used, unused, top, outputs=[top.out], saver=True)


def both_copies_trained():
    """The second call's output feeds the loss too: both copies run."""
    inp, img = placeholder("input_1", IMAGE), placeholder("images", IMAGE)
    first = resnet("", inp)
    second = resnet("model", img, share=first)
    both = op("loss", "AddV2", first.out, second.out)
    train = apply_gradients(*first.variables, loss=both.name)
    return graph(inp, img, first, second, both, train, train_op=train.out, saver=True)


GOOD = {
    "vgg-built-once": lambda: built_once(vgg),
    "resnet-built-once": lambda: built_once(resnet),
    "mobilenet-built-once": lambda: built_once(mobilenet),
    "siamese-both-used": siamese,
    "below-threshold": small_dead_copy,
    "own-weights-instance": instances_with_own_weights,
    "both-copies-in-the-loss": both_copies_trained,
}


@pytest.mark.parametrize("build", GOOD.values(), ids=GOOD.keys())
def test_no_dead_copy_of_shared_weights_no_finding(build):
    assert_clean(build(), "GA101")


def test_naming_the_dead_copy_s_output_keeps_it():
    case = built_twice(vgg)
    assert_clean(case, "GA101", outputs=["head/dense/Softmax", "block2_pool/MaxPool"])


def test_console_output(golden):
    golden("GA101", render(built_twice(vgg), "GA101"))
