"""Conversion cohorts on hand-made logs: calendar periods, cumulative cells, completeness, projection."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.cohorts import COLUMNS, cohorts
from analytics.durations import Duration
from analytics.errors import BadInput
from analytics.filters import Filters
from analytics.time_to_convert import ConversionSpec, _outcomes_query, time_to_convert
from tests.analytics.conftest import insert_events

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


def cells_by_hand(con: duckdb.DuckDBPyConnection, spec: ConversionSpec, filters: Filters, period: str) -> dict[tuple[str, int], tuple[int, int, bool]]:
    """The cells counted unit by unit in Python from each entrant's outcome: calendar cohorts, a
    conversion's period index, cells up to the period holding the as-of instant, complete once the
    next period has started by then."""
    sql, params = _outcomes_query(con, spec, filters)
    units = con.execute(f"SELECT entered_at, outcome, ended_at FROM ({sql})", params).fetchall()

    def start(t: datetime) -> date:
        return date(t.year, t.month, 1) if period == "month" else t.date() - timedelta(days=t.weekday())

    def index(cohort: date, t: datetime) -> int:
        first = start(t)
        return (first.year - cohort.year) * 12 + first.month - cohort.month if period == "month" else (first - cohort).days // 7

    def period_start(cohort: date, k: int) -> datetime:
        if period == "week":
            return datetime.combine(cohort + timedelta(days=7 * k), datetime.min.time())
        months = cohort.month - 1 + k
        return datetime(cohort.year + months // 12, months % 12 + 1, 1)

    as_of = filters.as_of_end
    entered, indexes = Counter(), {}
    for entered_at, outcome, ended_at in units:
        cohort = start(entered_at)
        entered[cohort] += 1
        indexes.setdefault(cohort, []).append(index(cohort, ended_at) if outcome == "converted" else None)
    return {
        (cohort.isoformat(), k): (entered[cohort], sum(1 for i in indexes[cohort] if i is not None and i <= k),
                                  period_start(cohort, k + 1) <= as_of)
        for cohort in entered for k in range(index(cohort, as_of - timedelta(microseconds=1)) + 1)
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["L0", "L1", "L2", "L3", "L4", "L5"]), st.sampled_from(["mql", "sql", "lost"]),
                          st.integers(0, 120), st.sampled_from([0, 0, 12, 23.99])), max_size=25),
       st.sampled_from([Duration(seconds=20 * 86_400), None]), st.sampled_from(["month", "week"]),
       st.sampled_from([date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 3), date(2024, 5, 1)]))
def test_cells_from_one_pass_equal_the_cells_counted_unit_by_unit(shared_con, rows, window, period, as_of):
    # Property: with ties, losses, censoring and as-of dates on period ends, the cells `cohorts` builds
    # from its per-time counts are the ones counted lead by lead, and every cohort's projection is a share.
    shared_con.execute("DELETE FROM events")
    insert_events(shared_con, *[(lead, stage, datetime(2024, 1, 1) + timedelta(days=n, hours=h)) for lead, stage, n, h in rows])
    spec, filters = ConversionSpec("mql", "sql", window=window), Filters(as_of=as_of)
    table = cohorts(shared_con, spec, filters, period)
    assert cells(table) == cells_by_hand(shared_con, spec, filters, period)
    assert table["projected_share"].between(table["converted_share"] - 1e-12, 1 + 1e-12).all()


def test_each_cohort_counts_its_own_conversions_from_zero_whatever_the_order_of_entry(con, add_events):
    # Weeks of Jan 1, 8 and 15 2024 (Mondays), entered in scrambled order; the middle cohort never converts.
    # As of Thu Jan 18: weeks ending Jan 8 and 15 are complete, the week of Jan 15 is not.
    add_events(("L3", "mql", datetime(2024, 1, 16)), ("L3", "sql", datetime(2024, 1, 17)),
               ("L1", "mql", datetime(2024, 1, 2)), ("L1", "sql", datetime(2024, 1, 10)),
               ("L2", "mql", datetime(2024, 1, 9)))
    table = cohorts(con, MQL_SQL, Filters(as_of=date(2024, 1, 18)), "week")
    assert cells(table) == {
        ("2024-01-01", 0): (1, 0, True), ("2024-01-01", 1): (1, 1, True), ("2024-01-01", 2): (1, 1, False),
        ("2024-01-08", 0): (1, 0, True), ("2024-01-08", 1): (1, 0, False),
        ("2024-01-15", 0): (1, 1, False),
    }
    assert table.dtypes.astype(str).tolist() == ["object", "int64", "int64", "int64", "float64", "bool", "float64"]
