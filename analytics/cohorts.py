"""Conversion cohorts: entry period x periods since entry, each cell the cumulative share converted.

Entrants, outcomes and windows are those of `analytics.time_to_convert` (a conversion counts only within
its window and before a competing end). The rules of DESIGN.md's "Cohorts" and "Contract details":

- A cohort is the calendar week (Monday) or month of entry, labelled by the ISO date of its first day.
- `period_index` 0 is the entry period itself; cell (c, k) counts the cohort's conversions up to the end
  of period c + k (the first instant of the next period, exclusive). Cells run up to the period holding
  the as-of date; a cell is `complete` when period c + k ends at or before the as-of instant. An
  incomplete cell is a lower bound of what it will show, never a drop.
- `projected_share`: the cohort's converters, plus for each unit still open and inside its window the
  chance it converts later, (F(h) - F(u)) / S(u), where u is its follow-up so far and F, S are the
  Aalen-Johansen cumulative incidence of conversion and the all-cause survival of all entrants of the
  selection (pooled over cohorts), read at the longest follow-up h. Young cohorts are assumed to convert
  like older ones did at the same age. Once every window of a cohort has closed, it equals its share.
  Open units are read at the time `time_to_convert._placed_sql` gives, where F and S are the same.
"""

from __future__ import annotations

from dataclasses import replace

import duckdb
import numpy as np
import pandas as pd

from analytics.durations import Duration
from analytics.errors import BadInput
from analytics.filters import Filters
from analytics.funnel import _PERIOD_LENGTH, Period
from analytics.time_to_convert import (
    ConversionSpec,
    _outcomes_query,
    _placed_sql,
    aalen_johansen,
)

COLUMNS = ["cohort", "period_index", "entered", "converted", "converted_share", "complete", "projected_share"]


def cohorts(con: duckdb.DuckDBPyConnection, spec: ConversionSpec, filters: Filters, period: Period = "month") -> pd.DataFrame:
    """Cumulative share converted per (entry cohort, periods since entry); see the module docstring.

    Columns: cohort (ISO date), period_index, entered, converted (cumulative), converted_share, complete,
    projected_share (per cohort, repeated on its rows). A breakdown in `spec` is ignored.
    """
    if period not in _PERIOD_LENGTH:
        raise BadInput(f"period must be week or month, got '{period}'")
    spec = replace(spec, by=None)
    outcomes, params = _outcomes_query(con, spec, filters)
    cell_end, end_params = _shifted(_PERIOD_LENGTH[period], "grid.cohort", "(period_index + 1)", "coh")
    table = con.execute(
        f"""
        WITH outcomes AS ({outcomes}),
        per_unit AS (
            SELECT date_trunc($coh_period, entered_at) AS cohort,
                   CASE WHEN outcome = 'converted' THEN {_index_sql(period, "cohort", "ended_at")} END AS k
            FROM outcomes),
        cells AS (SELECT cohort, k, count(*) AS n FROM per_unit GROUP BY ALL),
        grid AS (
            SELECT cohort, sum(n) AS entered,
                   unnest(range(0, {_index_sql(period, "cohort", "$as_of - INTERVAL 1 MICROSECOND")} + 1)) AS period_index
            FROM cells GROUP BY cohort)
        SELECT strftime(grid.cohort, '%Y-%m-%d') AS cohort, period_index, entered,
               coalesce(sum(n), 0) AS converted, {cell_end} <= $as_of AS complete
        FROM grid LEFT JOIN cells ON cells.cohort = grid.cohort AND cells.k <= grid.period_index
        GROUP BY grid.cohort, period_index, entered
        ORDER BY grid.cohort, period_index
        """,
        params | end_params | {"coh_period": period},
    ).df()
    table = table.astype({"period_index": "int64", "entered": "int64", "converted": "int64", "complete": bool})
    table["converted_share"] = table["converted"] / table["entered"]
    table["projected_share"] = table["cohort"].map(_projected(con, spec, filters, period)).astype(float)
    return table[COLUMNS]


def cohort_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per cohort of a `cohorts` table, newest first: entered, converted and converted_share so far
    (its latest cell), projected_share."""
    latest = table.sort_values(["cohort", "period_index"]).groupby("cohort").last().reset_index()
    return latest[["cohort", "entered", "converted", "converted_share", "projected_share"]].sort_values(
        "cohort", ascending=False, ignore_index=True)


def _projected(con: duckdb.DuckDBPyConnection, spec: ConversionSpec, filters: Filters, period: Period) -> dict[str, float]:
    """Each cohort's projected final share: converters plus open units' chances from the pooled curve."""
    outcomes, params = _outcomes_query(con, spec, filters)  # one group: `spec` has no breakdown
    rows = con.execute(
        f"""
        WITH outcomes AS ({outcomes}),
        placed AS ({_placed_sql("grp")})
        SELECT strftime(date_trunc($coh_period, entered_at), '%Y-%m-%d') AS cohort, days,
               count(*) FILTER (WHERE outcome = 'converted') AS converted,
               count(*) FILTER (WHERE outcome = 'lost') AS lost,
               count(*) FILTER (WHERE outcome = 'open') AS censored,
               count(*) FILTER (WHERE outcome = 'open' AND NOT expired) AS still_open
        FROM placed GROUP BY ALL
        """,
        params | {"coh_period": period},
    ).df()
    if rows.empty:
        return {}
    pooled = aalen_johansen(rows["days"], rows["converted"], rows["lost"], rows["censored"])
    at = np.searchsorted(pooled.days, rows["days"].to_numpy(dtype=float), side="right") - 1
    converted_by, open_at = pooled.converted[at], pooled.open[at]  # every row's time is one of the curve's
    with np.errstate(divide="ignore", invalid="ignore"):
        later = np.where(open_at > 0, (pooled.converted[-1] - converted_by) / open_at, 0.0)
    expected = (rows["converted"] + rows["still_open"] * later).groupby(rows["cohort"]).sum()
    entered = rows[["converted", "lost", "censored"]].sum(axis=1).groupby(rows["cohort"]).sum()
    return (expected / entered).to_dict()


def _index_sql(period: Period, cohort_sql: str, time_sql: str) -> str:
    """SQL for the calendar period index of `time_sql` counted from the period starting at `cohort_sql`."""
    if period == "month":
        return f"datediff('month', {cohort_sql}, date_trunc('month', {time_sql}))"
    return f"((date_trunc('week', {time_sql})::DATE - {cohort_sql}::DATE) // 7)"


def _shifted(length: Duration, start_sql: str, count_sql: str, name: str) -> tuple[str, dict[str, int]]:
    """SQL for `start_sql` + `count_sql` times `length`, with the length as named parameters."""
    sql = f"({start_sql} + to_months(${name}_months * {count_sql}) + to_seconds(${name}_seconds * {count_sql}))"
    return sql, {f"{name}_months": length.months, f"{name}_seconds": length.seconds}
