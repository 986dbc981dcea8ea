"""GA102 duplicate-model-instance on hand-built graphs: the same architecture built again with new variables."""

from __future__ import annotations

import pytest

from graphaudit.testing.harness import (apply_gradients, assert_clean, assert_findings, graph, head, mlp, mobilenet,
                                        op, placeholder, render, resnet, vgg)

IMAGE = (None, 32, 32, 3)


def rebuilt(family, *, unused=1, fmt="meta", scoped=False, **kw):
    """The model built ``unused + 1`` times (a notebook cell run again); only the last build is used."""
    items, inputs = [], []
    for k in range(unused):
        x = placeholder(f"input_{k + 1}", IMAGE)
        inputs.append(x)
        suffix = "" if k == 0 else f"_{k}"
        items.append(family(f"model{suffix}" if scoped else "", x, **({} if scoped else {"suffix": suffix}), **kw))
    img = placeholder("images", IMAGE)
    suffix = f"_{unused}" if unused else ""
    last = family(f"model{suffix}" if scoped else "", img, **({} if scoped else {"suffix": suffix}), **kw)
    top = head("head", last.out, 8)
    extra = {} if fmt == "graphdef" else {"outputs": [top.out], "saver": True}
    return graph(*inputs, img, *items, last, top, format=fmt, **extra)


def mlp_rebuilt():
    x1, x2 = placeholder("input_1", (None, 16)), placeholder("features", (None, 16))
    sizes = (16, 16, 16, 16, 16, 8)
    old = mlp("", x1, sizes)
    new = mlp("", x2, sizes, first=len(sizes) - 1)
    return graph(x1, x2, old, new, outputs=[new.out], saver=True)


BAD = {
    "vgg-suffix": (lambda: rebuilt(vgg), r"^the same model is instantiated 2 times with separate variables \(.*\); "
                   r"only the instance .* is used, and the other 1 hold 1,140 unused params", "block1_conv1/kernel"),
    "vgg-five-builds": (lambda: rebuilt(vgg, unused=4), r"is instantiated 5 times with separate variables .* the "
                        r"other 4 hold 4,560 unused params", "block2_conv2_3/bias"),
    "resnet-scopes": (lambda: rebuilt(resnet, scoped=True), r"is instantiated 2 times .*; only the instance with "
                      r"suffix `_1` is used, and the other 1 hold 2,720 unused params", "model/conv1_bn/gamma"),
    "mobilenet-saved-model": (lambda: rebuilt(mobilenet, scoped=True, fmt="saved_model"),
                              r"the other 1 hold 648 unused params", "model/block_1_project/kernel"),
    "mlp-numbering": (mlp_rebuilt, r"the other 1 hold 1,224 unused params", "dense_3/kernel"),
    "vgg-graphdef-inferred-roots": (lambda: rebuilt(vgg, fmt="graphdef"), r"the other 1 hold 1,140 unused params",
                                    "block2_pool/MaxPool"),
}


@pytest.mark.parametrize("build, message, where", BAD.values(), ids=BAD.keys())
def test_an_unused_instance_with_its_own_variables_is_reported(build, message, where):
    (finding,) = assert_findings(build(), "GA102", where, message=message, confidence="high")
    assert not any(v.startswith("head/") for v in finding.location.variables)


def scoped_pair(family, first, second, *, both_used=False):
    """Two instances in scopes named by hand (`model`, `model_0`): `_0` is no Keras or TF uniquifying
    suffix (those start at `_1`), so the instances are told apart by scope."""
    x, img = placeholder("input_1", IMAGE), placeholder("images", IMAGE)
    a, b = family(first, img if both_used else x), family(second, img)
    if both_used:
        mean = op("ensemble", "AddV2", a.out, b.out)
        return graph(x, img, a, b, mean, outputs=[mean.name], saver=True)
    top = head("head", b.out, 8)
    return graph(x, img, a, b, top, outputs=[top.out], saver=True)


NOT_SUFFIXES = {
    "vgg-model-model_0": (vgg, "model", "model_0"),
    "resnet-net-net_00": (resnet, "net_00", "net"),
    "mobilenet-model_0-model": (mobilenet, "model_0", "model"),
}


@pytest.mark.parametrize("family, unused, used", NOT_SUFFIXES.values(), ids=NOT_SUFFIXES.keys())
def test_a_zero_suffix_is_a_scope_not_a_keras_suffix(family, unused, used):
    (finding,) = assert_findings(scoped_pair(family, unused, used), "GA102", message=(
        rf"\(scopes (?:`{unused}/`, `{used}/`|`{used}/`, `{unused}/`)\); only the instance in scope `{used}/` "
        r"is used"))
    assert "suffix" not in finding.message
    assert all(v.startswith(unused + "/") for v in finding.location.variables)


def ensemble():
    """Two instances, both used: an ensemble averages them."""
    img = placeholder("images", IMAGE)
    a, b = vgg("", img), vgg("", img, suffix="_1")
    mean = op("ensemble", "AddV2", a.out, b.out)
    return graph(img, a, b, mean, outputs=[mean.name], saver=True)


def two_architectures():
    """An unused model of another architecture is not an instance of the used one."""
    img, other = placeholder("images", IMAGE), placeholder("input_1", IMAGE)
    used, spare = vgg("", img), resnet("", other)
    top = head("head", used.out, 8)
    return graph(img, other, used, spare, top, outputs=[top.out], saver=True)


def shared_weights():
    """A second call of the same model reads the same variables: GA101's finding."""
    inp, img = placeholder("input_1", IMAGE), placeholder("images", IMAGE)
    first = mobilenet("", inp)
    second = mobilenet("model", img, share=first)
    top = head("head", second.out, 8)
    return graph(inp, img, first, second, top, outputs=[top.out], saver=True)


def trained_pair():
    """Teacher and student of the same architecture, both feeding the loss."""
    img = placeholder("images", IMAGE)
    teacher, student = resnet("teacher", img), resnet("student", img)
    loss = op("distill", "SquaredDifference", teacher.out, student.out)
    train = apply_gradients(*student.variables, loss=loss.name)
    return graph(img, teacher, student, loss, train, train_op=train.out, saver=True)


GOOD = {
    "vgg-single": lambda: rebuilt(vgg, unused=0),
    "resnet-single": lambda: rebuilt(resnet, unused=0, scoped=True),
    "ensemble-both-used": ensemble,
    "ensemble-model-model_0": lambda: scoped_pair(vgg, "model", "model_0", both_used=True),
    "ensemble-net_00-net": lambda: scoped_pair(resnet, "net_00", "net", both_used=True),
    "other-architecture-unused": two_architectures,
    "shared-weights-copy": shared_weights,
    "teacher-student": trained_pair,
}


@pytest.mark.parametrize("build", GOOD.values(), ids=GOOD.keys())
def test_no_unused_instance_no_finding(build):
    assert_clean(build(), "GA102")


def test_console_output(golden):
    golden("GA102", render(rebuilt(vgg), "GA102"))
