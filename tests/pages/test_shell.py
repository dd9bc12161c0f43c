"""The router, the empty state, the Overview and Data pages, rendered with AppTest."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from analytics.filters import Filters
from analytics.funnel import FunnelSpec, funnel
from analytics.warehouse import reader


def test_empty_warehouse_shows_the_welcome_screen_with_the_demo_button(router_app, tmp_path):
    # Clicking the button is a browser test (tests/browser): AppTest does not deliver clicks on
    # widgets the router draws outside a page.
    app = router_app(tmp_path / "empty.duckdb").run()
    assert not app.exception
    assert app.title[0].value == "Welcome: the warehouse is empty"
    assert app.button(key="build_demo").label == "Build the demo warehouse"


def test_router_lands_on_the_overview_of_the_demo_warehouse(router_app, demo_db):
    app = router_app(demo_db).run()
    assert not app.exception
    assert app.title[0].value == "Overview"
    with reader(demo_db) as con:
        counts = funnel(con, FunnelSpec(), Filters())["count"].tolist()
    shown = {m.label: m.value for m in app.metric}
    assert [shown[k] for k in ("New leads", "MQL", "SQL", "Won deals")] == [f"{c:,}" for c in counts]
    assert shown["New leads"] == "3,000"


def test_overview_filters_are_read_from_the_url(page_app, demo_db):
    app = page_app("overview", demo_db)
    app.query_params["channel"] = ["webinar"]
    app.run()
    assert not app.exception
    assert app.multiselect(key="channel").value == ["webinar"]
    with reader(demo_db) as con:
        webinar = funnel(con, FunnelSpec(), Filters(channels=("webinar",)))["count"].iloc[0]
    assert app.metric[0].value == f"{webinar:,}" != "3,000"


def test_data_page_renders_on_the_demo_and_on_an_empty_warehouse(page_app, demo_db, tmp_path):
    for db in (demo_db, tmp_path / "empty.duckdb"):
        app = page_app("data", db).run()
        assert not app.exception
        assert app.title[0].value == "Data"
    assert "Nothing imported yet." in [i.value for i in app.info]


def test_overview_renders_on_an_empty_warehouse(page_app, tmp_path):
    app = page_app("overview", tmp_path / "empty.duckdb").run()
    assert not app.exception
    assert "No leads match the filters." in [i.value for i in app.info]


def test_a_cached_result_is_kept_within_the_hour_and_computed_again_after_it(monkeypatch, warehouse):
    # Without an as-of date the figures are seen from now, so a server left running must not keep them forever.
    import datetime as clock

    import dashboard

    moment = [clock.datetime(2026, 11, 23, 9, 5)]

    class Clock(clock.datetime):
        @classmethod
        def now(cls, tz=None):
            return moment[0]

    calls: list[int] = []

    def leads(con):
        calls.append(1)
        return con.execute("SELECT count(*) FROM leads").fetchone()[0]

    monkeypatch.setenv("ANALYTICS_DB", str(warehouse))
    monkeypatch.setattr(dashboard, "datetime", Clock)
    dashboard._cached_query.clear()
    assert dashboard.run_query(leads) == 0 and dashboard.run_query(leads) == 0
    moment[0] = clock.datetime(2026, 11, 23, 9, 59)
    assert dashboard.run_query(leads) == 0
    assert len(calls) == 1
    moment[0] = clock.datetime(2026, 11, 23, 10, 0)
    assert dashboard.run_query(leads) == 0
    assert len(calls) == 2


_DRAWN_FOR: list[int] = []


def _bars(table: pd.DataFrame, title: str) -> go.Figure:
    _DRAWN_FOR.append(len(table))
    return go.Figure(go.Bar(x=table["week"], y=table["leads"]), layout={"title": title})


def test_a_figure_is_drawn_once_for_the_same_data_and_again_for_other_data():
    # Building a Plotly figure costs up to a few tenths of a second per chart on every rerun without the cache.
    import dashboard

    dashboard._drawn.clear()
    _DRAWN_FOR.clear()
    table = pd.DataFrame({"week": ["2026-W01", "2026-W02"], "leads": [3, 5]})
    first = dashboard.drawn(_bars, table, "Leads")
    assert dashboard.drawn(_bars, table.copy(), "Leads") is first  # equal data: the same figure, not drawn again
    assert _DRAWN_FOR == [2]
    other = dashboard.drawn(_bars, table.assign(leads=[3, 6]), "Leads")
    assert list(other.data[0].y) == [3, 6] and list(first.data[0].y) == [3, 5]
    assert dashboard.drawn(_bars, table, "New leads").layout.title.text == "New leads"
    assert _DRAWN_FOR == [2, 2, 2]
    assert first.to_json() == _bars(table, "Leads").to_json()
