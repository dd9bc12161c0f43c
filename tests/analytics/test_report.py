"""The weekly report: one self-contained HTML file with the command line's figures, and nothing unescaped."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from analytics import report
from analytics.cli import main
from analytics.warehouse import reader, writer
from analytics.weekly import week_summary

WEEK = "2026-W42"
HOSTILE_CHANNEL = "<script>alert(1)</script>"
HOSTILE_EXPERIMENT = "<img src=x onerror=alert(2)>"


@pytest.fixture(scope="module")
def demo(small_demo: Path) -> Path:
    return small_demo


def _cli(capsys, *args: str) -> str:
    assert main(list(args)) == 0
    return capsys.readouterr().out


def _tiles(page: str) -> dict[str, tuple[str, str, str]]:
    """metric -> (data-value, shown value, shown change) of the report's KPI tiles."""
    found = re.findall(r'<div class="kpi" data-metric="([^"]+)" data-value="([^"]*)">.*?'
                       r'<div class="kpi-value">([^<]*)</div><div class="kpi-change [a-z]+">([^<]*)</div>', page)
    return {metric: (value, shown, change) for metric, value, shown, change in found}


def test_report_shows_the_figures_the_weekly_command_prints_for_the_same_week(demo, tmp_path, capsys):
    record = json.loads(_cli(capsys, "--db", str(demo), "weekly", "--week", WEEK, "--format", "json"))
    out = tmp_path / "week.html"
    assert f"to {out}" in _cli(capsys, "--db", str(demo), "report", "--week", WEEK, "--out", str(out))
    page = out.read_text(encoding="utf-8")
    tiles = _tiles(page)
    assert list(tiles) == ["leads", "mql", "sql", "won", "won_value", "spend", "cost_per_sql"]
    for kpi in record["kpis"]:
        value, shown, change = tiles[kpi["metric"]]
        assert float(value) == pytest.approx(kpi["value"]) and shown == kpi["text"] and change == kpi["change_text"]
        assert f"week before {kpi['previous_text']}" in page
    assert record["kpis"][0]["value"] > 0 and record["kpis"][5]["text"].startswith("$")
    for sentence in record["sentences"]:
        assert f"<li>{html.escape(sentence)}</li>" in page
    for rate in record["stage_rates"]:
        assert f"({rate['converted']:,} of {rate['units']:,})" in page
    for test in record["experiments"]:
        assert html.escape(test["headline"]) in page
    assert "Weekly report: week 42, 2026" in page and record["week"] == WEEK


def test_report_embeds_plotly_once_and_loads_nothing_from_the_network(demo):
    with reader(demo) as con:
        summary, page = report.build_report(con, WEEK)
    charts = re.findall(r'<div id="(chart-[a-z_]+)" class="plotly-graph-div"', page)
    assert charts == ["chart-stage_rates", "chart-channels", "chart-cohorts"]
    assert page.count("Plotly.newPlot(") == len(charts)
    assert page.count("plotly.js v") == 1  # the library's banner: inlined exactly once
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', page)
    assert summary.week == WEEK


def _hostile_warehouse(path: Path) -> None:
    with writer(path) as con:
        con.executemany(
            "INSERT INTO events (lead_id, stage, occurred_at, channel, import_id) VALUES (?, ?, ?, ?, 1)",
            [("H1", "lead", "2026-03-03 10:00", HOSTILE_CHANNEL), ("H1", "mql", "2026-03-04 10:00", None),
             ("H2", "lead", "2026-03-10 10:00", HOSTILE_CHANNEL), ("H2", "mql", "2026-03-11 10:00", None),
             ("H3", "lead", "2026-03-11 10:00", HOSTILE_CHANNEL)])
        con.execute("INSERT INTO campaigns (campaign_id, channel, date, spend, import_id) VALUES "
                    "('<b>c</b>', ?, DATE '2026-03-10', 99.5, 1)", [HOSTILE_CHANNEL])
        con.executemany("INSERT INTO experiment_variants (experiment, variant, metric, units, conversions, import_id) "
                        "VALUES (?, ?, 'conversion', ?, ?, 1)",
                        [(HOSTILE_EXPERIMENT, "control", 1000, 100), (HOSTILE_EXPERIMENT, "<i>B</i>", 1000, 200)])


def test_report_escapes_names_from_the_data(tmp_path, capsys):
    db, out = tmp_path / "hostile.duckdb", tmp_path / "hostile.html"
    _hostile_warehouse(db)
    _cli(capsys, "--db", str(db), "report", "--week", "2026-W11", "--as-of", "2026-03-15", "--out", str(out),
         "--channel", HOSTILE_CHANNEL)
    page = out.read_text(encoding="utf-8")
    for raw in (HOSTILE_CHANNEL, HOSTILE_EXPERIMENT, "<i>B</i>", "alert(1)</script>"):
        assert raw not in page
    assert html.escape(HOSTILE_EXPERIMENT) in page and "Variant &lt;i&gt;B&lt;/i&gt; lifts" in page
    assert "channel &lt;script&gt;alert(1)&lt;/script&gt;" in page  # the filter line
    assert "&lt;script&gt;alert(1)&lt;/script&gt;</td>" in page  # the channel table
    assert _tiles(page)["leads"][0] == "2" and _tiles(page)["spend"][1] == "$100"


def test_png_export_is_skipped_with_a_message_without_chromium(demo, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(report, "chromium_path", lambda: None)
    out, png = tmp_path / "r.html", tmp_path / "r.png"
    code = main(["--db", str(demo), "report", "--week", WEEK, "--out", str(out), "--png", str(png)])
    _, err = capsys.readouterr()
    assert code == 0 and out.exists() and not png.exists()
    assert err.startswith("PNG export skipped: no headless Chromium found")


def test_report_of_an_empty_warehouse_says_so_without_charts(warehouse, tmp_path, capsys):
    out = tmp_path / "empty.html"
    _cli(capsys, "--db", str(warehouse), "report", "--as-of", "2026-03-15", "--out", str(out))
    page = out.read_text(encoding="utf-8")
    assert "Plotly.newPlot(" not in page and "No leads in either week." in page
    assert _tiles(page)["leads"][1] == "0" and _tiles(page)["spend"][1] == "n/a"


def test_report_to_a_missing_folder_is_bad_input(demo, tmp_path, capsys):
    assert main(["--db", str(demo), "report", "--out", str(tmp_path / "nope" / "r.html")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_the_pure_renderer_matches_build_report(demo):
    with reader(demo) as con:
        summary = week_summary(con, WEEK)
        assert report.report_html(summary) == report.build_report(con, WEEK)[1]


def test_drawing_the_report_reports_each_chart_and_ends_at_one(demo):
    with reader(demo) as con:
        summary = week_summary(con, WEEK)
    heard: list[tuple[float, str]] = []
    page = report.report_html(summary, lambda fraction, step: heard.append((fraction, step)))
    assert page == report.report_html(summary)
    assert heard == [(0.0, "drawing the charts"), (0.0, "drawing the stage rates chart"),
                     (0.25, "drawing the channels chart"), (0.5, "drawing the cohorts chart"),
                     (0.75, "writing the page"), (1.0, "done")]
