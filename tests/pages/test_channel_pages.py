"""The Channels and Campaigns pages with AppTest, on the demo warehouse and on an empty one."""

from __future__ import annotations

from analytics.channels import channel_comparison
from analytics.demo import CHANNELS
from analytics.filters import Filters
from analytics.warehouse import reader


def test_channels_page_names_the_best_and_worst_channel_at_each_step(page_app, demo_db):
    app = page_app("channels", demo_db).run()
    assert not app.exception
    assert app.title[0].value == "Channels"
    sentences = next(m.value for m in app.markdown if m.value.startswith("- Lead → MQL"))
    # The demo's story: webinars convert best to MQL, display ads worst, by far.
    assert "Lead → MQL: webinar converts best" in sentences
    assert "and display worst" in sentences and "the difference is significant" in sentences
    assert "MQL → SQL:" in sentences and "SQL → won:" in sentences
    assert len(app.get("plotly_chart")) == 2  # cost beside conversion, and the Sankey flow
    shown = app.dataframe[-1].value
    assert set(shown["group"]) == {c.name for c in CHANNELS}
    with reader(demo_db) as con:
        expected = channel_comparison(con, Filters())
    assert shown["cost_per_sql"].round(6).tolist() == expected["cost_per_sql"].round(6).tolist()


def test_channels_page_compares_campaigns_and_warns_about_young_ones(page_app, demo_db):
    app = page_app("channels", demo_db)
    app.query_params.update({"compare": "campaign", "cost_stage": "won"})
    app.run()
    assert not app.exception
    assert app.subheader[0].value == "Cost per won deal and conversion"
    assert all("-20" in g for g in app.dataframe[-1].value["group"])  # campaign ids like DIS-2026Q3
    assert "still open" in app.warning[0].value  # the latest quarter's leads cannot have closed yet


def test_channels_page_on_an_empty_warehouse_says_there_is_nothing_yet(page_app, tmp_path):
    app = page_app("channels", tmp_path / "empty.duckdb").run()
    assert not app.exception
    assert app.info[0].value.startswith("No leads or spend match these filters")


def test_campaigns_page_shows_that_variant_b_clicks_more_but_converts_less(page_app, demo_db):
    app = page_app("campaigns", demo_db).run()
    assert not app.exception
    assert app.title[0].value == "Campaigns"
    variants = app.dataframe[0].value.set_index("variant")
    assert variants.loc["B", "click_rate"] > variants.loc["A", "click_rate"]
    assert variants.loc["B", "conversion_rate"] < variants.loc["A", "conversion_rate"]
    verdict = app.info[0].value
    assert "variant B has the best click rate" in verdict and "variant A converts best" in verdict
    assert {"NL", "SMS", "PUSH"} <= {c.split("-")[0] for c in app.dataframe[1].value["campaign_id"]}
    assert len(app.get("plotly_chart")) == 3  # variant rates, send-time heatmap, touches by seniority
    touches = app.dataframe[2].value.set_index("seniority")
    assert touches.loc["executive", "median"] > touches.loc["staff", "median"]  # senior buyers need more


def test_campaigns_page_on_an_empty_warehouse_says_there_is_nothing_yet(page_app, tmp_path):
    app = page_app("campaigns", tmp_path / "empty.duckdb").run()
    assert not app.exception
    assert app.info[0].value.startswith("No message sends in this selection")
    assert app.info[1].value.startswith("No lead in this selection has reached SQL yet")
