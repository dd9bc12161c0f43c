"""Loading files into the warehouse: mapping, validation, de-duplication and the imports log.

Every import is one transaction: the file is staged as text inside DuckDB (`analytics.sources`), every
value is converted and checked there, and only a file without a single bad row is added. A bad value
stops the import with a message that names the file, the row and the column. Rows already present under
their natural key (DESIGN.md, Contract details) are skipped, so importing the same file twice adds
nothing; the imports log remembers every file, and removing an import removes exactly the rows it added.

Files come in three shapes:
- long: one row per record with the canonical columns (or vendor headers, or `mapping`);
- wide lifecycle exports (events): one row per lead with a date column per stage (`stage_dates`, or
  HubSpot's "Became a ... Date" columns found by name) and/or a status column whose values are stages
  dated by another column (`status`, `status_date`); an empty date means the stage was not reached;
- response flags (sends): one row per customer with a 0/1 column per campaign (`responses`), which
  becomes one send row per campaign: sent = customers, converted = customers who responded.
"""

from __future__ import annotations

import getpass
import hashlib
import re
from collections.abc import Mapping
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from analytics import journeys
from analytics.errors import BadInput
from analytics.progress import Progress, part, silent, watched
from analytics.schema import DATA_TABLES, TABLES, Column, Table
from analytics.sources import ROW, STAGE_TABLE, stage_file
from analytics.sql import quote_ident, quote_literal
from analytics.vendors import ALIASES, LIFECYCLE_DATES, STATUS_STAGES

KINDS: tuple[str, ...] = ("leads", "events", "campaigns", "sends", "experiments")
COUNT_COLUMNS = {"impressions", "clicks", "sent", "delivered", "opened", "clicked", "converted",
                 "unsubscribed", "units", "conversions", "spend"}
DEFAULT_METRIC = "conversion"
# Dates outside these bounds are placeholders (1900-01-01, Excel's day zero) or typos (2206 for 2026).
EARLIEST_DATE = date(1980, 1, 1)
LATEST_YEARS_AHEAD = 10
_STAGED = f"temp.{STAGE_TABLE}"
_HASH_CHUNK = 1 << 20
_OFFSET_AT_END = r"\d[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)$"
_TRUE = ("1", "true", "yes", "y", "t")
_FALSE = ("0", "false", "no", "n", "f")
_DATE_FORMATS = ("{a}/{b}/%Y", "{a}-{b}-%Y", "{a}.{b}.%Y", "{a}/{b}/%y", "{a}.{b}.%y")
_TIME_FORMATS = ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p")
_YEAR_FIRST = ("%Y/%m/%d", "%Y.%m.%d", "%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y.%m.%d %H:%M:%S")
# Month names are unambiguous: "Mar 03, 2026 09:00 am" (Mailchimp), "3 March 2026".
_MONTH_NAMED = tuple(d + t for d in ("%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y") for t in _TIME_FORMATS)
_EXPECTED = {"TIMESTAMP": "a date or time", "DATE": "a date", "BIGINT": "a whole number",
             "DOUBLE": "a number", "BOOLEAN": "true or false (1/0, yes/no)"}


def _formats(day_first: bool) -> list[str]:
    a, b = ("%d", "%m") if day_first else ("%m", "%d")
    return [d.format(a=a, b=b) + t for d in _DATE_FORMATS for t in _TIME_FORMATS] + list(_YEAR_FIRST + _MONTH_NAMED)


@dataclass(frozen=True)
class ImportOptions:
    """How to read a file: everything beyond its kind. Empty options suit a canonical long file."""

    stage: str | None = None
    mapping: Mapping[str, str] = field(default_factory=dict)
    stage_dates: Mapping[str, str] = field(default_factory=dict)
    status: str | None = None
    status_date: str | None = None
    status_map: Mapping[str, str] = field(default_factory=dict)
    responses: tuple[str, ...] = ()
    encoding: str | None = None
    dayfirst: bool | None = None
    sheet: str | None = None

    def describe(self) -> str:
        """The options that change what a file's rows become, as the log records them."""
        parts = [f"stage={self.stage}"] if self.stage is not None else []
        parts += [f"map {t}={h}" for t, h in sorted(self.mapping.items())]
        parts += [f"stage-date {s}={h}" for s, h in sorted(self.stage_dates.items())]
        parts += [f"status={self.status}"] if self.status else []
        parts += [f"status-date={self.status_date}"] if self.status_date else []
        parts += [f"status-map {v}={s}" for v, s in sorted(self.status_map.items())]
        parts += [f"responses={','.join(self.responses)}"] if self.responses else []
        parts += [f"dayfirst={self.dayfirst}"] if self.dayfirst is not None else []
        parts += [f"sheet={self.sheet}"] if self.sheet else []
        return "; ".join(parts)


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
            return f"{self.file_name} was already imported as import #{self.import_id}; nothing added."
        text = (f"{self.file_name}: {_rows(self.rows_added)} added to {self.table}, "
                f"{self.rows_skipped:,} already present or repeated in the file (import #{self.import_id}).")
        if self.ignored_columns:
            text += " Ignored columns: " + ", ".join(self.ignored_columns) + "."
        return text


@dataclass(frozen=True)
class Plan:
    """Which table a file goes to and which header feeds each canonical column (`resolved`)."""

    table: Table
    resolved: dict[str, str]
    stage_dates: dict[str, str]
    headers: list[str]

    @property
    def ignored(self) -> tuple[str, ...]:
        used = set(self.resolved.values()) | set(self.stage_dates.values())
        return tuple(h for h in self.headers if h not in used)


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


def _check_file(kind: str, source: Path, name: str) -> None:
    if kind not in KINDS:
        raise BadInput(f"unknown kind '{kind}'; choose one of {', '.join(KINDS)}")
    if not source.is_file():
        raise BadInput("file not found", file=name)
    if source.stat().st_size == 0:
        raise BadInput("the file is empty", file=name)


def import_file(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    path: str | Path,
    options: ImportOptions | None = None,
    *,
    imported_by: str | None = None,
    file_name: str | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import one CSV, Excel or Parquet file of `kind` in a single transaction.

    `file_name` is what messages and the log call the file (the Data page passes the uploaded name).
    `progress` hears each step (reading, checking, adding rows, refreshing journeys), ending at 1.0.
    """
    source = Path(path)
    name = file_name or source.name
    options = options or ImportOptions()
    report = progress or silent
    report(0.0, f"checking {name}")
    _check_file(kind, source, name)
    described = options.describe()
    digest = content_hash(source)
    earlier = con.execute(
        "SELECT import_id, kind FROM imports WHERE content_hash = ? AND options = ? AND removed_at IS NULL "
        "AND (kind = ? OR (? = 'experiments' AND kind LIKE 'experiment%')) ORDER BY import_id LIMIT 1",
        [digest, described, kind, kind],
    ).fetchone()
    if earlier:
        report(1.0, "already imported")
        return ImportResult(earlier[0], name, earlier[1], 0, 0, 0, already_imported=True)
    try:
        headers = watched(con, lambda: stage_file(con, source, name, encoding=options.encoding, sheet=options.sheet),
                          progress, f"reading {name}", 0.05, 0.35)
        con.execute("BEGIN TRANSACTION")
        try:
            result = _load(con, kind, headers, name, options, described, digest, imported_by or _current_user(),
                           part(progress, 0.35, 0.99))
            report(0.99, "saving")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_STAGED}")
    report(1.0, "done")
    return result


def preview_file(
    kind: str, path: str | Path, options: ImportOptions | None = None, *, file_name: str | None = None,
    first_row: int = 1, rows: int = 20,
) -> tuple[Plan, pd.DataFrame]:
    """The mapping an import would use and `rows` rows of the file from `first_row`, storing nothing.

    Runs on a private in-memory database, so it needs no warehouse and holds no lock.
    """
    source = Path(path)
    name = file_name or source.name
    options = options or ImportOptions()
    _check_file(kind, source, name)
    with duckdb.connect() as con:
        headers = stage_file(con, source, name, encoding=options.encoding, sheet=options.sheet)
        plan = _plan(kind, headers, options, name, require=False)
        head = con.execute(f"SELECT {ROW} AS row, * EXCLUDE ({ROW}) FROM {_STAGED} WHERE {ROW} >= ? "
                           f"ORDER BY {ROW} LIMIT ?", [first_row, rows]).df()
    return plan, head


def _load(
    con: duckdb.DuckDBPyConnection, kind: str, headers: list[str], name: str, options: ImportOptions,
    described: str, digest: str, imported_by: str, progress: Progress,
) -> ImportResult:
    progress(0.0, "checking values")
    plan = _plan(kind, headers, options, name)
    rows_read = con.execute(f"SELECT count(*) FROM {_STAGED}").fetchone()[0]
    if rows_read == 0:
        raise BadInput("the file has a header but no data rows", file=name)
    day_first = _day_first(con, plan, options, name)
    if options.responses:
        parts = [_responses_part(con, plan, options.responses, name)]
    else:
        parts = _parts(con, plan, options, name, day_first)
    union = " UNION ALL ".join(f"({p})" for p in parts)
    candidates = watched(con, lambda: con.execute(f"SELECT count(*) FROM ({union})").fetchone()[0],
                         progress, "checking values", 0.1, 0.4)
    import_id = con.execute(
        "INSERT INTO imports (file_name, content_hash, kind, options, rows_read, imported_by) "
        "VALUES (?, ?, ?, ?, ?, ?) RETURNING import_id",
        [name, digest, plan.table.name, described, rows_read, imported_by],
    ).fetchone()[0]
    touches_leads = plan.table.name in ("events", "leads")
    with ExitStack() as refresh:
        refresh.enter_context(journeys.refreshed(con, f"SELECT lead_id FROM ({union})") if touches_leads else nullcontext())
        added = watched(con, lambda: _insert_new_rows(con, plan.table, union, import_id, plan.resolved),
                        progress, f"adding rows to {plan.table.name}", 0.4, 0.75 if touches_leads else 0.95)
        if touches_leads:  # the journeys are rebuilt as the block ends; close it here to watch that happen
            watched(con, refresh.close, progress, "refreshing journeys", 0.75, 0.95, statements=2)
    con.execute("UPDATE imports SET rows_added = ?, rows_skipped = ? WHERE import_id = ?",
                [added, candidates - added, import_id])
    ignored = () if plan.table.name == "leads" or options.responses else plan.ignored
    return ImportResult(import_id, name, plan.table.name, rows_read, added, candidates - added,
                        ignored_columns=ignored)


def _plan(kind: str, headers: list[str], options: ImportOptions, name: str, require: bool = True) -> Plan:
    """Pick the table and map each canonical column to a header: mapping, then name, then vendor alias."""
    by_normal: dict[str, str] = {}
    for header in headers:
        by_normal.setdefault(normalize_name(header), header)

    def find(header: str, what: str) -> str:
        if header in headers:
            return header
        if normalize_name(header) in by_normal:
            return by_normal[normalize_name(header)]
        raise BadInput(f"{what}: the file has no column '{header}' (it has: {', '.join(headers)})", file=name)

    table = _table_for(kind, by_normal, options.mapping, name)
    known = {c.name for c in table.columns}
    resolved: dict[str, str] = {}
    for target, header in options.mapping.items():
        if target not in known:
            raise BadInput(f"--map names '{target}', which is not a column of {table.name} "
                           f"(columns: {', '.join(sorted(known))})", file=name)
        resolved[target] = find(header, f"--map {target}={header}")
    for column in table.columns:
        if column.name not in resolved:
            for candidate in (column.name, *ALIASES.get(column.name, ())):
                if candidate in by_normal:
                    resolved[column.name] = by_normal[candidate]
                    break

    stage_dates = {stage: find(h, f"--stage-date {stage}={h}") for stage, h in options.stage_dates.items()}
    if table.name == "events":
        wide = bool(stage_dates or options.status) or ("stage" not in resolved and options.stage is None)
        if wide and not options.stage_dates:
            stage_dates |= {stage: by_normal[h] for h, stage in LIFECYCLE_DATES.items()
                            if h in by_normal and stage not in stage_dates}
        if stage_dates or options.status:
            for column in ("stage", "occurred_at"):
                if column not in options.mapping:
                    resolved.pop(column, None)
        if options.status:
            resolved["(status)"] = find(options.status, f"--status {options.status}")
            if not options.status_date:
                raise BadInput("--status needs --status-date: the column that dates each status", file=name)
            resolved["(status date)"] = find(options.status_date, f"--status-date {options.status_date}")
        if options.stage is not None:
            resolved.pop("stage", None)
    for header in options.responses:
        find(header, f"--responses {header}")

    required = [c.name for c in table.columns if c.required and c.name not in resolved]
    if table.name == "events" and (stage_dates or options.status):
        required = [c for c in required if c not in ("stage", "occurred_at")]
    if table.name == "events" and options.stage is not None:
        required = [c for c in required if c != "stage"]
    if table.name == "sends" and options.responses:
        required = []
    if required and require:
        hint = (" (or give --stage NAME, or --stage-date STAGE=COLUMN for one date column per stage)"
                if "stage" in required else " (use --map COLUMN=HEADER)")
        raise BadInput(f"missing required column{'s' if len(required) > 1 else ''} {', '.join(required)}{hint}; "
                       f"the file has: {', '.join(headers)}", file=name)
    return Plan(table, resolved, stage_dates, headers)


def _table_for(kind: str, by_normal: dict[str, str], mapping: Mapping[str, str], name: str) -> Table:
    """The table a kind writes to; experiments files are per unit when they have a unit_id column."""
    if kind != "experiments":
        return TABLES[kind]
    if "unit_id" in by_normal or "unit_id" in mapping:
        return TABLES["experiment_units"]
    if "units" in by_normal or "units" in mapping:
        return TABLES["experiment_variants"]
    raise BadInput("an experiments file needs either unit_id (one row per unit) or units "
                   "(one row per variant); the file has: " + ", ".join(by_normal.values()), file=name)


def _date_headers(plan: Plan) -> list[str]:
    typed = [plan.resolved[c.name] for c in plan.table.columns
             if c.name in plan.resolved and c.sql_type in ("TIMESTAMP", "DATE")]
    return typed + list(plan.stage_dates.values()) + ([plan.resolved["(status date)"]]
                                                      if "(status date)" in plan.resolved else [])


def _day_first(con: duckdb.DuckDBPyConnection, plan: Plan, options: ImportOptions, name: str) -> bool:
    """Whether slashed or dotted dates read day-first: as told, else as the values show, else month-first."""
    if options.dayfirst is not None:
        return options.dayfirst
    day_only = month_only = 0
    for header in _date_headers(plan):
        # Only numeric dates such as 04/09/2012 or 4.9.12 can be ambiguous; a field over 12 settles it.
        parts = f"regexp_extract(trim({quote_ident(header)}), '^(\\d{{1,2}})[/.-](\\d{{1,2}})[/.-]\\d{{2,4}}', ['a', 'b'])"
        day, month = con.execute(
            f"SELECT count(*) FILTER (WHERE a > 12 AND b <= 12), count(*) FILTER (WHERE b > 12 AND a <= 12) FROM "
            f"(SELECT try_cast(p.a AS INTEGER) AS a, try_cast(p.b AS INTEGER) AS b FROM (SELECT {parts} AS p FROM {_STAGED}))"
        ).fetchone()
        day_only, month_only = day_only + day, month_only + month
    if day_only and month_only:
        raise BadInput("the dates mix day-first (31/01) and month-first (01/31) forms; give --dayfirst or "
                       "--monthfirst to say which they are", file=name)
    return day_only > 0


def _sql_list(values: list[str]) -> str:
    return "[" + ", ".join(quote_literal(v) for v in values) + "]"


def _number_text(text: str) -> str:
    """Text of a number without currency signs or codes, spaces and thousands separators; (x) is -x."""
    stripped = (f"regexp_replace(regexp_replace({text}, '^[A-Za-z]{{3}}\\s+|\\s+[A-Za-z]{{3}}$', ''), "
                f"'[\\s$€£¥₩,]', '', 'g')")
    return f"CASE WHEN regexp_matches({stripped}, '^\\(.*\\)$') THEN '-' || trim({stripped}, '()') ELSE {stripped} END"


def _typed_expr(column: Column, raw: str, day_first: bool) -> str:
    """SQL converting the text column `raw` to the column's type; NULL where it cannot be converted."""
    text = f"nullif(trim({raw}), '')"
    if column.sql_type in ("TIMESTAMP", "DATE"):
        moment = (f"CASE WHEN regexp_matches({text}, '{_OFFSET_AT_END}') "
                  f"THEN try_cast(try_cast({text} AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP) "
                  f"ELSE coalesce(try_cast({text} AS TIMESTAMP), try_strptime({text}, {_sql_list(_formats(day_first))})) END")
        return moment if column.sql_type == "TIMESTAMP" else f"CAST({moment} AS DATE)"
    if column.sql_type in ("BIGINT", "DOUBLE"):
        number = _number_text(text)
        value = (f"CASE WHEN {number} LIKE '%\\%' ESCAPE '\\' THEN try_cast(rtrim({number}, '%') AS DOUBLE) / 100 "
                 f"ELSE try_cast({number} AS DOUBLE) END")
        if column.sql_type == "DOUBLE":
            return f"CASE WHEN isfinite({value}) THEN {value} END"
        return (f"CASE WHEN regexp_matches({number}, '^[+-]?[0-9]+$') THEN try_cast({number} AS BIGINT) "
                f"WHEN {value} = round({value}) THEN try_cast({value} AS BIGINT) END")
    if column.sql_type == "BOOLEAN":
        return boolean_expr(text)
    return text


def boolean_expr(text: str) -> str:
    """SQL reading text as true/false (1/0, yes/no, t/f, any case); NULL for anything else."""
    truthy = ", ".join(quote_literal(v) for v in _TRUE)
    falsy = ", ".join(quote_literal(v) for v in _FALSE)
    return f"CASE WHEN lower({text}) IN ({truthy}) THEN true WHEN lower({text}) IN ({falsy}) THEN false END"


def _typed_select(plan: Plan, resolved: dict[str, str], day_first: bool, where: str = "TRUE") -> str:
    """SELECT of the staged file as typed canonical columns plus `_row`."""
    parts = [ROW]
    for column in plan.table.columns:
        if column.name in resolved:
            parts.append(f"{_typed_expr(column, quote_ident(resolved[column.name]), day_first)} AS {column.name}")
        else:
            parts.append(f"CAST(NULL AS {column.sql_type}) AS {column.name}")
    if plan.table.name == "leads":
        extra = [h for h in plan.headers if h not in resolved.values()]
        keys = [normalize_name(h) or h for h in extra]
        keys = [k if keys.count(k) == 1 else h for k, h in zip(keys, extra)]
        pairs = ", ".join(f"{quote_literal(k)}: nullif(trim({quote_ident(h)}), '')" for k, h in zip(keys, extra))
        parts.append(f"MAP {{{pairs}}} AS attributes" if extra else "CAST(NULL AS MAP(VARCHAR, VARCHAR)) AS attributes")
    return f"SELECT {', '.join(parts)} FROM {_STAGED} WHERE {where}"


def _add_constant_column(con: duckdb.DuckDBPyConnection, header: str, value: str) -> str:
    """Give every staged row the same value in a new column `header`; return the header."""
    con.execute(f"ALTER TABLE {_STAGED} ADD COLUMN {quote_ident(header)} VARCHAR")
    con.execute(f"UPDATE {_STAGED} SET {quote_ident(header)} = ?", [value])
    return header


def _parts(con: duckdb.DuckDBPyConnection, plan: Plan, options: ImportOptions, name: str, day_first: bool) -> list[str]:
    """The typed SELECTs whose union is the file's rows: one for a long file, one per stage for a wide one."""
    resolved = dict(plan.resolved)
    if plan.table.name == "experiment_variants" and "metric" not in resolved:
        resolved["metric"] = _add_constant_column(con, "(metric)", DEFAULT_METRIC)
    if plan.table.name == "events" and options.stage is not None:
        if not options.stage.strip():
            raise BadInput("the stage given for the whole file must not be empty", file=name)
        resolved["stage"] = _add_constant_column(con, "(stage)", options.stage.strip())
    if plan.table.name != "events" or not (plan.stage_dates or options.status):
        _check_values(con, plan.table, resolved, "TRUE", name, day_first)
        return [_typed_select(plan, resolved, day_first)]

    shared = {k: v for k, v in resolved.items() if k not in ("value", "(status)", "(status date)")}
    parts = []
    for stage, header in plan.stage_dates.items():
        part = {**shared, "stage": _add_constant_column(con, f"(stage {stage})", stage), "occurred_at": header}
        dated = f"nullif(trim({quote_ident(header)}), '') IS NOT NULL"
        _check_values(con, plan.table, part, dated, name, day_first)
        parts.append(_typed_select(plan, part, day_first, where=dated))
    if options.status:
        status_stage = _status_stages(con, resolved["(status)"], options.status_map)
        part = {**shared, "stage": status_stage, "occurred_at": resolved["(status date)"],
                **({"value": resolved["value"]} if "value" in resolved else {})}
        dated = f"nullif(trim({quote_ident(part['occurred_at'])}), '') IS NOT NULL"
        undated = con.execute(
            f"SELECT {ROW}, {quote_ident(resolved['(status)'])} FROM {_STAGED} "
            f"WHERE {quote_ident(status_stage)} IS NOT NULL AND NOT ({dated}) ORDER BY {ROW} LIMIT 1").fetchone()
        if undated:
            raise BadInput(f"is '{undated[1]}' but has no date in '{part['occurred_at']}'", file=name,
                           row=undated[0], column=resolved["(status)"])
        has_stage = f"{quote_ident(status_stage)} IS NOT NULL"
        _check_values(con, plan.table, part, has_stage, name, day_first)
        parts.append(_typed_select(plan, part, day_first, where=has_stage))
    if not parts:
        raise BadInput("no stage columns: give --stage-date STAGE=COLUMN or --status COLUMN --status-date COLUMN",
                       file=name)
    return parts


def _status_stages(con: duckdb.DuckDBPyConnection, status: str, status_map: Mapping[str, str]) -> str:
    """Stage each row's status means (given map first, then common CRM values); a new staged column."""
    header = "(status stage)"
    meanings = {**STATUS_STAGES, **{v.strip().lower(): s.strip() for v, s in status_map.items()}}
    con.execute(f"ALTER TABLE {_STAGED} ADD COLUMN {quote_ident(header)} VARCHAR")
    con.execute(
        f"UPDATE {_STAGED} SET {quote_ident(header)} = m.stage "
        f"FROM (SELECT unnest(?) AS value, unnest(?) AS stage) m "
        f"WHERE lower(trim({_STAGED}.{quote_ident(status)})) = m.value",
        [list(meanings), list(meanings.values())],
    )
    return header


def _responses_part(con: duckdb.DuckDBPyConnection, plan: Plan, responses: tuple[str, ...], name: str) -> str:
    """One send row per response column: sent = customers in the file, converted = those who responded."""
    rows = []
    for header in responses:
        flag = boolean_expr(f"nullif(trim({quote_ident(header)}), '')")
        bad = con.execute(f"SELECT {ROW}, {quote_ident(header)} FROM {_STAGED} WHERE nullif(trim({quote_ident(header)}), '') "
                          f"IS NOT NULL AND {flag} IS NULL ORDER BY {ROW} LIMIT 1").fetchone()
        if bad:
            raise BadInput(f"'{_clip(bad[1])}' is not a response flag (1/0, yes/no)", file=name, row=bad[0], column=header)
        counts = ", ".join(f"CAST(NULL AS BIGINT) AS {c}" for c in ("delivered", "opened", "clicked"))
        rows.append(f"SELECT min({ROW}) AS {ROW}, {quote_literal(header)} AS campaign_id, CAST(NULL AS VARCHAR) AS variant, "
                    f"CAST(NULL AS VARCHAR) AS medium, CAST(NULL AS TIMESTAMP) AS sent_at, count(*) AS sent, {counts}, "
                    f"count(*) FILTER (WHERE {flag}) AS converted, CAST(NULL AS BIGINT) AS unsubscribed FROM {_STAGED}")
    return " UNION ALL ".join(rows)


def _check_values(
    con: duckdb.DuckDBPyConnection, table: Table, resolved: dict[str, str], where: str, name: str, day_first: bool
) -> None:
    """Raise BadInput for the first row with a value that is missing, malformed or impossible (one scan)."""
    typed = {c.name: f"({_typed_expr(c, quote_ident(resolved[c.name]), day_first)})"
             for c in table.columns if c.name in resolved}
    checks: list[tuple[str, str, str]] = []  # (column, condition true for a bad row, what is wrong)
    for column in table.columns:
        if column.name not in resolved:
            continue
        raw = f"nullif(trim({quote_ident(resolved[column.name])}), '')"
        if column.sql_type in _EXPECTED:
            dated = day_first and column.sql_type in ("TIMESTAMP", "DATE")
            form = " (read day-first; give --monthfirst if it is not)" if dated else ""
            checks.append((column.name, f"{raw} IS NOT NULL AND {typed[column.name]} IS NULL",
                           f"is not {_EXPECTED[column.sql_type]}{form}"))
        if column.sql_type in ("TIMESTAMP", "DATE"):
            checks.append((column.name, f"{typed[column.name]} < DATE '{EARLIEST_DATE}'",
                           f"is before {EARLIEST_DATE.year}: a placeholder rather than a real date"))
            checks.append((column.name, f"{typed[column.name]} > current_date + INTERVAL {LATEST_YEARS_AHEAD} YEAR",
                           f"is more than {LATEST_YEARS_AHEAD} years in the future"))
        if column.required:
            checks.append((column.name, f"{raw} IS NULL", "is empty, but every row needs a value"))
        if column.name in COUNT_COLUMNS:
            checks.append((column.name, f"{typed[column.name]} < 0", "is negative, which a count or amount cannot be"))
    if table.name == "experiment_variants" and "conversions" in resolved:
        checks.append(("conversions", f"{typed['conversions']} > {typed['units']}", "is larger than units"))
    if not checks:
        return
    firsts = con.execute(f"SELECT {', '.join(f'min({ROW}) FILTER (WHERE {bad})' for _, bad, _ in checks)} "
                         f"FROM {_STAGED} WHERE {where}").fetchone()
    found = [(row, i) for i, row in enumerate(firsts) if row is not None]
    if found:
        row, i = min(found)
        column, _, problem = checks[i]
        value = con.execute(f"SELECT {quote_ident(resolved[column])} FROM {_STAGED} WHERE {ROW} = ?", [row]).fetchone()[0]
        shown = "" if value is None or not value.strip() else f"'{_clip(value)}' "
        raise BadInput(f"{shown}{problem}", file=name, row=row, column=resolved[column])


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
                    f"(PARTITION BY {', '.join(key)} ORDER BY {ROW}) = 1")
    if table.name == "leads":
        updates = [f"{c} = coalesce(f.{c}, leads.{c})" for c in resolved if c in columns and c != "lead_id"] + [
            "attributes = map_concat(coalesce(leads.attributes, MAP {}), coalesce(f.attributes, MAP {}))"]
        con.execute(f"UPDATE leads SET {', '.join(updates)} FROM ({first_copies}) f WHERE leads.lead_id = f.lead_id")
    same_key = " AND ".join(f"w.{k} IS NOT DISTINCT FROM f.{k}" for k in key)
    inserted = con.execute(
        f"INSERT INTO {table.name} ({', '.join(columns)}, import_id) "
        f"SELECT {', '.join('f.' + c for c in columns)}, ? FROM ({first_copies}) f "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table.name} w WHERE {same_key})",
        [import_id],
    ).fetchone()
    return int(inserted[0])


def _current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def import_log(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every import, newest first, removed ones included with who removed them and when."""
    return con.execute(
        "SELECT import_id, imported_at, file_name, kind AS table_name, rows_read, rows_added, "
        "rows_skipped, options, imported_by, removed_at, removed_by, content_hash "
        "FROM imports ORDER BY import_id DESC"
    ).df()


def remove_import(con: duckdb.DuckDBPyConnection, import_id: int, removed_by: str | None = None) -> dict[str, int]:
    """Delete exactly the rows import `import_id` added, in one transaction; the log keeps the entry as removed."""
    found = con.execute("SELECT removed_at FROM imports WHERE import_id = ?", [import_id]).fetchone()
    if found is None:
        raise BadInput(f"there is no import #{import_id}; `python -m analytics import-log` lists them")
    if found[0] is not None:
        raise BadInput(f"import #{import_id} was already removed on {found[0]:%Y-%m-%d %H:%M}")
    removed: dict[str, int] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        its_leads = "SELECT lead_id FROM events WHERE import_id = $id UNION ALL SELECT lead_id FROM leads WHERE import_id = $id"
        with journeys.refreshed(con, its_leads, {"id": import_id}):
            for table in DATA_TABLES:
                count = con.execute(f"DELETE FROM {table} WHERE import_id = ?", [import_id]).fetchone()[0]
                if count:
                    removed[table] = int(count)
        con.execute("UPDATE imports SET removed_at = current_localtimestamp(), removed_by = ? WHERE import_id = ?",
                    [removed_by or _current_user(), import_id])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return removed
