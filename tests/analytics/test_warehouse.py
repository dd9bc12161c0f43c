"""One writer at a time: a second process waits for the first instead of failing."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from analytics.errors import WarehouseBusy
from analytics.warehouse import db_path, reader, writer

ROOT = Path(__file__).resolve().parents[2]


def test_db_path_prefers_the_explicit_path_then_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ANALYTICS_DB", str(tmp_path / "env.duckdb"))
    assert db_path(tmp_path / "x.duckdb") == tmp_path / "x.duckdb"
    assert db_path() == tmp_path / "env.duckdb"
    monkeypatch.delenv("ANALYTICS_DB")
    assert db_path().parts[-2:] == ("data", "warehouse.duckdb")


def _hold_for_writing(path: Path, seconds: float) -> subprocess.Popen:
    """Another process that keeps the warehouse open for writing for `seconds`."""
    code = (f"import time, duckdb; c = duckdb.connect({str(path)!r}); print('held', flush=True); "
            f"time.sleep({seconds}); c.close()")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_reader_waits_for_another_process_writing_and_says_so(warehouse):
    holder = _hold_for_writing(warehouse, 1.5)
    messages: list[str] = []
    started = time.monotonic()
    with reader(warehouse, timeout=30, on_wait=messages.append) as con:
        assert con.execute("SELECT count(*) FROM events").fetchone() == (0,)
    assert time.monotonic() - started >= 1.0
    assert len(messages) == 1 and "in use by process" in messages[0]
    holder.wait()


def test_a_writer_gives_up_with_warehouse_busy_after_its_timeout(warehouse):
    holder = _hold_for_writing(warehouse, 5)
    with pytest.raises(WarehouseBusy, match="still in use by process"):
        with writer(warehouse, timeout=0.5):
            pass
    holder.kill()
    holder.wait()


def test_a_command_line_import_waits_while_the_dashboard_reads(warehouse, write_file):
    path = write_file("e.csv", "lead_id,stage,occurred_at\nL1,lead,2026-01-01\n")
    with reader(warehouse) as con:
        cli = subprocess.Popen([sys.executable, "-m", "analytics", "--db", str(warehouse), "import", "events", str(path)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        waiting = cli.stderr.readline()  # blocks until the command says it waits for the reader
        assert waiting.startswith("Waiting for the warehouse") and cli.poll() is None
        assert con.execute("SELECT count(*) FROM events").fetchone() == (0,)
    out, err = cli.communicate(timeout=60)
    assert cli.returncode == 0, err
    assert "1 row added" in out


def test_a_reader_with_a_memory_limit_caps_duckdb_and_one_without_keeps_the_default(warehouse):
    with reader(warehouse, memory_limit="1GB") as con:
        capped = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    with reader(warehouse) as con:
        default = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert capped == "953.6 MiB"  # 1 GB in DuckDB's binary units
    assert default != capped
