"""The Channels and Campaigns pages with AppTest, on the demo warehouse and on an empty one."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from analytics.channels import channel_comparison
from analytics.demo import CHANNELS
from analytics.filters import Filters
from analytics.warehouse import reader


def _numbers(values) -> list[float]:
    """A plotly figure's numbers from its JSON: a list, or a typed array as plotly 6+ writes it."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def test_channels_page_names_the_best_and_worst_channel_at_each_step(page_app, demo_db):
    app = page_app("channels", demo_db).run()
    assert not app.exception
    assert app.title[0].value == "Channels"
    sentences = next(m.value for m in app.markdown if m.value.startswith("- Lead → MQL"))
    # The demo's story: webinars convert best to MQL, display ads worst, by far; named as people read them.
    assert "Lead → MQL: Webinar converts best" in sentences
    assert "and Display worst" in sentences and "the difference is significant" in sentences
    assert "MQL → SQL:" in sentences and "SQL → won:" in sentences
    assert "Holm" not in sentences and "chi" not in sentences  # the test's names are in the tooltip only
    assert "Holm" in app.caption[0].proto.help
    assert len(app.get("plotly_chart")) == 2  # cost beside conversion, and the Sankey flow
    # The table people download: raw channel names first (shown through charts.label), the key columns only
    # until more are picked, rates in percent.
    shown = app.dataframe[-1].value
    assert shown.columns[0] == "group" and set(shown["group"]) == {c.name for c in CHANNELS}
    with reader(demo_db) as con:
        expected = channel_comparison(con, Filters())
    assert shown["cost_per_sql"].round(6).tolist() == expected["cost_per_sql"].round(6).tolist()
    assert shown["lead_to_sql_pct"].tolist() == pytest.approx((expected["lead_to_sql"] * 100).tolist())
    shown_columns = list(app.dataframe[-1].proto.column_order)
    assert shown_columns[:2] == ["group", "leads"] and "impressions" not in shown_columns
    app.multiselect(key="figure_columns").select("impressions").run()
    assert "impressions" in app.dataframe[-1].proto.column_order


def test_channels_page_colours_a_channel_alike_under_every_filter(page_app, demo_db):
    from analytics import charts

    def colours(app):
        spec = json.loads(app.get("plotly_chart")[0].proto.spec)
        return dict(zip(spec["data"][0]["y"], spec["data"][0]["marker"]["color"]))

    everything = colours(page_app("channels", demo_db).run())
    app = page_app("channels", demo_db)
    app.query_params["channel"] = ["webinar", "display"]
    two = colours(app.run())
    assert set(two) == {"Webinar", "Display"}
    assert two == {name: everything[name] for name in two} == {
        "Webinar": charts.colour_of("webinar"), "Display": charts.colour_of("display")}


def test_channels_page_compares_campaigns_and_warns_about_young_ones(page_app, demo_db):
    app = page_app("channels", demo_db)
    app.query_params.update({"compare": "campaign", "cost_stage": "won"})
    app.run()
    assert not app.exception
    assert app.subheader[0].value == "Cost per won deal and conversion"
    assert all("-20" in g for g in app.dataframe[-1].value["group"])  # campaign ids like DIS-2026Q3
    warning = app.warning[0].value
    assert "still open" in warning  # the latest quarter's leads cannot have closed yet
    assert "more)" in warning and warning.count("-20") == 3  # a count and three examples, not every id
    # Many campaigns: the 10 dearest and the 10 cheapest per won deal, dearest on top, and a note.
    spec = json.loads(app.get("plotly_chart")[0].proto.spec)
    order = spec["layout"]["yaxis"]["categoryarray"][::-1]  # top to bottom
    assert len(order) == 21 and "more campaigns" in order[10]
    costs = dict(zip(spec["data"][0]["y"], _numbers(spec["data"][0]["x"])))
    drawn = [costs[name] for name in order if name in costs]
    assert len(drawn) == 20 and drawn == sorted(drawn, reverse=True)
    assert any(c.value.startswith("Showing the 10 most and the 10 least expensive") for c in app.caption)


def test_channels_page_on_an_empty_warehouse_says_there_is_nothing_yet(page_app, tmp_path):
    app = page_app("channels", tmp_path / "empty.duckdb").run()
    assert not app.exception
    assert app.info[0].value.startswith("No leads or spend match these filters")


def test_campaigns_page_shows_that_variant_b_clicks_more_but_converts_less(page_app, demo_db):
    app = page_app("campaigns", demo_db).run()
    assert not app.exception
    assert app.title[0].value == "Campaigns"
    assert "filtered by date and campaign only" in app.caption[0].value
    variants = app.dataframe[0].value.set_index("variant")
    assert variants.loc["B", "click_rate_pct"] > variants.loc["A", "click_rate_pct"]  # rates in percent
    assert variants.loc["B", "conversion_rate_pct"] < variants.loc["A", "conversion_rate_pct"]
    assert variants.loc["B", "click_p_value"] == "p < 0.0001" and variants.loc["A", "click_p_value"] is None
    verdict = app.info[0].value
    assert "variant B has the best click rate" in verdict and "variant A converts best" in verdict
    assert {"NL", "SMS", "PUSH"} <= {c.split("-")[0] for c in app.dataframe[1].value["campaign_id"]}
    # When to send: one medium at a time, the one with most messages first; the demo sends every email on
    # Wednesdays at 09:00, which the page says instead of drawing a single cell.
    assert app.selectbox(key="send_medium").value == "email"
    assert "went out on a Wednesday at 09:00" in app.info[1].value
    assert len(app.get("plotly_chart")) == 2  # variant rates, touches by seniority
    touches = app.dataframe[2].value.set_index("seniority")
    assert touches.loc["Executive", "median"] > touches.loc["Staff", "median"]  # senior buyers need more


def test_campaigns_page_draws_send_times_of_one_medium_and_marks_hours_without_sends(page_app, demo_db):
    app = page_app("campaigns", demo_db).run()
    app.selectbox(key="send_medium").select("push").run()
    assert not app.exception
    charts_drawn = app.get("plotly_chart")
    assert len(charts_drawn) == 3
    grey, cells = json.loads(charts_drawn[1].proto.spec)["data"]
    assert cells["x"] == ["16:00"]  # push goes out at 16:00 only: the other 23 hours are left out
    assert all(t in ("", "no sends") for row in grey["text"] for t in row)


def test_campaigns_page_says_the_channel_filter_leaves_message_campaigns_alone(page_app, demo_db):
    app = page_app("campaigns", demo_db)
    app.query_params["channel"] = "webinar"
    app.run()
    assert not app.exception
    assert app.info[0].value.startswith("The Channel filter applies to the nurture touches only")


def test_campaigns_page_on_an_empty_warehouse_says_there_is_nothing_yet(page_app, tmp_path):
    app = page_app("campaigns", tmp_path / "empty.duckdb").run()
    assert not app.exception
    assert app.info[0].value.startswith("No message sends in this selection")
    assert app.info[1].value.startswith("No lead in this selection has reached SQL yet")
