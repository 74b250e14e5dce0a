"""End-to-end tests: a real uvicorn server and Debian's headless Chromium, driven by Playwright.

Playwright drives ``/usr/bin/chromium`` (``apt-get install chromium``), never a browser of its
own (no ``playwright install``). Without it these tests are skipped, except in CI (``CI`` set),
where a missing browser is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import RunningServer, start

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: drives Debian's headless Chromium against a running server")


# Module scope, not session: Playwright's sync API keeps an asyncio loop running in this
# thread until it stops, and later tests that call asyncio.run() would then fail.
@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """A headless Chromium (Playwright's Browser); skipped where there is none, outside CI."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install --no-install-recommends chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    """The JSON API and the pages on 127.0.0.1, over the in-memory service with the demo cases."""
    running = start(secure_cookies=True)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
