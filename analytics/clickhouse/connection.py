"""A ClickHouse connection that the analytics functions use as if it were DuckDB's.

The analytics modules call `con.execute(sql, params)` with DuckDB SQL and read the result with `.df()`,
`.fetchall()` or `.fetchone()`. `ClickHouseConnection` does the same against ClickHouse: it translates
the SQL (`translate`), binds the parameters as typed server-side query parameters, runs the query
through clickhouse-connect and hands the rows back the way DuckDB would: the Arrow result is converted
to pandas / Python by DuckDB itself, so dtypes (nullable Int64, naive datetime64[us], bool) match.

`connect(url)` takes a ClickHouse HTTP(S) URL (`http://user:password@host:8123`) or, for tests and
single-machine use, `chdb:///path/to/folder`: the ClickHouse engine in this process (the `chdb`
package), driven through the same clickhouse-connect client code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Self

import duckdb
import pandas as pd
import pyarrow as pa

from analytics.clickhouse.translate import named_params, param_types, translate

SETTINGS: dict[str, object] = {
    "session_timezone": "UTC",  # DuckDB runs with TimeZone = 'UTC' (analytics.warehouse)
    "join_use_nulls": 1,  # an outer join's missing side is NULL, not 0 or ''
    "aggregate_functions_null_for_empty": 1,  # sum / min / max over no rows is NULL, not 0
    "allow_experimental_correlated_subqueries": 1,  # (SELECT ... WHERE e.lead_id = u.unit_id) in a SELECT
    "allow_experimental_join_condition": 1,  # ON conditions on one side only, or with <, >=
    "joined_subquery_requires_alias": 0,  # DuckDB joins an unnamed subquery: JOIN (SELECT ...) USING (id)
    "prefer_column_name_to_alias": 1,  # in `max(x) AS x`, x inside is the column, as in DuckDB
    "mutations_sync": 2,  # ALTER ... DELETE returns once it is done everywhere (the import path)
}
_QUERY = re.compile(r"^\s*(\(\s*)*(SELECT|WITH|DESCRIBE|SHOW|EXPLAIN)\b", re.IGNORECASE)


class Result:
    """The rows of one query, read like a DuckDB result: `.df()`, `.fetchall()`, `.fetchone()`, `.arrow()`."""

    def __init__(self, table: pa.Table) -> None:
        self._table = _as_duckdb_types(_as_duckdb_names(table))
        self._rows: list[tuple] | None = None
        self._next = 0

    def arrow(self) -> pa.Table:
        return self._table

    def df(self) -> pd.DataFrame:
        return duckdb.connect().from_arrow(self._table).df() if self._table.num_columns else pd.DataFrame()

    def fetchall(self) -> list[tuple]:
        rows = self._all()[self._next:]
        self._next = len(self._all())
        return rows

    def fetchone(self) -> tuple | None:
        rows = self._all()
        if self._next >= len(rows):
            return None
        self._next += 1
        return rows[self._next - 1]

    def _all(self) -> list[tuple]:
        if self._rows is None:
            self._rows = duckdb.connect().from_arrow(self._table).fetchall() if self._table.num_columns else []
        return self._rows


def _as_duckdb_names(table: pa.Table) -> pa.Table:
    """Columns named as DuckDB names them: `t.col` selected through `t.*` after a join with USING is
    `col` in DuckDB but `t.col` in ClickHouse (unless another column is already called `col`)."""
    names = table.column_names
    renamed = [n.split(".", 1)[1] if "." in n and n.split(".", 1)[1] not in names else n for n in names]
    return table if renamed == names else table.rename_columns(renamed)


def _as_duckdb_types(table: pa.Table) -> pa.Table:
    """ClickHouse's Arrow types as DuckDB would have produced them: unsigned counts as signed 64-bit
    (count() is UInt64 in ClickHouse, BIGINT in DuckDB) and UTC timestamps without a zone (TIMESTAMP)."""
    fields = []
    for field in table.schema:
        kind = field.type
        if pa.types.is_unsigned_integer(kind):
            kind = pa.int64()
        elif pa.types.is_timestamp(kind) and kind.tz is not None:
            kind = pa.timestamp(kind.unit)
        elif pa.types.is_dictionary(kind):
            kind = kind.value_type
        fields.append(pa.field(field.name, kind))
    schema = pa.schema(fields)
    return table if schema == table.schema else table.cast(schema)


class ClickHouseConnection:
    """The part of DuckDB's connection API the analytics modules use, on a clickhouse-connect client."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._lists: frozenset[str] | None = None

    def list_columns(self) -> frozenset[str]:
        """Names of the database's list (Array) columns, read once: the translation needs them."""
        if self._lists is None:
            rows = self.client.query(
                "SELECT name FROM system.columns WHERE database = currentDatabase() GROUP BY name "
                "HAVING countIf(type LIKE 'Array(%') = count()").result_rows
            self._lists = frozenset(r[0] for r in rows)
        return self._lists

    def execute(self, sql: str, params: Mapping[str, object] | Sequence[object] | None = None) -> Result:
        """Run DuckDB `sql` with DuckDB-style parameters (`$name` with a dict, `?` with a list)."""
        named = named_params(params)
        translated = translate(sql, param_types(named), self.list_columns())
        if not _QUERY.match(translated):
            self.client.command(translated, parameters=named or None)
            return Result(pa.table({}))
        return Result(self.client.query_arrow(translated, parameters=named or None, use_strings=True))

    def execute_clickhouse(self, sql: str, params: Mapping[str, object] | None = None) -> Result:
        """Run ClickHouse SQL as it is (no translation), `{name:Type}` parameters from `params`."""
        if not _QUERY.match(sql):
            self.client.command(sql, parameters=params or None)
            return Result(pa.table({}))
        return Result(self.client.query_arrow(sql, parameters=params or None, use_strings=True))

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(url: str, database: str | None = None) -> ClickHouseConnection:
    """A connection to the ClickHouse at `url` (http(s)://... or chdb:///folder), in `database` (else the
    URL's, else `default`), with the session settings that make ClickHouse answer as DuckDB does."""
    import clickhouse_connect

    client = clickhouse_connect.get_client(dsn=url, database=database, settings=SETTINGS)
    return ClickHouseConnection(client)
