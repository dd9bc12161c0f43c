"""Time to conversion: the estimators against lifelines and statsmodels, the contract rules on hand-made logs."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from unittest.mock import patch

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lifelines import AalenJohansenFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test, multivariate_logrank_test
from statsmodels.duration.survfunc import CumIncidenceRight

from analytics.cohorts import cohorts
from analytics.durations import Duration
from analytics.errors import BadInput
from analytics.filters import Filters
from analytics.funnel import FunnelSpec, funnel
from analytics.time_to_convert import (
    COLUMNS,
    CURVE_COLUMNS,
    ConversionSpec,
    _outcome_times,
    _outcomes_query,
    _parts,
    _shares_in_window,
    _summary,
    aalen_johansen,
    compare_groups,
    conversion_curves,
    conversion_histogram,
    conversion_report,
    first_time_reaching,
    logrank,
    naive_vs_honest,
    time_to_convert,
    weighted_quantile,
)
from analytics.warehouse import reader
from tests.analytics.conftest import insert_events

LATER = Filters(as_of=date(2030, 1, 1))  # sees every event of these logs
MQL_SQL = ConversionSpec("mql", "sql")  # default window: 6 calendar months
T0 = datetime(2024, 1, 1)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def only(table: pd.DataFrame, group: str = "all") -> pd.Series:
    return table.set_index("group").loc[group]


def per_unit(days, status) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(days, converted, lost, censored) count arrays from one duration and status (0/1/2) per unit."""
    status = np.asarray(status)
    return np.asarray(days, dtype=float), status == 1, status == 2, status == 0


# A small competing-risks sample: status 1 = converted, 2 = lost, 0 = still open (censored).
DAYS = [0.5, 1.2, 2.0, 2.0, 3.1, 3.7, 4.4, 5.0, 5.0, 6.3, 7.9, 8.2, 9.6, 10.0, 12.5, 13.1, 15.0, 17.2, 20.0, 21.4]
STATUS = [1, 2, 1, 0, 1, 2, 1, 1, 0, 2, 1, 0, 2, 1, 0, 1, 2, 0, 1, 0]


# --- estimators against lifelines, statsmodels and hand-worked values ---------------------------


def test_without_competing_ends_converted_share_is_one_minus_kaplan_meier():
    status = [s if s != 2 else 0 for s in STATUS]
    curve = aalen_johansen(*per_unit(DAYS, status))
    kmf = KaplanMeierFitter().fit(DAYS, [s == 1 for s in status])
    expected = 1 - kmf.survival_function_at_times(curve.days).to_numpy()
    np.testing.assert_allclose(curve.converted, expected, atol=1e-12)
    np.testing.assert_allclose(curve.open, 1 - expected, atol=1e-12)
    np.testing.assert_array_equal(curve.at_risk, kmf.event_table.loc[curve.days, "at_risk"].to_numpy())
    assert first_time_reaching(curve.days, curve.converted, 0.5) == kmf.median_survival_time_


def test_kaplan_meier_from_weighted_counts_equals_lifelines_on_the_same_weights():
    # Aggregated input: a time may repeat with separate counts; lifelines gets the same rows as weights.
    days = [1, 1, 2, 3, 3, 5, 8, 8]
    converted = [3, 0, 2, 1, 0, 4, 1, 0]
    censored = [0, 2, 1, 0, 3, 0, 0, 5]
    curve = aalen_johansen(days, converted, [0] * len(days), censored)
    rows = pd.DataFrame({"t": days * 2, "e": [1] * 8 + [0] * 8, "w": converted + censored}).query("w > 0")
    kmf = KaplanMeierFitter().fit(rows["t"], rows["e"], weights=rows["w"])
    np.testing.assert_allclose(curve.converted, 1 - kmf.survival_function_at_times(curve.days).to_numpy())


def test_aalen_johansen_matches_lifelines_without_tied_times():
    fitter = AalenJohansenFitter(calculate_variance=True)
    days = [d + i * 1e-3 for i, d in enumerate(DAYS)]  # lifelines jitters tied event times; avoid them
    fitter.fit(days, STATUS, event_of_interest=1)
    curve = aalen_johansen(*per_unit(days, STATUS))
    expected = fitter.cumulative_density_.loc[curve.days].iloc[:, 0].to_numpy()
    np.testing.assert_allclose(curve.converted, expected, atol=1e-12)
    np.testing.assert_allclose(curve.variance, fitter.variance_.loc[curve.days].to_numpy(), rtol=1e-9, atol=1e-15)
    bounds = fitter.confidence_interval_.loc[curve.days].to_numpy()
    inside = (curve.converted > 0) & (curve.converted < 1)
    np.testing.assert_allclose(curve.ci_low[inside], bounds.min(axis=1)[inside], rtol=1e-9)
    np.testing.assert_allclose(curve.ci_high[inside], bounds.max(axis=1)[inside], rtol=1e-9)
    lost = AalenJohansenFitter(calculate_variance=False).fit(days, STATUS, event_of_interest=2)
    np.testing.assert_allclose(curve.lost, lost.cumulative_density_.loc[curve.days].iloc[:, 0].to_numpy(), atol=1e-12)


def test_won_and_lost_tied_on_the_same_day_match_statsmodels_and_add_up_to_one():
    # Ties between a conversion and a loss at the same time (days 2, 5, 9): lifelines would jitter them,
    # statsmodels' CumIncidenceRight handles them exactly (same Greenwood-type variance).
    days = [1, 2, 2, 2, 3, 5, 5, 5, 6, 8, 9, 9, 11, 12]
    status = [1, 1, 2, 0, 2, 1, 2, 2, 0, 1, 1, 2, 0, 1]
    curve = aalen_johansen(*per_unit(days, status))
    with np.errstate(divide="ignore", invalid="ignore"):  # its 0 * inf at the last time, see below
        reference = CumIncidenceRight(np.array(days, dtype=float), np.array(status))
    np.testing.assert_allclose(reference.times, curve.days)
    np.testing.assert_allclose(curve.converted, reference.cinc[0], atol=1e-12)
    np.testing.assert_allclose(curve.lost, reference.cinc[1], atol=1e-12)
    # At the last time everyone left converts: statsmodels gives 0 * inf = NaN there, we drop that 0 term.
    np.testing.assert_allclose(np.sqrt(curve.variance[:-1]), reference.cinc_se[0][:-1], atol=1e-12)
    np.testing.assert_allclose(curve.converted + curve.lost + curve.open, 1.0, atol=1e-12)


def test_aalen_johansen_on_a_log_worked_by_hand():
    # 4 units: converted day 1, lost day 2, open (censored) day 3, converted day 4.
    # n = 4, 3, 2, 1. S: 3/4, 1/2, 1/2, 0. F_conv: 1/4, 1/4, 1/4, 1/4 + 1/2 * 1/1 = 3/4. F_lost: 0, 1/4, ...
    curve = aalen_johansen([1, 2, 3, 4], [1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 1, 0])
    np.testing.assert_allclose(curve.converted, [0.25, 0.25, 0.25, 0.75])
    np.testing.assert_allclose(curve.lost, [0, 0.25, 0.25, 0.25])
    np.testing.assert_allclose(curve.open, [0.75, 0.5, 0.5, 0])
    np.testing.assert_array_equal(curve.at_risk, [4, 3, 2, 1])
    # Var F(1) = S(0)^2 d1 (n - d1) / n^3 = 3/64 (the binomial variance of 1 in 4).
    assert curve.variance[0] == pytest.approx(3 / 64)


def test_logrank_matches_lifelines_for_two_groups_with_lost_censored():
    a_days, a_status = DAYS[:10], STATUS[:10]
    b_days, b_status = [d * 1.7 for d in DAYS[10:]], STATUS[10:]
    table = pd.DataFrame({
        "group": ["a"] * 10 + ["b"] * 10, "days": a_days + b_days,
        "converted": [s == 1 for s in a_status + b_status], "lost": [s == 2 for s in a_status + b_status],
        "censored": [s == 0 for s in a_status + b_status]}).astype({"converted": int, "lost": int, "censored": int})
    result = logrank(table)
    expected = logrank_test(a_days, b_days, [s == 1 for s in a_status], [s == 1 for s in b_status])
    assert result.statistic == pytest.approx(expected.test_statistic, rel=1e-9)
    assert result.p_value == pytest.approx(expected.p_value, rel=1e-9)
    assert result.dof == 1 and result.reason is None


def test_logrank_matches_lifelines_for_three_groups_from_weighted_counts():
    table = pd.DataFrame({
        "group": ["a", "a", "a", "b", "b", "b", "c", "c", "c", "c"],
        "days": [1, 3, 6, 1, 2, 6, 2, 3, 4, 9],
        "converted": [4, 2, 1, 1, 1, 0, 3, 0, 2, 1],
        "lost": [0, 1, 0, 2, 0, 1, 0, 1, 0, 0],
        "censored": [1, 0, 3, 0, 2, 4, 0, 1, 1, 2],
    })
    result = logrank(table)
    long = table.melt(id_vars=["group", "days"], var_name="kind", value_name="w").query("w > 0")
    expected = multivariate_logrank_test(long["days"].to_numpy(), long["group"].to_numpy(),
                                         (long["kind"] == "converted").to_numpy(), weights=long["w"].to_numpy())
    assert result.statistic == pytest.approx(expected.test_statistic, rel=1e-9)
    assert result.p_value == pytest.approx(expected.p_value, rel=1e-9)
    assert result.dof == 2


def test_logrank_needs_two_groups_and_some_conversions():
    one = pd.DataFrame({"group": ["a"], "days": [1.0], "converted": [1], "lost": [0], "censored": [0]})
    assert "at least two groups" in logrank(one).reason
    none = pd.DataFrame({"group": ["a", "b"], "days": [1.0, 2.0], "converted": [0, 0], "lost": [1, 0], "censored": [0, 3]})
    result = logrank(none)
    assert math.isnan(result.p_value) and "no unit has converted" in result.reason


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 100), st.integers(0, 4)), min_size=1, max_size=12), st.sampled_from([0, 0.25, 0.5, 0.9, 1]))
def test_weighted_quantile_equals_numpy_and_duckdb_on_the_expanded_values(pairs, q):
    pairs = sorted(pairs)
    values, counts = np.array([v for v, _ in pairs]), np.array([c for _, c in pairs])
    expanded = np.repeat(values, counts)
    if expanded.size == 0:
        assert math.isnan(weighted_quantile(values, counts, q))
    else:
        assert weighted_quantile(values, counts, q) == pytest.approx(np.quantile(expanded, q))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.sampled_from([0, 1, 2])), min_size=1, max_size=25))
def test_shares_add_up_to_one_and_conversion_matches_lifelines_kaplan_meier_per_cause(units):
    # Integer days make ties common. Property: F_conv + F_lost + S = 1 everywhere, and F_conv + F_lost is
    # 1 - KM of "any outcome" (lifelines).
    days, status = zip(*units)
    curve = aalen_johansen(*per_unit(days, status))
    np.testing.assert_allclose(curve.converted + curve.lost + curve.open, 1.0, atol=1e-12)
    kmf = KaplanMeierFitter().fit(days, [s != 0 for s in status])
    np.testing.assert_allclose(curve.open, kmf.survival_function_at_times(curve.days).to_numpy(), atol=1e-12)
    assert np.all(np.diff(curve.converted) >= -1e-15)


# --- the warehouse: contract rules on hand-made logs ------------------------------------------


def test_counts_quantiles_and_estimates_on_a_small_log(con, add_events):
    # Five MQLs on Jan 1: L1..L3 reach sql after 2, 4 and 10 days, L4 is lost after 3 days, L5 stays open.
    # Converters: median 4, p25 3, p75 7, p90 8.8 (linear interpolation), mean 16/3.
    add_events(*[(f"L{i}", "mql", day(0)) for i in range(1, 6)],
               ("L1", "sql", day(2)), ("L2", "sql", day(4)), ("L3", "sql", day(10)), ("L4", "lost", day(3)))
    row = only(time_to_convert(con, MQL_SQL, Filters(as_of=date(2024, 1, 30))))
    assert (row["entered"], row["converted"], row["lost"], row["open"], row["expired"]) == (5, 3, 1, 1, 0)
    assert (row["median_days"], row["p25_days"], row["p75_days"]) == (4, 3, 7)
    assert row["p90_days"] == pytest.approx(8.8)
    assert row["mean_days"] == pytest.approx(16 / 3)
    # L5 is censored at the end of Jan 30 (day 30). Lifelines, same durations: the AJ estimate at the end.
    fitter = AalenJohansenFitter(calculate_variance=False).fit([2, 4, 10, 3, 30], [1, 1, 1, 2, 0], event_of_interest=1)
    assert row["p_convert_in_window"] == pytest.approx(fitter.cumulative_density_.iloc[-1, 0]) == pytest.approx(0.6)
    assert row["p_lost_in_window"] == pytest.approx(0.2)
    assert row["horizon_days"] == 30
    assert row["km_median_days"] == 10  # shares: 20% at day 2, 40% at day 4, 60% at day 10


def test_median_is_the_first_time_the_converted_share_reaches_half(con, add_events):
    # Four MQLs: sql after 1, 2 and 3 days, one open. Shares 25%, 50% (day 2), 75%: the median is 2 days,
    # as lifelines' KaplanMeierFitter says for these durations.
    add_events(*[(f"L{i}", "mql", day(0)) for i in range(1, 5)],
               ("L1", "sql", day(1)), ("L2", "sql", day(2)), ("L3", "sql", day(3)))
    row = only(time_to_convert(con, MQL_SQL, Filters(as_of=date(2024, 1, 30))))
    kmf = KaplanMeierFitter().fit([1, 2, 3, 30], [1, 1, 1, 0])
    assert row["km_median_days"] == kmf.median_survival_time_ == 2


def test_no_conversions_yet_gives_zero_and_no_median(con, add_events):
    add_events(("L1", "mql", day(0)), ("L2", "mql", day(1)))
    row = only(time_to_convert(con, MQL_SQL, Filters(as_of=date(2024, 1, 10))))
    assert (row["entered"], row["converted"], row["open"]) == (2, 0, 2)
    assert row["p_convert_in_window"] == 0
    assert math.isnan(row["p_convert_ci_low"]) and math.isnan(row["p_convert_ci_high"])
    assert all(math.isnan(row[c]) for c in ("median_days", "p90_days", "mean_days", "km_median_days"))


def test_fewer_than_half_converting_leaves_the_median_not_reached(con, add_events):
    # 1 of 3 converts, the others are lost: the converted share stops at 1/3. Lifelines' KM treating the
    # lost as censored would report a median (2 days): that is the bias the competing outcome avoids.
    add_events(*[(f"L{i}", "mql", day(0)) for i in range(1, 4)],
               ("L1", "lost", day(1)), ("L2", "sql", day(2)), ("L3", "lost", day(3)))
    row = only(time_to_convert(con, MQL_SQL, LATER))
    assert row["p_convert_in_window"] == pytest.approx(1 / 3)
    assert math.isnan(row["km_median_days"]) and math.isnan(row["km_median_ci_high"])
    assert row["median_days"] == 2  # among converters
    assert KaplanMeierFitter().fit([1, 2, 3], [0, 1, 0]).median_survival_time_ == 2


def test_everyone_converting_on_day_zero(con, add_events):
    add_events(*[(f"L{i}", "mql", day(0)) for i in range(1, 4)], *[(f"L{i}", "sql", day(0)) for i in range(1, 4)])
    row = only(time_to_convert(con, MQL_SQL, LATER))
    assert (row["converted"], row["median_days"], row["km_median_days"], row["p_convert_in_window"]) == (3, 0, 0, 1)
    assert math.isnan(row["p_convert_ci_low"])  # no interval at 100%
    curves = conversion_curves(con, MQL_SQL, LATER)
    assert curves[["day", "at_risk", "converted_share", "open_share"]].values.tolist() == [[0, 3, 1.0, 0.0]]


def test_a_sql_before_the_mql_is_reported_not_counted(con, add_events):
    # L1: sql on Jan 1, mql on Jan 5, nothing after: not a conversion, counted in to_before_from.
    # L2: sql before and after its mql: converts after 3 days (the later one), also reported.
    add_events(("L1", "sql", day(0)), ("L1", "mql", day(4)),
               ("L2", "sql", day(0)), ("L2", "mql", day(4)), ("L2", "sql", day(7)), ("L3", "mql", day(1)))
    row = only(time_to_convert(con, MQL_SQL, LATER))
    assert (row["entered"], row["converted"], row["to_before_from"], row["median_days"]) == (3, 1, 2, 3)


def test_zero_leads(con):
    table = time_to_convert(con, MQL_SQL, LATER)
    assert table.columns.tolist() == COLUMNS
    assert table[["group", "entered", "converted", "open"]].values.tolist() == [["all", 0, 0, 0]]
    assert math.isnan(table["p_convert_in_window"].iloc[0])
    assert conversion_curves(con, MQL_SQL, LATER).columns.tolist() == CURVE_COLUMNS
    assert conversion_curves(con, MQL_SQL, LATER).empty
    assert conversion_histogram(con, MQL_SQL, LATER).empty
    assert time_to_convert(con, ConversionSpec("mql", "sql", by="channel"), LATER).empty
    assert compare_groups(con, ConversionSpec("mql", "sql", by="channel"), LATER).reason is not None
    assert naive_vs_honest(table.iloc[0], "mql", "sql") == "No one reached mql in this selection."


def test_a_conversion_after_the_window_stays_open_and_expired(con, add_events):
    # Window 10 days. L1 converts at exactly 10 days (inclusive: converted); L2 after 10 days and 1 s (open,
    # expired); L3 has no sql and its window has passed (expired); L4 entered 5 days before the as-of
    # date (open, not expired). L5 is lost after its window: still open, expired, not lost.
    add_events(("L1", "mql", day(0)), ("L1", "sql", day(10)),
               ("L2", "mql", day(0)), ("L2", "sql", day(10) + timedelta(seconds=1)),
               ("L3", "mql", day(0)),
               ("L4", "mql", datetime(2024, 3, 26)),
               ("L5", "mql", day(0)), ("L5", "lost", day(11)))
    spec = ConversionSpec("mql", "sql", window=Duration(seconds=10 * 86_400))
    row = only(time_to_convert(con, spec, Filters(as_of=date(2024, 3, 30))))
    assert (row["converted"], row["lost"], row["open"], row["expired"]) == (1, 0, 4, 3)
    assert row["horizon_days"] == 10  # L2, L3 and L5 are censored at their window end
    # The funnel agrees on who converted within the window.
    assert funnel(con, FunnelSpec(stages=("mql", "sql"), windows={"sql": spec.window}),
                  Filters(as_of=date(2024, 3, 30)))["count"].tolist() == [5, 1]


def test_the_default_window_applies_and_none_removes_it(con, add_events):
    # mql -> sql by default within 6 calendar months: a sql after 7 months is not a conversion, unless
    # the window is removed.
    add_events(("L1", "mql", day(0)), ("L1", "sql", datetime(2024, 8, 1)))
    assert only(time_to_convert(con, MQL_SQL, LATER))["converted"] == 0
    assert only(time_to_convert(con, ConversionSpec("mql", "sql", window=None), LATER))["converted"] == 1
    assert only(time_to_convert(con, ConversionSpec("lead", "won"), LATER))["entered"] == 0


def test_events_after_the_as_of_date_are_ignored_and_open_units_censored_then(con, add_events):
    # As of Jan 10 (end of day: Jan 11 00:00) L1's sql on Jan 15 has not happened: open, censored after
    # 10 days; L2 enters after the as-of date and does not exist.
    add_events(("L1", "mql", day(0)), ("L1", "sql", day(14)), ("L2", "mql", day(12)))
    row = only(time_to_convert(con, MQL_SQL, Filters(as_of=date(2024, 1, 10))))
    assert (row["entered"], row["converted"], row["open"], row["expired"], row["horizon_days"]) == (1, 0, 1, 0, 10)


def test_lost_first_then_converted_counts_as_lost_and_a_tie_as_converted(con, add_events):
    add_events(("L1", "mql", day(0)), ("L1", "lost", day(1)), ("L1", "sql", day(2)),
               ("L2", "mql", day(0)), ("L2", "lost", day(3)), ("L2", "sql", day(3)),
               ("L3", "mql", day(5)), ("L3", "lost", day(4)))  # a loss before entry is not an outcome
    row = only(time_to_convert(con, MQL_SQL, Filters(as_of=date(2024, 1, 30))))
    assert (row["converted"], row["lost"], row["open"]) == (1, 1, 1)


def test_breakdown_uses_first_touch_and_filters_select_entrants(con, add_events):
    add_events(("L1", "lead", day(0), "webinar"), ("L1", "mql", day(1)), ("L1", "sql", day(3)),
               ("L2", "lead", day(0), "display"), ("L2", "mql", day(40), "webinar"),
               ("L3", "lead", day(0), "display"), ("L3", "mql", day(2)), ("L3", "sql", day(12)))
    table = time_to_convert(con, ConversionSpec("mql", "sql", by="channel"), LATER)
    assert table[["group", "entered", "converted", "median_days"]].values.tolist() == [
        ["display", 2, 1, 10.0], ["webinar", 1, 1, 2.0]]
    january = Filters(since=date(2024, 1, 1), until=date(2024, 1, 31), channels=("display",), as_of=date(2030, 1, 1))
    assert only(time_to_convert(con, MQL_SQL, january))[["entered", "converted"]].tolist() == [1, 1]


def test_unknown_breakdown_and_bad_specs_are_bad_input(con, add_events):
    add_events(("L1", "mql", day(0)))
    with pytest.raises(BadInput, match="not a lead attribute"):
        time_to_convert(con, ConversionSpec("mql", "sql", by="shoe_size"), LATER)
    with pytest.raises(BadInput, match="each stage may appear once"):
        ConversionSpec("mql", "mql")
    with pytest.raises(BadInput, match="a window must be a duration"):
        ConversionSpec("mql", "sql", window="6mo")


def test_curves_histogram_and_log_rank_by_group(con, add_events):
    # webinar: 3 of 3 convert within 2 days; display: 1 of 3 after 8 days, 2 open.
    rows = [(f"W{i}", "lead", day(0), "webinar") for i in range(3)] + [(f"D{i}", "lead", day(0), "display") for i in range(3)]
    rows += [(f"W{i}", "mql", day(0)) for i in range(3)] + [(f"D{i}", "mql", day(0)) for i in range(3)]
    rows += [("W0", "sql", day(1)), ("W1", "sql", day(1.5)), ("W2", "sql", day(2)), ("D0", "sql", day(8))]
    add_events(*rows)
    spec = ConversionSpec("mql", "sql", by="channel")
    as_of = Filters(as_of=date(2024, 1, 20))  # the open display leads are censored at day 20
    curves = conversion_curves(con, spec, as_of).set_index(["group", "day"])
    assert curves.loc[("webinar", 1), "converted_share"] == pytest.approx(1 / 3)
    assert curves.loc[("webinar", 2), "converted_share"] == 1
    assert curves.loc[("display", 8), ["converted_share", "at_risk"]].tolist() == [pytest.approx(1 / 3), 3]
    assert curves.loc[("display", 9), "at_risk"] == 2
    np.testing.assert_allclose(curves[["converted_share", "lost_share", "open_share"]].sum(axis=1), 1.0)
    histogram = conversion_histogram(con, spec, as_of)
    assert histogram.values.tolist() == [["display", 8, 9, 1], ["webinar", 1, 2, 2], ["webinar", 2, 3, 1]]
    test = compare_groups(con, spec, as_of)
    expected = logrank_test([1, 1.5, 2], [8, 20, 20], [1, 1, 1], [1, 0, 0])
    assert test.p_value == pytest.approx(expected.p_value)


def test_naive_share_sentence_names_the_units_still_open(con, add_events):
    add_events(("L1", "mql", day(0)), ("L1", "sql", day(1)), ("L2", "mql", day(0)), ("L3", "mql", day(20)))
    row = only(time_to_convert(con, MQL_SQL, Filters(as_of=date(2024, 1, 25))))
    sentence = naive_vs_honest(row, "mql", "sql")
    assert sentence.startswith("Counting only conversions seen so far, 33.3% of the 3 leads that reached mql")
    assert "2 are still inside their window" in sentence


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["L0", "L1", "L2", "L3"]), st.sampled_from(["mql", "sql"]),
                          st.integers(0, 40)), max_size=12))
def test_without_losses_converted_equals_the_two_stage_funnel(shared_con, rows):
    # Property: with no competing end in the data, `converted` is the funnel's count at step 2 (same
    # entry, same inclusive window, re-entry and ties alike).
    shared_con.execute("DELETE FROM events")
    insert_events(shared_con, *[(lead, stage, day(n)) for lead, stage, n in rows])
    spec = ConversionSpec("mql", "sql", window=Duration(seconds=10 * 86_400))
    filters = Filters(as_of=date(2024, 2, 1))
    row = only(time_to_convert(shared_con, spec, filters))
    assert [row["entered"], row["converted"]] == funnel(shared_con, spec.funnel_spec, filters)["count"].tolist()
    assert row["converted"] + row["lost"] + row["open"] == row["entered"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["L0", "L1", "L2", "L3", "L4", "L5"]), st.sampled_from(["mql", "sql", "lost"]),
                          st.integers(0, 40), st.sampled_from([0, 0, 6, 12.5]), st.sampled_from(["ads", "web"])),
                max_size=25),
       st.sampled_from([Duration(seconds=10 * 86_400), None]), st.sampled_from([date(2024, 1, 20), date(2024, 3, 1)]))
def test_open_units_counted_at_their_placed_times_change_no_figure(shared_con, rows, window, as_of):
    # Property: moving open units back to their group's last conversion or loss (or whole day) gives the
    # same figures, curves and cohort projections as counting each at its own time, to the last bit.
    shared_con.execute("DELETE FROM events")
    insert_events(shared_con, *[(lead, stage, day(n + hours / 24), channel) for lead, stage, n, hours, channel in rows])
    spec, filters = ConversionSpec("mql", "sql", window=window, by="channel"), Filters(as_of=as_of)
    placed = [time_to_convert(shared_con, spec, filters), conversion_curves(shared_con, spec, filters),
              cohorts(shared_con, spec, filters, "week")]
    with patch("analytics.time_to_convert._placed_sql", return_value="SELECT * FROM outcomes"), \
         patch("analytics.cohorts._placed_sql", return_value="SELECT * FROM outcomes"):
        own = [time_to_convert(shared_con, spec, filters), conversion_curves(shared_con, spec, filters),
               cohorts(shared_con, spec, filters, "week")]
    for mine, theirs in zip(placed, own):
        pd.testing.assert_frame_equal(mine, theirs, check_exact=True)


# --- open units placed at the latest conversion or loss: the fast path against a per-unit reference ----


def placed_by_hand(con: duckdb.DuckDBPyConnection, spec: ConversionSpec, filters: Filters,
                   pooled: bool = False) -> pd.DataFrame:
    """`_outcome_times` computed unit by unit in Python: each open unit at the later of its day's start
    and the latest conversion or loss of its group (`pooled`: of any group) at or before it, the group's
    longest follow-up kept."""
    sql, params = _outcomes_query(con, spec, filters)
    units = con.execute(f"SELECT grp, days, outcome, expired, to_before_from FROM ({sql})", params).df()
    rows = []
    for group, part in units.groupby("grp"):
        marks = sorted((units if pooled else part).query("outcome != 'open'")["days"])
        longest = part["days"].max()
        for unit in part.itertuples():
            days = unit.days
            if unit.outcome == "open" and days != longest:
                days = max([math.floor(days), *[m for m in marks if m <= days][-1:]])
            rows.append({"group": group, "days": days, "converted": unit.outcome == "converted",
                         "lost": unit.outcome == "lost", "censored": unit.outcome == "open",
                         "expired": unit.expired, "to_before_from": unit.to_before_from})
    columns = ["converted", "lost", "censored", "expired", "to_before_from"]
    table = pd.DataFrame(rows, columns=["group", "days", *columns])
    return table.groupby(["group", "days"], as_index=False)[columns].sum().astype({c: "int64" for c in columns})


def by_group_and_days(table: pd.DataFrame) -> pd.DataFrame:
    return table.sort_values(["group", "days"], ignore_index=True)


def test_open_units_are_placed_at_the_latest_conversion_or_loss_with_ties_worked_by_hand(con, add_events):
    # Window 10 days, as of Jan 12 (end of day = day 12). Group ads:
    # A1 converts and A2 is lost at 3.0 (a tie); A8 is lost at 2.5 before its sql; A4 converts exactly at
    # the window end (10.0, inclusive), where A3 (nothing), A5 (sql after the window) and A9 (sql before
    # its mql: to_before_from) are censored as expired: 10.0 is the longest follow-up, so they stay there.
    # A6 (open 5.5 days) goes to the start of day 5 (later than 3.0); A7 (open 3.2 days) to the loss and
    # conversion at 3.0. Group web: W1 converts at 1.25; W3 (open 2.5 days) goes to day 2 (later than
    # 1.25); W2 (open 5.0 days) is the longest and stays.
    add_events(*[(lead, "mql", day(0), "ads") for lead in ("A1", "A2", "A3", "A4", "A5", "A8")],
               ("A1", "sql", day(3)), ("A2", "lost", day(3)), ("A4", "sql", day(10)), ("A5", "sql", day(11)),
               ("A6", "mql", day(6.5), "ads"), ("A7", "mql", day(8.8), "ads"),
               ("A8", "lost", day(2.5)), ("A8", "sql", day(4)),
               ("A9", "sql", day(0.5), "ads"), ("A9", "mql", day(1), "ads"),
               ("W1", "mql", day(1), "web"), ("W1", "sql", day(2.25)), ("W2", "mql", day(7), "web"),
               ("W3", "mql", day(9.5), "web"))
    spec = ConversionSpec("mql", "sql", window=Duration(seconds=10 * 86_400), by="channel")
    filters = Filters(as_of=date(2024, 1, 12))
    expected = pd.DataFrame(
        [["ads", 2.5, 0, 1, 0, 0, 0], ["ads", 3.0, 1, 1, 1, 0, 0], ["ads", 5.0, 0, 0, 1, 0, 0],
         ["ads", 10.0, 1, 0, 3, 3, 1], ["web", 1.25, 1, 0, 0, 0, 0], ["web", 2.0, 0, 0, 1, 0, 0],
         ["web", 5.0, 0, 0, 1, 0, 0]],
        columns=["group", "days", "converted", "lost", "censored", "expired", "to_before_from"])
    placed = _outcome_times(con, spec, filters)
    pd.testing.assert_frame_equal(placed, expected, check_dtype=False)
    pd.testing.assert_frame_equal(by_group_and_days(placed), placed_by_hand(con, spec, filters), check_dtype=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["L0", "L1", "L2", "L3", "L4", "L5", "L6"]), st.sampled_from(["mql", "sql", "lost"]),
                          st.integers(0, 30), st.sampled_from([0, 0, 6, 12.5, 23.99]), st.sampled_from(["ads", "web"])),
                max_size=30),
       st.sampled_from([Duration(seconds=10 * 86_400), None]), st.sampled_from([date(2024, 1, 12), date(2024, 3, 1)]))
def test_placed_counts_equal_a_unit_by_unit_placement_with_ties_censoring_and_losses(shared_con, rows, window, as_of):
    # Property: whole days and quarter days make ties between conversions, losses and open units'
    # follow-ups (window ends, the as-of instant) common; the window pass places every open unit where
    # the per-unit reference does.
    shared_con.execute("DELETE FROM events")
    insert_events(shared_con, *[(lead, stage, day(n + hours / 24), channel) for lead, stage, n, hours, channel in rows])
    spec, filters = ConversionSpec("mql", "sql", window=window, by="channel"), Filters(as_of=as_of)
    expected = placed_by_hand(shared_con, spec, filters)
    pd.testing.assert_frame_equal(by_group_and_days(_outcome_times(shared_con, spec, filters)), expected, check_dtype=False)
    pooled = placed_by_hand(shared_con, spec, filters, pooled=True)
    pd.testing.assert_frame_equal(by_group_and_days(_outcome_times(shared_con, spec, filters, placement="all")), pooled,
                                  check_dtype=False)


def test_pooled_placement_moves_open_units_to_any_groups_latest_conversion_or_loss(con, add_events):
    # As of Jan 12, no window. ads: A1 converts at 3.0, A2 open 8.0 days (the longest: stays), A3 open 5.5
    # days. web: W1 lost at 4.5, W2 open 6.0 days (the longest: stays), W3 open 4.75 days. Per group, A3
    # goes to day 5 (later than 3.0) and W3 to 4.5 (its own loss, later than day 4); pooled, A3 still goes
    # to day 5 (later than web's 4.5), and W3 to 4.5.
    add_events(("A1", "mql", day(0), "ads"), ("A1", "sql", day(3)), ("A2", "mql", day(4), "ads"),
               ("A3", "mql", day(6.5), "ads"), ("W1", "mql", day(1), "web"), ("W1", "lost", day(5.5)),
               ("W2", "mql", day(6), "web"), ("W3", "mql", day(7.25), "web"))
    spec = ConversionSpec("mql", "sql", window=None, by="channel")
    filters = Filters(as_of=date(2024, 1, 12))
    columns = ["group", "days", "converted", "lost", "censored"]
    expected = pd.DataFrame([["ads", 3.0, 1, 0, 0], ["ads", 5.0, 0, 0, 1], ["ads", 8.0, 0, 0, 1],
                             ["web", 4.5, 0, 1, 1], ["web", 6.0, 0, 0, 1]], columns=columns)
    pd.testing.assert_frame_equal(_outcome_times(con, spec, filters)[columns], expected, check_dtype=False)
    pd.testing.assert_frame_equal(_outcome_times(con, spec, filters, placement="all")[columns], expected,
                                  check_dtype=False)
    # A web loss at 5.25 days moves A3 (5.5) there when pooled; per group it stays at day 5.
    add_events(("W4", "mql", day(0), "web"), ("W4", "lost", day(5.25)))
    assert _outcome_times(con, spec, filters).query("group == 'ads'")["days"].tolist() == [3.0, 5.0, 8.0]
    assert _outcome_times(con, spec, filters, placement="all").query("group == 'ads'")["days"].tolist() == [3.0, 5.25, 8.0]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["L0", "L1", "L2", "L3", "L4", "L5", "L6"]), st.sampled_from(["mql", "sql", "lost"]),
                          st.integers(0, 60), st.sampled_from([0, 0, 6, 12.5, 23.99]),
                          st.sampled_from(["ads", "web", "tv"])), max_size=30),
       st.sampled_from([Duration(seconds=10 * 86_400), None]), st.sampled_from([date(2024, 1, 12), date(2024, 4, 1)]),
       st.sampled_from(["channel", None]))
def test_conversion_report_equals_each_figure_computed_on_its_own(shared_con, rows, window, as_of, by):
    # Property: the page's one query gives what the separate functions give, for the breakdown and
    # without it; the histogram bins of 1, 7 and 30 days all occur (times up to 60 days, no window).
    shared_con.execute("DELETE FROM events")
    insert_events(shared_con, *[(lead, stage, day(n + hours / 24), channel) for lead, stage, n, hours, channel in rows])
    spec, filters = ConversionSpec("mql", "sql", window=window, by=by), Filters(as_of=as_of)
    overall = ConversionSpec("mql", "sql", window=window)
    report = conversion_report(shared_con, spec, filters)
    pd.testing.assert_frame_equal(report.overall, time_to_convert(shared_con, overall, filters), rtol=1e-12)
    pd.testing.assert_frame_equal(report.groups, time_to_convert(shared_con, spec, filters), rtol=1e-12)
    pd.testing.assert_frame_equal(report.curves, conversion_curves(shared_con, spec, filters), check_exact=True)
    pd.testing.assert_frame_equal(report.overall_curve, conversion_curves(shared_con, overall, filters), check_exact=True)
    pd.testing.assert_frame_equal(report.histogram, conversion_histogram(shared_con, overall, filters), check_exact=True)
    test, alone = report.test, compare_groups(shared_con, spec, filters)
    assert (test.dof, test.reason) == (alone.dof, alone.reason)
    np.testing.assert_allclose([test.statistic, test.p_value], [alone.statistic, alone.p_value], rtol=1e-12)


def test_histogram_bins_widen_with_the_longest_time_to_convert(con, add_events):
    # Converters at 2.5 and 50 days: bins of 7 days; with one at 400 days, of 30 days.
    add_events(("L1", "mql", day(0)), ("L1", "sql", day(2.5)), ("L2", "mql", day(0)), ("L2", "sql", day(50)))
    spec = ConversionSpec("mql", "sql", window=None)
    assert conversion_histogram(con, spec, LATER).values.tolist() == [["all", 0, 7, 1], ["all", 49, 56, 1]]
    add_events(("L3", "mql", day(0)), ("L3", "sql", day(400)))
    assert conversion_histogram(con, spec, LATER).values.tolist() == [["all", 0, 30, 1], ["all", 30, 60, 1],
                                                                      ["all", 390, 420, 1]]


def test_parts_split_rows_by_group_in_the_order_groupby_gives_even_when_groups_interleave():
    rows = pd.DataFrame({"group": ["b", "a", "b", "c", "a"], "days": [1.0, 2.0, 3.5, 0.0, 4.0],
                         "converted": [1, 0, 2, 0, 1], "lost": [0, 1, 0, 0, 0], "censored": [0, 0, 1, 3, 0],
                         "expired": [0, 0, 1, 2, 0], "to_before_from": [1, 0, 0, 0, 0]})
    parts = _parts(rows)
    assert [group for group, _ in parts] == ["b", "a", "c"]
    for (group, part), (name, frame) in zip(parts, rows.groupby("group", sort=False), strict=True):
        assert group == name
        for column, values in part.items():
            np.testing.assert_array_equal(values, frame[column].to_numpy(dtype=values.dtype))
    assert part["expired"].dtype == np.int64 and part["converted"].dtype == float
    assert _parts(rows.iloc[:0]) == []


@pytest.mark.parametrize("by", [None, "channel"])
def test_shares_in_window_are_the_summary_s_entered_and_p_convert(small_demo, by):
    # The light path `channels` takes for projected deals against `time_to_convert`'s full table.
    spec = ConversionSpec("lead", "won", by=by)
    with reader(small_demo) as con:
        for filters in (Filters(), Filters(since=date(2026, 1, 1), channels=("webinar", "display"), as_of=date(2026, 6, 30))):
            rows = _outcome_times(con, spec, filters)
            full = _summary(rows, overall=False).set_index("group")
            light = _shares_in_window(rows)
            assert len(light) == len(full) > 0
            pd.testing.assert_series_equal(light["entered"], full["entered"].loc[light.index], check_names=False)
            pd.testing.assert_series_equal(light["p_convert_in_window"], full["p_convert_in_window"].loc[light.index],
                                           check_names=False, check_exact=True)
    assert _shares_in_window(rows.iloc[:0]).empty
