"""Write docs/img/ga101-report.png: the HTML report of the seed's VGG19 built twice, in headless Chromium.

    python docs/img/screenshot.py [--fixtures DIR]

The artifact is the test suite's `dup_vgg19` fixture (TensorFlow builds it once into DIR, by
default $GRAPHAUDIT_FIXTURES_DIR or bench/_work/fixtures). Needs Debian's chromium and
chromium-driver and selenium (the `test` extra).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

OUT = REPO / "docs" / "img" / "ga101-report.png"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=1280,860")


def seed_artifact(fixtures: Path) -> Path:
    from tests.fixtures.build import build, load_manifest

    folder = build(["dup_vgg19"], fixtures)["dup_vgg19"]
    return folder / load_manifest(folder)["root"]


def report_page(artifact: Path, folder: Path) -> Path:
    from graphaudit.config import Settings
    from graphaudit.engine import audit_paths
    from graphaudit.reporters import get_reporter
    from graphaudit.reporters.html import build_view

    report = audit_paths([str(artifact)], Settings(), view=build_view)
    out = io.StringIO()
    get_reporter("html", out).write(report)
    # The folder the fixture happens to live in says nothing to a reader of the docs.
    text = out.getvalue().replace(str(artifact.parent.parent.parent) + os.sep, "")
    page = folder / "report.html"
    page.write_text(text, encoding="utf-8")
    return page


def screenshot(page: Path, out: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="graphaudit-shot-")
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"))
    try:
        driver.get(page.as_uri())
        driver.save_screenshot(str(out))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get("GRAPHAUDIT_FIXTURES_DIR") or str(REPO / "bench" / "_work" / "fixtures")
    parser.add_argument("--fixtures", default=default, help="where the test fixtures are built (default: %(default)s)")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        page = report_page(seed_artifact(Path(args.fixtures)), Path(tmp))
        screenshot(page, Path(args.out))
    print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
