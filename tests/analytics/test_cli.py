"""The command line: its exit codes and messages (DESIGN.md, Contract details)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from analytics.cli import main

ROOT = Path(__file__).resolve().parents[2]
EVENTS = "lead_id,stage,occurred_at\nL1,lead,2026-01-01\nL1,mql,2026-01-09\n"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_then_reimport_both_exit_zero(capsys, warehouse, write_file):
    path = write_file("e.csv", EVENTS)
    assert run(capsys, "--db", str(warehouse), "import", "events", str(path))[:2] == (
        0, "e.csv: 2 rows added to events, 0 already present or repeated in the file (import #1).\n")
    code, out, _ = run(capsys, "--db", str(warehouse), "import", "events", str(path))
    assert code == 0 and out == "e.csv was already imported as import #1; nothing added.\n"


def test_bad_input_exits_2_naming_file_row_and_column(capsys, warehouse, write_file):
    path = write_file("e.csv", "lead_id,stage,occurred_at\nL1,lead,yesterday\n")
    code, out, err = run(capsys, "--db", str(warehouse), "import", "events", str(path))
    assert (code, out) == (2, "")
    assert err == "error: e.csv, row 1 (line 2), column 'occurred_at': 'yesterday' is not a date or time\n"


def test_bad_map_syntax_exits_2(capsys, warehouse, write_file):
    code, _, err = run(capsys, "--db", str(warehouse), "import", "events", str(write_file("e.csv", EVENTS)), "--map", "lead_id")
    assert code == 2 and "--map takes KEY=VALUE, e.g. --map occurred_at=" in err


def test_import_log_as_json_and_remove_import(capsys, warehouse, write_file):
    run(capsys, "--db", str(warehouse), "import", "events", str(write_file("e.csv", EVENTS)))
    code, out, _ = run(capsys, "--db", str(warehouse), "import-log", "--format", "json")
    log = json.loads(out)
    assert code == 0 and [(r["import_id"], r["file_name"], r["rows_added"]) for r in log] == [(1, "e.csv", 2)]
    assert run(capsys, "--db", str(warehouse), "remove-import", "1")[:2] == (0, "Removed import #1: 2 from events.\n")
    assert run(capsys, "--db", str(warehouse), "remove-import", "1")[0] == 2


def test_usage_errors_exit_2_and_a_bug_exits_1_in_one_line(tmp_path):
    usage = subprocess.run([sys.executable, "-m", "analytics", "import", "nonsense", "x.csv"], cwd=ROOT,
                           capture_output=True, text=True)
    assert usage.returncode == 2 and "invalid choice" in usage.stderr
    not_a_db = tmp_path / "not.duckdb"
    not_a_db.write_text("this is not a database")
    bug = subprocess.run([sys.executable, "-m", "analytics", "--db", str(not_a_db), "import-log"], cwd=ROOT,
                         capture_output=True, text=True)
    assert bug.returncode == 1 and len(bug.stderr.strip().splitlines()) == 1 and "--debug" in bug.stderr


def test_busy_warehouse_exits_3(warehouse, write_file):
    code = (f"import time, duckdb; c = duckdb.connect({str(warehouse)!r}); print('held', flush=True); time.sleep(20)")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    try:
        busy = subprocess.run([sys.executable, "-m", "analytics", "--db", str(warehouse), "--wait", "0.5", "import-log"],
                              cwd=ROOT, capture_output=True, text=True)
    finally:
        holder.kill()
        holder.wait()
    assert busy.returncode == 3 and "still in use by process" in busy.stderr


def test_demo_command_builds_a_warehouse(capsys, tmp_path):
    code, out, _ = run(capsys, "--db", str(tmp_path / "d.duckdb"), "demo", "--leads", "1000", "--end", "2026-06-30")
    assert code == 0 and out.startswith(f"Demo warehouse {tmp_path / 'd.duckdb'}: 1,000 leads")


def test_funnel_command_prints_json_records_with_the_contract_fields(capsys, warehouse, write_file):
    events = ("lead_id,stage,occurred_at,channel\nA,lead,2026-01-01,webinar\nA,mql,2026-01-02,\nA,sql,2026-01-03,\n"
              "B,lead,2026-01-01,display\nB,mql,2026-01-05,\nC,lead,2026-01-02,\n")
    run(capsys, "--db", str(warehouse), "import", "events", str(write_file("e.csv", events)))
    code, out, _ = run(capsys, "--db", str(warehouse), "funnel", "--stages", "lead,mql,sql", "--by", "channel",
                       "--as-of", "2026-12-31", "--format", "json")
    records = json.loads(out)
    assert code == 0
    assert set(records[0]) >= {"group", "stage", "step", "count", "dropoff", "rate_from_previous", "rate_from_first",
                               "ci_low", "ci_high", "unfinished"}
    totals = {(r["group"], r["stage"]): r["count"] for r in records}
    # Worked by hand: A (webinar) reaches sql, B (display) mql, C has no channel and stays at lead.
    assert totals == {("webinar", "lead"): 1, ("webinar", "mql"): 1, ("webinar", "sql"): 1,
                      ("display", "lead"): 1, ("display", "mql"): 1, ("display", "sql"): 0,
                      ("(none)", "lead"): 1, ("(none)", "mql"): 0, ("(none)", "sql"): 0}
    first = next(r for r in records if r["group"] == "display" and r["step"] == 1)
    assert first["rate_from_previous"] is None and first["ci_low"] is None


def test_funnel_command_rejects_a_bad_window_with_exit_2(capsys, warehouse):
    code, _, err = run(capsys, "--db", str(warehouse), "funnel", "--window", "sql=soon")
    assert code == 2 and "'soon' is not a duration" in err


def test_backup_and_restore_commands(capsys, tmp_path, warehouse, write_file):
    run(capsys, "--db", str(warehouse), "import", "events", str(write_file("e.csv", EVENTS)))
    code, out, _ = run(capsys, "--db", str(warehouse), "backup", str(tmp_path / "b.duckdb"))
    assert code == 0 and out.endswith("0 leads, 2 events.\n")
    code, out, _ = run(capsys, "--db", str(warehouse), "restore", str(tmp_path / "b.duckdb"))
    assert code == 0 and "the replaced warehouse is kept as" in out
    (tmp_path / "junk.duckdb").write_text("junk")
    code, _, err = run(capsys, "--db", str(warehouse), "restore", str(tmp_path / "junk.duckdb"))
    assert code == 2 and "junk.duckdb: is not a DuckDB database" in err


def test_duckdb_only_commands_refuse_clickhouse_and_leave_the_warehouse_alone(capsys, warehouse, tmp_path):
    clickhouse = ["--db", str(warehouse), "--engine", "clickhouse", "--clickhouse-url", "chdb:///nowhere"]
    before = warehouse.read_bytes()
    for command, instead in ((["backup", str(tmp_path / "copy.duckdb")], "BACKUP DATABASE on the server"),
                             (["restore", str(warehouse)], "then send it over with `copy-to-clickhouse`"),
                             (["demo", "--leads", "1000"], "build the demo in DuckDB")):
        code, out, err = run(capsys, *clickhouse, *command)
        assert (code, out) == (2, "")
        assert err.startswith(f"error: `{command[0]}` works on the DuckDB warehouse only, not with --engine clickhouse: ")
        assert instead in err and err.count("\n") == 1
    assert warehouse.read_bytes() == before and not (tmp_path / "copy.duckdb").exists()


def test_copy_to_clickhouse_needs_a_url_and_a_warehouse(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("CLICKHOUSE_URL", raising=False)
    code, _, err = run(capsys, "--db", str(tmp_path / "none.duckdb"), "copy-to-clickhouse")
    assert code == 2 and "needs --clickhouse-url" in err
    code, _, err = run(capsys, "--db", str(tmp_path / "none.duckdb"), "--clickhouse-url", "chdb:///nowhere",
                       "copy-to-clickhouse")
    expected = f"error: {tmp_path / 'none.duckdb'}: there is no warehouse here to copy (--db or $ANALYTICS_DB names it)\n"
    assert (code, err) == (2, expected)
    assert not (tmp_path / "none.duckdb").exists()
