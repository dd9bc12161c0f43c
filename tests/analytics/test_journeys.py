"""The journey table: its rows on hand-made logs, kept equal to a full rebuild by every writer, and the
analytics read from it equal to the same analytics read from the events."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from unittest.mock import patch

import duckdb
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics import journeys, schema
from analytics.channels import channel_comparison
from analytics.durations import Duration
from analytics.errors import BadInput
from analytics.filters import Filters
from analytics.funnel import (
    FunnelSpec,
    _event_units_query,
    _journey_units_query,
    _units_query,
    funnel,
)
from analytics.imports import import_file, remove_import
from analytics.time_to_convert import ConversionSpec, _outcomes_query
from analytics.warehouse import reader, writer
from tests.analytics.conftest import insert_events, insert_leads
from tests.analytics.test_funnel_properties import (
    LEADS,
    filter_sets,
    lead_rows,
    moments,
    specs,
)

LATER = Filters(as_of=date(2030, 1, 1))


def journey(con: duckdb.DuckDBPyConnection, lead_id: str) -> dict:
    cursor = con.execute("SELECT * FROM journeys WHERE lead_id = ?", [lead_id])
    return dict(zip([column[0] for column in cursor.description], cursor.fetchone()))


def table(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute("SELECT * FROM journeys ORDER BY lead_id").fetchall()


def rebuilt(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """The rows a full rebuild would write, in the table's column order (the warehouse is not changed)."""
    columns = ", ".join(name for name, *_ in con.execute("DESCRIBE journeys").fetchall())
    return con.execute(f"SELECT {columns} FROM ({journeys._build_sql('')}) ORDER BY lead_id").fetchall()


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict, columns: str) -> list[tuple]:
    return con.execute(f"SELECT {columns} FROM ({sql}) ORDER BY unit_id", params).fetchall()


# What a journey holds


def test_a_lead_with_each_stage_once_has_plain_times_and_no_lists(con, add_events):
    add_events(("L1", "lead", "2024-01-01"), ("L1", "visit", "2024-01-02"), ("L1", "mql", "2024-01-03"))
    row = journey(con, "L1")
    assert (row["lead_at"], row["mql_at"], row["sql_at"]) == (datetime(2024, 1, 1), datetime(2024, 1, 3), None)
    assert all(row[f"{stage}_times"] is None for stage in schema.FUNNEL_STAGES)


def test_a_repeated_stage_keeps_every_time_in_order_and_won_values_go_with_their_times(con):
    # L1 re-enters as MQL (Jan 9 and Jan 3, inserted out of order) and wins twice, with values 5 and 7.
    con.executemany(
        "INSERT INTO events (lead_id, stage, occurred_at, value, import_id) VALUES (?, ?, ?, ?, 1)",
        [("L1", "mql", "2024-01-09", None), ("L1", "mql", "2024-01-03", None),
         ("L1", "won", "2024-03-01", 7.0), ("L1", "won", "2024-02-01", 5.0)],
    )
    journeys.rebuild(con)
    row = journey(con, "L1")
    assert row["mql_at"] == datetime(2024, 1, 3)
    assert row["mql_times"] == [datetime(2024, 1, 3), datetime(2024, 1, 9)]
    assert row["won_times"] == [datetime(2024, 2, 1), datetime(2024, 3, 1)]
    assert (row["won_value"], row["won_values"]) == (5.0, [5.0, 7.0])


def test_first_touch_is_the_earliest_non_blank_value_ties_broken_by_the_value(con, add_events, add_leads):
    # Jan 1 has a blank channel and a space; Jan 2 has "web" and "ads" at the same instant: "ads" wins.
    add_events(("L1", "lead", "2024-01-01", ""), ("L1", "visit", "2024-01-01", " "),
               ("L1", "visit", "2024-01-02", "web"), ("L1", "mql", "2024-01-02", " ads "))
    add_leads({"lead_id": "L1", "channel": " partner ", "seniority": "head", "account_id": " "})
    row = journey(con, "L1")
    assert (row["channel"], row["channel_at"]) == ("ads", datetime(2024, 1, 2))
    assert (row["lead_channel"], row["seniority"], row["account_id"]) == ("partner", "head", None)


def test_before_its_first_touch_a_lead_is_grouped_by_the_leads_table(con, add_events, add_leads):
    # The touch with a channel comes on Jan 10; seen as of Jan 5 the lead's channel is the leads table's.
    add_events(("L1", "lead", "2024-01-01"), ("L1", "visit", "2024-01-10", "ads"))
    add_leads({"lead_id": "L1", "channel": "partner"})
    spec = FunnelSpec(stages=("lead", "mql"), by="channel")
    assert funnel(con, spec, Filters(as_of=date(2024, 1, 5)))["group"].unique().tolist() == ["partner"]
    assert funnel(con, spec, LATER)["group"].unique().tolist() == ["ads"]


# Kept current by every writer


EVENTS = ("lead_id,stage,occurred_at,channel\nL1,lead,2026-01-05,webinar\nL1,mql,2026-01-20,\n"
          "L2,lead,2026-01-06,display\nL3,lead,2026-01-07,\n")
MORE = "lead_id,stage,occurred_at,value\nL1,mql,2026-02-01,\nL2,mql,2026-01-10,\nL2,won,2026-03-01,900\nL4,lead,2026-02-02,\n"
LEAD_FILE = "lead_id,channel,seniority\nL3,referral,staff\nL9,ads,head\n"


def test_imports_and_removing_them_keep_the_table_equal_to_a_full_rebuild(wcon, write_file):
    first = import_file(wcon, "events", write_file("events.csv", EVENTS))
    assert table(wcon) == rebuilt(wcon) and len(table(wcon)) == 3
    second = import_file(wcon, "events", write_file("more.csv", MORE))  # L1 re-enters MQL, L4 is new
    assert import_file(wcon, "events", write_file("more.csv", MORE)).already_imported
    leads = import_file(wcon, "leads", write_file("leads.csv", LEAD_FILE))
    assert table(wcon) == rebuilt(wcon)
    assert len(journey(wcon, "L1")["mql_times"]) == 2 and journey(wcon, "L3")["lead_channel"] == "referral"
    for removed in (first, leads, second):
        remove_import(wcon, removed.import_id)
        assert table(wcon) == rebuilt(wcon)
        assert journeys.is_current(wcon)
    assert table(wcon) == []


def test_a_first_import_builds_every_journey_and_records_what_it_was_built_from(wcon, write_file):
    import_file(wcon, "events", write_file("events.csv", EVENTS))
    assert [row[0] for row in table(wcon)] == ["L1", "L2", "L3"] and table(wcon) == rebuilt(wcon)
    assert wcon.execute("SELECT events, leads FROM journey_state").fetchone() == (4, 0)
    assert journeys.is_current(wcon)


def test_first_touches_padded_with_any_kind_of_space_are_trimmed(wcon, write_file):
    padded = "lead_id,stage,occurred_at,channel,campaign_id\nL1,lead,2026-01-05,\u00a0webinar ,\u3000\nL1,mql,2026-01-06,ads,C1\n"
    import_file(wcon, "events", write_file("padded.csv", padded))
    import_file(wcon, "leads", write_file("leads.csv", "lead_id,channel,seniority\nL1,\u2003partner,\u00a0\n"))
    row = journey(wcon, "L1")
    assert (row["channel"], row["campaign_id"], row["lead_channel"], row["seniority"]) == ("webinar", "C1", "partner", None)
    assert table(wcon) == rebuilt(wcon)


def test_a_failed_import_leaves_the_journeys_as_they_were(wcon, write_file):
    import_file(wcon, "events", write_file("events.csv", EVENTS))
    before = table(wcon)
    with pytest.raises(BadInput, match="not a date"):
        import_file(wcon, "events", write_file("bad.csv", "lead_id,stage,occurred_at\nL1,sql,someday\n"))
    assert table(wcon) == before and journeys.is_current(wcon)


def test_a_small_import_refreshes_only_its_leads(wcon, write_file):
    many = "lead_id,stage,occurred_at\n" + "".join(f"M{i},lead,2026-01-01\n" for i in range(10))
    import_file(wcon, "events", write_file("many.csv", many))
    import_file(wcon, "events", write_file("one.csv", "lead_id,stage,occurred_at\nM3,mql,2026-01-02\n"))
    assert table(wcon) == rebuilt(wcon)
    assert journey(wcon, "M3")["mql_at"] == datetime(2026, 1, 2)


def test_the_demo_builds_its_journeys_and_they_give_the_funnel_the_events_give(small_demo):
    with reader(small_demo) as con:
        assert journeys.is_current(con)
        assert table(con) == rebuilt(con)
        filters = Filters(since=date(2025, 9, 1), as_of=date(2026, 6, 1), channels=("webinar", "display"))
        spec = FunnelSpec(by="channel")
        from_journeys = funnel(con, spec, filters)
        with patch("analytics.funnel._journey_units_query", return_value=None):
            pd.testing.assert_frame_equal(from_journeys, funnel(con, spec, filters))


def test_rows_written_around_the_writers_are_answered_from_the_events_until_a_writer_rebuilds(tmp_path):
    path = tmp_path / "w.duckdb"
    with writer(path) as con:
        insert_events(con, ("L1", "lead", "2024-01-01"), ("L1", "mql", "2024-01-02"))
        con.execute("INSERT INTO events (lead_id, stage, occurred_at, import_id) VALUES ('L2', 'lead', '2024-01-03', 1)")
        assert not journeys.is_current(con)
        assert _journey_units_query(con, FunnelSpec(), LATER) is None
        assert funnel(con, FunnelSpec(), LATER)["count"].tolist() == [2, 1, 0, 0]
    with writer(path) as con:  # opening for writing brings the warehouse, journeys included, up to date
        assert journeys.is_current(con) and len(table(con)) == 2


def test_specs_the_table_does_not_keep_are_answered_from_the_events(con, add_events, add_leads):
    add_events(("L1", "lead", "2024-01-01"), ("L1", "visit", "2024-01-02"))
    add_leads({"lead_id": "L1", "account_id": "A1", "attributes": {"region": "EU"}})
    for spec in (FunnelSpec(stages=("lead", "visit")), FunnelSpec(unit="account"), FunnelSpec(by="region")):
        assert _journey_units_query(con, spec, LATER) is None
        assert funnel(con, spec, LATER)["count"].iloc[0] == 1
    assert _journey_units_query(con, FunnelSpec(by="seniority"), LATER) is not None


# The same answers as from the events, on the property tests' random logs (with campaigns and values)


event_rows = st.lists(
    st.tuples(
        st.sampled_from(LEADS), st.sampled_from(["lead", "mql", "sql", "won", "lost", "visit"]), moments,
        st.sampled_from([None, "", "ads", "web"]), st.sampled_from([None, "c1", "c2"]),
        st.sampled_from([None, 10.0, 250.0]),
    ),
    max_size=20,
)
filters_with_campaigns = st.builds(
    lambda base, campaigns: replace(base, campaigns=campaigns), filter_sets, st.sampled_from([(), ("c1",), ("(none)",)])
)


def load(con: duckdb.DuckDBPyConnection, events: list[tuple], leads: list[dict]) -> None:
    con.execute("DELETE FROM events; DELETE FROM leads")
    if events:
        con.executemany("INSERT INTO events (lead_id, stage, occurred_at, channel, campaign_id, value, import_id) "
                        "VALUES (?, ?, ?, ?, ?, ?, 1)", events)
    insert_leads(con, *[lead | {"seniority": lead["account_id"]} for lead in leads])
    journeys.rebuild(con)


@settings(max_examples=60, deadline=None)
@given(events=event_rows, leads=lead_rows, spec=specs(), filters=filters_with_campaigns,
       by=st.sampled_from([None, "channel", "campaign_id", "seniority"]))
def test_every_unit_reaches_the_same_step_at_the_same_time_from_the_journeys_and_the_events(
    shared_con, events, leads, spec, filters, by
):
    load(shared_con, events, leads)
    spec = replace(spec, unit="lead", by=by)
    columns = "unit_id, grp, entered_at, reached, last_at, open"
    from_journeys = rows(shared_con, *_journey_units_query(shared_con, spec, filters), columns)
    assert from_journeys == rows(shared_con, *_event_units_query(shared_con, spec, filters), columns)


@settings(max_examples=60, deadline=None)
@given(events=event_rows, leads=lead_rows, filters=filters_with_campaigns,
       pair=st.sampled_from([("lead", "won"), ("mql", "sql"), ("sql", "won"), ("lead", "lost"), ("mql", "won")]),
       window=st.sampled_from(["default", None, Duration(seconds=10 * 86_400), Duration(months=1)]),
       by=st.sampled_from([None, "channel"]))
def test_every_unit_has_the_same_outcome_from_the_journeys_and_the_events(shared_con, events, leads, filters, pair, window, by):
    load(shared_con, events, leads)
    spec = ConversionSpec(*pair, window=window, by=by)
    columns = "unit_id, grp, entered_at, deadline, outcome, to_before_from, ended_at, days, expired"
    from_journeys = rows(shared_con, *_outcomes_query(shared_con, spec, filters), columns)
    with patch("analytics.time_to_convert._journey_units_query", return_value=None):
        assert from_journeys == rows(shared_con, *_outcomes_query(shared_con, spec, filters), columns)


@settings(max_examples=40, deadline=None)
@given(events=event_rows, leads=lead_rows, filters=filters_with_campaigns, by=st.sampled_from(["channel", "campaign"]))
def test_channel_costs_are_the_same_from_the_journeys_and_the_events(shared_con, events, leads, filters, by):
    load(shared_con, events, leads)
    from_journeys = channel_comparison(shared_con, filters, by)
    with patch("analytics.channels._journey_units_query", return_value=None), \
         patch("analytics.time_to_convert._journey_units_query", return_value=None):
        pd.testing.assert_frame_equal(from_journeys, channel_comparison(shared_con, filters, by))


def test_the_analytics_use_the_journey_query_when_the_table_answers(con, add_events):
    add_events(("L1", "lead", "2024-01-01"))
    assert _units_query(con, FunnelSpec(), LATER) == _journey_units_query(con, FunnelSpec(), LATER)


# The build against a plain-Python reference, on logs full of ties


SPACES = " \u00a0\u2003\u3000"  # spaces (Unicode category Zs) that trim removes


def reference(events: list[tuple], leads: list[tuple]) -> list[tuple]:
    """The journey rows worked out in Python from events (lead_id, stage, occurred_at, channel, campaign_id,
    value) and leads (lead_id, created_at, channel, campaign_id, seniority, account_id), as `table` lists them."""

    def value(text: str | None) -> str | None:
        return (text or "").strip(SPACES) or None

    def first_touch(rows: list[tuple], column: int) -> tuple:
        touches = sorted((row[2], value(row[column])) for row in rows if value(row[column]) is not None)
        return touches[0][::-1] if touches else (None, None)

    def lead_value(lead_id: str, column: int) -> str | None:
        rows = sorted((row[1] is None, row[1] or T1, value(row[column])) for row in leads
                      if row[0] == lead_id and value(row[column]))  # created last when it has no time
        return rows[0][2] if rows else None

    journeys_rows = []
    for lead_id in sorted({row[0] for row in events}):
        rows = [row for row in events if row[0] == lead_id]
        if not any(row[1] in schema.FUNNEL_STAGES or value(row[3]) or value(row[4]) for row in rows):
            continue
        times = {stage: sorted(row[2] for row in rows if row[1] == stage) for stage in schema.FUNNEL_STAGES}
        won = sorted(((row[2], row[5]) for row in rows if row[1] == "won"), key=lambda w: (w[0], w[1] is None, w[1] or 0))
        journeys_rows.append((
            lead_id,
            *(times[stage][0] if times[stage] else None for stage in schema.FUNNEL_STAGES),
            *(times[stage] if len(times[stage]) > 1 else None for stage in schema.FUNNEL_STAGES),
            won[0][1] if won else None, [v for _, v in won] if len(won) > 1 else None,
            *first_touch(rows, 3), *first_touch(rows, 4),
            *(lead_value(lead_id, column) for column in (2, 3, 4, 5)),
        ))
    return journeys_rows


COLUMNS = ("lead_id, lead_at, mql_at, sql_at, won_at, lost_at, lead_times, mql_times, sql_times, won_times, lost_times, "
           "won_value, won_values, channel, channel_at, campaign_id, campaign_at, lead_channel, lead_campaign_id, seniority, account_id")


def load_rows(con: duckdb.DuckDBPyConnection, events: list[tuple], leads: list[tuple]) -> list[tuple]:
    con.execute("DELETE FROM events; DELETE FROM leads")
    if events:
        con.executemany("INSERT INTO events (lead_id, stage, occurred_at, channel, campaign_id, value, import_id) "
                        "VALUES (?, ?, ?, ?, ?, ?, 1)", events)
    if leads:
        con.executemany("INSERT INTO leads (lead_id, created_at, channel, campaign_id, seniority, account_id, import_id) "
                        "VALUES (?, ?, ?, ?, ?, ?, 1)", leads)
    journeys.rebuild(con)
    return con.execute(f"SELECT {COLUMNS} FROM journeys ORDER BY lead_id").fetchall()


T1, T2, T3 = datetime(2024, 1, 1), datetime(2024, 1, 2), datetime(2024, 1, 3)


def test_ties_blanks_and_missing_rows_give_the_hand_worked_journeys(con):
    events = [
        # L1: campaigns "c2" and " c1 " tie first (c1 wins), channels blank/NULL then "web" and "ads" tie (ads),
        # MQL twice at one instant, won twice at one instant (values sorted: 5, 7).
        ("L1", "lead", T1, "", " c2", None), ("L1", "visit", T1, None, "\u00a0c1 ", None), ("L1", "visit", T1, " ", None, None),
        ("L1", "visit", T2, "web", "c0", None), ("L1", "visit", T2, "\u3000ads", None, None),
        ("L1", "mql", T2, None, None, None), ("L1", "mql", T2, None, None, None),
        ("L1", "won", T3, None, None, 7.0), ("L1", "won", T3, None, None, 5.0),
        # L2: one padded campaign touch, won once without a value; no leads row.
        ("L2", "lead", T2, None, " c9 ", None), ("L2", "won", T3, None, None, None),
        # L3: only a campaign touch on an event that is no funnel stage; L4: nothing a journey reads.
        ("L3", "visit", T1, None, "c3", None), ("L4", "visit", T1, " ", "", None),
    ]
    leads = [("L1", T2, " partner ", None, "head", "\u00a0"), ("L1", T1, "", "c5", None, "A1"),
             ("L3", None, "ads", None, None, None), ("L5", T1, "web", None, None, None)]  # L5 has no events
    none5 = (None,) * 5
    assert load_rows(con, events, leads) == [
        ("L1", T1, T2, None, T3, None, None, [T2, T2], None, [T3, T3], None, 5.0, [5.0, 7.0],
         "ads", T2, "c1", T1, "partner", "c5", "head", "A1"),
        ("L2", T2, None, None, T3, None, *none5, None, None, None, None, "c9", T2, None, None, None, None),
        ("L3", *none5, *none5, None, None, None, None, "c3", T1, "ads", None, None, None),
    ]
    assert load_rows(con, events, leads) == reference(events, leads)


@settings(max_examples=150, deadline=None)
@given(
    events=st.lists(st.tuples(
        st.sampled_from(["L1", "L2", "L3"]), st.sampled_from(["lead", "mql", "won", "lost", "visit"]),
        st.sampled_from([T1, T2, T3]), st.sampled_from([None, "", " ", "ads", " web", "\u00a0ads", "web"]),
        st.sampled_from([None, "", "c1", "c2 ", "\u2003c1"]), st.sampled_from([None, 5.0, 7.0]),
    ), max_size=24),
    leads=st.lists(st.tuples(
        st.sampled_from(["L1", "L2", "L4"]), st.sampled_from([None, T1, T2]), st.sampled_from([None, "", "ads", " web"]),
        st.sampled_from([None, "c1"]), st.sampled_from([None, " ", "head"]), st.sampled_from([None, "A1"]),
    ), max_size=4, unique_by=lambda lead: (lead[0], lead[1])),  # created times differ within a lead
)
def test_the_build_matches_a_plain_python_reference_with_ties(shared_con, events, leads):
    assert load_rows(shared_con, events, leads) == reference(events, leads)
