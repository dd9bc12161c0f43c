"""Imports that cannot hurt: killed mid-way, run side by side, fed junk, too wide, too big for memory."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.cli import main
from analytics.errors import BadInput, WarehouseUnavailable
from analytics.imports import import_file
from analytics.warehouse import reader, writer

ROOT = Path(__file__).resolve().parents[2]


def _events_csv(path: Path, rows: int, prefix: str) -> Path:
    """A canonical events file of `rows` rows, written by DuckDB (fast, never committed)."""
    duckdb.connect().execute(
        f"COPY (SELECT '{prefix}' || (i // 3) AS lead_id, ['lead', 'mql', 'sql'][1 + i % 3] AS stage, "
        f"TIMESTAMP '2025-01-01' + to_seconds(i) AS occurred_at, 'channel_' || (i % 7) AS channel "
        f"FROM range({rows}) t(i)) TO '{path}' (HEADER)")
    return path


def _state(db: Path) -> tuple[int, int]:
    with reader(db) as con:
        return con.execute("SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM imports)").fetchone()


def test_an_import_killed_at_any_moment_leaves_the_warehouse_as_before_or_as_after(tmp_path):
    big = _events_csv(tmp_path / "big.csv", 1_500_000, "K")
    db = tmp_path / "w.duckdb"
    assert main(["--db", str(db), "import", "events", str(_events_csv(tmp_path / "small.csv", 9, "S"))]) == 0
    before = _state(db)
    outcomes = []
    for delay in (0.3, 0.8, 1.5, 2.5, 4.0):
        cli = subprocess.Popen([sys.executable, "-m", "analytics", "--db", str(db), "import", "events", str(big)],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        cli.send_signal(signal.SIGKILL)
        cli.wait()
        state = _state(db)
        assert state in (before, (before[0] + 1_500_000, before[1] + 1)), f"half-imported after {delay} s: {state}"
        outcomes.append(state == before)
        if state != before:
            break
    assert any(outcomes)  # at least one kill landed mid-import, and nothing of it remained


def test_two_imports_and_a_reader_side_by_side_wait_for_each_other(tmp_path):
    db = tmp_path / "w.duckdb"
    with writer(db):
        pass
    files = [_events_csv(tmp_path / f"f{i}.csv", 200_000, f"P{i}") for i in range(2)]
    importers = [subprocess.Popen([sys.executable, "-m", "analytics", "--db", str(db), "--wait", "60", "import",
                                   "events", str(f)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for f in files]
    seen = set()
    deadline = time.monotonic() + 60
    while any(p.poll() is None for p in importers) and time.monotonic() < deadline:
        with reader(db, timeout=60) as con:
            seen.add(con.execute("SELECT count(*) FROM events").fetchone()[0])
        time.sleep(0.05)
    results = [p.communicate(timeout=60) for p in importers]
    assert [p.returncode for p in importers] == [0, 0], results
    assert seen <= {0, 200_000, 400_000}  # a reader never sees a half-imported file
    assert _state(db) == (400_000, 2)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(
    st.binary(max_size=400),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400),
    st.lists(st.lists(st.sampled_from(["L1", "lead", "mql", "2026-01-01", "31/02/2026", "", "=1+1", '"', ",", "é",
                                       "-5", "1e309", "\t", "NaN", "2026-01-01T10:00:00+09:00", "9999-01-01"]),
                      min_size=1, max_size=5), min_size=1, max_size=6).map(
        lambda rows: "lead_id,stage,occurred_at\n" + "\n".join(",".join(r) for r in rows)),
))
def test_the_importer_never_fails_with_anything_but_a_clear_message(wcon, tmp_path, content):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    before = wcon.execute("SELECT count(*) FROM events").fetchone()[0]
    try:
        import_file(wcon, "events", path)
    except BadInput as error:
        assert str(error).startswith("fuzz.csv")
        assert wcon.execute("SELECT count(*) FROM events").fetchone()[0] == before


def test_a_file_of_ten_thousand_columns_imports_its_known_columns(wcon, tmp_path):
    extra = [f"c{i}" for i in range(10_000 - 3)]
    path = tmp_path / "wide.csv"
    path.write_text(",".join(["lead_id", "stage", "occurred_at", *extra]) + "\n"
                    + ",".join(["W1", "lead", "2026-01-01", *("x" for _ in extra)]) + "\n")
    result = import_file(wcon, "events", path)
    assert result.rows_added == 1 and len(result.ignored_columns) == 9_997


@pytest.mark.parametrize(("value", "message"), [
    ("1900-01-01", "'1900-01-01' is before 1980: a placeholder rather than a real date"),
    ("2999-12-31", "'2999-12-31' is more than 10 years in the future"),
])
def test_placeholder_and_far_future_dates_are_refused(wcon, write_file, value, message):
    with pytest.raises(BadInput, match=f"row 1 \\(line 2\\), column 'occurred_at': {message}"):
        import_file(wcon, "events", write_file("d.csv", f"lead_id,stage,occurred_at\nL1,lead,{value}\n"))


def test_a_folder_that_cannot_be_written_gives_a_clear_message(tmp_path, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    with pytest.raises(WarehouseUnavailable, match="cannot be opened for writing"):
        with writer(blocker / "warehouse.duckdb"):
            pass
    assert main(["--db", str(blocker / "warehouse.duckdb"), "import-log"]) == 3
    assert "cannot be opened for writing" in capsys.readouterr().err


def _no_room_past(limit: int) -> Callable[[], None]:
    """For a child process: a write that would grow a file past `limit` bytes fails with EFBIG ("File too
    large") instead of killing it, which is what a full disk looks like to DuckDB and root cannot fake with chmod."""
    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return limit_file_size


def test_a_full_disk_stops_an_import_with_a_clear_message_and_leaves_the_warehouse_as_before(tmp_path):
    db = tmp_path / "w.duckdb"
    assert main(["--db", str(db), "import", "events", str(_events_csv(tmp_path / "small.csv", 9, "S"))]) == 0
    before = _state(db)
    big = _events_csv(tmp_path / "big.csv", 300_000, "F")  # needs about 2.5 MB more in the warehouse
    command = [sys.executable, "-m", "analytics", "--db", str(db), "import", "events", str(big)]
    full = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False,
                          preexec_fn=_no_room_past(db.stat().st_size + 256 * 1024))
    assert (full.returncode, full.stdout) == (3, "")
    assert full.stderr == (f"error: the warehouse {db} could not be written: there is no space left for it (File too "
                           "large), so the change was rolled back. Free some disk space and try again\n")
    assert _state(db) == before  # nothing half-written, and the warehouse opens
    assert subprocess.run(command, cwd=ROOT, capture_output=True, check=False).returncode == 0  # with room: whole
    assert _state(db) == (before[0] + 300_000, before[1] + 1)


def test_a_large_file_whose_every_row_comes_twice_keeps_the_first_copies(wcon, tmp_path):
    path = tmp_path / "twice.csv"
    duckdb.connect().execute(
        f"COPY (SELECT 'D' || (i % 100000) AS lead_id, 'lead' AS stage, TIMESTAMP '2025-01-01' + to_seconds(i % 100000) "
        f"AS occurred_at, CASE WHEN i < 100000 THEN 'first' ELSE 'second' END AS channel FROM range(200000) t(i)) "
        f"TO '{path}' (HEADER)")
    result = import_file(wcon, "events", path)
    assert (result.rows_read, result.rows_added, result.rows_skipped) == (200_000, 100_000, 100_000)
    assert wcon.execute("SELECT channel, count(*) FROM events GROUP BY channel").fetchall() == [("first", 100_000)]


def test_a_file_larger_than_the_memory_limit_streams_in(tmp_path):
    big = _events_csv(tmp_path / "big.csv", 2_500_000, "M")
    assert big.stat().st_size > 96 * 1024 * 1024
    with writer(tmp_path / "w.duckdb") as con:
        con.execute("SET memory_limit = '64MB'")
        assert import_file(con, "events", big).rows_added == 2_500_000
