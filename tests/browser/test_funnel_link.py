"""A shared Funnel link with filters shows the same numbers as the command line."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from bench.server import ROOT

pytestmark = pytest.mark.browser


def test_a_shared_funnel_link_shows_the_command_line_numbers(server, page):
    page.goto(f"{server.url}/funnel?channel=webinar&since=2026-01-01&mode=implied")
    expect(page.get_by_role("heading", name="Funnel", level=1)).to_be_visible()
    labels = page.locator(".js-plotly-plot").first.locator("g.trace text")
    expect(labels.first).to_be_attached()
    texts = labels.evaluate_all("nodes => nodes.map(n => n.textContent)")
    shown = [int(re.match(r"[\d,]+", t.strip()).group().replace(",", "")) for t in texts]

    cli = subprocess.run(
        [sys.executable, "-m", "analytics", "--db", str(server.db), "funnel", "--channel", "webinar",
         "--since", "2026-01-01", "--mode", "implied", "--format", "json"],
        cwd=ROOT, capture_output=True, text=True, check=True)
    expected = [r["count"] for r in json.loads(cli.stdout)]
    assert shown == expected and expected[0] > 0
    sentence = page.get_by_text(re.compile(r"^The largest drop-off is from"))
    expect(sentence).to_be_visible()
