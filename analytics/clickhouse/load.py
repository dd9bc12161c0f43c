"""Putting data into ClickHouse: the warehouse's tables copied over, and files imported atomically.

The layout is the DuckDB warehouse's (same tables, columns and meanings), with ClickHouse types:
TIMESTAMP -> DateTime64(6), DATE -> Date32, MAP -> Map (an empty map for NULL). Tables that record
the import that added each row are partitioned by `import_id`, so one import is one partition.

Atomic without transactions: rows go in batches (Parquet, `BATCH_ROWS` rows each) into a staging
table, and only at the end are they swapped in, in one step that ClickHouse makes atomic:
- a new import's rows: `ATTACH PARTITION ... FROM staging` (the import's one partition appears whole);
- a whole table (a warehouse copied over, leads whose attributes a file updates): `EXCHANGE TABLES`.
A failure before that step leaves only the staging table, which is dropped; the tables read by the
analytics never show part of a file. Removing an import drops its partitions.

One writer at a time, as with DuckDB: import ids are the log's largest id + 1, so two imports into the
same ClickHouse database at once could take the same id.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from analytics import imports, schema
from analytics.clickhouse.connection import ClickHouseConnection, connect
from analytics.errors import BadInput
from analytics.schema import DATA_TABLES, TABLES
from analytics.sql import quote_ident
from analytics.warehouse import DEFAULT_TIMEOUT_SECONDS, reader, writer

BATCH_ROWS = 500_000
_SCALARS = {
    "VARCHAR": "String", "BIGINT": "Int64", "INTEGER": "Int32", "SMALLINT": "Int16", "TINYINT": "Int8",
    "UBIGINT": "UInt64", "UINTEGER": "UInt32", "DOUBLE": "Float64", "FLOAT": "Float32", "BOOLEAN": "Bool",
    "DATE": "Date32", "TIMESTAMP": "DateTime64(6)", "TIMESTAMP WITH TIME ZONE": "DateTime64(6, 'UTC')",
    "HUGEINT": "Int128",
}  # fmt: skip


def clickhouse_column_type(duckdb_type: str, nullable: bool) -> str:
    """The ClickHouse type of a DuckDB column type.

    >>> clickhouse_column_type("TIMESTAMP", True), clickhouse_column_type("MAP(VARCHAR, VARCHAR)", True)
    ('Nullable(DateTime64(6))', 'Map(String, String)')
    """
    if duckdb_type.startswith("MAP(") and duckdb_type.endswith(")"):
        key, value = (part.strip() for part in duckdb_type[4:-1].split(",", 1))
        return f"Map({clickhouse_column_type(key, False)}, {clickhouse_column_type(value, False)})"
    if duckdb_type.endswith("[]"):
        return f"Array({clickhouse_column_type(duckdb_type[:-2], False)})"
    if duckdb_type.startswith("DECIMAL"):
        base = duckdb_type.replace("DECIMAL", "Decimal")
    elif duckdb_type in _SCALARS:
        base = _SCALARS[duckdb_type]
    else:
        raise BadInput(f"the DuckDB type {duckdb_type} has no ClickHouse column type here yet")
    return f"Nullable({base})" if nullable else base


def table_ddl(duck: duckdb.DuckDBPyConnection, table: str, name: str | None = None) -> str:
    """CREATE TABLE for `table` of the DuckDB warehouse, as ClickHouse `name` (default: the same name)."""
    columns = duck.execute(
        "SELECT column_name, data_type, is_nullable = 'YES' FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position", [table]).fetchall()
    if not columns:
        raise BadInput(f"the warehouse has no table {table}")
    definitions = ", ".join(f"{quote_ident(c)} {clickhouse_column_type(t, n)}" for c, t, n in columns)
    required = {c for c, _, n in columns if not n}
    key = [k for k in (TABLES[table].natural_key if table in TABLES else ()) if k in required]
    partition = " PARTITION BY import_id" if "import_id" in required else ""
    order = f"({', '.join(quote_ident(k) for k in key)})" if key else "tuple()"
    return f"CREATE TABLE {quote_ident(name or table)} ({definitions}) ENGINE = MergeTree{partition} ORDER BY {order}"


def warehouse_tables(duck: duckdb.DuckDBPyConnection) -> list[str]:
    """Every table of a DuckDB warehouse, the schema log included, in name order."""
    return [r[0] for r in duck.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        "AND table_type = 'BASE TABLE' ORDER BY table_name").fetchall()]


def insert_batches(ch: ClickHouseConnection, table: str, batches: Iterable[pa.RecordBatch]) -> int:
    """Insert Arrow batches into `table`, each sent as one Parquet block; the number of rows sent."""
    sent = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        block = io.BytesIO()
        pq.write_table(pa.Table.from_batches([batch]), block)
        ch.client.raw_insert(table, column_names=batch.schema.names, insert_block=block.getvalue(), fmt="Parquet")
        sent += batch.num_rows
    return sent


def _batches(duck: duckdb.DuckDBPyConnection, select: str, params: list | None = None) -> Iterator[pa.RecordBatch]:
    yield from duck.sql(select, params=params or None).to_arrow_reader(BATCH_ROWS)


@contextmanager
def staging_table(ch: ClickHouseConnection, like: str, suffix: str) -> Iterator[str]:
    """A new empty table shaped like `like` (columns, engine, partitioning), dropped on the way out."""
    name = f"_staging_{like}_{suffix}"
    ch.execute_clickhouse(f"DROP TABLE IF EXISTS {quote_ident(name)}")
    ch.execute_clickhouse(f"CREATE TABLE {quote_ident(name)} AS {quote_ident(like)}")
    try:
        yield name
    finally:
        ch.execute_clickhouse(f"DROP TABLE IF EXISTS {quote_ident(name)}")


def _exists(ch: ClickHouseConnection, table: str) -> bool:
    return bool(ch.execute_clickhouse("SELECT count() FROM system.tables WHERE database = currentDatabase() "
                                      "AND name = {t:String}", {"t": table}).fetchone()[0])


def _count(ch: ClickHouseConnection, table: str) -> int:
    return int(ch.execute_clickhouse(f"SELECT count() FROM {quote_ident(table)}").fetchone()[0])


def copy_warehouse(duck: duckdb.DuckDBPyConnection, ch: ClickHouseConnection) -> dict[str, int]:
    """Copy every table of a DuckDB warehouse into the ClickHouse database of `ch`, replacing tables of the
    same name; rows per table. Each table is filled beside the old one and exchanged with it at the end."""
    copied = {}
    for table in warehouse_tables(duck):
        staging = f"_copy_{table}"
        ch.execute_clickhouse(f"DROP TABLE IF EXISTS {quote_ident(staging)}")
        ch.execute_clickhouse(table_ddl(duck, table, staging))
        try:
            copied[table] = insert_batches(ch, staging, _batches(duck, f"SELECT * FROM {quote_ident(table)}"))
            if _exists(ch, table):
                ch.execute_clickhouse(f"EXCHANGE TABLES {quote_ident(staging)} AND {quote_ident(table)}")
            else:
                ch.execute_clickhouse(f"RENAME TABLE {quote_ident(staging)} TO {quote_ident(table)}")
        finally:
            ch.execute_clickhouse(f"DROP TABLE IF EXISTS {quote_ident(staging)}")
    return copied


def copy_to_clickhouse(warehouse: str | Path, url: str, database: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS,
                       on_wait: Callable[[str], None] | None = None) -> ClickHouseConnection:
    """Copy the DuckDB warehouse file `warehouse` into `database` (created if missing) of the ClickHouse at
    `url`, and return a connection to it: how a team moves over, and how the parity tests load data.
    `timeout` and `on_wait` are `warehouse.reader`'s, for a warehouse another process is writing."""
    ch = _created(url, database)
    with reader(warehouse, timeout, on_wait) as duck:
        copy_warehouse(duck, ch)
    return ch


def _created(url: str, database: str) -> ClickHouseConnection:
    """A connection to `database` of the ClickHouse at `url`, creating the database if it is missing."""
    if not database.replace("_", "").isalnum():
        raise BadInput(f"'{database}' is not a plain database name (letters, digits and _)")
    with connect(url) as admin:
        admin.execute_clickhouse(f"CREATE DATABASE IF NOT EXISTS {quote_ident(database)}")
    return connect(url, database)


def open_for_writing(url: str, database: str | None = None) -> ClickHouseConnection:
    """A connection to write imports to: `database` (else the URL's) created if missing, and any table of the
    warehouse layout it lacks created empty, so the first import can go to a new ClickHouse database.
    Tables already there are left as they are."""
    ch = _created(url, database) if database else connect(url)
    with duckdb.connect() as empty:
        schema.migrate(empty)
        for table in warehouse_tables(empty):
            if not _exists(ch, table):
                ch.execute_clickhouse(table_ddl(empty, table))
                insert_batches(ch, table, _batches(empty, f"SELECT * FROM {quote_ident(table)}"))  # schema log
    return ch


def append_import(ch: ClickHouseConnection, table: str, batches: Iterable[pa.RecordBatch], import_id: int) -> int:
    """Add one import's rows to `table` all at once, leaving out rows whose natural key `table` already
    holds; the number added. The rows, all of import `import_id`, are staged in batches and the
    import's partition is attached at the end: until then `table` is untouched."""
    key = ", ".join(quote_ident(k) for k in TABLES[table].natural_key)
    with staging_table(ch, table, str(import_id)) as staging:
        insert_batches(ch, staging, batches)
        if _count(ch, table):
            ch.execute_clickhouse(
                f"ALTER TABLE {quote_ident(staging)} DELETE WHERE ({key}) IN (SELECT {key} FROM {quote_ident(table)}) "
                "SETTINGS transform_null_in = 1")  # NULL keys match NULL keys, as IS NOT DISTINCT FROM
        added = _count(ch, staging)
        if added:
            ch.execute_clickhouse(f"ALTER TABLE {quote_ident(table)} ATTACH PARTITION ID '{int(import_id)}' "
                                  f"FROM {quote_ident(staging)}")
    return added


def merge_leads(ch: ClickHouseConnection, batches: Iterable[pa.RecordBatch], import_id: int) -> int:
    """Import leads: new lead_ids are added as import `import_id`, leads already present keep their row and
    owner but take the values and attributes the file brings (as the DuckDB import does); the number
    added. The merged table is built beside `leads` and exchanged with it at the end."""
    with staging_table(ch, "leads", f"{import_id}_file") as staged, staging_table(ch, "leads", str(import_id)) as merged:
        insert_batches(ch, staged, batches)
        columns = [c for c in _columns(ch, "leads") if c not in ("lead_id", "attributes", "import_id")]
        updated = ", ".join(f"coalesce(f.{quote_ident(c)}, l.{quote_ident(c)})" for c in columns)
        ch.execute_clickhouse(
            f"INSERT INTO {quote_ident(merged)} SELECT l.lead_id, {updated}, mapUpdate(l.attributes, "
            f"if(f.lead_id IS NULL, map(), f.attributes)), l.import_id FROM leads l "
            f"LEFT JOIN {quote_ident(staged)} f ON f.lead_id = l.lead_id SETTINGS join_use_nulls = 1")
        ch.execute_clickhouse(f"INSERT INTO {quote_ident(merged)} SELECT * FROM {quote_ident(staged)} "
                              "WHERE lead_id NOT IN (SELECT lead_id FROM leads)")
        added = _count(ch, merged) - _count(ch, "leads")
        ch.execute_clickhouse(f"EXCHANGE TABLES {quote_ident(merged)} AND leads")
    return added


def _columns(ch: ClickHouseConnection, table: str) -> list[str]:
    return [r[0] for r in ch.execute_clickhouse(
        "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String} "
        "ORDER BY position", {"t": table}).fetchall()]


def import_file(ch: ClickHouseConnection, kind: str, path: str | Path, options: imports.ImportOptions | None = None,
                *, imported_by: str | None = None, file_name: str | None = None) -> imports.ImportResult:
    """Import one file into ClickHouse with the DuckDB import's rules and messages.

    The file is read, mapped, checked and de-duplicated within itself by `analytics.imports` into a
    throwaway DuckDB warehouse on local disk (streaming, so any size); its rows then go to ClickHouse
    in batches (`append_import`, `merge_leads`) and the import is logged last. A file refused by the
    checks, or a failure on the way, leaves ClickHouse as it was.
    """
    source = Path(path)
    options = options or imports.ImportOptions()
    described = options.describe()
    digest = imports.content_hash(source) if source.is_file() else ""
    earlier = ch.execute("SELECT import_id, kind FROM imports WHERE content_hash = ? AND options = ? "
                         "AND removed_at IS NULL AND (kind = ? OR (? = 'experiments' AND kind LIKE 'experiment%')) "
                         "ORDER BY import_id LIMIT 1", [digest, described, kind, kind]).fetchone()
    if earlier:
        return imports.ImportResult(earlier[0], file_name or source.name, earlier[1], 0, 0, 0, already_imported=True)
    with tempfile.TemporaryDirectory(prefix="clickhouse-import-") as folder, \
            writer(os.path.join(folder, "staged.duckdb")) as duck:
        staged = imports.import_file(duck, kind, source, options, imported_by=imported_by, file_name=file_name)
        import_id = int(ch.execute("SELECT coalesce(max(import_id), 0) + 1 FROM imports").fetchone()[0])
        rows = _batches(duck, f"SELECT * REPLACE (CAST(? AS BIGINT) AS import_id) FROM {quote_ident(staged.table)}",
                        [import_id])
        added = merge_leads(ch, rows, import_id) if staged.table == "leads" else append_import(ch, staged.table, rows, import_id)
        insert_batches(ch, "imports", _batches(
            duck, "SELECT * REPLACE (CAST(? AS BIGINT) AS import_id, CAST(? AS BIGINT) AS rows_added, "
                  "rows_added + rows_skipped - CAST(? AS BIGINT) AS rows_skipped) FROM imports",
            [import_id, added, added]))
    return replace(staged, import_id=import_id, rows_added=added,
                   rows_skipped=staged.rows_added + staged.rows_skipped - added)


def remove_import(ch: ClickHouseConnection, import_id: int, removed_by: str | None = None) -> dict[str, int]:
    """Drop the rows import `import_id` added (its partition of every data table) and mark it removed; the
    rows removed per table (tables it added none to left out), as `imports.remove_import` says."""
    found = ch.execute("SELECT removed_at FROM imports WHERE import_id = ?", [import_id]).fetchone()
    if found is None:
        raise BadInput(f"there is no import #{import_id}; `python -m analytics import-log` lists them")
    if found[0] is not None:
        raise BadInput(f"import #{import_id} was already removed on {found[0]:%Y-%m-%d %H:%M}")
    removed: dict[str, int] = {}
    for table in DATA_TABLES:
        count = ch.execute(f"SELECT count(*) FROM {quote_ident(table)} WHERE import_id = ?", [import_id]).fetchone()[0]
        if count:
            removed[table] = int(count)
        ch.execute_clickhouse(f"ALTER TABLE {quote_ident(table)} DROP PARTITION ID '{int(import_id)}'")
    ch.execute_clickhouse("ALTER TABLE imports UPDATE removed_at = now64(6), removed_by = {by:String} "
                          "WHERE import_id = {id:Int64}", {"by": removed_by or imports._current_user(), "id": import_id})
    return removed
