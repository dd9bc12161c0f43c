"""Real exports as they come: public data sets, Korean CSVs, HubSpot / Salesforce / ad platform headers,
Excel files, day-first dates, formatted numbers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from analytics.campaigns import message_campaigns
from analytics.errors import BadInput
from analytics.filters import Filters
from analytics.funnel import FunnelSpec, funnel
from analytics.imports import ImportOptions, import_file
from analytics.time_to_convert import ConversionSpec, time_to_convert

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
PIPELINE = SHARED / "maven_crm" / "sales_pipeline.csv"
IFOOD = SHARED / "ifood_campaign" / "marketing_campaign.csv"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"the shared data sets are not at {SHARED}")
AS_OF = Filters(as_of=datetime(2018, 1, 1).date())


def _counts(con, spec: FunnelSpec, filters: Filters = Filters()) -> dict[tuple[str, str], int]:
    table = funnel(con, spec, filters)
    return {(g, s): int(c) for g, s, c in zip(table["group"], table["stage"], table["count"])}


@needs_shared
def test_the_maven_pipeline_imports_as_leads_and_events_and_matches_pandas(wcon):
    import_file(wcon, "leads", PIPELINE)
    import_file(wcon, "events", PIPELINE, ImportOptions(stage_dates={"sql": "engage_date"}, status="deal_stage",
                                                        status_date="close_date"))
    raw = pd.read_csv(PIPELINE)
    engaged = raw[raw["engage_date"].notna()]
    assert wcon.execute("SELECT count(*) FROM leads").fetchone() == (len(raw),)
    assert _counts(wcon, FunnelSpec(stages=("sql", "won")), AS_OF) == {
        ("all", "sql"): len(engaged), ("all", "won"): int((engaged["deal_stage"] == "Won").sum())}
    timing = time_to_convert(wcon, ConversionSpec("sql", "won"), AS_OF).iloc[0]
    closed = engaged[engaged["deal_stage"].isin(["Won", "Lost"])]
    engage, close = pd.to_datetime(closed["engage_date"]), pd.to_datetime(closed["close_date"])
    in_window = close <= engage + pd.DateOffset(months=5)  # the default SQL -> won window, inclusive
    won_in_window = (closed["deal_stage"] == "Won") & in_window
    assert (timing["converted"] + timing["lost"] + timing["open"]) == len(engaged)
    assert timing["lost"] == ((closed["deal_stage"] == "Lost") & in_window).sum()
    assert timing["converted"] == won_in_window.sum()
    assert timing["median_days"] == pytest.approx((close - engage).dt.days[won_in_window].median())
    won_value = wcon.execute("SELECT sum(value) FROM events WHERE stage = 'won'").fetchone()[0]
    assert won_value == pytest.approx(raw.loc[raw["deal_stage"] == "Won", "close_value"].sum())


@needs_shared
def test_the_ifood_file_imports_customers_day_first_and_campaign_responses(wcon):
    responses = ("AcceptedCmp1", "AcceptedCmp2", "AcceptedCmp3", "AcceptedCmp4", "AcceptedCmp5", "Response")
    import_file(wcon, "leads", IFOOD)
    import_file(wcon, "sends", IFOOD, ImportOptions(responses=responses))
    raw = pd.read_csv(IFOOD, sep="\t")
    first, last = wcon.execute("SELECT min(created_at), max(created_at) FROM leads").fetchone()
    dates = pd.to_datetime(raw["Dt_Customer"], dayfirst=True)
    assert (first, last) == (dates.min().to_pydatetime(), dates.max().to_pydatetime())
    table = message_campaigns(wcon, Filters()).set_index("campaign_id")
    for column in responses:
        assert table.at[column, "sent"] == len(raw)
        assert table.at[column, "conversion_rate"] == pytest.approx(raw[column].mean())


def test_a_cp949_file_with_korean_channel_names_imports_without_options(wcon, tmp_path):
    path = tmp_path / "korean.csv"
    path.write_text("lead_id,stage,occurred_at,channel\nK1,lead,2026-01-01,웨비나\nK1,mql,2026-01-03,\n"
                    "K2,lead,2026-01-02,디스플레이 광고\nK3,lead,2026-01-02,웨비나\n", encoding="cp949")
    import_file(wcon, "events", path)
    counts = _counts(wcon, FunnelSpec(stages=("lead", "mql"), by="channel"))
    assert counts == {("웨비나", "lead"): 2, ("웨비나", "mql"): 1, ("디스플레이 광고", "lead"): 1, ("디스플레이 광고", "mql"): 0}


def test_an_explicit_encoding_is_used(wcon, tmp_path):
    path = tmp_path / "euc.csv"
    path.write_text("lead_id,stage,occurred_at\n가,lead,2026-01-01\n", encoding="euc-kr")
    import_file(wcon, "events", path, ImportOptions(encoding="euc-kr"))
    assert wcon.execute("SELECT lead_id FROM events").fetchone() == ("가",)


HUBSPOT = (
    "Record ID,First Name,Email,Original Source,Create Date,Became a Lead Date,"
    "Became a Marketing Qualified Lead Date,Became a Sales Qualified Lead Date,Became a Customer Date\n"
    "101,Ann,ann@x.com,Organic Search,2026-01-02 09:00,2026-01-02 09:00,2026-01-10 10:00,2026-02-01 11:00,2026-03-01 12:00\n"
    "102,Bo,bo@x.com,Paid Search,2026-01-03 09:00,2026-01-03 09:00,2026-01-20 10:00,,\n"
    "103,Cy,cy@x.com,Paid Search,2026-01-04 09:00,2026-01-04 09:00,,,\n"
    "104,Di,di@x.com,Direct Traffic,2026-01-05 09:00,2026-01-05 09:00,,2026-01-25 09:00,\n"
)


def test_a_hubspot_lifecycle_export_imports_without_any_mapping(wcon, write_file):
    path = write_file("hubspot-contacts.csv", HUBSPOT)
    leads = import_file(wcon, "leads", path)
    events = import_file(wcon, "events", path)
    assert leads.rows_added == 4 and events.rows_added == 4 + 2 + 2 + 1
    strict = _counts(wcon, FunnelSpec(by="channel"), Filters(as_of=datetime(2026, 6, 1).date()))
    # By hand: 101 reaches won; 102 mql; 103 lead; 104 skips mql, so strict mode stops it at lead.
    assert strict == {("Organic Search", "lead"): 1, ("Organic Search", "mql"): 1, ("Organic Search", "sql"): 1,
                      ("Organic Search", "won"): 1, ("Paid Search", "lead"): 2, ("Paid Search", "mql"): 1,
                      ("Paid Search", "sql"): 0, ("Paid Search", "won"): 0, ("Direct Traffic", "lead"): 1,
                      ("Direct Traffic", "mql"): 0, ("Direct Traffic", "sql"): 0, ("Direct Traffic", "won"): 0}
    implied = _counts(wcon, FunnelSpec(mode="implied"), Filters(as_of=datetime(2026, 6, 1).date()))
    assert implied == {("all", "lead"): 4, ("all", "mql"): 3, ("all", "sql"): 2, ("all", "won"): 1}
    assert wcon.execute("SELECT channel, created_at FROM leads WHERE lead_id = '103'").fetchone() == (
        "Paid Search", datetime(2026, 1, 4, 9))


def test_a_won_status_without_its_date_is_refused(wcon, write_file):
    path = write_file("opps.csv", "Opportunity ID,Stage,Close Date\nO1,Closed Won,2026-02-01\nO2,Closed Won,\n")
    with pytest.raises(BadInput, match=r"opps.csv, row 2 \(line 3\), column 'Stage': is 'Closed Won' but has no date in 'Close Date'"):
        import_file(wcon, "events", path, ImportOptions(status="Stage", status_date="Close Date"))


def test_salesforce_leads_and_opportunities_headers_are_recognised(wcon, write_file):
    leads = write_file("sf-leads.csv", "Lead ID,Created Date,Lead Source,Company\n00Q1,1/15/2026 3:04 PM,Webinar,Acme\n")
    import_file(wcon, "leads", leads)
    assert wcon.execute("SELECT lead_id, created_at, channel, account_id FROM leads").fetchone() == (
        "00Q1", datetime(2026, 1, 15, 15, 4), "Webinar", "Acme")
    opps = write_file("sf-opps.csv", "Opportunity ID,Stage,Close Date,Amount\n00Q1,Closed Won,2/20/2026,\"$12,500.00\"\n"
                                     "00Q2,Closed Lost,2/21/2026,900\n00Q3,Negotiation,,\n")
    import_file(wcon, "events", opps, ImportOptions(status="Stage", status_date="Close Date"))
    assert wcon.execute("SELECT lead_id, stage, occurred_at, value FROM events ORDER BY 1").fetchall() == [
        ("00Q1", "won", datetime(2026, 2, 20), 12500.0), ("00Q2", "lost", datetime(2026, 2, 21), 900.0)]


@pytest.mark.parametrize(
    ("header", "row", "expected"),
    [
        ("Campaign,Day,Impr.,Clicks,Cost", "Brand EU,2026-03-01,\"12,000\",340,€ 1.234", ("Brand EU", "2026-03-01", 12000, 340, 1.234)),
        ("Campaign name,Reporting starts,Reporting ends,Amount spent (USD),Impressions,Link clicks",
         "Spring,2026-03-01,2026-03-31,\"$2,500.50\",90000,1200", ("Spring", "2026-03-01", 90000, 1200, 2500.5)),
    ],
    ids=["google-ads", "meta-ads"],
)
def test_ad_platform_reports_import_without_mapping(wcon, write_file, header, row, expected):
    import_file(wcon, "campaigns", write_file("ads.csv", f"{header}\n{row}\n"))
    got = wcon.execute("SELECT campaign_id, CAST(date AS VARCHAR), impressions, clicks, spend FROM campaigns").fetchone()
    assert got == expected


def test_a_mailchimp_report_imports_as_sends(wcon, write_file):
    path = write_file("mailchimp.csv", "Title,Send Date,Total Recipients,Successful Deliveries,Unique Opens,Unique Clicks,"
                                       "Unsubscribes\nMarch news,\"Mar 03, 2026 09:00 am\",1000,980,300,45,2\n")
    import_file(wcon, "sends", path)
    assert wcon.execute("SELECT campaign_id, sent_at, sent, delivered, opened, clicked, unsubscribed FROM sends").fetchone() == (
        "March news", datetime(2026, 3, 3, 9), 1000, 980, 300, 45, 2)


def test_percent_and_accounting_negative_numbers(wcon, write_file):
    path = write_file("c.csv", "campaign_id,date,spend,impressions\nC1,2026-01-01,12.5%,1000\nC2,2026-01-01,(30),1000\n")
    with pytest.raises(BadInput, match=r"row 2 \(line 3\), column 'spend': '\(30\)' is negative"):
        import_file(wcon, "campaigns", path)
    path.write_text("campaign_id,date,spend\nC1,2026-01-01,12.5%\n")
    import_file(wcon, "campaigns", path)
    assert wcon.execute("SELECT spend FROM campaigns").fetchone() == (0.125,)


@pytest.mark.parametrize(
    ("dates", "options", "expected"),
    [
        (["31/01/2026", "02/03/2026"], ImportOptions(), [datetime(2026, 1, 31), datetime(2026, 3, 2)]),
        (["01/31/2026", "02/03/2026"], ImportOptions(), [datetime(2026, 1, 31), datetime(2026, 2, 3)]),
        (["04/05/2026", "02/03/2026"], ImportOptions(), [datetime(2026, 4, 5), datetime(2026, 2, 3)]),
        (["04/05/2026", "02/03/2026"], ImportOptions(dayfirst=True), [datetime(2026, 5, 4), datetime(2026, 3, 2)]),
        (["04.05.2026 14:30", "2026-03-02T08:00:00+01:00"], ImportOptions(dayfirst=True),
         [datetime(2026, 5, 4, 14, 30), datetime(2026, 3, 2, 7)]),
    ],
    ids=["day-first-seen", "month-first-seen", "ambiguous-reads-month-first", "dayfirst-option", "mixed-forms"],
)
def test_date_forms(wcon, write_file, dates, options, expected):
    lines = "".join(f"L{i},lead,{d}\n" for i, d in enumerate(dates))
    import_file(wcon, "events", write_file("d.csv", "lead_id,stage,occurred_at\n" + lines), options)
    assert [r[0] for r in wcon.execute("SELECT occurred_at FROM events ORDER BY lead_id").fetchall()] == expected


def test_day_first_and_month_first_in_one_file_is_refused(wcon, write_file):
    path = write_file("d.csv", "lead_id,stage,occurred_at\nL1,lead,31/01/2026\nL2,lead,01/31/2026\n")
    with pytest.raises(BadInput, match="mix day-first .* and month-first"):
        import_file(wcon, "events", path)


def test_an_excel_workbook_imports_from_the_named_sheet(wcon, tmp_path):
    path = tmp_path / "export.xlsx"
    with pd.ExcelWriter(path) as book:
        pd.DataFrame({"x": [1]}).to_excel(book, sheet_name="Notes", index=False)
        pd.DataFrame({"Lead ID": ["E1", "E2"], "Stage": ["lead", "mql"],
                      "Occurred At": [datetime(2026, 1, 5, 9, 30), datetime(2026, 1, 9)],
                      "Value": [1200.0, 3.0]}).to_excel(book, sheet_name="Events", index=False)
    with pytest.raises(BadInput, match="has no sheet 'Leads' \\(sheets: Notes, Events\\)"):
        import_file(wcon, "events", path, ImportOptions(sheet="Leads"))
    import_file(wcon, "events", path, ImportOptions(sheet="Events"))
    assert wcon.execute("SELECT lead_id, stage, occurred_at, value FROM events ORDER BY 1").fetchall() == [
        ("E1", "lead", datetime(2026, 1, 5, 9, 30), 1200.0), ("E2", "mql", datetime(2026, 1, 9), 3.0)]
