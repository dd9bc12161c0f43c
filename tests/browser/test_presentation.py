"""The weekly meeting in a real browser: slides at 1920 x 1080 read from across a room; the report opens offline."""

from __future__ import annotations

import json
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import expect

from analytics import report
from analytics.cli import main

pytestmark = pytest.mark.browser

WEEK = "2026-W42"
SLIDES = ["Key figures", "The week in brief", "Stage rates", "Channels", "Experiments", "Cohorts"]
CHARTS = {"Stage rates", "Channels", "Cohorts"}
MIN_BODY_PX = 24

# Every visible element with its own text in the main area (HTML and SVG), with its box and font size; and the
# pairs of such boxes that overlap, leaving out an element and its own ancestors (a <strong> inside its <p>).
MEASURE = """
() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const own = el => [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
  const boxes = [];
  for (const el of main.querySelectorAll('*')) {
    if (!own(el)) continue;
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden' || +style.opacity === 0) continue;
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) continue;
    boxes.push({el, text: el.textContent.trim().slice(0, 60), tag: el.tagName.toLowerCase(),
                left: r.left, right: r.right, top: r.top, bottom: r.bottom, size: parseFloat(style.fontSize),
                svg: el instanceof SVGElement});
  }
  const overlaps = [];
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const a = boxes[i], b = boxes[j];
    if (a.el.contains(b.el) || b.el.contains(a.el)) continue;
    const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
    const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    if (w > 2 && h > 2) overlaps.push([a.text, b.text]);
  }
  const wide = [...main.querySelectorAll('*')].filter(el => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && (r.left < -1 || r.right > innerWidth + 1);
  }).map(el => el.tagName.toLowerCase() + '.' + String(el.className.baseVal ?? el.className).split(' ')[0]);
  return {boxes: boxes.map(({el, ...rest}) => rest), overlaps, wide, width: innerWidth, height: innerHeight,
          scrollWidth: document.documentElement.scrollWidth};
}
"""


@pytest.fixture
def projector(new_page):
    return new_page(1920, 1080)


def _wait_for_slide(page, number: int) -> None:
    expect(page.get_by_text(re.compile(rf"^Slide {number} of {len(SLIDES)}: {SLIDES[number - 1]}$"))).to_be_visible()
    if SLIDES[number - 1] in CHARTS:
        expect(page.locator(".js-plotly-plot .main-svg").first).to_be_attached()
    page.wait_for_timeout(300)  # let plotly finish laying out its text


def test_every_slide_reads_from_across_the_room_at_1920x1080(server, projector, tmp_path):
    artifacts = tmp_path / "test-artifacts"
    artifacts.mkdir()
    projector.goto(f"{server.url}/?present=1&week={WEEK}")
    for number in range(1, len(SLIDES) + 1):
        if number > 1:
            projector.keyboard.press("ArrowRight")  # the keyboard moves the deck, the URL follows
        _wait_for_slide(projector, number)
        assert f"slide={number}" in projector.url or number == 1
        projector.screenshot(path=artifacts / f"slide{number}.png")
        found = projector.evaluate(MEASURE)
        name = SLIDES[number - 1]
        assert found["scrollWidth"] <= found["width"], f"{name}: the page scrolls sideways"
        assert not found["wide"], f"{name}: elements past the edge of the screen: {found['wide']}"
        outside = [b["text"] for b in found["boxes"] if b["left"] < -1 or b["right"] > found["width"] + 1
                   or b["bottom"] > found["height"] + 1]
        assert not outside, f"{name}: text cut off at the edge of the screen: {outside}"
        small = [(b["text"], b["size"]) for b in found["boxes"] if b["size"] < MIN_BODY_PX]
        assert not small, f"{name}: text under {MIN_BODY_PX}px: {small}"
        assert not found["overlaps"], f"{name}: overlapping text: {found['overlaps']}"
        assert not projector.locator("[data-testid='stSidebar']").is_visible()
        assert not projector.locator("[data-testid='stHeader']").is_visible()
    assert sorted(p.name for p in artifacts.iterdir()) == [f"slide{n}.png" for n in range(1, len(SLIDES) + 1)]
    projector.keyboard.press("ArrowLeft")
    _wait_for_slide(projector, len(SLIDES) - 1)


def test_slides_advance_on_their_own_with_advance_in_the_url(server, projector):
    projector.goto(f"{server.url}/?present=1&week={WEEK}&slide=2&advance=3")
    _wait_for_slide(projector, 2)
    expect(projector.get_by_text(re.compile(rf"^Slide 3 of {len(SLIDES)}: "))).to_be_visible(timeout=15_000)
    assert "slide=3" in projector.url


def _write_report(db: Path, tmp_path: Path, capsys) -> tuple[dict, Path]:
    assert main(["--db", str(db), "weekly", "--week", WEEK, "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)
    out = tmp_path / "week.html"
    assert main(["--db", str(db), "report", "--week", WEEK, "--out", str(out)]) == 0
    capsys.readouterr()
    return record, out


def test_the_report_opens_offline_its_charts_draw_and_its_figures_are_the_command_lines(
        demo_template, browser, tmp_path, capsys):
    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_template, db)
    record, out = _write_report(db, tmp_path, capsys)
    context = browser.new_context(offline=True)
    requested: list[str] = []
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                  else (requested.append(route.request.url), route.abort()))
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(out.as_uri())
    expect(tab.locator(".js-plotly-plot")).to_have_count(3)
    for chart, marks in (("stage_rates", "g.point"), ("channels", "g.point"), ("cohorts", "g.trace.scatter")):
        assert tab.locator(f"#chart-{chart} {marks}").count() > 0, f"{chart} did not draw"
    shown = tab.evaluate("""() => [...document.querySelectorAll('.kpi')].map(k => [k.dataset.metric,
        k.querySelector('.kpi-value').textContent, k.querySelector('.kpi-change').textContent])""")
    assert shown == [[k["metric"], k["text"], k["change_text"]] for k in record["kpis"]]
    brief = tab.locator("ul.brief li").all_inner_texts()
    assert brief == record["sentences"]
    assert not errors and not requested
    context.close()


def test_the_report_exports_to_png_and_pdf_with_headless_chromium(demo_template, tmp_path, capsys):
    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_template, db)
    _, out = _write_report(db, tmp_path, capsys)
    png, pdf = tmp_path / "week.png", tmp_path / "week.pdf"
    # On a thread of its own, as in the command line: Playwright's sync API cannot start inside this test's loop.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(report.render_file, out, png, "png").result(timeout=60)
        pool.submit(report.render_file, out, pdf, "pdf").result(timeout=60)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 50_000
    assert pdf.read_bytes()[:5] == b"%PDF-"
