"""Size and time of the HTML report (`check --format html`) on the seed's VGG19, a ResNet50 and a 1M-node graph.

    python bench/bench_html.py [--cases vgg19,resnet50,1M] [--no-browser]

Cases, each the seed's bug (a model built on its own `input_1`, then called again on `images`):
- vgg19: the test suite's `dup_vgg19` fixture (a MetaGraph + checkpoint written by TensorFlow);
- resnet50: `tf_keras.applications.ResNet50(weights=None)` built that way in a TF1 graph, written
  as a GraphDef under bench/_work/html/ (needs TensorFlow; not committed);
- 1M: bench/bench_duplicates.py's synthetic GraphDef of 1M nodes (no TensorFlow needed).

For each: wall time of `graphaudit check --format json` and `--format html` in a fresh process
(start-up included), the page's size, the boxes it draws, and the time headless Chromium takes
to load and draw it (navigation start to the end of the load event, which waits for the page's
script).
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
import time
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


def run(path: Path, fmt: str, out: Path) -> float:
    """Wall seconds of one `check` in a fresh process."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "graphaudit", "check", str(path), "--format", fmt, "-o", str(out)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"check {path} --format {fmt} exited {proc.returncode}: {proc.stderr}")
    return wall


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
            json_s = run(path, "json", Path(tmp) / "r.json")
            data = json.loads((Path(tmp) / "r.json").read_text())
            nodes = sum(a["stats"]["nodes"] for a in data["artifacts"])
            codes = sorted({f["code"] for a in data["artifacts"] for f in a["findings"]})
            page = Path(tmp) / f"{name}.html"
            html_s = run(path, "html", page)
            text = page.read_text()
            views = [json.loads(m) for m in re.findall(r'id="view-\d+">(.*?)</script>', text)]
            boxes = sum(len(lay["items"]) for v in views for g in v["graphs"] for lay in g["layouts"].values())
            biggest = max((len(lay["items"]) for v in views for g in v["graphs"] for lay in g["layouts"].values()),
                          default=0)
            ms = None if args.no_browser else browser_ms(page)
            rows.append((name, nodes, ",".join(codes), json_s, html_s, len(text.encode()), boxes, biggest, ms))
    print(f"{'case':9} {'nodes':>9} {'findings':>14} {'json s':>7} {'html s':>7} {'page KB':>8} "
          f"{'boxes':>6} {'max/scope':>9} {'browser ms':>10}")
    for name, nodes, codes, js, hs, size, boxes, biggest, ms in rows:
        shown = f"{ms:.0f}" if ms is not None else "n/a"
        print(f"{name:9} {nodes:>9,} {codes:>14} {js:>7.1f} {hs:>7.1f} {size / 1024:>8.0f} {boxes:>6,} {biggest:>9} "
              f"{shown:>10}")


if __name__ == "__main__":
    main()
