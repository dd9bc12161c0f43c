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
    rows = _cohort_times(con, replace(spec, by=None), filters, period)
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(COLUMNS, (object, "int64", "int64", "int64", float, bool, float))})
    codes, names = pd.factorize(rows["cohort"], sort=True)  # every figure below per cohort code, in numpy
    first_row = np.unique(codes, return_index=True)[1]
    lengths = rows["last_index"].to_numpy(dtype=np.int64)[first_row] + 1
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])  # each cohort's first cell
    cohort = np.repeat(np.arange(len(names)), lengths)
    period_index = np.arange(lengths.sum(), dtype=np.int64) - starts[cohort]
    entered = _entered(rows, codes)
    k = rows["k"].to_numpy(dtype=float, na_value=np.nan)
    counted = ~np.isnan(k)  # conversions: before the as-of instant, so within their cohort's cells
    at_index = np.bincount(starts[codes[counted]] + k[counted].astype(np.int64),
                           weights=rows["converted"].to_numpy(dtype=float)[counted], minlength=len(cohort))
    running = np.cumsum(at_index.astype(np.int64))
    converted = running - np.concatenate([[0], running])[starts][cohort]  # cumulative within each cohort
    return pd.DataFrame({
        "cohort": np.repeat(np.asarray(names, dtype=object), lengths),
        "period_index": period_index,
        "entered": entered[cohort],
        "converted": converted,
        "converted_share": converted / entered[cohort],
        "complete": period_index < rows["ended_periods"].to_numpy(dtype=np.int64)[first_row][cohort],
        "projected_share": _projected(rows, codes, entered)[cohort],
    })[COLUMNS]


def cohort_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per cohort of a `cohorts` table, newest first: entered, converted and converted_share so far
    (its latest cell), projected_share."""
    latest = table.sort_values(["cohort", "period_index"]).groupby("cohort").last().reset_index()
    return latest[["cohort", "entered", "converted", "converted_share", "projected_share"]].sort_values(
        "cohort", ascending=False, ignore_index=True)


def _cohort_times(con: duckdb.DuckDBPyConnection, spec: ConversionSpec, filters: Filters, period: Period) -> pd.DataFrame:
    """Units per (cohort, k, days) from one pass over the outcomes: converted, lost, censored and still_open
    (open, window not yet over), open units at `_placed_sql`'s time; k is a conversion's period index
    (NULL for the others). Per cohort, last_index is the index of the period holding the as-of instant
    and ended_periods how many of its periods have ended by then: period k is complete when k < ended_periods,
    as its end, the start of period k + 1, is at or before the as-of instant exactly then."""
    outcomes, params = _outcomes_query(con, spec, filters)  # one group: `spec` has no breakdown
    return con.execute(
        f"""
        WITH outcomes AS ({outcomes}),
        placed AS ({_placed_sql()}),
        per_unit AS (SELECT date_trunc($coh_period, entered_at) AS cohort, outcome, expired, ended_at, days FROM placed),
        counted AS (
            SELECT cohort, CASE WHEN outcome = 'converted' THEN {_index_sql(period, "cohort", "ended_at")} END AS k, days,
                   count(*) FILTER (WHERE outcome = 'converted') AS converted,
                   count(*) FILTER (WHERE outcome = 'lost') AS lost,
                   count(*) FILTER (WHERE outcome = 'open') AS censored,
                   count(*) FILTER (WHERE outcome = 'open' AND NOT expired) AS still_open
            FROM per_unit GROUP BY ALL)
        SELECT strftime(cohort, '%Y-%m-%d') AS cohort, k, days, converted, lost, censored, still_open,
               {_index_sql(period, "cohort", "$as_of - INTERVAL 1 MICROSECOND")} AS last_index,
               {_index_sql(period, "cohort", "$as_of")} AS ended_periods
        FROM counted
        """,
        params | {"coh_period": period},
    ).df()


def _projected(rows: pd.DataFrame, codes: np.ndarray, entered: np.ndarray) -> np.ndarray:
    """Each cohort's projected final share: converters plus open units' chances from the pooled curve,
    from `_cohort_times` rows with their cohort codes, per code."""
    pooled = aalen_johansen(rows["days"], rows["converted"], rows["lost"], rows["censored"])
    at = np.searchsorted(pooled.days, rows["days"].to_numpy(dtype=float), side="right") - 1
    converted_by, open_at = pooled.converted[at], pooled.open[at]  # every row's time is one of the curve's
    with np.errstate(divide="ignore", invalid="ignore"):
        later = np.where(open_at > 0, (pooled.converted[-1] - converted_by) / open_at, 0.0)
    expected = (rows["converted"] + rows["still_open"] * later).groupby(codes).sum()
    return expected.to_numpy() / entered


def _entered(rows: pd.DataFrame, codes: np.ndarray) -> np.ndarray:
    """Entrants per cohort code of `_cohort_times` rows."""
    return (rows["converted"] + rows["lost"] + rows["censored"]).groupby(codes).sum().to_numpy(dtype=np.int64)


def _index_sql(period: Period, cohort_sql: str, time_sql: str) -> str:
    """SQL for the calendar period index of `time_sql` counted from the period starting at `cohort_sql`."""
    if period == "month":
        return f"datediff('month', {cohort_sql}, date_trunc('month', {time_sql}))"
    return f"((date_trunc('week', {time_sql})::DATE - {cohort_sql}::DATE) // 7)"
