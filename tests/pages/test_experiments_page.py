"""The Experiments (A/B tests) page, rendered with AppTest on the demo warehouse and on an empty one."""

from __future__ import annotations

import re

import pytest

from analytics import abstats
from analytics.warehouse import writer


def test_experiments_page_renders_the_demo_with_a_verdict_chart_and_table(page_app, demo_db):
    app = page_app("experiments", demo_db)
    app.query_params["experiment"] = "pricing-page-cta"
    app.run()
    assert not app.exception
    assert app.title[0].value == "Experiments"  # as in the menu
    assert "filters" in app.caption[0].value and "do not apply" in app.caption[0].value
    assert app.selectbox(key="experiment").value == "pricing-page-cta"
    verdict = app.subheader[0].value
    assert re.search(r"\bB\b", verdict), verdict  # names the variant, whatever the verdict is
    assert len(app.get("plotly_chart")) == 1
    table = app.dataframe[0].value
    assert table["Variant"].tolist() == ["control", "B"]
    assert table["Rate"].str.endswith("%").all()
    assert not any("_" in c for c in table.columns)  # readable headers
    assert table.loc[1, "Always-valid p"].startswith("p ")  # p-values via format_p


def test_a_significant_verdict_that_is_not_always_valid_says_to_keep_the_test_running(page_app, tmp_path):
    db = tmp_path / "peeking.duckdb"
    with writer(db) as con:  # the full demo's pricing-page-cta: p = 0.029 at one look, always-valid p = 0.47
        con.execute("INSERT INTO experiment_variants VALUES "
                    "('cta', 'control', 'conversion', 10000, 240, NULL, NULL, 1), "
                    "('cta', 'B', 'conversion', 10050, 291, NULL, NULL, 1)")
    app = page_app("experiments", db).run()
    assert not app.exception
    verdict = app.subheader[0].value
    assert verdict.startswith("Variant B lifts conversion rate by 21%")
    assert verdict.endswith("significant at a single look; if you have been checking it every week, keep it "
                            "running (always-valid p = 0.47).")
    assert app.dataframe[0].value.loc[1, "Always-valid p"] == "p = 0.47"


def test_experiments_page_switches_to_a_three_way_test(page_app, demo_db):
    app = page_app("experiments", demo_db).run()
    app.selectbox(key="experiment").select("webinar-reminder").run()
    assert not app.exception
    assert "p-value (Holm)" in app.dataframe[0].value.columns
    headline = app.subheader[0].value
    assert headline.startswith("sms_")  # the closest variant to control, named
    assert headline.count(":") <= 1, headline


def test_the_planner_starts_at_the_selected_experiments_control_rate(page_app, demo_db):
    app = page_app("experiments", demo_db)
    app.query_params["experiment"] = "pricing-page-cta"
    app.run()
    control_rate = float(app.dataframe[0].value.loc[0, "Rate"].rstrip("%"))
    assert app.number_input(key="plan_baseline").value == pytest.approx(control_rate, abs=0.05)
    app.selectbox(key="experiment").select("webinar-reminder").run()
    control_rate = float(app.dataframe[0].value.loc[0, "Rate"].rstrip("%"))
    assert app.number_input(key="plan_baseline").value == pytest.approx(control_rate, abs=0.05)
    app.number_input(key="plan_baseline").set_value(12.0).run()  # typed by hand: kept
    assert app.number_input(key="plan_baseline").value == 12.0


def test_experiments_page_renders_on_an_empty_warehouse_with_the_planner(page_app, tmp_path):
    app = page_app("experiments", tmp_path / "empty.duckdb").run()
    assert not app.exception
    assert any("No experiments in the warehouse yet" in i.value for i in app.info)
    expected = abstats.sample_size_per_arm(0.05, 0.01, 0.05, 0.8).units_per_arm
    assert app.metric[0].label == "Units per arm"
    assert app.metric[0].value == f"{expected:,.0f}"


def test_planner_follows_its_inputs(page_app, tmp_path):
    app = page_app("experiments", tmp_path / "empty.duckdb").run()
    app.number_input(key="plan_baseline").set_value(10.0).run()
    app.number_input(key="plan_mde").set_value(2.0).run()
    assert app.metric[0].value == "3,841"  # abstats.sample_size_per_arm(0.10, 0.02), its doctest
