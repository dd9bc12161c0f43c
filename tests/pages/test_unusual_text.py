"""Valid but unusual text (right-to-left, emoji, formula-like, very long) imports and shows intact on the pages."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from analytics import imports
from analytics.warehouse import writer

UNUSUAL = ["שלום עולם", "🚀 launch ✨", '=HYPERLINK("http://example.com")', "x" * 2_000]


def _warehouse(tmp_path: Path) -> Path:
    """Two leads per unusual channel name, one of which reaches MQL, in a warehouse of their own."""
    rows = []
    for i, channel in enumerate(UNUSUAL):
        for j in range(2):
            lead = f"L{i}-{j}"
            rows.append({"lead_id": lead, "stage": "lead", "occurred_at": f"2026-03-0{i + 1} 09:00", "channel": channel})
            if j == 0:
                rows.append({"lead_id": lead, "stage": "mql", "occurred_at": f"2026-03-1{i} 09:00", "channel": channel})
    source = tmp_path / "unusual ✨ names.csv"
    pd.DataFrame(rows).to_csv(source, index=False)
    db = tmp_path / "unusual.duckdb"
    with writer(db) as con:
        imports.import_file(con, "events", source)
    return db


def test_unusual_channel_names_show_intact_in_the_funnel_breakdown(page_app, tmp_path):
    app = page_app("funnel", _warehouse(tmp_path))
    app.query_params.update({"by": "channel", "stages": ["lead", "mql"]})
    app.run()
    assert not app.exception
    dropped = app.dataframe[-1].value  # one lead per channel reached lead but not mql
    assert sorted(dropped["group"]) == sorted(UNUSUAL)
    breakdown = json.loads(app.get("plotly_chart")[1].proto.spec)
    labels = {name.removesuffix(" (small)") for trace in breakdown["data"] for name in trace["y"]}
    assert labels == {"שלום עולם", "🚀 launch ✨", '=HYPERLINK("http://example.com")', "X" + "x" * 46 + "…"}


def test_unusual_channel_names_are_choices_of_the_channel_filter_and_the_file_name_is_in_the_log(page_app, tmp_path):
    db = _warehouse(tmp_path)
    app = page_app("data", db)
    app.run()
    assert not app.exception
    assert "unusual ✨ names.csv" in app.dataframe[0].value["file_name"].tolist()
    channels = page_app("channels", db)
    channels.run()
    assert not channels.exception
    assert set(UNUSUAL) <= set(channels.multiselect(key="channel").options)
