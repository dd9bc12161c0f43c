"""Nurture sequences: steps, opens and clicks, the comparison with leads not in it yet, exits, by hand."""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from unittest.mock import patch

import pandas as pd
import pytest

from analytics.cli import main
from analytics.filters import Filters
from analytics.sequences import (exit_summary, list_sequences, messages_before_sql, sequence_exits, sequence_report,
                                 sequence_steps, step_verdict)
from analytics.warehouse import reader

from .conftest import insert_events, insert_leads

D = datetime
AS_OF = Filters(as_of=date(2026, 3, 31))
Z = 1.959963984540054


def _sent(lead_id: str, at: datetime, stage: str = "email_sent", sequence: str = "welcome") -> tuple:
    return (lead_id, stage, at, None, sequence)


def test_steps_count_messages_in_order_and_credit_opens_to_the_latest_message(con):
    insert_events(
        con,
        ("X1", "lead", D(2026, 1, 1)), ("X2", "lead", D(2026, 1, 1)),
        _sent("X1", D(2026, 1, 1)), _sent("X1", D(2026, 1, 1, 8), "email_open"),
        _sent("X1", D(2026, 1, 1, 8, 5), "email_click"),
        _sent("X1", D(2026, 1, 2)), _sent("X1", D(2026, 1, 3, 1), "email_open"),  # after step 2, before step 3
        _sent("X1", D(2026, 1, 4)),
        _sent("X1", D(2026, 1, 4, 2), "email_open", "newsletter"),  # another campaign: not this sequence's
        _sent("X2", D(2026, 1, 2)), _sent("X2", D(2026, 1, 3)), _sent("X2", D(2026, 1, 3, 10), "email_open"),
    )
    steps = sequence_steps(con, AS_OF, "welcome").set_index("step")
    assert steps["sent"].tolist() == [2, 2, 1] and steps["day"].tolist() == [0, 1, 3]
    assert steps["opened"].tolist() == [1, 2, 0] and steps["clicked"].tolist() == [1, 0, 0]
    assert steps["open_rate"].tolist() == [0.5, 1.0, 0.0]
    assert list_sequences(con, AS_OF)[["sequence", "leads", "messages"]].values.tolist() == [["welcome", 2, 5]]


@pytest.fixture
def nurtured(con):
    """X1-X4 enrolled when they came in (X3 got a second message a day later), Y1-Y4 never, X5 just now."""
    jan1 = D(2026, 1, 1)
    insert_leads(con, *({"lead_id": f"{p}{i}", "seniority": "staff"} for p in "XY" for i in range(1, 6)))
    insert_events(
        con,
        *((f"{p}{i}", "lead", jan1) for p in "XY" for i in range(1, 5)), ("X5", "lead", D(2026, 3, 31)),
        *(_sent(f"X{i}", jan1) for i in range(1, 5)), _sent("X3", D(2026, 1, 2)), _sent("X5", D(2026, 3, 31)),
        _sent("X4", D(2026, 1, 1, 6), "email_unsubscribe"),
        ("X1", "mql", D(2026, 1, 2)), ("X2", "mql", D(2026, 1, 3, 23)),  # within 3 days of their first message
        ("Y1", "mql", D(2026, 1, 3, 12)),  # within 3 days of 1 and of 2 January
    )
    return con


def test_a_step_is_compared_with_leads_of_the_same_age_and_stage_not_in_the_sequence_yet(nurtured):
    steps = sequence_steps(nurtured, AS_OF, "welcome").set_index("step")
    first = steps.loc[1]
    # Step 1 at age 0: X1-X4 (X5's three days are not over), 2 advanced; the comparison at age 0 is Y1-Y4, 1 advanced.
    assert (first["followed"], first["advanced"], first["advance_rate"], first["expected_rate"]) == (4, 2, 0.5, 0.25)
    se = math.sqrt(0.5 * 0.5 / 4 + 0.25 * 0.75 / 4)
    assert first["difference"] == 0.25
    assert (first["difference_ci_low"], first["difference_ci_high"]) == pytest.approx((0.25 - Z * se, 0.25 + Z * se))
    assert first["comparisons"] == 4
    # Step 2: X3 at age 1 day did not advance; Y1-Y4 at age 1 day: Y1 did (on 3 January).
    second = steps.loc[2]
    assert (second["followed"], second["advance_rate"], second["expected_rate"]) == (1, 0.0, 0.25)
    assert step_verdict(steps.reset_index()).startswith("No step moves leads measurably yet. The closest is Step 1")


def test_exits_say_where_and_why_leads_left(nurtured):
    exits = sequence_exits(nurtured, AS_OF, "welcome")
    left = exits[exits["leads"] > 0].set_index(["step", "reason"])["leads"].to_dict()
    # Next message due 1.5 days after the first (the median gap is 1 day): X1 became an MQL before it, X2 after
    # (stopped), X4 unsubscribed, X5's is not due yet; X3 got the last step.
    assert left == {(1, "advanced"): 1, (1, "stopped"): 1, (1, "unsubscribed"): 1, (1, "active"): 1,
                    (2, "finished"): 1}
    assert len(exits) == 2 * 6 and exits["share"].sum() == pytest.approx(1.0)
    assert exit_summary(exits).startswith("Most leads that leave early leave after step 1 (day 0): 3 of 5 enrolled")


def test_an_unsubscribe_counts_from_the_first_at_or_after_the_first_message_in_any_order(nurtured):
    # U1's unsubscribes, recorded out of order: 5 January (after its next message was due), 30 December
    # (before it was enrolled: not this sequence's doing) and noon on 1 January, half a day after its only
    # message and before the next was due (1.5 days later): the one that counts, so U1 left as unsubscribed.
    insert_events(
        nurtured, ("U1", "lead", D(2026, 1, 1)), _sent("U1", D(2026, 1, 1)),
        _sent("U1", D(2026, 1, 5), "email_unsubscribe"), _sent("U1", D(2025, 12, 30), "email_unsubscribe"),
        _sent("U1", D(2026, 1, 1, 12), "email_unsubscribe"),
    )
    exits = sequence_exits(nurtured, AS_OF, "welcome").set_index(["step", "reason"])["leads"]
    assert exits[(1, "unsubscribed")] == 2  # X4 and U1
    assert exits[(1, "stopped")] == 1  # X2 only


@pytest.mark.parametrize("sequence", ["welcome", "nothing"])
@pytest.mark.parametrize("journeys_current", [True, False])
def test_the_report_holds_the_steps_and_the_exits_of_the_sequence(nurtured, sequence, journeys_current):
    insert_events(nurtured, ("Z1", "lead", D(2026, 1, 1)), _sent("Z1", D(2026, 1, 2)),
                  _sent("Z1", D(2026, 1, 2), "email_open"), ("Z1", "mql", D(2026, 1, 3)))
    with patch("analytics.journeys.is_current", return_value=journeys_current):
        for days in (3, 7):
            report = sequence_report(nurtured, AS_OF, sequence, days)
            pd.testing.assert_frame_equal(report.steps, sequence_steps(nurtured, AS_OF, sequence, days))
            pd.testing.assert_frame_equal(report.exits, sequence_exits(nurtured, AS_OF, sequence))
    assert len(report.exits) == (2 * 6 if sequence == "welcome" else 0)


def test_the_report_under_a_channel_filter_equals_the_steps_and_exits(small_demo):
    filters = Filters(channels=("webinar",), as_of=date(2026, 10, 31))
    with reader(small_demo) as con:
        report = sequence_report(con, filters, "nurture-welcome", 7)
        pd.testing.assert_frame_equal(report.steps, sequence_steps(con, filters, "nurture-welcome", 7))
        pd.testing.assert_frame_equal(report.exits, sequence_exits(con, filters, "nurture-welcome"))
    assert report.steps["sent"].sum() > 0 and report.exits["leads"].sum() > 0


def test_stage_times_from_the_journeys_equal_those_from_the_events(nurtured):
    # Z1 had an MQL before it came in and another after: only the later one counts (the journey keeps both);
    # Z2 is lost on day 2; Z3's SQL falls after the as-of date. An open at the very second of a message is its.
    jan1 = D(2026, 1, 1)
    insert_events(
        nurtured,
        ("Z1", "mql", D(2025, 12, 20)), ("Z1", "lead", jan1), ("Z1", "mql", D(2026, 1, 3)),
        ("Z2", "lead", jan1), ("Z2", "lost", D(2026, 1, 3)), ("Z3", "lead", jan1), ("Z3", "sql", D(2026, 4, 2)),
        _sent("Z1", D(2026, 1, 2)), _sent("Z1", D(2026, 1, 2), "email_open"), _sent("Z2", D(2026, 1, 2)),
    )
    with patch("analytics.journeys.is_current", return_value=False):
        from_events = sequence_steps(nurtured, AS_OF, "welcome"), sequence_exits(nurtured, AS_OF, "welcome")
    steps, exits = sequence_steps(nurtured, AS_OF, "welcome"), sequence_exits(nurtured, AS_OF, "welcome")
    pd.testing.assert_frame_equal(steps, from_events[0])
    pd.testing.assert_frame_equal(exits, from_events[1])
    # Step 1 now: X1-X5 and Z1 on 2 January (opened at the send), Z2; Z1 advanced on day 1 of its message.
    assert steps.loc[0, ["sent", "opened"]].tolist() == [7, 1]
    assert exits.set_index(["step", "reason"]).loc[(1, "advanced"), "leads"] == 2  # X1 and Z1


def test_a_channel_filter_reads_only_the_chosen_leads_messages_on_both_paths(con):
    # W1 and W2 came from a webinar, D1 from display; only W1 and W2's messages, opens and unsubscribes count.
    insert_leads(con, {"lead_id": "W1", "channel": "webinar"}, {"lead_id": "W2", "channel": "webinar"},
                 {"lead_id": "D1", "channel": "display"})
    jan1 = D(2026, 1, 1)
    insert_events(
        con, *((lead, "lead", jan1) for lead in ("W1", "W2", "D1")),
        _sent("W1", jan1), _sent("W1", D(2026, 1, 3)), _sent("W1", D(2026, 1, 3, 5), "email_open"),
        _sent("W2", D(2026, 1, 2)), _sent("W2", D(2026, 1, 2, 1), "email_unsubscribe"),
        _sent("D1", jan1), _sent("D1", D(2026, 1, 1, 1), "email_open"), _sent("D1", D(2026, 1, 3)),
        _sent("D1", D(2026, 1, 5)),
    )
    webinar = Filters(channels=("webinar",), as_of=date(2026, 3, 31))
    with patch("analytics.journeys.is_current", return_value=False):
        from_events = sequence_steps(con, webinar, "welcome"), sequence_exits(con, webinar, "welcome")
    steps, exits = sequence_steps(con, webinar, "welcome"), sequence_exits(con, webinar, "welcome")
    pd.testing.assert_frame_equal(steps, from_events[0])
    pd.testing.assert_frame_equal(exits, from_events[1])
    assert steps[["step", "sent", "opened"]].values.tolist() == [[1, 2, 0], [2, 1, 1]]  # D1's third step is not
    assert list_sequences(con, webinar)[["leads", "messages"]].values.tolist() == [[2, 3]]
    reasons = exits[exits["leads"] > 0].set_index(["step", "reason"])["leads"].to_dict()
    assert reasons == {(1, "unsubscribed"): 1, (2, "finished"): 1}


def test_a_sequence_without_messages_gives_empty_tables(nurtured):
    assert sequence_steps(nurtured, AS_OF, "nothing").empty and sequence_exits(nurtured, AS_OF, "nothing").empty
    assert step_verdict(sequence_steps(nurtured, AS_OF, "nothing")).startswith("No step can be judged yet")


def test_messages_and_touches_before_sql_per_seniority(con):
    insert_leads(con, {"lead_id": "S1", "seniority": "staff"}, {"lead_id": "E1", "seniority": "executive"})
    insert_events(
        con, ("S1", "lead", D(2026, 1, 1)), _sent("S1", D(2026, 1, 1, 1)), _sent("S1", D(2026, 1, 2)),
        _sent("S1", D(2026, 1, 2, 3), "email_open"), ("S1", "visit", D(2026, 1, 3)), ("S1", "mql", D(2026, 1, 4)),
        ("S1", "sql", D(2026, 1, 5)), _sent("S1", D(2026, 1, 6)),  # after SQL: not counted
        ("E1", "lead", D(2026, 1, 1)), ("E1", "webinar", D(2026, 1, 2)), ("E1", "mql", D(2026, 1, 3)),
        ("E1", "sql", D(2026, 1, 4)),
    )
    table = messages_before_sql(con, AS_OF).set_index("seniority")
    staff, executive = table.loc["staff"], table.loc["executive"]
    assert (staff["sql_leads"], staff["enrolled"], staff["median_messages"], staff["median_opens"]) == (1, 1, 2, 1)
    assert staff["median_touches"] == 2  # the open and the visit; messages sent are not touches
    assert (executive["enrolled"], executive["enrolled_share"], executive["median_touches"]) == (0, 0.0, 1)
    assert list(table.index) == ["staff", "executive"]


def test_on_the_demo_the_case_study_step_moves_leads(small_demo):
    with reader(small_demo) as con:
        steps = sequence_steps(con, Filters(as_of=date(2026, 10, 31)), "nurture-welcome")
        exits = sequence_exits(con, Filters(as_of=date(2026, 10, 31)), "nurture-welcome")
    assert steps["day"].round().tolist()[:5] == [0, 1, 3, 7, 30]
    best = steps.set_index("step")["difference"].idxmax()
    assert best == 3 and steps.set_index("step").loc[3, "difference_ci_low"] > 0  # the day-3 case study
    assert steps["click_rate"].idxmax() == 2  # it is also the most clicked
    assert step_verdict(steps).startswith("Step 3 (day 3) moves leads most")
    reasons = exits.groupby("reason")["leads"].sum()
    assert reasons["advanced"] > reasons["unsubscribed"] > 0 and reasons["finished"] > 0


def test_sequences_command_prints_the_steps(capsys, small_demo):
    code = main(["--db", str(small_demo), "sequences", "--as-of", "2026-10-31", "--format", "json"])
    records = json.loads(capsys.readouterr().out)
    assert code == 0 and [r["step"] for r in records] == list(range(1, 9))
    assert records[0]["sequence"] == "nurture-welcome"
    assert {"sent", "opened", "clicked", "difference"} <= set(records[0])
