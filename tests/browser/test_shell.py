"""The app shell in a real browser: deep links after a fresh start, the empty state, uploads."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _nav_labels(page) -> list[str]:
    return [t.strip() for t in page.locator("[data-testid='stSidebarNav'] a").all_inner_texts()]


@pytest.mark.parametrize(("path", "title"), [("/data", "Data"), ("/time_to_convert?by=channel", "Time to convert")])
def test_a_deep_link_opened_first_on_a_fresh_server_goes_through_the_router(start_server, demo_template, page,
                                                                             path, title):
    server = start_server(demo_template)
    page.goto(f"{server.url}{path}")  # the very first request this server sees
    expect(page.get_by_role("heading", name=title, exact=True, level=1)).to_be_visible()
    expect(page.get_by_text("Page not found")).to_have_count(0)
    expect(page.locator("[data-testid='stSidebarNav']")).to_contain_text("Overview")
    # The router's pages (icon + title), not the legacy list of file names (dashboard, data, funnel ...).
    titles = [label.split("\n")[-1] for label in _nav_labels(page)]
    assert titles[0] == "Overview" and "Data" in titles and all(t[:1].isupper() for t in titles)


def test_a_shared_link_with_filters_reproduces_the_view_on_a_fresh_server(start_server, demo_template, page):
    server = start_server(demo_template)
    page.goto(f"{server.url}/?channel=webinar&since=2026-01-01")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.locator("[data-testid='stMultiSelect']").first).to_contain_text("webinar")
    assert "channel=webinar" in page.url and "since=2026-01-01" in page.url


def test_the_empty_state_builds_the_demo_warehouse(start_server, page):
    server = start_server(None)
    page.goto(server.url)
    page.get_by_role("button", name="Build the demo warehouse").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=60_000)
    expect(page.locator("[data-testid='stMetricValue']").first).to_have_text("20,000")


def _expect_latest_import(page, name: str) -> None:
    """The imports log of a fresh session names `name` as the latest import."""
    expect(page.get_by_text(re.compile(rf"^Latest: #\d+ {re.escape(name)}, "))).to_be_visible()


def _upload(page, server, name: str, content: bytes, kind: str = "Events") -> None:
    page.goto(f"{server.url}/data")
    page.locator("input[type='file']").set_input_files({"name": name, "mimeType": "text/csv", "buffer": content})
    expect(page.get_by_test_id("stFileChipName").filter(has_text=name)).to_be_visible()
    page.get_by_role("combobox", name="What the files hold").click()
    page.get_by_role("option", name=kind).click()
    page.get_by_role("button", name="Import", exact=True).click()


def test_uploading_a_file_adds_its_rows_and_a_bad_file_is_refused_with_row_and_column(server, page):
    good = b"lead_id,stage,occurred_at\nU1,lead,2026-10-01 09:00\nU1,mql,2026-10-03 09:00\n"
    _upload(page, server, "webinar_leads.csv", good)
    expect(page.get_by_text(re.compile(r"webinar_leads\.csv: 2 rows added to events"))).to_be_visible()
    page.reload()
    _expect_latest_import(page, "webinar_leads.csv")

    bad = b"lead_id,stage,occurred_at\nU2,lead,2026-10-01\nU3,lead,31/02/2026\n"
    _upload(page, server, "broken.csv", bad)
    expect(page.get_by_text(re.compile(r"broken\.csv, row 2 \(line 3\), column 'occurred_at': '31/02/2026' is not a date"))).to_be_visible()


def test_a_guessed_mapping_is_corrected_before_importing(server, page):
    content = b"lead_id,stage,Event time,Logged\nM1,lead,2026-09-01 10:00,2026-09-02\nM1,mql,2026-09-05 11:00,2026-09-06\n"
    page.goto(f"{server.url}/data")
    page.locator("input[type='file']").set_input_files({"name": "crm_export.csv", "mimeType": "text/csv", "buffer": content})
    page.get_by_role("combobox", name="What the files hold").click()
    page.get_by_role("option", name="Events").click()
    mapping = page.get_by_role("combobox", name="occurred_at (required)")
    expect(mapping).to_have_value("(not used)")
    mapping.click()
    page.get_by_role("option", name="Event time").click()
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_text(re.compile(r"crm_export\.csv: 2 rows added to events"))).to_be_visible()
    page.reload()
    _expect_latest_import(page, "crm_export.csv")


def test_a_file_over_the_upload_limit_is_refused_before_it_is_read(start_server, demo_template, page):
    # The real limit is 1 GB (.streamlit/config.toml); a 1 MB limit shows the same refusal with a small file.
    server = start_server(demo_template, "--server.maxUploadSize", "1")
    page.goto(f"{server.url}/data")
    too_big = b"lead_id,stage,occurred_at\n" + b"L1,lead,2026-01-01\n" * 120_000
    page.locator("input[type='file']").set_input_files({"name": "huge.csv", "mimeType": "text/csv", "buffer": too_big})
    expect(page.get_by_text(re.compile(r"File must be 1(\.0)?\s?MB or smaller"))).to_be_visible()
    expect(page.get_by_text("huge.csv: preview and mapping")).to_have_count(0)
