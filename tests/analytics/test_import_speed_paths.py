"""The shortcuts a large import takes: each must answer exactly as the plain way would."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from analytics import imports
from analytics.errors import BadInput
from analytics.warehouse import writer

KEY = ("lead_id", "stage", "occurred_at")
EVENTS = ("lead_id,stage,occurred_at,channel,value\nL1,lead,2026-01-05 09:00:00,webinar,\nL1,mql,2026-01-20,,\n"
          "L2,lead,2026-01-06T10:30:00,display,\nL2,won,2026-03-01, ads ,1200\n")
MORE = ("lead_id,stage,occurred_at,channel\nL2,mql,2026-01-10,email\nL3,lead,2026-01-07,referral\n"
        "L1,lead,2026-01-05 09:00,x\n")
CAMPAIGNS = ('campaign_id,name,channel,date,spend,impressions,clicks\n'
             'C1,Spring,ads,2026-01-05,"1,200.50",1000,20\nC2,Web,,2026-01-06,0,,\n')
CONTENTS = ("events", "campaigns", "journeys", "journey_state", "imports")


@pytest.mark.parametrize("rows, repeats", [
    ([("L1", "lead", "2026-01-01"), ("L1", "mql", "2026-01-01"), ("L2", "lead", "2026-01-01")], False),
    ([("L1", "lead", "2026-01-01"), ("L2", "lead", "2026-01-01"), ("L1", "lead", "2026-01-01")], True),
    ([("L1", "lead", None), ("L1", "lead", None)], True),  # NULLs are equal, as IS NOT DISTINCT FROM has them
    ([("L1", "lead", None), ("L1", "lead", "2026-01-01")], False),
    ([("L1", "lead", "2026-01-01")], False),
], ids=["distinct", "a repeat far apart", "equal nulls", "null and a time", "one row"])
def test_a_repeated_key_is_found_wherever_it_is(rows, repeats):
    con = duckdb.connect()
    con.execute("CREATE TABLE typed (lead_id VARCHAR, stage VARCHAR, occurred_at TIMESTAMP)")
    con.executemany("INSERT INTO typed VALUES (?, ?, ?)", rows)
    assert imports._repeats_a_key(con, "typed", KEY) is repeats


def test_an_empty_file_repeats_no_key():
    con = duckdb.connect()
    con.execute("CREATE TABLE typed (lead_id VARCHAR, stage VARCHAR, occurred_at TIMESTAMP)")
    assert imports._repeats_a_key(con, "typed", KEY) is False


def _import_all(con: duckdb.DuckDBPyConnection, folder: Path, files: list[tuple[str, str]]) -> list[tuple]:
    """Import `files` (kind, text) in order; each result as (number, read, added, skipped, message), then
    every table the imports write (the log without its times)."""
    outcome = []
    for i, (kind, text) in enumerate(files):
        path = folder / f"f{i}.csv"
        path.write_text(text)
        result = imports.import_file(con, kind, path, imported_by="test")
        outcome.append((result.import_id, result.rows_read, result.rows_added, result.rows_skipped, result.message))
    for table in CONTENTS:
        columns = "* EXCLUDE (imported_at)" if table == "imports" else "*"
        outcome.append(con.execute(f"SELECT {columns} FROM {table} ORDER BY ALL").fetchall())
    return outcome


def _both_ways(tmp_path: Path, monkeypatch, files: list[tuple[str, str]], direct: list[bool]) -> None:
    """Import `files` into fresh warehouses with and without the direct path: the same results and tables,
    and the direct path taken (or not) as `direct` says."""
    taken: list[bool] = []
    original = imports._import_directly

    def spy(*args, **kwargs):
        result = original(*args, **kwargs)
        taken.append(result is not None)
        return result

    monkeypatch.setattr(imports, "_import_directly", spy)
    (tmp_path / "a").mkdir()
    with writer(tmp_path / "a" / "w.duckdb") as con:
        quick = _import_all(con, tmp_path / "a", files)
    assert taken == direct
    monkeypatch.setattr(imports, "_direct", lambda conversion, options: False)
    (tmp_path / "b").mkdir()
    with writer(tmp_path / "b" / "w.duckdb") as con:
        exact = _import_all(con, tmp_path / "b", files)
    assert taken == direct, "the exact path never tries the direct one"
    assert quick == exact


def test_a_long_file_and_a_later_overlapping_one_go_in_directly_as_the_exact_path_stores_them(tmp_path, monkeypatch):
    _both_ways(tmp_path, monkeypatch, [("events", EVENTS), ("events", MORE)], [True, True])


def test_a_campaigns_file_goes_in_directly_as_the_exact_path_stores_it(tmp_path, monkeypatch):
    later = CAMPAIGNS + "C3,New,ads,2026-01-07,5,50,1\n"
    _both_ways(tmp_path, monkeypatch, [("campaigns", CAMPAIGNS), ("campaigns", later)], [True, True])


def test_a_file_repeating_a_key_takes_the_exact_path_and_keeps_the_first_copy(tmp_path, monkeypatch):
    repeated = EVENTS + "L1,lead,2026-01-05 09:00,later copy,\n"
    again = MORE + "L3,lead,2026-01-07 00:00,again\n"
    _both_ways(tmp_path, monkeypatch, [("events", repeated), ("events", again)], [False, False])


def test_a_repeat_of_a_stored_key_only_is_skipped_directly(tmp_path, monkeypatch):
    _both_ways(tmp_path, monkeypatch, [("events", EVENTS), ("events", MORE + "L1,lead,2026-01-05 09:00:00,y\n")],
               [True, True])


@pytest.mark.parametrize("bad, column, row", [
    ("L9,lead,not a date,,", "occurred_at", 5), ("L9,lead,1899-12-31,,", "occurred_at", 5),
    ("L9,,2026-01-01,,", "stage", 5), ("L1,lead,2026-01-05 09:00:00,webinar,twelve", "value", 5),
], ids=["malformed date", "placeholder date", "empty stage", "bad value in a row whose key is stored"])
def test_a_bad_value_refuses_the_file_naming_its_row_and_takes_no_import_number(wcon, write_file, bad, column, row):
    imports.import_file(wcon, "events", write_file("first.csv", EVENTS))
    with pytest.raises(BadInput) as refused:
        imports.import_file(wcon, "events", write_file("bad.csv", EVENTS + bad + "\n"))
    assert (refused.value.row, refused.value.column) == (row, column)
    assert wcon.execute("SELECT count(*) FROM events").fetchone()[0] == 4
    assert imports.import_file(wcon, "events", write_file("more.csv", MORE)).import_id == 2


def test_a_file_retried_by_the_exact_path_reports_progress_that_never_goes_back(wcon, write_file):
    calls: list[float] = []
    imports.import_file(wcon, "events", write_file("rep.csv", EVENTS + "L1,mql,2026-01-20,,\n"),
                        progress=lambda fraction, step: calls.append(fraction))
    assert calls == sorted(calls) and calls[-1] == 1.0


def test_onward_progress_holds_its_highest_fraction():
    calls: list[tuple[float, str]] = []
    report = imports._onward(lambda fraction, step: calls.append((fraction, step)))
    for fraction, step in ((0.2, "a"), (0.6, "b"), (0.1, "c"), (0.7, "d")):
        report(fraction, step)
    assert calls == [(0.2, "a"), (0.6, "b"), (0.6, "c"), (0.7, "d")]
