"""The Overview's weekly meeting and presentation mode, rendered with AppTest on the demo and an empty warehouse."""

from __future__ import annotations

import base64
import functools
import json
import re

import numpy as np
import streamlit as st

from analytics.filters import Filters
from analytics.report import report_html
from analytics.summary import headline_figures
from analytics.warehouse import reader
from analytics.weekly import week_summary


def _tiles(app) -> dict[str, str]:
    """metric -> data-value of the week's KPI tiles (st.html)."""
    body = next(h.value for h in app.html if 'class="kpis"' in h.value)
    return dict(re.findall(r'data-metric="([^"]+)" data-value="([^"]*)"', body))


def _expected(db, week=None) -> dict[str, str]:
    with reader(db) as con:
        summary = week_summary(con, week)
    return {k.key: "" if k.record()["value"] is None else str(k.record()["value"]) for k in summary.kpis}


def test_overview_shows_the_last_complete_week_of_the_demo_against_the_week_before(page_app, demo_db):
    app = page_app("overview", demo_db).run()
    assert not app.exception
    assert app.selectbox(key="week").value == "2026-W43"  # the demo's data ends on Saturday 31 October
    assert app.subheader[0].value == "Week 43: 19–25 Oct 2026"
    assert _tiles(app) == _expected(demo_db)
    brief = next(h.value for h in app.html if "week-brief" in h.value)
    assert "<li>Week 43 (19–25 Oct 2026): " in brief
    assert not app.get("download_button")  # the report is built on request, with a progress bar
    assert app.link_button[0].proto.url == "?present=1&week=2026-W43"
    # The selection's tiles are still there, after the week's.
    assert [m.label for m in app.metric] == ["New leads", "MQL", "SQL", "Won deals", "Spend"]


def test_prepare_report_builds_the_weeks_report_and_then_offers_it(page_app, demo_db):
    app = page_app("overview", demo_db).run()
    app.button(key="prepare_report").click().run()
    assert not app.exception
    assert [b.proto.label for b in app.get("download_button")][:1] == ["Report (HTML)"]
    assert not [b for b in app.button if b.key == "prepare_report"]  # prepared: the download replaces the button
    app.run()  # a later render keeps the prepared report
    assert [b.proto.label for b in app.get("download_button")][:1] == ["Report (HTML)"]
    with reader(demo_db) as con:
        summary = week_summary(con)
    assert app.session_state["weekly_report"][1] == report_html(summary)


def test_the_week_comes_from_the_url_and_the_filters_apply(page_app, demo_db):
    app = page_app("overview", demo_db)
    app.query_params["week"] = "2026-W40"
    app.query_params["channel"] = ["webinar"]
    app.run()
    assert not app.exception
    assert app.subheader[0].value == "Week 40: 28 Sep – 4 Oct 2026"
    with reader(demo_db) as con:
        summary = week_summary(con, "2026-W40", channels=("webinar",))
    assert _tiles(app) == {k.key: "" if k.value is None else str(k.record()["value"]) for k in summary.kpis}
    assert "channel Webinar" in app.caption[1].value
    assert app.link_button[0].proto.url == "?channel=webinar&present=1&week=2026-W40"  # the slides keep the filter


def test_overview_renders_the_week_on_an_empty_warehouse(page_app, tmp_path):
    app = page_app("overview", tmp_path / "empty.duckdb").run()
    assert not app.exception
    infos = [i.value for i in app.info]
    assert any(i.startswith("Nothing happened in week ") for i in infos) and "No leads match the filters." in infos


def test_presentation_mode_shows_one_slide_per_topic_and_moves_with_the_buttons(router_app, demo_db):
    app = router_app(demo_db)
    app.query_params["present"] = "1"
    app.run()
    assert not app.exception
    assert app.markdown[0].value == "## Week 43: 19–25 Oct 2026"
    assert _tiles(app) == _expected(demo_db)
    assert [b.label for b in app.button] == ["Previous", "Next", "Exit"]
    assert app.button(key="slide_previous").disabled
    app.button(key="slide_next").click().run()
    assert app.query_params["slide"] == "2"
    assert app.markdown[0].value == "## The week in brief"
    titles = []
    for number in range(1, 10):
        app.query_params["slide"] = str(number)
        app.run()
        assert not app.exception
        titles.append(app.markdown[0].value)
    assert titles[:6] == ["## Week 43: 19–25 Oct 2026", "## The week in brief",
                          "## Stage rates: this week's leads against last week's", "## New leads per channel",
                          "## Experiments", "## Cohorts: entrants reaching SQL by entry month"]
    assert set(titles[6:]) == {titles[5]}  # past the end: the last slide
    assert app.button(key="slide_next").disabled
    app.button(key="slide_exit").click().run()
    assert "present" not in app.query_params and app.title[0].value == "Overview"


def test_presentation_mode_falls_back_to_the_last_complete_week_for_a_bad_week(router_app, demo_db):
    app = router_app(demo_db)
    app.query_params["present"] = "1"
    app.query_params["week"] = "2026-W50"
    app.run()
    assert not app.exception
    assert app.warning[0].value.startswith("the week 2026-W50 starts after the as-of date 2026-10-31")
    assert app.markdown[0].value == "## Week 43: 19–25 Oct 2026"


def test_presentation_mode_on_an_empty_warehouse_shows_the_welcome_screen(router_app, tmp_path):
    app = router_app(tmp_path / "empty.duckdb")
    app.query_params["present"] = "1"
    app.run()
    assert not app.exception
    assert app.title[0].value == "Welcome: the warehouse is empty"


def _values(encoded) -> np.ndarray:
    """A Plotly JSON array: a list, or typed binary data ({"dtype": "i1", "bdata": base64})."""
    if isinstance(encoded, dict):
        return np.frombuffer(base64.b64decode(encoded["bdata"]), dtype=encoded["dtype"])
    return np.asarray(encoded)


def _counted(function, calls: list[str]):
    """`function`, noting its name in `calls` each time it runs (its name stays the cache key)."""
    @functools.wraps(function)
    def counting(*args, **kwargs):
        calls.append(function.__name__)
        return function(*args, **kwargs)
    return counting


def test_a_week_or_filter_change_recomputes_only_the_parts_it_changes(page_app, demo_db, monkeypatch):
    from pages import overview

    calls: list[str] = []
    for name in ("week_figures", "recent_cohorts", "experiment_verdicts", "leads_per_week"):
        monkeypatch.setattr(overview, name, _counted(getattr(overview, name), calls))
    st.cache_data.clear()
    app = page_app("overview", demo_db).run()
    assert sorted(calls) == ["experiment_verdicts", "leads_per_week", "recent_cohorts", "week_figures"]
    calls.clear()
    app.selectbox(key="week").select("2026-W40").run()  # cohorts and verdicts do not depend on the week
    assert not app.exception and calls == ["week_figures"]
    calls.clear()
    app.multiselect(key="channel").select("webinar").run()  # the verdicts depend on no filter
    assert not app.exception and sorted(calls) == ["leads_per_week", "recent_cohorts", "week_figures"]
    with reader(demo_db) as con:
        summary = week_summary(con, "2026-W40", channels=("webinar",))
        entrants = headline_figures(con, Filters(channels=("webinar",))).leads
    assert _tiles(app) == {k.key: "" if k.value is None else str(k.record()["value"]) for k in summary.kpis}
    # The leads per week chart adds up to the selection's "New leads" tile (both: funnel entrants by first touch).
    chart = json.loads(app.get("plotly_chart")[-1].proto.spec)
    assert sum(int(_values(trace["y"]).sum()) for trace in chart["data"]) == entrants
    assert app.metric[0].value == f"{entrants:,}"
