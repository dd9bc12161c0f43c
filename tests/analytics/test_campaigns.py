"""Message campaigns, send times, variants and nurture touches on sends and events written by hand."""

from __future__ import annotations

import math
from datetime import date, datetime

import pandas as pd
import pytest
from statsmodels.stats.proportion import proportions_ztest

from analytics import journeys
from analytics.campaigns import (CAMPAIGN_COLUMNS, VARIANT_COLUMNS, message_campaigns, send_times,
                                 touch_types_before_sql, touches_before_sql, variant_comparison, variant_verdicts)
from analytics.filters import Filters

AS_OF = Filters(as_of=date(2026, 6, 30))
WEDNESDAY_9H = datetime(2026, 3, 4, 9)


def add_sends(con, *rows: tuple) -> None:
    """Insert sends given as (campaign_id, variant, medium, sent_at, sent, delivered, opened, clicked,
    converted, unsubscribed)."""
    con.executemany(
        "INSERT INTO sends (campaign_id, variant, medium, sent_at, sent, delivered, opened, clicked, converted, "
        "unsubscribed, import_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
        rows,
    )


def test_counts_and_rates_per_campaign_and_variant(con):
    add_sends(con, ("NL-1", "A", "email", WEDNESDAY_9H, 1000, 950, 190, 38, 1, 2),
              ("NL-1", "B", "email", WEDNESDAY_9H, 1000, 960, 240, 48, 1, 3),
              ("SMS-1", None, "sms", datetime(2026, 3, 5, 11), 200, 0, 0, 0, 2, 0))
    table = message_campaigns(con, AS_OF)
    assert table.columns.tolist() == CAMPAIGN_COLUMNS
    assert table[["campaign_id", "variant"]].values.tolist() == [["NL-1", "A"], ["NL-1", "B"], ["SMS-1", "(none)"]]
    a = table.iloc[0]
    assert a[["sent", "delivered", "opened", "clicked", "converted", "unsubscribed"]].tolist() == [1000, 950, 190, 38, 1, 2]
    assert a["delivery_rate"] == 0.95
    assert (a["open_rate"], a["click_rate"], a["click_to_open_rate"]) == pytest.approx((0.2, 0.04, 0.2))
    assert (a["conversion_rate"], a["unsubscribe_rate"]) == pytest.approx((1 / 950, 2 / 950))
    sms = table.iloc[2]  # nothing delivered: no rate over delivered, not 0
    assert sms["delivery_rate"] == 0.0
    assert all(math.isnan(sms[c]) for c in ("open_rate", "click_rate", "conversion_rate", "unsubscribe_rate"))


def test_share_of_leads_and_conversions_in_the_campaign_s_period(con, add_events):
    add_sends(con, ("NL-1", "A", "email", WEDNESDAY_9H, 1000, 950, 190, 38, 1, 2),
              ("NL-1", "B", "email", WEDNESDAY_9H, 1000, 960, 240, 48, 1, 3),
              ("SMS-1", None, "sms", datetime(2026, 3, 5, 11), 200, 198, 0, 9, 2, 0),
              ("NL-2", "A", "email", datetime(2026, 3, 11, 9), 1000, 950, 190, 38, 6, 2))
    add_events(("L0", "lead", datetime(2026, 3, 4, 8)),  # before the first send
               ("L1", "lead", datetime(2026, 3, 4, 10)), ("L2", "lead", datetime(2026, 3, 6)),
               ("L3", "lead", datetime(2026, 3, 9)), ("L4", "lead", datetime(2026, 3, 11, 8)),
               ("L5", "lead", datetime(2026, 3, 11, 9)))  # NL-1's period ends as NL-2 goes out
    nl1 = message_campaigns(con, AS_OF).query("campaign_id == 'NL-1'").set_index("variant")
    assert nl1["period_end"].iloc[0] == datetime(2026, 3, 11, 9)
    assert nl1["leads_in_period"].tolist() == [4, 4]
    assert nl1.loc["A", "share_of_leads"] == 0.25
    assert nl1.loc["A", "share_of_conversions"] == 0.25  # 1 of 1 + 1 + 2 converted by sends in NL-1's week


def test_date_range_and_as_of_select_sends_by_their_time(con):
    add_sends(con, ("NL-1", "A", "email", WEDNESDAY_9H, 100, 90, 9, 3, 1, 0),
              ("NL-2", "A", "email", datetime(2026, 4, 1, 9), 100, 90, 9, 3, 1, 0))
    april = Filters(since=date(2026, 4, 1), as_of=date(2026, 6, 30))
    assert message_campaigns(con, april)["campaign_id"].tolist() == ["NL-2"]
    assert message_campaigns(con, Filters(as_of=date(2026, 3, 31)))["campaign_id"].tolist() == ["NL-1"]
    assert message_campaigns(con, Filters(campaigns=("NL-2",), as_of=date(2026, 6, 30)))["campaign_id"].tolist() == ["NL-2"]


def test_send_times_place_each_send_by_weekday_and_hour_over_the_whole_week(con):
    add_sends(con, ("NL-1", "A", "email", WEDNESDAY_9H, 1000, 950, 190, 38, 1, 2),
              ("NL-2", "A", "email", datetime(2026, 3, 11, 9, 30), 1000, 950, 190, 57, 1, 2),
              ("SMS-1", None, "sms", datetime(2026, 3, 8, 11), 200, 198, 0, 9, 2, 0))
    cells = send_times(con, AS_OF)
    assert len(cells) == 7 * 24
    wednesday = cells.query("day == 'Wed' and hour == 9").iloc[0]
    assert (wednesday["weekday"], wednesday["sends"], wednesday["clicked"]) == (3, 2, 95)
    assert wednesday["click_rate"] == pytest.approx(95 / 1900)
    assert cells.query("day == 'Sun' and hour == 11")["sends"].item() == 1
    empty = cells.query("day == 'Mon' and hour == 0").iloc[0]
    assert empty["sends"] == 0 and math.isnan(empty["click_rate"])
    assert send_times(con, AS_OF, medium="sms")["sends"].sum() == 1


def test_variant_with_the_best_click_rate_but_worse_conversions_is_called_out(con):
    add_sends(con, ("NL-1", "A", "email", WEDNESDAY_9H, 5000, 5000, 1000, 150, 30, 5),
              ("NL-1", "B", "email", WEDNESDAY_9H, 5000, 5000, 1200, 190, 21, 5),
              ("NL-2", "A", "email", datetime(2026, 3, 11, 9), 5000, 5000, 1000, 150, 30, 5),
              ("NL-2", "B", "email", datetime(2026, 3, 11, 9), 5000, 5000, 1200, 190, 21, 5),
              ("SMS-1", None, "sms", datetime(2026, 3, 5, 11), 200, 198, 0, 9, 2, 0),
              ("PUSH-1", "only", "push", datetime(2026, 3, 5, 16), 200, 190, 0, 4, 0, 0))
    table = variant_comparison(con, AS_OF)
    assert table.columns.tolist() == VARIANT_COLUMNS
    assert table["medium"].unique().tolist() == ["email"]  # a medium needs two named variants
    a, b = table.set_index("variant").loc["A"], table.set_index("variant").loc["B"]
    assert (a["click_rate"], b["click_rate"]) == (0.03, 0.038)
    assert (a["conversion_rate"], b["conversion_rate"]) == (0.006, 0.0042)
    assert b["best_click_rate"] and not b["best_conversion_rate"] and a["best_conversion_rate"]
    assert a["is_control"] and math.isnan(a["click_p_value"])
    assert b["click_p_value"] == pytest.approx(proportions_ztest([380, 300], [10_000, 10_000])[1])
    [sentence] = variant_verdicts(table)
    assert sentence.startswith("For email, variant B has the best click rate (3.80% vs 3.00%, p = 0.0018) "
                               "but variant A converts best (0.60% vs 0.42%, p = 0.074)")  # p: statsmodels proportions_ztest


def test_variant_verdict_when_one_variant_wins_both():
    import pandas as pd

    table = pd.DataFrame({"medium": ["sms", "sms"], "variant": ["A", "B"], "delivered": [100, 100],
                          "clicked": [5, 9], "converted": [1, 3], "click_rate": [0.05, 0.09],
                          "conversion_rate": [0.01, 0.03]})
    assert variant_verdicts(table) == ["For sms, variant B has both the best click rate (9.00%) and the best "
                                       "conversion rate (3.00%)."]


def test_an_empty_warehouse_has_no_campaigns_variants_or_touches(con):
    assert message_campaigns(con, AS_OF).empty
    assert variant_comparison(con, AS_OF).columns.tolist() == VARIANT_COLUMNS
    assert send_times(con, AS_OF)["sends"].sum() == 0
    assert touches_before_sql(con, AS_OF).empty and touch_types_before_sql(con, AS_OF).empty


# --- nurture touches -----------------------------------------------------------------------------


@pytest.fixture
def nurtured(con, add_events, add_leads):
    """An executive with 8 touches before SQL, two staff SQLs with 2 and 3, a staff lead that never gets
    there, and a staff SQL without an MQL (not SQL in the strict funnel)."""
    add_leads({"lead_id": "E1", "seniority": "executive"}, {"lead_id": "S1", "seniority": "staff"},
              {"lead_id": "S2", "seniority": "staff"}, {"lead_id": "S3", "seniority": "staff"},
              {"lead_id": "X1", "seniority": "staff"})
    day = lambda d, h=12: datetime(2026, 3, d, h)  # noqa: E731
    add_events(
        ("E1", "lead", day(1)), *((("E1", "email_open", day(2, h)) for h in range(8, 13))),
        ("E1", "webinar", day(3)), ("E1", "webinar", day(4)), ("E1", "mql", day(10)), ("E1", "meeting", day(19)),
        ("E1", "sql", day(20)), ("E1", "proposal", day(20)), ("E1", "visit", day(25)),  # at or after SQL: not before
        ("S1", "lead", day(1)), ("S1", "visit", day(2)), ("S1", "email_open", day(3)), ("S1", "mql", day(4)),
        ("S1", "sql", day(5)),
        ("S2", "lead", day(1)), ("S2", "email_open", day(2)), ("S2", "email_open", day(3)), ("S2", "visit", day(6)),
        ("S2", "mql", day(7)), ("S2", "sql", day(8)),
        ("S3", "lead", day(1)), *((("S3", "visit", day(d)) for d in range(2, 7))),
        ("X1", "lead", day(1)), ("X1", "visit", day(2)), ("X1", "sql", day(3)),
    )


def test_touches_before_sql_per_seniority(con, nurtured):
    table = touches_before_sql(con, AS_OF)
    assert table["seniority"].tolist() == ["staff", "executive"]
    staff, executive = table.iloc[0], table.iloc[1]
    assert (staff["leads"], staff["sql_leads"], staff["sql_rate"]) == (4, 2, 0.5)
    assert (staff["median"], staff["p25"], staff["mean_touches"], staff["share_7_plus"]) == (2.5, 2.25, 2.5, 0.0)
    assert (executive["sql_leads"], executive["median"], executive["share_7_plus"]) == (1, 8.0, 1.0)


def test_touch_types_before_sql_with_the_last_touch_before_it(con, nurtured):
    types = touch_types_before_sql(con, AS_OF).set_index("touch")
    assert types.loc["email_open", ["sql_leads", "touches"]].tolist() == [3, 8]
    assert types.loc["email_open", "share_of_sql_leads"] == 1.0
    # Last touches: E1 meeting, S1 email_open, S2 visit.
    assert types["last_touch"].to_dict() == {"meeting": 1, "email_open": 1, "visit": 1, "webinar": 0}
    assert "proposal" not in types.index  # at the same instant as SQL: not before it


def test_journey_table_and_events_give_the_same_periods_and_touches(con, nurtured):
    """The current journey table answers the campaign periods' entrants and the SQL times; a stale one is
    not read, and the events give the same tables."""
    add_sends(con, ("NL-1", "A", "email", datetime(2026, 2, 27, 9), 1000, 950, 190, 38, 1, 2),
              ("NL-2", "A", "email", datetime(2026, 3, 2, 9), 1000, 950, 190, 38, 6, 2))
    views = (AS_OF, Filters(as_of=date(2026, 3, 6)), Filters(channels=("(none)",), as_of=date(2026, 6, 30)))
    tables = lambda: [f(con, v) for v in views  # noqa: E731
                      for f in (message_campaigns, touches_before_sql, touch_types_before_sql)]
    from_journeys = tables()
    assert from_journeys[0]["leads_in_period"].tolist() == [5, 0]  # all five entered on 1 March, before NL-2
    con.execute("UPDATE journey_state SET events = events + 1")
    assert not journeys.is_current(con)
    for journey_table, event_table in zip(from_journeys, tables(), strict=True):
        pd.testing.assert_frame_equal(journey_table, event_table)
