"""The warehouse schema: every table's DDL and the versioned migrations that build it.

This module is the only place that creates or alters tables. Each migration is applied once, in order,
inside one transaction, and recorded in `schema_migrations`; a warehouse written by an older version
is brought up to date when it is opened for writing, its derived journey table (`analytics.journeys`)
included.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

# Append only: a released migration never changes, a new one goes at the end.
MIGRATIONS: tuple[str, ...] = (
    # 1: the import log, leads and their events: the funnel's raw material.
    """
    CREATE SEQUENCE import_ids START 1;
    CREATE TABLE imports (
        import_id BIGINT PRIMARY KEY DEFAULT nextval('import_ids'),
        file_name VARCHAR NOT NULL,
        content_hash VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        options VARCHAR NOT NULL DEFAULT '',
        rows_read BIGINT NOT NULL DEFAULT 0,
        rows_added BIGINT NOT NULL DEFAULT 0,
        rows_skipped BIGINT NOT NULL DEFAULT 0,
        imported_by VARCHAR,
        imported_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
    );
    CREATE TABLE leads (
        lead_id VARCHAR NOT NULL,
        created_at TIMESTAMP,
        channel VARCHAR,
        campaign_id VARCHAR,
        account_id VARCHAR,
        seniority VARCHAR,
        attributes MAP(VARCHAR, VARCHAR),
        import_id BIGINT NOT NULL
    );
    CREATE TABLE events (
        lead_id VARCHAR NOT NULL,
        stage VARCHAR NOT NULL,
        occurred_at TIMESTAMP NOT NULL,
        channel VARCHAR,
        campaign_id VARCHAR,
        value DOUBLE,
        import_id BIGINT NOT NULL
    );
    """,
    # 2: what marketing spends and sends, and the experiments it runs.
    """
    CREATE TABLE campaigns (
        campaign_id VARCHAR NOT NULL,
        name VARCHAR,
        channel VARCHAR,
        date DATE,
        start_date DATE,
        end_date DATE,
        spend DOUBLE,
        impressions BIGINT,
        clicks BIGINT,
        import_id BIGINT NOT NULL
    );
    CREATE TABLE sends (
        campaign_id VARCHAR NOT NULL,
        variant VARCHAR,
        medium VARCHAR,
        sent_at TIMESTAMP,
        sent BIGINT,
        delivered BIGINT,
        opened BIGINT,
        clicked BIGINT,
        converted BIGINT,
        unsubscribed BIGINT,
        import_id BIGINT NOT NULL
    );
    CREATE TABLE experiment_variants (
        experiment VARCHAR NOT NULL,
        variant VARCHAR NOT NULL,
        metric VARCHAR NOT NULL,
        units BIGINT NOT NULL,
        conversions BIGINT,
        revenue_sum DOUBLE,
        revenue_sumsq DOUBLE,
        import_id BIGINT NOT NULL
    );
    CREATE TABLE experiment_units (
        experiment VARCHAR NOT NULL,
        unit_id VARCHAR NOT NULL,
        variant VARCHAR NOT NULL,
        converted BOOLEAN,
        value DOUBLE,
        import_id BIGINT NOT NULL
    );
    """,
    # 3: a removed import stays in the log, with who removed it and when.
    """
    ALTER TABLE imports ADD COLUMN removed_at TIMESTAMP;
    ALTER TABLE imports ADD COLUMN removed_by VARCHAR;
    """,
    # 4: each lead's journey, derived from events and leads so queries read one row per lead
    # (analytics.journeys fills it; `migrate` builds it for a warehouse that already has events).
    """
    CREATE TABLE journeys (
        lead_id VARCHAR NOT NULL,
        lead_at TIMESTAMP,
        mql_at TIMESTAMP,
        sql_at TIMESTAMP,
        won_at TIMESTAMP,
        lost_at TIMESTAMP,
        lead_times TIMESTAMP[],
        mql_times TIMESTAMP[],
        sql_times TIMESTAMP[],
        won_times TIMESTAMP[],
        lost_times TIMESTAMP[],
        won_value DOUBLE,
        won_values DOUBLE[],
        channel VARCHAR,
        channel_at TIMESTAMP,
        campaign_id VARCHAR,
        campaign_at TIMESTAMP,
        lead_channel VARCHAR,
        lead_campaign_id VARCHAR,
        seniority VARCHAR,
        account_id VARCHAR
    );
    CREATE TABLE journey_state (events BIGINT NOT NULL, leads BIGINT NOT NULL);
    INSERT INTO journey_state VALUES (0, 0);
    """,
)

LATEST_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class Column:
    """One importable column of a table: its canonical name, DuckDB type and whether a file must have it."""

    name: str
    sql_type: str
    required: bool = False


@dataclass(frozen=True)
class Table:
    """An importable table: its columns and the natural key that makes a second copy of a row a duplicate."""

    name: str
    columns: tuple[Column, ...]
    natural_key: tuple[str, ...]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


# The import kinds of the command line and the Data page, with the columns a file may bring.
TABLES: dict[str, Table] = {
    "leads": Table(
        "leads",
        (
            Column("lead_id", "VARCHAR", required=True),
            Column("created_at", "TIMESTAMP"),
            Column("channel", "VARCHAR"),
            Column("campaign_id", "VARCHAR"),
            Column("account_id", "VARCHAR"),
            Column("seniority", "VARCHAR"),
        ),
        ("lead_id",),
    ),
    "events": Table(
        "events",
        (
            Column("lead_id", "VARCHAR", required=True),
            Column("stage", "VARCHAR", required=True),
            Column("occurred_at", "TIMESTAMP", required=True),
            Column("channel", "VARCHAR"),
            Column("campaign_id", "VARCHAR"),
            Column("value", "DOUBLE"),
        ),
        ("lead_id", "stage", "occurred_at"),
    ),
    "campaigns": Table(
        "campaigns",
        (
            Column("campaign_id", "VARCHAR", required=True),
            Column("name", "VARCHAR"),
            Column("channel", "VARCHAR"),
            Column("date", "DATE"),
            Column("start_date", "DATE"),
            Column("end_date", "DATE"),
            Column("spend", "DOUBLE"),
            Column("impressions", "BIGINT"),
            Column("clicks", "BIGINT"),
        ),
        ("campaign_id", "date", "start_date"),
    ),
    "sends": Table(
        "sends",
        (
            Column("campaign_id", "VARCHAR", required=True),
            Column("variant", "VARCHAR"),
            Column("medium", "VARCHAR"),
            Column("sent_at", "TIMESTAMP"),
            Column("sent", "BIGINT"),
            Column("delivered", "BIGINT"),
            Column("opened", "BIGINT"),
            Column("clicked", "BIGINT"),
            Column("converted", "BIGINT"),
            Column("unsubscribed", "BIGINT"),
        ),
        ("campaign_id", "variant", "sent_at"),
    ),
    "experiment_variants": Table(
        "experiment_variants",
        (
            Column("experiment", "VARCHAR", required=True),
            Column("variant", "VARCHAR", required=True),
            Column("metric", "VARCHAR"),
            Column("units", "BIGINT", required=True),
            Column("conversions", "BIGINT"),
            Column("revenue_sum", "DOUBLE"),
            Column("revenue_sumsq", "DOUBLE"),
        ),
        ("experiment", "variant", "metric"),
    ),
    "experiment_units": Table(
        "experiment_units",
        (
            Column("experiment", "VARCHAR", required=True),
            Column("unit_id", "VARCHAR", required=True),
            Column("variant", "VARCHAR", required=True),
            Column("converted", "BOOLEAN"),
            Column("value", "DOUBLE"),
        ),
        ("experiment", "unit_id"),
    ),
}

# Tables whose rows carry the import that added them.
DATA_TABLES: tuple[str, ...] = tuple(TABLES)

FUNNEL_STAGES: tuple[str, ...] = ("lead", "mql", "sql", "won", "lost")


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The migration level of the warehouse behind `con`: 0 for a new, empty file."""
    has_log = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
    ).fetchone()[0]
    if not has_log:
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]


def migrate(con: duckdb.DuckDBPyConnection, target: int = LATEST_VERSION) -> int:
    """Apply the migrations the warehouse lacks, up to `target`; return the version it is now at."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp())"
    )
    current = schema_version(con)
    if current > LATEST_VERSION:
        raise RuntimeError(
            f"the warehouse is at schema version {current}, newer than this program knows "
            f"({LATEST_VERSION}): update the program"
        )
    for version in range(current + 1, target + 1):
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(MIGRATIONS[version - 1])
            con.execute("INSERT INTO schema_migrations (version) VALUES (?)", [version])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    if target == LATEST_VERSION:
        _build_journeys(con)
    return schema_version(con)


def _build_journeys(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild the journey table when it does not match the events and leads (new, or written around it)."""
    from analytics import journeys  # it builds on this module's tables

    if journeys.is_current(con):
        return
    con.execute("BEGIN TRANSACTION")
    try:
        journeys.rebuild(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
