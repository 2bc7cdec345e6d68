"""Open a page in headless Chromium (Debian's chromium, driven by Playwright) and report what a reader would
see: console errors, requests that left the machine, images that did not load, a screenshot."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Rendered:
    errors: list[str]
    external_requests: list[str]
    images_loaded: list[bool]
    screenshot: Path

    def blank(self) -> bool:
        """Whether the visible page is (almost) one colour."""
        from PIL import Image

        histogram = Image.open(self.screenshot).convert("L").histogram()
        return max(histogram) >= 0.97 * sum(histogram)


def chromium() -> str:
    """The Chromium executable (`make test` installs Debian's chromium when it is missing)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("Chromium is missing: `make test` installs it (apt-get install chromium)")
    return found


def render(page_path: Path, screenshot: Path) -> Rendered:
    """Load ``page_path`` offline (every request other than file: and data: is aborted and recorded)."""
    from playwright.sync_api import sync_playwright

    errors, external = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 1600})
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        def route(request_route):
            url = request_route.request.url
            if url.startswith(("file:", "data:")):
                request_route.continue_()
            else:
                external.append(url)
                request_route.abort()

        page.route("**/*", route)
        page.goto(page_path.resolve().as_uri())
        page.wait_for_load_state("load")
        loaded = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")
        page.screenshot(path=str(screenshot), full_page=False)
        browser.close()
    return Rendered(errors, external, loaded, screenshot)
