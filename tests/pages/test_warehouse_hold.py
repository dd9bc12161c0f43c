"""A script run keeps the DuckDB warehouse its first query opened until it ends (dashboard._warehouse_held)."""

from __future__ import annotations

import time

import duckdb
import pytest

from analytics.warehouse import writer


def _null_order(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("SELECT lower(current_setting('default_null_order'))").fetchone()[0]


def _set_null_order(con: duckdb.DuckDBPyConnection) -> str:
    # A database-wide setting: a later connection sees it only if the database stayed open in between.
    con.execute("SET GLOBAL default_null_order = 'nulls_first_on_asc_last_on_desc'")
    return _null_order(con)


def _lead_count(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT count(*) FROM leads").fetchone()[0]


@pytest.fixture
def dashboard(monkeypatch, warehouse):
    import dashboard

    monkeypatch.setenv("ANALYTICS_DB", str(warehouse))
    dashboard._cached_query.clear()
    yield dashboard
    dashboard._cached_query.clear()


def test_the_queries_of_one_run_share_the_open_database_and_the_next_run_opens_it_afresh(dashboard):
    with dashboard._warehouse_held():
        assert dashboard.run_query(_set_null_order) == "nulls_first_on_asc_last_on_desc"
        assert dashboard.run_query(_null_order) == "nulls_first_on_asc_last_on_desc"
    dashboard._cached_query.clear()
    with dashboard._warehouse_held():
        assert dashboard.run_query(_null_order) == "nulls_last"  # DuckDB's default: the database was closed


def test_without_a_run_each_query_opens_the_database_afresh(dashboard):
    dashboard.run_query(_set_null_order)
    assert dashboard.run_query(_null_order) == "nulls_last"


def test_a_run_that_finds_every_result_cached_opens_nothing(dashboard):
    dashboard.run_query(_lead_count)
    with dashboard._warehouse_held():
        assert dashboard.run_query(_lead_count) == 0
        assert dashboard._run.hold is None


def test_a_run_releases_the_warehouse_for_a_writer_when_it_ends(dashboard, warehouse):
    with dashboard._warehouse_held():
        dashboard.run_query(_lead_count)
        assert dashboard._run.hold is not None
    assert dashboard._run.hold is None
    with writer(warehouse, timeout=0.5) as con:  # would wait and give up if a reader were still open
        con.execute("INSERT INTO leads (lead_id, created_at, import_id) VALUES ('a', TIMESTAMP '2026-01-01', 1)")


def test_a_write_inside_a_run_does_not_wait_for_the_runs_own_hold(dashboard):
    with dashboard._warehouse_held():
        assert dashboard.run_query(_lead_count) == 0
        started = time.monotonic()
        dashboard.run_write(lambda con: con.execute(
            "INSERT INTO leads (lead_id, created_at, import_id) VALUES ('a', TIMESTAMP '2026-01-01', 1)"))
        assert time.monotonic() - started < dashboard.BUSY_WAIT_SECONDS / 4
        assert dashboard.run_query(_lead_count) == 1  # the write cleared the cache; the query opens the new data
