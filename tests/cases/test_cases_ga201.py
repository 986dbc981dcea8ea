"""GA201 uninitialized-variable on hand-built artifacts: variables the outputs read that nothing gives a value."""

from __future__ import annotations

import pytest

from graphaudit.testing.harness import (assert_clean, assert_findings, graph, head, mlp, mobilenet, node,
                                        placeholder, render, resnet, trained, var, vgg)

IMAGE = (None, 32, 32, 3)


def classifier(family, **kw):
    img = placeholder("images", IMAGE)
    net = family("backbone", img, **kw)
    top = head("head", net.out, 8)
    return [img, net, top], net, top


def saver_for_head_only(family, fmt="meta", **kw):
    """`Saver(var_list=head_variables)`: the backbone is neither saved nor restored."""
    items, net, top = classifier(family, **kw)
    return graph(*items, format=fmt, outputs=[top.out], saver=[v.name for v in top.variables],
                 checkpoint_omit=["backbone/"])


def restored_from_missing_keys(family, **kw):
    """The restore op reads every variable, but the checkpoint was written without the backbone."""
    items, net, top = classifier(family, **kw)
    return graph(*items, outputs=[top.out], saver=True, checkpoint_omit=["backbone/"])


def saved_model_without_backbone_values():
    items, net, top = classifier(resnet)
    return graph(*items, format="saved_model", outputs=[top.out], checkpoint_omit=["backbone/"])


def init_op_covers_the_head_only():
    x = placeholder("features", (None, 16))
    net = mlp("backbone", x, (16, 16, 16, 8))
    init = node("init", "NoOp", *[f"^{v.initializer}" for v in net.variables[-2:]])
    return graph(x, net, init, format="saved_model", outputs=[net.out], collections={"saved_model_main_op": ["init"]},
                 checkpoint_omit=["backbone/"])


BAD = {
    "vgg-saver-var-list": (lambda: saver_for_head_only(vgg), "backbone/block1_conv1/kernel",
                           r"^8 variables \(1,140 params\) that `head/dense/Softmax` reads get no value when loaded: "
                           r".*; no restore op assigns them, the checkpoint holds none of them, and no init op sets "
                           r"them$"),
    "vgg-ref-variables": (lambda: saver_for_head_only(vgg, resource=False), "backbone/block2_conv2/bias",
                          r"^8 variables \(1,140 params\) that `head/dense/Softmax` reads get no value"),
    "mobilenet-missing-keys": (lambda: restored_from_missing_keys(mobilenet), "backbone/bn_Conv1/moving_mean",
                               r"^25 variables \(648 params\) are restored from keys the checkpoint lacks: .*; the "
                               r"restore fails with `Key \.\.\. not found in checkpoint`$"),
    "resnet-saved-model": (saved_model_without_backbone_values, "backbone/conv2_block2_2_conv/kernel",
                           r"^30 variables \(2,720 params\) that `head/dense/Softmax` reads get no value"),
    "mlp-partial-init-op": (init_op_covers_the_head_only, "backbone/dense/kernel",
                            r"^4 variables \(544 params\) that `backbone/dense_2/Relu` reads get no value"),
}


@pytest.mark.parametrize("build, variable, message", BAD.values(), ids=BAD.keys())
def test_a_read_variable_without_a_value_is_reported(build, variable, message):
    (finding,) = assert_findings(build(), "GA201", variable, message=message, severity="error")
    assert finding.location.scope == "backbone"
    assert not any(v.startswith("head/") for v in finding.location.variables)


def everything_saved(family):
    items, _, top = classifier(family)
    return graph(*items, outputs=[top.out], saver=True)


def initialized_by_main_op():
    items, _, top = classifier(vgg)
    return graph(*items, format="saved_model", outputs=[top.out], main_op=True, checkpoint_omit=["backbone/"])


def unread_variable_missing():
    """A variable nothing reads (a leftover) gets no value: nobody notices, nothing fails."""
    items, _, top = classifier(mobilenet)
    return graph(*items, var("leftover/kernel", (4, 4)), outputs=[top.out], saver=True, checkpoint_omit=["leftover/"])


def renamed_in_checkpoint():
    """The graph's second build is `backbone_1/`, the checkpoint holds the first build's `backbone/`
    names: GA203 explains the missing values, so GA201 does not report them again."""
    img = placeholder("images", IMAGE)
    net = vgg("backbone_1", img)
    top = head("head", net.out, 8)
    values = {v.name.replace("backbone_1/", "backbone/"): trained(v.shape, v.name) for v in net.variables}
    values.update({v.name: trained(v.shape, v.name) for v in top.variables})
    return graph(img, net, top, outputs=[top.out], checkpoint=values)


GOOD = {
    "vgg-all-saved": lambda: everything_saved(vgg),
    "resnet-all-saved": lambda: everything_saved(resnet),
    "mlp-graphdef-has-no-values": lambda: graph(placeholder("x", (None, 16)),
                                                mlp("backbone", "x", (16, 16, 8)), format="graphdef"),
    "main-op-initializes-the-backbone": initialized_by_main_op,
    "unread-leftover-variable": unread_variable_missing,
    "name-drift-is-ga203": renamed_in_checkpoint,
}


@pytest.mark.parametrize("build", GOOD.values(), ids=GOOD.keys())
def test_every_read_variable_gets_a_value(build):
    assert_clean(build(), "GA201")


def test_the_renamed_backbone_is_ga203_s():
    assert_findings(renamed_in_checkpoint(), "GA203", "backbone_1/block1_conv1/kernel")


def test_with_ga203_ignored_ga201_reports_the_renamed_backbone():
    assert_findings(renamed_in_checkpoint(), "GA201", "backbone_1/block1_conv1/kernel", ignore=["GA203"],
                    message=r"^8 variables \(1,140 params\) that `head/dense/Softmax` reads get no value")


def test_console_output(golden):
    golden("GA201", render(saver_for_head_only(vgg), "GA201"))


def test_the_checkpoint_is_named_beside_the_artifact_not_by_its_absolute_path(tmp_path):
    from graphaudit import audit

    saver_for_head_only(vgg).write(tmp_path / "model")
    (artifact,) = audit(str((tmp_path / "model").resolve())).artifacts
    (finding,) = [f for f in artifact.findings if f.code == "GA201"]
    assert "checkpoint `model.ckpt` holds 2 keys; none for these variables" in finding.evidence
    assert not any(str(tmp_path) in e for e in finding.evidence)
