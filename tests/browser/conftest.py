"""Browser tests: Streamlit servers on loopback driven by Playwright in Debian's headless Chromium.

One shared server serves the journeys; a test that needs a freshly started server (deep links, the
empty state) starts its own with `start_server`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench.server import CHROMIUM, CHROMIUM_ARGS, Server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def demo_template(small_demo: Path) -> Path:
    """The demo warehouse every server starts from, on a copy of its own."""
    return small_demo


@pytest.fixture
def start_server(tmp_path) -> Iterator[Callable[..., Server]]:
    """Start a fresh server on a copy of `db` (or on an empty warehouse when db is None), with extra
    `streamlit run` options such as "--server.maxUploadSize", "1"."""
    started: list[Server] = []

    def start(db: Path | None, *options: str) -> Server:
        target = tmp_path / f"fresh{len(started)}.duckdb"
        if db is not None:
            shutil.copy(db, target)
        server = Server(target, tmp_path / f"fresh{len(started)}.log", *options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def server(demo_template, tmp_path_factory) -> Iterator[Server]:
    """The shared server for the journeys, on its own copy of the demo warehouse."""
    folder = tmp_path_factory.mktemp("shared_server")
    db = folder / "demo.duckdb"
    shutil.copy(demo_template, db)
    shared = Server(db, folder / "streamlit.log")
    yield shared
    shared.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=20_000)  # a 2-core CI machine renders a first page slowly

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser):
    """new_page(width, height) -> a tab in a fresh browser context of that viewport, closed after the test."""
    contexts = []

    def make(width: int, height: int):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        tab = context.new_page()
        tab.set_default_timeout(30_000)
        return tab

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page(1400, 1000)
