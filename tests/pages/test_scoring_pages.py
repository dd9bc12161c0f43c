"""The Lead scoring and Nurture sequences pages with AppTest, on the demo warehouse and on an empty one."""

from __future__ import annotations

import json
import shutil

import pytest

from analytics.scoring import DEFAULT_RULES, load_rules, rules_path


@pytest.fixture
def own_demo(demo_db, tmp_path):
    """A copy of the demo warehouse whose rules file a test may write."""
    path = tmp_path / "demo.duckdb"
    shutil.copy(demo_db, path)
    return path


def _number(app, label: str):
    return next(n for n in app.number_input if n.label == label)


def test_scoring_page_says_how_well_the_score_separates_converters(page_app, demo_db):
    app = page_app("scoring", demo_db).run()
    assert not app.exception
    assert app.title[0].value == "Lead scoring"
    text = " ".join(m.value for m in app.markdown)
    assert "scored higher than those that did not" in text and "times as often as cold ones" in text
    assert "they would rank the same leads with an AUC of" in text  # the suggestion, next to the current rules
    auc = next(m for m in app.metric if m.label.startswith("AUC"))
    assert 0.5 < float(auc.value) < 1
    bands = json.loads(app.get("plotly_chart")[0].proto.spec)["data"][0]
    assert [name.split("<br>")[0] for name in bands["x"]] == ["<b>Cold</b>", "<b>Warm</b>", "<b>Hot</b>"]
    assert len(app.get("plotly_chart")) == 2  # bands, rule power
    assert app.dataframe[-1].value.columns[0] == "lead_id"  # the sales-ready list
    assert app.get("download_button")


def test_editing_a_rule_changes_the_bands_and_saving_writes_the_file(page_app, own_demo):
    app = page_app("scoring", own_demo).run()
    before = app.get("plotly_chart")[0].proto.spec
    _number(app, "Hot from").set_value(12.0).run()
    assert not app.exception
    assert any("Unsaved changes" in w.value for w in app.warning)
    after = json.loads(app.get("plotly_chart")[0].proto.spec)["data"][0]
    assert "score 12 and more" in after["x"][2] and app.get("plotly_chart")[0].proto.spec != before
    assert not rules_path(own_demo).exists()  # nothing saved yet
    next(b for b in app.button if b.label == "Save the rules").click().run()
    assert load_rules(rules_path(own_demo)).hot == 12
    assert not any("Unsaved changes" in w.value for w in app.warning)


def test_a_rule_without_points_can_be_given_some(page_app, own_demo):
    app = page_app("scoring", own_demo).run()
    _number(app, "Trial").set_value(4.0).run()  # a touch in the data the default rules ignore
    next(b for b in app.button if b.label == "Save the rules").click().run()
    assert dict(load_rules(rules_path(own_demo)).touches)["trial"] == 4
    assert dict(load_rules(rules_path(own_demo)).touches).keys() >= dict(DEFAULT_RULES.touches).keys()


def test_visitors_who_may_not_edit_rules_see_them_read_only(page_app, own_demo, server_address):
    server_address("0.0.0.0")  # reachable from other computers without sign-in: read-only
    app = page_app("scoring", own_demo).run()
    assert not app.exception
    assert all(n.disabled for n in app.number_input if n.key and n.key.startswith("rule_"))
    assert any("switched off" in i.value for i in app.info)
    assert next(b for b in app.button if b.label == "Use the suggested points").disabled


def test_sequences_page_names_the_step_that_moves_leads(page_app, demo_db):
    app = page_app("sequences", demo_db).run()
    assert not app.exception
    assert app.title[0].value == "Nurture sequences"
    assert app.info[0].value.startswith("Step 3 (day 3) moves leads most")
    assert len(app.get("plotly_chart")) == 3  # reach, effect, exits
    steps = app.dataframe[0].value
    assert steps["step"].tolist() == list(range(1, 9)) and steps["sent"].is_monotonic_decreasing
    assert any(m.value.startswith("Most leads that leave early leave after step") for m in app.markdown)
    app.selectbox(key="days").set_value(7).run()
    assert "within 7 days" in app.info[0].value


def test_sequences_page_on_a_warehouse_without_sequences_explains_the_data_it_needs(page_app, warehouse):
    app = page_app("sequences", warehouse).run()
    assert not app.exception
    assert "email_sent" in app.info[0].value


def test_scoring_page_on_an_empty_warehouse_says_no_lead_can_be_judged(page_app, warehouse):
    app = page_app("scoring", warehouse).run()
    assert not app.exception
    assert any(m.value.startswith("No lead is old enough to judge yet") for m in app.markdown)
    assert any("No open lead scores" in i.value for i in app.info)
