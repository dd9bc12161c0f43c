"""Loading ClickHouse: a warehouse copied over whole, and file imports that land whole or not at all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from analytics import imports
from analytics.clickhouse.connection import ClickHouseConnection, connect
from analytics.clickhouse.load import (
    append_import,
    copy_to_clickhouse,
    import_file,
    open_for_writing,
    remove_import,
)
from analytics.errors import BadInput
from analytics.schema import DATA_TABLES
from analytics.warehouse import reader

pytestmark = pytest.mark.parity

EVENTS = "lead_id,stage,occurred_at,channel\nL1,lead,2026-01-05 10:00,webinar\nL1,mql,2026-02-01,\nL2,lead,2026-01-07,display\n"


@pytest.fixture
def empty_ch(clickhouse_url: str, warehouse: Path) -> Iterator[ClickHouseConnection]:
    """A ClickHouse database holding a copy of a new, empty warehouse."""
    ch = copy_to_clickhouse(warehouse, clickhouse_url, "parity_load")
    yield ch
    ch.close()


def count(ch: ClickHouseConnection, table: str) -> int:
    return ch.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_a_copied_warehouse_has_every_table_and_row(demo_engines, parity_demo: Path) -> None:
    _, ch = demo_engines
    with reader(parity_demo) as duck:
        tables = [r[0] for r in duck.execute("SELECT table_name FROM information_schema.tables "
                                             "WHERE table_schema = 'main' ORDER BY 1").fetchall()]
        for table in tables:
            assert count(ch, table) == duck.execute(f"SELECT count(*) FROM {table}").fetchone()[0], table


def test_a_file_imports_with_the_duckdb_rules_and_is_logged(empty_ch: ClickHouseConnection, write_file) -> None:
    path = write_file("events.csv", EVENTS)
    result = import_file(empty_ch, "events", path)
    assert (result.table, result.rows_read, result.rows_added, result.rows_skipped) == ("events", 3, 3, 0)
    assert empty_ch.execute("SELECT lead_id, stage, channel FROM events ORDER BY lead_id, occurred_at").fetchall() == [
        ("L1", "lead", "webinar"), ("L1", "mql", None), ("L2", "lead", "display")]
    log = imports.import_log(empty_ch)
    assert log[["import_id", "table_name", "rows_added"]].values.tolist() == [[result.import_id, "events", 3]]
    assert import_file(empty_ch, "events", path).already_imported


def test_rows_already_present_are_skipped(empty_ch: ClickHouseConnection, write_file) -> None:
    import_file(empty_ch, "events", write_file("first.csv", EVENTS))
    again = import_file(empty_ch, "events", write_file("second.csv", EVENTS + "L3,lead,2026-01-09,display\n"))
    assert (again.rows_added, again.rows_skipped) == (1, 3)
    assert count(empty_ch, "events") == 4


def test_a_refused_file_leaves_clickhouse_as_it_was(empty_ch: ClickHouseConnection, write_file) -> None:
    import_file(empty_ch, "events", write_file("good.csv", EVENTS))
    with pytest.raises(BadInput, match="row 2"):
        import_file(empty_ch, "events", write_file("bad.csv", "lead_id,stage,occurred_at\nL9,lead,2026-01-01\nL9,mql,31/02/2026\n"))
    assert count(empty_ch, "events") == 3 and len(imports.import_log(empty_ch)) == 1


def test_a_failure_while_sending_batches_adds_nothing(empty_ch: ClickHouseConnection) -> None:
    batch = pa.RecordBatch.from_pylist([{"lead_id": "L1", "stage": "lead", "occurred_at": pa.scalar(0, pa.timestamp("us")).as_py(),
                                         "import_id": 7}])

    def batches() -> Iterator[pa.RecordBatch]:
        yield batch
        raise ConnectionError("the network went away after the first batch")

    with pytest.raises(ConnectionError):
        append_import(empty_ch, "events", batches(), 7)
    assert count(empty_ch, "events") == 0
    leftovers = empty_ch.execute_clickhouse("SELECT name FROM system.tables WHERE database = currentDatabase() "
                                           "AND name LIKE '\\_staging%'").fetchall()
    assert leftovers == []


def test_leads_take_the_attributes_a_later_file_brings(empty_ch: ClickHouseConnection, write_file) -> None:
    first = import_file(empty_ch, "leads", write_file("a.csv", "lead_id,channel,company_size\nL1,webinar,10\nL2,display,50\n"))
    second = import_file(empty_ch, "leads", write_file("b.csv", "lead_id,seniority,region\nL1,head,EU\nL3,staff,US\n"))
    assert (first.rows_added, second.rows_added, second.rows_skipped) == (2, 1, 1)
    rows = empty_ch.execute("SELECT lead_id, channel, seniority, attributes['region'::VARCHAR], import_id "
                            "FROM leads ORDER BY lead_id").fetchall()
    assert rows == [("L1", "webinar", "head", "EU", first.import_id), ("L2", "display", None, None, first.import_id),
                    ("L3", None, "staff", "US", second.import_id)]


def test_removing_an_import_drops_exactly_its_rows(empty_ch: ClickHouseConnection, write_file) -> None:
    first = import_file(empty_ch, "events", write_file("first.csv", EVENTS))
    second = import_file(empty_ch, "events", write_file("second.csv", "lead_id,stage,occurred_at\nL3,lead,2026-01-09\n"))
    assert remove_import(empty_ch, first.import_id, removed_by="tester") == {"events": 3}
    assert empty_ch.execute("SELECT lead_id FROM events").fetchall() == [("L3",)]
    log = imports.import_log(empty_ch).set_index("import_id")
    assert log.loc[first.import_id, "removed_by"] == "tester" and log.loc[second.import_id, "removed_by"] is None
    with pytest.raises(BadInput, match="already removed"):
        remove_import(empty_ch, first.import_id)
    assert set(DATA_TABLES) <= {r[0] for r in empty_ch.execute_clickhouse(
        "SELECT name FROM system.tables WHERE database = currentDatabase()").fetchall()}


def test_the_first_import_into_a_new_database_creates_the_warehouse_tables(clickhouse_url: str, write_file) -> None:
    with connect(clickhouse_url) as admin:
        admin.execute_clickhouse("DROP DATABASE IF EXISTS parity_new")
    with open_for_writing(clickhouse_url, "parity_new") as ch:
        ch.execute_clickhouse("DROP TABLE IF EXISTS sends")  # a missing table is created, the others are kept
        result = import_file(ch, "events", write_file("events.csv", EVENTS))
    with open_for_writing(clickhouse_url, "parity_new") as ch:
        assert set(DATA_TABLES) <= {r[0] for r in ch.execute_clickhouse(
            "SELECT name FROM system.tables WHERE database = currentDatabase()").fetchall()}
        assert (count(ch, "events"), count(ch, "sends"), result.rows_added) == (3, 0, 3)
        assert ch.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] > 0
