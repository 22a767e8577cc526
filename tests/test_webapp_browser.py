"""The web demo in a real headless Chromium (Debian's, driven by Playwright) on a tiny random model:
type a caption, Generate, watch the sampler's progress, see the motion play, download and parse
the BVH, fit a body; a second tab sees its queue position; no console errors, nothing leaves
127.0.0.1. Needs /usr/bin/chromium (`bash scripts/setup.sh --browser`); CI sets
CROSSDIFF_REQUIRE_BROWSER=1 so that a missing browser fails there instead of skipping."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

from test_webapp_api import SlowModel
from webapp_helpers import start_tiny_demo, tiny_demo_files

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
# WebGL on the CPU: headless Chromium has no GPU here, SwiftShader renders instead.
CHROMIUM_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]


def _require_browser():
    missing = None
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} not found (install it: bash scripts/setup.sh --browser)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright package is not installed (pip install -r requirements.txt)"
    if missing and os.environ.get("CROSSDIFF_REQUIRE_BROWSER"):
        pytest.fail(f"browser tests required (CROSSDIFF_REQUIRE_BROWSER) but {missing}")
    if missing:
        pytest.skip(missing)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    _require_browser()
    root = tmp_path_factory.mktemp("browser")
    demo = start_tiny_demo(root, *tiny_demo_files(root))
    yield demo
    demo.close()


@pytest.fixture(scope="module")
def browser(demo):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Watched:
    """A page whose console errors and requests to anywhere but the demo are recorded (and blocked)."""

    def __init__(self, browser, demo):
        self.context = browser.new_context(viewport={"width": 1100, "height": 800}, accept_downloads=True)
        self.page = self.context.new_page()
        self.errors, self.outside = [], []
        origin = urlsplit(demo.url)
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

        def only_the_demo(route):
            url = urlsplit(route.request.url)
            if (url.hostname, url.port) == (origin.hostname, origin.port):
                route.continue_()
            else:
                self.outside.append(route.request.url)
                route.abort()

        self.context.route("**/*", only_the_demo)
        self.page.goto(demo.url)
        self.page.wait_for_selector("body[data-ready=true]", timeout=30_000)

    def generate(self, caption: str, samples: int = 1) -> None:
        self.page.fill("#caption", caption)
        self.page.fill("#samples", str(samples))
        self.page.click("#generate")


def _canvas(page) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(page.locator("#viewer").screenshot())).convert("RGB"), dtype=np.int16)


def test_caption_to_playing_motion_with_progress_bvh_and_body(demo, browser):
    from playwright.sync_api import expect

    from crossdiff.motion.bvh import bvh_positions, parse_bvh

    tab = Watched(browser, demo)
    page = tab.page
    sampler = demo.engine.sampler
    original, sampler.model = sampler.model, SlowModel(sampler.model, 0.15)   # time to see the progress
    try:
        tab.generate("a person walks forward and waves", samples=2)
        expect(page.locator("#status-text")).to_contain_text("sampling (step", timeout=30_000)
        expect(page.locator("#status-text")).to_have_text("Generate: done", timeout=60_000)
    finally:
        sampler.model = original
    assert page.locator("#progress").get_attribute("value") == "1"
    expect(page.locator(".sample")).to_have_count(2)
    time.sleep(0.5)
    first = _canvas(page)
    time.sleep(0.7)
    second = _canvas(page)
    for shot in (first, second):
        assert shot.std() > 5 and len(np.unique(shot.reshape(-1, 3), axis=0)) > 50   # a scene, not a blank canvas
    assert np.abs(first - second).mean() > 0.05   # the motion plays

    with page.expect_download() as download:
        page.locator(".sample").first.locator("a.download-bvh").click()
    bvh = parse_bvh(Path(download.value.path()).read_text())
    assert bvh_positions(bvh, "m").shape == (48, 22, 3)   # the default length: the model's 2.4 s at 20 fps

    page.locator(".sample").first.locator("button.fit").click()
    expect(page.locator("#message")).to_contain_text("body fitted", timeout=60_000)
    expect(page.locator(".sample").first.locator("input[type=checkbox]")).to_be_checked()
    expect(page.locator("#history li")).to_have_count(1)
    assert tab.errors == [] and tab.outside == []

    page.fill("#caption", "  ")
    page.click("#generate")
    expect(page.locator("#message")).to_contain_text("caption is empty")
    assert all("400" in error for error in tab.errors)   # only the refused request's own log line
    tab.context.close()


def test_a_second_tab_sees_its_queue_position_and_can_cancel(demo, browser):
    from playwright.sync_api import expect

    first, second = Watched(browser, demo), Watched(browser, demo)
    sampler = demo.engine.sampler
    original, sampler.model = sampler.model, SlowModel(sampler.model, 0.3)
    try:
        first.generate("a person jumps")
        expect(first.page.locator("#status-text")).to_contain_text("sampling", timeout=30_000)
        second.generate("someone waves")
        expect(second.page.locator("#status-text")).to_contain_text("position 1 in the queue", timeout=10_000)
        second.page.click("#cancel")
        expect(second.page.locator("#status-text")).to_have_text("Generate: cancelled", timeout=10_000)
        first.page.click("#cancel")
        expect(first.page.locator("#status-text")).to_have_text("Generate: cancelled", timeout=30_000)
    finally:
        sampler.model = original
    first.generate("a person jumps")
    expect(first.page.locator("#status-text")).to_have_text("Generate: done", timeout=60_000)
    for tab in (first, second):
        assert tab.errors == [] and tab.outside == []
        tab.context.close()
