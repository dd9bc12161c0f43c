"""The app shell in a real browser: deep links after a fresh start, the empty state, uploads."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _nav_labels(page) -> list[str]:
    return [t.strip() for t in page.locator("[data-testid='stSidebarNav'] a").all_inner_texts()]


def test_a_deep_link_opened_first_on_a_fresh_server_goes_through_the_router(start_server, demo_template, page):
    server = start_server(demo_template)
    page.goto(f"{server.url}/data")  # the very first request this server sees
    expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible()
    expect(page.locator("[data-testid='stSidebarNav']")).to_contain_text("Overview")
    # The router's pages (title-cased, with icons), not the legacy list (dashboard, data, overview).
    links = _nav_labels(page)
    assert len(links) == 2 and links[0].endswith("Overview") and links[1].endswith("Data")


def test_a_shared_link_with_filters_reproduces_the_view_on_a_fresh_server(start_server, demo_template, page):
    server = start_server(demo_template)
    page.goto(f"{server.url}/overview?channel=webinar&since=2026-01-01")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.locator("[data-testid='stMultiSelect']").first).to_contain_text("webinar")
    assert "channel=webinar" in page.url and "since=2026-01-01" in page.url


def test_the_empty_state_builds_the_demo_warehouse(start_server, page):
    server = start_server(None)
    page.goto(server.url)
    page.get_by_role("button", name="Build the demo warehouse").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=60_000)
    expect(page.locator("[data-testid='stMetricValue']").first).to_have_text("20,000")


def _upload(page, server, name: str, content: bytes, kind: str = "Events") -> None:
    page.goto(f"{server.url}/data")
    page.locator("input[type='file']").set_input_files({"name": name, "mimeType": "text/csv", "buffer": content})
    expect(page.get_by_text(name)).to_be_visible()
    page.get_by_role("combobox", name="What the files hold").click()
    page.get_by_role("option", name=kind).click()
    page.get_by_role("button", name="Import").click()


def test_uploading_a_file_adds_its_rows_and_a_bad_file_is_refused_with_row_and_column(server, page):
    good = b"lead_id,stage,occurred_at\nU1,lead,2026-10-01 09:00\nU1,mql,2026-10-03 09:00\n"
    _upload(page, server, "webinar_leads.csv", good)
    expect(page.get_by_text(re.compile(r"webinar_leads\.csv: 2 rows added to events"))).to_be_visible()
    expect(page.get_by_text("webinar_leads.csv").last).to_be_visible()

    bad = b"lead_id,stage,occurred_at\nU2,lead,2026-10-01\nU3,lead,31/02/2026\n"
    _upload(page, server, "broken.csv", bad)
    expect(page.get_by_text(re.compile(r"broken\.csv, row 2 \(line 3\), column 'occurred_at': '31/02/2026' is not a date"))).to_be_visible()
