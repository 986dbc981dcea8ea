"""Size and time of the HTML report (`check --format html`) on the seed's VGG19, a ResNet50 and a 1M-node graph.

    python bench/bench_html.py [--cases vgg19,resnet50,1M] [--no-browser]

Cases, each the seed's bug (a model built on its own `input_1`, then called again on `images`):
- vgg19: the test suite's `dup_vgg19` fixture (a MetaGraph + checkpoint written by TensorFlow);
- resnet50: `tf_keras.applications.ResNet50(weights=None)` built that way in a TF1 graph, written
  as a GraphDef under bench/_work/html/ (needs TensorFlow; not committed);
- 1M: bench/bench_duplicates.py's synthetic GraphDef of 1M nodes (no TensorFlow needed).

For each, in a fresh process: the seconds to read the artifact, to check it (every rule), to
build the drawing (`reporters/graphview.py`: scopes, caps, layout) and to write the page; then the
page's size, the boxes it lays out, and the time headless Chromium takes to load and draw it
(navigation start to the end of the load event, which waits for the page's script).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
WORK = REPO / "bench" / "_work" / "html"


def vgg19() -> Path:
    from tests.fixtures.build import build, load_manifest

    fixtures = Path(os.environ.get("GRAPHAUDIT_FIXTURES_DIR") or REPO / "bench" / "_work" / "fixtures")
    folder = build(["dup_vgg19"], fixtures)["dup_vgg19"]
    return folder / load_manifest(folder)["root"]


RESNET = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
import tf_keras
tf.compat.v1.disable_eager_execution()
graph = tf.Graph()
with graph.as_default():
    model = tf_keras.applications.ResNet50(weights=None, input_shape=(224, 224, 3))
    images = tf.compat.v1.placeholder(tf.float32, (None, 224, 224, 3), name="images")
    tf.identity(model(images), name="output")
    tf.io.write_graph(graph.as_graph_def(), sys.argv[1], sys.argv[2], as_text=False)
"""


def resnet50() -> Path:
    path = WORK / "resnet50_twice.pb"
    if not path.is_file():
        WORK.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-c", RESNET, str(WORK), path.name + ".partial"], check=True)
        (WORK / (path.name + ".partial")).rename(path)
    return path


def one_million() -> Path:
    from bench_duplicates import graph_file

    return graph_file("1M", 1_000_000)


CASES = {"vgg19": vgg19, "resnet50": resnet50, "1M": one_million}


PHASES = """
import io, json, sys, time
from graphaudit.config import Settings
from graphaudit.engine import check_artifact
from graphaudit.findings import Report
from graphaudit.formats.readers import read
from graphaudit.formats.sniff import discover
from graphaudit.reporters.html import HtmlReporter, build_view
found = discover([sys.argv[1]], max_file_size=10**11)
candidate = (found.candidates if hasattr(found, "candidates") else found)[0]
t = {}
start = time.perf_counter()
artifact = read(candidate, max_file_size=10**11)
t["read"] = time.perf_counter() - start
def view(art, facts, findings):
    start = time.perf_counter()
    out = build_view(art, facts, findings)
    t["view"] = time.perf_counter() - start
    return out
start = time.perf_counter()
result = check_artifact(artifact, Settings(), view)
t["check"] = time.perf_counter() - start - t["view"]
start = time.perf_counter()
with open(sys.argv[2], "w", encoding="utf-8") as fh:
    HtmlReporter(fh).write(Report(artifacts=(result,)))
t["page"] = time.perf_counter() - start
t["codes"] = sorted({f.code for f in result.findings})
t["nodes"] = result.stats.nodes
print(json.dumps(t))
"""


def phases(path: Path, page: Path) -> dict:
    """Seconds of each phase in a fresh process (imports and start-up left out)."""
    proc = subprocess.run([sys.executable, "-c", PHASES, str(path), str(page)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    if proc.returncode:
        raise SystemExit(f"{path}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def browser_ms(page: Path) -> float | None:
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver_path:
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tempfile.mkdtemp()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,800", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        driver.get(page.as_uri())
        nav = driver.execute_script("return performance.getEntriesByType('navigation')[0].toJSON()")
        return nav["loadEventEnd"] - nav["startTime"]
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.cases.split(","):
            path = CASES[name]()
            page = Path(tmp) / f"{name}.html"
            t = phases(path, page)
            text = page.read_text()
            views = [json.loads(m) for m in re.findall(r'id="view-\d+">(.*?)</script>', text)]
            layouts = [lay for v in views for g in v["graphs"] for lay in g["layouts"].values()]
            boxes = sum(len(lay["items"]) for lay in layouts)
            ms = None if args.no_browser else browser_ms(page)
            rows.append((name, t, len(text.encode()), boxes, ms))
    print(f"{'case':9} {'nodes':>9} {'findings':>12} {'read s':>7} {'check s':>7} {'view s':>7} {'page s':>7} "
          f"{'page KB':>8} {'boxes':>6} {'browser ms':>10}")
    for name, t, size, boxes, ms in rows:
        shown = f"{ms:.0f}" if ms is not None else "n/a"
        print(f"{name:9} {t['nodes']:>9,} {','.join(t['codes']):>12} {t['read']:>7.2f} {t['check']:>7.2f} "
              f"{t['view']:>7.2f} {t['page']:>7.2f} {size / 1024:>8.0f} {boxes:>6,} {shown:>10}")


if __name__ == "__main__":
    main()
