"""Loading files into the warehouse: mapping, validation, de-duplication and the imports log.

Every import is one transaction: the file is staged as text inside DuckDB, every value is converted and
checked there, and only a file without a single bad row is added. A bad value stops the import with a
message that names the file, the row and the column. Rows already present under their natural key
(DESIGN.md, Contract details) are skipped, so importing the same file twice adds nothing; the imports
log remembers every file, and removing an import removes exactly the rows it added.
"""

from __future__ import annotations

import getpass
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from analytics.errors import BadInput
from analytics.schema import DATA_TABLES, TABLES, Column, Table
from analytics.sql import quote_ident, quote_literal

KINDS: tuple[str, ...] = ("leads", "events", "campaigns", "sends", "experiments")
COUNT_COLUMNS = {"impressions", "clicks", "sent", "delivered", "opened", "clicked", "converted",
                 "unsubscribed", "units", "conversions"}
DEFAULT_METRIC = "conversion"
_STAGE_TABLE = "import_staging"
_HASH_CHUNK = 1 << 20
_OFFSET_AT_END = r"\d[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)$"
_TRUE = ("1", "true", "yes", "y", "t")
_FALSE = ("0", "false", "no", "n", "f")


@dataclass(frozen=True)
class ImportResult:
    """What one import did, for the command line, the Data page and the imports log."""

    import_id: int | None
    file_name: str
    table: str
    rows_read: int
    rows_added: int
    rows_skipped: int
    already_imported: bool = False
    ignored_columns: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        if self.already_imported:
            return (f"{self.file_name} was already imported as import #{self.import_id}; "
                    "nothing added.")
        text = (f"{self.file_name}: {_rows(self.rows_added)} added to {self.table}, "
                f"{self.rows_skipped:,} already present or repeated in the file (import #{self.import_id}).")
        if self.ignored_columns:
            text += " Ignored columns: " + ", ".join(self.ignored_columns) + "."
        return text


def _rows(n: int) -> str:
    return f"{n:,} row{'' if n == 1 else 's'}"


def normalize_name(name: str) -> str:
    """A header as a canonical column name: 'Lead ID ' -> 'lead_id'."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lstrip("\ufeff").lower()).strip("_")


def content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes, read in chunks so a huge file costs no memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def import_file(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    path: str | Path,
    *,
    stage: str | None = None,
    mapping: Mapping[str, str] | None = None,
    imported_by: str | None = None,
    file_name: str | None = None,
) -> ImportResult:
    """Import one CSV or Parquet file of `kind` in a single transaction.

    `mapping` maps canonical column names to the file's headers ({'occurred_at': 'Event time'});
    headers that already are canonical (in any case or spacing) need none. `stage` names the stage of
    every row of an events file without a stage column. `file_name` is what messages and the log call
    the file (the Data page passes the uploaded name).
    """
    source = Path(path)
    name = file_name or source.name
    if kind not in KINDS:
        raise BadInput(f"unknown kind '{kind}'; choose one of {', '.join(KINDS)}")
    if not source.is_file():
        raise BadInput("file not found", file=name)
    if source.stat().st_size == 0:
        raise BadInput("the file is empty", file=name)
    mapping = dict(mapping or {})
    options = _options_text(stage, mapping)
    digest = content_hash(source)
    earlier = con.execute(
        "SELECT import_id, kind FROM imports WHERE content_hash = ? AND options = ? "
        "AND (kind = ? OR (? = 'experiments' AND kind LIKE 'experiment%')) ORDER BY import_id LIMIT 1",
        [digest, options, kind, kind],
    ).fetchone()
    if earlier:
        return ImportResult(earlier[0], name, earlier[1], 0, 0, 0, already_imported=True)

    try:
        # Staged before the transaction so that its row ids are the file's row numbers.
        headers = _stage_file(con, source, name)
        con.execute("BEGIN TRANSACTION")
        try:
            result = _import_in_transaction(con, kind, headers, name, stage, mapping, options, digest,
                                            imported_by or _current_user())
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.execute(f"DROP TABLE IF EXISTS temp.{_STAGE_TABLE}")
    return result


def _import_in_transaction(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    headers: list[str],
    name: str,
    stage: str | None,
    mapping: dict[str, str],
    options: str,
    digest: str,
    imported_by: str,
) -> ImportResult:
    table, resolved = _resolve_columns(kind, headers, mapping, stage, name)
    rows_read = con.execute(f"SELECT count(*) FROM temp.{_STAGE_TABLE}").fetchone()[0]
    if rows_read == 0:
        raise BadInput("the file has a header but no data rows", file=name)
    if table.name == "events" and stage is not None:
        resolved["stage"] = _add_constant_column(con, "stage", stage, name)
    if table.name == "experiment_variants" and "metric" not in resolved:
        resolved["metric"] = _add_constant_column(con, "metric", DEFAULT_METRIC, name)
    typed = _typed_select(table, resolved, headers)
    _check_values(con, table, resolved, typed, name)
    import_id = con.execute(
        "INSERT INTO imports (file_name, content_hash, kind, options, rows_read, imported_by) "
        "VALUES (?, ?, ?, ?, ?, ?) RETURNING import_id",
        [name, digest, table.name, options, rows_read, imported_by],
    ).fetchone()[0]
    added = _insert_new_rows(con, table, typed, import_id, resolved)
    con.execute("UPDATE imports SET rows_added = ?, rows_skipped = ? WHERE import_id = ?",
                [added, rows_read - added, import_id])
    ignored = () if table.name == "leads" else tuple(h for h in headers if h not in resolved.values())
    return ImportResult(import_id, name, table.name, rows_read, added, rows_read - added,
                        ignored_columns=ignored)


def _stage_file(con: duckdb.DuckDBPyConnection, source: Path, name: str) -> list[str]:
    """Copy the file into a temporary table of text columns, in file order; return its headers."""
    is_parquet = source.suffix.lower() in (".parquet", ".pq")
    reader = "read_parquet(?)" if is_parquet else "read_csv(?, all_varchar = true, header = true)"
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {reader}", [str(source)]).fetchall()
        headers = [row[0] for row in described]
        as_text = ", ".join(f"CAST({quote_ident(h)} AS VARCHAR) AS {quote_ident(h)}" for h in headers)
        con.execute(f"CREATE TEMP TABLE {_STAGE_TABLE} AS SELECT {as_text} FROM {reader}", [str(source)])
    except duckdb.Error as error:
        first_line = str(error).strip().splitlines()[0]
        raise BadInput(f"cannot be read as {'Parquet' if is_parquet else 'CSV'}: {first_line}",
                       file=name) from error
    return headers


def _add_constant_column(con: duckdb.DuckDBPyConnection, column: str, value: str, name: str) -> str:
    """Give every staged row the same value for `column` (--stage, the default metric); return its header."""
    if not value.strip():
        raise BadInput(f"the {column} given for the whole file must not be empty", file=name)
    header = f"(given {column})"
    con.execute(f"ALTER TABLE temp.{_STAGE_TABLE} ADD COLUMN {quote_ident(header)} VARCHAR")
    con.execute(f"UPDATE temp.{_STAGE_TABLE} SET {quote_ident(header)} = ?", [value])
    return header


def _resolve_columns(
    kind: str, headers: list[str], mapping: dict[str, str], stage: str | None, name: str
) -> tuple[Table, dict[str, str]]:
    """Pick the table and map each of its columns to a header: explicit mapping first, then by name."""
    by_normal: dict[str, str] = {}
    for header in headers:
        by_normal.setdefault(normalize_name(header), header)
    table = _table_for(kind, by_normal, mapping, name)
    known = {c.name for c in table.columns}
    for target, header in mapping.items():
        if target not in known:
            raise BadInput(f"--map names '{target}', which is not a column of {table.name} "
                           f"(columns: {', '.join(sorted(known))})", file=name)
        if header not in headers and normalize_name(header) not in by_normal:
            raise BadInput(f"--map {target}={header}: the file has no column '{header}' "
                           f"(it has: {', '.join(headers)})", file=name)
    resolved: dict[str, str] = {}
    for column in table.columns:
        if column.name in mapping:
            wanted = mapping[column.name]
            resolved[column.name] = wanted if wanted in headers else by_normal[normalize_name(wanted)]
        elif column.name in by_normal:
            resolved[column.name] = by_normal[column.name]
    if stage is not None and table.name == "events":
        resolved.pop("stage", None)
    missing = [c.name for c in table.columns if c.required and c.name not in resolved
               and not (c.name == "stage" and stage is not None and table.name == "events")]
    if missing:
        hint = " (or give --stage NAME)" if missing == ["stage"] else " (use --map COLUMN=HEADER)"
        raise BadInput(f"missing required column{'s' if len(missing) > 1 else ''} "
                       f"{', '.join(missing)}{hint}; the file has: {', '.join(headers)}", file=name)
    return table, resolved


def _table_for(kind: str, by_normal: dict[str, str], mapping: dict[str, str], name: str) -> Table:
    """The table a kind writes to; experiments files are per unit when they have a unit_id column."""
    if kind != "experiments":
        return TABLES[kind]
    if "unit_id" in by_normal or "unit_id" in mapping:
        return TABLES["experiment_units"]
    if "units" in by_normal or "units" in mapping:
        return TABLES["experiment_variants"]
    raise BadInput("an experiments file needs either unit_id (one row per unit) or units "
                   "(one row per variant); the file has: " + ", ".join(by_normal.values()), file=name)


_EXPECTED = {"TIMESTAMP": "a date or time", "DATE": "a date", "BIGINT": "a whole number",
             "DOUBLE": "a number", "BOOLEAN": "true or false (1/0, yes/no)"}


def _typed_expr(column: Column, raw: str) -> str:
    """SQL converting the text column `raw` to the column's type; NULL where it cannot be converted."""
    text = f"nullif(trim({raw}), '')"
    if column.sql_type == "TIMESTAMP":
        return (f"CASE WHEN regexp_matches({text}, '{_OFFSET_AT_END}') "
                f"THEN try_cast(try_cast({text} AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP) "
                f"ELSE try_cast({text} AS TIMESTAMP) END")
    if column.sql_type == "DATE":
        return f"coalesce(try_cast({text} AS DATE), try_cast(try_cast({text} AS TIMESTAMP) AS DATE))"
    if column.sql_type == "BIGINT":
        number = f"try_cast({text} AS DOUBLE)"
        return (f"CASE WHEN regexp_matches({text}, '^[+-]?[0-9]+$') THEN try_cast({text} AS BIGINT) "
                f"WHEN {number} = round({number}) THEN try_cast({number} AS BIGINT) END")
    if column.sql_type == "DOUBLE":
        return f"CASE WHEN isfinite(try_cast({text} AS DOUBLE)) THEN try_cast({text} AS DOUBLE) END"
    if column.sql_type == "BOOLEAN":
        truthy = ", ".join(quote_literal(v) for v in _TRUE)
        falsy = ", ".join(quote_literal(v) for v in _FALSE)
        return (f"CASE WHEN lower({text}) IN ({truthy}) THEN true "
                f"WHEN lower({text}) IN ({falsy}) THEN false END")
    return text


def _typed_select(table: Table, resolved: dict[str, str], headers: list[str]) -> str:
    """SELECT of the staged file as typed canonical columns plus `_row` (1-based data row number)."""
    parts = ["rowid + 1 AS _row"]
    for column in table.columns:
        if column.name in resolved:
            parts.append(f"{_typed_expr(column, quote_ident(resolved[column.name]))} AS {column.name}")
        else:
            parts.append(f"CAST(NULL AS {column.sql_type}) AS {column.name}")
    if table.name == "leads":
        extra = [h for h in headers if h not in resolved.values()]
        keys = [normalize_name(h) or h for h in extra]
        keys = [k if keys.count(k) == 1 else h for k, h in zip(keys, extra)]
        pairs = ", ".join(f"{quote_literal(k)}: nullif(trim({quote_ident(h)}), '')" for k, h in zip(keys, extra))
        parts.append(f"MAP {{{pairs}}} AS attributes" if extra
                     else "CAST(NULL AS MAP(VARCHAR, VARCHAR)) AS attributes")
    return f"SELECT {', '.join(parts)} FROM temp.{_STAGE_TABLE}"


def _check_values(
    con: duckdb.DuckDBPyConnection, table: Table, resolved: dict[str, str], typed: str, name: str
) -> None:
    """Raise BadInput for the first row with a value that is missing, malformed or impossible."""
    checks: list[tuple[str, str, str]] = []  # (column, condition true for a bad row, what is wrong)
    for column in table.columns:
        if column.name not in resolved:
            continue
        raw = f"nullif(trim(s.{quote_ident(resolved[column.name])}), '')"
        if column.sql_type in _EXPECTED:
            checks.append((column.name, f"{raw} IS NOT NULL AND t.{column.name} IS NULL",
                           f"is not {_EXPECTED[column.sql_type]}"))
        if column.required:
            checks.append((column.name, f"{raw} IS NULL", "is empty, but every row needs a value"))
        if column.name in COUNT_COLUMNS:
            checks.append((column.name, f"t.{column.name} < 0", "is negative; counts cannot be"))
    if table.name == "experiment_variants" and "conversions" in resolved:
        checks.append(("conversions", "t.conversions > t.units", "is larger than units"))
    for column, bad, problem in checks:
        found = con.execute(
            f"SELECT t._row, s.{quote_ident(resolved[column])} FROM ({typed}) t "
            f"JOIN temp.{_STAGE_TABLE} s ON s.rowid + 1 = t._row WHERE {bad} ORDER BY t._row LIMIT 1"
        ).fetchone()
        if found:
            shown = "" if found[1] is None or not found[1].strip() else f"'{_clip(found[1])}' "
            raise BadInput(f"{shown}{problem}", file=name, row=found[0], column=resolved[column])


def _clip(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[:limit] + "..."


def _insert_new_rows(
    con: duckdb.DuckDBPyConnection, table: Table, typed: str, import_id: int, resolved: dict[str, str]
) -> int:
    """Insert the file's rows whose natural key is new (the first copy within the file wins).

    Leads already present keep their row and owner, but take the attributes this file brings.
    """
    key = table.natural_key
    columns = [c.name for c in table.columns] + (["attributes"] if table.name == "leads" else [])
    first_copies = (f"SELECT * FROM ({typed}) QUALIFY row_number() OVER "
                    f"(PARTITION BY {', '.join(key)} ORDER BY _row) = 1")
    if table.name == "leads":
        updates = [f"{c} = coalesce(f.{c}, leads.{c})" for c in resolved if c != "lead_id"] + [
            "attributes = map_concat(coalesce(leads.attributes, MAP {}), coalesce(f.attributes, MAP {}))"]
        con.execute(f"UPDATE leads SET {', '.join(updates)} FROM ({first_copies}) f "
                    "WHERE leads.lead_id = f.lead_id")
    same_key = " AND ".join(f"w.{k} IS NOT DISTINCT FROM f.{k}" for k in key)
    inserted = con.execute(
        f"INSERT INTO {table.name} ({', '.join(columns)}, import_id) "
        f"SELECT {', '.join('f.' + c for c in columns)}, ? FROM ({first_copies}) f "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table.name} w WHERE {same_key})",
        [import_id],
    ).fetchone()
    return int(inserted[0])


def _options_text(stage: str | None, mapping: Mapping[str, str]) -> str:
    """The options that change what a file's rows become, as the log records them."""
    parts = ([f"stage={stage}"] if stage is not None else []) + [
        f"map {target}={header}" for target, header in sorted(mapping.items())]
    return "; ".join(parts)


def _current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def import_log(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every import, newest first."""
    return con.execute(
        "SELECT import_id, imported_at, file_name, kind AS table_name, rows_read, rows_added, "
        "rows_skipped, options, imported_by, content_hash FROM imports ORDER BY import_id DESC"
    ).df()


def remove_import(con: duckdb.DuckDBPyConnection, import_id: int) -> dict[str, int]:
    """Delete exactly the rows import `import_id` added, and its log entry, in one transaction."""
    if not con.execute("SELECT count(*) FROM imports WHERE import_id = ?", [import_id]).fetchone()[0]:
        raise BadInput(f"there is no import #{import_id}; `python -m analytics import-log` lists them")
    removed: dict[str, int] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        for table in DATA_TABLES:
            count = con.execute(f"DELETE FROM {table} WHERE import_id = ?", [import_id]).fetchone()[0]
            if count:
                removed[table] = int(count)
        con.execute("DELETE FROM imports WHERE import_id = ?", [import_id])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return removed
