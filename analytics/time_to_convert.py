"""Time to conversion for one transition (from-stage -> to-stage): how long converters took, and how many
of everyone who entered will have converted by the end of the window, with open units right-censored.

The rules are DESIGN.md's "Time to conversion" and "Contract details"; where those leave room:

- Entry, date range, first-touch breakdown and filters are the funnel's (`analytics.funnel`): a unit
  enters at t1, its earliest from-stage event seen as of the as-of date; conversion is measured from t1.
  Where the funnel reads the journey table and the competing ends are funnel stages, so do the outcomes:
  the first time at or after t1 is the earliest time when that is not before t1, else the first one at
  or after t1 in the lead's sorted list of times (only a lead with several times can have one).
- Outcomes: the first to-stage event at or after t1 is the conversion; the first competing end (`lost`
  by default) at or after t1 is the loss. Each unit is exactly one of:
  converted: the conversion comes within the window (inclusive) and no loss came strictly before it (a
  conversion and a loss at the same instant count as a conversion);
  lost: the loss comes first and within the window;
  open: neither within the window by the as-of date. An open unit whose window ended before the as-of
  date is also counted as `expired`: a conversion or a loss after the window leaves the unit open, so the
  counts agree with the curves, which stop at each unit's window.
- Days are exact: elapsed seconds / 86400. An open unit is right-censored at the as-of instant or at
  its window end, whichever comes first.
- Bad data: a to-stage event before t1 is never a conversion; `to_before_from` counts the entrants that
  have one (they may still convert later, at or after t1).
- Estimators: the Aalen-Johansen estimator (conversion and the competing ends as competing outcomes) on
  counts per distinct time, so converted + lost + open = 100% at every time. An open unit is counted at
  the latest conversion or loss of its group at or before its own time (or the start of its day, if
  later): the curves only step at conversions and losses, so every figure stays exactly the same, and
  a million open units fall onto few distinct times. Without competing ends in
  the data it equals 1 - Kaplan-Meier. Its variance is Greenwood-type (Collett, Modelling Survival Data,
  3rd ed., p. 411; as lifelines' AalenJohansenFitter and statsmodels' CumIncidenceRight) and the 95%
  interval uses the log(-log) transform, so it stays inside [0, 1]; at 0% or 100% there is no interval
  (NaN). `p_convert_in_window` is the estimate at `horizon_days`, the longest follow-up: each unit is
  followed to its own window end at most, so it is the share converting within the window.
- The median time to convert (`km_median_days`) is the first time the converted share reaches 50%, its
  interval where the interval's bounds do; "not reached" (NaN) when fewer than half are estimated to
  convert. The quantiles without the `km_` prefix are over converters only (naive, but intuitive).
- Comparing groups: the log-rank test on the conversion hazard (competing ends censored), i.e. "among the
  units still open, do some groups convert sooner"; it does not test the cumulative incidences (Gray).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal, NamedTuple

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from analytics import journeys
from analytics.durations import Duration, default_window
from analytics.errors import BadInput
from analytics.filters import Filters
from analytics.funnel import (
    ALL_GROUP,
    FunnelSpec,
    _event_units_query,
    _journey_units_query,
)
from analytics.schema import FUNNEL_STAGES
from analytics.sql import quote_ident

DEFAULT = "default"
COMPETING = ("lost",)
Placement = Literal["group", "all", "own"]  # where `_outcome_times` counts open units
COLUMNS = [
    "group", "entered", "converted", "lost", "open", "expired", "to_before_from",
    "median_days", "p25_days", "p75_days", "p90_days", "mean_days",
    "km_median_days", "km_median_ci_low", "km_median_ci_high",
    "p_convert_in_window", "p_convert_ci_low", "p_convert_ci_high", "p_lost_in_window", "horizon_days",
]  # fmt: skip
CURVE_COLUMNS = ["group", "day", "at_risk", "converted_share", "ci_low", "ci_high", "lost_share", "open_share"]
HISTOGRAM_COLUMNS = ["group", "bin_start_days", "bin_end_days", "converters"]
COUNTS = ["converted", "lost", "censored", "expired", "to_before_from"]  # per row of `_outcome_times`
QUANTILES = (("median", 0.5), ("p25", 0.25), ("p75", 0.75), ("p90", 0.9))
_Z95 = NormalDist().inv_cdf(0.975)


@dataclass(frozen=True)
class ConversionSpec:
    """Which transition to time: from-stage, to-stage, the window (DEFAULT: the pair's default, None: no
    limit), an optional breakdown, and the stages that end a unit without converting."""

    from_stage: str
    to_stage: str
    window: Duration | None | Literal["default"] = DEFAULT
    by: str | None = None
    competing: tuple[str, ...] = COMPETING

    def __post_init__(self) -> None:
        if not isinstance(self.window, Duration) and self.window not in (None, DEFAULT):
            raise BadInput(f"a window must be a duration such as 183d or 6mo, or none; got '{self.window}'")
        FunnelSpec(stages=(self.from_stage, self.to_stage), windows=self._windows)  # checks the stage names

    @property
    def limit(self) -> Duration | None:
        """The window in force: the one given, else the pair's default (mql -> sql 6mo, sql -> won 5mo)."""
        return default_window(self.from_stage, self.to_stage) if self.window == DEFAULT else self.window

    @property
    def ends(self) -> tuple[str, ...]:
        """The competing ends, without the to-stage itself."""
        return tuple(s for s in self.competing if s not in (self.to_stage, self.from_stage))

    @property
    def _windows(self) -> dict[str, Duration | None]:
        return {} if self.window == DEFAULT else {self.to_stage: self.window}

    @property
    def funnel_spec(self) -> FunnelSpec:
        """The two-stage funnel whose entrants and breakdown these are."""
        return FunnelSpec(stages=(self.from_stage, self.to_stage), windows=self._windows, by=self.by)


class CumulativeIncidence(NamedTuple):
    """Aalen-Johansen estimates at each distinct time: after the events at that time (right-continuous)."""

    days: np.ndarray
    at_risk: np.ndarray  # units with days >= this time
    converted: np.ndarray  # cumulative incidence of conversion
    variance: np.ndarray  # of `converted` (Collett's delta-method / Greenwood-type estimator)
    ci_low: np.ndarray
    ci_high: np.ndarray
    lost: np.ndarray  # cumulative incidence of the competing ends
    open: np.ndarray  # all-cause Kaplan-Meier survival: 1 - converted - lost


class LogRank(NamedTuple):
    statistic: float
    dof: int
    p_value: float
    reason: str | None  # why there is no test, in words


def aalen_johansen(days, converted, lost, censored) -> CumulativeIncidence:
    """Cumulative incidence of conversion and of the competing ends from counts per time.

    Inputs are parallel arrays: a time and how many units converted, were lost or were censored then (a
    time may repeat; counts are added). Censored units count as at risk at their own time.
    """
    times, inverse = np.unique(np.asarray(days, dtype=float), return_inverse=True)
    d1, d2, c = (np.bincount(inverse, weights=np.asarray(x, dtype=float), minlength=len(times))
                 for x in (converted, lost, censored))
    removed = d1 + d2 + c
    n = removed[::-1].cumsum()[::-1]
    d = d1 + d2
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(n > 0, d / n, 0.0)
        survival = np.cumprod(1 - hazard)
        before = np.concatenate([[1.0], survival[:-1]])  # S(t-)
        f1 = np.cumsum(before * np.where(n > 0, d1 / n, 0.0))
        f2 = np.cumsum(before * np.where(n > 0, d2 / n, 0.0))
        # Var F(t) = sum_i (F(t) - F_i)^2 a_i + S_i-^2 d1 (n - d1) / n^3 - 2 (F(t) - F_i) S_i- d1 / n^2,
        # expanded into cumulative sums; a_i = d / (n (n - d)) is 0 where everyone left has an event
        # (the last time, where F(t) - F_i = 0).
        a = np.where(n > d, d / (n * (n - d)), 0.0)
        b = np.where(n > 0, before * d1 / n**2, 0.0)
        second = np.where(n > 0, before**2 * d1 * (n - d1) / n**3, 0.0)
        variance = (f1**2 * np.cumsum(a) - 2 * f1 * np.cumsum(a * f1) + np.cumsum(a * f1**2)
                    + np.cumsum(second) - 2 * (f1 * np.cumsum(b) - np.cumsum(b * f1)))
        variance = np.maximum(variance, 0.0)
        inner = (f1 > 0) & (f1 < 1)
        log_f = np.log(np.where(inner, f1, 0.5))
        g = np.log(-log_f)
        se = np.sqrt(variance) / (np.where(inner, f1, 0.5) * np.abs(log_f))
        low = np.where(inner, np.exp(-np.exp(g + _Z95 * se)), math.nan)
        high = np.where(inner, np.exp(-np.exp(g - _Z95 * se)), math.nan)
    return CumulativeIncidence(times, n.astype(np.int64), f1, variance, low, high, f2, survival)


def weighted_quantile(values: np.ndarray, counts: np.ndarray, q: float) -> float:
    """The q-quantile of `values` each repeated `counts` times (sorted ascending), interpolated linearly
    between order statistics like numpy's default and DuckDB's quantile_cont; NaN without any count."""
    cumulative = np.cumsum(counts)
    if not len(cumulative) or cumulative[-1] == 0:
        return math.nan
    position = q * (cumulative[-1] - 1)  # 0-based rank in the expanded, sorted list
    below = values[np.searchsorted(cumulative, math.floor(position), side="right")]
    above = values[np.searchsorted(cumulative, math.ceil(position), side="right")]
    return float(below + (above - below) * (position - math.floor(position)))


def first_time_reaching(days: np.ndarray, curve: np.ndarray, share: float) -> float:
    """The first time a non-decreasing curve reaches `share` (NaN: not reached); NaN values never reach
    (a comparison with NaN is false)."""
    reached = curve >= share - 1e-12
    first = int(reached.argmax()) if reached.size else 0
    return float(days[first]) if reached.size and reached[first] else math.nan


def logrank(table: pd.DataFrame) -> LogRank:
    """Log-rank test of equal conversion hazards across groups, from counts per (group, days).

    `table` has columns group, days, converted, lost, censored; lost units are censored at their time.
    With k groups the statistic is chi-square with k - 1 degrees of freedom (Mantel-Haenszel variance).
    """
    groups = sorted(table["group"].unique()) if len(table) else []
    if len(groups) < 2:
        return LogRank(math.nan, 0, math.nan, "a comparison needs at least two groups with entrants")
    if table["converted"].sum() == 0:
        return LogRank(math.nan, len(groups) - 1, math.nan, "no unit has converted yet, so there is nothing to compare")
    times = np.unique(table["days"].to_numpy(dtype=float))
    events = np.zeros((len(groups), len(times)))
    at_risk = np.zeros((len(groups), len(times)))
    for g, (_, part) in enumerate(table.groupby("group", sort=True)):
        idx = np.searchsorted(times, part["days"].to_numpy(dtype=float))
        np.add.at(events[g], idx, part["converted"].to_numpy(dtype=float))
        removed = np.zeros(len(times))
        np.add.at(removed, idx, (part["converted"] + part["lost"] + part["censored"]).to_numpy(dtype=float))
        at_risk[g] = removed[::-1].cumsum()[::-1]
    n, d = at_risk.sum(axis=0), events.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(n > 0, at_risk / n, 0.0)
        spread = np.where(n > 1, d * (n - d) / (n - 1), 0.0)
    observed_minus_expected = (events - d * share).sum(axis=1)
    covariance = (np.einsum("t,gt,ht->gh", spread, share, -share)
                  + np.diag((spread * share).sum(axis=1)))
    used = slice(0, len(groups) - 1)
    statistic = float(observed_minus_expected[used] @ np.linalg.pinv(covariance[used, used]) @ observed_minus_expected[used])
    dof = len(groups) - 1
    return LogRank(statistic, dof, float(stats.chi2.sf(statistic, dof)), None)


# --- the warehouse ------------------------------------------------------------------------------


def time_to_convert(con: duckdb.DuckDBPyConnection, spec: ConversionSpec, filters: Filters) -> pd.DataFrame:
    """Time to conversion per group (one row "all" without `spec.by`), largest group first.

    Columns: group, entered, converted, lost, open (expired included), expired, to_before_from;
    median_days, p25_days, p75_days, p90_days, mean_days over converters; km_median_days with
    km_median_ci_low / _high (NaN: not reached); p_convert_in_window with p_convert_ci_low / _high and
    p_lost_in_window (Aalen-Johansen at horizon_days, the longest follow-up). See the module docstring.
    """
    return _summary(_outcome_times(con, spec, filters), overall=spec.by is None)


def conversion_curves(con: duckdb.DuckDBPyConnection, spec: ConversionSpec, filters: Filters) -> pd.DataFrame:
    """Aalen-Johansen curves per group on a daily grid (day 0, 1, ... up to the longest follow-up).

    Columns: group, day, at_risk (units followed at least `day` days and still open then), converted_share
    with its 95% ci_low / ci_high, lost_share and open_share (they add up to 1), each as of the end of
    `day` (events at exactly `day` days included).
    """
    return _curves(_outcome_times(con, spec, filters))


def conversion_histogram(con: duckdb.DuckDBPyConnection, spec: ConversionSpec, filters: Filters) -> pd.DataFrame:
    """Converters per bin of days to convert, per group: bins of 1 day up to 45 days, 7 up to a year, else 30.

    Columns: group, bin_start_days, bin_end_days (bins are [start, end)), converters.
    """
    return _histogram(_outcome_times(con, spec, filters))


def compare_groups(con: duckdb.DuckDBPyConnection, spec: ConversionSpec, filters: Filters) -> LogRank:
    """Log-rank test across the groups of `spec.by`: do some groups convert sooner than others?"""
    if spec.by is None:
        return LogRank(math.nan, 0, math.nan, "choose a breakdown to compare groups")
    return logrank(_outcome_times(con, spec, filters, placement="own"))


class ConversionReport(NamedTuple):
    """Everything the time-to-convert page shows for one spec: what `time_to_convert`, `conversion_curves`,
    `compare_groups` give for the spec, and `time_to_convert`, `conversion_curves`, `conversion_histogram`
    give without its breakdown (`overall`, `overall_curve`, `histogram`)."""

    overall: pd.DataFrame
    groups: pd.DataFrame
    curves: pd.DataFrame
    overall_curve: pd.DataFrame
    test: LogRank
    histogram: pd.DataFrame


def conversion_report(con: duckdb.DuckDBPyConnection, spec: ConversionSpec, filters: Filters) -> ConversionReport:
    """`ConversionReport` from one query over the outcomes, so that a new filter costs one pass, not six.

    With a breakdown, open units are placed over all groups' conversions and losses
    (`_placed_sql(pooled=True)`): that changes no figure of any group, of all groups together (their
    rows added up per time), nor the log-rank test, which only moves at conversions and losses of any group.
    """
    rows = _outcome_times(con, spec, filters, placement="all" if spec.by else "group")
    pooled = rows if spec.by is None else _pooled(rows)
    overall = _summary(pooled, overall=True)
    overall_curve = _curves(pooled)
    if spec.by is None:
        return ConversionReport(overall, overall, overall_curve, overall_curve,
                                compare_groups(con, spec, filters), _histogram(pooled))
    return ConversionReport(overall, _summary(rows, overall=False), _curves(rows), overall_curve, logrank(rows),
                            _histogram(pooled))


def speed_sentence(table: pd.DataFrame, test: LogRank, label: str = "group") -> str:
    """One plain sentence on the groups of a `time_to_convert` table and its log-rank test (named only
    as a p-value: the page explains the test)."""
    rows = table[table["entered"] > 0]
    if test.reason is not None:
        return f"No comparison: {test.reason}."
    fastest = rows.sort_values(["p_convert_in_window", "entered"], ascending=False).iloc[0]
    slowest = rows.sort_values(["p_convert_in_window", "entered"], ascending=[True, False]).iloc[0]
    p = "p < 0.0001" if test.p_value < 0.0001 else f"p = {test.p_value:.4f}".rstrip("0").rstrip(".")
    verdict = (f"Conversion speed differs by {label} ({p})" if test.p_value < 0.05
               else f"No clear difference in conversion speed by {label} yet ({p})")
    return (f"{verdict}: {fastest['group']} converts most ({_outcome(fastest)}), "
            f"{slowest['group']} least ({_outcome(slowest)}).")


def _outcome(row: pd.Series) -> str:
    """A group's expected share within the window, and when half of it has converted if it gets there."""
    share = f"{_share(row['p_convert_in_window'])} within the window"
    median = row["km_median_days"]
    return share if pd.isna(median) else f"{share}, half of its leads by day {median:.0f}"


def naive_vs_honest(row: pd.Series, from_stage: str, to_stage: str) -> str:
    """One sentence on the difference between the naive share (converted / entered) and the estimate."""
    entered = int(row["entered"])
    if entered == 0:
        return f"No one reached {from_stage} in this selection."
    naive = row["converted"] / entered
    still_open = int(row["open"] - row["expired"])
    sentence = (f"Counting only conversions seen so far, {naive:.1%} of the {entered:,} leads that reached "
                f"{from_stage} went on to {to_stage}")
    if still_open == 0:
        return f"{sentence}; no one is still inside the window, so that is also the final share."
    return (f"{sentence}. But {still_open:,} are still inside their window: allowing for them, "
            f"{_share(row['p_convert_in_window'])} are expected to convert within "
            f"{row['horizon_days']:.0f} days (likely between {_share(row['p_convert_ci_low'])} and "
            f"{_share(row['p_convert_ci_high'])}).")


def _share(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:.1%}"


def _days(value: float) -> str:
    return "not reached" if pd.isna(value) else f"{value:.0f} days"


def _estimates(curve: CumulativeIncidence) -> dict[str, float]:
    """The survival figures of one group: median with its interval, shares at the longest follow-up."""
    return {
        "km_median_days": first_time_reaching(curve.days, curve.converted, 0.5),
        "km_median_ci_low": first_time_reaching(curve.days, curve.ci_high, 0.5),
        "km_median_ci_high": first_time_reaching(curve.days, curve.ci_low, 0.5),
        "p_convert_in_window": curve.converted[-1],
        "p_convert_ci_low": curve.ci_low[-1],
        "p_convert_ci_high": curve.ci_high[-1],
        "p_lost_in_window": curve.lost[-1],
        "horizon_days": curve.days[-1],
    }


def _summary(rows: pd.DataFrame, overall: bool) -> pd.DataFrame:
    """`time_to_convert`'s table from `_outcome_times` rows; `overall`: one row "all" even without units."""
    table = []
    for group, part in _parts(rows):
        days, converted = part["days"], part["converted"]
        curve = aalen_johansen(days, converted, part["lost"], part["censored"])
        totals = {name: int(part[name].sum()) for name in COUNTS}
        table.append({
            "group": group, "entered": int(curve.at_risk[0]), "converted": totals["converted"],
            "lost": totals["lost"], "open": totals["censored"], "expired": totals["expired"],
            "to_before_from": totals["to_before_from"],
            **{f"{name}_days": weighted_quantile(days, converted, q) for name, q in QUANTILES},
            # not `days @ converted`: a BLAS call, which waits long for its threads beside DuckDB's
            "mean_days": (days * converted).sum() / converted.sum() if converted.sum() else math.nan,
            **_estimates(curve),
        })
    if not table and overall:
        table.append({"group": ALL_GROUP} | dict.fromkeys(COLUMNS[1:7], 0))
    frame = pd.DataFrame(table, columns=COLUMNS).astype({c: "int64" for c in COLUMNS[1:7]} | {c: float for c in COLUMNS[7:]})
    return frame.sort_values(["entered", "group"], ascending=[False, True], ignore_index=True)


def _shares_in_window(rows: pd.DataFrame) -> pd.DataFrame:
    """Per group of `_outcome_times` rows (the index): entered and p_convert_in_window as `_summary` gives
    them, without the figures it also computes."""
    parts = _parts(rows)
    return pd.DataFrame({
        "entered": np.array([part["converted"].sum() + part["lost"].sum() + part["censored"].sum() for _, part in parts],
                            dtype=np.int64),
        "p_convert_in_window": np.array([aalen_johansen(part["days"], part["converted"], part["lost"],
                                                        part["censored"]).converted[-1] for _, part in parts], dtype=float),
    }, index=pd.Index([group for group, _ in parts], dtype=object, name="group"))


def _parts(rows: pd.DataFrame) -> list[tuple[object, dict[str, np.ndarray]]]:
    """Each group of `_outcome_times` rows with its columns (days and `COUNTS`) as arrays, groups and rows
    in the order `groupby(sort=False)` gives them, without pandas' cost per group: days and the counts
    of outcomes as float (as the estimators take them), expired and to_before_from as int64."""
    codes, names = pd.factorize(rows["group"])
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    columns = {"days": rows["days"].to_numpy(dtype=float)[order]} | {
        name: rows[name].to_numpy(dtype=float if name in ("converted", "lost", "censored") else np.int64)[order]
        for name in COUNTS}
    return [(names[g], {name: values[bounds[g]:bounds[g + 1]] for name, values in columns.items()})
            for g in range(len(names))]


def _curves(rows: pd.DataFrame) -> pd.DataFrame:
    """`conversion_curves`' table from `_outcome_times` rows."""
    frames = []
    for group, part in _parts(rows):
        curve = aalen_johansen(part["days"], part["converted"], part["lost"], part["censored"])
        grid = np.arange(0, math.floor(curve.days[-1]) + 1, dtype=float)
        at = np.searchsorted(curve.days, grid, side="right") - 1
        risk = np.searchsorted(curve.days, grid, side="left")
        frames.append(pd.DataFrame({
            "group": group,
            "day": grid.astype(np.int64),
            "at_risk": np.append(curve.at_risk, 0)[risk],
            "converted_share": np.where(at >= 0, curve.converted[at], 0.0),
            "ci_low": np.where(at >= 0, curve.ci_low[at], math.nan),
            "ci_high": np.where(at >= 0, curve.ci_high[at], math.nan),
            "lost_share": np.where(at >= 0, curve.lost[at], 0.0),
            "open_share": np.where(at >= 0, curve.open[at], 1.0),
        }))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=CURVE_COLUMNS)


def _histogram(rows: pd.DataFrame) -> pd.DataFrame:
    """`conversion_histogram`'s table from `_outcome_times` rows (converters keep their own times): the
    width from the longest time to convert of all groups, bins from floor(days / width) * width."""
    converters = rows[rows["converted"] > 0]
    if converters.empty:
        return pd.DataFrame({"group": pd.Series(dtype=object)} | {c: pd.Series(dtype="int64") for c in HISTOGRAM_COLUMNS[1:]})
    longest = converters["days"].max()
    width = 1 if longest <= 45 else 7 if longest <= 366 else 30
    start = np.floor(converters["days"].to_numpy(dtype=float) / width) * width
    table = converters.assign(bin_start_days=start, bin_end_days=start + width).groupby(
        ["group", "bin_start_days", "bin_end_days"], as_index=False)["converted"].sum()
    return table.rename(columns={"converted": "converters"}).astype({c: "int64" for c in HISTOGRAM_COLUMNS[1:]})


def _pooled(rows: pd.DataFrame) -> pd.DataFrame:
    """`_outcome_times` rows of all groups as one group "all", per distinct time."""
    return rows.groupby("days", as_index=False, sort=True)[COUNTS].sum().assign(group=ALL_GROUP)[["group", "days", *COUNTS]]


def _outcome_times(
    con: duckdb.DuckDBPyConnection, spec: ConversionSpec, filters: Filters, placement: Placement = "group"
) -> pd.DataFrame:
    """Units per (group, days), largest group first (ties by name), then by days: converted, lost,
    censored (open), and among them expired and to_before_from. Only these aggregates come back from DuckDB.

    Open units are counted at `_placed_sql`'s time, which changes no estimate of their own group and
    leaves about one row per conversion or loss; "all" places them over every group's conversions and
    losses, which also keeps the estimates of all groups together and the log-rank test; "own" keeps
    each at its own time.
    """
    outcomes, params = _outcomes_query(con, spec, filters)
    placed = {"own": "SELECT * FROM outcomes", "group": _placed_sql(), "all": _placed_sql(pooled=True)}[placement]
    rows = con.execute(
        f"""
        WITH outcomes AS ({outcomes}),
        placed AS ({placed})
        SELECT grp AS "group", days,
               count(*) FILTER (WHERE outcome = 'converted') AS converted,
               count(*) FILTER (WHERE outcome = 'lost') AS lost,
               count(*) FILTER (WHERE outcome = 'open') AS censored,
               count(*) FILTER (WHERE expired) AS expired,
               count(*) FILTER (WHERE to_before_from) AS to_before_from
        FROM placed GROUP BY grp, days
        """,
        params,
    ).df()
    return _largest_first(rows)


def _largest_first(rows: pd.DataFrame) -> pd.DataFrame:
    """`rows` ordered by group size (units), largest first, ties by group name, then by days: sorted
    here rather than in SQL, which would join the sizes back and sort every row there."""
    codes, names = pd.factorize(rows["group"])
    units = np.bincount(codes, weights=(rows["converted"] + rows["lost"] + rows["censored"]).to_numpy(dtype=float),
                        minlength=len(names))
    rank = np.empty(len(names), dtype=np.int64)
    rank[np.lexsort((np.asarray(names, dtype=object).astype(str), -units))] = np.arange(len(names))
    order = np.lexsort((rows["days"].to_numpy(dtype=float), rank[codes]))
    return rows.iloc[order].reset_index(drop=True)


def _placed_sql(pooled: bool = False) -> str:
    """SELECT of the CTE `outcomes` with each open unit's `days` moved back to the latest conversion or
    loss of its group (`pooled`: of any group) at or before it, or the start of its day if that is later
    (the longest follow-up of each group stays where it is).

    Exact for the estimates per group: the curves step only at conversions and losses, so nothing
    happens in between; a unit at risk at such a time, or at a whole day (the daily curves), still is,
    and one that was not still is not. `pooled` is exact for every group, all groups together and the
    log-rank test, as their risk sets meet at every group's conversions and losses. Open units of the
    demo fall onto far fewer distinct times. One sorted window pass finds that conversion or loss (a
    join of every open unit with them costs more): ordered by days, conversions and losses before open
    units of the same instant, it is the running maximum of their times; days are never negative, so 0
    stands for "none yet" and the day's start wins.
    """
    latest = (f"max(CASE WHEN outcome <> 'open' THEN days END) "
              f"OVER ({'' if pooled else 'PARTITION BY grp '}ORDER BY days, outcome = 'open' ROWS UNBOUNDED PRECEDING)")
    return f"""
        SELECT unit_id, grp, entered_at, deadline, outcome, to_before_from, ended_at, expired,
               CASE WHEN outcome <> 'open' OR days = max(days) OVER (PARTITION BY grp) THEN days
                    ELSE greatest(floor(days), coalesce({latest}, 0)) END AS days
        FROM outcomes"""


def _outcomes_query(con: duckdb.DuckDBPyConnection, spec: ConversionSpec, filters: Filters) -> tuple[str, dict]:
    """SQL with one row per entrant: unit_id, grp, entered_at, ended_at, outcome, days, expired,
    to_before_from, deadline (the window end, NULL without a window). See the module docstring."""
    journey = _journey_units_query(con, spec.funnel_spec, filters) if set(spec.ends) <= set(FUNNEL_STAGES) else None
    if journey is not None:
        units, params = journey
        ends = ", ".join(journeys.first_from_sql(stage, "entered_at") for stage in spec.ends)
        firsts = f"""
            SELECT unit_id, grp, entered_at, {journeys.first_from_sql(spec.to_stage, "entered_at")} AS to_at,
                   {f"least({ends})" if ends else "NULL::TIMESTAMP"} AS end_at,
                   coalesce({quote_ident(f"{spec.to_stage}_at")} < entered_at, false) AS to_before_from
            FROM units"""
    else:
        units, params = _event_units_query(con, spec.funnel_spec, filters)
        params |= {"ttc_to": spec.to_stage, "ttc_ends": list(spec.ends)}
        firsts = """
            SELECT u.unit_id, u.grp, u.entered_at,
                   min(e.occurred_at) FILTER (WHERE e.stage = $ttc_to AND e.occurred_at >= u.entered_at) AS to_at,
                   min(e.occurred_at) FILTER (WHERE e.stage <> $ttc_to AND e.occurred_at >= u.entered_at) AS end_at,
                   coalesce(bool_or(e.stage = $ttc_to AND e.occurred_at < u.entered_at), false) AS to_before_from
            FROM units u LEFT JOIN events e
              ON e.lead_id = u.unit_id AND e.occurred_at < $as_of
             AND (e.stage = $ttc_to OR list_contains($ttc_ends::VARCHAR[], e.stage))
            GROUP BY ALL"""
    if spec.limit is None:
        deadline = "NULL::TIMESTAMP"
    else:
        deadline, window_params = spec.limit.add_sql("entered_at", "ttc_w")
        params |= window_params
    sql = f"""
        WITH units AS ({units}),
        firsts AS ({firsts}),
        bounded AS (SELECT *, {deadline} AS deadline FROM firsts),
        judged AS (
            SELECT *, least($as_of, deadline) AS horizon,
                   CASE WHEN to_at <= least($as_of, deadline) AND (end_at IS NULL OR to_at <= end_at) THEN 'converted'
                        WHEN end_at <= least($as_of, deadline) THEN 'lost'
                        ELSE 'open' END AS outcome
            FROM bounded)
        SELECT unit_id, grp, entered_at, deadline, outcome, to_before_from,
               CASE outcome WHEN 'converted' THEN to_at WHEN 'lost' THEN end_at ELSE horizon END AS ended_at,
               (epoch_us(ended_at) - epoch_us(entered_at)) / 86400e6 AS days,
               outcome = 'open' AND coalesce(deadline < $as_of, false) AS expired
        FROM judged"""
    return sql, params
