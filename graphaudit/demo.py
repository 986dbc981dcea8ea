"""`graphaudit demo`: build the seed article's four pitfalls with TensorFlow, audit them, then the fix."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

from graphaudit.records import dataclass

IMAGE = 32  # small images keep the demo fast; VGG19's weights do not depend on the input size


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    story: str
    build: Callable[[Path, Path], Path]  # (folder, weights file) -> artifact path
    wrote: str = ""  # the line of user code that makes the pitfall
    instead: str = ""  # what graphaudit.reference.VGG19 writes instead


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    return tf


@contextlib.contextmanager
def quiet_tensorflow() -> Iterator[None]:
    """TensorFlow's C++ start-up lines (CUDA, absl) and its deprecation warnings go to a file, not the
    terminal; they are shown only when building fails, since then they may say why."""
    import sys
    import warnings

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as log, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.dup2(log.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-4000:])
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _keras():
    import tf_keras

    return tf_keras


def make_weights(path: Path, seed: int = 7) -> Path:
    """Stand-in "pretrained" VGG19 weights: seeded values that no initializer would produce."""
    import numpy as np

    tf, keras = _tf(), _keras()
    rng = np.random.default_rng(seed)
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        model = keras.applications.VGG19(weights=None, include_top=False, input_shape=(IMAGE, IMAGE, 3))
        values = []
        for w in model.weights:
            shape = tuple(w.shape)
            if len(shape) == 1:  # biases: small, non-zero, not constant
                values.append((0.01 + 0.05 * rng.random(shape)).astype("float32"))
            else:
                fan_in = float(np.prod(shape[:-1]))
                values.append((rng.standard_normal(shape) * (1.5 / fan_in) ** 0.5).astype("float32"))
        model.set_weights(values)
        model.save_weights(str(path))
        del sess
    return path


def _session_graph():
    tf = _tf()
    graph = tf.Graph()
    return graph, tf.compat.v1.Session(graph=graph)


def _head(tf, features, classes: int = 10):
    keras = _keras()
    flat = keras.layers.Flatten(name="head_flatten")(features)
    return keras.layers.Dense(classes, name="head")(flat)


def pitfall_new_session(folder: Path, weights: Path) -> Path:
    """Pitfall 1: the notebook cell ran five times; the graph's names drifted away from the checkpoint."""
    tf, keras = _tf(), _keras()
    graph, sess = _session_graph()
    with graph.as_default(), sess.as_default():
        first = keras.applications.VGG19(weights=None, include_top=False, input_shape=(IMAGE, IMAGE, 3))
        first.load_weights(str(weights))
        tf.compat.v1.train.Saver(first.weights).save(sess, str(folder / "vgg19_pretrained.ckpt"))
        for _ in range(3):  # re-running the cell builds VGG19 again: block1_conv1_1, block1_conv1_2, ...
            keras.applications.VGG19(weights=None, include_top=False, input_shape=(IMAGE, IMAGE, 3))
        images = tf.compat.v1.placeholder(tf.float32, (None, IMAGE, IMAGE, 3), name="images")
        vgg = keras.applications.VGG19(weights=None, include_top=False, input_tensor=images)  # block1_conv1_4
        tf.identity(_head(tf, vgg.output), name="output")
        # The new session restores the pretrained checkpoint: its keys are `block1_conv1/kernel`,
        # the graph's variables are `block1_conv1_4/kernel`.
        meta = folder / "vgg19_pretrained.ckpt.meta"
        tf.compat.v1.train.export_meta_graph(str(meta), graph=graph)
    sess.close()
    return meta


def pitfall_global_init(folder: Path, weights: Path) -> Path:
    """Pitfall 2: `global_variables_initializer()` after the weights were loaded."""
    tf, keras = _tf(), _keras()
    graph, sess = _session_graph()
    with graph.as_default(), sess.as_default():
        images = tf.compat.v1.placeholder(tf.float32, (None, IMAGE, IMAGE, 3), name="images")
        vgg = keras.applications.VGG19(weights=None, include_top=False, input_tensor=images)
        vgg.load_weights(str(weights))
        tf.identity(_head(tf, vgg.output), name="output")
        sess.run(tf.compat.v1.global_variables_initializer())  # overwrites the pretrained values
        prefix = tf.compat.v1.train.Saver().save(sess, str(folder / "model.ckpt"))
    sess.close()
    return Path(prefix + ".meta")


def pitfall_duplicate_graph(folder: Path, weights: Path) -> Path:
    """Pitfall 3: `vgg = VGG19(...)` then `vgg(images)` builds the network twice."""
    tf, keras = _tf(), _keras()
    graph, sess = _session_graph()
    with graph.as_default(), sess.as_default():
        images = tf.compat.v1.placeholder(tf.float32, (None, IMAGE, IMAGE, 3), name="images")
        vgg = keras.applications.VGG19(weights=None, include_top=False, input_shape=(IMAGE, IMAGE, 3))
        vgg.load_weights(str(weights))
        tf.identity(_head(tf, vgg(images)), name="output")
        sess.run(tf.compat.v1.variables_initializer([v for v in tf.compat.v1.global_variables()
                                                     if v.name.startswith("head")]))
        prefix = tf.compat.v1.train.Saver().save(sess, str(folder / "model.ckpt"))
    sess.close()
    return Path(prefix + ".meta")


def pitfall_trainable_backbone(folder: Path, weights: Path) -> Path:
    """Pitfall 4: `optimizer.minimize(loss)` without `var_list` trains VGG19 too."""
    tf, keras = _tf(), _keras()
    graph, sess = _session_graph()
    with graph.as_default(), sess.as_default():
        images = tf.compat.v1.placeholder(tf.float32, (None, IMAGE, IMAGE, 3), name="images")
        labels = tf.compat.v1.placeholder(tf.int64, (None,), name="labels")
        vgg = keras.applications.VGG19(weights=None, include_top=False, input_tensor=images)
        vgg.trainable = False  # has no effect on a TF1 optimizer: the seed's point
        logits = tf.identity(_head(tf, vgg.output), name="output")
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        tf.compat.v1.train.AdamOptimizer(1e-3).minimize(loss, name="train_op")  # joins the train_op collection
        sess.run(tf.compat.v1.global_variables_initializer())
        vgg.load_weights(str(weights))
        prefix = tf.compat.v1.train.Saver().save(sess, str(folder / "model.ckpt"))
    sess.close()
    return Path(prefix + ".meta")


def reference_pipeline(folder: Path, weights: Path) -> Path:
    """The same pipeline with `graphaudit.reference.VGG19`: built once, weights restorable, frozen."""
    from graphaudit.reference import VGG19

    tf = _tf()
    graph, sess = _session_graph()
    with graph.as_default(), sess.as_default():
        images = tf.compat.v1.placeholder(tf.float32, (None, IMAGE, IMAGE, 3), name="images")
        labels = tf.compat.v1.placeholder(tf.int64, (None,), name="labels")
        vgg = VGG19(input_tensor=images, weights=str(weights))
        logits = tf.identity(_head(tf, vgg["block5_pool"]), name="output")
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        tf.compat.v1.train.AdamOptimizer(1e-3).minimize(
            loss, var_list=vgg.trainable_variables_excluding_backbone(), name="train_op")
        sess.run(tf.compat.v1.global_variables_initializer())
        vgg.load_weights(sess)  # after the initializer, as often as needed, in any session
        prefix = tf.compat.v1.train.Saver().save(sess, str(folder / "model.ckpt"))
    sess.close()
    return Path(prefix + ".meta")


SCENARIOS = (
    Scenario("new_session", "1. The model used in a new session",
             "VGG19 built five times in one graph, restored from the checkpoint of the first build",
             pitfall_new_session, "VGG19(...)  # the cell, run again",
             "VGG19(input_tensor=images)  # one build"),
    Scenario("global_init", "2. global_variables_initializer() after loading",
             "weights loaded, then the global initializer run, then saved", pitfall_global_init,
             "vgg.load_weights(w); sess.run(global_init)", "sess.run(init); vgg.load_weights(sess)"),
    Scenario("duplicate_graph", "3. The graph built twice",
             "`vgg = VGG19(...)` followed by `vgg(images)`", pitfall_duplicate_graph,
             "vgg = VGG19(...); vgg(images)", "VGG19(input_tensor=images)"),
    Scenario("trainable_backbone", "4. Trainable pretrained weights",
             "`optimizer.minimize(loss)` without `var_list`", pitfall_trainable_backbone,
             "opt.minimize(loss)", "opt.minimize(loss, var_list=vgg.trainable_\nvariables_excluding_backbone())"),
    Scenario("reference", "The fix: graphaudit.reference.VGG19",
             "the same pipeline with the reference wrapper", reference_pipeline),
)


def run_demo(workdir: Path | None, console, *, show_fixes: bool = False, report_path: Path | None = None) -> int:
    """Build every scenario, audit each on a screen of its own, then compare before and after side
    by side and write an HTML report of the whole demo. Returns 0 when the story holds."""
    from rich.table import Table

    from graphaudit.config import Settings
    from graphaudit.engine import audit_paths
    from graphaudit.reporters.console import ConsoleReporter

    start = time.monotonic()
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="graphaudit-demo-")
        workdir = Path(tmp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    if report_path is None:
        report_path = (workdir if tmp is None else Path(tempfile.gettempdir())) / "graphaudit-demo-report.html"
    ok = True
    artifacts: dict[str, Path] = {}
    found: dict[str, list] = {}
    try:
        with console.status("importing TensorFlow ..."), quiet_tensorflow():
            _tf()
            _keras()
        with console.status("writing stand-in VGG19 weights ..."), quiet_tensorflow():
            weights = make_weights(workdir / "vgg19_weights.h5")
        for sc in SCENARIOS:
            folder = workdir / sc.name
            folder.mkdir(exist_ok=True)
            with console.status(f"building {sc.title.lower()} ..."), quiet_tensorflow():
                artifacts[sc.name] = sc.build(folder, weights)
            report = audit_paths([str(artifacts[sc.name])], Settings())
            found[sc.name] = report.findings
            # One screen per pitfall: a heading, the story, then graphaudit's report of it.
            console.print()
            console.rule(f"[bold]{sc.title}[/bold]")
            console.print(f"[dim]{sc.story}[/dim]", highlight=False)
            console.print()
            # Quiet: the findings alone; the hint to pass --show-fixes comes once, at the end.
            ConsoleReporter(console.file, show_fixes=show_fixes, color=console.is_terminal or None,
                            quiet=True).write(report)
            if not report.findings and not report.errors:
                console.print("[green]no findings[/green]")
            clean = not report.findings and not report.errors
            ok &= clean == (sc.name == "reference")
        console.print()
        console.rule("[bold]Before and after[/bold]")
        table = Table(show_lines=True)
        table.add_column("pitfall", ratio=2)
        table.add_column("before: what was written", ratio=3, overflow="fold")
        table.add_column("graphaudit", ratio=2)
        table.add_column("after: graphaudit.reference.VGG19", ratio=3, overflow="fold")
        table.add_column("graphaudit", ratio=1)
        after = found.get("reference", [])
        after_text = "[green]clean[/green]" if not after else "[red]" + ", ".join(sorted({f.code for f in after})) + "[/red]"
        for sc in SCENARIOS[:-1]:
            codes = ", ".join(sorted({f.code for f in found[sc.name]})) or "nothing"
            table.add_row(sc.title.split(". ", 1)[-1], sc.wrote, f"[red]{codes}[/red]", sc.instead, after_text)
        console.print(table)
        if not show_fixes:
            console.print("[dim]graphaudit demo --show-fixes prints the fix-up code under each finding[/dim]")
        html = audit_paths([str(artifacts[sc.name]) for sc in SCENARIOS], Settings(),
                           view=_html_view())
        _write_html(html, report_path)
        console.print(f"HTML report of the whole demo: {report_path}", highlight=False)
        console.print(f"[dim]demo finished in {time.monotonic() - start:.1f}s; artifacts in {workdir}"
                      f"{' (deleted)' if tmp else ''}[/dim]")
    finally:
        if tmp is not None:
            tmp.cleanup()
    return 0 if ok else 1


def _html_view():
    from graphaudit.reporters.html import build_view

    return build_view


def _write_html(report, path: Path) -> None:
    from graphaudit.reporters.html import HtmlReporter

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        HtmlReporter(fh, title="graphaudit demo: the seed's four pitfalls and the fix").write(report)
