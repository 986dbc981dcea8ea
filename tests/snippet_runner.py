"""Runs the fix-up snippets findings print, in the situations their rules describe (one process per TF mode).

`python tests/snippet_runner.py tf1|tf2 OUT.json`: for each rule, build the defect with TensorFlow on a
32x32 VGG19 (MobileNetV2 for BatchNorm) with random weights saved to `.h5`, save it, audit it, run every
snippet the finding printed with the names of docs/fixup-snippets.md defined here, save again, audit
again, and compare what the saved artifact computes with pure Keras. Writes one record per snippet.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

import numpy as np

MODE = sys.argv[1]
OUT = Path(sys.argv[2])
SIZE = 32
RTOL = 1e-5
VGG_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)

import tensorflow as tf  # noqa: E402

if MODE == "tf1":
    tf.compat.v1.disable_v2_behavior()
import tf_keras  # noqa: E402

import graphaudit  # noqa: E402
from graphaudit.rules.snippets import ASSUMED, split  # noqa: E402

WORK = Path(tempfile.mkdtemp(prefix=f"snippets-{MODE}-"))
IMAGE = np.random.default_rng(7).uniform(0.0, 255.0, (2, SIZE, SIZE, 3)).astype(np.float32)
records: list[dict] = []


def he_values(weights) -> list[np.ndarray]:
    """Seeded He-normal kernels and small biases: ReLUs stay alive to block5, and no value looks fresh."""
    rng = np.random.default_rng(19)
    out = []
    for shape in [tuple(int(d) for d in w.shape) for w in weights]:
        if len(shape) == 4:
            out.append(rng.normal(0.0, np.sqrt(2.0 / np.prod(shape[:3])), shape).astype(np.float32))
        else:
            out.append(rng.normal(0.0, 0.01, shape).astype(np.float32))
    return out


def audit(path, code, **options) -> list:
    report = graphaudit.audit(str(path), isolated=True, **options)
    assert not report.errors, [a.error for a in report.errors]
    return [f for f in report.findings if f.code == code]


def record(code: str, header: str, **facts) -> None:
    records.append({"rule": code, "header": header, **facts})


def toml_config(snippet) -> dict:
    """The `[tool.graphaudit]` table a `pyproject.toml` snippet shows, as `audit()` options."""
    import tomllib

    return tomllib.loads("\n".join(line[2:] for line in snippet.code.splitlines()))["tool"]["graphaudit"]


def namespace(**names) -> dict:
    ns = {"__name__": "snippet"}
    unknown = set(names) - set(ASSUMED)
    assert not unknown, unknown
    ns.update(names)
    return ns


def compare(got: np.ndarray, want: np.ndarray) -> float:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    return float(np.max(np.abs(got - want)) / max(1e-12, float(np.max(np.abs(want)))))


def run_snippets(code: str, finding, situation) -> None:
    """Each snippet of `finding` in a fresh situation; `situation(snippet)` returns its record."""
    for snippet in split(finding.fixup.code):
        try:
            facts = {"snippet": snippet.code, **situation(snippet)}
        except Exception:  # the record says what failed; the test shows it
            facts = {"error": traceback.format_exc()[-3000:]}
        record(code, snippet.header, **facts)


# -- TF1 -------------------------------------------------------------------------------------------

def tf1() -> None:
    v1 = tf.compat.v1
    weights = str(WORK / "vgg19.h5")
    with tf.Graph().as_default():
        v1.set_random_seed(1)
        with v1.Session() as sess, sess.as_default():
            model = tf_keras.applications.VGG19(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))
            model.set_weights(he_values(model.weights))
            model.save_weights(weights)
            x = v1.placeholder(tf.float32, (None, SIZE, SIZE, 3))
            y = model(x)
            reference = sess.run(y, {x: IMAGE})
            preprocessed = IMAGE[..., ::-1] - VGG_MEAN_BGR
            wrapper_reference = sess.run(y, {x: preprocessed})

    def fresh():
        graph = tf.Graph()
        context = graph.as_default()  # kept: a dropped generator context would leave the graph at once
        context.__enter__()
        contexts.append(context)
        v1.set_random_seed(2)
        images = v1.placeholder(tf.float32, (None, SIZE, SIZE, 3), name="images")
        sess = v1.Session(graph=graph)
        return graph, images, sess

    contexts: list = []

    def done(graph):
        contexts.pop().__exit__(None, None, None)
        tf_keras.backend.clear_session()

    def want_for(snippet):
        return wrapper_reference if "graphaudit.reference" in snippet.header else reference

    def saved_model(sess, images, features, name) -> Path:
        path = WORK / name
        v1.saved_model.simple_save(sess, str(path), inputs={"images": images}, outputs={"features": features})
        return path

    def run_saved_model(path) -> np.ndarray:
        """Load the artifact in a new graph and session, as a server would, and run its signature."""
        with tf.Graph().as_default(), v1.Session() as sess:
            meta = v1.saved_model.load(sess, ["serve"], str(path))
            sig = meta.signature_def["serving_default"]
            return sess.run(sig.outputs["features"].name, {sig.inputs["images"].name: IMAGE})

    def run_checkpoint(prefix, features_name) -> np.ndarray:
        with tf.Graph().as_default(), v1.Session() as sess:
            saver = v1.train.import_meta_graph(f"{prefix}.meta")
            saver.restore(sess, str(prefix))
            return sess.run(features_name, {"images:0": IMAGE})

    # GA101: the model built on its own `input_1`, then called on `images`.
    graph, images, sess = fresh()
    with sess.as_default():
        vgg = tf_keras.applications.VGG19(include_top=False, weights=weights)
    features = vgg(images)
    (finding,) = audit(saved_model(sess, images, features, "ga101-defect"), "GA101")
    done(graph)

    def ga101(snippet):
        graph, images, sess = fresh()
        ns = namespace(tf=tf, tf_keras=tf_keras, images=images, sess=sess, weights=weights)
        exec(snippet.code, ns)
        path = saved_model(sess, images, ns["features"], f"ga101-{len(records)}")
        done(graph)
        return {"before": 1, "after": len(audit(path, "GA101")),
                "error_vs_keras": compare(run_saved_model(path), want_for(snippet))}

    run_snippets("GA101", finding, ga101)

    # GA102: the cell that builds the model ran twice.
    graph, images, sess = fresh()
    for _ in range(2):
        with sess.as_default():
            backbone = tf_keras.applications.VGG19(include_top=False, weights=weights, input_tensor=images)
    (finding,) = audit(saved_model(sess, images, backbone.output, "ga102-defect"), "GA102")
    done(graph)

    def ga102(snippet):
        graph, images, sess = fresh()
        ns = namespace(tf=tf, tf_keras=tf_keras, images=images, sess=sess, weights=weights)
        for _ in range(2):  # the situation: the cell runs twice
            exec(snippet.code, ns)
        path = saved_model(sess, images, ns["features"], f"ga102-{len(records)}")
        done(graph)
        return {"before": 1, "after": len(audit(path, "GA102")),
                "error_vs_keras": compare(run_saved_model(path), want_for(snippet))}

    run_snippets("GA102", finding, ga102)

    # GA201: a Saver whose var_list left the backbone out.
    def head_on(backbone):
        pooled = tf_keras.layers.GlobalAveragePooling2D()(backbone.output)
        return tf_keras.layers.Dense(10, name="head")(pooled)

    graph, images, sess = fresh()
    with sess.as_default():
        backbone = tf_keras.applications.VGG19(include_top=False, weights=weights, input_tensor=images)
    logits = head_on(backbone)
    head_vars = v1.global_variables("head")
    sess.run(v1.variables_initializer(head_vars))
    prefix = WORK / "ga201-defect" / "model.ckpt"
    v1.train.Saver(var_list=head_vars).save(sess, str(prefix))
    (finding,) = audit(f"{prefix}.meta", "GA201")
    done(graph)

    def ga201(snippet):
        graph, images, sess = fresh()
        with sess.as_default():
            backbone = tf_keras.applications.VGG19(include_top=False, weights=weights, input_tensor=images)
        head_on(backbone)
        sess.run(v1.variables_initializer(v1.global_variables("head")))
        checkpoint = str(WORK / f"ga201-{len(records)}" / "model.ckpt")
        ns = namespace(tf=tf, tf_keras=tf_keras, images=images, sess=sess, weights=weights, backbone=backbone,
                       checkpoint=checkpoint)
        exec(snippet.code, ns)
        name = backbone.output.name
        done(graph)
        return {"before": 1, "after": len(audit(f"{checkpoint}.meta", "GA201")),
                "error_vs_keras": compare(run_checkpoint(checkpoint, name), reference)}

    run_snippets("GA201", finding, ga201)

    # GA202: the global initializer ran after Keras loaded the weights.
    graph, images, sess = fresh()
    with sess.as_default():
        backbone = tf_keras.applications.VGG19(include_top=False, weights=weights, input_tensor=images)
    sess.run(v1.global_variables_initializer())
    (finding,) = audit(saved_model(sess, images, backbone.output, "ga202-defect"), "GA202")
    done(graph)

    def ga202(snippet):
        if snippet.header.startswith("TF2"):
            return {"skipped": "TF2: run by the tf2 process"}
        graph, images, sess = fresh()
        ns = namespace(tf=tf, tf_keras=tf_keras, images=images, sess=sess, weights=weights)
        if "graphaudit.reference" not in snippet.header:
            # The situation: the user's model, built with its weights loaded into the session, and a head.
            with sess.as_default():
                backbone = tf_keras.applications.VGG19(include_top=False, weights=weights, input_tensor=images)
            head_on(backbone)
            ns["backbone"] = backbone
            ns["features"] = backbone.output
        exec(snippet.code, ns)
        path = saved_model(sess, images, ns["features"], f"ga202-{len(records)}")
        done(graph)
        return {"before": 1, "after": len(audit(path, "GA202")),
                "error_vs_keras": compare(run_saved_model(path), want_for(snippet))}

    run_snippets("GA202", finding, ga202)

    # GA203: the model built a second time (`_1`) next to a checkpoint of the first build's names.
    first = WORK / "ga203-first" / "vgg19.ckpt"
    graph, images, sess = fresh()
    with sess.as_default():
        backbone = tf_keras.applications.VGG19(include_top=False, weights=weights, input_tensor=images)
    v1.train.Saver(backbone.weights).save(sess, str(first), write_meta_graph=False)
    done(graph)

    def built_twice():
        graph, images, sess = fresh()
        tf_keras.applications.VGG19(include_top=False, weights=None, input_tensor=images)
        backbone = tf_keras.applications.VGG19(include_top=False, weights=None, input_tensor=images)
        return graph, images, sess, backbone

    graph, images, sess, backbone = built_twice()
    v1.train.Saver(backbone.weights).export_meta_graph(f"{first}.meta")
    (finding,) = audit(f"{first}.meta", "GA203")
    os.remove(f"{first}.meta")
    done(graph)

    def ga203(snippet):
        graph, images, sess, backbone = built_twice()
        ns = namespace(tf=tf, tf_keras=tf_keras, images=images, sess=sess, weights=weights, backbone=backbone,
                       checkpoint=str(first))
        exec(snippet.code, ns)  # restores the first build's names into the `_1` variables
        restored = sess.run(backbone.output, {images: IMAGE})
        ns["saver"].export_meta_graph(f"{first}.meta")  # the artifact: this graph beside that checkpoint
        after = len(audit(f"{first}.meta", "GA203")) + len(audit(f"{first}.meta", "GA201"))
        saved = run_checkpoint(first, backbone.output.name)
        os.remove(f"{first}.meta")
        done(graph)
        return {"before": 1, "after": after, "error_vs_keras": max(compare(restored, reference),
                                                                  compare(saved, reference))}

    run_snippets("GA203", finding, ga203)

    # GA301: `minimize(loss)` trains the backbone too.
    def training(var_list=None):
        graph, images, sess = fresh()
        with sess.as_default():
            backbone = tf_keras.applications.VGG19(include_top=False, weights=weights, input_tensor=images)
        logits = head_on(backbone)
        labels = v1.placeholder(tf.int32, (None,), name="labels")
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        return graph, images, sess, backbone, labels, loss

    def save_training(sess, train_op, prefix):
        v1.add_to_collection(v1.GraphKeys.TRAIN_OP, train_op)
        v1.train.Saver().save(sess, str(prefix))

    graph, images, sess, backbone, labels, loss = training()
    train_op = v1.train.AdamOptimizer(1e-3).minimize(loss)
    sess.run(v1.global_variables_initializer())
    prefix = WORK / "ga301-defect" / "model.ckpt"
    save_training(sess, train_op, prefix)
    (finding,) = audit(f"{prefix}.meta", "GA301")
    done(graph)

    # Intended fine-tuning of the last block: the declaration the finding prints names it.
    graph, images, sess, backbone, labels, loss = training()
    block5 = [v for v in v1.trainable_variables() if v.name.startswith(("block5_", "head"))]
    train_op = v1.train.AdamOptimizer(1e-3).minimize(loss, var_list=block5)
    sess.run(v1.global_variables_initializer())
    finetuned = WORK / "ga301-finetune" / "model.ckpt"
    save_training(sess, train_op, finetuned)
    (block5_finding,) = audit(f"{finetuned}.meta", "GA301")
    done(graph)

    def ga301(snippet):
        if snippet.header.startswith("TF2"):
            return {"skipped": "TF2: run by the tf2 process"}
        if snippet.header.startswith("pyproject.toml"):
            config = toml_config(snippet)
            return {"before": 1, "after": len(audit(f"{prefix}.meta", "GA301", **config)), "config": config}
        graph, images, sess, backbone, labels, loss = training()
        ns = namespace(tf=tf, tf_keras=tf_keras, images=images, sess=sess, weights=weights, backbone=backbone,
                       loss=loss)
        exec(snippet.code, ns)
        sess.run(v1.global_variables_initializer())
        with sess.as_default():
            backbone.load_weights(weights)
        sess.run(ns["train_op"], {images: IMAGE, labels: [1, 2]})  # one step: the backbone must not move
        trained = sess.run(backbone.output, {images: IMAGE})
        out = WORK / f"ga301-{len(records)}" / "model.ckpt"
        save_training(sess, ns["train_op"], out)
        done(graph)
        return {"before": 1, "after": len(audit(f"{out}.meta", "GA301")),
                "error_vs_keras": max(compare(trained, reference),
                                      compare(run_checkpoint(out, backbone.output.name), reference))}

    run_snippets("GA301", finding, ga301)
    for snippet in split(block5_finding.fixup.code):
        if snippet.header.startswith("pyproject.toml"):
            config = toml_config(snippet)
            record("GA301", snippet.header, snippet=snippet.code,
                   before=1, after=len(audit(f"{finetuned}.meta", "GA301", **config)),
                   config=config, situation="intended fine-tuning of block5")


def main() -> None:
    try:
        tf1() if MODE == "tf1" else tf2()
    except Exception:
        records.append({"rule": "-", "header": "-", "error": traceback.format_exc()[-4000:]})
    finally:
        shutil.rmtree(WORK, ignore_errors=True)  # a few 80 MB VGG19 checkpoints per run
    OUT.write_text(json.dumps(records, indent=1, default=str))


def tf2() -> None:
    import keras

    keras.utils.set_random_seed(3)  # fit() shuffles, and op determinism wants a seed for that

    weights = str(WORK / "vgg19.weights.h5")
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))
    vgg.set_weights(he_values(vgg.weights))
    vgg.save_weights(weights)
    reference = np.asarray(vgg.predict(IMAGE, verbose=0))

    def pretrained():
        return keras.applications.VGG19(include_top=False, weights=weights, input_shape=(SIZE, SIZE, 3))

    def images():
        return keras.Input((SIZE, SIZE, 3), name="images")

    def features_of(ns) -> np.ndarray:
        return np.asarray(keras.Model(ns["images"], ns["features"]).predict(IMAGE, verbose=0))

    # GA202: `clone_model` saved without the pretrained values.
    clone = keras.models.clone_model(pretrained())
    clone.save(WORK / "ga202-defect.keras")
    findings = audit(WORK / "ga202-defect.keras", "GA202")
    for finding in findings[:1]:
        def ga202(snippet):
            if not snippet.header.startswith("TF2"):
                return {"skipped": "TF1: run by the tf1 process"}
            ns = namespace(tf=tf, keras=keras, backbone=pretrained())
            exec(snippet.code, ns)
            path = WORK / f"ga202-{len(records)}.keras"
            ns["clone"].save(path)
            return {"before": 1, "after": len(audit(path, "GA202")),
                    "error_vs_keras": compare(keras.models.load_model(path).predict(IMAGE, verbose=0), reference)}

        run_snippets("GA202", finding, ga202)
    if not findings:
        record("GA202", "-", error="the Keras 3 clone_model defect gave no GA202 finding")

    # GA301/GA302: the base left trainable; compiled (GA302), then trained one step (GA301).
    def head_model(base, x):
        features = base(x)
        outputs = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(features))
        model = keras.Model(x, outputs)
        model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model

    labels = np.array([1, 2])
    compiled = head_model(pretrained(), images())
    compiled.save(WORK / "ga302-defect.keras")
    compiled.fit(IMAGE, labels, epochs=1, verbose=0)
    compiled.save(WORK / "ga301-defect.keras")
    for code, path in (("GA302", "ga302-defect.keras"), ("GA301", "ga301-defect.keras")):
        findings = audit(WORK / path, code)
        if not findings:
            record(code, "-", error=f"the Keras 3 defect `{path}` gave no {code} finding")
            continue

        def freeze(snippet, code=code, path=path):
            if snippet.header.startswith("TF1"):
                return {"skipped": "TF1: run by the tf1 process"}
            if snippet.header.startswith("pyproject.toml"):
                config = toml_config(snippet)
                return {"before": 1, "after": len(audit(WORK / path, code, **config)), "config": config}
            ns = namespace(tf=tf, keras=keras, backbone=pretrained(), images=images())
            exec(snippet.code, ns)
            if code == "GA301":
                ns["model"].fit(IMAGE, labels, epochs=1, verbose=0)  # the base must not move
            out = WORK / f"{code.lower()}-{len(records)}.keras"
            ns["model"].save(out)
            return {"before": 1, "after": len(audit(out, code)), "error_vs_keras": compare(features_of(ns), reference)}

        run_snippets(code, findings[0], freeze)

    # GA303: a serving function calls a MobileNetV2 (BatchNorm) in training mode. tf_keras' BatchNorm
    # runs `FusedBatchNormV3`, which GA303 reads; the snippet runs with either Keras and says so.
    for flavour, kit in (("tf_keras", tf_keras), ("Keras 3", keras)):
        mobilenet_weights = str(WORK / f"mobilenetv2-{flavour}.weights.h5")
        donor = kit.applications.MobileNetV2(include_top=False, weights=None, alpha=0.35,
                                             input_shape=(SIZE, SIZE, 3))
        donor.save_weights(mobilenet_weights)
        mobilenet_reference = np.asarray(donor.predict(IMAGE, verbose=0))

        def mobilenet(kit=kit, mobilenet_weights=mobilenet_weights):
            return kit.applications.MobileNetV2(include_top=False, weights=mobilenet_weights, alpha=0.35,
                                                input_shape=(SIZE, SIZE, 3))

        def export(model, serve, name) -> Path:
            path = WORK / name
            tf.saved_model.save(model, str(path), signatures={"serving_default": serve})
            return path

        base, x = mobilenet(), kit.Input((SIZE, SIZE, 3), name="images")
        model = kit.Model(x, kit.layers.Dense(10)(kit.layers.GlobalAveragePooling2D()(base(x))))
        serve = tf.function(lambda t, model=model: {"logits": model(t, training=True)},
                            input_signature=[tf.TensorSpec((None, SIZE, SIZE, 3), tf.float32)])
        if flavour == "tf_keras":
            findings = audit(export(model, serve, f"ga303-defect-{flavour}"), "GA303")
            if not findings:
                record("GA303", "-", error="the tf_keras serving defect gave no GA303 finding")
                continue
            finding = findings[0]

        def ga303(snippet, kit=kit, mobilenet=mobilenet, export=export, flavour=flavour,
                  mobilenet_reference=mobilenet_reference):
            ns = namespace(tf=tf, keras=kit, backbone=mobilenet(), images=kit.Input((SIZE, SIZE, 3), name="images"))
            exec(snippet.code, ns)
            served = ns["serve"](tf.constant(IMAGE))["logits"].numpy()
            direct = ns["model"].predict(IMAGE, verbose=0)
            features = kit.Model(ns["images"], ns["features"]).predict(IMAGE, verbose=0)
            facts = {"keras": flavour,
                     "error_vs_keras": max(compare(features, mobilenet_reference), compare(served, direct))}
            if flavour == "tf_keras":
                # Keras 3's BatchNorm is not `FusedBatchNorm*`, which GA303 reads: only tf_keras shows
                # the finding, so only its export is audited again.
                path = export(ns["model"], ns["serve"], f"ga303-{len(records)}")
                facts.update(before=1, after=len(audit(path, "GA303")))
            return facts

        run_snippets("GA303", finding, ga303)


if __name__ == "__main__":
    main()
