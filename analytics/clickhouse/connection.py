"""A ClickHouse connection that the analytics functions use as if it were DuckDB's.

The analytics modules call `con.execute(sql, params)` with DuckDB SQL and read the result with `.df()`,
`.fetchall()` or `.fetchone()`. `ClickHouseConnection` does the same against ClickHouse: it translates
the SQL (`translate`), binds the parameters as typed server-side query parameters, runs the query
through clickhouse-connect and hands the rows back the way DuckDB would: the Arrow result is converted
to pandas / Python by DuckDB itself, so dtypes (nullable Int64, naive datetime64[us], bool) match.

`connect(url)` takes a ClickHouse HTTP(S) URL (`http://user:password@host:8123`) or, for tests and
single-machine use, `chdb:///path/to/folder`: the ClickHouse engine in this process (the `chdb`
package), driven through the same clickhouse-connect client code. A ClickHouse that cannot be reached,
or a database without the warehouse's tables, raises `WarehouseUnavailable` naming the URL without its
password (`redacted`), as a DuckDB file that cannot be opened does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

import duckdb
import pandas as pd
import pyarrow as pa

from analytics.clickhouse.translate import named_params, param_types, translate
from analytics.errors import WarehouseUnavailable

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
_OS_REASON = re.compile(r"\[Errno -?\d+\] ([^\"'()]+)")  # "Connection refused" inside a long urllib3 message
_UNKNOWN_TABLE = 60  # ClickHouse's error code for a table the database does not have


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

    def __init__(self, client: Any, where: str = "ClickHouse") -> None:
        self.client = client
        self.where = where  # for messages: "ClickHouse at http://user@host:8123, database x" (no password)
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
        return self.execute_clickhouse(translate(sql, param_types(named), self.list_columns()), named)

    def execute_clickhouse(self, sql: str, params: Mapping[str, object] | None = None) -> Result:
        """Run ClickHouse SQL as it is (no translation), `{name:Type}` parameters from `params`. A server
        that stops answering raises WarehouseUnavailable."""
        from clickhouse_connect.driver.exceptions import OperationalError

        try:
            if not _QUERY.match(sql):
                self.client.command(sql, parameters=params or None)
                return Result(pa.table({}))
            return Result(self.client.query_arrow(sql, parameters=params or None, use_strings=True))
        except OperationalError as error:
            raise WarehouseUnavailable(f"{self.where} stopped answering: {_reason(error)}. Check that the server "
                                       "is still running and reachable from this machine") from error

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def redacted(url: str) -> str:
    """`url` as messages may show it: without the password.

    >>> redacted("http://analyst:s3cret@ch.example.com:8123/marketing"), redacted("chdb:///srv/ch")
    ('http://analyst@ch.example.com:8123/marketing', 'chdb:///srv/ch')
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=f"{parts.username}@{parts.netloc.rpartition('@')[2]}"))


def _reason(error: BaseException, url: str = "") -> str:
    """What went wrong, short: the operating system's words when there are some ("Connection refused"),
    else the error's first line; never the password of `url`."""
    text = str(error).strip()
    found = _OS_REASON.search(text)
    reason = found.group(1).strip() if found else text.splitlines()[0] if text else type(error).__name__
    password = urlsplit(url).password
    return reason.replace(password, "***") if password else reason


def connect(url: str, database: str | None = None) -> ClickHouseConnection:
    """A connection to the ClickHouse at `url` (http(s)://... or chdb:///folder), in `database` (else the
    URL's, else `default`), with the session settings that make ClickHouse answer as DuckDB does.

    Raises WarehouseUnavailable, naming the URL without its password and what to check, when it cannot be
    reached, refuses the user or has no such database.
    """
    import clickhouse_connect
    from clickhouse_connect.driver.exceptions import Error

    where = f"ClickHouse at {redacted(url)}" + (f", database {database}" if database else "")
    try:
        client = clickhouse_connect.get_client(dsn=url, database=database, settings=SETTINGS)
    except (Error, ImportError) as error:
        raise WarehouseUnavailable(
            f"{where} cannot be used: {_reason(error, url)}. Check that the server is running and reachable from "
            "this machine, the URL's scheme (http or https), host and port, the user and password, and that the "
            "database exists") from error
    return ClickHouseConnection(client, where)


def data_version(ch: ClickHouseConnection) -> tuple[int, int, int, int]:
    """A cheap fingerprint of the ClickHouse data for caching query results, as `warehouse.data_version` is
    for DuckDB: imports logged, the largest import id, imports removed, and the rows of every table (so a
    copied warehouse shows too). A database without the warehouse's tables raises WarehouseUnavailable."""
    from clickhouse_connect.driver.exceptions import DatabaseError

    try:
        row = ch.execute_clickhouse(
            "SELECT count(), coalesce(max(import_id), 0), countIf(removed_at IS NOT NULL), "
            "(SELECT coalesce(sum(total_rows), 0) FROM system.tables WHERE database = currentDatabase() "
            "AND NOT startsWith(name, '_')) FROM imports").fetchone()
    except DatabaseError as error:
        if getattr(error, "code", None) != _UNKNOWN_TABLE:
            raise
        raise WarehouseUnavailable(
            f"{ch.where} holds no warehouse (it has no imports table). Copy one in with "
            "analytics.clickhouse.load.copy_to_clickhouse (docs/clickhouse.md), or point the URL and database "
            "at the one that has it") from error
    return tuple(int(value) for value in row)
