"""Migrations: a warehouse written by an older version opens, keeps its rows and gains the new tables."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from analytics import journeys
from analytics.schema import LATEST_VERSION, MIGRATIONS, migrate, schema_version
from analytics.warehouse import reader, writer


@pytest.mark.parametrize("old_version", range(1, LATEST_VERSION))
def test_an_old_warehouse_is_migrated_and_keeps_its_rows(tmp_path, old_version):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    migrate(con, target=old_version)
    con.execute("INSERT INTO events (lead_id, stage, occurred_at, import_id) VALUES ('L1', 'lead', '2025-01-01', 1)")
    con.close()

    with reader(path) as con:  # a reader brings the file up to date before reading
        assert schema_version(con) == LATEST_VERSION
        assert con.execute("SELECT lead_id FROM events").fetchall() == [("L1",)]
        assert con.execute("SELECT count(*) FROM campaigns").fetchone() == (0,)


def test_an_old_warehouse_gets_its_journeys_built_from_its_events(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    migrate(con, target=3)  # before the journey table
    con.execute("INSERT INTO events (lead_id, stage, occurred_at, import_id) "
                "VALUES ('L1', 'lead', '2025-01-01', 1), ('L1', 'mql', '2025-01-02', 1)")
    con.close()

    with writer(path) as con:
        assert con.execute("SELECT lead_id, lead_at, mql_at FROM journeys").fetchall() == [
            ("L1", datetime(2025, 1, 1), datetime(2025, 1, 2))]
        assert journeys.is_current(con)


def test_every_migration_is_recorded_once(tmp_path):
    path = tmp_path / "w.duckdb"
    for _ in range(2):
        with writer(path) as con:
            versions = [v for (v,) in con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()]
    assert versions == list(range(1, len(MIGRATIONS) + 1))


def test_a_warehouse_newer_than_the_program_is_refused(tmp_path):
    con = duckdb.connect(str(tmp_path / "new.duckdb"))
    migrate(con)
    con.execute("INSERT INTO schema_migrations (version) VALUES (?)", [LATEST_VERSION + 1])
    with pytest.raises(RuntimeError, match="newer than this program knows"):
        migrate(con)
