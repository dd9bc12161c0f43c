"""The iFood campaign responses on the Campaigns page: the acceptance rate of each campaign."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analytics.imports import ImportOptions, import_file
from analytics.warehouse import writer

IFOOD = Path(__file__).resolve().parents[3] / "shared" / "data" / "ifood_campaign" / "marketing_campaign.csv"
RESPONSES = ("AcceptedCmp1", "AcceptedCmp2", "AcceptedCmp3", "AcceptedCmp4", "AcceptedCmp5", "Response")


@pytest.mark.skipif(not IFOOD.is_file(), reason=f"the shared data set is not at {IFOOD}")
def test_the_campaigns_page_shows_each_ifood_campaigns_acceptance_rate(page_app, tmp_path):
    db = tmp_path / "ifood.duckdb"
    with writer(db) as con:
        import_file(con, "sends", IFOOD, ImportOptions(responses=RESPONSES))
    app = page_app("campaigns", db).run()
    assert not app.exception
    shown = app.dataframe[0].value.set_index("campaign_id")
    raw = pd.read_csv(IFOOD, sep="\t")
    for campaign in RESPONSES:  # independently: the share of customers with a 1 in the column
        assert shown.at[campaign, "sent"] == len(raw)
        assert shown.at[campaign, "conversion_rate_pct"] == pytest.approx(100 * raw[campaign].mean())


def test_a_channel_filter_leaves_the_sends_queries_as_without_it(page_app, demo_db, monkeypatch):
    """Sends have no channel, so their queries get the filters without channels: a channel change on the page
    finds their results cached, and the tables are those of the unfiltered page."""
    import pages.campaigns as page

    calls = []
    run_query = page.run_query
    monkeypatch.setattr(page, "run_query", lambda query, *args: calls.append((query, args)) or run_query(query, *args))
    before = page_app("campaigns", demo_db).run()
    app = page_app("campaigns", demo_db)
    app.query_params["channel"] = ["webinar"]
    app.run()
    assert not app.exception and app.multiselect(key="channel").value == ["webinar"]
    sends = {query: args[0] for query, args in calls if query in (page.message_campaigns, page.variant_comparison,
                                                                    page.send_times)}
    assert len(sends) == 3 and all(filters.channels == () for filters in sends.values())
    assert [f for query, (f, *_) in calls if query is page.touches_before_sql][-1].channels == ("webinar",)
    pd.testing.assert_frame_equal(app.dataframe[1].value, before.dataframe[1].value)  # results per campaign
