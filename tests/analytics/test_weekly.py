"""The weekly meeting's figures on a warehouse small enough to work out by hand."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from unittest.mock import patch

import pandas as pd
import pytest
from scipy import stats

from analytics import journeys, weekly
from analytics.abstats import holm
from analytics.channels import channel_comparison
from analytics.cli import main
from analytics.errors import BadInput
from analytics.filters import Filters
from analytics.funnel import FunnelSpec, funnel
from analytics.warehouse import writer
from analytics.weekly import (
    experiment_verdicts,
    iso_week,
    last_complete_week,
    leads_per_week,
    parse_week,
    recent_cohorts,
    summary_of,
    week_figures,
    week_label,
    week_summary,
)
from tests.analytics.conftest import insert_events, insert_leads

AS_OF = date(2026, 3, 15)  # a Sunday: week 11 (9-15 March) has just ended; week 10 is 2-8 March


@pytest.fixture
def week_con(con):
    """Two weeks of leads, worked by hand in the tests below.

    Week before (2-8 March), seen at the end of 8 March: P1..P4 enter; P1 and P4 reach MQL (P2's MQL is on the
    10th), P4 reaches SQL on the 8th. Activity: first MQLs of O1 (an older lead), P1, P4; SQL of P4; O2 wins 500.
    This week (9-15 March), seen at the end of the 15th: T1..T5 enter (T6 on the 16th is after the as-of date);
    T1, T2, T3 and T5 reach MQL, T1 SQL. Activity: first MQLs of P2, T1, T2, T3, T5 (P1's second MQL does not
    count); SQLs of P2 and T1; P4 wins 1,000.
    """
    insert_events(
        con,
        ("O1", "lead", "2026-02-10 09:00", "display"), ("O1", "mql", "2026-03-03 09:00"),
        ("O2", "lead", "2026-02-01 09:00", "display"), ("O2", "mql", "2026-02-05 09:00"),
        ("O2", "sql", "2026-02-20 09:00"),
        ("P1", "lead", "2026-03-02 10:00", "display"), ("P1", "mql", "2026-03-04 10:00"),
        ("P1", "mql", "2026-03-12 10:00"),
        ("P2", "lead", "2026-03-03 10:00", "display"), ("P2", "mql", "2026-03-10 10:00"),
        ("P2", "sql", "2026-03-12 10:00"),
        ("P3", "lead", "2026-03-05 10:00", "display"),
        ("P4", "lead", "2026-03-06 10:00", "display"), ("P4", "mql", "2026-03-07 10:00"),
        ("P4", "sql", "2026-03-08 12:00"),
        ("T1", "lead", "2026-03-09 10:00", "webinar"), ("T1", "mql", "2026-03-10 10:00"),
        ("T1", "sql", "2026-03-11 10:00"),
        ("T2", "lead", "2026-03-10 10:00", "webinar"), ("T2", "mql", "2026-03-12 10:00"),
        ("T3", "lead", "2026-03-11 10:00", "display"), ("T3", "mql", "2026-03-13 10:00"),
        ("T4", "lead", "2026-03-14 10:00", "display"),
        ("T5", "lead", "2026-03-15 23:00", "display"), ("T5", "mql", "2026-03-15 23:30"),
        ("T6", "lead", "2026-03-16 08:00", "display"),
    )
    con.executemany("INSERT INTO events (lead_id, stage, occurred_at, value, import_id) VALUES (?, 'won', ?, ?, 1)",
                    [("O2", "2026-03-05 09:00", 500.0), ("P4", "2026-03-14 09:00", 1000.0)])
    # Spend: display daily rows (the 16th is after the as-of date); a webinar row over 6-12 March, 100 a day.
    con.executemany(
        "INSERT INTO campaigns (campaign_id, channel, date, start_date, end_date, spend, import_id) "
        "VALUES (?, ?, ?, ?, ?, ?, 1)",
        [("D1", "display", "2026-03-08", None, None, 100.0), ("D1", "display", "2026-03-09", None, None, 200.0),
         ("D1", "display", "2026-03-15", None, None, 50.0), ("D1", "display", "2026-03-16", None, None, 999.0),
         ("W1", "webinar", None, "2026-03-06", "2026-03-12", 700.0)])
    con.executemany(
        "INSERT INTO experiment_variants (experiment, variant, metric, units, conversions, import_id) "
        "VALUES (?, ?, 'conversion', ?, ?, 1)",
        [("cta", "control", 1000, 100), ("cta", "B", 1000, 200),
         ("subject", "control", 1000, 100), ("subject", "B", 1000, 101)])
    return con


def _figures(summary) -> dict[str, tuple]:
    return {k.key: (k.value, k.previous) for k in summary.kpis}


def test_kpis_count_activity_in_the_week_and_the_week_before(week_con):
    summary = week_summary(week_con, None, AS_OF)
    assert (summary.monday, summary.week, summary.complete) == (date(2026, 3, 9), "2026-W11", True)
    assert summary.as_of == AS_OF
    assert _figures(summary) == {
        "leads": (5, 4),  # T1..T5 (T6 is after the as-of date); P1..P4
        "mql": (5, 3),  # P2, T1, T2, T3, T5; O1, P1, P4 (P1's renewed MQL on the 12th is not a first MQL)
        "sql": (2, 1),  # P2, T1; P4
        "won": (1, 1),  # P4; O2
        "won_value": (1000, 500),
        "spend": (650, 400),  # 200 + 50 + 4 days x 100; 100 + 3 days x 100
        "cost_per_sql": (325, 400),  # 650 / 2; 400 / 1
    }
    leads = summary.kpi("leads")
    assert (leads.change, leads.change_pct, leads.change_text, leads.good) == (1, 0.25, "+1 (+25%)", True)
    cost = summary.kpi("cost_per_sql")
    assert (cost.change_text, cost.good) == ("−$75 (−19%)", True)  # cheaper is good news


def test_stage_rates_compare_each_weeks_leads_at_the_same_age_with_holm_adjusted_tests(week_con):
    summary = week_summary(week_con, None, AS_OF)
    lead_mql, mql_sql, sql_won = summary.stage_rates
    # Seen at the end of the 15th and of the 8th: P2's MQL on the 10th is after the week before's view.
    assert (lead_mql.previous_converted, lead_mql.previous_units, lead_mql.converted, lead_mql.units) == (2, 4, 4, 5)
    assert (mql_sql.previous_converted, mql_sql.previous_units, mql_sql.converted, mql_sql.units) == (1, 2, 1, 4)
    assert (sql_won.previous_converted, sql_won.previous_units, sql_won.converted, sql_won.units) == (0, 1, 0, 1)
    assert lead_mql.diff == pytest.approx(0.8 - 0.5)
    # Counts this small go to Fisher's exact test (scipy, two-sided); Holm over the two testable stages.
    p_lead = stats.fisher_exact([[4, 1], [2, 2]]).pvalue
    p_mql = stats.fisher_exact([[1, 3], [1, 1]]).pvalue
    assert lead_mql.test == "Fisher's exact test"
    assert [lead_mql.p_value, mql_sql.p_value] == pytest.approx(holm([p_lead, p_mql]))
    assert math.isnan(sql_won.p_value) and sql_won.beyond_noise is None and sql_won.reason == (
        "Fewer than two leads reached SQL in one of the weeks, too few to compare")
    assert summary.largest_change is lead_mql and lead_mql.beyond_noise is False
    assert summary.age_days == 7


def test_a_week_not_over_is_compared_with_the_same_days_of_the_week_before(week_con):
    summary = week_summary(week_con, date(2026, 3, 11), date(2026, 3, 11))  # Wednesday: three days of week 11
    assert not summary.complete and summary.age_days == 3
    # This week to the end of the 11th: T1, T2, T3; the week before to the end of the 4th: P1, P2.
    assert summary.kpi("leads").value == 3 and summary.kpi("leads").previous == 2
    assert summary.kpi("mql").value == 2 and summary.kpi("mql").previous == 2  # P2, T1; O1, P1
    assert summary.kpi("spend").value == 500  # 200 on the 9th + 3 webinar days
    assert "not over at the as-of date" in summary.sentences[0]


def test_channel_filter_uses_first_touch_for_leads_and_activity_and_the_campaign_channel_for_spend(week_con):
    summary = week_summary(week_con, None, AS_OF, channels=("webinar",))
    assert _figures(summary)["leads"] == (2, 0)
    assert _figures(summary)["mql"] == (2, 0)  # T1, T2
    assert _figures(summary)["spend"] == (400, 300)
    assert summary.channel_filter == ("webinar",)


@pytest.mark.parametrize("channels, campaigns", [((), ()), (("webinar",), ()), (("display", "(none)"), ()),
                                                 ((), ("(none)",))])
def test_activity_from_the_journeys_equals_the_activity_from_the_events(week_con, channels, campaigns):
    # The fixture writes the won events around the importers, so its journeys are stale: rebuilt, the
    # journey path answers; patched stale, the events path does. O1 and O2 carry no campaign: "(none)".
    journeys.rebuild(week_con)
    insert_events(week_con, ("O1", "won", "2026-03-10 09:00"), ("T2", "email_open", "2026-03-09 09:00", "email"))
    assert journeys.is_current(week_con)
    from_journeys = week_summary(week_con, None, AS_OF, channels, campaigns)
    with patch("analytics.journeys.is_current", return_value=False):
        from_events = week_summary(week_con, None, AS_OF, channels, campaigns)
    assert _figures(from_journeys) == _figures(from_events)
    if channels == ("display", "(none)"):  # this week: P2, T3, T5 (display) first MQL; O1 won, no value
        assert _figures(from_journeys)["mql"] == (3, 3) and _figures(from_journeys)["won"][0] == 2


def test_experiments_with_a_verdict_come_first(week_con):
    verdicts = week_summary(week_con, None, AS_OF).experiments
    assert [(v.experiment, v.decided) for v in verdicts] == [("cta", True), ("subject", False)]
    assert verdicts[0].headline.startswith("Variant B lifts conversion rate by 100%")


def test_unfinished_cohorts_are_the_entry_months_whose_leads_may_still_convert(week_con):
    summary = week_summary(week_con, None, AS_OF)
    assert summary.unfinished_cohorts == ["2026-02-01", "2026-03-01"]
    assert "since February 2026 are unfinished" in summary.sentences[-1]


def test_sentences_summarise_the_week_in_plain_words(week_con):
    sentences = week_summary(week_con, None, AS_OF).sentences
    assert sentences[0] == "Week 11 (9–15 Mar 2026): 5 new leads, 25% more than the week before (4)."
    assert sentences[1] == ("5 leads became MQL (week before 3), 2 became SQL (week before 1) and 1 deal won, "
                            "worth $1,000 (week before 1, $500).")
    assert sentences[2] == "Spend was $650 (week before $400); an SQL cost $325 (week before $400)."
    assert sentences[3].startswith("Largest change in a stage rate: Lead → MQL went up from 50% to 80% (2 of 4, "
                                   "then 4 of 5; each week's leads 7 days after their week began): within normal "
                                   "week-to-week noise (p = ")
    assert sentences[4] == "1 of 2 experiments reached a verdict (cta); 1 still needs more data."


def test_default_week_is_the_last_complete_one_before_the_end_of_the_data(week_con):
    # No as-of date: today, capped at the latest event (T6 on Monday the 16th), so week 11 is the last complete.
    assert week_summary(week_con).week == "2026-W11"
    partial = week_summary(week_con, "2026-W12")
    assert not partial.complete and partial.kpi("leads").value == 1
    with pytest.raises(BadInput, match="starts after the as-of date 2026-03-16 \\(the data ends then\\)"):
        week_summary(week_con, "2026-W13")


def test_an_empty_warehouse_gives_zeros_and_no_stage_rate(con):
    summary = week_summary(con, None, date(2026, 3, 15))
    assert summary.is_empty and summary.largest_change is None and summary.kpi("spend").value is None
    assert summary.kpi("cost_per_sql").text == "n/a" and summary.unfinished_cohorts == []
    assert summary.sentences[0] == "Week 11 (9–15 Mar 2026): 0 new leads, as many as the week before."


def test_iso_weeks_parse_and_print_including_week_53():
    assert parse_week("2026-W53") == date(2026, 12, 28) and iso_week(date(2027, 1, 3)) == "2026-W53"
    assert parse_week("2026w02") == date(2026, 1, 5)
    for bad in ("2025-W53", "2026-46", "W46", "2026-W00"):
        with pytest.raises(BadInput):
            parse_week(bad)
    assert last_complete_week(date(2026, 3, 15)) == date(2026, 3, 9)
    assert last_complete_week(date(2026, 3, 14)) == date(2026, 3, 2)
    assert week_label(date(2025, 12, 29)) == "29 Dec 2025 – 4 Jan 2026"
    assert week_label(date(2026, 3, 30)) == "30 Mar – 5 Apr 2026"


def test_weekly_command_prints_the_summary_as_json_csv_and_a_table(week_con, tmp_path, capsys):
    path = tmp_path / "w.duckdb"
    with writer(path) as out:
        for table in ("events", "campaigns", "experiment_variants"):
            rows = week_con.execute(f"SELECT * FROM {table}").fetchall()
            if rows:
                out.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    assert main(["--db", str(path), "weekly", "--as-of", "2026-03-15", "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["week"] == "2026-W11" and record["as_of"] == "2026-03-15"
    assert {k["metric"]: (k["value"], k["previous"]) for k in record["kpis"]}["spend"] == (650, 400)
    assert record["largest_change"]["transition"] == "Lead → MQL"
    assert main(["--db", str(path), "weekly", "--week", "2026-W11", "--as-of", "2026-03-15", "--format", "csv"]) == 0
    assert "leads,Leads,5,4,1,0.25\n" in capsys.readouterr().out
    assert main(["--db", str(path), "weekly", "--as-of", "2026-03-15"]) == 0
    assert "Cost per SQL" in capsys.readouterr().out
    assert main(["--db", str(path), "weekly", "--week", "2026-W20", "--as-of", "2026-03-15"]) == 2
    assert "starts after the as-of date" in capsys.readouterr().err


def _old_channel_table(con, monday, as_of, channels=(), campaigns=()):
    """The channel table as `week_summary` built it before: `channel_comparison` of each week, merged."""
    def week(start, seen):
        return channel_comparison(con, Filters(since=start, until=start + timedelta(days=6), channels=channels,
                                               campaigns=campaigns, as_of=seen))
    return weekly._channel_table(week(monday, as_of), week(monday - timedelta(days=7), as_of - timedelta(days=7)))


@pytest.mark.parametrize("current", [True, False])
@pytest.mark.parametrize("channels, campaigns", [((), ()), (("webinar",), ()), (("display", "email"), ()),
                                                 ((), ("(none)",))])
def test_channel_table_has_channel_comparisons_leads_and_spend_per_first_touch_channel(week_con, current, channels,
                                                                                        campaigns):
    # An undated (summary export) email row: no spend in a dated range, so the email channel's spend is unknown.
    week_con.execute("INSERT INTO campaigns (campaign_id, channel, spend, import_id) VALUES ('E1', 'email', 80, 1)")
    if current:
        journeys.rebuild(week_con)
    with patch("analytics.journeys.is_current", return_value=current):
        table = week_summary(week_con, None, AS_OF, channels, campaigns).channels
        expected = _old_channel_table(week_con, date(2026, 3, 9), AS_OF, channels, campaigns)
    pd.testing.assert_frame_equal(table, expected)
    if not channels and not campaigns:  # by hand: T3-T5 and P1-P4 display; T1, T2 webinar; spend as in the KPIs
        assert table.to_dict("records") == [
            {"group": "display", "leads": 3, "spend": 250.0, "previous_leads": 4, "previous_spend": 100.0},
            {"group": "webinar", "leads": 2, "spend": 400.0, "previous_leads": 0, "previous_spend": 300.0},
            {"group": "email", "leads": 0, "spend": pytest.approx(math.nan, nan_ok=True), "previous_leads": 0,
             "previous_spend": pytest.approx(math.nan, nan_ok=True)}]


@pytest.mark.parametrize("channels", [(), ("webinar",)])
def test_the_summary_from_its_cached_parts_is_week_summary(week_con, channels):
    figures = week_figures(week_con, "2026-W10", AS_OF, channels)
    assert (figures.monday, figures.as_of, figures.complete) == (date(2026, 3, 2), AS_OF, True)
    parts = summary_of(figures, experiment_verdicts(week_con), recent_cohorts(week_con, figures.as_of, channels))
    whole = week_summary(week_con, "2026-W10", AS_OF, channels)
    assert parts.record() == whole.record() and parts.sentences == whole.sentences
    pd.testing.assert_frame_equal(parts.cohorts, whole.cohorts)
    pd.testing.assert_frame_equal(parts.channels, whole.channels)


@pytest.fixture
def touch_con(con):
    """Leads whose first touch is not their lead event's channel (worked by hand in the tests below).

    A: a paid_search visit on Sat 28 Feb, then its lead event from display on Tue 3 Mar: paid_search, week of 2 Mar.
    B: lead event on Wed 4 Mar without a channel, an email click on the 5th: email (first touch after the lead).
    C: lead event from webinar on Mon 9 Mar, and a second lead event on the 12th: once, week of 9 Mar.
    D: lead event on Sun 15 Mar 23:00 without any channel; the leads table says "partner": partner.
    E: lead event on Mon 16 Mar: after the as-of date (the 15th), not counted.
    F: only in the leads table (no lead event): not a funnel entrant, not counted.
    """
    insert_events(
        con,
        ("A", "visit", "2026-02-28 10:00", "paid_search"), ("A", "lead", "2026-03-03 10:00", "display"),
        ("B", "lead", "2026-03-04 10:00"), ("B", "email_click", "2026-03-05 10:00", "email"),
        ("C", "lead", "2026-03-09 10:00", "webinar"), ("C", "lead", "2026-03-12 10:00", "webinar"),
        ("D", "lead", "2026-03-15 23:00"), ("E", "lead", "2026-03-16 08:00", "display"),
    )
    insert_leads(con, {"lead_id": "D", "created_at": "2026-03-15 23:00", "channel": " partner "},
                 {"lead_id": "F", "created_at": "2026-03-10 09:00", "channel": "display"})
    return con


def _weeks(table: pd.DataFrame) -> list[tuple]:
    return [(w.date().isoformat(), c, n, p) for w, c, n, p in table[["week", "channel", "leads", "partial"]].itertuples(
        index=False)]


@pytest.mark.parametrize("current", [True, False])
def test_leads_per_week_counts_funnel_entrants_by_entry_week_and_first_touch(touch_con, current):
    with patch("analytics.journeys.is_current", return_value=current):
        table = leads_per_week(touch_con, Filters(as_of=AS_OF))
        # The first week is partial (the first lead entered on Tuesday), the as-of date's week is not over.
        assert _weeks(table) == [("2026-03-02", "email", 1, True), ("2026-03-02", "paid_search", 1, True),
                                 ("2026-03-09", "partner", 1, False), ("2026-03-09", "webinar", 1, False)]
        # A week whose Monday is after the as-of date's: the as-of instant falls inside it.
        assert _weeks(leads_per_week(touch_con, Filters(as_of=date(2026, 3, 12)))) == [
            ("2026-03-02", "email", 1, True), ("2026-03-02", "paid_search", 1, True), ("2026-03-09", "webinar", 1, True)]
        # As of the 4th, B's email click has not happened: no first touch, and no leads table value.
        assert _weeks(leads_per_week(touch_con, Filters(as_of=date(2026, 3, 4)))) == [
            ("2026-03-02", "(none)", 1, True), ("2026-03-02", "paid_search", 1, True)]
        # The filters select by first touch, as the funnel does.
        assert _weeks(leads_per_week(touch_con, Filters(channels=("paid_search", "partner"), as_of=AS_OF))) == [
            ("2026-03-02", "paid_search", 1, True), ("2026-03-09", "partner", 1, False)]
        assert leads_per_week(touch_con, Filters(channels=("display",), as_of=AS_OF)).empty
        assert _weeks(leads_per_week(touch_con, Filters(since=date(2026, 3, 4), until=date(2026, 3, 9),
                                                        as_of=AS_OF))) == [
            ("2026-03-02", "email", 1, True), ("2026-03-09", "webinar", 1, False)]


def test_leads_per_week_add_up_to_the_funnels_new_leads(week_con):
    for filters in (Filters(as_of=AS_OF), Filters(since=date(2026, 3, 3), until=date(2026, 3, 10), as_of=AS_OF),
                    Filters(channels=("webinar",), as_of=AS_OF)):
        entrants = funnel(week_con, FunnelSpec(), filters)["count"].iloc[0]
        assert leads_per_week(week_con, filters)["leads"].sum() == entrants
