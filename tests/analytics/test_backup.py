"""Backups while the warehouse is in use, and restores that refuse what is not a warehouse."""

from __future__ import annotations

import duckdb
import pytest

from analytics.backup import backup, check_backup, restore
from analytics.demo import generate
from analytics.errors import BadInput
from analytics.imports import import_file
from analytics.schema import migrate
from analytics.warehouse import reader, writer


def _counts(path) -> dict[str, int]:
    with reader(path) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("leads", "events", "imports")}


def test_a_backup_taken_while_a_reader_is_open_is_a_complete_warehouse(tmp_path):
    db, copy = tmp_path / "w.duckdb", tmp_path / "backups" / "copy.duckdb"
    with writer(db) as con:
        generate(con, leads=1_000, seed=2)
    with reader(db):  # the dashboard in the middle of a page
        counts = backup(copy, db)
    assert counts["leads"] == 1_000 and check_backup(copy) >= 1
    assert _counts(copy) == _counts(db)
    with pytest.raises(BadInput, match="already exists"):
        backup(copy, db)


def test_restore_replaces_the_warehouse_keeps_the_old_one_and_continues_ids(tmp_path, write_file):
    db, copy = tmp_path / "w.duckdb", tmp_path / "copy.duckdb"
    with writer(db) as con:
        first = import_file(con, "events", write_file("a.csv", "lead_id,stage,occurred_at\nA,lead,2026-01-01\n"))
    backup(copy, db)
    with writer(db) as con:
        import_file(con, "events", write_file("b.csv", "lead_id,stage,occurred_at\nB,lead,2026-01-02\n"))
    kept = restore(copy, db)
    assert _counts(db)["events"] == 1 and _counts(kept)["events"] == 2
    with writer(db) as con:  # the restored sequence goes on after the backup's last import
        later = import_file(con, "events", write_file("c.csv", "lead_id,stage,occurred_at\nC,lead,2026-01-03\n"))
    assert later.import_id == first.import_id + 1


@pytest.mark.parametrize("kind", ["text", "empty-duckdb", "future-version"])
def test_restore_refuses_a_file_that_is_not_a_known_warehouse(tmp_path, kind):
    db, bad = tmp_path / "w.duckdb", tmp_path / "bad.duckdb"
    with writer(db) as con:
        generate(con, leads=200, seed=1)
    if kind == "text":
        bad.write_text("not a database")
    else:
        con = duckdb.connect(str(bad))
        if kind == "future-version":
            migrate(con)
            con.execute("INSERT INTO schema_migrations (version) VALUES (999)")
        con.close()
    before = _counts(db)
    with pytest.raises(BadInput, match="bad.duckdb: is not a"):
        restore(bad, db)
    assert _counts(db) == before
