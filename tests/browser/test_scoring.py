"""Lead scoring in a real browser: a rule edited on the page moves the bands at once, and saving writes the file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from analytics.scoring import load_rules, rules_path

pytestmark = pytest.mark.browser


def _band_labels(page: Page) -> list[str]:
    """The score band chart's category labels, as drawn."""
    return page.locator(".js-plotly-plot").first.locator(".xtick text").all_text_contents()


def edit_a_rule_and_see_the_bands_change(page: Page, url: str, db: Path) -> None:
    page.goto(f"{url}/scoring")
    expect(page.get_by_role("heading", name="Lead scoring", level=1)).to_be_visible()
    chart = page.locator(".js-plotly-plot").first
    expect(chart.locator(".xtick text").filter(has_text="score 6 and more")).to_have_count(1)
    hot_before = next(t for t in _band_labels(page) if "and more" in t)
    page.get_by_text("Scoring rules: edit the points and bands").click()
    hot = page.get_by_label("Hot from")
    hot.fill("10")
    hot.press("Enter")
    expect(page.get_by_text("Unsaved changes: the figures below already use them.")).to_be_visible()
    expect(chart.locator(".xtick text").filter(has_text="score 10 and more")).to_have_count(1)
    hot_after = next(t for t in _band_labels(page) if "and more" in t)
    leads = [int(re.search(r"([\d,]+) leads", t).group(1).replace(",", "")) for t in (hot_before, hot_after)]
    assert leads[1] < leads[0]  # fewer leads are hot with a higher bar
    page.get_by_role("button", name="Save the rules").click()
    expect(page.get_by_text("Unsaved changes")).to_have_count(0)
    assert load_rules(rules_path(db)).hot == 10


def test_editing_a_rule_changes_the_bands_and_saving_keeps_it(start_server, demo_template, page):
    server = start_server(demo_template)  # its own warehouse copy: the test writes the rules file beside it
    edit_a_rule_and_see_the_bands_change(page, server.url, server.db)
    page.reload()  # the saved rules are what the page starts from now
    expect(page.get_by_text("hot from 10;")).to_be_visible()
