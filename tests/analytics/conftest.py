"""Tiny in-memory warehouses built from a few literal rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import duckdb
import pytest

from analytics import journeys, schema


def insert_events(con: duckdb.DuckDBPyConnection, *rows: tuple) -> None:
    """Insert events given as (lead_id, stage, occurred_at[, channel[, campaign_id]])."""
    if not rows:
        return
    con.executemany(
        "INSERT INTO events (lead_id, stage, occurred_at, channel, campaign_id, import_id) VALUES (?, ?, ?, ?, ?, 1)",
        [(*row, *(None,) * (5 - len(row))) for row in rows],
    )
    journeys.rebuild(con)  # as the importers do, so the analytics read the journey table


def insert_leads(con: duckdb.DuckDBPyConnection, *rows: dict) -> None:
    """Insert leads given as dicts of lead columns, e.g. {"lead_id": "L1", "channel": "webinar"}."""
    if not rows:
        return
    columns = ("lead_id", "created_at", "channel", "campaign_id", "account_id", "seniority", "attributes")
    con.executemany(
        f"INSERT INTO leads ({', '.join(columns)}, import_id) VALUES ({', '.join('?' * len(columns))}, 1)",
        [tuple(row.get(column) for column in columns) for row in rows],
    )
    journeys.rebuild(con)


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """An empty in-memory warehouse with the schema applied."""
    connection = duckdb.connect()
    schema.migrate(connection)
    yield connection
    connection.close()


@pytest.fixture
def add_events(con: duckdb.DuckDBPyConnection) -> Callable[..., None]:
    return lambda *rows: insert_events(con, *rows)


@pytest.fixture
def add_leads(con: duckdb.DuckDBPyConnection) -> Callable[..., None]:
    return lambda *rows: insert_leads(con, *rows)


@pytest.fixture(scope="module")
def shared_con() -> Iterator[duckdb.DuckDBPyConnection]:
    """One in-memory warehouse for a module's property examples, each of which empties it first: migrating
    per example would dominate the runtime."""
    con = duckdb.connect()
    schema.migrate(con)
    yield con
    con.close()
