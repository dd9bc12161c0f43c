"""The import core: mapping, validation, atomicity, natural keys, re-import and removal."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd
import pytest

from analytics import imports
from analytics.errors import BadInput
from analytics.imports import ImportOptions, import_file, import_log, normalize_name, preview_file, remove_import

EVENTS = "lead_id,stage,occurred_at,channel\nL1,lead,2026-01-05 09:00:00,webinar\nL1,mql,2026-01-20,\nL2,lead,2026-01-06T10:30:00,display\n"


def count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_canonical_events_file_imports_without_mapping(wcon, write_file):
    result = import_file(wcon, "events", write_file("events.csv", EVENTS))
    assert (result.rows_read, result.rows_added, result.rows_skipped) == (3, 3, 0)
    rows = wcon.execute("SELECT lead_id, stage, occurred_at, channel FROM events ORDER BY occurred_at").fetchall()
    assert rows == [
        ("L1", "lead", datetime(2026, 1, 5, 9), "webinar"),
        ("L2", "lead", datetime(2026, 1, 6, 10, 30), "display"),
        ("L1", "mql", datetime(2026, 1, 20), None),
    ]


def test_headers_in_other_case_and_spacing_need_no_mapping(wcon, write_file):
    path = write_file("e.csv", "Lead ID;Stage;Occurred At\nL1;lead;2026-01-05\n")
    assert import_file(wcon, "events", path).rows_added == 1


def test_map_and_stage_options_read_a_vendor_file(wcon, write_file):
    path = write_file("webinar.csv", "Email,Registered\na@x.com,2026-02-01 08:00\nb@x.com,2026-02-02 08:00\n")
    result = import_file(wcon, "events", path, ImportOptions(stage="webinar", mapping={"lead_id": "Email", "occurred_at": "Registered"}))
    assert result.rows_added == 2
    assert wcon.execute("SELECT DISTINCT stage FROM events").fetchall() == [("webinar",)]


def test_timestamps_with_an_offset_are_converted_to_utc_and_others_kept_as_they_are(wcon, write_file):
    path = write_file("tz.csv", "lead_id,stage,occurred_at\nL1,lead,2026-03-01 09:00:00+09:00\n"
                                "L2,lead,2026-03-01T09:00:00Z\nL3,lead,2026-03-01 09:00:00\n")
    import_file(wcon, "events", path)
    got = dict(wcon.execute("SELECT lead_id, occurred_at FROM events").fetchall())
    assert got == {"L1": datetime(2026, 3, 1, 0), "L2": datetime(2026, 3, 1, 9), "L3": datetime(2026, 3, 1, 9)}


def test_every_form_of_utc_offset_is_converted_and_a_date_ending_like_one_is_not(wcon, write_file):
    # Each offset form _OFFSET_AT_END reads (-05, -0500, +05:30, Z after fractions); 2026-03-01-05 is none.
    path = write_file("tz.csv", "lead_id,stage,occurred_at\nL1,lead,2026-03-01 09:00:00-05\n"
                                "L2,lead,2026-03-01T09:00-0500\nL3,lead,2026-03-01 09:00:00+05:30\n"
                                "L4,lead,2026-03-01 09:00:00.5Z\nL5,lead,2026-03-01\n")
    import_file(wcon, "events", path)
    got = dict(wcon.execute("SELECT lead_id, occurred_at FROM events").fetchall())
    assert got == {"L1": datetime(2026, 3, 1, 14), "L2": datetime(2026, 3, 1, 14), "L3": datetime(2026, 3, 1, 3, 30),
                   "L4": datetime(2026, 3, 1, 9, 0, 0, 500000), "L5": datetime(2026, 3, 1)}
    with pytest.raises(BadInput, match=r"row 1 \(line 2\), column 'occurred_at': '2026-03-01-05' is not a date"):
        import_file(wcon, "events", write_file("bad.csv", "lead_id,stage,occurred_at\nL9,lead,2026-03-01-05\n"))


def test_bad_date_names_file_row_and_column_and_stores_nothing(wcon, write_file):
    import_file(wcon, "events", write_file("good.csv", EVENTS))
    bad = write_file("bad.csv", "lead_id,stage,occurred_at\nL7,lead,2026-02-01\nL8,lead,31/02/2026\n")
    with pytest.raises(BadInput) as caught:
        import_file(wcon, "events", bad)
    assert str(caught.value) == ("bad.csv, row 2 (line 3), column 'occurred_at': '31/02/2026' is not a date or time "
                                 "(read day-first; give --monthfirst if it is not)")
    assert count(wcon, "events") == 3  # the earlier import is intact, nothing of bad.csv added
    assert import_log(wcon)["file_name"].tolist() == ["good.csv"]


def test_missing_required_column_lists_what_the_file_has(wcon, write_file):
    with pytest.raises(BadInput, match=r"x.csv: missing required column occurred_at .*the file has: lead_id, stage"):
        import_file(wcon, "events", write_file("x.csv", "lead_id,stage\nL1,lead\n"))


def test_missing_stage_column_suggests_the_stage_option(wcon, write_file):
    with pytest.raises(BadInput, match=r"missing required column stage \(or give --stage NAME, or --stage-date STAGE=COLUMN"):
        import_file(wcon, "events", write_file("x.csv", "lead_id,occurred_at\nL1,2026-01-01\n"))


def test_empty_required_value_is_reported_with_its_row(wcon, write_file):
    with pytest.raises(BadInput, match=r"row 2 \(line 3\), column 'lead_id': is empty"):
        import_file(wcon, "events", write_file("x.csv", "lead_id,stage,occurred_at\nL1,lead,2026-01-01\n,lead,2026-01-02\n"))


def test_reimporting_the_same_file_adds_nothing_and_says_so(wcon, write_file):
    path = write_file("events.csv", EVENTS)
    first = import_file(wcon, "events", path)
    again = import_file(wcon, "events", path)
    assert again.already_imported and again.import_id == first.import_id
    assert "already imported" in again.message
    assert count(wcon, "events") == 3 and len(import_log(wcon)) == 1


def test_rows_present_under_their_natural_key_are_skipped_and_owned_by_the_first_import(wcon, write_file):
    first = import_file(wcon, "events", write_file("a.csv", EVENTS))
    overlap = EVENTS + "L3,lead,2026-01-07,referral\n"
    second = import_file(wcon, "events", write_file("b.csv", overlap))
    assert (second.rows_added, second.rows_skipped) == (1, 3)
    owners = wcon.execute("SELECT import_id, count(*) FROM events GROUP BY 1 ORDER BY 1").fetchall()
    assert owners == [(first.import_id, 3), (second.import_id, 1)]


def test_duplicate_rows_within_a_file_are_kept_once(wcon, write_file):
    path = write_file("dups.csv", "lead_id,stage,occurred_at\nL1,lead,2026-01-01\nL1,lead,2026-01-01\nL1,lead,2026-01-01 00:00:00\n")
    result = import_file(wcon, "events", path)
    assert (result.rows_added, result.rows_skipped) == (1, 2)


def test_the_first_copy_of_a_repeated_row_wins_even_when_later_copies_differ(wcon, write_file):
    path = write_file("dups.csv", "lead_id,stage,occurred_at,channel\nL1,lead,2026-01-01,ads\nL2,lead,2026-01-02,ads\n"
                                  "L1,lead,2026-01-01 00:00:00,webinar\nL1,lead,2026-01-01,\n")
    result = import_file(wcon, "events", path)
    assert (result.rows_added, result.rows_skipped) == (2, 2)
    assert wcon.execute("SELECT lead_id, channel FROM events ORDER BY lead_id").fetchall() == [("L1", "ads"), ("L2", "ads")]


@pytest.mark.parametrize("text", [EVENTS, EVENTS + "L1,lead,2026-01-05 09:00,ads\n"], ids=["no repeats", "a repeat"])
def test_a_file_stores_the_same_rows_whether_or_not_memory_is_tight(wcon, write_file, monkeypatch, text):
    # Under a tight memory limit the first copies are always picked by sorting (_memory_to_spare).
    stored = "SELECT lead_id, stage, occurred_at, channel FROM events ORDER BY ALL"
    plain = import_file(wcon, "events", write_file("a.csv", text))
    rows = wcon.execute(stored).fetchall()
    remove_import(wcon, plain.import_id)
    monkeypatch.setattr(imports, "_memory_to_spare", lambda con: False)
    sorted_ = import_file(wcon, "events", write_file("a.csv", text))
    assert (sorted_.rows_added, sorted_.rows_skipped) == (plain.rows_added, plain.rows_skipped) == (3, len(text.splitlines()) - 4)
    assert wcon.execute(stored).fetchall() == rows


def test_a_second_file_without_repeats_adds_only_the_keys_not_yet_stored(wcon, write_file):
    import_file(wcon, "events", write_file("a.csv", EVENTS))
    later = write_file("b.csv", "lead_id,stage,occurred_at,channel\nL2,lead,2026-01-06 10:30,ads\nL3,lead,2026-01-07,ads\n")
    result = import_file(wcon, "events", later)
    assert (result.rows_added, result.rows_skipped) == (1, 1)
    assert wcon.execute("SELECT lead_id, channel FROM events WHERE stage = 'lead' ORDER BY 1").fetchall() == [
        ("L1", "webinar"), ("L2", "display"), ("L3", "ads")]


@pytest.mark.parametrize("size, expected", [("61.0 MiB", 61 * 2**20), ("16.7 GiB", 16.7 * 2**30), ("512 bytes", 512),
                                            ("1.5 GB", 0)])
def test_duckdb_sizes_are_read_in_bytes_and_an_unknown_form_as_none(size, expected):
    assert imports._bytes(size) == pytest.approx(expected)


def test_memory_is_to_spare_by_default_but_not_under_a_limit_smaller_than_the_converted_file(wcon):
    wcon.execute("CREATE TEMP TABLE held AS SELECT 'row ' || i AS v FROM range(200000) t(i)")
    assert imports._memory_to_spare(wcon)
    wcon.execute("SET memory_limit = '4MB'")
    assert not imports._memory_to_spare(wcon)


def test_values_padded_with_any_kind_of_space_are_trimmed(wcon, write_file):
    # \u00a0 no-break space, \u2003 em space, \u3000 ideographic space: DuckDB's trim removes them all,
    # tabs it keeps, so "\tL3" stays as it is.
    path = write_file("spaces.csv", "lead_id,stage,occurred_at,channel,value\n"
                                    "\u00a0L1\u3000, lead ,\u20032026-01-05 09:00:00 ,\u00a0ads,\u00a012\u00a0\n"
                                    "L2,lead,2026-01-06,\u3000\u3000,\n\tL3,lead,2026-01-07,web,\n")
    import_file(wcon, "events", path)
    rows = wcon.execute("SELECT lead_id, stage, occurred_at, channel, value FROM events ORDER BY occurred_at").fetchall()
    assert rows == [("L1", "lead", datetime(2026, 1, 5, 9), "ads", 12.0), ("L2", "lead", datetime(2026, 1, 6), None, None),
                    ("\tL3", "lead", datetime(2026, 1, 7), "web", None)]


def test_a_day_first_date_after_a_no_break_space_is_read_day_first(wcon, write_file):
    path = write_file("eu.csv", "lead_id,stage,occurred_at\nL1,lead,\u00a031/01/2026\nL2,lead,05/02/2026\n")
    import_file(wcon, "events", path)
    assert dict(wcon.execute("SELECT lead_id, occurred_at FROM events").fetchall()) == {
        "L1": datetime(2026, 1, 31), "L2": datetime(2026, 2, 5)}


def test_an_import_leaves_no_staged_tables_behind_whether_it_succeeds_or_not(wcon, write_file):
    import_file(wcon, "events", write_file("good.csv", EVENTS))
    with pytest.raises(BadInput, match="row 2"):
        import_file(wcon, "events", write_file("bad.csv", "lead_id,stage,occurred_at\nL7,lead,2026-02-01\nL8,lead,soon\n"))
    assert wcon.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone()[0] == 0
    assert wcon.execute("SELECT count(*) FROM duckdb_views() WHERE temporary AND NOT internal").fetchone()[0] == 0


def test_removing_an_import_removes_exactly_its_rows(wcon, write_file):
    first = import_file(wcon, "events", write_file("a.csv", EVENTS))
    second = import_file(wcon, "events", write_file("b.csv", EVENTS + "L3,lead,2026-01-07,referral\n"))
    removed = remove_import(wcon, second.import_id, removed_by="ana")
    assert removed == {"events": 1}
    assert count(wcon, "events") == 3
    log = import_log(wcon).set_index("import_id")
    assert log.at[second.import_id, "removed_by"] == "ana" and pd.notna(log.at[second.import_id, "removed_at"])
    assert pd.isna(log.at[first.import_id, "removed_at"])
    with pytest.raises(BadInput, match="there is no import #99"):
        remove_import(wcon, 99)
    with pytest.raises(BadInput, match=f"import #{second.import_id} was already removed"):
        remove_import(wcon, second.import_id)


def test_a_removed_file_can_be_imported_again(wcon, write_file):
    path = write_file("a.csv", EVENTS)
    remove_import(wcon, import_file(wcon, "events", path).import_id)
    assert import_file(wcon, "events", path).rows_added == 3


def test_leads_keep_extra_columns_as_attributes_and_a_later_file_updates_them(wcon, write_file):
    import_file(wcon, "leads", write_file("l1.csv", "lead_id,created_at,channel,Industry\nL1,2026-01-01,webinar,SaaS\n"))
    later = import_file(wcon, "leads", write_file("l2.csv", "lead_id,seniority,Industry\nL1,head,Fintech\nL2,staff,Retail\n"))
    assert (later.rows_added, later.rows_skipped) == (1, 1)
    row = wcon.execute("SELECT channel, seniority, attributes['industry'] FROM leads WHERE lead_id = 'L1'").fetchone()
    assert row == ("webinar", "head", "Fintech")


def test_experiments_files_are_told_apart_by_their_columns(wcon, write_file):
    aggregated = write_file("agg.csv", "experiment,variant,units,conversions\ncta,control,1000,20\ncta,B,1000,31\n")
    per_unit = write_file("units.csv", "experiment,unit_id,variant,converted\ncta2,u1,A,yes\ncta2,u2,B,0\n")
    assert import_file(wcon, "experiments", aggregated).table == "experiment_variants"
    assert import_file(wcon, "experiments", per_unit).table == "experiment_units"
    assert wcon.execute("SELECT DISTINCT metric FROM experiment_variants").fetchall() == [("conversion",)]
    assert wcon.execute("SELECT unit_id, converted FROM experiment_units ORDER BY 1").fetchall() == [("u1", True), ("u2", False)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("experiment,variant,units,conversions\ncta,A,100,-1\n", r"row 1 \(line 2\), column 'conversions': '-1' is negative"),
        ("experiment,variant,units,conversions\ncta,A,100,101\n", r"column 'conversions': '101' is larger than units"),
        ("experiment,variant,units,conversions\ncta,A,1.5,1\n", r"column 'units': '1.5' is not a whole number"),
        ("experiment,variant\ncta,A\n", r"needs either unit_id .* or units"),
    ],
)
def test_impossible_experiment_counts_are_refused(wcon, write_file, text, message):
    with pytest.raises(BadInput, match=message):
        import_file(wcon, "experiments", write_file("exp.csv", text))
    assert count(wcon, "experiment_variants") == 0


def test_campaign_rows_without_dates_use_the_campaign_as_key(wcon, write_file):
    path = write_file("c.csv", "campaign_id,spend,impressions,clicks\nC1,\"1200.50\",100000,900\nC1,99,1,1\n")
    result = import_file(wcon, "campaigns", path)
    assert (result.rows_added, result.rows_skipped) == (1, 1)
    assert wcon.execute("SELECT spend, impressions FROM campaigns").fetchone() == (1200.5, 100000)


def test_parquet_files_import_like_csv(wcon, tmp_path):
    path = tmp_path / "events.parquet"
    pd.DataFrame({"lead_id": ["L1", "L2"], "stage": ["lead", "lead"],
                  "occurred_at": pd.to_datetime(["2026-01-01 08:00", "2026-01-02 09:00"])}).to_parquet(path)
    assert import_file(wcon, "events", path).rows_added == 2
    assert wcon.execute("SELECT max(occurred_at) FROM events").fetchone()[0] == datetime(2026, 1, 2, 9)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("empty.csv", "", "empty.csv: the file is empty"),
        ("header.csv", "lead_id,stage,occurred_at\n", "header.csv: the file has a header but no data rows"),
    ],
)
def test_empty_files_are_refused_clearly(wcon, write_file, name, text, message):
    with pytest.raises(BadInput, match=message):
        import_file(wcon, "events", write_file(name, text))


def test_unknown_map_target_and_missing_source_are_named(wcon, write_file):
    path = write_file("e.csv", EVENTS)
    with pytest.raises(BadInput, match="--map names 'when', which is not a column of events"):
        import_file(wcon, "events", path, ImportOptions(mapping={"when": "occurred_at"}))
    with pytest.raises(BadInput, match="--map occurred_at=Time: the file has no column 'Time'"):
        import_file(wcon, "events", path, ImportOptions(mapping={"occurred_at": "Time"}))


def test_unusual_but_valid_text_is_stored_intact(wcon, write_file):
    hostile = ['=HYPERLINK("http://x")', "שלום עולם", "🚀 launch", "'; DROP TABLE events; --", "x" * 5000]
    lines = "".join(f'"{v.replace(chr(34), chr(34) * 2)}",lead,2026-01-0{i + 1}\n' for i, v in enumerate(hostile))
    import_file(wcon, "events", write_file("odd.csv", "lead_id,stage,occurred_at\n" + lines))
    assert sorted(r[0] for r in wcon.execute("SELECT lead_id FROM events").fetchall()) == sorted(hostile)


def test_header_names_with_quotes_are_quoted_safely(wcon, write_file):
    path = write_file("q.csv", 'Lead "ID",stage,occurred_at\nL1,lead,2026-01-01\n')
    assert import_file(wcon, "events", path, ImportOptions(mapping={"lead_id": 'Lead "ID"'})).rows_added == 1


def test_normalize_name_makes_headers_canonical():
    assert normalize_name("\ufeffLead ID ") == "lead_id"
    assert normalize_name("Occurred-At") == "occurred_at"


def test_preview_shows_the_rows_asked_for_with_their_file_row_numbers(write_file):
    lines = "lead_id,stage,occurred_at\n" + "".join(f"L{i},lead,2026-01-0{i}\n" for i in range(1, 7))
    plan, head = preview_file("events", write_file("six.csv", lines), first_row=3, rows=2)
    assert head["row"].tolist() == [3, 4]
    assert head["lead_id"].tolist() == ["L3", "L4"]
    assert plan.resolved["lead_id"] == "lead_id"
    _, tail = preview_file("events", write_file("six.csv", lines), first_row=5, rows=20)
    assert tail["row"].tolist() == [5, 6]
