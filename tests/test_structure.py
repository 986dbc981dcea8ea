"""Structural hashing on hand-made GraphDefs: what makes two nodes alike, and the copies it finds."""

from __future__ import annotations

import pytest

from graphaudit.analysis import Analyses
from graphaudit.analysis.reachability import reach
from graphaudit.analysis.copies import dead_copies, duplicate_sinks
from graphaudit.analysis.structure import DATA, graph_structure
from graphaudit.artifact import Artifact, Format, Root, RootKind
from graphaudit.config import Settings
from graphaudit.formats import protos
from graphaudit.formats.graphs import build_graph

FLOAT, INT32 = 1, 3


class G:
    """A tiny GraphDef writer: ``g.op("Conv2D", "c", ["x", "k"], T=FLOAT, padding=b"SAME")``."""

    def __init__(self) -> None:
        self.gd = protos.GraphDef()

    def op(self, op: str, name: str, inputs=(), **attrs):
        nd = self.gd.node.add(name=name, op=op)
        nd.input.extend(inputs)
        for key, value in attrs.items():
            key = key.rstrip("_")
            av = nd.attr[key]
            if key in ("T", "dtype"):
                av.type = value
            elif key in ("shape",):
                for d in value:
                    av.shape.dim.add().size = d
            elif isinstance(value, bytes):
                av.s = value
            elif isinstance(value, list) and value and isinstance(value[0], bytes):
                av.list.s.extend(value)
            elif isinstance(value, list):
                av.list.i.extend(value)
            elif isinstance(value, bool):
                av.b = value
            elif isinstance(value, float):
                av.f = value
            else:
                av.i = value
        return nd

    def placeholder(self, name: str, batch: int = -1):
        return self.op("Placeholder", name, dtype=FLOAT, shape=[batch, 8, 8, 4])

    def variable(self, name: str, shape=(3, 3, 4, 4)):
        return self.op("VarHandleOp", name, dtype=FLOAT, shape=list(shape), shared_name=name.encode())

    def weight_const(self, name: str, shape=(3, 3, 4, 4), fill: float = 0.5):
        nd = self.op("Const", name, dtype=FLOAT)
        t = nd.attr["value"].tensor
        t.dtype = FLOAT
        for d in shape:
            t.tensor_shape.dim.add().size = d
        t.float_val.append(fill)
        return nd

    def conv(self, scope: str, x: str, kernel: str, *, frozen: bool = False, strides=(1, 1, 1, 1),
             padding: bytes = b"SAME") -> str:
        read = "Identity" if frozen else "ReadVariableOp"
        self.op(read, f"{scope}/read", [kernel], **({"T": FLOAT} if frozen else {"dtype": FLOAT}))
        self.op("Conv2D", f"{scope}/Conv2D", [x, f"{scope}/read"], T=FLOAT, padding=padding, strides=list(strides),
                data_format=b"NHWC")
        self.op("Relu", f"{scope}/Relu", [f"{scope}/Conv2D"], T=FLOAT)
        return f"{scope}/Relu"

    def tower(self, prefix: str, x: str, kernels, **kw) -> str:
        for k, kernel in enumerate(kernels):
            x = self.conv(f"{prefix}layer{k}", x, kernel, **kw)
        return x

    def graph(self):
        return build_graph("graph", self.gd, "test.pb")[0]

    def artifact(self) -> Artifact:
        graph, functions = build_graph("graph", self.gd, "test.pb")
        return Artifact(path="test.pb", format=Format.GRAPHDEF, graphs={"graph": graph}, functions=functions)


def classes(g: G, *names: str, kind: str = "abstract") -> list[int]:
    graph = g.graph()
    gs = graph_structure(graph)
    arr = getattr(gs, kind)
    return [int(arr[graph.index[n]]) for n in names]


def test_same_structure_under_other_names_hashes_alike():
    g = G()
    g.placeholder("input_1")
    g.placeholder("images")
    g.variable("k0")
    g.variable("k1")
    g.tower("", "input_1", ["k0", "k1"])
    g.tower("vgg19/", "images", ["k0", "k1"])
    assert classes(g, "layer1/Relu", "vgg19/layer1/Relu") == classes(g, "vgg19/layer1/Relu", "layer1/Relu")
    a, b = classes(g, "layer1/Relu", "vgg19/layer1/Relu", kind="exact")
    assert a == b  # same variables read: a weight-sharing duplicate
    a, b = classes(g, "layer0/Relu", "layer1/Relu")
    assert a != b  # depth differs: different inputs


def test_batch_dimension_of_shape_attrs_is_ignored_but_other_dims_count():
    g = G()
    g.placeholder("x")
    g.variable("k")
    out = g.conv("a", "x", "k")
    g.op("EnsureShape", "one", [out], T=FLOAT, shape=[1, 8, 8, 4])
    g.op("EnsureShape", "batch", [out], T=FLOAT, shape=[-1, 8, 8, 4])
    g.op("EnsureShape", "wider", [out], T=FLOAT, shape=[-1, 8, 8, 5])
    one, batch, wider = classes(g, "one", "batch", "wider")
    assert one == batch
    assert wider != batch


def test_placeholders_of_other_batch_sizes_feed_equal_copies():
    g = G()
    g.placeholder("input_1", batch=-1)
    g.placeholder("images", batch=1)
    g.variable("k")
    g.conv("a", "input_1", "k")
    g.conv("b", "images", "k")
    assert len(set(classes(g, "a/Relu", "b/Relu", kind="exact"))) == 1


@pytest.mark.parametrize("change", [{"strides": (1, 2, 2, 1)}, {"padding": b"VALID"}])
def test_different_attrs_hash_apart(change):
    g = G()
    g.placeholder("x")
    g.variable("k")
    g.conv("a", "x", "k")
    g.conv("b", "x", "k", **change)
    a, b = classes(g, "a/Conv2D", "b/Conv2D")
    assert a != b
    # ...and so does everything downstream of them.
    a, b = classes(g, "a/Relu", "b/Relu")
    assert a != b


def test_internal_and_naming_attrs_are_ignored():
    g = G()
    g.placeholder("x")
    g.variable("k")
    g.conv("a", "x", "k")
    g.conv("b", "x", "k")
    g.gd.node[-2].attr["_class"].list.s.append(b"loc:@k")
    g.gd.node[-2].attr["_output_shapes"].list.shape.add().dim.add().size = 7
    a, b = classes(g, "a/Conv2D", "b/Conv2D", kind="exact")
    assert a == b


def test_shared_variables_make_weight_sharing_duplicates_and_own_variables_instance_duplicates():
    g = G()
    g.placeholder("x")
    for name in ("k0", "k1", "k0_1", "k1_1"):
        g.variable(name)
    g.variable("wide", shape=(3, 3, 4, 8))
    g.tower("shared_a/", "x", ["k0", "k1"])
    g.tower("shared_b/", "x", ["k0", "k1"])
    g.tower("instance/", "x", ["k0_1", "k1_1"])
    g.tower("other/", "x", ["k0", "wide"])
    ends = ("shared_a/layer1/Relu", "shared_b/layer1/Relu", "instance/layer1/Relu", "other/layer1/Relu")
    sa, sb, inst, other = classes(g, *ends, kind="abstract")
    assert sa == sb == inst  # same ops and shapes
    assert other != sa  # a variable of another shape
    ea, eb, einst, _ = classes(g, *ends, kind="exact")
    assert ea == eb  # the same variables
    assert einst != ea  # variables of their own


def test_frozen_weight_consts_hash_like_the_variables_they_replaced():
    g = G()
    g.placeholder("x")
    g.weight_const("k", fill=0.5)
    g.weight_const("k_1", fill=-0.5)  # another instance: other values, same shape
    g.conv("live", "x", "k", frozen=True)
    g.conv("dead", "x", "k", frozen=True)
    g.conv("instance", "x", "k_1", frozen=True)
    live, dead, inst = classes(g, "live/Relu", "dead/Relu", "instance/Relu", kind="exact")
    assert live == dead
    assert inst != live
    live, inst = classes(g, "live/Relu", "instance/Relu", kind="abstract")
    assert live == inst


def test_preprocessing_collapses_into_the_graph_input():
    g = G()
    g.placeholder("input_1")
    g.placeholder("images")
    g.weight_const("mean", shape=(4,))  # a float vector counts as a weight...
    g.op("Const", "scale", dtype=FLOAT).attr["value"].tensor.float_val.append(0.5)
    g.op("Mul", "scaled", ["images", "scale"], T=FLOAT)  # ...but a scalar constant does not
    g.op("Relu", "clipped", ["scaled"], T=FLOAT)
    g.variable("k")
    g.conv("dead", "input_1", "k")
    g.conv("live", "clipped", "k")
    assert classes(g, "scaled", "clipped") == [DATA, DATA]
    dead, live = classes(g, "dead/Relu", "live/Relu", kind="exact")
    assert dead == live


def _function(library, name: str, body_op: str) -> None:
    fdef = library.function.add()
    fdef.signature.name = name
    fdef.signature.input_arg.add(name="x", type=FLOAT)
    fdef.signature.output_arg.add(name="y", type=FLOAT)
    nd = fdef.node_def.add(name="op", op=body_op, input=["x"])
    nd.attr["T"].type = FLOAT
    fdef.ret["y"] = "op:y:0"


def test_function_attrs_compare_by_body_not_name():
    g = G()
    g.placeholder("x")
    g.variable("k")
    out = g.conv("a", "x", "k")
    for name, op in (("cond_true_1", "Relu"), ("cond_true_2", "Relu"), ("cond_true_3", "Relu6")):
        _function(g.gd.library, name, op)
    for node, fn in (("if_1", "cond_true_1"), ("if_2", "cond_true_2"), ("if_3", "cond_true_3")):
        nd = g.op("StatelessIf", node, ["x", out])
        nd.attr["then_branch"].func.name = fn
        nd.attr["else_branch"].func.name = fn
    art = g.artifact()
    facts = Analyses(art, Settings())
    gs = facts.structure("graph")
    graph = art.graphs["graph"]
    c1, c2, c3 = (int(gs.abstract[graph.index[n]]) for n in ("if_1", "if_2", "if_3"))
    assert c1 == c2
    assert c3 != c1


def test_a_chain_deeper_than_the_recursion_limit():
    g = G()
    g.placeholder("x")
    g.variable("k")
    x = g.conv("c", "x", "k")
    for k in range(5000):
        g.op("Relu", f"r{k}", [x], T=FLOAT)
        x = f"r{k}"
    g.conv("d", "x", "k")
    graph = g.graph()
    gs = graph_structure(graph)
    assert gs.abstract[graph.index["r4999"]] != gs.abstract[graph.index["r4998"]]


def test_a_while_loop_back_edge_is_not_a_cycle():
    g = G()
    g.placeholder("x")
    g.variable("k")
    for loop in ("l1", "l2"):
        g.op("Enter", f"{loop}/Enter", ["x"], T=FLOAT)
        g.op("Merge", f"{loop}/Merge", [f"{loop}/Enter", f"{loop}/NextIteration"], T=FLOAT, N=2)
        g.conv(f"{loop}/body", f"{loop}/Merge", "k")
        g.op("NextIteration", f"{loop}/NextIteration", [f"{loop}/body/Relu"], T=FLOAT)
    a, b = classes(g, "l1/NextIteration", "l2/NextIteration", kind="exact")
    assert a == b


def test_node_order_does_not_change_the_partition():
    g = G()
    g.placeholder("x")
    g.variable("k0")
    g.variable("k1")
    g.tower("a/", "x", ["k0", "k1"])
    g.tower("b/", "x", ["k0", "k1"])
    g.tower("c/", "x", ["k1", "k0"])
    graph = g.graph()
    forward = graph_structure(graph)
    rev = G()
    rev.gd.node.extend(reversed(g.gd.node))
    rgraph = rev.graph()
    backward = graph_structure(rgraph)

    def partition(graph, gs):
        groups = {}
        for i, name in enumerate(graph.names):
            groups.setdefault(int(gs.exact[i]), set()).add(name)
        return sorted(sorted(v) for v in groups.values())

    assert partition(graph, forward) == partition(rgraph, backward)


# ----------------------------------------------------------------------------- regions and roots

def _seed_graph(*, consumed: bool = True, dead_kernels=("k0", "k1", "k2", "k3"), dead_input="input_1") -> G:
    """A live tower on `images` with an `output`, and a second tower on `input_1` that nothing uses."""
    g = G()
    g.placeholder("images")
    g.placeholder(dead_input)
    for name in ("k0", "k1", "k2", "k3", "k0_1", "k1_1", "k2_1", "k3_1"):
        g.variable(name)
    live = g.tower("model/", "images", ["k0", "k1", "k2", "k3"])
    if consumed:
        g.op("Identity", "output", [live], T=FLOAT)
    g.tower("", dead_input, list(dead_kernels))
    return g


def test_root_inference_skips_the_sink_that_ends_a_duplicate():
    art = _seed_graph().artifact()
    facts = Analyses(art, Settings(min_duplicate_ops=5))
    assert [r.node for r in facts.use_roots] == ["output"]
    assert "`layer3/Relu`" in facts.roots_note
    found = facts.dead_copies
    assert len(found) == 1
    d = found[0]
    # 4 layers of (read, Conv2D, Relu).
    assert len(d.dead.nodes) == 12 and len(d.twin.nodes) == 12
    assert d.dead.label == "`layer0/` ... `layer3/`" and d.twin.label == "`model/`"
    assert d.shares_weights and d.dead.weights == ("k0", "k1", "k2", "k3")
    assert d.dead.params == 4 * 3 * 3 * 4 * 4 and d.dead.nbytes == 4 * d.dead.params
    assert d.inputs == ("input_1",) and d.input_shapes == ("(?, 8, 8, 4)",)
    assert d.outputs == ("layer3/Relu",) and not d.outputs_consumed


def test_a_dead_copy_with_variables_of_its_own_is_an_instance_duplicate():
    art = _seed_graph(dead_kernels=("k0_1", "k1_1", "k2_1", "k3_1")).artifact()
    (d,) = Analyses(art, Settings(min_duplicate_ops=5)).dead_copies
    assert not d.shares_weights
    assert d.unused_weights == ("k0_1", "k1_1", "k2_1", "k3_1")
    assert d.unused_params == 4 * 144 and d.unused_bytes == 4 * 4 * 144


def test_when_both_copies_end_in_sinks_the_one_on_an_unfed_keras_input_is_the_orphan():
    art = _seed_graph(consumed=False).artifact()
    facts = Analyses(art, Settings(min_duplicate_ops=5))
    assert [r.node for r in facts.use_roots] == ["model/layer3/Relu"]
    (d,) = facts.dead_copies
    assert d.inputs == ("input_1",) and d.twin.label == "`model/`"
    (orphan,) = facts.orphans["graph"]
    assert orphan.strong and orphan.twin_inputs == ("images",)
    assert "leaving out 1 sink(s) of the copy on `input_1` that nothing feeds" in facts.roots_note


def test_when_both_copies_end_in_sinks_and_neither_input_is_keras_s_both_stay_roots():
    art = _seed_graph(consumed=False, dead_input="more_images").artifact()
    facts = Analyses(art, Settings(min_duplicate_ops=5))
    assert sorted(r.node for r in facts.use_roots) == ["layer3/Relu", "model/layer3/Relu"]
    assert facts.dead_copies == []
    # Naming the output settles it.
    art.roots.append(Root("graph", "model/layer3/Relu", RootKind.USER_OUTPUT, "--output"))
    assert len(Analyses(art, Settings(min_duplicate_ops=5)).dead_copies) == 1


def test_a_region_below_the_threshold_is_neither_skipped_nor_reported():
    art = _seed_graph().artifact()
    facts = Analyses(art, Settings(min_duplicate_ops=13))
    assert sorted(r.node for r in facts.use_roots) == ["layer3/Relu", "output"]
    assert facts.dead_copies == []
    gs = facts.structure("graph")
    assert duplicate_sinks(gs, 13) == []
    r = reach(art, [Root("graph", "output", RootKind.USER_OUTPUT)])
    assert dead_copies(art, "graph", gs, r, 13) == [] and len(dead_copies(art, "graph", gs, r, 12)) == 1


def test_a_copy_called_on_features_with_weights_still_twins_its_dead_copy():
    """`head = Model(Input, ...)` then `head(features)`: the twin's input carries weights of its own."""
    g = G()
    g.placeholder("images")
    g.placeholder("head_input")
    for name in ("b0", "k0", "k1", "k2", "k3"):
        g.variable(name)
    features = g.conv("backbone", "images", "b0")
    live = g.tower("head/", features, ["k0", "k1", "k2", "k3"])
    g.op("Identity", "output", [live], T=FLOAT)
    g.tower("", "head_input", ["k0", "k1", "k2", "k3"])
    art = g.artifact()
    facts = Analyses(art, Settings(min_duplicate_ops=5))
    assert [r.node for r in facts.use_roots] == ["output"]
    (d,) = facts.dead_copies
    assert d.shares_weights and d.inputs == ("head_input",) and d.twin.label == "`head/`"
    assert len(d.dead.nodes) == len(d.twin.nodes) == 12


def test_layers_shaped_like_the_first_are_not_taken_for_a_second_copy():
    """An MLP-like chain whose kernels all share one shape: one model, one output, nothing dead."""
    g = G()
    g.placeholder("x")
    kernels = [f"k{i}" for i in range(12)]
    for name in kernels:
        g.variable(name)
    out = g.tower("", "x", kernels)
    g.op("Identity", "output", [out], T=FLOAT)
    facts = Analyses(g.artifact(), Settings(min_duplicate_ops=5))
    assert [r.node for r in facts.use_roots] == ["output"]
    assert facts.dead_copies == []
    graph = facts.artifact.graphs["graph"]
    gs = facts.structure("graph")
    assert len({int(gs.exact[graph.index[f"layer{k}/Relu"]]) for k in range(12)}) == 12
