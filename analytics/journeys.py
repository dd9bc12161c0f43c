"""The per-lead journey table: one row per lead with its funnel-stage times and first touch.

The funnel and everything built on it (time to convert, cohorts, channels) follow leads through the
stages; grouping every event on each query costs a full pass over `events`. `journeys` keeps what those
queries read, per lead, so they scan one row per lead instead (`analytics.funnel` uses it where it
answers a spec exactly and falls back to the events otherwise). Columns (DDL: `analytics.schema`):

- `{stage}_at` for each funnel stage (lead, mql, sql, won, lost): the lead's earliest event of it;
  `{stage}_times`: every time it has that stage, in order, only when there are several (NULL otherwise).
  Most leads do each stage at most once, so the plain columns answer for them and only re-entries read
  lists. `won_value` is the earliest won event's value; `won_values` goes with `won_times`.
- `channel`, `campaign_id` with `channel_at`, `campaign_at`: the first non-empty (trimmed) value among
  all the lead's events (ties in time broken by the value) and its time, so "first touch as of A" is
  the value when its time is before A, else the leads table's.
- `lead_channel`, `lead_campaign_id`, `seniority`, `account_id`: the lead's own trimmed, non-empty
  values from the leads table (the earliest-created row with a value, as the funnel reads them).

Everything here is exact at any as-of date: a time list cut at A is what the events up to A give, and
a first touch after A does not exist yet. The table is derived data: the writers (imports, removing an
import, the demo) rebuild the rows of the leads they touch in their own transaction, and
`journey_state` records how many events and leads it was built from. A table that does not match
(rows written around these writers) is not used by queries, and `analytics.schema.migrate` rebuilds it
when a writer next opens the warehouse, which also builds it for a warehouse of an older version.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import duckdb

from analytics.schema import FUNNEL_STAGES
from analytics.sources import value_sql
from analytics.sql import quote_ident, quote_literal

_SCOPE = "temp.journey_scope"
_TOUCH_TIMES = {"channel": "channel_at", "campaign_id": "campaign_at"}  # first-touch columns and their times
_STAGES = "[" + ", ".join(quote_literal(stage) for stage in FUNNEL_STAGES) + "]"


def times_sql(stage: str) -> str:
    """SQL for every time a lead has `stage` (a funnel stage), as a sorted list; [NULL] when it has none."""
    first, times = quote_ident(f"{stage}_at"), quote_ident(f"{stage}_times")
    return f"coalesce({times}, [{first}])"


def first_from_sql(stage: str, start: str) -> str:
    """SQL for the lead's first `stage` time at or after `start` and before `$as_of`; NULL when none.

    The earliest time answers unless it is before `start`; then only a lead with several times can
    still have one: the first of its sorted times in [start, as-of).
    """
    first, times = quote_ident(f"{stage}_at"), quote_ident(f"{stage}_times")
    return (f"CASE WHEN {first} >= {start} THEN CASE WHEN {first} < $as_of THEN {first} END "
            f"WHEN {times} IS NOT NULL THEN list_filter({times}, lambda x: x >= {start} AND x < $as_of)[1] END")


def first_before_sql(stage: str) -> str:
    """SQL for the lead's earliest `stage` (a funnel stage) time when it is before `$as_of`; NULL otherwise."""
    first = quote_ident(f"{stage}_at")
    return f"CASE WHEN {first} < $as_of THEN {first} END"


def last_before_sql(stage: str) -> str:
    """SQL for the lead's latest `stage` (a funnel stage) time before `$as_of`; NULL when it has none."""
    return (f"CASE WHEN {quote_ident(f'{stage}_at')} < $as_of "
            f"THEN list_max(list_filter({times_sql(stage)}, lambda x: x < $as_of)) END")


def attribute_sql(name: str) -> str:
    """SQL for a lead's `name` (channel, campaign_id, seniority or account_id) as the funnel reads it at
    `$as_of`: the first touch among its events before then, else the leads table's; NULL without one."""
    if name in _TOUCH_TIMES:
        return (f"coalesce(CASE WHEN {_TOUCH_TIMES[name]} < $as_of THEN {quote_ident(name)} END, "
                f"{quote_ident(f'lead_{name}')})")
    return quote_ident(name)


def is_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the journeys were built from the events and leads the warehouse holds now (by their counts)."""
    return con.execute(
        "SELECT events = (SELECT count(*) FROM events) AND leads = (SELECT count(*) FROM leads) FROM journey_state"
    ).fetchone()[0]


def rebuild(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild every journey from the events and leads (inside the caller's transaction, if any)."""
    con.execute("DELETE FROM journeys")
    con.execute(f"INSERT INTO journeys BY NAME {_build_sql('')}")
    _record_state(con)


@contextmanager
def refreshed(con: duckdb.DuckDBPyConnection, leads_sql: str, params: Mapping[str, object] | None = None) -> Iterator[None]:
    """Note the leads `leads_sql` selects (a query with a `lead_id` column) now, and rebuild their
    journeys once the block has written its rows, in the caller's transaction.

    Noting them first lets a block that deletes rows (removing an import) name the leads it changes.
    Without any journeys yet (a first import) there is nothing to note: every journey is built.
    A block that fails leaves the rebuild to the caller's rollback.
    """
    built = con.execute("SELECT count(*) FROM journeys").fetchone()[0]
    if not built:
        yield
        rebuild(con)
        return
    con.execute(f"CREATE OR REPLACE TEMP TABLE journey_scope AS SELECT DISTINCT lead_id FROM ({leads_sql})",
                dict(params or {}))
    yield
    scoped = con.execute(f"SELECT count(*) FROM {_SCOPE}").fetchone()[0]
    if 2 * scoped >= built:
        rebuild(con)  # as quick as looking the leads up
    else:
        scope = f"WHERE lead_id IN (SELECT lead_id FROM {_SCOPE})"
        con.execute(f"DELETE FROM journeys {scope}")
        con.execute(f"INSERT INTO journeys BY NAME {_build_sql(scope)}")
        _record_state(con)
    con.execute(f"DROP TABLE {_SCOPE}")


def _record_state(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("UPDATE journey_state SET events = (SELECT count(*) FROM events), leads = (SELECT count(*) FROM leads)")


def _build_sql(scope: str) -> str:
    """SELECT of the journey rows of the leads `scope` keeps (a WHERE clause on lead_id, or empty for all):
    one per lead with an event of a funnel stage or an event carrying a channel or campaign.

    One pass over the events takes each stage's earliest time, the count of stage events (more than
    the stages seen: a stage repeats) and the first touches. Only the few leads with a repeated stage
    get a second pass over their stage events for the time lists, which cost much more per event.
    """
    firsts = ", ".join(f"min(occurred_at) FILTER (WHERE stage = {quote_literal(s)}) AS {s}_at" for s in FUNNEL_STAGES)
    stages_seen = " + ".join(f"({s}_at IS NOT NULL)::INTEGER" for s in FUNNEL_STAGES)
    lists = ", ".join(
        f"CASE WHEN count(*) FILTER (WHERE stage = {quote_literal(s)}) > 1 "
        f"THEN list_sort(list(occurred_at) FILTER (WHERE stage = {quote_literal(s)})) END AS {s}_times"
        for s in FUNNEL_STAGES
    )
    stages = ", ".join(f"{s}_at, {s}_times" for s in FUNNEL_STAGES)
    touch = "channel_touch.v AS channel, channel_touch.t AS channel_at, campaign_touch.v AS campaign_id, campaign_touch.t AS campaign_at"
    lead_values = ", ".join(
        f"arg_min({v}, coalesce(created_at, 'infinity'::TIMESTAMP)) FILTER (WHERE {v} IS NOT NULL) AS {name}"
        for v, name in (("c", "lead_channel"), ("p", "lead_campaign_id"), ("s", "seniority"), ("a", "account_id"))
    )
    return f"""
        WITH cleaned AS (
            SELECT lead_id, stage, occurred_at, value,
                   {value_sql('channel')} AS channel, {value_sql('campaign_id')} AS campaign_id
            FROM events {scope}),
        picked AS (  -- the events a journey reads: funnel stages and touches with a value
            SELECT * FROM cleaned
            WHERE list_contains({_STAGES}, stage) OR channel IS NOT NULL OR campaign_id IS NOT NULL),
        per_lead AS MATERIALIZED (
            SELECT lead_id, {firsts}, count(*) FILTER (WHERE list_contains({_STAGES}, stage)) AS stage_events,
                   max(value) FILTER (WHERE stage = 'won') AS won_once,  -- the value when it wins once
                   min({{'t': occurred_at, 'v': channel}}) FILTER (WHERE channel IS NOT NULL) AS channel_touch,
                   min({{'t': occurred_at, 'v': campaign_id}}) FILTER (WHERE campaign_id IS NOT NULL) AS campaign_touch
            FROM picked GROUP BY lead_id),
        repeats AS (  -- the leads with a stage more than once: their stages' times and won values
            SELECT lead_id, {lists},
                   list_sort(list({{'t': occurred_at, 'v': value}}) FILTER (WHERE stage = 'won')) AS won_pairs
            FROM events
            WHERE list_contains({_STAGES}, stage) AND lead_id IN (SELECT lead_id FROM per_lead WHERE stage_events > {stages_seen})
            GROUP BY lead_id),
        lead_rows AS (
            SELECT lead_id, {lead_values}
            FROM (SELECT lead_id, created_at, {value_sql('channel')} AS c, {value_sql('campaign_id')} AS p,
                         {value_sql('seniority')} AS s, {value_sql('account_id')} AS a
                  FROM leads {scope})
            GROUP BY lead_id)
        SELECT lead_id, {stages},
               CASE WHEN len(won_pairs) > 1 THEN won_pairs[1].v ELSE won_once END AS won_value,
               CASE WHEN len(won_pairs) > 1 THEN list_transform(won_pairs, lambda w: w.v) END AS won_values,
               {touch}, lead_channel, lead_campaign_id, seniority, account_id
        FROM per_lead LEFT JOIN repeats USING (lead_id) LEFT JOIN lead_rows USING (lead_id)"""
