"""The Time to convert and Cohorts pages with AppTest, on the demo warehouse and on an empty one."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from analytics.cohorts import cohort_summary, cohorts
from analytics.filters import Filters
from analytics.time_to_convert import ConversionSpec, time_to_convert
from analytics.warehouse import reader


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
    assert metrics["Reached mql"] == f"{overall['entered']:,}"
    assert metrics["Converted so far (naive)"] == f"{overall['converted'] / overall['entered']:.1%}"
    assert metrics["Within the window (estimated)"] == f"{overall['p_convert_in_window']:.1%}"
    assert any(i.value.startswith("Counting only conversions seen so far") for i in app.info)
    assert len(figures(app)) == 3  # curves with at-risk counts, outcomes stacked, histogram


def test_time_to_convert_page_compares_channels_with_a_log_rank_sentence(page_app, demo_db):
    app = page_app("time_to_convert", demo_db)
    app.query_params.update({"from": "sql", "to": "won", "by": "channel"})
    app.run()
    assert not app.exception
    assert any("(log-rank p" in i.value for i in app.info)
    curves = figures(app)[0]
    assert {t["name"] for t in curves["data"] if t.get("name")} >= {"webinar", "display"}
    assert app.dataframe[0].value["group"].nunique() == 8


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
    # Unfinished cells are never drawn in the colour scale of the finished ones.
    done, still_open = array(finished["z"]), array(unfinished["z"])
    assert np.isnan(done[~np.isnan(still_open)]).all() and (~np.isnan(still_open)).sum() >= 26
    with reader(demo_db) as con:
        expected = cohort_summary(cohorts(con, ConversionSpec("lead", "mql"), Filters(), "week"))
    shown = app.dataframe[0].value
    assert shown["projected_share"].tolist() == pytest.approx(expected["projected_share"].tolist())
    assert len(array(projected["z"])) == 26
