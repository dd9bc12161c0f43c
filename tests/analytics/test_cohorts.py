"""Conversion cohorts on hand-made logs: calendar periods, cumulative cells, completeness, projection."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from analytics.cohorts import COLUMNS, cohorts
from analytics.durations import Duration
from analytics.errors import BadInput
from analytics.filters import Filters
from analytics.time_to_convert import ConversionSpec, time_to_convert

MQL_SQL = ConversionSpec("mql", "sql", window=None)


def cells(table: pd.DataFrame) -> dict[tuple[str, int], tuple[int, int, bool]]:
    return {(c, k): (e, n, done) for c, k, e, n, done in
            table[["cohort", "period_index", "entered", "converted", "complete"]].itertuples(index=False)}


def test_monthly_cells_are_cumulative_by_calendar_period_and_complete_up_to_the_as_of_date(con, add_events):
    # January cohort: L1 enters Jan 31 and converts Feb 1 (period 1, although one day later), L2 converts
    # in March (period 2), L3 never. February cohort: L4 converts in February (period 0).
    # As of Mar 15: January's periods 0-1 are complete, period 2 (March) is not; February's 0 is, 1 not.
    add_events(("L1", "mql", datetime(2024, 1, 31, 23)), ("L1", "sql", datetime(2024, 2, 1, 1)),
               ("L2", "mql", datetime(2024, 1, 5)), ("L2", "sql", datetime(2024, 3, 2)),
               ("L3", "mql", datetime(2024, 1, 9)),
               ("L4", "mql", datetime(2024, 2, 10)), ("L4", "sql", datetime(2024, 2, 12)))
    table = cohorts(con, MQL_SQL, Filters(as_of=date(2024, 3, 15)), "month")
    assert table.columns.tolist() == COLUMNS
    assert cells(table) == {
        ("2024-01-01", 0): (3, 0, True), ("2024-01-01", 1): (3, 1, True), ("2024-01-01", 2): (3, 2, False),
        ("2024-02-01", 0): (1, 1, True), ("2024-02-01", 1): (1, 1, False),
    }
    assert table["converted_share"].tolist() == pytest.approx([0, 1 / 3, 2 / 3, 1, 1])


def test_a_period_ending_on_the_as_of_date_is_complete(con, add_events):
    # As of Feb 29 (end of day = Mar 1 00:00) February has ended: complete, and March is not shown.
    add_events(("L1", "mql", datetime(2024, 2, 3)))
    table = cohorts(con, MQL_SQL, Filters(as_of=date(2024, 2, 29)), "month")
    assert table[["cohort", "period_index", "complete"]].values.tolist() == [["2024-02-01", 0, True]]


def test_weekly_cohorts_start_on_monday_and_count_calendar_weeks(con, add_events):
    # Sunday Mar 3 2024 belongs to the week of Monday Feb 26; its sql on Monday Mar 4 is in week 1.
    add_events(("L1", "mql", datetime(2024, 3, 3, 22)), ("L1", "sql", datetime(2024, 3, 4, 8)))
    table = cohorts(con, MQL_SQL, Filters(as_of=date(2024, 3, 6)), "week")
    assert cells(table) == {("2024-02-26", 0): (1, 0, True), ("2024-02-26", 1): (1, 1, False)}


def test_conversions_after_the_window_or_after_a_loss_never_fill_a_cell(con, add_events):
    # Window 10 days: L1 converts on day 20 (expired), L2 is lost before its sql, L3 converts on day 3.
    add_events(("L1", "mql", datetime(2024, 1, 1)), ("L1", "sql", datetime(2024, 1, 21)),
               ("L2", "mql", datetime(2024, 1, 1)), ("L2", "lost", datetime(2024, 1, 2)), ("L2", "sql", datetime(2024, 1, 3)),
               ("L3", "mql", datetime(2024, 1, 1)), ("L3", "sql", datetime(2024, 1, 4)))
    spec = ConversionSpec("mql", "sql", window=Duration(seconds=10 * 86_400))
    table = cohorts(con, spec, Filters(as_of=date(2024, 2, 29)), "month")
    assert table["converted"].tolist() == [1, 1]
    # Every window has closed: the projection is the observed share.
    assert table["projected_share"].tolist() == pytest.approx([1 / 3, 1 / 3])


def test_a_young_cohort_is_projected_from_the_older_cohorts_curve(con, add_events):
    # January cohort: 4 MQLs on Jan 1, 2 convert at day 40 (so after January), 2 never; as of May 31
    # they are followed 151 days. May cohort: 2 MQLs on May 21, followed 11 days, none converted yet.
    # Pooled (6 units): F(11 days) = 0, S(11) = 1; F at the end = 2/6 + ... : at day 40, n = 4 (the May
    # units are censored at 11), d = 2, so F(end) = 1 * 2/4 = 1/2. Each May unit: (1/2 - 0) / 1 = 1/2.
    add_events(*[(f"J{i}", "mql", datetime(2024, 1, 1)) for i in range(4)],
               ("J0", "sql", datetime(2024, 2, 10)), ("J1", "sql", datetime(2024, 2, 10)),
               ("M0", "mql", datetime(2024, 5, 21)), ("M1", "mql", datetime(2024, 5, 21)))
    filters = Filters(as_of=date(2024, 5, 31))
    table = cohorts(con, MQL_SQL, filters, "month")
    projected = table.groupby("cohort")["projected_share"].first()
    assert projected.to_dict() == pytest.approx({"2024-01-01": 0.5, "2024-05-01": 0.5})
    may = table[table["cohort"] == "2024-05-01"]
    assert may[["period_index", "converted_share", "complete"]].values.tolist() == [[0, 0.0, True]]
    # The pooled estimate is the time-to-convert one for the same selection.
    assert time_to_convert(con, MQL_SQL, filters)["p_convert_in_window"].iloc[0] == pytest.approx(0.5)


def test_no_entrants_gives_an_empty_table_and_a_bad_period_is_bad_input(con):
    table = cohorts(con, MQL_SQL, Filters(as_of=date(2024, 1, 1)), "month")
    assert table.empty and table.columns.tolist() == COLUMNS
    with pytest.raises(BadInput, match="week or month"):
        cohorts(con, MQL_SQL, Filters(), "quarter")


def test_the_date_range_selects_cohorts_by_entry(con, add_events):
    add_events(("L1", "mql", datetime(2024, 1, 5)), ("L2", "mql", datetime(2024, 2, 5)))
    table = cohorts(con, MQL_SQL, Filters(since=date(2024, 2, 1), as_of=date(2024, 3, 31)), "month")
    assert table["cohort"].unique().tolist() == ["2024-02-01"]
