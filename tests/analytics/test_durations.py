"""Window durations: parsing, SQL arithmetic (calendar months vs exact days) and the default windows."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from analytics.durations import Duration, funnel_windows, parse_duration, parse_window_option
from analytics.errors import BadInput

DAY = 86_400


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("183d", Duration(seconds=183 * DAY)),
        ("6mo", Duration(months=6)),
        ("12h", Duration(seconds=12 * 3600)),
        ("2w", Duration(seconds=14 * DAY)),
        (" 1Y ", Duration(months=12)),
        ("90 min", Duration(seconds=90 * 60)),
        ("6 months", Duration(months=6)),
        ("0d", Duration()),
    ],
)
def test_parse_duration_reads_a_number_and_a_unit(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["none", "None", " off "])
def test_none_means_no_limit(text):
    assert parse_duration(text) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "not a duration"),
        ("6", "not a duration"),
        ("-3d", "not a duration"),
        ("1.5d", "not a duration"),
        ("", "not a duration"),
        ("6m", "ambiguous"),
        ("3x", "unknown unit 'x'"),
    ],
)
def test_junk_durations_are_bad_input_with_a_clear_message(text, message):
    with pytest.raises(BadInput, match=message):
        parse_duration(text)


@pytest.mark.parametrize("text", ["183d", "6mo", "12h", "2w", "90min", "45s"])
def test_a_duration_prints_as_text_that_parses_back(text):
    duration = parse_duration(text)
    assert parse_duration(str(duration)) == duration


@pytest.mark.parametrize(
    ("start", "text", "expected"),
    [
        # Calendar months clamp the day to the month's end and keep the time of day.
        ("2024-01-31 10:00", "1mo", datetime(2024, 2, 29, 10)),
        ("2023-01-31 10:00", "1mo", datetime(2023, 2, 28, 10)),
        ("2024-01-01 00:00", "6mo", datetime(2024, 7, 1)),
        # 183 x 24 hours from Jan 1 of a leap year is Jul 2.
        ("2024-01-01 06:00", "183d", datetime(2024, 7, 2, 6)),
        ("2024-03-09 23:30", "12h", datetime(2024, 3, 10, 11, 30)),
    ],
)
def test_add_sql_adds_calendar_months_or_exact_seconds(start, text, expected):
    sql, params = parse_duration(text).add_sql("CAST($start AS TIMESTAMP)", "w")
    assert duckdb.connect().execute(f"SELECT {sql}", params | {"start": start}).fetchone()[0] == expected


def test_defaults_exist_only_for_mql_to_sql_and_sql_to_won():
    assert funnel_windows(("lead", "mql", "sql", "won"), {}) == (None, Duration(months=6), Duration(months=5))
    assert funnel_windows(("mql", "won"), {}) == (None,)
    assert funnel_windows(("lead", "sql", "won"), {}) == (None, Duration(months=5))
    assert funnel_windows(("visit", "mql", "sql"), {}) == (None, Duration(months=6))


def test_a_window_override_is_keyed_by_the_stage_it_limits_reaching():
    windows = funnel_windows(("lead", "mql", "sql", "won"), {"mql": Duration(seconds=30 * DAY), "won": None})
    assert windows == (Duration(seconds=30 * DAY), Duration(months=6), None)


@pytest.mark.parametrize("stage", ["lead", "trial"])
def test_a_window_for_the_first_stage_or_an_unknown_stage_is_bad_input(stage):
    with pytest.raises(BadInput, match=stage):
        funnel_windows(("lead", "mql", "sql"), {stage: Duration(months=1)})


def test_parse_window_option_splits_stage_and_duration():
    assert parse_window_option("sql=6mo") == ("sql", Duration(months=6))
    assert parse_window_option(" won = none ") == ("won", None)
    with pytest.raises(BadInput, match="STAGE=DURATION"):
        parse_window_option("6mo")
    with pytest.raises(BadInput, match="not a duration"):
        parse_window_option("sql=soon")
