"""The funnel engine on event logs small enough to count by hand; each test's comment gives the count."""

from __future__ import annotations

import math
from datetime import date, datetime

import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from analytics.durations import Duration
from analytics.errors import BadInput
from analytics.filters import Filters
from analytics.funnel import (
    COLUMNS,
    FunnelSpec,
    dropped_leads,
    funnel,
    funnel_over_time,
    largest_dropoff,
    wilson_interval,
)

LATER = Filters(as_of=date(2030, 1, 1))  # sees every event of these logs
MQL_SQL = FunnelSpec(stages=("mql", "sql"))  # default window: 6 calendar months


def counts(table: pd.DataFrame, group: str = "all") -> dict[str, int]:
    rows = table[table["group"] == group]
    return dict(zip(rows["stage"], rows["count"]))


def row(table: pd.DataFrame, stage: str, group: str = "all") -> pd.Series:
    return table[(table["group"] == group) & (table["stage"] == stage)].iloc[0]


# Ordering and skipped stages


def test_lead_that_skips_mql_stops_at_lead_in_strict_mode(con, add_events):
    # L1 skips mql: it stays at lead. L2 goes lead -> mql -> sql. L3 has no lead event: not an entrant.
    add_events(
        ("L1", "lead", "2024-01-01"), ("L1", "sql", "2024-01-05"),
        ("L2", "lead", "2024-01-01"), ("L2", "mql", "2024-01-02"), ("L2", "sql", "2024-01-03"),
        ("L3", "sql", "2024-01-04"),
    )  # fmt: skip
    assert counts(funnel(con, FunnelSpec(), LATER)) == {"lead": 2, "mql": 1, "sql": 1, "won": 0}


def test_implied_mode_counts_a_skipped_stage_at_the_later_stage_time(con, add_events):
    # Same log in implied mode: L1's sql implies mql (at Jan 5, so mql -> sql takes 0 s); L3's sql implies
    # lead and mql, so L3 enters at Jan 4. lead 3, mql 3, sql 3.
    add_events(
        ("L1", "lead", "2024-01-01"), ("L1", "sql", "2024-01-05"),
        ("L2", "lead", "2024-01-01"), ("L2", "mql", "2024-01-02"), ("L2", "sql", "2024-01-03"),
        ("L3", "sql", "2024-01-04"),
    )  # fmt: skip
    table = funnel(con, FunnelSpec(mode="implied"), LATER)
    assert counts(table) == {"lead": 3, "mql": 3, "sql": 3, "won": 0}
    entry = dropped_leads(con, FunnelSpec(mode="implied"), LATER, step=4).set_index("lead_id")["entered_at"]
    assert entry["L3"] == datetime(2024, 1, 4)


def test_implied_mode_keeps_the_windows_of_recorded_stages(con, add_events):
    # lead Jan 1, sql Sep 1, won 2025-03-01; no mql event. The missing mql is implied at Sep 1 (sql's time),
    # so mql -> sql takes 0 s. The sql is recorded, so won (6 months after it) is outside the 5-month
    # window and does not stand in for a later sql: lead 1, mql 1, sql 1, won 0.
    add_events(("L1", "lead", "2024-01-01"), ("L1", "sql", "2024-09-01"), ("L1", "won", "2025-03-01"))
    assert counts(funnel(con, FunnelSpec(mode="implied"), LATER)) == {"lead": 1, "mql": 1, "sql": 1, "won": 0}


def test_a_stage_before_the_previous_step_does_not_count(con, add_events):
    # mql (Jan 1) happened before lead (Jan 2): ordering stops L1 at lead, in both modes (both stages
    # are recorded, so implied mode has nothing to fill in).
    add_events(("L1", "mql", "2024-01-01"), ("L1", "lead", "2024-01-02"), ("L1", "sql", "2024-01-03"))
    for mode in ("strict", "implied"):
        spec = FunnelSpec(stages=("lead", "mql", "sql"), mode=mode)
        assert counts(funnel(con, spec, LATER)) == {"lead": 1, "mql": 0, "sql": 0}


def test_equal_timestamps_count_as_in_order(con, add_events):
    # All four stages at the same instant (inserted in reverse order): each step is "at or after" the last.
    add_events(*[("L1", stage, "2024-05-05 12:00") for stage in ("won", "sql", "mql", "lead")])
    assert counts(funnel(con, FunnelSpec(), LATER)) == {"lead": 1, "mql": 1, "sql": 1, "won": 1}


# Re-entry


def test_re_entry_counts_once_and_the_path_that_gets_furthest_wins(con, add_events):
    # L1 is an MQL on Jan 1 and again on Aug 1; SQL on Sep 1. From the Jan 1 MQL the 6-month window closes
    # Jul 1, but from the Aug 1 MQL it runs to Feb 1 2025: the furthest path reaches sql. A second lead
    # event does not count L1 twice: lead 1, mql 1, sql 1.
    add_events(
        ("L1", "lead", "2024-01-01"), ("L1", "mql", "2024-01-01"), ("L1", "lead", "2024-03-01"),
        ("L1", "mql", "2024-08-01"), ("L1", "sql", "2024-09-01"),
    )  # fmt: skip
    assert counts(funnel(con, FunnelSpec(), LATER)) == {"lead": 1, "mql": 1, "sql": 1, "won": 0}


def test_a_dropped_unit_reports_the_latest_time_it_reached_its_last_step(con, add_events):
    # No sql: L1 drops after mql, last reached mql on Aug 1, whose window runs to 2025-02-01; as of
    # 2024-12-01 it is still unfinished.
    add_events(("L1", "lead", "2024-01-01"), ("L1", "mql", "2024-01-01"), ("L1", "mql", "2024-08-01"))
    dropped = dropped_leads(con, FunnelSpec(), Filters(as_of=date(2024, 12, 1)), step=3)
    assert dropped.to_dict("records") == [
        {
            "lead_id": "L1",
            "group": "all",
            "entered_at": pd.Timestamp("2024-01-01"),
            "last_step_at": pd.Timestamp("2024-08-01"),
            "unfinished": True,
        }
    ]


# Windows


def test_window_boundary_counts_a_conversion_exactly_at_the_limit(con, add_events):
    # mql Jan 1 00:00 + 6 calendar months = Jul 1 00:00: L1 converts exactly then (counts), L2 one second
    # later (does not).
    add_events(
        ("L1", "mql", "2024-01-01 00:00:00"), ("L1", "sql", "2024-07-01 00:00:00"),
        ("L2", "mql", "2024-01-01 00:00:00"), ("L2", "sql", "2024-07-01 00:00:01"),
    )  # fmt: skip
    assert counts(funnel(con, MQL_SQL, LATER)) == {"mql": 2, "sql": 1}


def test_calendar_month_window_clamps_jan_31_to_the_end_of_february(con, add_events):
    # 1mo from 2024-01-31 10:00 ends 2024-02-29 10:00 (leap year), from 2023-01-31 10:00 it ends
    # 2023-02-28 10:00. L1 and L3 convert at the limit, L2 one second after: sql 2 of 3.
    add_events(
        ("L1", "mql", "2024-01-31 10:00:00"), ("L1", "sql", "2024-02-29 10:00:00"),
        ("L2", "mql", "2024-01-31 10:00:00"), ("L2", "sql", "2024-02-29 10:00:01"),
        ("L3", "mql", "2023-01-31 10:00:00"), ("L3", "sql", "2023-02-28 10:00:00"),
    )  # fmt: skip
    spec = FunnelSpec(stages=("mql", "sql"), windows={"sql": Duration(months=1)})
    assert counts(funnel(con, spec, LATER)) == {"mql": 3, "sql": 2}


def test_day_windows_are_exact_24_hour_days(con, add_events):
    # 183d from 2024-01-01 06:00 is 2024-07-02 06:00 (183 x 24 h): L1 at the limit counts, L2 one second later
    # does not.
    add_events(
        ("L1", "mql", "2024-01-01 06:00:00"), ("L1", "sql", "2024-07-02 06:00:00"),
        ("L2", "mql", "2024-01-01 06:00:00"), ("L2", "sql", "2024-07-02 06:00:01"),
    )  # fmt: skip
    spec = FunnelSpec(stages=("mql", "sql"), windows={"sql": Duration(seconds=183 * 86_400)})
    assert counts(funnel(con, spec, LATER)) == {"mql": 2, "sql": 1}


def test_a_window_of_none_removes_the_default(con, add_events):
    # sql a year after mql: outside the default 6 months, inside "no limit".
    add_events(("L1", "mql", "2024-01-01"), ("L1", "sql", "2025-01-01"))
    assert counts(funnel(con, MQL_SQL, LATER)) == {"mql": 1, "sql": 0}
    assert counts(funnel(con, FunnelSpec(stages=("mql", "sql"), windows={"sql": None}), LATER)) == {"mql": 1, "sql": 1}


def test_window_is_measured_from_the_previous_step_not_from_entry(con, add_events):
    # lead -> mql has no window (a year); mql -> sql takes 5 months, inside 6: sql counts.
    add_events(("L1", "lead", "2023-01-01"), ("L1", "mql", "2024-01-01"), ("L1", "sql", "2024-06-01"))
    assert counts(funnel(con, FunnelSpec(stages=("lead", "mql", "sql")), LATER)) == {"lead": 1, "mql": 1, "sql": 1}


# Date range and as-of date


def test_date_range_selects_entrants_and_later_steps_count_after_it(con, add_events):
    # Range: January 2024 (until covers the whole of Jan 31).
    # L1 enters Jan 15, mql Mar 1 (after the range: counts). L2 enters a second before the range, L4 right
    # after it: out. L3 enters in the last second of Jan 31: in. L5 first entered in December, so its
    # January re-entry does not make it a January entrant. lead 2 (L1, L3), mql 1.
    add_events(
        ("L1", "lead", "2024-01-15"), ("L1", "mql", "2024-03-01"),
        ("L2", "lead", "2023-12-31 23:59:59"), ("L2", "mql", "2024-01-02"),
        ("L3", "lead", "2024-01-31 23:59:59"),
        ("L4", "lead", "2024-02-01 00:00:00"),
        ("L5", "lead", "2023-12-20"), ("L5", "lead", "2024-01-10"), ("L5", "mql", "2024-01-11"),
    )  # fmt: skip
    filters = Filters(since=date(2024, 1, 1), until=date(2024, 1, 31), as_of=date(2030, 1, 1))
    assert counts(funnel(con, FunnelSpec(stages=("lead", "mql")), filters)) == {"lead": 2, "mql": 1}


def test_events_after_the_as_of_date_are_ignored(con, add_events):
    # As of 2024-03-31 (through 23:59:59): L1's mql in the last second counts, L2's at Apr 1 00:00 does not,
    # L3 enters after the as-of date and is no entrant. lead 2, mql 1.
    add_events(
        ("L1", "lead", "2024-01-01"), ("L1", "mql", "2024-03-31 23:59:59"),
        ("L2", "lead", "2024-01-01"), ("L2", "mql", "2024-04-01 00:00:00"),
        ("L3", "lead", "2024-04-02"),
    )  # fmt: skip
    table = funnel(con, FunnelSpec(stages=("lead", "mql")), Filters(as_of=date(2024, 3, 31)))
    assert counts(table) == {"lead": 2, "mql": 1}


def test_unfinished_counts_units_still_inside_their_window_at_the_as_of_date(con, add_events):
    # As of 2024-06-30, i.e. the instant 2024-07-01 00:00. Window mql -> sql: 6 months.
    # L1: mql Jan 1 00:00, window ends Jul 1 00:00, not yet observable: unfinished.
    # L2: mql 2023-12-31 23:59:59, window ended 2024-06-30 23:59:59: dropped for good.
    # L3: converted. L4: sql only after the as-of date, window to Aug 1: unfinished.
    # sql: count 1, dropoff 3, unfinished 2.
    add_events(
        ("L1", "mql", "2024-01-01 00:00:00"),
        ("L2", "mql", "2023-12-31 23:59:59"),
        ("L3", "mql", "2024-03-01"), ("L3", "sql", "2024-04-01"),
        ("L4", "mql", "2024-02-01"), ("L4", "sql", "2024-07-15"),
    )  # fmt: skip
    sql = row(funnel(con, MQL_SQL, Filters(as_of=date(2024, 6, 30))), "sql")
    assert (sql["count"], sql["dropoff"], sql["unfinished"]) == (1, 3, 2)


def test_a_transition_without_a_window_has_no_unfinished_units(con, add_events):
    # lead -> mql has no window: a lead from yesterday without mql is dropped, not unfinished.
    add_events(("L1", "lead", "2024-06-29"))
    mql = row(funnel(con, FunnelSpec(stages=("lead", "mql")), Filters(as_of=date(2024, 6, 30))), "mql")
    assert (mql["count"], mql["dropoff"], mql["unfinished"]) == (0, 1, 0)


# Breakdown and first touch


@pytest.fixture
def first_touch_log(add_events, add_leads):
    # L1: first non-empty event channel is the visit's "webinar" (the lead event has none).
    # L2: blank and missing event channels; falls back to the leads table: "display".
    # L3: no channel anywhere and no leads row: "(none)". L4: empty strings everywhere: "(none)".
    # L5: a visit with "ads" before it entered: first touch is "ads".
    # L6: two channels at the same instant: the tie goes to the smaller value, "ads".
    add_events(
        ("L1", "lead", "2024-01-01"), ("L1", "visit", "2024-01-02", "webinar"), ("L1", "mql", "2024-01-03", "ads"),
        ("L2", "lead", "2024-01-01", "  "), ("L2", "mql", "2024-01-04"),
        ("L3", "lead", "2024-01-01"),
        ("L4", "lead", "2024-01-01", ""),
        ("L5", "visit", "2023-12-01", "ads"), ("L5", "lead", "2024-01-05", "webinar"),
        ("L6", "lead", "2024-01-06", "web"), ("L6", "visit", "2024-01-06", "ads"),
    )  # fmt: skip
    add_leads(
        {"lead_id": "L1", "channel": "display"}, {"lead_id": "L2", "channel": "display"},
        {"lead_id": "L4", "channel": ""},
    )  # fmt: skip


@pytest.mark.usefixtures("first_touch_log")
def test_first_touch_breakdown_falls_back_to_the_lead_and_then_to_none(con):
    table = funnel(con, FunnelSpec(stages=("lead", "mql", "sql"), by="channel"), LATER)
    assert counts(table, "webinar") == {"lead": 1, "mql": 1, "sql": 0}
    assert counts(table, "display") == {"lead": 1, "mql": 1, "sql": 0}
    assert counts(table, "(none)") == {"lead": 2, "mql": 0, "sql": 0}
    assert counts(table, "ads") == {"lead": 2, "mql": 0, "sql": 0}
    # Groups add up to the whole funnel and come largest first.
    total = funnel(con, FunnelSpec(stages=("lead", "mql", "sql")), LATER)
    assert table.groupby("stage", sort=False)["count"].sum().to_dict() == counts(total)
    assert list(table["group"].drop_duplicates()) == ["(none)", "ads", "display", "webinar"]


@pytest.mark.usefixtures("first_touch_log")
def test_a_group_with_no_one_left_has_no_rate_rather_than_zero(con):
    # "(none)": 2 leads, 0 mql, 0 sql. mql: 0 of 2 (a real 0%); sql: 0 of 0, no denominator.
    table = funnel(con, FunnelSpec(stages=("lead", "mql", "sql"), by="channel"), LATER)
    mql, sql = row(table, "mql", "(none)"), row(table, "sql", "(none)")
    assert (mql["rate_from_previous"], mql["dropoff"], mql["ci_low"]) == (0.0, 2, 0.0)
    assert sql["dropoff"] == 0
    assert math.isnan(sql["rate_from_previous"]) and math.isnan(sql["ci_low"]) and math.isnan(sql["ci_high"])
    assert sql["rate_from_first"] == 0.0


@pytest.mark.usefixtures("first_touch_log")
def test_channel_filter_uses_the_first_touch_channel(con):
    # Only L1's first touch is webinar (L5 entered through a webinar lead event, but first touched ads).
    stages = FunnelSpec(stages=("lead", "mql"))
    assert counts(funnel(con, stages, Filters(channels=("webinar",), as_of=date(2030, 1, 1)))) == {"lead": 1, "mql": 1}
    assert counts(funnel(con, stages, Filters(channels=("(none)", "ads"), as_of=date(2030, 1, 1)))) == {
        "lead": 4,
        "mql": 0,
    }


def test_campaign_filter_and_breakdown_use_the_first_touch_campaign(con, add_events, add_leads):
    # L1: first event campaign c1 (later c2). L2: none on events, c2 on the lead. L3: none at all.
    add_events(
        ("L1", "lead", "2024-01-01", None, "c1"), ("L1", "mql", "2024-01-02", None, "c2"),
        ("L2", "lead", "2024-01-01"), ("L3", "lead", "2024-01-01"),
    )  # fmt: skip
    add_leads({"lead_id": "L2", "campaign_id": "c2"})
    spec = FunnelSpec(stages=("lead", "mql"), by="campaign_id")
    table = funnel(con, spec, LATER)
    assert {g: counts(table, g)["lead"] for g in table["group"].unique()} == {"c1": 1, "c2": 1, "(none)": 1}
    only_c2 = funnel(con, FunnelSpec(stages=("lead", "mql")), Filters(campaigns=("c2",), as_of=date(2030, 1, 1)))
    assert counts(only_c2) == {"lead": 1, "mql": 0}


def test_breakdown_by_lead_column_or_attribute_key(con, add_events, add_leads):
    add_events(("L1", "lead", "2024-01-01"), ("L2", "lead", "2024-01-01"), ("L3", "lead", "2024-01-01"))
    add_leads(
        {"lead_id": "L1", "seniority": "executive", "attributes": {"industry": "retail"}},
        {"lead_id": "L2", "seniority": "staff", "attributes": {"size": "big"}},
    )  # fmt: skip
    by_seniority = funnel(con, FunnelSpec(stages=("lead", "mql"), by="seniority"), LATER)
    assert sorted(by_seniority.query("step == 1")["group"]) == ["(none)", "executive", "staff"]
    by_industry = funnel(con, FunnelSpec(stages=("lead", "mql"), by="industry"), LATER)
    assert by_industry.query("step == 1").set_index("group")["count"].to_dict() == {"(none)": 2, "retail": 1}
    with pytest.raises(BadInput, match="cannot break the funnel down by 'colour'.*industry, size"):
        funnel(con, FunnelSpec(stages=("lead", "mql"), by="colour"), LATER)


# Account unit


def test_account_unit_combines_the_leads_of_an_account(con, add_events, add_leads):
    # Account A: L1 enters Jan 1, L2 (same account) becomes mql Jan 5 and sql Feb 1: A reaches sql.
    # Account B: L3 enters only. L4 has no account and is left out. Account C: L5 and L6 enter.
    # Accounts: lead 3, mql 1, sql 1. Leads: L1, L3, L4, L5, L6 enter (L2 has no lead event); L4 -> mql.
    add_events(
        ("L1", "lead", "2024-01-01"), ("L2", "mql", "2024-01-05", "webinar"), ("L2", "sql", "2024-02-01"),
        ("L3", "lead", "2024-01-03"), ("L4", "lead", "2024-01-01"), ("L4", "mql", "2024-01-02"),
        ("L5", "lead", "2024-01-10"), ("L6", "lead", "2024-01-11"),
    )  # fmt: skip
    add_leads(
        {"lead_id": "L1", "account_id": "A"}, {"lead_id": "L2", "account_id": "A"},
        {"lead_id": "L3", "account_id": "B", "channel": "ads"}, {"lead_id": "L4", "account_id": " "},
        {"lead_id": "L5", "account_id": "C", "channel": "x", "created_at": "2024-02-01"},
        {"lead_id": "L6", "account_id": "C", "channel": "y", "created_at": "2024-01-01"},
    )  # fmt: skip
    spec = FunnelSpec(stages=("lead", "mql", "sql"), unit="account")
    assert counts(funnel(con, spec, LATER)) == {"lead": 3, "mql": 1, "sql": 1}
    assert counts(funnel(con, FunnelSpec(stages=("lead", "mql", "sql")), LATER)) == {"lead": 5, "mql": 1, "sql": 0}
    # First touch across an account's leads: A's first channel is L2's webinar; B falls back to L3's lead
    # row; C to its earliest-created lead, L6 ("y").
    by_channel = funnel(con, FunnelSpec(stages=("lead", "mql", "sql"), unit="account", by="channel"), LATER)
    assert by_channel.query("step == 1").set_index("group")["count"].to_dict() == {"webinar": 1, "ads": 1, "y": 1}
    dropped = dropped_leads(con, spec, LATER, step=2)
    assert list(dropped.columns) == ["account_id", "group", "entered_at", "last_step_at", "unfinished"]
    assert list(dropped["account_id"]) == ["B", "C"]


# Output shape, rates and sentences


def test_rates_dropoff_and_wilson_interval_of_each_step(con, add_events):
    # 4 leads, 3 mql, 1 sql: mql 3/4, sql 1/3 of previous and 1/4 of first.
    add_events(*[("L%d" % i, "lead", "2024-01-01") for i in range(4)])
    add_events(*[("L%d" % i, "mql", "2024-01-02") for i in range(3)], ("L0", "sql", "2024-01-03"))
    table = funnel(con, FunnelSpec(stages=("lead", "mql", "sql")), LATER)
    assert list(table.columns) == COLUMNS
    assert list(table["step"]) == [1, 2, 3]
    lead, mql, sql = (row(table, s) for s in ("lead", "mql", "sql"))
    assert pd.isna(lead["dropoff"]) and math.isnan(lead["rate_from_previous"]) and lead["rate_from_first"] == 1.0
    assert (mql["dropoff"], mql["rate_from_previous"]) == (1, 0.75)
    assert sql["rate_from_previous"] == pytest.approx(1 / 3) and sql["rate_from_first"] == 0.25
    assert (sql["ci_low"], sql["ci_high"]) == pytest.approx(proportion_confint(1, 3, method="wilson"))


@pytest.mark.parametrize(("successes", "trials"), [(0, 1), (1, 3), (5, 5), (37, 120), (0, 40), (999, 1000)])
def test_wilson_interval_matches_statsmodels(successes, trials):
    low, high = wilson_interval(successes, trials)
    assert (float(low), float(high)) == pytest.approx(proportion_confint(successes, trials, method="wilson"))


def test_wilson_interval_is_nan_without_trials():
    low, high = wilson_interval([0, 2], [0, 4])
    assert math.isnan(low[0]) and math.isnan(high[0]) and not math.isnan(low[1])


def test_an_empty_warehouse_gives_zero_counts_and_no_rates(con):
    table = funnel(con, FunnelSpec(), LATER)
    assert counts(table) == {"lead": 0, "mql": 0, "sql": 0, "won": 0}
    assert table["rate_from_previous"].isna().all() and table["rate_from_first"].isna().all()
    assert funnel(con, FunnelSpec(by="channel"), LATER).empty
    assert largest_dropoff(table) == "No one entered the funnel in this selection."


def test_largest_dropoff_names_the_step_in_one_sentence(con, add_events):
    # 4 lead, 3 mql, 1 sql: the largest drop is mql -> sql (2 of 3), ahead of lead -> mql (1 of 4).
    # As of 2024-03-01 both non-converting MQLs are inside the 6-month window.
    add_events(*[("L%d" % i, "lead", "2024-01-01") for i in range(4)])
    add_events(*[("L%d" % i, "mql", "2024-01-02") for i in range(3)], ("L0", "sql", "2024-01-03"))
    table = funnel(con, FunnelSpec(stages=("lead", "mql", "sql")), Filters(as_of=date(2024, 3, 1)))
    assert largest_dropoff(table) == (
        "The largest drop-off is from MQL to SQL: 2 of 3 (67%) did not get to SQL, 2 of them still inside their window."
    )


def test_dropped_leads_with_a_limit_are_the_earliest_entrants_and_the_funnel_counts_them_all(con, add_events):
    # L1-L4 reach mql but not sql; L5 reaches sql. Entered on 1, 2, 3 and 4 January.
    add_events(*((f"L{i}", stage, f"2024-01-0{i}") for i in range(1, 6) for stage in ("lead", "mql")),
               ("L5", "sql", "2024-01-06"))
    spec, filters = FunnelSpec(), Filters(as_of=date(2024, 3, 1))
    everyone = dropped_leads(con, spec, filters, step=3)
    first_two = dropped_leads(con, spec, filters, step=3, limit=2)
    assert list(everyone["lead_id"]) == ["L1", "L2", "L3", "L4"]
    pd.testing.assert_frame_equal(first_two, everyone.head(2))
    at_sql = funnel(con, spec, filters).set_index("stage").loc["sql"]
    assert (at_sql["dropoff"], at_sql["unfinished"]) == (4, int(everyone["unfinished"].sum())) == (4, 4)


def test_dropped_leads_rejects_a_step_outside_the_funnel(con):
    with pytest.raises(BadInput, match="between 2 and 4"):
        dropped_leads(con, FunnelSpec(), LATER, step=1)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"stages": ("lead",)}, "at least two"),
        ({"stages": ("lead", "mql", "lead")}, "once"),
        ({"mode": "loose"}, "mode must be one of"),
        ({"unit": "company"}, "unit must be one of"),
        ({"period": "day"}, "period must be one of"),
        ({"windows": {"trial": Duration(months=1)}}, "trial"),
    ],
)
def test_a_bad_spec_is_bad_input(options, message):
    with pytest.raises(BadInput, match=message):
        FunnelSpec(**options)


# Conversion over time


def test_over_time_labels_weeks_by_their_monday_and_marks_unfinished_weeks(con, add_events):
    # As of 2024-07-07, i.e. the instant 2024-07-08 00:00.
    # L1 enters Wed 2024-01-03: week of Mon 2024-01-01, ends 01-08; + 6 months = 07-08 00:00 <= as-of: finished.
    # L2 enters Mon 2024-01-08: week ends 01-15, + 6 months = 07-15 > as-of: unfinished. L2 converts.
    add_events(("L1", "mql", "2024-01-03"), ("L2", "mql", "2024-01-08"), ("L2", "sql", "2024-02-01"))
    spec = FunnelSpec(stages=("mql", "sql"), period="week")
    table = funnel_over_time(con, spec, Filters(as_of=date(2024, 7, 7)))
    assert list(table.columns) == ["period", *COLUMNS, "finished"]
    summary = table[["period", "stage", "count", "finished"]].to_dict("records")
    assert summary == [
        {"period": "2024-01-01", "stage": "mql", "count": 1, "finished": True},
        {"period": "2024-01-01", "stage": "sql", "count": 0, "finished": True},
        {"period": "2024-01-08", "stage": "mql", "count": 1, "finished": False},
        {"period": "2024-01-08", "stage": "sql", "count": 1, "finished": False},
    ]


def test_over_time_by_month_adds_every_window_along_the_funnel(con, add_events):
    # mql -> sql 6mo, sql -> won 5mo. As of 2024-12-31 (instant 2025-01-01).
    # January cohort: ends Feb 1, + 6mo + 5mo = 2025-01-01 <= as-of: finished. February: 2025-02-01: not.
    add_events(("L1", "mql", "2024-01-31 23:00"), ("L2", "mql", "2024-01-01"), ("L3", "mql", "2024-02-10"))
    spec = FunnelSpec(stages=("mql", "sql", "won"), period="month")
    table = funnel_over_time(con, spec, Filters(as_of=date(2024, 12, 31)))
    first_steps = table.query("step == 1")[["period", "count", "finished"]].to_dict("records")
    assert first_steps == [
        {"period": "2024-01-01", "count": 2, "finished": True},
        {"period": "2024-02-01", "count": 1, "finished": False},
    ]


def test_over_time_needs_a_period(con):
    with pytest.raises(BadInput, match="week or month"):
        funnel_over_time(con, FunnelSpec(), LATER)
