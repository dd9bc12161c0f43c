"""The Time to convert and Cohorts pages with AppTest, on the demo warehouse and on an empty one."""

from __future__ import annotations

import base64
import json
import re
from unittest.mock import patch

import numpy as np
import pytest
import streamlit as st

from analytics import charts
from analytics.cohorts import cohort_summary, cohorts
from analytics.durations import parse_duration
from analytics.filters import Filters
from analytics.time_to_convert import ConversionSpec, _outcomes_query, time_to_convert
from analytics.warehouse import reader
from pages.cohorts import cohort_name
from pages.time_to_convert import window_words


def figures(app) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]


def array(value) -> np.ndarray:
    """A plotly array from a figure's JSON: a list, or typed binary data with a dtype and a shape."""
    if not isinstance(value, dict):
        return np.array(value, dtype=float)
    shape = [int(n) for n in str(value.get("shape", -1)).split(",")]
    return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).reshape(shape)


def test_time_to_convert_page_shows_naive_and_estimated_shares_of_the_engine(page_app, demo_db):
    app = page_app("time_to_convert", demo_db).run()
    assert not app.exception
    assert app.title[0].value == "Time to convert"
    with reader(demo_db) as con:
        overall = time_to_convert(con, ConversionSpec("mql", "sql"), Filters()).iloc[0]
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Reached MQL"] == f"{overall['entered']:,}"
    assert metrics["Converted so far"] == f"{overall['converted'] / overall['entered']:.1%}"
    assert metrics["Expected to convert"] == f"{overall['p_convert_in_window']:.1%}"
    assert any(i.value.startswith("Counting only conversions seen so far") for i in app.info)
    assert len(figures(app)) == 3  # curves with at-risk counts, outcomes stacked, histogram


def test_time_to_convert_tiles_add_up_to_the_entrants(page_app, demo_db):
    app = page_app("time_to_convert", demo_db).run()
    with reader(demo_db) as con:
        overall = time_to_convert(con, ConversionSpec("mql", "sql"), Filters()).iloc[0]
    outcomes = ["Reached SQL", "Lost", "Still open", "Window passed"]
    metrics = {m.label: int(m.value.replace(",", "")) for m in app.metric if m.label in ["Reached MQL", *outcomes]}
    assert metrics["Still open"] == overall["open"] - overall["expired"]
    assert metrics["Window passed"] == overall["expired"] > 0
    assert sum(metrics[label] for label in outcomes) == metrics["Reached MQL"] == overall["entered"]
    assert any(c.value.startswith(f"The {overall['entered']:,} leads that reached MQL = ") for c in app.caption)


def test_time_to_convert_page_without_a_window_has_no_window_passed_tile(page_app, demo_db):
    app = page_app("time_to_convert", demo_db)
    app.query_params.update({"from": "lead", "to": "mql"})  # no default window for this pair
    app.run()
    assert not app.exception
    labels = [m.label for m in app.metric]
    assert "Window passed" not in labels and "Still open" in labels
    assert "no time limit" in app.caption[0].value


def test_time_to_convert_page_compares_channels_in_plain_words(page_app, demo_db):
    app = page_app("time_to_convert", demo_db)
    app.query_params.update({"from": "sql", "to": "won", "by": "channel"})
    app.run()
    assert not app.exception
    speed = next(i.value for i in app.info if i.value.startswith(("Conversion speed", "No clear difference")))
    assert "log-rank" not in speed and "(p" in speed
    curves = figures(app)[0]
    lines = [t for t in curves["data"] if t.get("name")]
    assert {t["name"] for t in lines} >= {"Webinar", "Display"}
    # One colour per channel, the same as on every other page; no overlapping bands for eight channels.
    assert {t["name"]: t["line"]["color"] for t in lines}["Paid search"] == charts.colour_of("paid_search")
    assert not any(t.get("fill") for t in curves["data"])
    assert len(lines) == 8
    table = app.dataframe[0].value
    assert table["group"].nunique() == 8
    assert (table["km_median_days"].str.endswith(" days") | (table["km_median_days"] == "not reached")).all()


def test_time_to_convert_page_reads_the_outcomes_once_for_all_its_figures(page_app, demo_db):
    # Tiles, curves per channel, the log-rank sentence, the group table, the overall outcomes and the
    # histogram: one pass over the outcomes, so a filter change costs one query.
    st.cache_data.clear()
    app = page_app("time_to_convert", demo_db)
    app.query_params.update({"by": "channel"})
    with patch("analytics.time_to_convert._outcomes_query", wraps=_outcomes_query) as outcomes:
        app.run()
    assert not app.exception
    assert len(figures(app)) == 3 and app.dataframe[0].value["group"].nunique() == 8
    assert outcomes.call_count == 1


def test_time_to_convert_page_draws_bands_for_a_few_groups(page_app, demo_db):
    app = page_app("time_to_convert", demo_db)
    app.query_params.update({"by": "channel", "channel": ["webinar", "display"]})
    app.run()
    assert not app.exception
    curves = figures(app)[0]
    assert sum(1 for t in curves["data"] if t.get("fill") == "toself") == 2


@pytest.mark.parametrize(("cohort", "period", "expected"), [("2026-11-01", "month", "Nov 2026"),
                                                             ("2026-11-03", "week", "Week of 3 Nov 2026")])
def test_cohort_names_read_as_months_and_weeks(cohort, period, expected):
    assert cohort_name(cohort, period) == expected


def test_window_words_read_as_durations():
    assert window_words(ConversionSpec("mql", "sql")) == "a window of 6 months"
    assert window_words(ConversionSpec("lead", "mql")) == "no time limit"
    assert window_words(ConversionSpec("lead", "mql", window=parse_duration("183d"))) == "a window of 183 days"


def test_time_to_convert_page_explains_bad_controls(page_app, demo_db):
    app = page_app("time_to_convert", demo_db)
    app.query_params.update({"from": "sql", "to": "sql", "window": "soon"})
    app.run()
    assert not app.exception
    assert "is not a duration" in app.warning[0].value


@pytest.mark.parametrize("page", ["time_to_convert", "cohorts"])
def test_conversion_pages_on_an_empty_warehouse_say_there_is_nothing_yet(page_app, tmp_path, page):
    app = page_app(page, tmp_path / "empty.duckdb").run()
    assert not app.exception
    assert "no events in the warehouse yet" in app.info[0].value


def test_cohorts_page_greys_unfinished_cells_and_shows_the_projection(page_app, demo_db):
    app = page_app("cohorts", demo_db)
    app.query_params.update({"period": "week", "from": "lead", "to": "mql"})
    app.run()
    assert not app.exception
    heatmap = figures(app)[0]
    finished, unfinished, projected = heatmap["data"]
    assert any("≥" in cell for row in unfinished["text"] for cell in row)
    # Readable cell text: at least 12 px, dark grey on the light grey of unfinished cells.
    assert finished["textfont"]["size"] >= 12 and unfinished["textfont"]["size"] >= 12
    assert unfinished["textfont"]["color"] == "#374151"
    # Unfinished cells are never drawn in the colour scale of the finished ones.
    done, still_open = array(finished["z"]), array(unfinished["z"])
    assert np.isnan(done[~np.isnan(still_open)]).all() and (~np.isnan(still_open)).sum() >= 26
    assert all(label.startswith("Week of ") and label.endswith(" leads)") for label in finished["y"])
    with reader(demo_db) as con:
        expected = cohort_summary(cohorts(con, ConversionSpec("lead", "mql"), Filters(), "week"))
    shown = app.dataframe[0].value
    assert shown["projected_share"].tolist() == pytest.approx(expected["projected_share"].tolist())
    assert len(array(projected["z"])) == 26


def test_monthly_cohorts_are_labelled_by_month_and_size(page_app, demo_db):
    app = page_app("cohorts", demo_db).run()
    assert not app.exception
    labels = figures(app)[0]["data"][0]["y"]
    assert re.fullmatch(r"[A-Z][a-z]{2} \d{4} \([\d,]+ leads\)", labels[0]), labels[0]
