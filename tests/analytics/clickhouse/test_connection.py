"""The connection adapter without a server: what it sends to the clickhouse-connect client, and how it
hands rows back (the same client code against the real engine runs in tests/parity)."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from analytics.clickhouse.connection import ClickHouseConnection, Result


class FakeClient:
    """Records what the adapter asks a clickhouse-connect client to do; answers with a fixed table."""

    def __init__(self, answer: pa.Table) -> None:
        self.answer = answer
        self.calls: list[tuple[str, str, object]] = []

    def query(self, sql: str, parameters: object = None):
        return type("QueryResult", (), {"result_rows": [("won_times",)]})()

    def query_arrow(self, sql: str, parameters: object = None, use_strings: bool = False) -> pa.Table:
        self.calls.append(("query", sql, parameters))
        return self.answer

    def command(self, sql: str, parameters: object = None) -> None:
        self.calls.append(("command", sql, parameters))


def test_a_query_is_translated_and_its_values_sent_as_typed_parameters() -> None:
    client = FakeClient(pa.table({"n": pa.array([3], pa.uint64())}))
    con = ClickHouseConnection(client)
    as_of = datetime(2026, 11, 2)
    assert con.execute("SELECT count(*) AS n FROM events WHERE occurred_at < ? AND stage = ?",
                       [as_of, "it's"]).fetchone() == (3,)
    kind, sql, params = client.calls[0]
    assert kind == "query" and "{p1:DateTime64(6)}" in sql and "{p2:String}" in sql
    assert "it's" not in sql and params == {"p1": as_of, "p2": "it's"}


def test_a_statement_without_rows_is_a_command() -> None:
    client = FakeClient(pa.table({}))
    ClickHouseConnection(client).execute("CREATE TABLE x (a BIGINT)")
    assert client.calls[0][0] == "command"


def test_list_columns_decide_how_is_null_is_translated() -> None:
    client = FakeClient(pa.table({"x": [1]}))
    ClickHouseConnection(client).execute("SELECT won_times IS NULL AS x FROM journeys")
    assert "empty(won_times)" in client.calls[0][1]


def test_rows_come_back_as_duckdb_gives_them() -> None:
    table = pa.table({
        "n": pa.array([1, 2], pa.uint64()),
        "t": pa.array([datetime(2026, 1, 1, 10), None], pa.timestamp("us", tz="UTC")),
        "v.campaign_id": ["a", None],
        "flag": pa.array([True, False]),
    })
    result = Result(table)
    frame = result.df()
    assert list(frame.columns) == ["n", "t", "campaign_id", "flag"]
    assert [str(frame[c].dtype) for c in frame.columns] == ["int64", "datetime64[us]", "object", "bool"]
    assert result.fetchone() == (1, datetime(2026, 1, 1, 10), "a", True)
    assert result.fetchall() == [(2, None, None, False)]
    assert result.fetchone() is None
