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
from analytics.sources import (
    ROW,
    STAGE_TABLE,
    TEXT_TABLE,
    drop_staged,
    stage_file,
    untrimmed_sql,
    value_sql,
)
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
_TEXT = f"temp.{TEXT_TABLE}"  # the staged values, which a view of them cannot alter
_TYPED = "temp.import_typed"  # the file's rows converted, with `_row`, `_part` and `_given_` flags
_HASH_CHUNK = 1 << 20
_REFUSED = "a value fails its check"  # the error a direct import raises at a bad value (_import_directly)
_SPARE_MEMORY = 4  # see _memory_to_spare
_OFFSET_AT_END = r"\d[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)$"
# Cheap patterns every text _OFFSET_AT_END matches also matches, so only those texts run the regex.
_MAYBE_OFFSET = ("%Z", "%+%", "%-__", "%-____", "%-__:__")
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


def _onward(progress: Progress) -> Progress:
    """`progress` that never reports less than it has (a step retried another way does not go back)."""
    reached = 0.0

    def report(fraction: float, step: str) -> None:
        nonlocal reached
        reached = max(reached, fraction)
        progress(reached, step)

    return report


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
        loading = _onward(part(progress, 0.35, 0.99))
        loading(0.0, "checking values")
        conversion = _conversion(con, kind, headers, name, options)
        who = imported_by or _current_user()
        result = (_import_directly(con, conversion, name, options, described, digest, who, loading)
                  if _direct(conversion, options) else None)
        if result is None:
            candidates = _convert(con, conversion, name, loading)
            # Every value passed: the text copy is no longer needed. Dropped outside the transaction, its
            # memory is free for the insert at once rather than kept until the commit.
            drop_staged(con)
            con.execute("BEGIN TRANSACTION")
            try:
                result = _store(con, conversion.plan, name, options, described, digest, who,
                                conversion.rows_read, candidates, loading)
                loading(1.0, "saving")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
    finally:
        drop_staged(con)
        con.execute(f"DROP TABLE IF EXISTS {_TYPED}")
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
        # OFFSET, not `WHERE _row >= ?`: DuckDB 2.0 fails an internal assertion on a filter on rowid + 1
        # together with ORDER BY ... LIMIT on it. Rows are numbered 1, 2, ... without gaps, so both agree.
        head = con.execute(f"SELECT {ROW} AS row, * EXCLUDE ({ROW}) FROM {_STAGED} ORDER BY {ROW} LIMIT ? OFFSET ?",
                           [rows, max(first_row, 1) - 1]).df()
    return plan, head


@dataclass(frozen=True)
class _Conversion:
    """How a staged file becomes table rows: `select` is SQL of its rows as typed canonical columns with
    `_row`, `_part` and the `_given_` flags (`_typed_select`), one part after another."""

    plan: Plan
    rows_read: int
    day_first: bool
    parts: list[_Part]
    select: str


def _conversion(
    con: duckdb.DuckDBPyConnection, kind: str, headers: list[str], name: str, options: ImportOptions
) -> _Conversion:
    """Plan the staged file's conversion (reading day-first or not, the parts of a wide file)."""
    plan = _plan(kind, headers, options, name)
    rows_read = con.execute(f"SELECT count(*) FROM {_STAGED}").fetchone()[0]
    if rows_read == 0:
        raise BadInput("the file has a header but no data rows", file=name)
    day_first = _day_first(con, plan, options, name)
    parts = [] if options.responses else _parts(con, plan, options, name)
    union = (_responses_part(con, plan, options.responses, name) if options.responses else
             " UNION ALL ".join(f"({_typed_select(plan, p.resolved, day_first, i, p.where)})" for i, p in enumerate(parts)))
    return _Conversion(plan, rows_read, day_first, parts, union)


def _convert(con: duckdb.DuckDBPyConnection, conversion: _Conversion, name: str, progress: Progress) -> int:
    """Convert and check the staged file into the temp table `_TYPED`, storing nothing in the warehouse;
    return the rows the file gives (wide files give several per row)."""
    # Every value is converted once, into a table the checks, the insert and the journeys all read.
    watched(con, lambda: con.execute(f"CREATE TEMP TABLE {_TYPED} AS {conversion.select}"), progress,
            "checking values", 0.1, 0.4)
    for i, piece in enumerate(conversion.parts):
        if piece.status:
            _check_dated(con, piece, name)
        _check_values(con, conversion.plan.table, piece.resolved, i, name, conversion.day_first)
    return con.execute(f"SELECT count(*) FROM {_TYPED}").fetchone()[0]


class _Refused(Exception):
    """The direct import cannot store this file as the exact path would; nothing of it was written."""


def _direct(conversion: _Conversion, options: ImportOptions) -> bool:
    """Whether the file may be imported straight from its staged text (`_import_directly`): a long file
    (one row per record) of any table but leads, whose known leads are updated from the first copy of each."""
    parts = conversion.parts
    return (conversion.plan.table.name != "leads" and not options.responses and len(parts) == 1
            and parts[0].where == "TRUE")


def _import_directly(
    con: duckdb.DuckDBPyConnection, conversion: _Conversion, name: str, options: ImportOptions, described: str,
    digest: str, imported_by: str, progress: Progress,
) -> ImportResult | None:
    """Import the file from its staged text in one transaction, converting each value once as it goes in
    and refusing the whole file at the first value that fails a check; None (with nothing written and
    no import number taken) when a value fails or a natural key repeats within the file.

    The usual file passes every check and repeats no key: for it this spares materializing the
    converted rows and scanning them again for the checks. Any other file then takes the exact path
    (`_convert`, `_store`), which names the file's first bad row or keeps the first copy of each key.
    """
    table = conversion.plan.table
    columns = [c.name for c in table.columns]
    touches_leads = table.name == "events"
    checks = _checks(table, conversion.parts[0].resolved, conversion.day_first)
    bad = " OR ".join(f"({condition})" for _, condition, _ in checks) or "false"
    # Every row is checked, those whose key is stored already included, as `_check_values` does.
    checked = f"(SELECT * FROM ({conversion.select}) WHERE CASE WHEN {bad} THEN error({quote_literal(_REFUSED)}) ELSE true END)"
    con.execute("BEGIN TRANSACTION")
    try:
        # The log row comes last, so that a refused file takes no import number (sequences ignore a
        # rollback); the rows carry the number the log row then takes, checked below.
        import_id = con.execute("SELECT coalesce(last_value + increment_by, start_value) FROM duckdb_sequences() "
                                "WHERE database_name = current_database() AND schema_name = current_schema() "
                                "AND sequence_name = 'import_ids'").fetchone()[0]
        stored = con.execute(f"SELECT EXISTS (SELECT 1 FROM {table.name})").fetchone()[0]
        same_key = " AND ".join(f"w.{k} IS NOT DISTINCT FROM f.{k}" for k in table.natural_key)
        # Spelled as a join, not NOT EXISTS, so that DuckDB builds its hash table on the file rather than the table.
        new = f"ANTI JOIN {table.name} w ON ({same_key})" if stored else ""
        insert = (f"INSERT INTO {table.name} ({', '.join(columns)}, import_id) SELECT {', '.join('f.' + c for c in columns)}, "
                  f"{import_id} FROM {checked} f {new}")
        scope = f"SELECT lead_id FROM ({conversion.select})"
        with ExitStack() as refresh:
            refresh.enter_context(journeys.refreshed(con, scope) if touches_leads else nullcontext())
            added = watched(con, lambda: _checked_insert(con, insert), progress, f"adding rows to {table.name}",
                            0.1, 0.75 if touches_leads else 0.95)
            if _repeats_a_key(con, f"(SELECT * FROM {table.name} WHERE import_id = {import_id})", table.natural_key):
                raise _Refused("a natural key repeats within the file")
            drop_staged(con)  # its memory is better spent on the journeys
            if touches_leads:  # the journeys are rebuilt as the block ends; close it here to watch that happen
                watched(con, refresh.close, progress, "refreshing journeys", 0.75, 0.95, statements=2)
        skipped = conversion.rows_read - added  # a long file gives one row per row read
        logged = con.execute(
            "INSERT INTO imports (file_name, content_hash, kind, options, rows_read, rows_added, rows_skipped, imported_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING import_id",
            [name, digest, table.name, described, conversion.rows_read, added, skipped, imported_by],
        ).fetchone()[0]
        if logged != import_id:
            raise _Refused("another connection took the import number")
        progress(1.0, "saving")
        con.execute("COMMIT")
    except _Refused:
        con.execute("ROLLBACK")
        return None
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return ImportResult(import_id, name, table.name, conversion.rows_read, added, skipped,
                        ignored_columns=conversion.plan.ignored)


def _checked_insert(con: duckdb.DuckDBPyConnection, insert: str) -> int:
    """Run `insert`, whose rows raise `_REFUSED` at a value failing its check; the rows it added."""
    try:
        return int(con.execute(insert).fetchone()[0])
    except duckdb.InvalidInputException as error:
        if _REFUSED in str(error):
            raise _Refused(_REFUSED) from error
        raise


def _store(
    con: duckdb.DuckDBPyConnection, plan: Plan, name: str, options: ImportOptions, described: str, digest: str,
    imported_by: str, rows_read: int, candidates: int, progress: Progress,
) -> ImportResult:
    """Add the converted file's new rows, log the import and refresh the journeys (in the caller's transaction)."""
    import_id = con.execute(
        "INSERT INTO imports (file_name, content_hash, kind, options, rows_read, imported_by) "
        "VALUES (?, ?, ?, ?, ?, ?) RETURNING import_id",
        [name, digest, plan.table.name, described, rows_read, imported_by],
    ).fetchone()[0]
    touches_leads = plan.table.name in ("events", "leads")
    with ExitStack() as refresh:
        refresh.enter_context(journeys.refreshed(con, f"SELECT lead_id FROM {_TYPED}") if touches_leads else nullcontext())
        added = watched(con, lambda: _insert_new_rows(con, plan.table, _TYPED, import_id, plan.resolved),
                        progress, f"adding rows to {plan.table.name}", 0.4, 0.75 if touches_leads else 0.95, statements=2)
        con.execute(f"DROP TABLE {_TYPED}")  # its memory is better spent on the journeys
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
        # Such a date has its first separator second or third unless trimming moves it, which rules out
        # ISO dates without the cost of trimming every value.
        value = quote_ident(header)
        parts = f"regexp_extract(trim({value}), '^(\\d{{1,2}})[/.-](\\d{{1,2}})[/.-]\\d{{2,4}}', ['a', 'b'])"
        maybe = (f"NOT {untrimmed_sql(value)} OR substr({value}, 2, 1) IN ('/', '.', '-') "
                 f"OR substr({value}, 3, 1) IN ('/', '.', '-')")
        day, month = con.execute(
            f"SELECT count(*) FILTER (WHERE a > 12 AND b <= 12), count(*) FILTER (WHERE b > 12 AND a <= 12) FROM "
            f"(SELECT try_cast(p.a AS INTEGER) AS a, try_cast(p.b AS INTEGER) AS b FROM "
            f"(SELECT {parts} AS p FROM {_TEXT} WHERE {maybe}))"
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


def _typed_expr(column: Column, text: str, day_first: bool) -> str:
    """SQL converting `text` (a trimmed text column, NULL when empty) to the column's type; NULL where it
    cannot be converted."""
    if column.sql_type in ("TIMESTAMP", "DATE"):
        maybe = " OR ".join(f"{text} LIKE '{pattern}'" for pattern in _MAYBE_OFFSET)
        moment = (f"CASE WHEN ({maybe}) AND regexp_matches({text}, '{_OFFSET_AT_END}') "
                  f"THEN try_cast(try_cast({text} AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP) "
                  f"ELSE coalesce(try_cast({text} AS TIMESTAMP), try_strptime({text}, {_sql_list(_formats(day_first))})) END")
        return moment if column.sql_type == "TIMESTAMP" else f"CAST({moment} AS DATE)"
    if column.sql_type in ("BIGINT", "DOUBLE"):
        number = _number_text(text)
        value = (f"CASE WHEN {number} LIKE '%\\%' ESCAPE '\\' THEN try_cast(rtrim({number}, '%') AS DOUBLE) / 100 "
                 f"ELSE try_cast({number} AS DOUBLE) END")
        if column.sql_type == "DOUBLE":  # plain numbers first: the cleaning leaves them as they are
            value = f"coalesce(try_cast({text} AS DOUBLE), {value})"
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


def _typed_select(plan: Plan, resolved: dict[str, str], day_first: bool, part: int, where: str) -> str:
    """SELECT of the staged file as typed canonical columns plus `_row`, `_part` and, for each column that
    is converted from text, `_given_{column}`: whether the file has a value there (to tell a bad one)."""
    used = dict.fromkeys(quote_ident(resolved[c.name]) for c in plan.table.columns if c.name in resolved)
    # Each value is trimmed once, below, rather than wherever a conversion reads it.
    texts = ", ".join(f"{value_sql(h)} AS {h}" for h in used)
    parts = [ROW, f"{part} AS _part"]
    for column in plan.table.columns:
        if column.name in resolved:
            parts.append(f"{_typed_expr(column, quote_ident(resolved[column.name]), day_first)} AS {column.name}")
        else:
            parts.append(f"CAST(NULL AS {column.sql_type}) AS {column.name}")
        if column.sql_type != "VARCHAR":
            given = f"{quote_ident(resolved[column.name])} IS NOT NULL" if column.name in resolved else "false"
            parts.append(f"{given} AS _given_{column.name}")
    if plan.table.name == "leads":
        extra = [h for h in plan.headers if h not in resolved.values()]
        keys = [normalize_name(h) or h for h in extra]
        keys = [k if keys.count(k) == 1 else h for k, h in zip(keys, extra)]
        pairs = ", ".join(f"{quote_literal(k)}: nullif(trim({quote_ident(h)}), '')" for k, h in zip(keys, extra))
        parts.append(f"MAP {{{pairs}}} AS attributes" if extra else "CAST(NULL AS MAP(VARCHAR, VARCHAR)) AS attributes")
    return f"SELECT {', '.join(parts)} FROM (SELECT * REPLACE ({texts}) FROM {_STAGED} WHERE {where})"


def _add_constant_column(con: duckdb.DuckDBPyConnection, header: str, value: str) -> str:
    """Give every staged row the same value in a new column `header`; return the header."""
    con.execute(f"ALTER TABLE {_TEXT} ADD COLUMN {quote_ident(header)} VARCHAR")
    con.execute(f"UPDATE {_TEXT} SET {quote_ident(header)} = ?", [value])
    return header


@dataclass(frozen=True)
class _Part:
    """Staged rows (`where`) read as table rows, with the header feeding each column (`resolved`).

    `status` is the status header of a status part, whose rows must carry a date.
    """

    resolved: dict[str, str]
    where: str = "TRUE"
    status: str | None = None


def _parts(con: duckdb.DuckDBPyConnection, plan: Plan, options: ImportOptions, name: str) -> list[_Part]:
    """The parts whose union is the file's rows: one for a long file, one per stage for a wide one."""
    resolved = dict(plan.resolved)
    if plan.table.name == "experiment_variants" and "metric" not in resolved:
        resolved["metric"] = _add_constant_column(con, "(metric)", DEFAULT_METRIC)
    if plan.table.name == "events" and options.stage is not None:
        if not options.stage.strip():
            raise BadInput("the stage given for the whole file must not be empty", file=name)
        resolved["stage"] = _add_constant_column(con, "(stage)", options.stage.strip())
    if plan.table.name != "events" or not (plan.stage_dates or options.status):
        return [_Part(resolved)]

    shared = {k: v for k, v in resolved.items() if k not in ("value", "(status)", "(status date)")}
    parts = []
    for stage, header in plan.stage_dates.items():
        part = {**shared, "stage": _add_constant_column(con, f"(stage {stage})", stage), "occurred_at": header}
        parts.append(_Part(part, f"nullif(trim({quote_ident(header)}), '') IS NOT NULL"))
    if options.status:
        status_stage = _status_stages(con, resolved["(status)"], options.status_map)
        part = {**shared, "stage": status_stage, "occurred_at": resolved["(status date)"],
                **({"value": resolved["value"]} if "value" in resolved else {})}
        parts.append(_Part(part, f"{quote_ident(status_stage)} IS NOT NULL", status=resolved["(status)"]))
    if not parts:
        raise BadInput("no stage columns: give --stage-date STAGE=COLUMN or --status COLUMN --status-date COLUMN",
                       file=name)
    return parts


def _check_dated(con: duckdb.DuckDBPyConnection, part: _Part, name: str) -> None:
    """Raise BadInput for the first row of a status part whose status is a stage but that has no date."""
    date_header = part.resolved["occurred_at"]
    undated = con.execute(
        f"SELECT {ROW}, {quote_ident(part.status)} FROM {_STAGED} WHERE {part.where} "
        f"AND nullif(trim({quote_ident(date_header)}), '') IS NULL ORDER BY {ROW} LIMIT 1").fetchone()
    if undated:
        raise BadInput(f"is '{undated[1]}' but has no date in '{date_header}'", file=name, row=undated[0],
                       column=part.status)


def _status_stages(con: duckdb.DuckDBPyConnection, status: str, status_map: Mapping[str, str]) -> str:
    """Stage each row's status means (given map first, then common CRM values); a new staged column."""
    header = "(status stage)"
    meanings = {**STATUS_STAGES, **{v.strip().lower(): s.strip() for v, s in status_map.items()}}
    con.execute(f"ALTER TABLE {_TEXT} ADD COLUMN {quote_ident(header)} VARCHAR")
    con.execute(
        f"UPDATE {_TEXT} SET {quote_ident(header)} = m.stage "
        f"FROM (SELECT unnest(?) AS value, unnest(?) AS stage) m "
        f"WHERE lower(trim({_TEXT}.{quote_ident(status)})) = m.value",
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


def _checks(table: Table, resolved: dict[str, str], day_first: bool) -> list[tuple[str, str, str]]:
    """The checks of a converted row's values: (column, SQL true for a bad row, what is wrong)."""
    typed = {c.name: quote_ident(c.name) for c in table.columns}
    checks: list[tuple[str, str, str]] = []  # (column, condition true for a bad row, what is wrong)
    for column in table.columns:
        if column.name not in resolved:
            continue
        given = f"{typed[column.name]} IS NOT NULL" if column.sql_type == "VARCHAR" else f"_given_{column.name}"
        if column.sql_type in _EXPECTED:
            dated = day_first and column.sql_type in ("TIMESTAMP", "DATE")
            form = " (read day-first; give --monthfirst if it is not)" if dated else ""
            checks.append((column.name, f"{given} AND {typed[column.name]} IS NULL",
                           f"is not {_EXPECTED[column.sql_type]}{form}"))
        if column.sql_type in ("TIMESTAMP", "DATE"):
            checks.append((column.name, f"{typed[column.name]} < DATE '{EARLIEST_DATE}'",
                           f"is before {EARLIEST_DATE.year}: a placeholder rather than a real date"))
            checks.append((column.name, f"{typed[column.name]} > current_date + INTERVAL {LATEST_YEARS_AHEAD} YEAR",
                           f"is more than {LATEST_YEARS_AHEAD} years in the future"))
        if column.required:
            checks.append((column.name, f"NOT ({given})", "is empty, but every row needs a value"))
        if column.name in COUNT_COLUMNS:
            checks.append((column.name, f"{typed[column.name]} < 0", "is negative, which a count or amount cannot be"))
    if table.name == "experiment_variants" and "conversions" in resolved:
        checks.append(("conversions", f"{typed['conversions']} > {typed['units']}", "is larger than units"))
    return checks


def _check_values(
    con: duckdb.DuckDBPyConnection, table: Table, resolved: dict[str, str], part: int, name: str, day_first: bool
) -> None:
    """Raise BadInput for the first row of part `part` of the converted file with a value that is missing,
    malformed or impossible (one scan of the converted values)."""
    checks = _checks(table, resolved, day_first)
    if not checks:
        return
    firsts = con.execute(f"SELECT {', '.join(f'min({ROW}) FILTER (WHERE {bad})' for _, bad, _ in checks)} "
                         f"FROM {_TYPED} WHERE _part = ?", [part]).fetchone()
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
    """Insert the rows of the converted file (table `typed`) whose natural key is new (the first copy
    within the file wins).

    Leads already present keep their row and owner, but take the attributes this file brings.
    Most files repeat no key, and a first import finds the table empty; each fact is cheap to learn and
    spares a costly step: sorting the file by key to pick the first copies, or looking every key up
    among the stored rows.
    """
    key = table.natural_key
    columns = [c.name for c in table.columns] + (["attributes"] if table.name == "leads" else [])
    rows = typed
    if not _memory_to_spare(con) or _repeats_a_key(con, typed, key):
        rows = (f"(SELECT * FROM {typed} QUALIFY row_number() OVER "
                f"(PARTITION BY {', '.join(key)} ORDER BY {ROW}) = 1)")
    stored = con.execute(f"SELECT EXISTS (SELECT 1 FROM {table.name})").fetchone()[0]
    if table.name == "leads" and stored:
        updates = [f"{c} = coalesce(f.{c}, leads.{c})" for c in resolved if c in columns and c != "lead_id"] + [
            "attributes = map_concat(coalesce(leads.attributes, MAP {}), coalesce(f.attributes, MAP {}))"]
        con.execute(f"UPDATE leads SET {', '.join(updates)} FROM {rows} f WHERE leads.lead_id = f.lead_id")
    same_key = " AND ".join(f"w.{k} IS NOT DISTINCT FROM f.{k}" for k in key)
    new = f"WHERE NOT EXISTS (SELECT 1 FROM {table.name} w WHERE {same_key})" if stored else ""
    inserted = con.execute(
        f"INSERT INTO {table.name} ({', '.join(columns)}, import_id) "
        f"SELECT {', '.join('f.' + c for c in columns)}, ? FROM {rows} f {new}",
        [import_id],
    ).fetchone()
    return int(inserted[0])


def _memory_to_spare(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether DuckDB's memory limit exceeds _SPARE_MEMORY times what its temp tables (the converted file) hold.

    Under a tighter limit the first copies are picked by sorting even when no key repeats: the sort,
    which spills, moves the converted rows out of memory, while after a plain scan they stay cached
    and (as measured at 64 MB) leave the journeys rebuild that follows too little to run in.
    """
    limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    held = con.execute("SELECT sum(memory_usage_bytes + temporary_storage_bytes) FROM duckdb_memory() "
                       "WHERE tag = 'IN_MEMORY_TABLE'").fetchone()[0] or 0
    return _bytes(limit) > _SPARE_MEMORY * held


def _bytes(size: str) -> float:
    """DuckDB's rendering of a size ('61.0 MiB', '18.3 GiB', '512 bytes') in bytes; 0 for a form it does not know."""
    found = re.fullmatch(r"([0-9.]+) (bytes|[KMGTPE]iB)", size.strip())
    return float(found.group(1)) * 1024 ** "bKMGTPE".index(found.group(2)[0]) if found else 0.0


def _repeats_a_key(con: duckdb.DuckDBPyConnection, typed: str, key: tuple[str, ...]) -> bool:
    """Whether two rows of `typed` may share their natural key: true when they do, and (rarely) when two
    keys only share a 64-bit hash, which costs no more than assuming repeats. NULLs count as equal,
    as `IS NOT DISTINCT FROM` has them. Sorting the hashes and comparing neighbours takes a third less
    CPU than grouping by them (measured at 10M rows), and spills to disk when memory is short."""
    hashed = f"SELECT hash({', '.join(key)}) AS h FROM {typed}"
    return con.execute(f"SELECT EXISTS (SELECT 1 FROM (SELECT h, lag(h) OVER (ORDER BY h) AS before FROM ({hashed})) "
                       f"WHERE h = before)").fetchone()[0]


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
