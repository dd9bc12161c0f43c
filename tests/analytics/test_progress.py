"""Progress reports of long work: the callbacks analytics calls and the command line's line on stderr."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from analytics import demo, imports
from analytics.cli import TerminalProgress, main
from analytics.progress import part, watched
from analytics.warehouse import writer

ROOT = Path(__file__).resolve().parents[2]
EVENTS = "lead_id,stage,occurred_at,channel\nL1,lead,2026-01-05,webinar\nL1,mql,2026-01-20,\nL2,lead,2026-01-06,display\n"


def _recorder() -> tuple[list[tuple[float, str]], object]:
    calls: list[tuple[float, str]] = []
    return calls, lambda fraction, step: calls.append((fraction, step))


def _assert_orderly(calls: list[tuple[float, str]]) -> None:
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions), "fractions never go back"
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(step.strip() for _, step in calls)


def test_an_import_reports_its_steps_in_order_ending_at_one(wcon, write_file):
    calls, progress = _recorder()
    imports.import_file(wcon, "events", write_file("events.csv", EVENTS), progress=progress)
    _assert_orderly(calls)
    steps = [s for _, s in calls]
    for expected in ("reading events.csv", "checking values", "adding rows to events", "refreshing journeys"):
        assert expected in steps
    assert steps.index("reading events.csv") < steps.index("adding rows to events") < steps.index("refreshing journeys")


def test_a_repeated_import_still_ends_at_one(wcon, write_file):
    path = write_file("events.csv", EVENTS)
    imports.import_file(wcon, "events", path)
    calls, progress = _recorder()
    assert imports.import_file(wcon, "events", path, progress=progress).already_imported
    _assert_orderly(calls)


def test_the_demo_reports_each_table_in_order_ending_at_one(tmp_path):
    calls, progress = _recorder()
    with writer(tmp_path / "demo.duckdb") as con:
        demo.generate(con, leads=500, seed=3, progress=progress)
    _assert_orderly(calls)
    steps = list(dict.fromkeys(s for _, s in calls))
    assert steps[1:-1] == ["building leads", "building nurture emails", "building leads and events",
                           "building nurture sends", "building campaigns", "building sends", "building experiments",
                           "building journeys", "counting rows", "saving"]


def test_watched_reports_within_a_long_statement_and_returns_its_value():
    calls, progress = _recorder()
    with duckdb.connect() as con:
        total = watched(con, lambda: con.execute("SELECT count(DISTINCT hash(i)) FROM range(8000000) t(i)").fetchone()[0],
                        progress, "counting", 0.2, 0.8)
        assert con.execute("SELECT current_setting('enable_progress_bar_print')").fetchone()[0] is False
    assert total > 7_900_000
    fractions = [f for f, _ in calls]
    assert fractions[0] == 0.2 and fractions[-1] == 0.8 and fractions == sorted(fractions)
    assert any(0.2 < f < 0.8 for f in fractions), "DuckDB's query progress shows between the ends"


def test_watched_raises_the_statement_error_on_the_callers_thread():
    with duckdb.connect() as con, pytest.raises(duckdb.CatalogException):
        watched(con, lambda: con.execute("SELECT * FROM no_such_table"), lambda f, s: None, "failing", 0, 1)


def test_part_maps_a_sub_task_onto_its_share():
    calls, progress = _recorder()
    sub = part(progress, 0.5, 0.7)
    sub(0.0, "a"), sub(0.5, "b"), sub(1.0, "c")
    assert calls == [(0.5, "a"), (pytest.approx(0.6), "b"), (pytest.approx(0.7), "c")]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_progress_rewrites_one_line_and_clears_it():
    stream = _Terminal()
    with TerminalProgress("Importing", stream) as progress:
        progress(0.0, "reading e.csv")
        progress(0.5, "adding rows to events")
        progress(0.5, "adding rows to events")  # unchanged: not written again
        progress(1.0, "done")
    text = stream.getvalue()
    assert "\n" not in text and text.count("\r") == 3 + 2  # three lines, then the clearing
    assert " 50% adding rows to events" in text and "100% done" in text
    assert text.endswith("\r") and text.rsplit("\r", 2)[1].strip() == ""


def test_terminal_progress_writes_nothing_when_stderr_is_not_a_terminal():
    stream = io.StringIO()
    with TerminalProgress("Importing", stream) as progress:
        progress(0.5, "adding rows")
    assert stream.getvalue() == ""


def test_the_cli_prints_only_the_final_message_when_stderr_is_not_a_terminal(capsys, warehouse, write_file):
    assert main(["--db", str(warehouse), "import", "events", str(write_file("e.csv", EVENTS))]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("e.csv: 3 rows added to events") and err == ""


def test_the_cli_demo_run_keeps_redirected_output_clean(tmp_path):
    done = subprocess.run([sys.executable, "-m", "analytics", "--db", str(tmp_path / "d.duckdb"), "demo",
                           "--leads", "300"], check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "\r" not in done.stdout and done.stdout.startswith("Demo warehouse ") and done.stdout.count("\n") == 1
