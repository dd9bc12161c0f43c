"""The command line's `--engine clickhouse`: every analysis prints the same as on DuckDB; imports, the import log
and removing an import work there with the DuckDB messages and exit codes; DuckDB-only commands refuse."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from analytics import cli
from analytics.clickhouse.connection import connect
from analytics.clickhouse.scenarios import AS_OF
from tests.parity.test_parity import assert_same

pytestmark = pytest.mark.parity

DATED = ["--as-of", AS_OF.isoformat()]
# Every analysis command, with the options that change its SQL (tests/parity/test_parity.py covers the rest).
COMMANDS = [
    ["funnel", "--by", "channel", *DATED],
    ["funnel", "--period", "month", "--mode", "implied", *DATED],
    ["funnel", "--unit", "account", "--window", "mql=30d", "--since", "2026-01-01", "--until", "2026-06-30", *DATED],
    ["time-to-convert", "--from", "mql", "--to", "sql", *DATED],
    ["time-to-convert", "--from", "lead", "--to", "won", "--by", "channel", "--channel", "webinar", *DATED],
    ["cohorts", "--from", "mql", "--to", "sql", *DATED],
    ["cohorts", "--from", "lead", "--to", "mql", "--period", "week", "--since", "2026-01-01", *DATED],
    ["channels", *DATED],
    ["channels", "--by", "campaign", "--since", "2026-01-01", "--until", "2026-06-30", *DATED],
    ["campaigns", *DATED],
    ["score", *DATED],
    ["score-check", *DATED],
    ["score-check", "--to", "won", "--score-at", "14", "--within", "90", *DATED],
    ["sequences", *DATED],
    ["sequences", "--days", "7", "--channel", "webinar", *DATED],
    ["abtest", "--experiment", "pricing-page-cta"],
    ["abtest", "--experiment", "nurture-sequence"],
    ["plan", "--baseline", "0.05", "--mde", "0.1", "--relative"],
    ["weekly", *DATED],
    ["weekly", "--week", "2026-W40", "--channel", "display", *DATED],
    ["import-log"],
]
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


@pytest.fixture
def engines(monkeypatch, clickhouse_url: str, parity_demo: Path, demo_engines):
    """(DuckDB options, ClickHouse options) for the demo; a ClickHouse run must not open the DuckDB warehouse."""
    def on_clickhouse(*argv: str) -> list[str]:
        monkeypatch.setattr(cli, "reader", None)
        monkeypatch.setattr(cli, "writer", None)
        return ["--db", str(parity_demo), "--engine", "clickhouse", "--clickhouse-url", clickhouse_url,  # --db: the rules file
                "--clickhouse-database", "parity_demo", *argv]
    return (lambda *argv: ["--db", str(parity_demo), *argv]), on_clickhouse


def _run(capsys, argv: list[str]) -> tuple[int, str, str]:
    status = cli.main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_an_analysis_prints_the_same_on_clickhouse(capsys, engines, command: list[str]) -> None:
    on_duckdb, on_clickhouse = engines
    status, duck, _ = _run(capsys, on_duckdb(*command, "--format", "json"))
    assert status == cli.EXIT_OK and json.loads(duck)
    status, ch, err = _run(capsys, on_clickhouse(*command, "--format", "json"))
    assert status == cli.EXIT_OK, err
    assert_same(json.loads(duck), json.loads(ch), " ".join(command))


def test_an_error_is_the_same_on_clickhouse(capsys, engines) -> None:
    on_duckdb, on_clickhouse = engines
    duck = _run(capsys, on_duckdb("abtest"))
    assert duck[0] == cli.EXIT_BAD_INPUT and "choose an experiment with --experiment NAME" in duck[2]
    assert _run(capsys, on_clickhouse("abtest")) == duck


def test_the_report_holds_the_same_numbers_on_clickhouse(capsys, engines, tmp_path: Path) -> None:
    on_duckdb, on_clickhouse = engines
    pages = []
    for engine, out in ((on_duckdb, tmp_path / "duckdb.html"), (on_clickhouse, tmp_path / "clickhouse.html")):
        status, said, err = _run(capsys, engine("report", *DATED, "--out", str(out)))
        assert status == cli.EXIT_OK and "Wrote the report for 2026-W43" in said, err
        pages.append(out.read_text(encoding="utf-8"))
    duck, ch = pages
    assert NUMBER.split(ch) == NUMBER.split(duck)  # the words, labels and markup between the numbers
    numbers = [float(n) for n in NUMBER.findall(duck)]
    assert len(numbers) > 100 and numbers == pytest.approx([float(n) for n in NUMBER.findall(ch)], rel=1e-9)


EVENTS = "lead_id,stage,occurred_at,channel\nL1,lead,2026-01-05 10:00,webinar\nL1,mql,2026-02-01,\nL2,lead,2026-01-07,display\n"


def test_import_log_and_remove_on_clickhouse_say_what_duckdb_says(capsys, monkeypatch, clickhouse_url, warehouse,
                                                                   write_file) -> None:
    events = write_file("events.csv", EVENTS)
    bad = write_file("bad.csv", "lead_id,stage,occurred_at\nL9,lead,2026-01-01\nL9,mql,31/02/2026\n")
    with connect(clickhouse_url) as admin:
        admin.execute_clickhouse("DROP DATABASE IF EXISTS parity_cli_import")
    runs = {}
    for engine, options in (("duckdb", ["--db", str(warehouse)]),
                            ("clickhouse", ["--engine", "clickhouse", "--clickhouse-url", clickhouse_url,
                                            "--clickhouse-database", "parity_cli_import"])):
        runs[engine] = [_run(capsys, [*options, *argv]) for argv in (
            ["import", "events", str(events)], ["import", "events", str(events)], ["import", "events", str(bad)],
            ["remove-import", "1"], ["remove-import", "1"], ["remove-import", "9"])]
    # "already removed on <minute>": the two runs may fall in different minutes
    stamp = re.compile(r"removed on \d{4}-\d\d-\d\d \d\d:\d\d")
    runs = {engine: [(status, said, stamp.sub("removed on <when>", err)) for status, said, err in outputs]
            for engine, outputs in runs.items()}
    assert runs["clickhouse"] == runs["duckdb"]
    assert [status for status, _, _ in runs["clickhouse"]] == [0, 0, 2, 0, 2, 2]
    assert runs["clickhouse"][0][1] == ("events.csv: 3 rows added to events, 0 already present or repeated in the file "
                                        "(import #1).\n")
    assert runs["clickhouse"][2][2] == ("error: bad.csv, row 2 (line 3), column 'occurred_at': '31/02/2026' is not a date "
                                        "or time (read day-first; give --monthfirst if it is not)\n")
    assert runs["clickhouse"][3][1] == "Removed import #1: 3 from events.\n"
    assert runs["clickhouse"][4][2] == "error: import #1 was already removed on <when>\n"
    with connect(clickhouse_url, "parity_cli_import") as ch:
        assert ch.execute("SELECT count(*) FROM events").fetchone() == (0,)
        assert ch.execute("SELECT import_id, rows_added, removed_at IS NOT NULL FROM imports").fetchall() == [(1, 3, True)]


def test_copy_to_clickhouse_sends_the_warehouse_over(capsys, clickhouse_url, parity_demo: Path) -> None:
    status, said, err = _run(capsys, ["--db", str(parity_demo), "--clickhouse-url", clickhouse_url,
                                      "--clickhouse-database", "parity_cli_copy", "copy-to-clickhouse"])
    assert status == cli.EXIT_OK, err
    assert said.startswith(f"Copied {parity_demo} to the ClickHouse database parity_cli_copy: 400 leads, ")
    with connect(clickhouse_url, "parity_cli_copy") as ch:
        assert ch.execute("SELECT count(DISTINCT lead_id) FROM leads").fetchone() == (400,)


def test_clickhouse_without_a_url_says_what_it_needs(capsys, monkeypatch) -> None:
    monkeypatch.delenv("CLICKHOUSE_URL", raising=False)
    assert cli.main(["--engine", "clickhouse", "funnel"]) == cli.EXIT_BAD_INPUT
    assert "--engine clickhouse needs --clickhouse-url" in capsys.readouterr().err
