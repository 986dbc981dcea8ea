"""GA203 checkpoint-name-drift on hand-built artifacts: the checkpoint holds the variables under other names."""

from __future__ import annotations

import pytest

from graphaudit.testing.harness import (assert_clean, assert_findings, graph, head, mlp, mobilenet, placeholder,
                                        render, resnet, trained, var, vgg)

IMAGE = (None, 32, 32, 3)


def saved_under(variables, rename, extra=()):
    """Checkpoint values of ``variables`` under ``rename(name)``, plus ``extra`` under their own names."""
    values = {rename(v.name): trained(v.shape, v.name) for v in variables}
    values.update({v.name: trained(v.shape, v.name) for v in extra})
    return values


def second_build(family, fmt="meta", *, saver=False, **kw):
    """The graph holds the second build (`_1` names); the checkpoint was written from the first."""
    img = placeholder("images", IMAGE)
    net = family("", img, suffix="_1", **kw) if family is vgg else family("backbone_1", img, **kw)
    top = head("head", net.out, 8)
    fix = (lambda n: n.replace("_1/", "/")) if family is vgg else (lambda n: n.replace("backbone_1/", "backbone/"))
    return graph(img, net, top, format=fmt, outputs=[top.out], saver=saver,
                 checkpoint=saved_under(net.variables, fix, top.variables))


def scope_added_in_the_graph():
    """Saved from a bare MLP (`dense/kernel`), loaded under a `model/` scope."""
    x = placeholder("features", (None, 16))
    net = mlp("model", x, (16, 12, 10, 8))
    return graph(x, net, outputs=[net.out], checkpoint=saved_under(net.variables, lambda n: n[len("model/"):]))


BAD = {
    "vgg-layer-suffix": (lambda: second_build(vgg), "block1_conv1_1/kernel",
                         r"^8 variables \(1,140 params\) get no value from the checkpoint, which holds them under "
                         r"other names: `block1_conv1_1/bias` -> `block1_conv1/bias`, .* and 5 more; the `_1` "
                         r"suffix means the model was built 2 times in this graph, and the checkpoint holds the "
                         r"first build's names$"),
    "vgg-ref-variables": (lambda: second_build(vgg, resource=False), "block2_conv2_1/bias",
                          r"^8 variables \(1,140 params\) get no value from the checkpoint"),
    "resnet-scope-suffix-saved-model": (lambda: second_build(resnet, "saved_model"), "backbone_1/conv1_bn/moving_mean",
                                        r"^30 variables \(2,720 params\) get no value from the checkpoint, which "
                                        r"holds them under other names: `backbone_1/conv1_bn/beta` -> "
                                        r"`backbone/conv1_bn/beta`"),
    "mobilenet-restore-op": (lambda: second_build(mobilenet, saver=True), "backbone_1/Conv1/kernel",
                             r"^25 variables \(648 params\) get no value from the checkpoint"),
    "mlp-scope-added": (scope_added_in_the_graph, "model/dense/kernel",
                        r"^6 variables \(422 params\) get no value from the checkpoint, which holds them under other "
                        r"names: `model/dense/bias` -> `dense/bias`, .*; the graph puts them under `model/`, which "
                        r"the checkpoint's names lack$"),
}


@pytest.mark.parametrize("build, variable, message", BAD.values(), ids=BAD.keys())
def test_variables_saved_under_other_names_are_reported(build, variable, message):
    case = build()
    (finding,) = assert_findings(case, "GA203", variable, message=message)
    assert not any(v.startswith("head/") for v in finding.location.variables)
    assert_clean(case, "GA201")  # the more specific explanation wins


def same_names(family):
    img = placeholder("images", IMAGE)
    net = family("backbone", img)
    top = head("head", net.out, 8)
    return graph(img, net, top, outputs=[top.out], saver=True)


def renamed_with_another_shape():
    """`dense_1/kernel` is missing and `dense/kernel` exists, but with another shape: not the same weight."""
    x = placeholder("features", (None, 16))
    k = var("dense_1/kernel", (16, 8))
    from graphaudit.testing.harness import op

    y = op("y", "MatMul", x.out, k.read, transpose_a=False, transpose_b=False)
    return graph(x, k, y, outputs=["y"], checkpoint={"dense/kernel": trained((16, 4))})


def unrelated_keys():
    """The checkpoint holds something else entirely: GA201's finding, no rename to suggest."""
    img = placeholder("images", IMAGE)
    net = vgg("backbone", img)
    return graph(img, net, outputs=[net.out], checkpoint={"optimizer/iterations": trained((1,))})


def drifted_but_unread():
    """A stale second build that no output reads: nothing fails at load time."""
    img, other = placeholder("images", IMAGE), placeholder("input_2", IMAGE)
    net = mobilenet("backbone", img)
    stale = mobilenet("backbone_1", other)
    top = head("head", net.out, 8)
    values = saved_under(net.variables, lambda n: n, top.variables)
    values.update(saved_under(stale.variables, lambda n: n.replace("backbone_1/", "backbone_2/")))
    return graph(img, other, net, stale, top, outputs=[top.out], checkpoint=values)


GOOD = {
    "vgg-same-names": lambda: same_names(vgg),
    "resnet-same-names": lambda: same_names(resnet),
    "other-shape": renamed_with_another_shape,
    "unrelated-keys": unrelated_keys,
    "unread-stale-build": drifted_but_unread,
    "graphdef-has-no-checkpoint": lambda: graph(placeholder("x", (None, 16)), mlp("model", "x"), format="graphdef"),
}


@pytest.mark.parametrize("build", GOOD.values(), ids=GOOD.keys())
def test_no_drifted_name_no_finding(build):
    assert_clean(build(), "GA203")


def test_console_output(golden):
    golden("GA203", render(second_build(vgg), "GA203"))


def test_a_dropped_scope_prefers_the_key_with_the_same_layer_name():
    """`model/dense_1/kernel` -> `dense_1/kernel`, although `dense/kernel` (suffix removed) fits its shape too."""
    x = placeholder("features", (None, 16))
    net = mlp("model", x, (16, 16, 16, 8))
    case = graph(x, net, outputs=[net.out], checkpoint=saved_under(net.variables, lambda n: n[len("model/"):]))
    (finding,) = assert_findings(case, "GA203", "model/dense_1/kernel", "model/dense_1/bias",
                                 message=r"^6 variables \(680 params\) get no value from the checkpoint")
    assert "`model/dense_1/bias` -> `dense_1/bias`" in finding.message
    assert_clean(case, "GA201")
