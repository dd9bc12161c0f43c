"""The Funnel page with AppTest, for a grid of filter combinations, against the engine's own numbers."""

from __future__ import annotations

from datetime import date
from itertools import product

import pytest

from analytics.filters import Filters
from analytics.funnel import FunnelSpec, funnel
from analytics.warehouse import reader


@pytest.mark.parametrize(
    ("by", "mode", "unit", "channel"),
    list(product(["(none)", "channel", "seniority"], ["strict", "implied"], ["lead", "account"], [None, "webinar"]))[::3],
)
def test_funnel_page_renders_for_filter_combinations(page_app, demo_db, by, mode, unit, channel):
    app = page_app("funnel", demo_db)
    app.query_params.update({"by": by, "mode": mode, "unit": unit})
    if channel:
        app.query_params["channel"] = [channel]
    app.run()
    assert not app.exception
    assert app.title[0].value == "Funnel"
    assert app.info[0].value.startswith("The largest drop-off is from")


def test_funnel_table_on_the_page_equals_the_engine(page_app, demo_db):
    app = page_app("funnel", demo_db)
    app.query_params.update({"channel": ["display"], "since": "2026-01-01"})
    app.run()
    shown = app.dataframe[0].value
    with reader(demo_db) as con:
        expected = funnel(con, FunnelSpec(), Filters(since=date(2026, 1, 1), channels=("display",)))
    assert shown["count"].tolist() == expected["count"].tolist()


def test_funnel_page_explains_an_invalid_window(page_app, demo_db):
    app = page_app("funnel", demo_db)
    app.query_params["windows"] = "sql=soon"
    app.run()
    assert not app.exception
    assert "is not a duration" in app.warning[0].value


def test_funnel_page_on_an_empty_warehouse_asks_for_stages(page_app, tmp_path):
    app = page_app("funnel", tmp_path / "empty.duckdb").run()
    assert not app.exception
    assert "a funnel needs at least two named stages" in app.warning[0].value


def test_the_funnel_pages_choices_are_read_from_the_url(page_app, demo_db):
    app = page_app("funnel", demo_db)
    app.query_params.update({"reaching": "won", "dropped": "sql"})
    app.run()
    assert not app.exception
    assert app.selectbox(key="reaching").value == "won"
    assert app.selectbox(key="dropped").value == "sql"
    assert any(c.value.startswith(f"{len(app.dataframe[1].value):,} leads reached mql but not sql") for c in app.caption)
