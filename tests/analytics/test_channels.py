"""Channel and campaign cost and conversion on warehouses small enough to check by hand, and the tests
between channels against scipy and statsmodels."""

from __future__ import annotations

import math
from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from analytics.channels import COLUMNS, channel_comparison, compare_groups, total_spend
from analytics.demo import generate
from analytics.errors import BadInput
from analytics.filters import Filters
from analytics.funnel import FunnelSpec, funnel
from analytics.time_to_convert import ConversionSpec, time_to_convert
from analytics.warehouse import reader

AS_OF = Filters(as_of=date(2026, 6, 30))


def add_spend(con, *rows: dict) -> None:
    """Insert campaign rows given as dicts of campaign columns."""
    columns = ("campaign_id", "name", "channel", "date", "start_date", "end_date", "spend", "impressions", "clicks")
    con.executemany(
        f"INSERT INTO campaigns ({', '.join(columns)}, import_id) VALUES ({', '.join('?' * len(columns))}, 1)",
        [tuple(row.get(c) for c in columns) for row in rows],
    )


def add_won(con, lead_id: str, at: datetime, value: float) -> None:
    con.execute("INSERT INTO events (lead_id, stage, occurred_at, value, import_id) VALUES (?, 'won', ?, ?, 1)",
                [lead_id, at, value])


def row(table: pd.DataFrame, group: str) -> pd.Series:
    return table.set_index("group").loc[group]


def test_costs_and_rates_of_one_channel_worked_by_hand(con, add_events):
    add_events(
        ("W1", "lead", datetime(2026, 1, 5), "webinar"), ("W1", "mql", datetime(2026, 1, 8)),
        ("W1", "sql", datetime(2026, 1, 20)),
        ("W2", "lead", datetime(2026, 1, 5), "webinar"), ("W2", "mql", datetime(2026, 1, 10)),
        ("W3", "lead", datetime(2026, 1, 6), "webinar"), ("W4", "lead", datetime(2026, 1, 6), "webinar"),
    )
    add_won(con, "W1", datetime(2026, 3, 1), 5000.0)
    add_spend(con, {"campaign_id": "WEB-1", "channel": "webinar", "date": date(2026, 1, 5), "spend": 150.0,
                    "impressions": 600, "clicks": 30},
              {"campaign_id": "WEB-1", "channel": "webinar", "date": date(2026, 1, 6), "spend": 250.0,
               "impressions": 400, "clicks": 20})
    webinar = row(channel_comparison(con, AS_OF), "webinar")
    # 400 spent, 1,000 impressions, 50 clicks; 4 leads, 2 MQL, 1 SQL, 1 won deal worth 5,000.
    assert (webinar["impressions"], webinar["clicks"], webinar["spend"]) == (1000, 50, 400.0)
    assert (webinar["leads"], webinar["mql"], webinar["sql"], webinar["won"], webinar["won_value"]) == (4, 2, 1, 1, 5000.0)
    assert webinar["ctr"] == pytest.approx(0.05)
    assert webinar["impression_to_lead"] == pytest.approx(0.004)
    assert (webinar["lead_to_mql"], webinar["mql_to_sql"], webinar["sql_to_won"]) == (0.5, 0.5, 1.0)
    assert (webinar["lead_to_sql"], webinar["lead_to_won"]) == (0.25, 0.25)
    assert [webinar[f"cost_per_{s}"] for s in ("lead", "mql", "sql", "won")] == [100.0, 200.0, 400.0, 400.0]


def test_zero_spend_costs_zero_when_there_are_leads_and_nan_without_a_denominator(con, add_events):
    add_events(("R1", "lead", datetime(2026, 2, 1), "referral"), ("R2", "lead", datetime(2026, 2, 2), "referral"))
    add_spend(con, {"campaign_id": "REF-1", "channel": "referral", "date": date(2026, 2, 1), "spend": 0.0})
    referral = row(channel_comparison(con, AS_OF), "referral")
    assert referral["cost_per_lead"] == 0.0
    assert math.isnan(referral["cost_per_mql"]) and math.isnan(referral["cost_per_won"])  # no MQL: no denominator
    assert math.isnan(referral["ctr"])  # no impressions recorded


def test_spend_with_zero_leads_has_no_cost_per_lead_and_says_why(con, add_events):
    add_events(("W1", "lead", datetime(2026, 2, 1), "webinar"))
    add_spend(con, {"campaign_id": "DIS-1", "channel": "display", "date": date(2026, 2, 1), "spend": 300.0,
                    "impressions": 50_000, "clicks": 60})
    table = channel_comparison(con, AS_OF)
    display = row(table, "display")
    assert (display["leads"], display["spend"]) == (0, 300.0)
    assert all(math.isnan(display[f"cost_per_{s}"]) for s in ("lead", "mql", "sql", "won"))
    assert display["impression_to_lead"] == 0.0 and display["ctr"] == pytest.approx(60 / 50_000)
    assert "no tracked leads" in display["note"]
    costs = table[[c for c in COLUMNS if c.startswith("cost_per_")]].to_numpy(dtype=float)
    assert not np.isinf(costs).any()


def test_campaign_with_spend_but_no_tracked_leads_is_listed_by_campaign(con, add_events):
    add_events(("L1", "lead", datetime(2026, 2, 1), "paid_search", "PAI-1"),
               ("L2", "lead", datetime(2026, 2, 3), "paid_search", "PAI-1"))
    add_spend(con, {"campaign_id": "PAI-1", "channel": "paid_search", "date": date(2026, 2, 1), "spend": 90.0},
              {"campaign_id": "PAI-2", "channel": "paid_search", "date": date(2026, 2, 1), "spend": 250.0})
    table = channel_comparison(con, AS_OF, by="campaign")
    assert table["group"].tolist() == ["PAI-1", "PAI-2"]
    assert row(table, "PAI-1")["cost_per_lead"] == 45.0
    untracked = row(table, "PAI-2")
    assert (untracked["leads"], untracked["spend"]) == (0, 250.0)
    assert math.isnan(untracked["cost_per_lead"])
    assert "no tracked leads" in untracked["note"]


def test_leads_without_spend_rows_have_unknown_spend_not_zero(con, add_events):
    add_events(("O1", "lead", datetime(2026, 2, 1)))  # no channel anywhere: "(none)"
    none = row(channel_comparison(con, AS_OF), "(none)")
    assert none["leads"] == 1
    assert math.isnan(none["spend"]) and math.isnan(none["cost_per_lead"])
    assert "No spend recorded" in none["note"]


def test_spend_is_the_date_range_s_daily_rows_and_spans_pro_rata(con, add_events):
    add_spend(
        con,
        *({"campaign_id": "DIS-1", "channel": "display", "date": date(2026, 2, d), "spend": s}
          for d, s in ((1, 100.0), (2, 200.0), (3, 400.0))),
        {"campaign_id": "WEB-1", "channel": "webinar", "start_date": date(2026, 2, 1), "end_date": date(2026, 2, 10),
         "spend": 1000.0, "impressions": 10_000, "clicks": 100},
        {"campaign_id": "REF-1", "channel": "referral", "spend": 500.0},  # a summary row: no dates
    )
    ranged = channel_comparison(con, Filters(since=date(2026, 2, 2), until=date(2026, 2, 4), as_of=date(2026, 6, 30)))
    assert row(ranged, "display")["spend"] == 600.0
    webinar = row(ranged, "webinar")  # 3 of its 10 days are in the range
    assert (webinar["spend"], webinar["impressions"], webinar["clicks"]) == (300.0, 3000, 30)
    referral = row(ranged, "referral")
    assert math.isnan(referral["spend"])
    assert "500.00 of spend has no dates" in referral["note"]

    everything = channel_comparison(con, AS_OF)
    assert [row(everything, g)["spend"] for g in ("display", "webinar", "referral")] == [700.0, 1000.0, 500.0]
    as_of_day_two = channel_comparison(con, Filters(as_of=date(2026, 2, 2)))  # later days do not exist yet
    assert [row(as_of_day_two, g)["spend"] for g in ("display", "webinar")] == [300.0, 200.0]


def test_leads_are_the_range_s_entrants_and_their_later_conversions_count(con, add_events):
    add_events(("A", "lead", datetime(2026, 1, 31, 23), "webinar"), ("A", "mql", datetime(2026, 2, 2)),
               ("B", "lead", datetime(2026, 2, 1), "webinar"), ("B", "mql", datetime(2026, 4, 2)),
               ("C", "lead", datetime(2026, 3, 1), "webinar"))
    webinar = row(channel_comparison(con, Filters(since=date(2026, 2, 1), until=date(2026, 2, 28),
                                                  as_of=date(2026, 6, 30))), "webinar")
    assert (webinar["leads"], webinar["mql"]) == (1, 1)  # B only; its MQL in April still counts


def test_unfinished_is_the_share_of_leads_without_an_outcome_that_can_still_convert(con, add_events):
    add_events(
        ("U1", "lead", datetime(2026, 3, 1), "webinar"), ("U1", "mql", datetime(2026, 3, 5)),
        ("U1", "sql", datetime(2026, 3, 10)),  # won below: finished
        ("U2", "lead", datetime(2026, 3, 1), "webinar"), ("U2", "mql", datetime(2026, 3, 5)),
        ("U2", "lost", datetime(2026, 3, 20)),  # lost: finished, though inside its MQL -> SQL window
        ("U3", "lead", datetime(2026, 3, 1), "webinar"), ("U3", "mql", datetime(2026, 3, 5)),  # open until 5 Sep
        ("U4", "lead", datetime(2025, 1, 1), "webinar"),  # older than 6 + 5 months: finished
        ("U5", "lead", datetime(2026, 5, 1), "webinar"),  # young, not yet MQL: unfinished
        ("U6", "lead", datetime(2025, 6, 1), "webinar"), ("U6", "mql", datetime(2025, 6, 2)),  # window passed
    )
    add_won(con, "U1", datetime(2026, 4, 1), 1000.0)
    webinar = row(channel_comparison(con, AS_OF), "webinar")
    assert webinar["unfinished"] == pytest.approx(2 / 6)  # U3 and U5


def test_channel_counts_are_the_funnel_engine_s(con):
    generate(con, leads=600, seed=5, end=date(2026, 7, 1))
    filters = Filters(since=date(2025, 10, 1), as_of=date(2026, 6, 30))
    table = channel_comparison(con, filters).set_index("group")
    engine = funnel(con, FunnelSpec(by="channel"), filters).pivot(index="group", columns="stage", values="count")
    for stage, column in (("lead", "leads"), ("mql", "mql"), ("sql", "sql"), ("won", "won")):
        assert table.loc[engine.index, column].tolist() == engine[stage].tolist()


def test_an_empty_warehouse_gives_no_rows_and_an_unknown_grouping_is_bad_input(con):
    table = channel_comparison(con, AS_OF)
    assert table.empty and table.columns.tolist() == COLUMNS
    with pytest.raises(BadInput, match="channel or campaign"):
        channel_comparison(con, AS_OF, by="seniority")


# --- tests between channels ----------------------------------------------------------------------

COUNTS = pd.DataFrame({
    "group": ["a", "b", "c", "tiny"],
    "leads": [400, 300, 500, 10],
    "mql": [120, 60, 200, 10],
    "sql": [40, 20, 90, 5],
    "won": [10, 4, 30, 2],
})


def test_overall_test_per_step_matches_scipy_chi2_contingency():
    steps = compare_groups(COUNTS).steps.set_index("step")
    expected = chi2_contingency([[120, 280], [60, 240], [200, 300]], correction=False)
    lead_mql = steps.loc["Lead → MQL"]
    assert lead_mql["chi2"] == pytest.approx(expected.statistic)
    assert lead_mql["p_value"] == pytest.approx(expected.pvalue)
    assert lead_mql["dof"] == 2
    # SQL -> won: b has only 20 SQLs, too few, so two groups are left.
    expected = chi2_contingency([[10, 30], [30, 60]], correction=False)
    assert steps.loc["SQL → won", "p_value"] == pytest.approx(expected.pvalue)
    assert steps.loc["SQL → won", "small_groups"] == "b, tiny"


def test_pairwise_tests_match_statsmodels_z_test_with_holm_correction():
    pairs = compare_groups(COUNTS).pairs
    lead_mql = pairs[pairs["step"] == "Lead → MQL"]
    counts = COUNTS.set_index("group")
    raw = [proportions_ztest(counts.loc[[a, b], "mql"], counts.loc[[a, b], "leads"])[1]
           for a, b in zip(lead_mql["group_a"], lead_mql["group_b"])]
    assert (lead_mql["test"] == "z-test").all()
    assert lead_mql["p_value_raw"].tolist() == pytest.approx(raw)
    assert lead_mql["p_value"].tolist() == pytest.approx(multipletests(raw, method="holm")[1].tolist())
    assert "tiny" not in set(pairs["group_a"]) | set(pairs["group_b"])


def test_best_and_worst_sentence_ranks_only_groups_big_enough():
    lead_mql = compare_groups(COUNTS).steps.iloc[0]
    # tiny converts 100% but has 10 leads: flagged, not ranked.
    assert (lead_mql["best"], lead_mql["worst"]) == ("c", "b")
    assert lead_mql["small_groups"] == "tiny"
    assert lead_mql["sentence"].startswith("Lead → MQL: c converts best (40.0% of 500 leads) and b worst (20.0% of 300)")
    assert "the difference is significant" in lead_mql["sentence"]


def test_a_step_that_cannot_be_compared_says_why_with_nan_statistics():
    nobody = COUNTS.assign(mql=0, sql=0, won=0)
    steps = compare_groups(nobody, noun="campaign").steps
    assert math.isnan(steps.iloc[0]["p_value"]) and steps.iloc[0]["best"] is None
    assert steps.iloc[0]["sentence"] == "Lead → MQL: nobody converted in any campaign, so there is nothing to compare."
    assert "fewer than two campaigns have 30 or more MQLs" in steps.iloc[1]["sentence"]
    assert compare_groups(COUNTS.iloc[:0]).pairs.empty


def test_projected_deals_count_open_leads_by_how_earlier_ones_converted(con, add_events):
    # Worked by hand (Aalen-Johansen, lead -> won, lost competing, as of 2026-04-01):
    # closed: A1, A3 won and A2, A4 lost, all entered 1 Jan: the estimate is 2/4, so 2 deals expected = 2 won.
    # young: B1 entered 15 Mar and is open (censored after 17 days); B2 (1 Jan) won on 1 Mar (day 59) with two
    # at risk, so F = 1/2; B3 (1 Jan) lost on 16 Mar. The estimate stays 1/2: 3 x 1/2 = 1.5 deals expected
    # where 1 is won so far, and 300 of spend cost 200 per expected deal instead of 300.
    add_events(*[(f"A{i}", "lead", datetime(2026, 1, 1), "closed") for i in range(1, 5)],
               ("B1", "lead", datetime(2026, 3, 15), "young"), ("B2", "lead", datetime(2026, 1, 1), "young"),
               ("B3", "lead", datetime(2026, 1, 1), "young"),
               ("A2", "lost", datetime(2026, 2, 1)), ("A4", "lost", datetime(2026, 3, 1)),
               ("B3", "lost", datetime(2026, 3, 16)))
    for lead, at in (("A1", datetime(2026, 2, 1)), ("A3", datetime(2026, 3, 1)), ("B2", datetime(2026, 3, 1))):
        add_won(con, lead, at, 1000.0)
    add_spend(con, {"campaign_id": "Y", "channel": "young", "date": date(2026, 1, 1), "spend": 300.0})
    table = channel_comparison(con, Filters(as_of=date(2026, 4, 1)))
    assert row(table, "closed")["projected_won"] == pytest.approx(2.0)
    young = row(table, "young")
    assert young["projected_won"] == pytest.approx(1.5)
    assert young["cost_per_projected_won"] == pytest.approx(200.0)


@pytest.mark.parametrize("filters", [
    Filters(), Filters(since=date(2026, 1, 1), until=date(2026, 3, 31)), Filters(channels=("webinar", "display")),
    Filters(as_of=date(2026, 6, 30)), Filters(channels=("no such channel",)),
])
def test_total_spend_is_the_sum_of_the_channel_tables_spend(small_demo, filters):
    with reader(small_demo) as con:
        expected = channel_comparison(con, filters)["spend"].sum(min_count=1)
        total = total_spend(con, filters)
    assert (total is None and pd.isna(expected)) or total == pytest.approx(expected, abs=1e-6)


def test_projected_deals_with_a_won_a_loss_and_an_open_lead_at_the_same_instant(con, add_events):
    # Worked by hand (Aalen-Johansen, lead -> won, no window, as of 2026-04-01, i.e. until Apr 2 00:00):
    # C1 won and C2 lost on Feb 1 (day 31, a tie), C3 won on Mar 1 (day 59); C4 entered Mar 2 and is open
    # for exactly 31 days, so it is still at risk at day 31; C5 and C6 are open 13 and 8 days.
    # Day 31: 4 at risk, 1 won and 1 lost: F = 1/4, S = 1/2. Day 59: 1 at risk, it wins: F = 1/4 + 1/2 = 3/4.
    # 6 leads x 3/4 = 4.5 deals expected (with C4 counted out before day 31 it would be 6 x 2/3 = 4).
    add_events(*[(f"C{i}", "lead", datetime(2026, 1, 1), "ads") for i in range(1, 4)],
               ("C4", "lead", datetime(2026, 3, 2), "ads"), ("C5", "lead", datetime(2026, 3, 20), "ads"),
               ("C6", "lead", datetime(2026, 3, 25), "ads"), ("C2", "lost", datetime(2026, 2, 1)))
    add_won(con, "C1", datetime(2026, 2, 1), 1000.0)
    add_won(con, "C3", datetime(2026, 3, 1), 1000.0)
    ads = row(channel_comparison(con, Filters(as_of=date(2026, 4, 1))), "ads")
    assert ads["leads"] == 6  # won counts the strict funnel (no MQL, no SQL here); the projection is lead -> won
    assert ads["projected_won"] == pytest.approx(4.5)


@pytest.mark.parametrize("by", ["channel", "campaign"])
@pytest.mark.parametrize("filters", [Filters(), Filters(since=date(2026, 1, 1), channels=("webinar", "display"),
                                                        as_of=date(2026, 6, 30))])
def test_projected_deals_are_entrants_times_time_to_convert_s_share_within_the_window(small_demo, by, filters):
    # `channel_comparison` reads only the shares; they must be `time_to_convert`'s lead -> won figures.
    spec = ConversionSpec("lead", "won", by="channel" if by == "channel" else "campaign_id")
    with reader(small_demo) as con:
        table = channel_comparison(con, filters, by).set_index("group")
        expected = time_to_convert(con, spec, filters).set_index("group")
    projected = (expected["entered"] * expected["p_convert_in_window"].fillna(0)).round(1)
    assert table["projected_won"].gt(0).any()
    pd.testing.assert_series_equal(table["projected_won"], projected.reindex(table.index, fill_value=0.0),
                                   check_names=False, check_exact=True)
