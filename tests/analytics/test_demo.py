"""The demo generator: deterministic, and its stories show in plain SQL counts."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from analytics.demo import generate
from analytics.errors import BadInput
from analytics.warehouse import reader, writer

END = date(2026, 11, 1)


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    with writer(path) as con:
        generate(con, leads=20_000, seed=7, end=END)
    return path


def _fingerprint(path) -> tuple:
    with reader(path) as con:
        return tuple(con.execute(f"SELECT count(*), sum(hash(COLUMNS(* EXCLUDE (import_id)))) FROM {t}").fetchone()
                     for t in ("leads", "events", "campaigns", "sends", "experiment_variants", "experiment_units"))


def test_same_seed_and_end_date_give_identical_data(demo_warehouse, tmp_path):
    again = tmp_path / "again.duckdb"
    with writer(again) as con:
        generate(con, leads=20_000, seed=7, end=END)
    assert _fingerprint(again) == _fingerprint(demo_warehouse)


def test_another_seed_gives_other_data(demo_warehouse, tmp_path):
    other = tmp_path / "other.duckdb"
    with writer(other) as con:
        generate(con, leads=20_000, seed=8, end=END)
    assert _fingerprint(other) != _fingerprint(demo_warehouse)


def _lead_to_sql_by_channel(con) -> dict[str, tuple[float, float]]:
    rows = con.execute(
        """
        WITH j AS (SELECT lead_id, bool_or(stage = 'mql') AS mql, bool_or(stage = 'sql') AS sql FROM events GROUP BY 1)
        SELECT l.channel, avg(j.mql::INT), avg(j.sql::INT) FROM leads l JOIN j USING (lead_id) GROUP BY 1
        """
    ).fetchall()
    return {channel: (mql, sql) for channel, mql, sql in rows}


def test_display_has_the_worst_drop_off_and_webinars_the_best_lead_to_sql_rate(demo_warehouse):
    with reader(demo_warehouse) as con:
        rates = _lead_to_sql_by_channel(con)
        volume = dict(con.execute("SELECT channel, count(*) FROM leads GROUP BY 1").fetchall())
    assert len(rates) == 8
    assert max(volume, key=volume.get) == "display"
    assert min(rates, key=lambda c: rates[c][0]) == "display"  # worst lead -> MQL
    assert max(rates, key=lambda c: rates[c][1]) == "webinar"  # best lead -> SQL
    assert rates["webinar"][1] > 3 * rates["display"][1]


def test_senior_buyers_need_more_touches_and_engaged_ones_convert_more(demo_warehouse):
    with reader(demo_warehouse) as con:
        rows = con.execute(
            """
            WITH j AS (
                SELECT lead_id, bool_or(stage = 'mql') AS mql, bool_or(stage = 'sql') AS sql,
                       -- touches are what the lead did: funnel stages and messages sent to it are not
                       count(*) FILTER (WHERE stage NOT IN ('lead', 'mql', 'sql', 'won', 'lost', 'email_sent')) AS touches
                FROM events GROUP BY 1)
            SELECT l.seniority, avg(touches) FILTER (WHERE sql),
                   avg(sql::INT) FILTER (WHERE mql AND touches >= 8), avg(sql::INT) FILTER (WHERE mql AND touches < 5)
            FROM leads l JOIN j USING (lead_id) GROUP BY 1
            """
        ).fetchall()
    touches = {s: t for s, t, _, _ in rows}
    engaged, disengaged = {s: e for s, _, e, _ in rows}, {s: d for s, _, _, d in rows}
    assert touches["staff"] < touches["manager"] < touches["head"] < touches["executive"]
    assert 7 <= touches["executive"] <= 10
    assert engaged["executive"] > 2 * disengaged["executive"]


def test_journeys_respect_the_maximum_durations_and_recent_leads_are_still_open(demo_warehouse):
    with reader(demo_warehouse) as con:
        longest_mql_sql, longest_sql_close = con.execute(
            """
            WITH t AS (SELECT lead_id, min(occurred_at) FILTER (WHERE stage = 'mql') AS mql,
                              min(occurred_at) FILTER (WHERE stage = 'sql') AS sql,
                              min(occurred_at) FILTER (WHERE stage IN ('won', 'lost')) AS closed
                       FROM events GROUP BY 1)
            SELECT max(sql - mql), max(closed - sql) FILTER (WHERE sql IS NOT NULL) FROM t
            """
        ).fetchone()
        open_recent_sqls, last_event = con.execute(
            """
            SELECT count(*) FILTER (WHERE NOT closed), (SELECT max(occurred_at) FROM events)
            FROM (SELECT lead_id, bool_or(stage IN ('won', 'lost')) AS closed FROM events GROUP BY 1
                  HAVING bool_or(stage = 'sql'))
            """
        ).fetchone()
    assert longest_mql_sql.days <= 182 and longest_sql_close.days <= 151
    assert open_recent_sqls > 100
    assert last_event < datetime(2026, 11, 1)


def test_campaigns_sends_and_experiments_are_there(demo_warehouse):
    with reader(demo_warehouse) as con:
        channels_with_spend = con.execute("SELECT count(DISTINCT channel) FROM campaigns WHERE spend > 0").fetchone()[0]
        display_ctr, search_ctr = (con.execute(
            f"SELECT sum(clicks) / sum(impressions) FROM campaigns WHERE channel = '{c}'").fetchone()[0]
            for c in ("display", "paid_search"))
        ab = dict(((v, m), r) for v, m, r in con.execute(
            "SELECT variant, m, r FROM (SELECT variant, sum(clicked) / sum(delivered) AS click, "
            "sum(converted) / sum(delivered) AS conv FROM sends WHERE medium = 'email' GROUP BY 1) "
            "UNPIVOT (r FOR m IN (click, conv))").fetchall())
        experiments = con.execute("SELECT count(DISTINCT experiment) FROM experiment_variants").fetchone()[0]
        units = con.execute("SELECT count(*) FROM experiment_units").fetchone()[0]
    assert channels_with_spend == 8
    assert display_ctr < search_ctr
    assert ab[("B", "click")] > ab[("A", "click")] and ab[("B", "conv")] < ab[("A", "conv")]
    assert experiments == 2 and units > 1000


def test_demo_refuses_a_warehouse_with_data_unless_replacing(demo_warehouse, tmp_path):
    path = tmp_path / "w.duckdb"
    with writer(path) as con:
        generate(con, leads=1_000, end=END)
        with pytest.raises(BadInput, match="already holds data"):
            generate(con, leads=1_000, end=END)
        generate(con, leads=2_000, end=END, replace=True)
        assert con.execute("SELECT count(*) FROM leads").fetchone() == (2_000,)
        assert con.execute("SELECT count(*) FROM imports").fetchone() == (1,)


def test_the_funnel_engine_tells_the_demo_story(demo_warehouse):
    from analytics.filters import Filters
    from analytics.funnel import FunnelSpec, funnel

    with reader(demo_warehouse) as con:
        table = funnel(con, FunnelSpec(stages=("lead", "mql", "sql"), by="channel"), Filters(as_of=END))
    by_step = table.pivot(index="group", columns="stage", values="rate_from_first")
    drop_to_mql = table[table["stage"] == "mql"].set_index("group")["rate_from_previous"]
    assert drop_to_mql.idxmin() == "display"  # worst drop-off at the first step
    assert by_step["sql"].idxmax() == "webinar"  # best lead -> SQL
