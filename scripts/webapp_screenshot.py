"""Screenshot of a running web demo for the README (headless Debian chromium through Playwright).

    python app.py ... &                       # the demo, e.g. on http://127.0.0.1:7860
    python scripts/webapp_screenshot.py http://127.0.0.1:7860 docs/webapp.png [--caption "..."] [--samples 2]

Types the caption, generates, fits a body to the first sample, pauses on a frame and saves the page.
"""

from __future__ import annotations

import argparse
import time

CHROMIUM_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("out")
    parser.add_argument("--caption", default="a person walks forward and waves")
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--frame", type=int, default=20, help="frame to pause on")
    args = parser.parse_args()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 760})
        page.goto(args.url)
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        page.fill("#caption", args.caption)
        page.fill("#samples", str(args.samples))
        page.click("#generate")
        expect(page.locator("#status-text")).to_have_text("Generate: done", timeout=600_000)
        page.locator(".sample").first.locator("button.fit").click()
        expect(page.locator("#message")).to_contain_text("body fitted", timeout=600_000)
        page.click("#play")
        page.locator("#scrub").fill(str(args.frame))
        time.sleep(1.0)
        page.screenshot(path=args.out)
        browser.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
