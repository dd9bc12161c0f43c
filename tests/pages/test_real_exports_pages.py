"""The Maven CRM pipeline on the Time to convert page agrees with the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analytics.cli import main
from analytics.imports import ImportOptions, import_file
from analytics.warehouse import writer

PIPELINE = Path(__file__).resolve().parents[3] / "shared" / "data" / "maven_crm" / "sales_pipeline.csv"


@pytest.mark.skipif(not PIPELINE.is_file(), reason=f"the shared data set is not at {PIPELINE}")
def test_time_to_convert_page_and_command_line_agree_on_the_maven_pipeline(page_app, tmp_path, capsys):
    db = tmp_path / "maven.duckdb"
    with writer(db) as con:
        import_file(con, "events", PIPELINE, ImportOptions(stage_dates={"sql": "engage_date"}, status="deal_stage",
                                                           status_date="close_date"))
    assert main(["--db", str(db), "time-to-convert", "--from", "sql", "--to", "won", "--as-of", "2017-12-31",
                 "--format", "json"]) == 0
    cli = json.loads(capsys.readouterr().out)[0]

    app = page_app("time_to_convert", db)
    app.query_params.update({"from": "sql", "to": "won", "as_of": "2017-12-31"})
    app.run()
    assert not app.exception
    shown = {m.label: m.value for m in app.metric}
    assert shown["Reached SQL"] == f"{cli['entered']:,}" == "8,300"
    assert shown["Reached won"] == f"{cli['converted']:,}"
    assert shown["Lost"] == f"{cli['lost']:,}" == "2,473"
    assert shown["Expected to convert"] == f"{cli['p_convert_in_window']:.1%}"
    assert shown["Median time to convert"].startswith(f"{cli['km_median_days']:.0f}")
