"""The A/B tests page, rendered with AppTest on the demo warehouse and on an empty one."""

from __future__ import annotations

import re

from analytics import abstats


def test_experiments_page_renders_the_demo_with_a_verdict_chart_and_table(page_app, demo_db):
    app = page_app("experiments", demo_db)
    app.query_params["experiment"] = "pricing-page-cta"
    app.run()
    assert not app.exception
    assert app.title[0].value == "A/B tests"
    assert app.selectbox(key="experiment").value == "pricing-page-cta"
    verdict = app.subheader[0].value
    assert re.search(r"\bB\b", verdict), verdict  # names the variant, whatever the verdict is
    assert len(app.get("plotly_chart")) == 1
    table = app.dataframe[0].value
    assert table["Variant"].tolist() == ["control", "B"]
    assert table["Rate"].str.endswith("%").all()


def test_experiments_page_switches_to_a_three_way_test(page_app, demo_db):
    app = page_app("experiments", demo_db).run()
    app.selectbox(key="experiment").select("webinar-reminder").run()
    assert not app.exception
    assert "p-value (Holm)" in app.dataframe[0].value.columns
    assert app.subheader[0].value.startswith("sms_")  # the closest variant to control, named


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
