"""The HTML report in a real browser: the seed's dead copy is on screen, marked and clickable; nothing is fetched."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import time

import pytest

from graphaudit.config import Settings
from graphaudit.engine import audit_paths
from graphaudit.reporters import get_reporter
from graphaudit.reporters.html import build_view
from graphaudit.testing.harness import graph, head, mlp, placeholder, vgg

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                       reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium "
                              "chromium-driver); .ci/run installs them"),
]

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,800")
IMAGE = (None, 32, 32, 3)


def seed_case():
    """The seed's GA101: a VGG built on its own `input_1`, then called on `images` (a second copy)."""
    inp, img = placeholder("input_1", IMAGE), placeholder("images", IMAGE)
    first = vgg("", inp)
    second = vgg("model", img, share=first)
    top = head("head", second.out, 8)
    return graph(inp, img, first, second, top, outputs=[top.out], saver=True)


def write_page(case, folder) -> str:
    path = case.write(folder / "artifact")
    report = audit_paths([path], Settings(), view=build_view)
    out = io.StringIO()
    get_reporter("html", out).write(report)
    page = folder / "report.html"
    page.write_text(out.getvalue(), encoding="utf-8")
    return page.as_uri()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="graphaudit-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_page(driver, url: str) -> None:
    driver.get_log("browser")
    driver.get_log("performance")
    driver.get(url)


def problems(driver, url: str) -> list[str]:
    """Console errors, and every request the page made besides loading itself (the browser's own
    start-up requests, such as its new-tab page, are made by other documents)."""
    out = [f"console: {e['message']}" for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        params = msg.get("params", {})
        if (msg["method"] == "Network.requestWillBeSent" and params.get("documentURL") == url
                and params["request"]["url"] != url):
            out.append(f"request: {params['request']['url']}")
    out += [f"resource: {r}" for r in driver.execute_script(
        "return performance.getEntriesByType('resource').map(function (r) { return r.name; })")]
    return out


ON_SCREEN = """
var box = arguments[0].getBoundingClientRect();
var x = box.left + box.width / 2, y = box.top + box.height / 2;
var hit = document.elementFromPoint(x, y);
return {w: box.width, h: box.height, inside: box.left >= 0 && box.top >= 0 && box.right <= innerWidth &&
        box.bottom <= innerHeight, hit: !!hit && arguments[0].contains(hit)};
"""


def test_the_dead_copy_is_marked_on_screen_and_opens_on_click(browser, tmp_path):
    from selenium.webdriver.common.by import By

    url = write_page(seed_case(), tmp_path)
    open_page(browser, url)
    card = browser.find_element(By.CSS_SELECTOR, "li.finding.selected")
    assert card.find_element(By.CSS_SELECTOR, "a.code").text == "GA101"
    assert card.find_element(By.CSS_SELECTOR, ".evidence").is_displayed()  # the evidence, beside the graph
    marked = browser.find_elements(By.CSS_SELECTOR, "svg.canvas g.item.hl")
    labels = {m.get_attribute("data-name") for m in marked}
    assert {"unused copy of model", "input_1"} <= labels, labels
    assert "model" not in labels and "images" not in labels
    for m in marked:  # every marked box is drawn, inside the window, and not covered by anything
        seen = browser.execute_script(ON_SCREEN, m)
        assert seen["w"] > 8 and seen["h"] > 8 and seen["inside"] and seen["hit"], (m.get_attribute("data-name"), seen)
    live = browser.find_element(By.CSS_SELECTOR, 'svg.canvas g.item.live[data-name="model"]')
    assert "hl" not in live.get_attribute("class").split()

    copy = next(m for m in marked if m.get_attribute("data-name") == "unused copy of model")
    copy.click()  # opens the scope: its layers, each marked, none on the live path
    crumbs = [b.text for b in browser.find_elements(By.CSS_SELECTOR, ".crumbs button")]
    assert crumbs == ["(top)", "unused copy of model"]
    inner = browser.find_elements(By.CSS_SELECTOR, "svg.canvas g.item")
    assert len(inner) >= 5 and all("hl" in g.get_attribute("class").split() for g in inner)
    assert not browser.find_elements(By.CSS_SELECTOR, "svg.canvas g.item.live")
    layer = next(g for g in inner if g.get_attribute("data-name").endswith("block1_conv1"))
    layer.click()
    op = browser.find_elements(By.CSS_SELECTOR, "svg.canvas g.item.op.hl")[0]
    op.click()  # an op: its details and the finding that marks it
    details = browser.find_element(By.CSS_SELECTOR, ".details").text
    assert "no root reaches it" in details and "GA101" in details, details
    browser.find_element(By.CSS_SELECTOR, ".crumbs button").click()
    assert browser.find_elements(By.CSS_SELECTOR, 'svg.canvas g.item[data-name="unused copy of model"]')
    assert problems(browser, url) == []


def test_hostile_names_run_no_script(browser, tmp_path):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    hostile = '</script><script>alert(1)</script><img src=x onerror=alert(2)>'
    inp, img = placeholder("input_1", (None, 16)), placeholder(hostile, (None, 16))
    first = mlp("", inp, (16, 16, 16, 16, 16, 8))
    second = mlp("model", img, (16, 16, 16, 16, 16, 8), share=first)
    url = write_page(graph(inp, img, first, second, outputs=[second.out], saver=True), tmp_path)
    open_page(browser, url)
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text
    names = browser.execute_script("""
        var view = JSON.parse(document.getElementById("view-0").textContent), out = [];
        Object.values(view.graphs[0].layouts).forEach(function (l) { l.items.forEach(function (i) { out.push(i.p); }); });
        return out;""")
    assert hostile in names  # the page's data holds the name as it is, and the script shows it as text
    assert "<" in [g.get_attribute("data-name") for g in browser.find_elements(By.CSS_SELECTOR, "svg.canvas g.item")]
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0
    assert problems(browser, url) == []


def test_the_checks_see_a_request_and_a_console_error_when_there_is_one(browser, tmp_path):
    """The control: a page that fetches an image and logs an error fails both checks above."""
    page = tmp_path / "control.html"
    page.write_text('<!DOCTYPE html><img src="http://192.0.2.1/x.png"><script>console.error("boom")</script>')
    open_page(browser, page.as_uri())
    found: list[str] = []
    deadline = time.monotonic() + 10  # on a loaded machine the failed fetch is logged late
    while time.monotonic() < deadline:
        found += problems(browser, page.as_uri())
        if any(p.startswith("request:") for p in found) and any('"boom"' in p for p in found):
            break
        time.sleep(0.2)
    assert "request: http://192.0.2.1/x.png" in found
    assert any(p.startswith("console:") and '"boom"' in p for p in found), found


@pytest.mark.tf
def test_the_seed_fixture_s_dead_vgg19_is_on_screen_beside_its_live_twin(browser, artifacts, tmp_path):
    """The same checks on the artifact TensorFlow wrote for the seed (`dup_vgg19`, MetaGraph)."""
    from selenium.webdriver.common.by import By

    path = artifacts.path("dup_vgg19")
    report = audit_paths([str(path)], Settings(), view=build_view)
    out = io.StringIO()
    get_reporter("html", out).write(report)
    page = tmp_path / "seed.html"
    page.write_text(out.getvalue(), encoding="utf-8")
    open_page(browser, page.as_uri())
    assert browser.find_element(By.CSS_SELECTOR, "li.finding.selected a.code").text == "GA101"
    marked = {m.get_attribute("data-name"): m for m in browser.find_elements(By.CSS_SELECTOR, "svg.canvas g.item.hl")}
    assert {"unused copy of vgg19", "input_1"} <= set(marked), set(marked)
    for name, m in marked.items():
        seen = browser.execute_script(ON_SCREEN, m)
        assert seen["inside"] and seen["hit"], (name, seen)
    twin = browser.find_element(By.CSS_SELECTOR, 'svg.canvas g.item[data-name="vgg19"]')
    assert "live" in twin.get_attribute("class").split() and "hl" not in twin.get_attribute("class").split()
    marked["unused copy of vgg19"].click()
    layers = {g.get_attribute("data-name") for g in browser.find_elements(By.CSS_SELECTOR, "svg.canvas g.item.hl")}
    assert {"block1_conv1", "block5_pool"} <= {name.rpartition("/")[2] for name in layers}, layers
    assert problems(browser, page.as_uri()) == []
