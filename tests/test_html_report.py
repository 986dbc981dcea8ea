"""--format html: one self-contained page, findings marked on a graph drawn by scope, hostile names inert."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys

import pytest

from graphaudit.config import Settings
from graphaudit.engine import audit_paths
from graphaudit.reporters import get_reporter
from graphaudit.reporters.graphview import MAX_BOXES, MAX_CHILDREN
from graphaudit.reporters.html import build_view
from graphaudit.reporters.layout import layered
from graphaudit.testing.harness import graph, head, mlp, placeholder, resnet, vgg

IMAGE = (None, 32, 32, 3)


def built_twice(family=vgg, fmt="meta"):
    """The seed's bug: the model built on its own `input_1`, then called on `images`."""
    inp, img = placeholder("input_1", IMAGE), placeholder("images", IMAGE)
    first = family("", inp)
    second = family("model", img, share=first)
    top = head("head", second.out, 8)
    return graph(inp, img, first, second, top, format=fmt, outputs=[top.out], saver=True)


def page_of(path, **settings) -> tuple[str, list[dict]]:
    """The page for ``path`` and the drawing data of each artifact, as the page's script reads it."""
    import io

    report = audit_paths([str(path)], Settings(**settings), view=build_view)
    out = io.StringIO()
    get_reporter("html", out).write(report)
    text = out.getvalue()
    views = [json.loads(m) for m in re.findall(r'<script type="application/json" id="view-\d+">(.*?)</script>', text)]
    return text, views


def top_items(view) -> dict[str, dict]:
    g = view["graphs"][0]
    return {it["l"]: it for it in g["layouts"][str(g["root"])]["items"]}


@pytest.mark.parametrize("family, fmt", [(vgg, "meta"), (resnet, "saved_model")], ids=["vgg-meta", "resnet-saved-model"])
def test_the_dead_copy_is_one_marked_box_off_the_live_path_and_its_twin_is_live(tmp_path, family, fmt):
    path = built_twice(family, fmt).write(tmp_path)
    text, (view,) = page_of(path)
    codes = re.findall(r'<li class="finding sev-\w+" data-f="(\d+)"[^>]*>.*?<a class="code"[^>]*>(GA\d+)</a>', text)
    ga101 = next(int(k) for k, code in codes if code == "GA101")
    items = top_items(view)
    copy = items["unused copy of model"]
    assert copy["k"] == "s" and copy["v"] == 0 and ga101 in copy["f"], copy
    assert items["model"]["v"] == 1 and ga101 not in items["model"]["f"], items["model"]
    assert items["input_1"]["v"] == 0 and ga101 in items["input_1"]["f"]
    assert items["images"]["v"] == 1 and not items["images"]["f"]
    g = view["graphs"][0]
    assert g["homes"][ga101] == g["root"]
    # Opening the copy shows its layers, every one marked and none live.
    inner = g["layouts"][str(copy["r"])]["items"]
    assert inner and all(ga101 in it["f"] and it["v"] == 0 for it in inner), inner


def test_the_page_loads_nothing_and_allows_only_its_own_script_and_style(tmp_path):
    text, _ = page_of(built_twice().write(tmp_path))
    assert not re.search(r"<(link|img|iframe|object|embed)\b|\bsrc=|@import|url\((?!#)", text)
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text).group(1)
    assert "default-src 'none'" in csp
    scripts = re.findall(r"<script>(.*?)</script>", text, re.S)
    styles = re.findall(r"<style>(.*?)</style>", text, re.S)
    assert len(scripts) == 1 and len(styles) == 1
    for body, directive in ((scripts[0], "script-src"), (styles[0], "style-src")):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in csp


HOSTILE = '</script><script>alert(1)</script><img src=x onerror=alert(2)>\x1b[2J'


def test_hostile_names_reach_the_page_as_text_only(tmp_path):
    inp, img = placeholder("input_1", IMAGE), placeholder(HOSTILE, IMAGE)
    first = mlp("", inp, (16, 16, 16, 16, 16, 8))
    second = mlp("model", img, (16, 16, 16, 16, 16, 8), share=first)
    path = graph(inp, img, first, second, outputs=[second.out], saver=True).write(tmp_path)
    text, (view,) = page_of(path)
    assert "</script><script>alert" not in text
    assert text.count("<script") == 2  # the data block and the page's own script
    assert "<img" not in text and "\x1b" not in text
    names = {it["p"] for lay in view["graphs"][0]["layouts"].values() for it in lay["items"]}
    assert HOSTILE.replace("\x1b", "\\x1b") in names  # the name itself survives, as text


def test_a_graph_far_past_the_caps_draws_a_bounded_picture_and_says_what_it_folded(tmp_path):
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent / "bench"))
    from bench_duplicates import synthetic_graph

    path = tmp_path / "wide.pb"
    path.write_bytes(synthetic_graph(400).SerializeToString())  # 400 layers side by side: ~10k nodes
    _, (view,) = page_of(path)
    g = view["graphs"][0]
    boxes = [len(lay["items"]) for lay in g["layouts"].values()]
    assert max(boxes) <= MAX_CHILDREN + 1 and sum(boxes) <= MAX_BOXES + MAX_CHILDREN + 1
    assert g["folded_ops"] > 0 and g["collapsed_scopes"] + g["folded_scopes"] > 0
    items = top_items(view)
    folded = [it for it in items.values() if it["k"] == "m"]
    assert len(folded) == 1 and folded[0]["t"].endswith("ops folded")
    # What holds the finding is drawn first: the dead copy's group and the placeholder feeding it.
    assert items["unused copy of model"]["f"] and items["input_1"]["f"]


def test_a_baseline_that_hides_a_finding_renumbers_the_marks(tmp_path):
    import dataclasses
    import io

    path = built_twice().write(tmp_path)
    report = audit_paths([str(path)], Settings(), view=build_view)
    art = report.artifacts[0]
    assert art.findings and any(it["f"] for lay in art.view["graphs"][0]["layouts"].values() for it in lay["items"])
    kept = art.findings[1:]
    hidden = dataclasses.replace(report, artifacts=(dataclasses.replace(art, findings=kept, hidden=1),))
    out = io.StringIO()
    get_reporter("html", out).write(hidden)
    (view,) = [json.loads(m) for m in re.findall(r'id="view-0">(.*?)</script>', out.getvalue())]
    marks = {f for lay in view["graphs"][0]["layouts"].values() for it in lay["items"] for f in it["f"]}
    assert marks <= set(range(len(kept)))
    assert "1 hidden by the baseline" in out.getvalue()


def test_check_and_inspect_write_html_from_the_command_line(tmp_path):
    path = built_twice().write(tmp_path / "case")
    out = tmp_path / "report.html"
    run = subprocess.run([sys.executable, "-m", "graphaudit", "check", path, "--format", "html", "-o", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 1, run.stderr
    assert out.read_text().count('class="finding ') >= 1
    got = subprocess.run([sys.executable, "-m", "graphaudit", "inspect", path, "--format", "html"],
                         capture_output=True, text=True)
    assert got.returncode == 0, got.stderr
    assert got.stdout.startswith("<!DOCTYPE html>") and 'id="view-0"' in got.stdout
    assert 'class="finding ' not in got.stdout


def test_the_layout_puts_each_box_below_what_feeds_it_and_survives_cycles():
    sizes = [(60, 30)] * 5
    placed = layered(sizes, [(0, 1), (1, 2), (0, 3), (3, 2), (2, 4)])
    assert placed.y[0] < placed.y[1] < placed.y[2] < placed.y[4] and placed.y[3] == placed.y[1]
    assert placed.x[1] != placed.x[3]
    cyclic = layered([(60, 30)] * 3, [(0, 1), (1, 2), (2, 0)])
    assert len(cyclic.routes) == 3 and len({round(y) for y in cyclic.y}) == 3
    assert layered(sizes, [(0, 1), (1, 2)]) == layered(sizes, [(0, 1), (1, 2)])


def test_a_wide_layer_wraps_into_even_rows_so_the_scope_fits_a_screen():
    sizes = [(80, 30)] * 41
    placed = layered(sizes, [(0, k) for k in range(1, 41)])  # one box feeding 40: a layer of 40
    rows = sorted({placed.y[k] for k in range(1, 41)})
    per_row = [sum(1 for k in range(1, 41) if placed.y[k] == y) for y in rows]
    assert per_row == [14, 14, 12] and all(placed.y[0] < y for y in rows)
