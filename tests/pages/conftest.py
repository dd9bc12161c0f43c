"""AppTest helpers: run the router or one page against a chosen warehouse."""

from __future__ import annotations

from pathlib import Path

import pytest
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
