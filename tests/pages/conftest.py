"""AppTest helpers: run the router or one page against a chosen warehouse."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def demo_db(small_demo: Path) -> Path:
    """The small demo warehouse the page tests read."""
    return small_demo


def _render_page(name: str) -> None:
    import importlib

    importlib.import_module(f"pages.{name}").render()


@pytest.fixture
def page_app(monkeypatch):
    """page_app('funnel', db) -> an AppTest that renders just that page against warehouse `db`."""
    def make(name: str, db: Path) -> AppTest:
        monkeypatch.setenv("ANALYTICS_DB", str(db))
        return AppTest.from_function(_render_page, args=(name,), default_timeout=60)
    return make


@pytest.fixture
def router_app(monkeypatch):
    """router_app(db) -> an AppTest of dashboard.py against warehouse `db`."""
    def make(db: Path) -> AppTest:
        monkeypatch.setenv("ANALYTICS_DB", str(db))
        return AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    return make


@pytest.fixture(autouse=True)
def server_address() -> Iterator[Callable[[str | None], None]]:
    """Page tests run as `make dashboard` serves, on localhost, where the app is open without sign-in;
    server_address("0.0.0.0") serves one test on every interface instead."""
    before = config.get_option("server.address")

    def serve_on(address: str | None) -> None:
        config.set_option("server.address", address, "tests/pages/conftest.py")

    serve_on("localhost")
    yield serve_on
    serve_on(before)
