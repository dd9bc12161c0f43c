"""Journeys in a real browser: charts draw, a filter changes an exported table, an A/B upload gets its verdict."""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect
from scipy import stats

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("path", "traces"), [("/time_to_convert?by=channel", 8), ("/cohorts", 1)])
def test_survival_and_cohort_charts_draw(server, page, path, traces):
    page.goto(f"{server.url}{path}")
    drawn = page.locator(".js-plotly-plot").locator("g.trace, g.hm")  # scatter traces, heatmap tiles
    expect(drawn.first).to_be_attached()
    assert drawn.count() >= traces
    expect(page.get_by_text(re.compile("Traceback|Error", re.I))).to_have_count(0)


def _download_table(page) -> pd.DataFrame:
    """Export the first visible data table through its toolbar's CSV button, as a user would."""
    table = page.locator("[data-testid='stDataFrame']:visible").first
    table.scroll_into_view_if_needed()
    table.hover()
    with page.expect_download() as download:
        table.get_by_role("button", name="Download as CSV").click()
    return pd.read_csv(download.value.path())


def test_the_channel_filter_changes_the_channels_table(server, page):
    # Without the File System Access API the grid's CSV export falls back to an ordinary download.
    page.add_init_script("delete window.showSaveFilePicker")
    page.goto(f"{server.url}/channels")
    expect(page.get_by_role("heading", name="Channels", level=1)).to_be_visible()
    before = _download_table(page)
    assert len(before) >= 6
    for _ in range(3):  # the page may still be redrawing when the filter is first opened
        page.get_by_role("combobox", name="Channel").click()
        page.get_by_role("option", name="webinar", exact=True).click()
        page.keyboard.press("Escape")
        try:
            expect(page).to_have_url(re.compile(r"channel=webinar"), timeout=10_000)
            break
        except AssertionError:
            page.reload()
    expect(page).to_have_url(re.compile(r"channel=webinar"))
    after = before
    for _ in range(10):  # the page reruns with the new filter: export again until the table has changed
        try:
            after = _download_table(page)
        except PlaywrightError:
            pass  # the table was being redrawn
        if len(after) < len(before):
            break
        page.wait_for_timeout(1000)
    assert after.iloc[:, 0].tolist() == ["webinar"]


def test_an_uploaded_per_unit_ab_file_gets_the_verdict_scipy_gives(server, page):
    rng = np.random.default_rng(11)
    units = 200_000
    variant = np.where(rng.random(units) < 0.5, "control", "B")
    converted = rng.random(units) < np.where(variant == "control", 0.050, 0.056)
    frame = pd.DataFrame({"experiment": "signup-form", "unit_id": [f"u{i}" for i in range(units)],
                          "variant": variant, "converted": converted.astype(int)})
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)

    page.goto(f"{server.url}/data")
    page.locator("input[type='file']").set_input_files(
        {"name": "signup-form.csv", "mimeType": "text/csv", "buffer": buffer.getvalue().encode()})
    page.get_by_role("combobox", name="What the files hold").click()
    page.get_by_role("option", name="Experiments").click()
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_text(re.compile(r"signup-form\.csv: 200,000 rows added to experiment_units"))).to_be_visible(timeout=60_000)

    # Independently: the z-test and the lift from the raw arrays.
    control, treatment = converted[variant == "control"], converted[variant == "B"]
    table = [[treatment.sum(), len(treatment) - treatment.sum()], [control.sum(), len(control) - control.sum()]]
    p_value = stats.chi2_contingency(table, correction=False)[1]  # equals the pooled two-proportion z-test
    lift = treatment.mean() / control.mean() - 1
    assert p_value < 0.05

    page.goto(f"{server.url}/experiments?experiment=signup-form")
    verdict = page.get_by_text(re.compile(r"^Variant B lifts conversion rate by"))
    expect(verdict).to_be_visible()
    assert f"by {lift:.0%}" in verdict.inner_text()


def test_the_dropped_leads_download_holds_the_leads_the_page_counts(server, page):
    page.goto(f"{server.url}/funnel?channel=webinar&dropped=sql")
    caption = page.get_by_text(re.compile(r"^[\d,]+ leads reached mql but not sql"))
    expect(caption).to_be_visible()
    counted = int(re.match(r"[\d,]+", caption.inner_text()).group().replace(",", ""))
    with page.expect_download() as download:
        page.get_by_test_id("stDownloadButton").get_by_role("button", name="Download as CSV").click()
    dropped = pd.read_csv(download.value.path())
    assert download.value.suggested_filename == "dropped_before_sql.csv"
    assert len(dropped) == counted > 0
    assert set(dropped.columns) >= {"lead_id", "entered_at", "last_step_at", "unfinished"}
